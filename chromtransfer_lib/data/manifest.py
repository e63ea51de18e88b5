"""The download manifest: every external input of the paper, fetched with checksums by pooch.

:func:`fetch` hands the entries of ``data_manifest/*.yaml`` (or of the folder named by
``CHROMTRANSFER_MANIFEST``, see :func:`resolve_manifest_dir`; validated by
:mod:`chromtransfer_lib.data.manifest_schema`, re-exported here) to a :func:`pooch.create`
registry — relative path → known hash, relative path → URL — and lets :meth:`pooch.Pooch.fetch`
do the work: one cache directory (``cache_dir``, else the ``CHROMTRANSFER_DATA`` environment
variable, else ``pooch.os_cache("chromtransfer")``), a download streamed into a temporary file
beside the target and moved into place only after its hash matched (so no partial file is ever
left), a cached copy with the wrong hash downloaded again, and ``retries`` further attempts
after a network error or a mismatch. What pooch does not do stays here:

* the known hash of each entry: pinned (``sha256``), else recorded in the lock file, else the md5
  the source publishes (its checksum file is itself fetched through pooch), else none;
* trust on first use: a file without a known checksum is accepted once and its sha256 recorded
  in ``<cache>/manifest-lock.json`` (written atomically); every later fetch or :func:`status`
  must match it. This proves the file has not *changed* since first use, not that the first
  download was the right one (each such entry's ``note`` says so). Published checksums are
  replaced by the lock's sha256 after the first verified download, so later checks are offline;
* the mirror for offline sites (``mirror=`` or ``CHROMTRANSFER_MIRROR``): a directory (copied
  through pooch, so verified the same way) or a URL laid out like the entries' paths;
* HTTPS only; plain HTTP to loopback hosts only with ``allow_http_loopback=True`` (the tests'
  local server);
* errors that name the entry and say where to put the file by hand.

pooch's decompressing processors are not used: they write the decompressed file in place, and a
killed run would leave a truncated genome that later counts as done. The genome is decompressed
atomically by :func:`chromtransfer_lib.data.paper.prepare_genome` instead. ARCHITECTURE.md, "data".
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlparse

import pandas as pd
import pooch
import requests

from chromtransfer_lib.data.manifest_schema import (
    CHECKSUM_FORMATS,
    MANIFEST_ENV,
    ChecksumSource,
    ManifestEntry,
    ManifestError,
    check_url,
    default_manifest_dir,
    load_manifest,
    parse_published_checksum,
    resolve_manifest_dir,
    select,
)
from chromtransfer_lib.errors import InputError
from chromtransfer_lib.fileio import sha256_file, write_json_atomic
from chromtransfer_lib.progress import bars_enabled

__all__ = [
    "CHECKSUM_FORMATS",
    "DATA_ENV",
    "LOCK_NAME",
    "MANIFEST_ENV",
    "MIRROR_ENV",
    "ChecksumMismatchError",
    "ChecksumSource",
    "DataUnavailableError",
    "ManifestEntry",
    "ManifestError",
    "default_manifest_dir",
    "expected_sha256",
    "fetch",
    "load_manifest",
    "parse_published_checksum",
    "read_lock",
    "resolve_cache_dir",
    "resolve_manifest_dir",
    "resolve_mirror",
    "select",
    "status",
]

log = logging.getLogger(__name__)

DATA_ENV = "CHROMTRANSFER_DATA"
MIRROR_ENV = "CHROMTRANSFER_MIRROR"
LOCK_NAME = "manifest-lock.json"


class ChecksumMismatchError(InputError, ValueError):
    """A file's checksum differs from the pinned, published or recorded one."""


class DataUnavailableError(InputError, OSError):
    """A file could not be obtained; the message says where to put it by hand."""


def _pooch(
    cache_dir: str | Path | None,
    *,
    registry: dict[str, str | None] | None = None,
    urls: dict[str, str] | None = None,
    retries: int = 0,
) -> pooch.Pooch:
    """A pooch registry in the cache: ``cache_dir``, else ``$CHROMTRANSFER_DATA``, else the
    user cache (pooch resolves the variable; nothing is created until a download)."""
    return pooch.create(
        path=Path(cache_dir).expanduser()
        if cache_dir is not None
        else pooch.os_cache("chromtransfer"),
        base_url="",
        env=None if cache_dir is not None else DATA_ENV,
        registry=registry or {},
        urls=urls or {},
        retry_if_failed=retries,
    )


def resolve_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """``cache_dir`` if given, else ``$CHROMTRANSFER_DATA``, else the user cache directory."""
    return Path(_pooch(cache_dir).abspath)


def resolve_mirror(mirror: str | Path | None = None) -> str | None:
    """``mirror`` if given, else ``$CHROMTRANSFER_MIRROR``, else ``None`` (no mirror)."""
    value = str(mirror) if mirror is not None else os.environ.get(MIRROR_ENV, "")
    return value or None


def read_lock(lock_path: str | Path) -> dict[str, dict[str, Any]]:
    """The lock file's records (name → sha256, size, url, path, policy), ``{}`` if absent."""
    p = Path(lock_path)
    if not p.is_file():
        return {}
    try:
        return json.loads(p.read_text())
    except json.JSONDecodeError as err:
        raise ManifestError(f"{p}: lock file is not valid JSON ({err}); fix or delete it") from err


def _locked_sha256(entry: ManifestEntry, lock: dict[str, dict[str, Any]]) -> str | None:
    rec = lock.get(entry.name)
    if not rec:
        return None
    if rec.get("url") != entry.url or rec.get("path") != entry.path:
        log.warning("%s: lock record is for another url/path; ignoring it", entry.name)
        return None
    return rec.get("sha256")


def expected_sha256(entry: ManifestEntry, lock: dict[str, dict[str, Any]]) -> str | None:
    """The sha256 a file must have: pinned, else recorded in the lock, else unknown."""
    return entry.sha256 or _locked_sha256(entry, lock)


def _source(rel_path: str, url: str, mirror: str | None) -> str:
    """Where to get a file: the mirror (a directory path or a URL) or the original URL."""
    if mirror is None:
        return url
    parsed = urlparse(mirror)
    if parsed.scheme in ("http", "https"):
        return mirror.rstrip("/") + "/" + quote(rel_path)
    root = Path(unquote(parsed.path)) if parsed.scheme == "file" else Path(mirror).expanduser()
    return str(root / rel_path)


def _copy(url: str, output_file: str, pup: pooch.Pooch) -> None:
    """A pooch downloader for a mirror directory: copy the file (pooch verifies and moves it)."""
    shutil.copyfile(url, output_file)


def _missing_message(entry: ManifestEntry, dest: Path, src: str, reason: str) -> str:
    sha = f" (sha256 {entry.sha256})" if entry.sha256 else ""
    return (
        f"{entry.name}: could not get {src} ({reason}).\n"
        f"  Offline? Download {entry.url}{sha} on a machine with network and put it at\n"
        f"    {dest}\n"
        f"  or point {MIRROR_ENV} (or --mirror) at a directory or HTTPS URL that holds it "
        f"at {entry.path}."
    )


def _pooch_fetch(
    pup: pooch.Pooch, entry: ManifestEntry, rel: str, *, progress: bool, timeout: float
) -> Path:
    """``pup.fetch(rel)`` with pooch's errors turned into the manifest's, naming the entry."""
    src, dest = pup.get_url(rel), Path(pup.abspath) / rel
    is_url = urlparse(src).scheme in ("http", "https")
    bar = bars_enabled(progress)  # on a terminal only (chromtransfer_lib.progress)
    downloader = pooch.HTTPDownloader(progressbar=bar, timeout=timeout) if is_url else _copy
    try:
        return Path(pup.fetch(rel, downloader=downloader))
    except requests.exceptions.RequestException as err:
        raise DataUnavailableError(_missing_message(entry, dest, src, str(err))) from err
    except FileNotFoundError as err:  # from _copy: pooch does not retry it
        raise DataUnavailableError(_missing_message(entry, dest, src, "not in the mirror")) from err
    except ValueError as err:
        what = "the mirror copy is wrong" if src != entry.url else "the download was rejected"
        raise ChecksumMismatchError(
            f"{entry.name}: {src} does not match {pup.registry[rel]}; {what} ({err})"
        ) from err


def _published(entry: ManifestEntry, pup: pooch.Pooch, **kw: Any) -> str:
    """The md5 the source publishes for ``entry`` (its checksum file fetched through pooch)."""
    cs = entry.checksum_source
    assert cs is not None
    path = _pooch_fetch(pup, entry, cs.path, **kw)
    return parse_published_checksum(
        path.read_text(), format=cs.format, key=cs.key, source=str(path)
    )


def _record(entry: ManifestEntry, dest: Path, lock: dict[str, Any], published: str | None) -> None:
    lock[entry.name] = {
        "sha256": sha256_file(dest),
        "size": dest.stat().st_size,
        "url": entry.url,
        "path": entry.path,
        "policy": entry.checksum_policy,
        "published": published,
        "recorded": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _fetch_one(
    entry: ManifestEntry, pup: pooch.Pooch, mirror: str | None, lock: dict[str, Any], **kw: Any
) -> Path:
    """Register ``entry`` with its known hash and source, let pooch fetch it, lock it if new."""
    known = f"sha256:{s}" if (s := expected_sha256(entry, lock)) else None
    published = None
    if known is None and entry.checksum_source is not None:
        cs = entry.checksum_source
        pup.registry[cs.path], pup.urls[cs.path] = None, _source(cs.path, cs.url, mirror)
        published = known = _published(entry, pup, **kw)
    pup.registry[entry.path] = known
    pup.urls[entry.path] = _source(entry.path, entry.url, mirror)
    dest = _pooch_fetch(pup, entry, entry.path, **kw)
    if entry.size is not None and dest.stat().st_size != entry.size:  # unpinned with a size
        got = dest.stat().st_size
        dest.unlink()
        raise ChecksumMismatchError(
            f"{entry.name}: {entry.url} gave {got} bytes, the manifest says {entry.size}; "
            "the download was removed"
        )
    if entry.checksum_policy != "pinned" and _locked_sha256(entry, lock) is None:
        if known is None:
            log.warning("%s: no published checksum; recorded sha256 on first use", entry.name)
        _record(entry, dest, lock, published)
    return dest


def fetch(
    names: str | Iterable[str] = "all",
    *,
    entries: list[ManifestEntry] | None = None,
    manifest_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    mirror: str | Path | None = None,
    lock_path: str | Path | None = None,
    progress: bool = True,
    timeout: float = 60.0,
    retries: int = 2,
    allow_http_loopback: bool = False,
) -> dict[str, Path]:
    """Download (or verify) manifest files into the cache; returns name → local path.

    Parameters
    ----------
    names
        ``"all"``, one name, or a list of names.
    entries
        Parsed entries (default: :func:`load_manifest` of ``manifest_dir``).
    cache_dir, mirror
        See :func:`resolve_cache_dir` and :func:`resolve_mirror`.
    lock_path
        Trust-on-first-use lock file (default ``<cache_dir>/manifest-lock.json``).
    timeout
        Seconds without data before a download is abandoned.
    retries
        Further attempts after a network error or a checksum mismatch (pooch waits 1 s, 2 s, …
        between them).

    Raises
    ------
    DataUnavailableError
        A file could not be downloaded (offline, HTTP error, interrupted); says where to put it.
    ChecksumMismatchError
        A download or mirror copy does not match its checksum (nothing is left behind).
    """
    if entries is None:
        entries = load_manifest(manifest_dir, allow_http_loopback=allow_http_loopback)
    mirror = resolve_mirror(mirror)
    if mirror is not None and urlparse(mirror).scheme in ("http", "https"):
        check_url(mirror, "mirror", allow_http_loopback=allow_http_loopback)
    pup = _pooch(cache_dir, retries=retries)
    lock_file = Path(lock_path) if lock_path is not None else Path(pup.abspath) / LOCK_NAME
    lock = read_lock(lock_file)
    out: dict[str, Path] = {}
    for entry in select(entries, names):
        log.info("%s: %s", entry.name, entry.path)
        before = dict(lock)
        out[entry.name] = _fetch_one(entry, pup, mirror, lock, progress=progress, timeout=timeout)
        if lock != before:
            write_json_atomic(lock_file, lock)
    return out


def _status_row(e: ManifestEntry, dest: Path, lock: dict[str, Any], verify: bool) -> dict:
    sha = expected_sha256(e, lock)
    record = lock.get(e.name) if sha is not None and e.sha256 is None else None
    size = e.size if e.size is not None else (record or {}).get("size")
    row = {
        "name": e.name,
        "path": str(dest),
        "policy": e.checksum_policy,
        "expected_sha256": sha,
        "bytes": e.expected_bytes,
        "verified": False,
    }
    if not dest.is_file():
        return row | {"state": "missing", "message": f"run fetch, or put the file at {dest}"}
    got = dest.stat().st_size
    if size is not None and got != size:
        return row | {
            "state": "checksum mismatch",
            "bytes": got,
            "message": f"size {got} != expected {size}",
        }
    if verify and sha is not None:
        ok = sha256_file(dest) == sha
        return row | {
            "state": "present" if ok else "checksum mismatch",
            "verified": True,
            "bytes": got,
            "message": "sha256 ok" if ok else f"sha256 differs from {sha}",
        }
    why = "not checked" if sha is not None else "no checksum recorded yet (run fetch)"
    return row | {"state": "present", "bytes": got, "message": why}


def status(
    names: str | Iterable[str] = "all",
    *,
    entries: list[ManifestEntry] | None = None,
    manifest_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    lock_path: str | Path | None = None,
    verify: bool = True,
) -> pd.DataFrame:
    """One row per entry: is the file present, missing, or failing its checksum? No network.

    Columns: ``name, path, state`` (``present`` / ``missing`` / ``checksum mismatch``),
    ``verified`` (a checksum was compared), ``policy``, ``expected_sha256``, ``bytes``,
    ``message``. With ``verify=False`` only existence and size are checked (fast).
    """
    if entries is None:
        entries = load_manifest(manifest_dir)
    cache = resolve_cache_dir(cache_dir)
    lock = read_lock(Path(lock_path) if lock_path is not None else cache / LOCK_NAME)
    rows = [_status_row(e, cache / e.path, lock, verify) for e in select(entries, names)]
    cols = ["name", "state", "verified", "policy", "bytes", "expected_sha256", "path", "message"]
    return pd.DataFrame(rows, columns=cols)

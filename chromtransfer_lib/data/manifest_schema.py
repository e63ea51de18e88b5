"""The download manifest: every external input of the paper, fetched with checksums.

Each ``data_manifest/*.yaml`` file lists entries (name, HTTPS URL, relative path in the cache,
checksum policy, size, license, citation, used-by). :func:`fetch` downloads them with pooch into
one cache directory — ``cache_dir``, else the ``CHROMTRANSFER_DATA`` environment variable, else
``pooch.os_cache("chromtransfer")`` — verifying every file and never leaving a partial one
(pooch streams into a temporary file in the target folder and moves it into place only after
the checksum matched; mirror copies follow the same rule).

Checksum policies, exactly one per entry:

``sha256``
    pinned in the YAML (the authors' label files).
``checksum_source``
    the source publishes a checksum the code can read: a UCSC-style ``md5sum.txt``
    (``format: md5sum``) or an ENCODE portal file-metadata JSON (``format: encode-json``, ``key``
    names the field, normally ``md5sum``). The published md5 is checked at download; the file's
    sha256 is then written to the lock file and checked from there on (offline).
``trust_on_first_use: true``
    no checksum is published where the code can read it: the sha256 of the first download is
    recorded in the lock file (``<cache>/manifest-lock.json``) and every later download or
    check must match it. This proves the file has not *changed* since first use, not that the
    first download was the right one — the entry's ``note`` says so.

Offline sites set a mirror (``mirror=`` or ``CHROMTRANSFER_MIRROR``): a directory or URL laid
out like the entries' relative paths. Only HTTPS URLs are accepted; plain HTTP is allowed for
loopback hosts (127.0.0.1, localhost) only when the caller passes ``allow_http_loopback=True``
(the tests' local server).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote, unquote, urlparse

import pandas as pd
import pooch
import requests
import yaml

from chromtransfer_lib.errors import InputError

log = logging.getLogger(__name__)

DATA_ENV = "CHROMTRANSFER_DATA"
MIRROR_ENV = "CHROMTRANSFER_MIRROR"
LOCK_NAME = "manifest-lock.json"
CHECKSUM_FORMATS = ("md5sum", "encode-json")
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_HEX = {"sha256": re.compile(r"^[0-9a-f]{64}$"), "md5": re.compile(r"^[0-9a-f]{32}$")}
_REQUIRED = ("name", "url", "path", "size", "license", "citation", "used_by", "description")
_OPTIONAL = ("sha256", "checksum_source", "trust_on_first_use", "approx_size", "note")


class ManifestError(InputError, ValueError):
    """A manifest file or a published checksum file is malformed (names the file and key)."""


class ChecksumMismatchError(InputError, ValueError):
    """A file's checksum differs from the pinned, published or recorded one."""


class DataUnavailableError(InputError, OSError):
    """A file could not be obtained; the message says where to put it by hand."""


@dataclass(frozen=True)
class ChecksumSource:
    """Where a source publishes a file's checksum, and how to read it."""

    url: str
    path: str
    format: str
    key: str


@dataclass(frozen=True)
class ManifestEntry:
    """One external input. ``path`` is relative (POSIX) to the cache and to any mirror."""

    name: str
    url: str
    path: str
    sha256: str | None
    checksum_source: ChecksumSource | None
    trust_on_first_use: bool
    size: int | None
    approx_size: int | None
    license: str
    citation: str
    used_by: tuple[str, ...]
    description: str
    note: str
    manifest_file: str

    @property
    def checksum_policy(self) -> str:
        """``pinned``, ``published`` or ``tofu`` (trust on first use)."""
        if self.sha256:
            return "pinned"
        return "published" if self.checksum_source else "tofu"

    @property
    def expected_bytes(self) -> int | None:
        """Exact size if pinned, else the approximate size (for disk-space planning)."""
        return self.size if self.size is not None else self.approx_size


def default_manifest_dir() -> Path:
    """``data_manifest/`` of the source checkout this package was imported from."""
    return Path(__file__).resolve().parents[2] / "data_manifest"


def _check_url(url: Any, where: str, *, allow_http_loopback: bool) -> str:
    if not isinstance(url, str) or not url:
        raise ManifestError(f"{where}: url must be a non-empty string, got {url!r}")
    parsed = urlparse(url)
    if parsed.scheme == "https" and parsed.hostname:
        return url
    if parsed.scheme == "http" and allow_http_loopback and parsed.hostname in _LOOPBACK:
        return url
    raise ManifestError(
        f"{where}: {url!r} is not an HTTPS URL; downloads are HTTPS only "
        "(plain http is allowed for 127.0.0.1/localhost only with allow_http_loopback=True)"
    )


def _check_relpath(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ManifestError(f"{where}: path must be a non-empty relative path, got {value!r}")
    p = PurePosixPath(value)
    if p.is_absolute() or ".." in p.parts or "\\" in value:
        raise ManifestError(f"{where}: path {value!r} must be relative, '/'-separated, no '..'")
    return str(p)


def _check_str(raw: dict[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ManifestError(f"{where}: {key!r} must be a non-empty string, got {value!r}")
    return value.strip()


def _check_size(value: Any, key: str, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ManifestError(f"{where}: {key!r} must be a positive integer or null, got {value!r}")
    return value


def _parse_entry(
    raw: Any, where: str, *, manifest_file: str, allow_http_loopback: bool
) -> ManifestEntry:
    if not isinstance(raw, dict):
        raise ManifestError(f"{where}: an entry must be a mapping, got {raw!r}")
    unknown = sorted(set(raw) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise ManifestError(
            f"{where}: unknown key(s) {unknown}; allowed: {', '.join(_REQUIRED + _OPTIONAL)}"
        )
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise ManifestError(f"{where}: missing key(s) {missing}")
    name = _check_str(raw, "name", where)
    if not _NAME_RE.match(name):
        raise ManifestError(f"{where}: name {name!r} may use only letters, digits, '.', '_', '-'")
    where = f"{where} ({name})"
    sha = raw.get("sha256")
    if sha is not None and (not isinstance(sha, str) or not _HEX["sha256"].match(sha)):
        raise ManifestError(f"{where}: sha256 must be 64 lower-case hex digits, got {sha!r}")
    tofu = raw.get("trust_on_first_use", False)
    if not isinstance(tofu, bool):
        raise ManifestError(f"{where}: trust_on_first_use must be true/false, got {tofu!r}")
    source = None
    if raw.get("checksum_source") is not None:
        cs = raw["checksum_source"]
        if not isinstance(cs, dict) or set(cs) != {"url", "path", "format", "key"}:
            raise ManifestError(
                f"{where}: checksum_source must have exactly url, path, format, key; got {cs!r}"
            )
        if cs["format"] not in CHECKSUM_FORMATS:
            raise ManifestError(
                f"{where}: checksum_source.format {cs['format']!r} is not one of {CHECKSUM_FORMATS}"
            )
        source = ChecksumSource(
            url=_check_url(
                cs["url"], f"{where}.checksum_source", allow_http_loopback=allow_http_loopback
            ),
            path=_check_relpath(cs["path"], f"{where}.checksum_source"),
            format=cs["format"],
            key=_check_str(cs, "key", f"{where}.checksum_source"),
        )
    n_policies = (sha is not None) + (source is not None) + tofu
    if n_policies != 1:
        raise ManifestError(
            f"{where}: give exactly one checksum policy: sha256 (pinned), checksum_source "
            "(published by the source) or trust_on_first_use: true — never invent a checksum"
        )
    size = _check_size(raw["size"], "size", where)
    if sha is not None and size is None:
        raise ManifestError(f"{where}: a pinned sha256 needs its exact size in bytes")
    used_by = raw["used_by"]
    if not isinstance(used_by, list) or not used_by or not all(isinstance(u, str) for u in used_by):
        raise ManifestError(f"{where}: used_by must be a non-empty list of strings")
    return ManifestEntry(
        name=name,
        url=_check_url(raw["url"], where, allow_http_loopback=allow_http_loopback),
        path=_check_relpath(raw["path"], where),
        sha256=sha,
        checksum_source=source,
        trust_on_first_use=tofu,
        size=size,
        approx_size=_check_size(raw.get("approx_size"), "approx_size", where),
        license=_check_str(raw, "license", where),
        citation=_check_str(raw, "citation", where),
        used_by=tuple(used_by),
        description=_check_str(raw, "description", where),
        note=str(raw.get("note") or "").strip(),
        manifest_file=manifest_file,
    )


def load_manifest(
    dir: str | Path | None = None, *, allow_http_loopback: bool = False
) -> list[ManifestEntry]:
    """Read and validate every ``*.yaml`` file of a manifest directory.

    Each file holds ``entries:`` (a list) and optionally ``defaults:`` (a mapping merged under
    every entry of that file). Files are read in name order, entries in file order.

    Raises
    ------
    ManifestError
        On unknown or missing keys, a non-HTTPS URL, a bad checksum, zero or several checksum
        policies, or a duplicated name or path; the message names the file and entry.
    """
    root = Path(dir) if dir is not None else default_manifest_dir()
    files = sorted(root.glob("*.yaml"))
    if not files:
        raise ManifestError(f"no manifest files (*.yaml) in {root}; pass the data_manifest dir")
    entries: list[ManifestEntry] = []
    for f in files:
        try:
            doc = yaml.safe_load(f.read_text())
        except yaml.YAMLError as err:
            raise ManifestError(f"{f}: not valid YAML: {err}") from err
        if not isinstance(doc, dict) or not isinstance(doc.get("entries"), list):
            raise ManifestError(f"{f}: expected a mapping with an 'entries' list")
        extra = sorted(set(doc) - {"entries", "defaults"})
        if extra:
            raise ManifestError(f"{f}: unknown top-level key(s) {extra}; use entries/defaults")
        defaults = doc.get("defaults") or {}
        if not isinstance(defaults, dict):
            raise ManifestError(f"{f}: 'defaults' must be a mapping")
        for i, raw in enumerate(doc["entries"]):
            merged = {**defaults, **raw} if isinstance(raw, dict) else raw
            entries.append(
                _parse_entry(
                    merged,
                    f"{f} entry {i}",
                    manifest_file=str(f),
                    allow_http_loopback=allow_http_loopback,
                )
            )
    for attr in ("name", "path"):
        seen: dict[str, str] = {}
        for e in entries:
            key = getattr(e, attr)
            if key in seen:
                raise ManifestError(
                    f"duplicate {attr} {key!r} in {seen[key]} and {e.manifest_file}"
                )
            seen[key] = e.manifest_file
    return entries


def select(entries: list[ManifestEntry], names: str | Iterable[str]) -> list[ManifestEntry]:
    """Entries named in ``names`` (or all of them for ``"all"``), in manifest order."""
    if isinstance(names, str):
        if names == "all":
            return list(entries)
        names = [names]
    wanted = list(names)
    known = {e.name for e in entries}
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise ManifestError(f"unknown manifest name(s) {unknown}; known: {sorted(known)}")
    return [e for e in entries if e.name in set(wanted)]


def resolve_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """``cache_dir`` if given, else ``$CHROMTRANSFER_DATA``, else the user cache directory."""
    if cache_dir is None:
        cache_dir = os.environ.get(DATA_ENV) or pooch.os_cache("chromtransfer")
    return Path(cache_dir).expanduser()


def resolve_mirror(mirror: str | Path | None = None) -> str | None:
    """``mirror`` if given, else ``$CHROMTRANSFER_MIRROR``, else ``None`` (no mirror)."""
    value = str(mirror) if mirror is not None else os.environ.get(MIRROR_ENV, "")
    return value or None


def file_sha256(path: str | Path, *, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in 4 MiB blocks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def read_lock(lock_path: str | Path) -> dict[str, dict[str, Any]]:
    """The lock file's records (name → sha256, size, url, path, policy), ``{}`` if absent."""
    p = Path(lock_path)
    if not p.is_file():
        return {}
    try:
        return json.loads(p.read_text())
    except json.JSONDecodeError as err:
        raise ManifestError(f"{p}: lock file is not valid JSON ({err}); fix or delete it") from err


def _write_lock(lock_path: Path, lock: dict[str, dict[str, Any]]) -> None:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=lock_path.parent, prefix=f".{lock_path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(lock, fh, indent=2, sort_keys=True)
            fh.write("\n")
        os.replace(tmp, lock_path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


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


def _matches(path: Path, known: str, size: int | None) -> bool:
    if size is not None and path.stat().st_size != size:
        return False
    algorithm, _, digest = known.partition(":")
    return file_sha256(path, algorithm=algorithm) == digest


def parse_published_checksum(text: str, *, format: str, key: str, source: str = "") -> str:
    """Read one md5 from a published checksum file; returns ``"md5:<hex>"``.

    ``format="md5sum"``: lines ``<md5>  <file name>`` (``*`` binary marker allowed), ``key`` is
    the file name. ``format="encode-json"``: an ENCODE portal file JSON, ``key`` the field.
    """
    if format == "md5sum":
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1].lstrip("*") == key:
                digest = parts[0].lower()
                break
        else:
            raise ManifestError(f"{source}: no md5sum line for {key!r}")
    elif format == "encode-json":
        try:
            digest = str(json.loads(text)[key]).lower()
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise ManifestError(f"{source}: no {key!r} field in the ENCODE JSON ({err})") from err
    else:
        raise ManifestError(f"{source}: unknown checksum format {format!r}")
    if not _HEX["md5"].match(digest):
        raise ManifestError(f"{source}: {key!r} gives {digest!r}, not an md5 hex digest")
    return f"md5:{digest}"


def _source(rel_path: str, url: str, mirror: str | None) -> str | Path:
    """Where to get a file: the mirror (directory → Path, URL → URL) or the original URL."""
    if mirror is None:
        return url
    parsed = urlparse(mirror)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path)) / rel_path
    if parsed.scheme in ("http", "https"):
        return mirror.rstrip("/") + "/" + quote(rel_path)
    return Path(mirror).expanduser() / rel_path


def _missing_message(entry: ManifestEntry, dest: Path, src: str | Path, reason: str) -> str:
    sha = f" (sha256 {entry.sha256})" if entry.sha256 else ""
    return (
        f"{entry.name}: could not get {src} ({reason}).\n"
        f"  Offline? Download {entry.url}{sha} on a machine with network and put it at\n"
        f"    {dest}\n"
        f"  or point {MIRROR_ENV} (or --mirror) at a directory or HTTPS URL that holds it "
        f"at {entry.path}."
    )


def _transfer(
    entry: ManifestEntry,
    src: str | Path,
    dest: Path,
    known: str | None,
    *,
    progress: bool,
    timeout: float,
    allow_http_loopback: bool,
) -> None:
    """Copy or download ``src`` to ``dest`` atomically, verifying ``known`` if given."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(src, Path):
        if not src.is_file():
            raise DataUnavailableError(_missing_message(entry, dest, src, "not in the mirror"))
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        os.close(fd)
        try:
            shutil.copyfile(src, tmp)
            if known is not None and not _matches(Path(tmp), known, None):
                raise ChecksumMismatchError(
                    f"{entry.name}: {src} does not match {known}; the mirror copy is wrong"
                )
            os.replace(tmp, dest)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        return
    _check_url(src, entry.name, allow_http_loopback=allow_http_loopback)
    downloader = pooch.HTTPDownloader(progressbar=progress, timeout=timeout)
    try:
        pooch.retrieve(src, known, fname=dest.name, path=dest.parent, downloader=downloader)
    except requests.exceptions.RequestException as err:
        raise DataUnavailableError(_missing_message(entry, dest, src, str(err))) from err
    except ValueError as err:
        raise ChecksumMismatchError(f"{entry.name}: download from {src} rejected: {err}") from err


def _published(entry: ManifestEntry, cache: Path, mirror: str | None, **kw: Any) -> str:
    cs = entry.checksum_source
    assert cs is not None
    dest = cache / cs.path
    if not dest.is_file():
        _transfer(entry, _source(cs.path, cs.url, mirror), dest, None, **kw)
    return parse_published_checksum(
        dest.read_text(), format=cs.format, key=cs.key, source=str(dest)
    )


def _record(entry: ManifestEntry, dest: Path, lock: dict[str, Any], published: str | None) -> None:
    lock[entry.name] = {
        "sha256": file_sha256(dest),
        "size": dest.stat().st_size,
        "url": entry.url,
        "path": entry.path,
        "policy": entry.checksum_policy,
        "published": published,
        "recorded": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _fetch_one(
    entry: ManifestEntry, cache: Path, mirror: str | None, lock: dict[str, Any], **kw: Any
) -> Path:
    dest = cache / entry.path
    known = f"sha256:{s}" if (s := expected_sha256(entry, lock)) else None
    published = None
    if known is None and entry.checksum_source is not None:
        published = known = _published(entry, cache, mirror, **kw)
    if dest.is_file():
        if known is not None and _matches(dest, known, entry.size):
            if entry.checksum_policy != "pinned" and entry.name not in lock:
                _record(entry, dest, lock, published)
            return dest
        if known is None:  # trust on first use of a file placed by hand
            log.warning("%s: no checksum known; trusting %s on first use", entry.name, dest)
            _record(entry, dest, lock, None)
            return dest
        log.warning("%s: %s fails its checksum %s; downloading again", entry.name, dest, known)
    _transfer(entry, _source(entry.path, entry.url, mirror), dest, known, **kw)
    if entry.size is not None and dest.stat().st_size != entry.size:  # unpinned with a size
        got = dest.stat().st_size
        dest.unlink()
        raise ChecksumMismatchError(
            f"{entry.name}: {entry.url} gave {got} bytes, the manifest says {entry.size}; "
            "the download was removed"
        )
    if entry.checksum_policy != "pinned" and entry.name not in lock:
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

    Raises
    ------
    DataUnavailableError
        A file could not be downloaded (offline, HTTP error, interrupted); says where to put it.
    ChecksumMismatchError
        A download or mirror copy does not match its checksum (nothing is left behind).
    """
    if entries is None:
        entries = load_manifest(manifest_dir, allow_http_loopback=allow_http_loopback)
    cache = resolve_cache_dir(cache_dir)
    mirror = resolve_mirror(mirror)
    if mirror is not None and urlparse(mirror).scheme in ("http", "https"):
        _check_url(mirror, "mirror", allow_http_loopback=allow_http_loopback)
    lock_file = Path(lock_path) if lock_path is not None else cache / LOCK_NAME
    lock = read_lock(lock_file)
    out: dict[str, Path] = {}
    kw = {"progress": progress, "timeout": timeout, "allow_http_loopback": allow_http_loopback}
    for entry in select(entries, names):
        log.info("%s: %s", entry.name, entry.path)
        before = dict(lock)
        out[entry.name] = _fetch_one(entry, cache, mirror, lock, **kw)
        if lock != before:
            _write_lock(lock_file, lock)
    return out


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
    rows = []
    for e in select(entries, names):
        dest = cache / e.path
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
            row |= {"state": "missing", "message": f"run fetch, or put the file at {dest}"}
        elif size is not None and dest.stat().st_size != size:
            row |= {
                "state": "checksum mismatch",
                "bytes": dest.stat().st_size,
                "message": f"size {dest.stat().st_size} != expected {size}",
            }
        elif verify and sha is not None:
            ok = file_sha256(dest) == sha
            row |= {
                "state": "present" if ok else "checksum mismatch",
                "verified": True,
                "bytes": dest.stat().st_size,
                "message": "sha256 ok" if ok else f"sha256 differs from {sha}",
            }
        else:
            why = "not checked" if sha is not None else "no checksum recorded yet (run fetch)"
            row |= {"state": "present", "bytes": dest.stat().st_size, "message": why}
        rows.append(row)
    cols = ["name", "state", "verified", "policy", "bytes", "expected_sha256", "path", "message"]
    return pd.DataFrame(rows, columns=cols)

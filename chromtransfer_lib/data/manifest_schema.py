"""What a download manifest may say: entries, their checksum policy, and published checksums.

Each ``data_manifest/*.yaml`` file holds ``entries:`` (and optionally ``defaults:`` merged under
every entry of the file). An entry names one external input: ``name``, an HTTPS ``url``, the
relative ``path`` it takes in the cache (and in any mirror), its ``size``, ``license``,
``citation``, ``used_by`` and ``description``, and exactly one checksum policy:

``sha256``
    pinned in the YAML (the authors' label files; needs the exact ``size``).
``checksum_source``
    the source publishes a checksum the code can read: a UCSC-style ``md5sum.txt``
    (``format: md5sum``, ``key`` = the file name) or an ENCODE portal file-metadata JSON
    (``format: encode-json``, ``key`` = the field, normally ``md5sum``); see
    :func:`parse_published_checksum`.
``trust_on_first_use: true``
    no checksum is published where the code can read it (the sha256 is recorded on first
    download, see :mod:`chromtransfer_lib.data.manifest`); the entry's ``note`` says so.

:func:`load_manifest` validates every file and names the file and entry of any error. Fetching
is in :mod:`chromtransfer_lib.data.manifest` (ARCHITECTURE.md, "data").

A file may also say ``kind: runs`` (default ``kind: data``): its entries are pre-computed run
archives (``chromtransfer pack-run``, :mod:`chromtransfer_lib.book.run_archive`), which only
``chromtransfer fetch runs`` reads; ``fetch --all``, ``status``, ``doctor`` and the paper world
see the ``data`` entries only. A run entry must pin its ``sha256`` and ``size``: an archive
holds models that the book loads, so it is never trusted on first use. Names and paths are
unique across both kinds (they share the cache).

The manifest read is ``data_manifest/`` of the checkout, unless ``$CHROMTRANSFER_MANIFEST``
names another folder of manifest YAMLs (:func:`resolve_manifest_dir`): a site's own pins, or the
test suite's miniature inputs with their own checksums. It replaces ``data_manifest/`` whole
and is validated by the same rules; every command that reads the manifest (``fetch``, ``doctor``,
the book's paper world) sees the same one.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

import yaml

from chromtransfer_lib.errors import InputError

log = logging.getLogger(__name__)

#: Environment variable naming a folder of manifest YAMLs that replaces ``data_manifest/``.
MANIFEST_ENV = "CHROMTRANSFER_MANIFEST"
CHECKSUM_FORMATS = ("md5sum", "encode-json")
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_HEX = {"sha256": re.compile(r"^[0-9a-f]{64}$"), "md5": re.compile(r"^[0-9a-f]{32}$")}
_REQUIRED = ("name", "url", "path", "size", "license", "citation", "used_by", "description")
_OPTIONAL = ("sha256", "checksum_source", "trust_on_first_use", "approx_size", "note")
#: What a manifest file's entries are: the paper's inputs, or pre-computed run archives.
KINDS = ("data", "runs")


class ManifestError(InputError, ValueError):
    """A manifest file or a published checksum file is malformed (names the file and key)."""


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
    kind: str = "data"

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


def resolve_manifest_dir(dir: str | Path | None = None) -> Path:
    """``dir`` if given, else ``$CHROMTRANSFER_MANIFEST``, else :func:`default_manifest_dir`."""
    if dir is not None:
        return Path(dir)
    override = os.environ.get(MANIFEST_ENV, "")
    if override:
        log.warning("manifest from %s=%s, not %s", MANIFEST_ENV, override, default_manifest_dir())
        return Path(override).expanduser()
    return default_manifest_dir()


def check_url(url: Any, where: str, *, allow_http_loopback: bool) -> str:
    """``url`` if it is HTTPS (or loopback HTTP when allowed), else a :class:`ManifestError`."""
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


def _parse_checksum_source(cs: Any, where: str, *, allow_http_loopback: bool) -> ChecksumSource:
    if not isinstance(cs, dict) or set(cs) != {"url", "path", "format", "key"}:
        raise ManifestError(
            f"{where}: checksum_source must have exactly url, path, format, key; got {cs!r}"
        )
    if cs["format"] not in CHECKSUM_FORMATS:
        raise ManifestError(
            f"{where}: checksum_source.format {cs['format']!r} is not one of {CHECKSUM_FORMATS}"
        )
    where = f"{where}.checksum_source"
    return ChecksumSource(
        url=check_url(cs["url"], where, allow_http_loopback=allow_http_loopback),
        path=_check_relpath(cs["path"], where),
        format=cs["format"],
        key=_check_str(cs, "key", where),
    )


def _checksum_policy(
    raw: dict[str, Any], where: str, *, allow_http_loopback: bool
) -> tuple[str | None, ChecksumSource | None, bool]:
    """The entry's one checksum policy: ``(sha256, checksum_source, trust_on_first_use)``."""
    sha = raw.get("sha256")
    if sha is not None and (not isinstance(sha, str) or not _HEX["sha256"].match(sha)):
        raise ManifestError(f"{where}: sha256 must be 64 lower-case hex digits, got {sha!r}")
    tofu = raw.get("trust_on_first_use", False)
    if not isinstance(tofu, bool):
        raise ManifestError(f"{where}: trust_on_first_use must be true/false, got {tofu!r}")
    source = None
    if raw.get("checksum_source") is not None:
        source = _parse_checksum_source(
            raw["checksum_source"], where, allow_http_loopback=allow_http_loopback
        )
    n_policies = (sha is not None) + (source is not None) + tofu
    if n_policies != 1:
        raise ManifestError(
            f"{where}: give exactly one checksum policy: sha256 (pinned), checksum_source "
            "(published by the source) or trust_on_first_use: true — never invent a checksum"
        )
    return sha, source, tofu


def _parse_entry(
    raw: Any, where: str, *, manifest_file: str, allow_http_loopback: bool, kind: str = "data"
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
    sha, source, tofu = _checksum_policy(raw, where, allow_http_loopback=allow_http_loopback)
    size = _check_size(raw["size"], "size", where)
    if sha is not None and size is None:
        raise ManifestError(f"{where}: a pinned sha256 needs its exact size in bytes")
    if kind == "runs" and sha is None:
        raise ManifestError(
            f"{where}: a run archive must pin its sha256 and size (what pack-run printed); "
            "leave the entry out until the archive is published"
        )
    used_by = raw["used_by"]
    if not isinstance(used_by, list) or not used_by or not all(isinstance(u, str) for u in used_by):
        raise ManifestError(f"{where}: used_by must be a non-empty list of strings")
    return ManifestEntry(
        name=name,
        url=check_url(raw["url"], where, allow_http_loopback=allow_http_loopback),
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
        kind=kind,
    )


def load_manifest(
    dir: str | Path | None = None, *, allow_http_loopback: bool = False, kind: str = "data"
) -> list[ManifestEntry]:
    """Read and validate every ``*.yaml`` file of a manifest directory; return one kind's entries.

    ``dir`` defaults to :func:`resolve_manifest_dir` (``$CHROMTRANSFER_MANIFEST``, else
    ``data_manifest/``). Each file holds ``entries:`` (a list), optionally ``defaults:`` (a
    mapping merged under every entry of that file) and ``kind:`` (``data``, the default, or
    ``runs``; see :data:`KINDS`). Files are read in name order, entries in file order; every
    file is validated, whatever ``kind`` asks for.

    Raises
    ------
    ManifestError
        On unknown or missing keys, a non-HTTPS URL, a bad checksum, zero or several checksum
        policies, or a duplicated name or path; the message names the file and entry.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    root = resolve_manifest_dir(dir)
    files = sorted(root.glob("*.yaml"))
    if not files:
        raise ManifestError(
            f"no manifest files (*.yaml) in {root}; pass the data_manifest dir"
            + (f" or fix {MANIFEST_ENV}" if dir is None and os.environ.get(MANIFEST_ENV) else "")
        )
    entries: list[ManifestEntry] = []
    for f in files:
        try:
            doc = yaml.safe_load(f.read_text())
        except yaml.YAMLError as err:
            raise ManifestError(f"{f}: not valid YAML: {err}") from err
        if not isinstance(doc, dict) or not isinstance(doc.get("entries"), list):
            raise ManifestError(f"{f}: expected a mapping with an 'entries' list")
        extra = sorted(set(doc) - {"entries", "defaults", "kind"})
        if extra:
            raise ManifestError(f"{f}: unknown top-level key(s) {extra}; use entries/defaults/kind")
        file_kind = doc.get("kind", "data")
        if file_kind not in KINDS:
            raise ManifestError(f"{f}: kind must be one of {KINDS}, got {file_kind!r}")
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
                    kind=file_kind,
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
    return [e for e in entries if e.kind == kind]


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

"""Fetching a published run archive: its ``runs`` manifest entry (or a checksum and a mirror
given on the command line), the download through the data manifest's fetcher, one clear line
when it is unavailable, then :func:`.run_archive.unpack_run`.

Split from :mod:`.run_archive` (which packs, reads and unpacks archives) so that each module
holds one side: this one is the only part that touches the network.
"""

from __future__ import annotations

import re
from pathlib import Path

from chromtransfer_lib.book.run_archive import (
    NoPublishedRunError,
    RunArchiveError,
    RunArchiveUnavailableError,
    UnpackedRun,
    archive_name,
    check_target,
    entry_name,
    unpack_run,
)
from chromtransfer_lib.config import load_profile
from chromtransfer_lib.data import manifest as mf


def _published_entry(
    name: str, *, sha256: str | None, mirror: str | None, manifest_dir: str | Path | None,
    allow_http_loopback: bool,
) -> mf.ManifestEntry:  # fmt: skip
    """The profile's ``runs`` manifest entry, or one pinned to ``sha256`` at the mirror."""
    entries = mf.load_manifest(manifest_dir, allow_http_loopback=allow_http_loopback, kind="runs")
    key = entry_name(name)
    entry = next((e for e in entries if e.name == key), None)
    if entry is not None:
        if sha256 is not None and sha256 != entry.sha256:
            raise mf.ChecksumMismatchError(
                f"{key}: --sha256 {sha256} differs from the manifest's pinned {entry.sha256}"
            )
        return entry
    if sha256 is None or mirror is None:
        raise NoPublishedRunError(
            f"no published run archive for profile {name!r} (no entry {key!r} in "
            f"{mf.resolve_manifest_dir(manifest_dir)}); build one with `chromtransfer pack-run "
            f"--profile {name}`, or pass --mirror with --sha256 (the checksum pack-run printed) "
            f"or with a manifest override (${mf.MANIFEST_ENV})"
        )
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise RunArchiveError(f"--sha256 must be 64 lower-case hex digits, got {sha256!r}")
    path = f"runs/{archive_name(name)}"
    return mf.ManifestEntry(
        name=key, url=f"{mirror.rstrip('/')}/{path}", path=path, sha256=sha256,
        checksum_source=None, trust_on_first_use=False, size=None, approx_size=None,
        license="as published by whoever packed it", citation="", used_by=("fetch runs",),
        description=f"the {name} profile's run, checksum given on the command line",
        note="", manifest_file="(command line)", kind="runs",
    )  # fmt: skip


def _unavailable(entry: mf.ManifestEntry, mirror: str | None, err: Exception) -> str:
    """One line: what could not be downloaded, why (short), and what to do."""
    import requests

    cause = err.__cause__
    if isinstance(cause, requests.HTTPError) and cause.response is not None:
        why = f"HTTP {cause.response.status_code}"
    elif isinstance(cause, requests.Timeout):
        why = "timed out"
    elif isinstance(cause, requests.ConnectionError):
        why = "no connection"
    elif isinstance(cause, FileNotFoundError):
        why = "not in the mirror"
    else:
        why = type(cause or err).__name__
    where = f"{mirror.rstrip('/')}/{entry.path}" if mirror else entry.url
    return (
        f"{entry.name}: could not download {where} ({why}); offline? point --mirror (or "
        f"${mf.MIRROR_ENV}) at a folder or HTTPS URL holding {entry.path}"
    )


def fetch_run(
    profile: str | Path,
    *,
    run_dir: str | Path | None = None,
    mirror: str | Path | None = None,
    sha256: str | None = None,
    manifest_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    force: bool = False,
    progress: bool = True,
    timeout: float = 60.0,
    retries: int = 1,
    allow_http_loopback: bool = False,
) -> UnpackedRun:
    """Download a profile's published run archive (checksummed) and unpack it into ``run_dir``.

    The archive is the ``run-<profile>`` entry of the ``runs`` manifest (``data_manifest/
    runs.yaml``, or ``$CHROMTRANSFER_MANIFEST``'s), fetched like every manifest file
    (:func:`chromtransfer_lib.data.manifest.fetch`: into the data cache at ``runs/run-<profile>
    .tar.gz``, verified, from ``mirror`` / ``$CHROMTRANSFER_MIRROR`` when set). Without an
    entry, ``sha256`` and ``mirror`` together name an archive the caller was handed.

    Parameters
    ----------
    run_dir
        Default ``runs/<profile>`` of the repository (where the book reads it).
    force
        Replace a non-empty ``run_dir``.

    Raises
    ------
    NoPublishedRunError
        No entry for the profile, and not both ``sha256`` and ``mirror``.
    RunArchiveUnavailableError
        Offline, or the mirror lacks the archive (one line: what to do).
    """
    from chromtransfer_lib.book.runner import default_run_dir

    prof = load_profile(profile)
    run_dir = Path(run_dir) if run_dir is not None else default_run_dir(prof.name)
    mirror = mf.resolve_mirror(mirror)
    entry = _published_entry(
        prof.name, sha256=sha256, mirror=mirror, manifest_dir=manifest_dir,
        allow_http_loopback=allow_http_loopback,
    )  # fmt: skip
    check_target(run_dir.absolute(), force)  # before downloading, not after
    try:
        paths = mf.fetch(
            [entry.name], entries=[entry], cache_dir=cache_dir, mirror=mirror, progress=progress,
            timeout=timeout, retries=retries, allow_http_loopback=allow_http_loopback,
        )  # fmt: skip
    except mf.DataUnavailableError as err:
        raise RunArchiveUnavailableError(_unavailable(entry, mirror, err)) from err
    assert entry.sha256 is not None  # a run entry is always pinned
    return unpack_run(paths[entry.name], run_dir, sha256=entry.sha256, profile=profile, force=force)

"""Pre-computed runs: a finished run directory packed into one checksummed archive, and that
archive verified and unpacked, safely, into another machine's run directory.

A workshop laptop cannot train the book's models in a lesson. A teacher runs the book once and
packs its run directory (:func:`pack_run`, ``chromtransfer pack-run``); learners fetch the
archive (:func:`.run_fetch.fetch_run`, ``chromtransfer fetch runs``) from its manifest entry
(``data_manifest/runs.yaml``, ``kind: runs``) or a mirror, and every chapter opens on it
without training: the stages find their artifacts under the keys they compute.

Archive (``run-<profile>.tar.gz``, :data:`ARCHIVE_FORMAT` 1)::

    run/run-archive.json    the manifest, first member (:func:`read_archive_manifest`)
    run/<path>              every file of the run directory a chapter reads, sorted by path

What goes in (:func:`archive_members`): the world, the datasets, the trained models with
their histories and test scores, the cached interpretation arrays, the metrics and the tables
(``ledger.csv``, ``book_timings.csv``). What stays out, each listed in the manifest's
``left_out``: temporary files of interrupted writes (``.<name>.tmp-<pid>…``, ``*.tmp``),
lock files, ``.sha256-cache.json`` (sha256 sums keyed by the packing machine's absolute
paths), executed notebooks of batch runs (``notebooks/``), and links (not portable; the paper
world's links into the data cache are made again by its stage). Executed chapters and the HTML
book are not in a run directory (``book/chapters/``, ``_build/``).

The same run directory packs to the same bytes: members sorted, every mtime
:data:`ARCHIVE_MTIME`, uid/gid 0 without names, modes 0644, a gzip header without time or file
name, and a manifest without a timestamp (its ``git_sha`` names the checkout that packed it).

Why the unpacked artifacts are reused: every stage keys its folders by the profile
(:meth:`~chromtransfer_lib.config.Profile.config_hash`) or by file contents (sha256), never by
an absolute path; the two checks that read mtimes accept the archive's equal ones (a model's
cached test scores are stale only when *older* than the model; the genome code cache re-hashes
the FASTA when its mtime changed).
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import re
import shutil
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from chromtransfer_lib import __version__
from chromtransfer_lib.config import Profile, load_profile
from chromtransfer_lib.data import manifest as mf
from chromtransfer_lib.errors import InputError
from chromtransfer_lib.fileio import atomic_path, sha256_file, write_text_atomic

log = logging.getLogger(__name__)

ARCHIVE_FORMAT = 1
#: The manifest's name, in the archive (``run/``) and in an unpacked run directory.
MANIFEST_NAME = "run-archive.json"
#: Every member lies under this folder; unpacking renames it to the run directory.
TOP = "run"
#: mtime of every member (2000-01-01T00:00:00Z): fixed, so that a run packs to the same bytes.
ARCHIVE_MTIME = 946_684_800
_SKIP_NAMES = {".sha256-cache.json": "sha256 sums keyed by this machine's absolute paths"}
_SKIP_NAMES |= dict.fromkeys(("__pycache__", ".ipynb_checkpoints"), "editor/interpreter cache")
_SKIP_TOP = {
    "notebooks": "executed notebooks of a batch run",
    MANIFEST_NAME: "the manifest of an earlier unpack (written anew)",
}
_TEMPORARY = re.compile(r"^\..+\.(tmp-\d+|\d+\.tmp)|\.tmp$|\.lock$|^\..+\.(unpack|old)-\d+$")


class RunArchiveError(InputError, ValueError):
    """A run directory cannot be packed, or an archive cannot be unpacked (says why)."""


class UnsafeArchiveError(RunArchiveError):
    """An archive member would land outside the run directory, or is a link or device."""


class RunDirNotEmptyError(RunArchiveError, FileExistsError):
    """The run directory already holds files and ``force`` was not given."""


class NoPublishedRunError(RunArchiveError, LookupError):
    """The manifest has no run archive for the profile (none is published yet)."""


class RunArchiveUnavailableError(RunArchiveError, OSError):
    """The archive could not be downloaded (offline, no mirror, HTTP error)."""


def archive_name(profile_name: str) -> str:
    """``run-<profile>.tar.gz``, the archive's file name (its entry: :func:`entry_name`)."""
    return f"run-{profile_name}.tar.gz"


def entry_name(profile_name: str) -> str:
    """The ``data_manifest/runs.yaml`` entry of a profile's archive: ``run-<profile>``."""
    return f"run-{profile_name}"


def checksum_path(archive: str | Path) -> Path:
    """``<archive>.sha256``, the archive's checksum in ``sha256sum`` format."""
    archive = Path(archive)
    return archive.with_name(archive.name + ".sha256")


def read_checksum_file(path: str | Path) -> str:
    """The sha256 in a ``sha256sum`` line (``<64 hex>  <file name>``)."""
    path = Path(path)
    parts = path.read_text().split()
    if len(parts) < 1 or not re.fullmatch(r"[0-9a-f]{64}", parts[0]):
        raise RunArchiveError(f"{path}: expected a sha256sum line '<64 hex digits>  <file>'")
    return parts[0]


@dataclass(frozen=True)
class Members:
    """The files of a run directory that go into its archive, and those left out."""

    files: tuple[str, ...]
    """Paths relative to the run directory (POSIX), sorted."""
    left_out: tuple[str, ...]
    """``"<path> (<why>)"`` for each file or folder left out, sorted."""


def _skip_reason(rel: PurePosixPath, path: Path) -> str | None:
    if path.is_symlink():
        return f"a link to {os.readlink(path)}: not portable"
    name = rel.name
    if name in _SKIP_NAMES:
        return _SKIP_NAMES[name]
    if len(rel.parts) == 1 and name in _SKIP_TOP:
        return _SKIP_TOP[name]
    if _TEMPORARY.search(name):
        return "temporary or lock file"
    return None


def archive_members(run_dir: str | Path) -> Members:
    """Walk ``run_dir`` (links are not followed) and sort its files into kept and left out."""
    run_dir = Path(run_dir)
    files, left_out = [], []
    for folder, dirs, names in os.walk(run_dir):
        here = Path(folder)
        for group, is_dir in ((dirs, True), (names, False)):
            for name in sorted(group):
                rel = PurePosixPath((here / name).relative_to(run_dir).as_posix())
                why = _skip_reason(rel, here / name)
                if why is not None:
                    left_out.append(f"{rel}{'/' if is_dir else ''} ({why})")
                    if is_dir:
                        dirs.remove(name)
                elif not is_dir:
                    files.append(str(rel))
    return Members(tuple(sorted(files)), tuple(sorted(left_out)))


def _check_profile_run(run_dir: Path, profile: str | Path) -> Profile:
    """The loaded profile, after checking that ``run_dir`` holds a run of it."""
    from chromtransfer_lib.book.stages.world import world_folder

    prof = load_profile(profile)
    if not run_dir.is_dir():
        raise RunArchiveError(
            f"run directory {run_dir} does not exist; run the book first "
            f"(chromtransfer book --profile {prof.name}) or pass --run-dir"
        )
    world = world_folder(prof, run_dir)
    if not world.is_dir():
        raise RunArchiveError(
            f"{run_dir} holds no run of profile {prof.name!r} (no {world.relative_to(run_dir)}): "
            "was it run at another profile? Pass the profile it was run with"
        )
    if not (run_dir / "models").is_dir():
        log.warning("%s has no models/: chapters opened on its archive will train", run_dir)
    return prof


def _tar_info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(f"{TOP}/{name}")
    info.size, info.mtime, info.mode = size, ARCHIVE_MTIME, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


@dataclass(frozen=True)
class PackedRun:
    """What :func:`pack_run` wrote."""

    archive: Path
    sha256: str
    checksum_file: Path
    size: int
    """Bytes of the archive."""
    manifest: dict[str, Any]


def pack_run(
    run_dir: str | Path, out: str | Path | None = None, *, profile: str | Path
) -> PackedRun:
    """Pack a finished run directory into a deterministic tar.gz with a sha256 checksum.

    Parameters
    ----------
    run_dir
        The run directory (``runs/<profile>``, what ``chromtransfer book`` writes).
    out
        The archive to write (default ``<run_dir>/../run-<profile>.tar.gz``); replaced
        atomically. ``<out>.sha256`` is written beside it (``sha256sum -c`` reads it).
    profile
        The profile the run was made with (name or YAML path); its name and hash go into the
        manifest, and ``run_dir`` must hold its world.

    Raises
    ------
    RunArchiveError
        ``run_dir`` is missing, holds another profile's run, or ``out`` lies inside it.
    """
    from chromtransfer_lib.data.artifacts import git_sha

    run_dir = Path(run_dir).absolute()
    prof = _check_profile_run(run_dir, profile)
    out = Path(out) if out is not None else run_dir.parent / archive_name(prof.name)
    out = out.absolute()
    if out.is_relative_to(run_dir):
        raise RunArchiveError(f"the archive {out} must not be written inside the run {run_dir}")
    members = archive_members(run_dir)
    sizes = {rel: (run_dir / rel).stat().st_size for rel in members.files}
    manifest = {
        "format": ARCHIVE_FORMAT,
        "profile": prof.name,
        "profile_hash": prof.config_hash(),
        "library_version": __version__,
        "created_from": {"run_dir": run_dir.name, "git_sha": git_sha()},
        "files": len(members.files),
        "bytes": sum(sizes.values()),
        "left_out": list(members.left_out),
    }
    blob = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    with atomic_path(out) as tmp, open(tmp, "wb") as raw:
        with (
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz,
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            tar.addfile(_tar_info(MANIFEST_NAME, len(blob)), io.BytesIO(blob))
            for rel in members.files:
                with open(run_dir / rel, "rb") as fh:
                    tar.addfile(_tar_info(rel, sizes[rel]), fh)
    sha = sha256_file(out)
    check = write_text_atomic(checksum_path(out), f"{sha}  {out.name}\n")
    log.info("packed %d files of %s into %s (sha256 %s)", len(members.files), run_dir, out, sha)
    return PackedRun(out, sha, check, out.stat().st_size, manifest)


def _open(archive: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(archive, mode="r:gz")
    except (tarfile.TarError, OSError, EOFError) as err:
        raise RunArchiveError(f"{archive} is not a readable tar.gz run archive ({err})") from err


def _read_manifest(tar: tarfile.TarFile, archive: Path) -> dict[str, Any]:
    first = tar.next()
    if first is None or first.name != f"{TOP}/{MANIFEST_NAME}" or not first.isfile():
        raise RunArchiveError(
            f"{archive} is not a run archive: its first member is not {TOP}/{MANIFEST_NAME}"
        )
    try:
        manifest = json.loads(tar.extractfile(first).read())
    except (ValueError, tarfile.TarError) as err:
        raise RunArchiveError(f"{archive}: its {MANIFEST_NAME} is not valid JSON") from err
    fmt = manifest.get("format") if isinstance(manifest, dict) else None
    if fmt != ARCHIVE_FORMAT or not isinstance(manifest.get("profile"), str):
        raise RunArchiveError(
            f"{archive}: run archive format {fmt!r} is not {ARCHIVE_FORMAT}, or it names no "
            "profile; pack it again with this version of the book"
        )
    return manifest


def read_archive_manifest(archive: str | Path) -> dict[str, Any]:
    """The manifest of a run archive (its first member)."""
    archive = Path(archive)
    with _open(archive) as tar:
        return _read_manifest(tar, archive)


def _safe_members(tar: tarfile.TarFile, archive: Path) -> Iterator[tarfile.TarInfo]:
    """Every member, after refusing links, devices and paths that leave ``run/``."""
    for m in tar.getmembers():
        p = PurePosixPath(m.name)
        if not (m.isfile() or m.isdir()):
            raise UnsafeArchiveError(
                f"{archive}: member {m.name!r} is a link or special file; "
                "run archives hold files only — nothing was unpacked"
            )
        if p.is_absolute() or ".." in p.parts or p.parts[:1] != (TOP,) or "\\" in m.name:
            raise UnsafeArchiveError(
                f"{archive}: member {m.name!r} would land outside the run directory — "
                "nothing was unpacked"
            )
        yield m


def _is_empty(folder: Path) -> bool:
    return not folder.exists() or (folder.is_dir() and not any(folder.iterdir()))


def check_target(run_dir: Path, force: bool) -> None:
    """Refuse a ``run_dir`` that is a file, or (without ``force``) a non-empty folder."""
    if run_dir.exists() and not run_dir.is_dir():
        raise RunArchiveError(f"{run_dir} exists and is not a folder")
    if not force and not _is_empty(run_dir):
        n = sum(1 for _ in run_dir.iterdir())
        raise RunDirNotEmptyError(
            f"run directory {run_dir} is not empty ({n} entries); pass --force to replace it "
            "with the archive's run, or choose another --run-dir"
        )


@dataclass(frozen=True)
class UnpackedRun:
    """What :func:`unpack_run` put in place."""

    run_dir: Path
    manifest: dict[str, Any]
    profile_matches: bool
    """Whether this checkout's profile has the hash the run was made with; if not, chapters
    recompute (and retrain) whatever the changed sections key."""


def unpack_run(
    archive: str | Path,
    run_dir: str | Path,
    *,
    sha256: str,
    profile: str | Path | None = None,
    force: bool = False,
) -> UnpackedRun:
    """Verify ``archive`` against ``sha256``, then unpack it into ``run_dir``.

    Nothing is written before the checksum matched and every member was checked (files only,
    all under ``run/``; extraction uses :mod:`tarfile`'s ``data`` filter as well). The run is
    unpacked beside ``run_dir`` and renamed into place, so a failure leaves ``run_dir`` as it
    was; with ``force`` a non-empty ``run_dir`` is replaced whole.

    Parameters
    ----------
    sha256
        The archive's expected sha256 (its manifest entry's, or what ``pack-run`` printed).
    profile
        If given, the archive must hold a run of this profile (by name); a different profile
        hash is a warning (:attr:`UnpackedRun.profile_matches`).

    Raises
    ------
    ChecksumMismatchError
        The archive's sha256 differs (corrupt or tampered): nothing was unpacked.
    UnsafeArchiveError, RunDirNotEmptyError, RunArchiveError
        A member is unsafe; ``run_dir`` holds files and ``force`` is off; not a run archive
        (or one of another profile).
    """
    archive, run_dir = Path(archive), Path(run_dir).absolute()
    if not hasattr(tarfile, "data_filter"):  # pragma: no cover - Python >= 3.11.4 has it
        raise RunArchiveError("unpacking run archives safely needs Python >= 3.11.4")
    check_target(run_dir, force)
    got = sha256_file(archive)
    if got != sha256:
        raise mf.ChecksumMismatchError(
            f"{archive} has sha256 {got}, expected {sha256}: the archive is corrupt or not "
            "the one published; nothing was unpacked"
        )
    tmp = run_dir.parent / f".{run_dir.name}.unpack-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    with _open(archive) as tar:
        manifest = _read_manifest(tar, archive)
        if profile is not None and (want := load_profile(profile).name) != manifest["profile"]:
            raise RunArchiveError(
                f"{archive} holds a run of profile {manifest['profile']!r}, not {want!r}"
            )
        members = list(_safe_members(tar, archive))
        tmp.mkdir(parents=True)
        try:
            tar.extractall(tmp, members=members, filter="data")
        except (tarfile.TarError, OSError) as err:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(err, tarfile.FilterError):
                raise UnsafeArchiveError(f"{archive}: {err}; nothing was unpacked") from err
            raise RunArchiveError(f"{archive}: could not unpack ({err})") from err
    _swap_in(tmp / TOP, run_dir)
    shutil.rmtree(tmp, ignore_errors=True)
    matches = _profile_matches(manifest, profile)
    log.info("unpacked %d files into %s", manifest.get("files", 0), run_dir)
    return UnpackedRun(run_dir, manifest, matches)


def _swap_in(new: Path, run_dir: Path) -> None:
    """Rename ``new`` to ``run_dir``; an existing ``run_dir`` is moved aside, then removed."""
    old = None
    if run_dir.is_dir():
        if _is_empty(run_dir):
            run_dir.rmdir()
        else:
            old = run_dir.parent / f".{run_dir.name}.old-{os.getpid()}"
            shutil.rmtree(old, ignore_errors=True)
            run_dir.rename(old)
    new.rename(run_dir)
    if old is not None:
        shutil.rmtree(old)


def _profile_matches(manifest: dict[str, Any], profile: str | Path | None) -> bool:
    try:
        here = load_profile(profile if profile is not None else manifest["profile"]).config_hash()
    except InputError:
        here = None  # a profile from a YAML file this checkout does not have
    if here != manifest.get("profile_hash"):
        log.warning(
            "the run was made with profile %s at hash %s; this checkout's has %s: chapters "
            "recompute (and may retrain) what the changed settings key",
            manifest["profile"], manifest.get("profile_hash"), here,
        )  # fmt: skip
        return False
    return True

"""Dataset artifacts: keyed folders, their completeness, reuse, provenance and loading.

A dataset is a folder ``<out_root>/<kind>-<key>`` holding

* ``codes.npy`` — ``uint8`` codes ``(n, L)`` (:mod:`chromtransfer_lib.genome.sequence`
  contract), memory-mappable;
* ``regions.parquet`` — ``chrom, start, end`` of each stored sequence (row ``i`` of the codes is
  the genome's ``chrom[start:end]``), ``region_start, region_end`` (the region before recentring
  to ``seq_len``), ``name, label, y, split, fold``;
* ``provenance.json`` — builder arguments, input sha256s, counts per split/fold/class, dropped
  counts with reasons, warnings, package versions, git SHA, a timestamp, and ``files``: the byte
  size of every other file of the folder.

``key`` is :func:`chromtransfer_lib.fileio.cache_key` of the builder's kind, arguments and its
inputs' sha256 (not their paths, not the timestamp): the same inputs reuse the folder, a changed
input or argument builds a new one. :func:`build_artifact` writes the folder under a temporary
name, every file through :func:`chromtransfer_lib.fileio.atomic_path`, ``provenance.json`` last,
and renames the folder when complete. A folder counts as complete (:func:`is_complete`) only
when ``provenance.json`` parses and every file it lists is there with the recorded size, so a
file cut short by a kill, a full disk or an interrupted copy is rebuilt, never reused. Temporary
folders of killed builds are removed by the next build of the same artifact.

Splits: ``split`` is ``"test"`` (``fold == -1``) or ``"train"``; in cross-validation partition
``k`` the rows with ``fold == k`` are the validation set and the other training rows the
training set (:meth:`Dataset.partition`). ARCHITECTURE.md, "data".
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from chromtransfer_lib import fileio

log = logging.getLogger(__name__)

#: Bump when a builder's output changes for the same arguments, so old artifacts are rebuilt.
FORMAT_VERSION = 1
ARTIFACT_FILES = ("codes.npy", "regions.parquet", "provenance.json")
_DATA_FILES = ARTIFACT_FILES[:-1]
_VERSIONED = ("chromtransfer-book", "numpy", "pandas", "pyfaidx", "bioframe", "pyarrow")


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What a builder made (or found): the folder, its key and its counts."""

    path: Path
    kind: str
    key: str
    reused: bool
    counts: dict[str, Any]


class Partition(NamedTuple):
    """Row indices of one cross-validation partition."""

    train: np.ndarray  #: training rows (train split, fold != k)
    valid: np.ndarray  #: validation rows (fold == k)


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A loaded artifact: ``codes`` ``(n, L)`` uint8 (memmap), ``regions``, ``provenance``."""

    path: Path
    codes: np.ndarray
    regions: pd.DataFrame
    provenance: dict[str, Any]

    def __len__(self) -> int:
        return len(self.regions)

    @property
    def labels(self) -> np.ndarray:
        """``y`` of every row, shape ``(n,)`` (0/1, or class index for the multiclass set)."""
        return self.regions["y"].to_numpy()

    def subset(self, *, split: str | None = None, fold: int | None = None) -> np.ndarray:
        """Row indices (sorted) with the given ``split`` and/or ``fold``."""
        mask = np.ones(len(self), dtype=bool)
        if split is not None:
            mask &= (self.regions["split"] == split).to_numpy()
        if fold is not None:
            mask &= (self.regions["fold"] == fold).to_numpy()
        return np.flatnonzero(mask)

    def partition(self, k: int) -> Partition:
        """Training and validation rows of cross-validation partition ``k``."""
        train = (self.regions["split"] == "train").to_numpy()
        valid = train & (self.regions["fold"] == k).to_numpy()
        if not valid.any():
            raise ValueError(f"{self.path}: fold {k} has no rows")
        return Partition(np.flatnonzero(train & ~valid), np.flatnonzero(valid))


def is_complete(folder: str | Path) -> bool:
    """Whether ``folder`` is a finished artifact: its provenance lists every file, at its size."""
    folder = Path(folder)
    try:
        sizes = json.loads((folder / "provenance.json").read_text())["files"]
        return set(sizes) == set(_DATA_FILES) and all(
            (folder / f).stat().st_size == n for f, n in sizes.items()
        )
    except (OSError, ValueError, KeyError, TypeError):
        return False


def load_dataset(path: str | Path, *, mmap: bool = True) -> Dataset:
    """Open an artifact folder written by a builder (codes memory-mapped unless ``mmap=False``)."""
    path = Path(path)
    if not is_complete(path):
        missing = [f for f in ARTIFACT_FILES if not (path / f).is_file()]
        raise FileNotFoundError(
            f"{path} is not a complete dataset folder (missing {missing}, or a file differs "
            "from the size its provenance.json records); build it again"
        )
    codes = np.load(path / "codes.npy", mmap_mode="r" if mmap else None, allow_pickle=False)
    regions = pd.read_parquet(path / "regions.parquet")
    provenance = json.loads((path / "provenance.json").read_text())
    return Dataset(path, codes, regions, provenance)


def sha256_file(path: str | Path, *, cache: Path | None = None) -> str:
    """:func:`chromtransfer_lib.fileio.sha256_file`; with ``cache`` (a JSON file) the digest is
    reused while the file's size and mtime match."""
    path = Path(path).resolve()
    st = path.stat()
    stamp = f"{st.st_size}:{st.st_mtime_ns}"
    memo = json.loads(cache.read_text()) if cache and cache.is_file() else {}
    if memo.get(str(path), {}).get("stamp") == stamp:
        return memo[str(path)]["sha256"]
    digest = fileio.sha256_file(path)
    if cache is not None:
        memo[str(path)] = {"stamp": stamp, "sha256": digest}
        fileio.write_json_atomic(cache, memo, indent=1)
    return digest


def input_checksums(
    files: Mapping[str, str | Path | None], *, cache: Path | None = None
) -> dict[str, dict[str, str]]:
    """``{name: {path, sha256}}`` of the given files (``None`` entries are left out)."""
    return {
        k: {"path": str(p), "sha256": sha256_file(p, cache=cache)}
        for k, p in files.items()
        if p is not None
    }


def package_versions(extra: tuple[str, ...] = ()) -> dict[str, str | None]:
    """Versions of this package, the data stack and ``extra`` packages (None if absent)."""
    out = {}
    for pkg in (*_VERSIONED, *extra):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def git_sha() -> str | None:
    """The checkout's ``git rev-parse HEAD``, or None outside a git checkout."""
    try:
        res = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return res.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def count_table(regions: pd.DataFrame) -> dict[str, Any]:
    """Row counts: total, and by split, fold, label, split × y and fold × y."""

    def tab(*cols: str) -> dict[str, int]:
        g = regions.groupby(list(cols), observed=True).size()
        return {
            "/".join(map(str, k if isinstance(k, tuple) else (k,))): int(v) for k, v in g.items()
        }

    return {
        "total": len(regions),
        "by_split": tab("split"),
        "by_fold": tab("fold"),
        "by_class": tab("label"),
        "by_split_y": tab("split", "y"),
        "by_fold_y": tab("fold", "y"),
    }


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` is running (a zombie is not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def remove_stale_temps(target: Path) -> None:
    """Delete temporary copies of ``target`` (:func:`fileio.temp_path_for` names) left by
    processes that no longer run (a killed build)."""
    for old in target.parent.glob(f".{target.name}.tmp-*"):
        pid = old.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not process_alive(int(pid)):
            log.info("removing %s, left by killed process %s", old, pid)
            shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink(missing_ok=True)


class BuildLog(NamedTuple):
    """What a builder's ``make`` step reports besides its table: drops by reason, warnings."""

    dropped: dict[str, int]
    warnings: list[str]

    def warn(self, msg: str) -> None:
        """Record ``msg`` and log it as a warning."""
        self.warnings.append(msg)
        log.warning(msg)


#: ``make(tmp, build_log)``: write ``tmp/codes.npy`` and return the region table (one row each).
Make = Callable[[Path, BuildLog], pd.DataFrame]


def _write_folder(tmp: Path, make: Make, prov: dict[str, Any]) -> dict[str, Any]:
    """Run ``make`` in ``tmp``; write regions.parquet, then provenance.json (both atomically)."""
    tmp.mkdir(parents=True)
    blog = BuildLog({}, [])
    regions = make(tmp, blog)
    with fileio.atomic_path(tmp / "regions.parquet") as part:
        regions.to_parquet(part, index=False)
    prov |= {
        "counts": count_table(regions),
        "dropped": blog.dropped,
        "warnings": blog.warnings,
        "files": {f: (tmp / f).stat().st_size for f in _DATA_FILES},
        "versions": package_versions(),
        "git_sha": git_sha(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    fileio.write_text_atomic(tmp / "provenance.json", json.dumps(prov, indent=2))
    return prov


def build_artifact(
    out_root: str | Path,
    kind: str,
    args: dict[str, Any],
    inputs: Mapping[str, str | Path | None],
    make: Make,
) -> DatasetInfo:
    """Key the artifact, reuse a complete folder, else build it with ``make`` and rename it in.

    ``args`` holds the builder's non-path arguments (JSON-serialisable); files are keyed by
    content (``inputs``, name → path; ``None`` is left out). ``make(tmp, build_log)`` writes
    ``tmp/codes.npy`` (through :func:`chromtransfer_lib.fileio.atomic_path` or
    :func:`~chromtransfer_lib.data.steps.write_codes`) and returns the region table.
    """
    out_root = Path(out_root)
    out_root.mkdir(parents=True, exist_ok=True)
    checks = input_checksums(inputs, cache=out_root / ".sha256-cache.json")
    key = fileio.cache_key(
        {
            "kind": kind,
            "format": FORMAT_VERSION,
            "args": args,
            "inputs": {k: v["sha256"] for k, v in checks.items()},
        }
    )
    final = out_root / f"{kind}-{key}"
    remove_stale_temps(final)
    if is_complete(final):
        prov = json.loads((final / "provenance.json").read_text())
        log.info("reusing %s (same arguments and input checksums)", final)
        return DatasetInfo(final, kind, key, True, prov["counts"])
    tmp = fileio.temp_path_for(final)
    shutil.rmtree(tmp, ignore_errors=True)
    prov = {"kind": kind, "key": key, "format": FORMAT_VERSION, "inputs": checks}
    prov["args"] = json.loads(json.dumps(args, default=str))
    try:
        prov = _write_folder(tmp, make, prov)
        if is_complete(final):  # a concurrent build finished first
            shutil.rmtree(tmp)
            log.info("%s was completed by another process meanwhile; using it", final)
        else:
            shutil.rmtree(final, ignore_errors=True)  # an incomplete leftover
            tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("wrote %s: %s; dropped %s", final, prov["counts"]["by_split_y"], prov["dropped"])
    return DatasetInfo(final, kind, key, False, prov["counts"])

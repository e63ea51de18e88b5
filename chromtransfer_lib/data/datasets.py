"""Prepared datasets: genome FASTA + region files → artifact folders (design.md §3, §4.1–2).

One code path serves the simulated world, the paper's data and a user's own files: builders
take explicit paths. Each dataset is a folder ``<out_root>/<kind>-<key>`` holding

* ``codes.npy`` — ``uint8`` codes ``(n, L)`` (:mod:`.sequence` contract), memory-mappable;
* ``regions.parquet`` — ``chrom, start, end`` of each stored sequence (row ``i`` of the codes
  is the genome's ``chrom[start:end]``), ``region_start, region_end`` (the region before
  recentring to ``seq_len``), ``name, label, y, split, fold``;
* ``provenance.json`` — builder arguments, input sha256s, counts per split/fold/class, dropped
  counts with reasons, warnings, package versions, git SHA and a timestamp.

``key`` is a hash of the builder's arguments and its inputs' sha256 (not their paths, not the
timestamp): the same inputs reuse the folder, a changed input or argument builds a new one.
Folders are written to a temporary directory and renamed when complete.

Splits: ``split`` is ``"test"`` (``fold == -1``) or ``"train"``; in cross-validation
partition ``k`` the rows with ``fold == k`` are the validation set and the other training rows
the training set (see :meth:`Dataset.partition`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from numpy.lib.format import open_memmap

from chromtransfer_lib.config import CELL_LINES, UNIVERSAL_NEGATIVE
from chromtransfer_lib.errors import InputError
from chromtransfer_lib.genome.regions import (
    COLS,
    canonical_cell_line,
    gaps_from_fasta,
    in_bounds,
    mark_overlaps,
    read_bed,
    read_label_file,
    recentre,
    split_by_chromosome,
    tile_genome,
)
from chromtransfer_lib.genome.sequence import N_CODE, chrom_sizes, extract_sequences

log = logging.getLogger(__name__)

#: Bump when a builder's output changes for the same arguments, so old artifacts are rebuilt.
FORMAT_VERSION = 1
_FILES = ("codes.npy", "regions.parquet", "provenance.json")


class LeakageError(InputError, RuntimeError):
    """A test-chromosome region is in a training or validation set."""


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


def load_dataset(path: str | Path, *, mmap: bool = True) -> Dataset:
    """Open an artifact folder written by a builder (codes memory-mapped unless ``mmap=False``)."""
    path = Path(path)
    missing = [f for f in _FILES if not (path / f).is_file()]
    if missing:
        raise FileNotFoundError(f"{path} is not a complete dataset folder: missing {missing}")
    codes = np.load(path / "codes.npy", mmap_mode="r" if mmap else None, allow_pickle=False)
    regions = pd.read_parquet(path / "regions.parquet")
    provenance = json.loads((path / "provenance.json").read_text())
    return Dataset(path, codes, regions, provenance)


def check_leakage(regions: pd.DataFrame, *, test_chroms: Sequence[str]) -> None:
    """Raise :class:`LeakageError` if a training/validation row lies on a test chromosome."""
    bad = (regions["split"] != "test").to_numpy() & regions["chrom"].isin(list(test_chroms))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        r = regions.iloc[i]
        raise LeakageError(
            f"{int(bad.sum())} training/validation regions lie on test chromosomes "
            f"{list(test_chroms)}, e.g. {r['chrom']}:{r['start']}-{r['end']}"
        )


# ------------------------------------------------------------------ artifact machinery


def sha256_file(path: str | Path, *, cache: Path | None = None) -> str:
    """sha256 of a file; with ``cache`` (a JSON file) reuse it while size and mtime match."""
    path = Path(path).resolve()
    st = path.stat()
    stamp = f"{st.st_size}:{st.st_mtime_ns}"
    memo = json.loads(cache.read_text()) if cache and cache.is_file() else {}
    if memo.get(str(path), {}).get("stamp") == stamp:
        return memo[str(path)]["sha256"]
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 23):
            h.update(chunk)
    if cache is not None:
        memo[str(path)] = {"stamp": stamp, "sha256": h.hexdigest()}
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(memo, indent=1))
        tmp.replace(cache)
    return h.hexdigest()


def _versions() -> dict[str, str | None]:
    out = {}
    for pkg in ("chromtransfer-book", "numpy", "pandas", "pyfaidx", "bioframe", "pyarrow"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def _git_sha() -> str | None:
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


def _counts(regions: pd.DataFrame) -> dict[str, Any]:
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


def _build(
    out_root: str | Path,
    kind: str,
    args: dict[str, Any],
    inputs: Mapping[str, str | Path | None],
    make: Callable[[Path, dict[str, int], list[str]], pd.DataFrame],
) -> DatasetInfo:
    """Key the artifact, reuse a complete folder, else run ``make(tmpdir, dropped, warnings)``.

    ``args`` holds the builder's non-path arguments; files are keyed by content (``inputs``).
    """
    out_root = Path(out_root)
    out_root.mkdir(parents=True, exist_ok=True)
    cache = out_root / ".sha256-cache.json"
    checks = {
        k: {"path": str(p), "sha256": sha256_file(p, cache=cache)}
        for k, p in inputs.items()
        if p is not None
    }
    blob = {
        "kind": kind,
        "format": FORMAT_VERSION,
        "args": args,
        "inputs": {k: v["sha256"] for k, v in checks.items()},
    }
    key = hashlib.sha256(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()[:16]
    final = out_root / f"{kind}-{key}"
    if all((final / f).is_file() for f in _FILES):
        prov = json.loads((final / "provenance.json").read_text())
        log.info("reusing %s (same arguments and input checksums)", final)
        return DatasetInfo(final, kind, key, True, prov["counts"])
    tmp = out_root / f".tmp-{kind}-{key}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        dropped: dict[str, int] = {}
        warnings: list[str] = []
        regions = make(tmp, dropped, warnings)
        regions.to_parquet(tmp / "regions.parquet", index=False)
        prov = {
            "kind": kind,
            "key": key,
            "format": FORMAT_VERSION,
            "args": json.loads(json.dumps(args, default=str)),
            "inputs": checks,
            "counts": _counts(regions),
            "dropped": dropped,
            "warnings": warnings,
            "versions": _versions(),
            "git_sha": _git_sha(),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        (tmp / "provenance.json").write_text(json.dumps(prov, indent=2))
        if all((final / f).is_file() for f in _FILES):  # a concurrent build finished first
            shutil.rmtree(tmp)
            log.info("%s was completed by another process meanwhile; using it", final)
        else:
            shutil.rmtree(final, ignore_errors=True)  # an incomplete leftover
            tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("wrote %s: %s; dropped %s", final, prov["counts"]["by_split_y"], dropped)
    return DatasetInfo(final, kind, key, False, prov["counts"])


def _pad(regions: pd.DataFrame, pad: int) -> pd.DataFrame:
    return regions.assign(start=regions["start"] - pad, end=regions["end"] + pad)


def _drop(df: pd.DataFrame, mask: np.ndarray, reason: str, dropped: dict[str, int]) -> pd.DataFrame:
    n = int(mask.sum())
    if n:
        dropped[reason] = dropped.get(reason, 0) + n
        log.warning("dropped %d regions: %s", n, reason)
    return df[~mask].reset_index(drop=True)


def _write_codes(
    tmp: Path,
    genome: str | Path,
    regions: pd.DataFrame,
    *,
    seq_len: int,
    max_n_fraction: float,
    dropped: dict[str, int],
    progress: bool,
) -> pd.DataFrame:
    """Recentre to ``seq_len``, extract into ``tmp/codes.npy``, drop mostly-N rows."""
    sizes = chrom_sizes(genome)
    order = {c: i for i, c in enumerate(sizes)}
    regions = regions.assign(region_start=regions["start"], region_end=regions["end"])
    regions = regions.sort_values(
        ["chrom", "start"], key=lambda s: s.map(order) if s.name == "chrom" else s, kind="stable"
    )
    seq = recentre(regions, width=seq_len).reset_index(drop=True)
    seq = _drop(seq, ~in_bounds(seq, sizes), "sequence window past a chromosome end", dropped)
    codes = open_memmap(tmp / "all.npy", mode="w+", dtype=np.uint8, shape=(len(seq), seq_len))
    extract_sequences(genome, seq, length=seq_len, out=codes, progress=progress)
    n_frac = (
        np.concatenate(
            [(codes[i : i + 65536] == N_CODE).mean(1) for i in range(0, len(seq), 65536)]
        )
        if len(seq)
        else np.zeros(0)
    )
    bad = n_frac > max_n_fraction
    if bad.any():
        keep = np.flatnonzero(~bad)
        out = open_memmap(tmp / "codes.npy", mode="w+", dtype=np.uint8, shape=(keep.size, seq_len))
        for i in range(0, keep.size, 65536):
            out[i : i + 65536] = codes[keep[i : i + 65536]]
        out.flush()
        del out, codes
        (tmp / "all.npy").unlink()
        seq = _drop(seq, bad, f"more than {max_n_fraction:.0%} N", dropped)
    else:
        codes.flush()
        del codes
        (tmp / "all.npy").rename(tmp / "codes.npy")
    return seq


# ------------------------------------------------------------------ the three builders


def build_pretraining_dataset(
    out_root: str | Path,
    *,
    genome: str | Path,
    rdhs_bed: str | Path,
    accessible_bed: str | Path | None = None,
    gaps_bed: str | Path | None = None,
    blacklist_bed: str | Path | None = None,
    seq_len: int = 600,
    region_width: int = 600,
    negatives_per_positive: float = 1.0,
    test_chroms: Sequence[str] = ("chr2", "chr3"),
    n_folds: int = 3,
    flank: int = 300,
    max_n_fraction: float = 0.1,
    accessible_tolerance: int = 2,
    fold_group: str = "auto",
    random_state: int = 0,
    progress: bool = True,
) -> DatasetInfo:
    """The pre-training set (design.md §4.1): rDHSs vs genome background.

    Positives: every rDHS recentred to ``region_width`` bp, minus those accessible in any of
    the six lines (an rDHS is removed when a region of ``accessible_bed`` has its midpoint
    within ``accessible_tolerance`` bp of the rDHS midpoint). Negatives: ``region_width`` bp
    genome tiles (chromosomes holding rDHSs) not overlapping gaps (``gaps_bed``, or N runs of
    the FASTA if None), the blacklist, or lying < ``flank`` bp from any rDHS; a seeded sample of
    ``round(negatives_per_positive × positives)``. Sequences are the central ``seq_len`` bp;
    those with more than ``max_n_fraction`` N are dropped. Labels: ``y`` 1/0, ``label``
    ``rDHS``/``background``; split and folds by :func:`.regions.split_by_chromosome`.
    """
    paths = ("genome", "rdhs_bed", "accessible_bed", "gaps_bed", "blacklist_bed")
    args = {k: v for k, v in locals().items() if k not in ("out_root", "progress", "paths", *paths)}
    inputs = {
        "genome": genome,
        "rdhs_bed": rdhs_bed,
        "accessible_bed": accessible_bed,
        "gaps_bed": gaps_bed,
        "blacklist_bed": blacklist_bed,
    }

    def make(tmp: Path, dropped: dict[str, int], warnings: list[str]) -> pd.DataFrame:
        sizes = chrom_sizes(genome)
        rdhs = read_bed(rdhs_bed, chrom_sizes=sizes)
        pos = recentre(rdhs, width=region_width)
        pos = pos.assign(name=rdhs["name"] if "name" in rdhs else "", label="rDHS", y=1)
        if accessible_bed is not None:
            acc = read_bed(accessible_bed, chrom_sizes=sizes, on_duplicate="drop")
            pos_mid, acc_mid = recentre(pos, width=1), recentre(acc, width=1)
            near = mark_overlaps(pos_mid, _pad(acc_mid, accessible_tolerance))
            used = mark_overlaps(acc_mid, _pad(pos_mid, accessible_tolerance))
            if (~used).any():
                msg = f"{int((~used).sum())} of {len(acc)} accessible regions match no rDHS"
                warnings.append(msg)
                log.warning(msg)
            pos = _drop(pos, near, "rDHS accessible in one of the six cell lines", dropped)
        gaps = (
            read_bed(gaps_bed, chrom_sizes=sizes, on_duplicate="drop")
            if gaps_bed
            else (gaps_from_fasta(genome, progress=progress))
        )
        exclude = {"assembly gap": gaps}
        if blacklist_bed is not None:
            exclude["blacklist"] = read_bed(blacklist_bed, chrom_sizes=sizes, on_duplicate="drop")
        chroms = [c for c in sizes if c in set(rdhs["chrom"])]
        tiles = tile_genome(
            sizes, width=region_width, exclude=exclude, positives=rdhs, flank=flank, chroms=chroms
        )
        for reason, n in tiles.dropped.items():
            dropped[f"tile overlapping {reason}"] = n
        n_neg = round(negatives_per_positive * len(pos))
        if n_neg > len(tiles.windows):
            msg = f"asked for {n_neg} negatives, only {len(tiles.windows)} tiles qualify"
            warnings.append(msg)
            log.warning(msg)
            n_neg = len(tiles.windows)
        rng = np.random.default_rng(random_state)
        pick = np.sort(rng.choice(len(tiles.windows), size=n_neg, replace=False))
        neg = tiles.windows.iloc[pick].assign(name="", label="background", y=0)
        regions = pd.concat([pos[[*COLS, "name", "label", "y"]], neg], ignore_index=True)
        regions = _write_codes(
            tmp,
            genome,
            regions,
            seq_len=seq_len,
            max_n_fraction=max_n_fraction,
            dropped=dropped,
            progress=progress,
        )
        regions = regions.assign(
            split=np.where(regions["chrom"].isin(test_chroms), "test", "train")
        )
        if len(test_chroms) and (regions["split"] == "train").all():
            split_by_chromosome(regions, test_chroms=test_chroms)  # raises, with a naming hint
        return _folds_and_checks(
            regions,
            test_chroms=test_chroms,
            n_folds=n_folds,
            random_state=random_state,
            fold_group=fold_group,
            pretraining=None,
            warnings=warnings,
        )

    return _build(out_root, "pretrain", args, inputs, make)


def _read_split_files(
    files: Mapping[str, Mapping[str, str | Path]],
    sizes: Mapping[str, int],
    test_chroms: Sequence[str],
    dropped: dict[str, int],
    warnings: list[str],
) -> pd.DataFrame:
    """Read ``{split: {cell_line: path}}`` label files into one table with ``split, line``."""
    parts = []
    for split, by_line in files.items():
        for line, path in by_line.items():
            df = read_label_file(path, cell_line=line, chrom_sizes=sizes)
            parts.append(df.assign(split=split, line=canonical_cell_line(line)))
    df = pd.concat(parts, ignore_index=True)
    on_test = df["chrom"].isin(list(test_chroms)).to_numpy()
    df = _drop(
        df,
        (df["split"] == "train").to_numpy() & on_test,
        "training-file region on a test chromosome",
        dropped,
    )
    off = int(((df["split"] == "test") & ~df["chrom"].isin(list(test_chroms))).sum())
    if off:
        msg = f"{off} test-file regions are not on test chromosomes {list(test_chroms)}; kept"
        warnings.append(msg)
        log.warning(msg)
    in_test = mark_overlaps(df, df[df["split"] == "test"], exact=True)
    return _drop(
        df,
        (df["split"] == "train").to_numpy() & in_test,
        "training-file region also in a test file",
        dropped,
    )


def _folds_and_checks(
    regions: pd.DataFrame,
    *,
    test_chroms: Sequence[str],
    n_folds: int,
    random_state: int,
    fold_group: str,
    pretraining: str | Path | None,
    warnings: list[str],
) -> pd.DataFrame:
    """Folds for the training rows, the leakage check, and the pre-training overlap warning."""
    train = regions[regions["split"] == "train"]
    if fold_group == "auto" and train["chrom"].nunique() < n_folds:
        warnings.append(
            f"only {train['chrom'].nunique()} training chromosomes for {n_folds} folds: "
            "cross-validation folds were drawn by region, not by chromosome"
        )
    train = split_by_chromosome(
        train, test_chroms=(), n_folds=n_folds, random_state=random_state, group=fold_group
    )
    test = regions[regions["split"] == "test"].assign(fold=-1)
    out = pd.concat([train, test]).sort_index().reset_index(drop=True)
    check_leakage(out, test_chroms=test_chroms)
    if pretraining is not None:
        pre = pd.read_parquet(Path(pretraining) / "regions.parquet")
        pre = pre[pre["split"] == "train"]
        pre = pre.assign(start=pre["region_start"], end=pre["region_end"])
        t = out[out["split"] == "test"]
        hit = mark_overlaps(t.assign(start=t["region_start"], end=t["region_end"]), pre)
        if hit.any():
            msg = (
                f"{int(hit.sum())} of {len(t)} fine-tuning test regions overlap pre-training "
                f"training regions of {pretraining}"
            )
            warnings.append(msg)
            log.warning(msg)
    return out


def build_finetuning_dataset(
    out_root: str | Path,
    *,
    genome: str | Path,
    train_labels: str | Path,
    test_labels: str | Path,
    cell_line: str,
    seq_len: int = 600,
    test_chroms: Sequence[str] = ("chr2", "chr3"),
    n_folds: int = 3,
    max_n_fraction: float = 0.1,
    fold_group: str = "auto",
    random_state: int = 0,
    pretraining: str | Path | None = None,
    progress: bool = True,
) -> DatasetInfo:
    """One cell line's fine-tuning set (design.md §4.2) from its train and test label files.

    ``y`` is 1 for the line's own label, 0 for ``<LINE>_NEG`` and ``Negative``; ``label`` keeps
    the file's label. The test split is the test file; training-file rows on test chromosomes,
    or also present in the test file, are dropped (counted). Training rows get whole-chromosome
    folds. ``pretraining`` (a pre-training dataset folder) adds a warning with counts when test
    regions overlap its training regions.
    """
    paths = ("genome", "train_labels", "test_labels", "pretraining")
    args = {k: v for k, v in locals().items() if k not in ("out_root", "progress", "paths", *paths)}
    args["cell_line"] = line = canonical_cell_line(cell_line)
    pre_prov = Path(pretraining) / "provenance.json" if pretraining else None
    inputs = {
        "genome": genome,
        "train_labels": train_labels,
        "test_labels": test_labels,
        "pretraining": pre_prov,
    }

    def make(tmp: Path, dropped: dict[str, int], warnings: list[str]) -> pd.DataFrame:
        sizes = chrom_sizes(genome)
        files = {"train": {line: train_labels}, "test": {line: test_labels}}
        df = _read_split_files(files, sizes, test_chroms, dropped, warnings)
        df["name"] = df["chrom"] + ":" + df["start"].astype(str) + "-" + df["end"].astype(str)
        df = _write_codes(
            tmp,
            genome,
            df[[*COLS, "name", "label", "y", "split"]],
            seq_len=seq_len,
            max_n_fraction=max_n_fraction,
            dropped=dropped,
            progress=progress,
        )
        return _folds_and_checks(
            df,
            test_chroms=test_chroms,
            n_folds=n_folds,
            random_state=random_state,
            fold_group=fold_group,
            pretraining=pretraining,
            warnings=warnings,
        )

    return _build(out_root, f"finetune-{line}", args, inputs, make)


def build_multiclass_dataset(
    out_root: str | Path,
    *,
    genome: str | Path,
    train_labels: Mapping[str, str | Path],
    test_labels: Mapping[str, str | Path],
    seq_len: int = 600,
    test_chroms: Sequence[str] = ("chr2", "chr3"),
    n_folds: int = 3,
    max_n_fraction: float = 0.1,
    fold_group: str = "auto",
    random_state: int = 0,
    progress: bool = True,
) -> DatasetInfo:
    """The 7-class set: the six lines' fine-tuning files concatenated and deduplicated.

    ``train_labels``/``test_labels`` map cell line → label file. A row's class is the line
    whose own label it carries; ``Negative`` rows form the last class (``y`` = index in
    ``(*lines in CELL_LINES order, "Negative")``). A region listed in several files becomes one
    row with the union of its classes; regions with two different classes, and ``_NEG`` rows
    whose own line's file does not list them as positive, are dropped (counted).
    """
    paths = ("genome", "train_labels", "test_labels")
    args = {k: v for k, v in locals().items() if k not in ("out_root", "progress", "paths", *paths)}
    lines = [c for c in CELL_LINES if c in {canonical_cell_line(x) for x in train_labels}]
    classes = [*lines, UNIVERSAL_NEGATIVE]
    inputs = {
        f"{s}/{canonical_cell_line(k)}": v
        for s, m in (("train", train_labels), ("test", test_labels))
        for k, v in m.items()
    }

    def make(tmp: Path, dropped: dict[str, int], warnings: list[str]) -> pd.DataFrame:
        sizes = chrom_sizes(genome)
        files = {"train": dict(train_labels), "test": dict(test_labels)}
        df = _read_split_files(files, sizes, test_chroms, dropped, warnings)
        cls = np.where(
            df["y"] == 1,
            df["line"],
            np.where(df["label"] == UNIVERSAL_NEGATIVE, UNIVERSAL_NEGATIVE, ""),
        )
        df = df.assign(cls=cls)
        g = df[df["cls"] != ""].groupby([*COLS, "split"], sort=False)["cls"]
        uniq = g.agg(lambda s: ",".join(sorted(set(s)))).rename("label").reset_index()
        neg_only = ~mark_overlaps(df, uniq, exact=True)
        if neg_only.any():
            n = int(df[neg_only][COLS].drop_duplicates().shape[0])
            dropped["_NEG region not a positive in any given file"] = n
            log.warning("dropped %d _NEG-only regions (their own line is unknown)", n)
        uniq = _drop(
            uniq,
            uniq["label"].str.contains(",").to_numpy(),
            "region with two classes in different files",
            dropped,
        )
        uniq["y"] = uniq["label"].map({c: i for i, c in enumerate(classes)}).astype(np.int8)
        uniq["name"] = (
            uniq["chrom"] + ":" + uniq["start"].astype(str) + "-" + uniq["end"].astype(str)
        )
        empty = [c for c in classes if not (uniq["label"] == c).any()]
        if empty:
            raise ValueError(f"multiclass set: no regions for class(es) {empty}")
        df = _write_codes(
            tmp,
            genome,
            uniq[[*COLS, "name", "label", "y", "split"]],
            seq_len=seq_len,
            max_n_fraction=max_n_fraction,
            dropped=dropped,
            progress=progress,
        )
        return _folds_and_checks(
            df,
            test_chroms=test_chroms,
            n_folds=n_folds,
            random_state=random_state,
            fold_group=fold_group,
            pretraining=None,
            warnings=warnings,
        )

    return _build(out_root, "multiclass", {**args, "classes": classes}, inputs, make)

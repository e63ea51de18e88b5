"""The steps every dataset builder shares, and the option groups they take.

* :class:`DatasetSpec` — sequence length, test chromosomes, folds, N filter, seed: the options of
  every builder; :class:`NegativeSampling` — how many genome negatives, how far from positives.
* :func:`write_codes` — recentre, extract into ``codes.npy`` (written atomically), drop windows
  off a chromosome or mostly ``N``;
* :func:`sample_genome_negatives` — seeded sample of genome tiles clear of gaps, blacklist and
  positives;
* :func:`read_split_files` — ``{split: {cell line: label file}}`` into one table, test-chromosome
  and test-file rows removed from training;
* :func:`assign_folds` — cross-validation folds, the leakage check and the pre-training overlap
  warning;
* :func:`drop_rows` — drop rows, counting them by reason.

Builders: :mod:`.pretraining`, :mod:`.finetuning`, :mod:`.own`; the artifact folder they fill:
:mod:`.artifacts`. ARCHITECTURE.md, "data".
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.lib.format import open_memmap

from chromtransfer_lib import fileio
from chromtransfer_lib.data.artifacts import BuildLog
from chromtransfer_lib.errors import InputError
from chromtransfer_lib.genome.labels import canonical_cell_line, read_label_file
from chromtransfer_lib.genome.regions import (
    gaps_from_fasta,
    in_bounds,
    mark_overlaps,
    read_bed,
    recentre,
)
from chromtransfer_lib.genome.sequence import N_CODE, chrom_sizes, extract_sequences
from chromtransfer_lib.genome.splits import split_by_chromosome, tile_genome

log = logging.getLogger(__name__)

_BLOCK = 65536


class LeakageError(InputError, RuntimeError):
    """A test-chromosome region is in a training or validation set."""


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """Options every builder takes.

    ``seq_len`` bp sequences (the regions' central window); ``test_chroms`` form the test split;
    the other rows get ``n_folds`` cross-validation folds (``fold_group``: ``auto``,
    ``chromosome`` or ``region``, see :func:`.splits.split_by_chromosome`); sequences with more
    than ``max_n_fraction`` N are dropped; ``random_state`` seeds folds and negative samples.
    """

    seq_len: int = 600
    test_chroms: tuple[str, ...] = ("chr2", "chr3")
    n_folds: int = 3
    max_n_fraction: float = 0.1
    fold_group: str = "auto"
    random_state: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "test_chroms", tuple(self.test_chroms))

    @classmethod
    def from_profile(cls, data: Any, *, random_state: int) -> DatasetSpec:
        """From a profile's ``data`` section (:class:`chromtransfer_lib.config.DataConfig`)."""
        return cls(
            seq_len=data.seq_len,
            test_chroms=tuple(data.test_chroms),
            n_folds=data.n_folds,
            max_n_fraction=data.max_n_fraction,
            random_state=random_state,
        )


@dataclasses.dataclass(frozen=True)
class NegativeSampling:
    """Genome negatives: ``round(negatives_per_positive × positives)`` tiles, each at least
    ``flank`` bp from every positive."""

    negatives_per_positive: float = 1.0
    flank: int = 300


#: The defaults of :class:`DatasetSpec` and :class:`NegativeSampling`.
DEFAULT_SPEC = DatasetSpec()
DEFAULT_NEGATIVES = NegativeSampling()


def locus_names(regions: pd.DataFrame) -> pd.Series:
    """``chrom:start-end`` of every row."""
    return regions["chrom"] + ":" + regions["start"].astype(str) + "-" + regions["end"].astype(str)


def drop_rows(df: pd.DataFrame, mask: np.ndarray, reason: str, blog: BuildLog) -> pd.DataFrame:
    """``df`` without the ``mask`` rows (fresh index); their count is added to ``blog.dropped``."""
    n = int(mask.sum())
    if n:
        blog.dropped[reason] = blog.dropped.get(reason, 0) + n
        log.warning("dropped %d regions: %s", n, reason)
    return df[~mask].reset_index(drop=True)


def _n_fraction(codes: np.ndarray) -> np.ndarray:
    if not len(codes):
        return np.zeros(0)
    return np.concatenate(
        [(codes[i : i + _BLOCK] == N_CODE).mean(1) for i in range(0, len(codes), _BLOCK)]
    )


def write_codes(
    tmp: Path,
    genome: str | Path,
    regions: pd.DataFrame,
    *,
    seq_len: int,
    max_n_fraction: float,
    blog: BuildLog,
    progress: bool,
) -> pd.DataFrame:
    """Recentre to ``seq_len``, extract into ``tmp/codes.npy`` (atomically), drop mostly-N rows.

    Rows are sorted by the genome's chromosome order and start; windows past a chromosome end
    and those with more than ``max_n_fraction`` N are dropped (counted in ``blog``). Returns
    the table of the stored rows, with ``region_start, region_end`` (the rows before recentring).
    """
    sizes = chrom_sizes(genome)
    order = {c: i for i, c in enumerate(sizes)}
    regions = regions.assign(region_start=regions["start"], region_end=regions["end"])
    regions = regions.sort_values(
        ["chrom", "start"], key=lambda s: s.map(order) if s.name == "chrom" else s, kind="stable"
    )
    seq = recentre(regions, width=seq_len).reset_index(drop=True)
    seq = drop_rows(seq, ~in_bounds(seq, sizes), "sequence window past a chromosome end", blog)
    with fileio.atomic_path(tmp / "all.npy") as part:
        codes = open_memmap(part, mode="w+", dtype=np.uint8, shape=(len(seq), seq_len))
        extract_sequences(genome, seq, length=seq_len, out=codes, progress=progress)
        codes.flush()
        del codes
    codes = np.load(tmp / "all.npy", mmap_mode="r")
    bad = _n_fraction(codes) > max_n_fraction
    if not bad.any():
        del codes
        (tmp / "all.npy").rename(tmp / "codes.npy")
        return seq
    keep = np.flatnonzero(~bad)
    with fileio.atomic_path(tmp / "codes.npy") as part:
        out = open_memmap(part, mode="w+", dtype=np.uint8, shape=(keep.size, seq_len))
        for i in range(0, keep.size, _BLOCK):
            out[i : i + _BLOCK] = codes[keep[i : i + _BLOCK]]
        out.flush()
        del out
    del codes
    (tmp / "all.npy").unlink()
    return drop_rows(seq, bad, f"more than {max_n_fraction:.0%} N", blog)


def sample_genome_negatives(
    genome: str | Path,
    positives: pd.DataFrame,
    *,
    width: int,
    sampling: NegativeSampling,
    n_positives: int,
    gaps_bed: str | Path | None,
    blacklist_bed: str | Path | None,
    random_state: int,
    blog: BuildLog,
    reason_prefix: str = "tile overlapping",
    progress: bool = True,
) -> pd.DataFrame:
    """A seeded sample of ``width`` bp genome tiles: ``chrom, start, end`` (sorted).

    Tiles cover the chromosomes holding ``positives`` and overlap no assembly gap (``gaps_bed``,
    else the FASTA's N runs), no ``blacklist_bed`` interval and no positive widened by
    ``sampling.flank``. ``round(negatives_per_positive × n_positives)`` are drawn (all of them,
    with a warning, if fewer qualify); drops are counted as ``"<reason_prefix> <reason>"``.
    """
    sizes = chrom_sizes(genome)
    gaps = (
        read_bed(gaps_bed, chrom_sizes=sizes, on_duplicate="drop")
        if gaps_bed
        else gaps_from_fasta(genome, progress=progress)
    )
    exclude = {"assembly gap": gaps}
    if blacklist_bed is not None:
        exclude["blacklist"] = read_bed(blacklist_bed, chrom_sizes=sizes, on_duplicate="drop")
    chroms = [c for c in sizes if c in set(positives["chrom"])]
    tiles = tile_genome(
        sizes, width=width, exclude=exclude, positives=positives, flank=sampling.flank,
        chroms=chroms,
    )  # fmt: skip
    for reason, n in tiles.dropped.items():
        blog.dropped[f"{reason_prefix} {reason}"] = n
    n_neg = round(sampling.negatives_per_positive * n_positives)
    if n_neg > len(tiles.windows):
        blog.warn(f"asked for {n_neg} negatives, only {len(tiles.windows)} tiles qualify")
        n_neg = len(tiles.windows)
    rng = np.random.default_rng(random_state)
    pick = np.sort(rng.choice(len(tiles.windows), size=n_neg, replace=False))
    return tiles.windows.iloc[pick]


def read_split_files(
    files: Mapping[str, Mapping[str, str | Path]],
    sizes: Mapping[str, int],
    test_chroms: Sequence[str],
    blog: BuildLog,
) -> pd.DataFrame:
    """Read ``{split: {cell_line: path}}`` label files into one table with ``split, line``.

    Training-file rows on a test chromosome, or also in a test file, are dropped (counted);
    test-file rows off the test chromosomes are kept, with a warning.
    """
    parts = []
    for split, by_line in files.items():
        for line, path in by_line.items():
            df = read_label_file(path, cell_line=line, chrom_sizes=sizes)
            parts.append(df.assign(split=split, line=canonical_cell_line(line)))
    df = pd.concat(parts, ignore_index=True)
    on_test = df["chrom"].isin(list(test_chroms)).to_numpy()
    train = (df["split"] == "train").to_numpy()
    df = drop_rows(df, train & on_test, "training-file region on a test chromosome", blog)
    off = int(((df["split"] == "test") & ~df["chrom"].isin(list(test_chroms))).sum())
    if off:
        blog.warn(f"{off} test-file regions are not on test chromosomes {list(test_chroms)}; kept")
    in_test = mark_overlaps(df, df[df["split"] == "test"], exact=True)
    train = (df["split"] == "train").to_numpy()
    return drop_rows(df, train & in_test, "training-file region also in a test file", blog)


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


def _warn_pretraining_overlap(out: pd.DataFrame, pretraining: Path, blog: BuildLog) -> None:
    pre = pd.read_parquet(pretraining / "regions.parquet")
    pre = pre[pre["split"] == "train"]
    pre = pre.assign(start=pre["region_start"], end=pre["region_end"])
    t = out[out["split"] == "test"]
    hit = mark_overlaps(t.assign(start=t["region_start"], end=t["region_end"]), pre)
    if hit.any():
        blog.warn(
            f"{int(hit.sum())} of {len(t)} fine-tuning test regions overlap pre-training "
            f"training regions of {pretraining}"
        )


def assign_folds(
    regions: pd.DataFrame,
    *,
    spec: DatasetSpec,
    blog: BuildLog,
    pretraining: str | Path | None = None,
) -> pd.DataFrame:
    """Folds for the training rows (``fold = -1`` for test), then :func:`check_leakage`.

    ``regions`` has a ``split`` column. With ``pretraining`` (a pre-training dataset folder), a
    warning counts the test regions that overlap its training regions.
    """
    train = regions[regions["split"] == "train"]
    if spec.fold_group == "auto" and train["chrom"].nunique() < spec.n_folds:
        blog.warnings.append(
            f"only {train['chrom'].nunique()} training chromosomes for {spec.n_folds} folds: "
            "cross-validation folds were drawn by region, not by chromosome"
        )
    train = split_by_chromosome(
        train, test_chroms=(), n_folds=spec.n_folds, random_state=spec.random_state,
        group=spec.fold_group,
    )  # fmt: skip
    test = regions[regions["split"] == "test"].assign(fold=-1)
    out = pd.concat([train, test]).sort_index().reset_index(drop=True)
    check_leakage(out, test_chroms=spec.test_chroms)
    if pretraining is not None:
        _warn_pretraining_overlap(out, Path(pretraining), blog)
    return out

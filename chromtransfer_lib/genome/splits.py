"""Splits of a region table: genome tiles for negatives, test chromosomes and CV folds.

* :func:`tile_genome` — non-overlapping genome windows clear of exclusions and positives;
* :func:`split_by_chromosome` — ``split`` (test on the test chromosomes) and ``fold``
  (cross-validation folds by whole chromosome, balanced per class, or by region).

Region tables follow :mod:`chromtransfer_lib.genome.regions`' contract. ARCHITECTURE.md,
"genome".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import bioframe
import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold

from chromtransfer_lib.genome.regions import COLS, RegionError, mark_overlaps
from chromtransfer_lib.genome.sequence import chrom_hint

log = logging.getLogger(__name__)


class Tiling(NamedTuple):
    """Result of :func:`tile_genome`."""

    windows: pd.DataFrame  #: kept windows, ``chrom, start, end``
    n_total: int  #: full-width windows before exclusion
    dropped: dict[str, int]  #: windows overlapping each exclusion (a window may hit several)


def tile_genome(
    chrom_sizes: Mapping[str, int],
    *,
    width: int = 600,
    exclude: Mapping[str, pd.DataFrame] | None = None,
    positives: pd.DataFrame | None = None,
    flank: int = 300,
    chroms: Sequence[str] | None = None,
) -> Tiling:
    """Non-overlapping ``width`` bp windows from position 0, minus excluded ones.

    A window is dropped if it overlaps any interval of ``exclude`` (e.g. ``{"gap": gaps,
    "blacklist": blacklist}``) or lies less than ``flank`` bp from a positive (it overlaps the
    positive widened by ``flank`` on both sides). The last, shorter window of each chromosome
    is dropped (bedtools makewindows would keep it).

    Parameters
    ----------
    chrom_sizes
        Chromosome lengths in bp.
    chroms
        Chromosomes to tile (default: all of ``chrom_sizes``).
    """
    sizes = pd.Series({c: chrom_sizes[c] for c in (chroms or chrom_sizes)}, dtype=np.int64)
    win = bioframe.binnify(sizes, width)
    win = win[(win["end"] - win["start"]) == width].reset_index(drop=True)
    sets = dict(exclude or {})
    if positives is not None:
        sets[f"positive ± {flank} bp"] = bioframe.expand(positives[COLS], pad=flank)
    drop = np.zeros(len(win), dtype=bool)
    dropped = {}
    for reason, df in sets.items():
        hit = mark_overlaps(win, df)
        dropped[reason] = int(hit.sum())
        drop |= hit
    log.info("tiling: %d windows of %d bp, dropped %s", len(win), width, dropped)
    return Tiling(win[~drop].reset_index(drop=True), len(win), dropped)


def _assign_folds(counts: np.ndarray, n_folds: int, rng: np.random.Generator) -> np.ndarray:
    """Whole groups → folds so that every class is split as evenly as possible.

    ``counts`` is ``(n_groups, n_classes)``. Cost: sum over folds and classes of the squared
    relative deviation from ``total / n_folds``. 32 seeded random greedy starts, each refined by
    single moves and swaps; the cheapest wins.
    """
    target = np.maximum(counts.sum(0) / n_folds, 1e-9)

    def cost(a: np.ndarray) -> float:
        per = np.stack([counts[a == f].sum(0) for f in range(n_folds)])
        return float((((per - target) / target) ** 2).sum())

    best, best_cost = None, np.inf
    for _ in range(32):
        a = np.full(len(counts), -1)
        for g in rng.permutation(len(counts)):
            empty = [f for f in range(n_folds) if not (a == f).any()]
            options = empty if len(empty) >= (a == -1).sum() else range(n_folds)
            a[g] = min(options, key=lambda f, g=g: cost(np.where(np.arange(len(a)) == g, f, a)))
        improved = True
        while improved:
            improved, c0 = False, cost(a)
            for g in range(len(a)):
                for f in range(n_folds):
                    b = a.copy()
                    b[g] = f
                    if (b == a[g]).any() and cost(b) < c0 - 1e-12:
                        a, c0, improved = b, cost(b), True
                for h in range(g + 1, len(a)):
                    b = a.copy()
                    b[g], b[h] = a[h], a[g]
                    if cost(b) < c0 - 1e-12:
                        a, c0, improved = b, cost(b), True
        if c0 < best_cost:
            best, best_cost = a, c0
    return best


def split_by_chromosome(
    regions: pd.DataFrame,
    *,
    test_chroms: Sequence[str] = ("chr2", "chr3"),
    n_folds: int = 3,
    random_state: int = 0,
    stratify: str | None = "y",
    group: str = "auto",
) -> pd.DataFrame:
    """Add ``split`` (``"test"``/``"train"``) and ``fold`` (``-1`` for test) columns.

    Regions on ``test_chroms`` form the test set; the rest is cut into ``n_folds``
    cross-validation folds (fold ``k`` is the validation set of partition ``k``, the other
    folds its training set). With ``group="chromosome"`` whole chromosomes are
    assigned to folds, so no chromosome is in both a training and a validation set, balancing
    the count of every ``stratify`` class across folds (seeded search, see
    :func:`_assign_folds`). With ``group="region"`` regions are assigned individually
    (scikit-learn ``StratifiedKFold``), for genomes with fewer chromosomes than folds.
    ``group="auto"`` (default) means by chromosome when there are at least ``n_folds``
    training chromosomes, else by region (with a logged warning).
    """
    out = regions.copy()
    test = out["chrom"].isin(list(test_chroms)).to_numpy()
    if len(test_chroms) and not test.any():
        c = str(test_chroms[0])
        raise RegionError(
            f"none of the test chromosomes {list(test_chroms)} holds a region."
            + chrom_hint(c, out["chrom"].unique())
            + " Pass test_chroms=() for no test set."
        )
    out["split"] = np.where(test, "test", "train")
    fold = np.full(len(out), -1, dtype=np.int64)
    train = out[~test]
    y = train[stratify].to_numpy() if stratify else np.zeros(len(train), dtype=int)
    classes, y_idx = np.unique(y, return_inverse=True)
    if group == "auto":
        n_chroms = train["chrom"].nunique()
        group = "chromosome" if n_chroms >= n_folds else "region"
        if group == "region":
            log.warning(
                "only %d training chromosomes for %d folds: folds are drawn by region, so a "
                "chromosome can be in both training and validation sets",
                n_chroms,
                n_folds,
            )
    if group == "chromosome":
        chroms, c_idx = np.unique(train["chrom"].to_numpy(dtype=str), return_inverse=True)
        if len(chroms) < n_folds:
            raise RegionError(
                f"{len(chroms)} training chromosomes cannot form {n_folds} folds; "
                "use group='region' or fewer folds"
            )
        counts = np.zeros((len(chroms), len(classes)))
        np.add.at(counts, (c_idx, y_idx), 1)
        fold[~test] = _assign_folds(counts, n_folds, np.random.default_rng(random_state))[c_idx]
    elif group == "region":
        kf = StratifiedKFold if stratify else KFold
        splitter = kf(n_splits=n_folds, shuffle=True, random_state=random_state)
        sub = np.empty(len(train), dtype=np.int64)
        for k, (_, val) in enumerate(splitter.split(np.zeros(len(train)), y_idx)):
            sub[val] = k
        fold[~test] = sub
    else:
        raise ValueError(f"group must be 'auto', 'chromosome' or 'region', got {group!r}")
    out["fold"] = fold
    return out

"""The pre-training dataset: rDHSs against genome background (ARCHITECTURE.md, "data").

:func:`build_pretraining_dataset` takes its input files as one :class:`PretrainingInputs`, the
options every builder shares as a :class:`~.steps.DatasetSpec` and the negative sampling as a
:class:`~.steps.NegativeSampling`; it writes a :mod:`.artifacts` folder ``pretrain-<key>``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from chromtransfer_lib.data.artifacts import BuildLog, DatasetInfo, build_artifact
from chromtransfer_lib.data.steps import (
    DEFAULT_NEGATIVES,
    DEFAULT_SPEC,
    DatasetSpec,
    NegativeSampling,
    assign_folds,
    drop_rows,
    sample_genome_negatives,
    write_codes,
)
from chromtransfer_lib.genome.regions import (
    COLS,
    mark_overlaps,
    read_bed,
    recentre,
)
from chromtransfer_lib.genome.sequence import chrom_sizes
from chromtransfer_lib.genome.splits import split_by_chromosome


@dataclasses.dataclass(frozen=True)
class PretrainingInputs:
    """The files of the pre-training set: genome FASTA, rDHS BED and the optional exclusions.

    ``accessible_bed``: regions accessible in one of the six lines (their rDHSs are removed);
    ``gaps_bed``: assembly gaps (default: the FASTA's N runs); ``blacklist_bed``: excluded from
    negatives.
    """

    genome: str | Path
    rdhs_bed: str | Path
    accessible_bed: str | Path | None = None
    gaps_bed: str | Path | None = None
    blacklist_bed: str | Path | None = None


def _pad(regions: pd.DataFrame, pad: int) -> pd.DataFrame:
    return regions.assign(start=regions["start"] - pad, end=regions["end"] + pad)


def _positives(
    inputs: PretrainingInputs,
    rdhs: pd.DataFrame,
    sizes: dict[str, int],
    *,
    region_width: int,
    tolerance: int,
    blog: BuildLog,
) -> pd.DataFrame:
    """rDHSs recentred to ``region_width``, minus those accessible in one of the six lines."""
    pos = recentre(rdhs, width=region_width)
    pos = pos.assign(name=rdhs["name"] if "name" in rdhs else "", label="rDHS", y=1)
    if inputs.accessible_bed is None:
        return pos
    acc = read_bed(inputs.accessible_bed, chrom_sizes=sizes, on_duplicate="drop")
    pos_mid, acc_mid = recentre(pos, width=1), recentre(acc, width=1)
    near = mark_overlaps(pos_mid, _pad(acc_mid, tolerance))
    used = mark_overlaps(acc_mid, _pad(pos_mid, tolerance))
    if (~used).any():
        blog.warn(f"{int((~used).sum())} of {len(acc)} accessible regions match no rDHS")
    return drop_rows(pos, near, "rDHS accessible in one of the six cell lines", blog)


def build_pretraining_dataset(
    out_root: str | Path,
    inputs: PretrainingInputs,
    *,
    spec: DatasetSpec = DEFAULT_SPEC,
    negatives: NegativeSampling = DEFAULT_NEGATIVES,
    region_width: int = 600,
    accessible_tolerance: int = 2,
    progress: bool = True,
) -> DatasetInfo:
    """The pre-training set: rDHSs vs genome background, as a folder ``pretrain-<key>``.

    Positives: every rDHS recentred to ``region_width`` bp, minus those accessible in any of
    the six lines (an rDHS is removed when a region of ``inputs.accessible_bed`` has its
    midpoint within ``accessible_tolerance`` bp of the rDHS midpoint). Negatives:
    ``region_width`` bp genome tiles (:func:`~.steps.sample_genome_negatives` on the
    chromosomes holding rDHSs, ``negatives.flank`` bp clear of every rDHS), a seeded sample of
    ``round(negatives.negatives_per_positive × positives)``. Sequences are the central
    ``spec.seq_len`` bp; those with more than ``spec.max_n_fraction`` N are dropped. Labels:
    ``y`` 1/0, ``label`` ``rDHS``/``background``; split on ``spec.test_chroms`` and folds by
    :func:`.splits.split_by_chromosome`.
    """
    args = {
        **dataclasses.asdict(spec),
        **dataclasses.asdict(negatives),
        "region_width": region_width,
        "accessible_tolerance": accessible_tolerance,
    }

    def make(tmp: Path, blog: BuildLog) -> pd.DataFrame:
        sizes = chrom_sizes(inputs.genome)
        rdhs = read_bed(inputs.rdhs_bed, chrom_sizes=sizes)
        pos = _positives(
            inputs, rdhs, sizes, region_width=region_width, tolerance=accessible_tolerance,
            blog=blog,
        )  # fmt: skip
        neg = sample_genome_negatives(
            inputs.genome, rdhs, width=region_width, sampling=negatives, n_positives=len(pos),
            gaps_bed=inputs.gaps_bed, blacklist_bed=inputs.blacklist_bed,
            random_state=spec.random_state, blog=blog, progress=progress,
        )  # fmt: skip
        neg = neg.assign(name="", label="background", y=0)
        regions = pd.concat([pos[[*COLS, "name", "label", "y"]], neg], ignore_index=True)
        regions = write_codes(
            tmp, inputs.genome, regions, seq_len=spec.seq_len,
            max_n_fraction=spec.max_n_fraction, blog=blog, progress=progress,
        )  # fmt: skip
        test = regions["chrom"].isin(spec.test_chroms)
        regions = regions.assign(split=np.where(test, "test", "train"))
        if len(spec.test_chroms) and not test.any():
            split_by_chromosome(regions, test_chroms=spec.test_chroms)  # raises, naming a hint
        return assign_folds(regions, spec=spec, blog=blog)

    return build_artifact(out_root, "pretrain", args, dataclasses.asdict(inputs), make)

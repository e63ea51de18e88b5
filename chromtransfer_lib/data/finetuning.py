"""The fine-tuning datasets: one cell line's binary set, and the 7-class multiclass set.

Both read the authors' label files (rows ``chrN:start-end,LABEL``) through
:func:`~.steps.read_split_files` and write :mod:`.artifacts` folders (``finetune-<LINE>-<key>``,
``multiclass-<key>``). ARCHITECTURE.md, "data".
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from chromtransfer_lib.config import CELL_LINES, UNIVERSAL_NEGATIVE
from chromtransfer_lib.data.artifacts import BuildLog, DatasetInfo, build_artifact
from chromtransfer_lib.data.steps import (
    DEFAULT_SPEC,
    DatasetSpec,
    assign_folds,
    drop_rows,
    locus_names,
    read_split_files,
    write_codes,
)
from chromtransfer_lib.genome.labels import canonical_cell_line
from chromtransfer_lib.genome.regions import COLS, mark_overlaps
from chromtransfer_lib.genome.sequence import chrom_sizes

log = logging.getLogger(__name__)


def build_finetuning_dataset(
    out_root: str | Path,
    *,
    genome: str | Path,
    train_labels: str | Path,
    test_labels: str | Path,
    cell_line: str,
    spec: DatasetSpec = DEFAULT_SPEC,
    pretraining: str | Path | None = None,
    progress: bool = True,
) -> DatasetInfo:
    """One cell line's fine-tuning set from its train and test label files.

    ``y`` is 1 for the line's own label, 0 for ``<LINE>_NEG`` and ``Negative``; ``label`` keeps
    the file's label. The test split is the test file; training-file rows on test chromosomes,
    or also present in the test file, are dropped (counted). Training rows get whole-chromosome
    folds. ``pretraining`` (a pre-training dataset folder) adds a warning with counts when test
    regions overlap its training regions.
    """
    line = canonical_cell_line(cell_line)
    args = {**dataclasses.asdict(spec), "cell_line": line}
    pre_prov = Path(pretraining) / "provenance.json" if pretraining else None
    inputs = {
        "genome": genome,
        "train_labels": train_labels,
        "test_labels": test_labels,
        "pretraining": pre_prov,
    }

    def make(tmp: Path, blog: BuildLog) -> pd.DataFrame:
        files = {"train": {line: train_labels}, "test": {line: test_labels}}
        df = read_split_files(files, chrom_sizes(genome), spec.test_chroms, blog)
        df["name"] = locus_names(df)
        df = write_codes(
            tmp, genome, df[[*COLS, "name", "label", "y", "split"]], seq_len=spec.seq_len,
            max_n_fraction=spec.max_n_fraction, blog=blog, progress=progress,
        )  # fmt: skip
        return assign_folds(df, spec=spec, blog=blog, pretraining=pretraining)

    return build_artifact(out_root, f"finetune-{line}", args, inputs, make)


def multiclass_table(df: pd.DataFrame, classes: list[str], blog: BuildLog) -> pd.DataFrame:
    """One row per region and split with its class (``label``) and class index (``y``).

    ``df`` is :func:`~.steps.read_split_files`' table. A row's class is the line whose own label
    it carries; ``Negative`` rows form the last class. Regions with two different classes, and
    ``_NEG`` rows whose own line's file does not list them as positive, are dropped (counted).
    """
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
        blog.dropped["_NEG region not a positive in any given file"] = n
        log.warning("dropped %d _NEG-only regions (their own line is unknown)", n)
    two = uniq["label"].str.contains(",").to_numpy()
    uniq = drop_rows(uniq, two, "region with two classes in different files", blog)
    uniq["y"] = uniq["label"].map({c: i for i, c in enumerate(classes)}).astype(np.int8)
    uniq["name"] = locus_names(uniq)
    empty = [c for c in classes if not (uniq["label"] == c).any()]
    if empty:
        raise ValueError(f"multiclass set: no regions for class(es) {empty}")
    return uniq


def build_multiclass_dataset(
    out_root: str | Path,
    *,
    genome: str | Path,
    train_labels: Mapping[str, str | Path],
    test_labels: Mapping[str, str | Path],
    spec: DatasetSpec = DEFAULT_SPEC,
    progress: bool = True,
) -> DatasetInfo:
    """The 7-class set: the six lines' fine-tuning files concatenated and deduplicated.

    ``train_labels``/``test_labels`` map cell line → label file. Classes are the given lines in
    :data:`~chromtransfer_lib.config.CELL_LINES` order, then ``Negative`` (``y`` = class index);
    see :func:`multiclass_table`.
    """
    lines = [c for c in CELL_LINES if c in {canonical_cell_line(x) for x in train_labels}]
    classes = [*lines, UNIVERSAL_NEGATIVE]
    inputs = {
        f"{s}/{canonical_cell_line(k)}": v
        for s, m in (("train", train_labels), ("test", test_labels))
        for k, v in m.items()
    }

    def make(tmp: Path, blog: BuildLog) -> pd.DataFrame:
        files = {"train": dict(train_labels), "test": dict(test_labels)}
        df = read_split_files(files, chrom_sizes(genome), spec.test_chroms, blog)
        uniq = multiclass_table(df, classes, blog)
        df = write_codes(
            tmp, genome, uniq[[*COLS, "name", "label", "y", "split"]], seq_len=spec.seq_len,
            max_n_fraction=spec.max_n_fraction, blog=blog, progress=progress,
        )  # fmt: skip
        return assign_folds(df, spec=spec, blog=blog)

    args = {**dataclasses.asdict(spec), "classes": classes}
    return build_artifact(out_root, "multiclass", args, inputs, make)

"""ChromTransfer on a user's own data: a pre-trained trunk, a new head, trained as in the book.

:func:`finetune_own` builds the dataset with :func:`chromtransfer_lib.data.own.build_own_dataset`
and trains it with the book's cross-validation (:func:`chromtransfer_lib.models.grids.
cross_validate`, resumable :mod:`.train` runs). It lives in ``models`` because it trains; the
dataset and the shared provenance helpers stay in ``data`` (ARCHITECTURE.md, "layers").
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from chromtransfer_lib.config import ConfigError, load_profile
from chromtransfer_lib.data.artifacts import Dataset, DatasetInfo, load_dataset
from chromtransfer_lib.data.own import (
    OWN_NEGATIVES,
    OwnInputs,
    build_own_dataset,
    check_fasta_index,
    check_output,
    provenance,
)
from chromtransfer_lib.data.steps import DatasetSpec, NegativeSampling
from chromtransfer_lib.fileio import atomic_path, write_json_atomic
from chromtransfer_lib.genome.regions import RegionError
from chromtransfer_lib.models.train import Recipe

_INPUT_KEYS = ("positives_bed", "negatives_bed", "labels", "cell_line", "gaps_bed", "blacklist_bed")
_SPEC_KEYS = ("test_chroms", "n_folds", "max_n_fraction", "fold_group")
_NEGATIVE_KEYS = ("negatives_per_positive", "flank")


@dataclass(frozen=True)
class FinetuneResult:
    """A finished :func:`finetune_own`: the model to predict with, and how it scored."""

    out_dir: Path
    model_path: Path  #: ``out_dir/model.keras`` (the first trained fold's best model)
    dataset: DatasetInfo
    per_fold: pd.DataFrame  #: test metrics of each fold's model (chromosomes ``test_chroms``)
    summary_path: Path  #: ``out_dir/finetune.json``: provenance, counts, recipe, metrics


def own_dataset_options(
    *, genome: str | Path, seq_len: int, random_state: int, **dataset_args: Any
) -> tuple[OwnInputs, DatasetSpec, NegativeSampling]:
    """:func:`build_own_dataset`'s argument groups from flat keywords (those of the CLI).

    Keys: ``positives_bed, negatives_bed, labels, cell_line, gaps_bed, blacklist_bed`` (files),
    ``test_chroms, n_folds, max_n_fraction, fold_group`` (:class:`DatasetSpec`),
    ``negatives_per_positive, flank`` (:class:`NegativeSampling`); any other key is an error.
    """
    unknown = sorted(set(dataset_args) - {*_INPUT_KEYS, *_SPEC_KEYS, *_NEGATIVE_KEYS})
    if unknown:
        raise TypeError(f"unknown own-dataset argument(s) {unknown}")
    pick = lambda keys: {k: dataset_args[k] for k in keys if k in dataset_args}  # noqa: E731
    inputs = OwnInputs(genome=genome, **pick(_INPUT_KEYS))
    spec = DatasetSpec(seq_len=seq_len, random_state=random_state, **pick(_SPEC_KEYS))
    negatives = dataclasses.replace(OWN_NEGATIVES, **pick(_NEGATIVE_KEYS))
    return inputs, spec, negatives


def _own_dataset(
    out_dir: Path, fold_ids: Sequence[int], *, progress: bool, **options: Any
) -> tuple[DatasetInfo, Dataset]:
    """Build (or reuse) the dataset under ``out_dir/dataset`` and check the folds to train;
    a folder this call created is removed again if that fails (nothing trained yet)."""
    inputs, spec, negatives = own_dataset_options(**options)
    if bad := [k for k in fold_ids if not 0 <= k < spec.n_folds]:
        raise ConfigError(f"folds {bad} outside 0..{spec.n_folds - 1} (the profile's data.n_folds)")
    check_fasta_index(inputs.genome)
    check_output(out_dir)
    created = not out_dir.exists()
    try:
        info = build_own_dataset(
            out_dir / "dataset", inputs, spec=spec, negatives=negatives, progress=progress
        )
        ds = load_dataset(info.path)
        folds = ds.regions["fold"].to_numpy()
        for k in fold_ids:
            if np.unique(ds.labels[folds == k]).size < 2:
                raise RegionError(
                    f"validation fold {k} holds one class only ({int((folds == k).sum())} "
                    "regions); give more regions or other folds"
                )
    except BaseException:
        if created:
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    return info, ds


def finetune_own(
    out_dir: str | Path,
    *,
    genome: str | Path,
    pretrained: str | Path,
    fold_ids: Sequence[int] = (0,),
    head_units: Sequence[int] = (1024, 32),
    dropout: float = 0.1,
    freeze_trunk: bool = False,
    recipe: Recipe | None = None,
    random_state: int = 0,
    hash_cache: Path | None = None,
    progress: bool = True,
    **dataset_args: Any,
) -> FinetuneResult:
    """ChromTransfer on a user's data: pre-trained trunk + new head, trained as in the book.

    ``out_dir`` holds ``dataset/own-<key>/`` (:func:`build_own_dataset`; ``dataset_args`` as in
    :func:`own_dataset_options`), ``runs/fold_<k>/`` (resumable runs via
    :func:`.grids.cross_validate`), ``model.keras`` and ``finetune.json``. Re-running the same
    call resumes an interrupted run (exactly, on CPU) and reuses finished ones; if it fails
    before training starts in a folder it created, the folder is removed. The sequence length
    is the pre-trained model's input length. ``recipe`` is the training recipe (default: the
    ``paper`` profile's ``finetune`` section, the paper's recipe).
    """
    from chromtransfer_lib.models.grids import cross_validate
    from chromtransfer_lib.models.network import build_chromtransfer_model, load_model

    out_dir = Path(out_dir)
    recipe = recipe or Recipe.from_config(load_profile("paper").finetune)
    pre = load_model(pretrained)
    seq_len = int(pre.inputs[0].shape[1])
    info, ds = _own_dataset(
        out_dir, fold_ids, progress=progress, genome=genome, seq_len=seq_len,
        random_state=random_state, **dataset_args,
    )  # fmt: skip

    def build(seed: int):
        return build_chromtransfer_model(pre, head_units=head_units, dropout=dropout,
                                         freeze_trunk=freeze_trunk, random_state=seed)  # fmt: skip

    folds = ds.regions["fold"].to_numpy()
    cv = cross_validate(build, recipe, codes=ds.codes, labels=ds.labels, folds=folds,
                        out_dir=out_dir / "runs", random_state=random_state, fold_ids=fold_ids,
                        progress=progress)  # fmt: skip
    model_path = out_dir / "model.keras"
    with atomic_path(model_path) as tmp:
        shutil.copyfile(cv.runs[0].model_path, tmp)
    files = {"genome": genome, "pretrained": pretrained, "model": model_path}
    files.update({k: dataset_args.get(k) for k in ("positives_bed", "negatives_bed", "labels")})
    summary = provenance(
        files, hash_cache=hash_cache, seq_len=seq_len, dataset=str(info.path),
        counts=info.counts, recipe=recipe._asdict(), head_units=list(head_units),
        freeze_trunk=freeze_trunk, random_state=random_state, folds=list(fold_ids),
        model_from_fold=int(fold_ids[0]), test_metrics=cv.per_fold.to_dict(orient="records"),
    )  # fmt: skip
    write_json_atomic(out_dir / "finetune.json", summary)
    return FinetuneResult(out_dir, model_path, info, cv.per_fold, out_dir / "finetune.json")

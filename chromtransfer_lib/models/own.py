"""ChromTransfer on a user's own data: a pre-trained trunk, a new head, trained as in the book.

:func:`finetune_own` builds the dataset with :func:`chromtransfer_lib.data.own.build_own_dataset`
and trains it with the book's cross-validation (:func:`chromtransfer_lib.models.grids.
cross_validate`, resumable :mod:`.train` runs). It lives in ``models`` because it trains; the
dataset and the shared provenance helpers stay in ``data`` (ARCHITECTURE.md, "layers").
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable, Mapping, Sequence
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
    """Build (or reuse) the dataset under ``out_dir/dataset`` and check the folds to train."""
    inputs, spec, negatives = own_dataset_options(**options)
    return _checked_dataset(
        out_dir, fold_ids, genome=inputs.genome, n_folds=spec.n_folds,
        build=lambda: build_own_dataset(out_dir / "dataset", inputs, spec=spec,
                                        negatives=negatives, progress=progress),
    )  # fmt: skip


def _checked_dataset(
    out_dir: Path,
    fold_ids: Sequence[int],
    *,
    genome: str | Path,
    n_folds: int,
    build: Callable[[], DatasetInfo],
) -> tuple[DatasetInfo, Dataset]:
    """``build()`` the dataset, load it and check the folds to train; a folder this call
    created is removed again if that fails (nothing trained yet)."""
    if bad := [k for k in fold_ids if not 0 <= k < n_folds]:
        raise ConfigError(f"folds {bad} outside 0..{n_folds - 1} (the profile's data.n_folds)")
    check_fasta_index(genome)
    check_output(out_dir)
    created = not out_dir.exists()
    try:
        info = build()
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


def _publish(
    out_dir: Path, cv: Any, *, summary_name: str, files: Mapping[str, Any],
    hash_cache: Path | None, **facts: Any,
) -> tuple[Path, Path]:  # fmt: skip
    """Copy the first trained fold's model to ``out_dir/model.keras`` and write the run's
    provenance and metrics to ``out_dir/<summary_name>``; both paths."""
    model_path = out_dir / "model.keras"
    with atomic_path(model_path) as tmp:
        shutil.copyfile(cv.runs[0].model_path, tmp)
    summary = provenance(
        {**files, "model": model_path}, hash_cache=hash_cache, **facts,
        test_metrics=cv.per_fold.to_dict(orient="records"),
    )  # fmt: skip
    write_json_atomic(out_dir / summary_name, summary)
    return model_path, out_dir / summary_name


def finetune_own(
    out_dir: str | Path,
    *,
    genome: str | Path,
    pretrained: str | Path | None = None,
    scratch_network: Mapping[str, Any] | None = None,
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

    With ``scratch_network`` instead of ``pretrained`` — the network's input length and widths
    (``seq_len, stem_filters, res1_filters, res2_filters, top_filters``, optionally
    ``mixed_precision``) — the same architecture is trained from random weights: the paper's
    binary baseline (the book's ``scratch`` models; give the profile's ``scratch`` recipe).
    ``finetune.json`` records which (``model_kind``: ``chromtransfer`` or ``scratch``).
    """
    from chromtransfer_lib.models.grids import cross_validate
    from chromtransfer_lib.models.network import (
        build_binary_baseline,
        build_chromtransfer_model,
        load_model,
    )

    if (pretrained is None) == (scratch_network is None):
        raise TypeError("give either pretrained (a model file) or scratch_network, not both")
    if freeze_trunk and pretrained is None:
        raise ConfigError("freeze_trunk needs a pre-trained trunk; a baseline trains every layer")
    out_dir = Path(out_dir)
    section = "finetune" if pretrained is not None else "scratch"
    recipe = recipe or Recipe.from_config(getattr(load_profile("paper"), section))
    if pretrained is not None:
        pre = load_model(pretrained)
        seq_len = int(pre.inputs[0].shape[1])

        def build(seed: int):
            return build_chromtransfer_model(
                pre, head_units=head_units, dropout=dropout, freeze_trunk=freeze_trunk,
                random_state=seed,
            )  # fmt: skip
    else:
        network = dict(scratch_network)
        seq_len = int(network["seq_len"])

        def build(seed: int):
            return build_binary_baseline(head_units=head_units, dropout=dropout,
                                         random_state=seed, **network)  # fmt: skip

    info, ds = _own_dataset(
        out_dir, fold_ids, progress=progress, genome=genome, seq_len=seq_len,
        random_state=random_state, **dataset_args,
    )  # fmt: skip

    folds = ds.regions["fold"].to_numpy()
    cv = cross_validate(build, recipe, codes=ds.codes, labels=ds.labels, folds=folds,
                        out_dir=out_dir / "runs", random_state=random_state, fold_ids=fold_ids,
                        progress=progress)  # fmt: skip
    files = {"genome": genome, "pretrained": pretrained}
    files.update({k: dataset_args.get(k) for k in ("positives_bed", "negatives_bed", "labels")})
    kind = {"model_kind": "chromtransfer"} if pretrained is not None else {
        "model_kind": "scratch", "network": dict(scratch_network)}  # fmt: skip
    model_path, summary_path = _publish(
        out_dir, cv, summary_name="finetune.json", files=files, hash_cache=hash_cache, **kind,
        seq_len=seq_len, dataset=str(info.path), counts=info.counts, recipe=recipe._asdict(),
        head_units=list(head_units), freeze_trunk=freeze_trunk, random_state=random_state,
        folds=list(fold_ids), model_from_fold=int(fold_ids[0]),
    )  # fmt: skip
    return FinetuneResult(out_dir, model_path, info, cv.per_fold, summary_path)


def pretrain_own(
    out_dir: str | Path,
    *,
    genome: str | Path,
    regions_bed: str | Path,
    network: Mapping[str, Any],
    exclude_bed: str | Path | None = None,
    gaps_bed: str | Path | None = None,
    blacklist_bed: str | Path | None = None,
    head_units: Sequence[int] = (512, 128),
    dropout: float = 0.1,
    recipe: Recipe | None = None,
    test_chroms: Sequence[str] = ("chr2", "chr3"),
    n_folds: int = 3,
    fold_ids: Sequence[int] = (0,),
    max_n_fraction: float = 0.1,
    negatives_per_positive: float = 1.0,
    flank: int = 300,
    region_width: int = 600,
    random_state: int = 0,
    hash_cache: Path | None = None,
    progress: bool = True,
) -> FinetuneResult:
    """The paper's pre-training on a user's compendium: open regions of any cell type against
    genome background, the network trained from random weights.

    The dataset is the book's pre-training set
    (:func:`chromtransfer_lib.data.pretraining.build_pretraining_dataset`): every region of
    ``regions_bed`` recentred to ``region_width`` bp (at least the input length) is a positive,
    minus those whose midpoint lies within 2 bp of a region of ``exclude_bed`` (the paper
    removed the rDHSs accessible in the six lines it fine-tuned on); negatives are
    ``region_width`` bp genome tiles on the positives' chromosomes, ``flank`` bp clear of
    every positive, avoiding ``gaps_bed`` (else the FASTA's N runs) and ``blacklist_bed``,
    ``negatives_per_positive`` of them per positive (seeded). ``network`` holds the input length
    and widths (``seq_len, stem_filters, res1_filters, res2_filters, top_filters``, optionally
    ``mixed_precision``); ``recipe`` defaults to the ``paper`` profile's ``pretrain`` section.

    ``out_dir`` holds ``dataset/pretrain-<key>/``, ``runs/fold_<k>/`` (resumable),
    ``model.keras`` (for ``chromtransfer finetune --pretrained``) and ``pretrain.json``
    (provenance, counts, recipe, test metrics). Re-running the same call resumes.

    Across machines: with ``TF_CONFIG`` naming several workers, every worker runs the same call
    and they train one model together (``MultiWorkerMirroredStrategy``,
    :mod:`chromtransfer_lib.models.multiworker`); the chief writes ``out_dir``, worker ``i``
    ``<out_dir>.worker-<i>``.
    """
    from chromtransfer_lib.data.pretraining import PretrainingInputs, build_pretraining_dataset
    from chromtransfer_lib.models.devices import distribution_scope
    from chromtransfer_lib.models.grids import cross_validate
    from chromtransfer_lib.models.multiworker import worker_out_dir
    from chromtransfer_lib.models.network import build_pretrain_model

    out_dir, network = worker_out_dir(out_dir), dict(network)
    recipe = recipe or Recipe.from_config(load_profile("paper").pretrain)
    seq_len = int(network["seq_len"])
    inputs = PretrainingInputs(genome=genome, rdhs_bed=regions_bed, accessible_bed=exclude_bed,
                               gaps_bed=gaps_bed, blacklist_bed=blacklist_bed)  # fmt: skip
    spec = DatasetSpec(seq_len=seq_len, test_chroms=tuple(test_chroms), n_folds=n_folds,
                       max_n_fraction=max_n_fraction, random_state=random_state)  # fmt: skip
    sampling = NegativeSampling(negatives_per_positive=negatives_per_positive, flank=flank)
    info, ds = _checked_dataset(
        out_dir, fold_ids, genome=genome, n_folds=n_folds,
        build=lambda: build_pretraining_dataset(
            out_dir / "dataset", inputs, spec=spec, negatives=sampling,
            region_width=max(region_width, seq_len), progress=progress),
    )  # fmt: skip

    def build(seed: int):
        return build_pretrain_model(head_units=head_units, dropout=dropout, random_state=seed,
                                    **network)  # fmt: skip

    with distribution_scope():  # several GPUs, or the workers TF_CONFIG names
        cv = cross_validate(
            build, recipe, codes=ds.codes, labels=ds.labels, folds=ds.regions["fold"].to_numpy(),
            out_dir=out_dir / "runs", random_state=random_state, fold_ids=fold_ids,
            progress=progress,
        )  # fmt: skip
    files = {"genome": genome, "regions_bed": regions_bed, "exclude_bed": exclude_bed,
             "gaps_bed": gaps_bed, "blacklist_bed": blacklist_bed}  # fmt: skip
    model_path, summary_path = _publish(
        out_dir, cv, summary_name="pretrain.json", files=files, hash_cache=hash_cache,
        model_kind="pretrain", network=network, seq_len=seq_len, dataset=str(info.path),
        counts=info.counts, recipe=recipe._asdict(), head_units=list(head_units),
        negatives_per_positive=negatives_per_positive, flank=flank,
        region_width=max(region_width, seq_len), random_state=random_state,
        folds=list(fold_ids), model_from_fold=int(fold_ids[0]),
    )  # fmt: skip
    return FinetuneResult(out_dir, model_path, info, cv.per_fold, summary_path)

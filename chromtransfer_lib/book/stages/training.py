"""Model stages: pre-training, the six lines' ChromTransfer and baseline models, the multiclass
baseline, and the tables of their folds.

Every model kind is cross-validated by chromosome folds (the profile section's ``folds``); a
kind's folds live under ``models/<kind>[-<line>]-<hash>/fold_<k>/`` and are ensembled by their
mean test prediction (ARCHITECTURE.md, "models").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from chromtransfer_lib.book.stages.context import RunContext
from chromtransfer_lib.book.stages.world import Datasets
from chromtransfer_lib.config import CELL_LINES, Profile, TrainConfig

if TYPE_CHECKING:  # the models layer imports TensorFlow: stages import it when they run
    from chromtransfer_lib.models.crossval import CVResult
    from chromtransfer_lib.models.train import Recipe, TrainResult

#: The model kinds of chapter 3, in the order figures show them.
MODEL_KINDS = ("finetune", "scratch")
KIND_LABELS = {"finetune": "ChromTransfer", "scratch": "binary baseline"}


def recipe(tc: TrainConfig) -> Recipe:
    """A profile section's :class:`~chromtransfer_lib.models.train.Recipe` (``TrainConfig``
    minus folds and precision)."""
    from chromtransfer_lib.models.train import Recipe

    return Recipe.from_config(tc)


def network_kwargs(prof: Profile) -> dict:
    """The network widths and input length of a profile, as builder keyword arguments."""
    m = prof.model
    return {
        "seq_len": prof.data.seq_len,
        "stem_filters": m.stem_filters,
        "res1_filters": m.res1_filters,
        "res2_filters": m.res2_filters,
        "top_filters": m.top_filters,
        "dropout": m.dropout,
    }


def line_model_dir(ctx: RunContext, line: str, kind: str) -> Path:
    """Where a line's ChromTransfer (``finetune``) or baseline (``scratch``) folds live."""
    return ctx.model_dir(f"{kind}-{line}", "pretrain", kind)


def multiclass_dir(ctx: RunContext) -> Path:
    """Where the multiclass baseline's folds live (``fold_<k>/``)."""
    return ctx.model_dir("multiclass", "multiclass")


def ensure_pretrained(
    ctx: RunContext, datasets: Datasets, *, folds: tuple[int, ...] | None = None
) -> CVResult:
    """Pre-train on the rDHS-vs-background set, one model per configured CV fold.

    Returns the :class:`~chromtransfer_lib.models.crossval.CVResult`; finished folds are reused.
    ``folds``: only these of the configured folds (one workflow unit each; fine-tuning starts
    from the first configured fold's model, :func:`pretrained_model`). Under several GPUs, or
    the workers ``TF_CONFIG`` names (each running the same stage), one model is trained
    together; the chief writes the run folder (:mod:`chromtransfer_lib.models.multiworker`).
    """
    from chromtransfer_lib.models.crossval import cross_validate
    from chromtransfer_lib.models.devices import distribution_scope
    from chromtransfer_lib.models.multiworker import worker_out_dir
    from chromtransfer_lib.models.network import build_pretrain_model

    prof = ctx.profile
    kw = network_kwargs(prof)

    def build(seed: int):
        return build_pretrain_model(
            head_units=prof.model.pretrain_head,
            mixed_precision=prof.pretrain.mixed_precision,
            random_state=seed,
            **kw,
        )

    ds = datasets.pretrain
    with distribution_scope():  # several GPUs, or the workers TF_CONFIG names
        return cross_validate(
            build,
            recipe(prof.pretrain),
            codes=ds.codes,
            labels=ds.labels,
            folds=ds.regions["fold"].to_numpy(),
            out_dir=worker_out_dir(ctx.model_dir("pretrain", "pretrain")),
            random_state=prof.seed,
            fold_ids=_fold_subset(prof.pretrain.folds, folds, "pretrain"),
            progress=ctx.progress,
        )


def pretrained_model(pretrain_cv: CVResult) -> object:
    """The pre-trained model fine-tuning starts from: the first configured fold's."""
    return pretrain_cv.runs[0].model


def _fold_subset(configured: tuple[int, ...], folds: tuple[int, ...] | None, section: str):
    """``folds`` (default: all ``configured``), refused unless each is configured."""
    if folds is None:
        return configured
    if bad := [k for k in folds if k not in configured]:
        raise ValueError(f"folds {bad} are not among {section}.folds {list(configured)}")
    return tuple(folds)


def ensure_line_model(
    ctx: RunContext,
    datasets: Datasets,
    pretrain_cv: CVResult,
    *,
    line: str,
    kind: str,
    folds: tuple[int, ...] | None = None,
) -> CVResult:
    """Train (or reuse) one line's ChromTransfer (``finetune``) or binary baseline (``scratch``).

    ChromTransfer copies the pre-trained trunk and adds a new head, and trains every layer at
    the profile's fine-tuning learning rate; the baseline is the same architecture from random
    initialisation at the from-scratch recipe. ``folds``: only these of the section's folds
    (one workflow unit each); the chapters call it without, and load every fold.
    """
    from chromtransfer_lib.models.crossval import cross_validate

    prof = ctx.profile
    tc = getattr(prof, kind)
    ds = datasets.finetune[line]
    return cross_validate(
        line_model_builder(ctx, pretrain_cv, kind=kind),
        recipe(tc),
        codes=ds.codes,
        labels=ds.labels,
        folds=ds.regions["fold"].to_numpy(),
        out_dir=line_model_dir(ctx, line, kind),
        random_state=prof.seed,
        fold_ids=_fold_subset(tc.folds, folds, kind),
        progress=ctx.progress,
    )


def line_model_builder(ctx: RunContext, pretrain_cv: CVResult, *, kind: str):
    """``seed → fresh model`` for ``kind`` ``finetune`` (ChromTransfer) or ``scratch``."""
    from chromtransfer_lib.models.network import build_binary_baseline, build_chromtransfer_model

    prof = ctx.profile
    if kind == "finetune":
        pre = pretrained_model(pretrain_cv)
        return lambda seed: build_chromtransfer_model(
            pre, head_units=prof.model.finetune_head, dropout=prof.model.dropout, random_state=seed
        )
    if kind == "scratch":
        kw = network_kwargs(prof)
        return lambda seed: build_binary_baseline(
            head_units=prof.model.finetune_head,
            mixed_precision=prof.scratch.mixed_precision,
            random_state=seed,
            **kw,
        )
    raise ValueError(f"unknown model kind {kind!r}; expected one of {MODEL_KINDS}")


def fold_epochs_table(cvs: Mapping[tuple[str, str], CVResult]) -> pd.DataFrame:
    """Every fold of every line model: the epoch early stopping kept and the generalisation gap.

    ``cvs`` maps ``(kind, line)`` to :func:`ensure_line_model`'s result. One row per fold, with
    ``model`` (:data:`KIND_LABELS`), ``kind``, ``cell_line`` and the columns of
    :func:`chromtransfer_lib.models.crossval.fold_epochs` (``fold, best_epoch, epochs_run,
    stopped_early, train_loss, val_loss, gap``). For one model (e.g. the pre-trained one) use
    its result's ``fold_epochs()``.
    """
    parts = [
        cv.fold_epochs().assign(model=KIND_LABELS.get(kind, kind), kind=kind, cell_line=line)
        for (kind, line), cv in cvs.items()
    ]
    table = pd.concat(parts, ignore_index=True)
    first = ["model", "kind", "cell_line"]
    return table[[*first, *[c for c in table if c not in first]]]


@dataclass(frozen=True)
class MulticlassResult:
    """The multiclass baseline: its fold runs, class names and the folds' mean test prediction."""

    runs: list[TrainResult]
    classes: tuple[str, ...]
    test_rows: np.ndarray
    test_proba: np.ndarray
    """``(n_test, n_classes)``: the mean of the folds' softmax outputs on the test rows."""
    auroc: pd.DataFrame
    """One-vs-rest AUROC per class of :attr:`test_proba` on the multiclass test set."""

    @property
    def run(self) -> TrainResult:
        """The first configured fold's run."""
        return self.runs[0]

    def fold_epochs(self) -> pd.DataFrame:
        """Each fold's kept epoch and generalisation gap (see :func:`fold_epochs_table`)."""
        from chromtransfer_lib.models.crossval import fold_epochs

        return fold_epochs(self.runs)


def ensure_multiclass(ctx: RunContext, datasets: Datasets) -> MulticlassResult:
    """Train (or reuse) the 7-way multiclass baseline on the concatenated fine-tuning sets.

    One model per fold of ``profile.multiclass.folds`` (the paper cross-validates its baseline
    models in 3 folds), each seeded with the profile's seed, ensembled by the mean prediction.
    """
    from chromtransfer_lib.evaluate import multiclass_ovr_auroc

    ds = datasets.multiclass
    classes = tuple(ds.provenance["args"].get("classes") or (*CELL_LINES, "Negative"))
    folds = ds.regions["fold"].to_numpy()
    runs = [_multiclass_fold(ctx, ds, classes, folds, k) for k in ctx.profile.multiclass.folds]
    test_rows = np.flatnonzero(folds == -1)
    proba = _mean_proba(runs, ds.codes, test_rows)
    auroc = multiclass_ovr_auroc(ds.labels[test_rows], proba, list(classes))
    return MulticlassResult(runs, classes, test_rows, proba, auroc)


def _multiclass_fold(
    ctx: RunContext, ds: object, classes: tuple[str, ...], folds: np.ndarray, k: int
) -> TrainResult:
    from chromtransfer_lib.models.crossval import fold_partition
    from chromtransfer_lib.models.network import build_multiclass_baseline
    from chromtransfer_lib.models.train import SOFTMAX_LOSS, train_model

    prof = ctx.profile
    train_rows, val_rows = fold_partition(folds, k)
    model = build_multiclass_baseline(
        n_classes=len(classes),
        head_units=prof.model.finetune_head,
        mixed_precision=prof.multiclass.mixed_precision,
        random_state=prof.seed,
        **network_kwargs(prof),
    )
    return train_model(
        model,
        recipe(prof.multiclass),
        train=(ds.codes, ds.labels, train_rows),
        val=(ds.codes, ds.labels, val_rows),
        out_dir=multiclass_dir(ctx) / f"fold_{k}",
        random_state=prof.seed,
        loss=SOFTMAX_LOSS,
        progress=ctx.progress,
        extra_config={"fold": int(k), "classes": list(classes)},
    )


def _mean_proba(runs: list[TrainResult], codes: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The runs' mean predicted probabilities on ``rows`` (one run: its own, exactly)."""
    from chromtransfer_lib.data.pipeline import predict_proba

    return np.mean([predict_proba(r.model, codes, indices=rows) for r in runs], axis=0)


def line_test_predictions(model: object, dataset: object) -> tuple:
    """``(y, p)`` of a binary model on a fine-tuning set's test rows (chr2 + chr3)."""
    from chromtransfer_lib.data.pipeline import predict_proba

    rows = dataset.subset(split="test")
    return dataset.labels[rows], predict_proba(model, dataset.codes, indices=rows)


def multiclass_on_line(multi: MulticlassResult, dataset: object, line: str) -> tuple:
    """``(y, p)``: the multiclass folds' mean probability of ``line`` on that line's binary
    test set.

    Scoring every model on the same test rows keeps the comparison with the binary models fair
    (the multiclass test set has other class frequencies).
    """
    rows = dataset.subset(split="test")
    proba = _mean_proba(multi.runs, dataset.codes, rows)
    return dataset.labels[rows], proba[:, multi.classes.index(line)]

"""What the chapters compute from a run: predictions, scores, curves, per-fold epochs.

A chapter's set-up cell ensures its artifacts (:mod:`.stages`) and wraps them in a :class:`Run`;
the paper's tables (:mod:`.tables`) and figures (:mod:`.figures`) are functions of that run,
built from the tidy tables here. Nothing here trains or writes anything, and nothing returns
English: numbers and tables only (see ARCHITECTURE.md, the book layer).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from chromtransfer_lib.book import stages
from chromtransfer_lib.config import CELL_LINES
from chromtransfer_lib.data.pipeline import predict_proba
from chromtransfer_lib.evaluate import binary_metrics, choose_threshold

#: The models chapter 3 compares, in the order tables and figures show them.
MODEL_ORDER = ("ChromTransfer", "binary baseline", "multiclass baseline", "pre-trained")

#: Metric-key prefix of each model in the saved metrics (``finetune.HepG2.test.auroc``).
METRIC_KEYS = {
    "ChromTransfer": "finetune",
    "binary baseline": "scratch",
    "multiclass baseline": "multiclass",
    "pre-trained": "pretrained_only",
}


class Prediction(NamedTuple):
    """One model's test-set predictions for one cell line (or the pre-training task)."""

    model: str
    cell_line: str
    y: np.ndarray
    p: np.ndarray
    threshold: float | None = None
    """A decision threshold chosen on validation data (``None``: report 0.5 only)."""


@dataclass
class Run:
    """What a chapter's set-up cell produces: the run context and the artifacts it ensured.

    Parameters
    ----------
    ctx
        The loaded profile and run directory (:func:`.stages.start_chapter`).
    inputs, datasets, pretrain, multiclass
        What :func:`.stages.ensure_world`, ``ensure_datasets``, ``ensure_pretrained`` and
        ``ensure_multiclass`` returned (``None`` where the chapter did not ensure it).
    line_models
        ``(kind, cell line) → CVResult`` of :func:`.stages.ensure_line_model`.
    """

    ctx: stages.RunContext
    inputs: stages.Inputs | None = None
    datasets: stages.Datasets | None = None
    pretrain: Any = None
    line_models: Mapping[tuple[str, str], Any] = field(default_factory=dict)
    multiclass: stages.MulticlassResult | None = None

    @property
    def profile(self) -> Any:
        """The run's :class:`~chromtransfer_lib.config.Profile`."""
        return self.ctx.profile

    @property
    def run_dir(self) -> Any:
        """Where the run's artifacts and metrics live."""
        return self.ctx.run_dir

    def need(self, name: str) -> Any:
        """The artifact ``name`` (e.g. ``"datasets"``), or an error naming the missing stage."""
        value = getattr(self, name)
        if value is None or (name == "line_models" and not value):
            raise ValueError(
                f"this table or figure needs the run's {name}: ensure it in the chapter's set-up "
                "cell and pass it to report.Run"
            )
        return value

    @cached_property
    def test_predictions(self) -> list[Prediction]:
        """Every chapter-3 model's test predictions on every line, with decision thresholds."""
        return line_predictions(self)

    @cached_property
    def pretraining_predictions(self) -> list[Prediction]:
        """The pre-trained model on its first partition's training, validation and test rows."""
        return pretraining_predictions(self)

    @cached_property
    def scores(self) -> pd.DataFrame:
        """:func:`score_predictions` of :attr:`test_predictions`, models and lines ordered."""
        out = score_predictions(self.test_predictions)
        out["model"] = pd.Categorical(out["model"], categories=list(MODEL_ORDER))
        out["cell_line"] = pd.Categorical(out["cell_line"], categories=list(CELL_LINES))
        return out


def pretraining_predictions(run: Run) -> list[Prediction]:
    """Fig 1D-E's predictions: the model fine-tuning starts from (the first configured fold's)
    on that partition's training and validation rows and on the test rows; ``model`` names the
    rows (``training``, ``validation``, ``test``)."""
    ds = run.need("datasets").pretrain
    cv = run.need("pretrain")
    part = ds.partition(int(cv.per_fold["fold"].iloc[0]))
    model = stages.pretrained_model(cv)
    split_rows = {"training": part.train, "validation": part.valid, "test": ds.subset(split="test")}
    return [
        Prediction(
            name, "pre-training", ds.labels[rows], predict_proba(model, ds.codes, indices=rows)
        )
        for name, rows in split_rows.items()
    ]


def ensemble_predictions(run: Run, *, line: str | None = None) -> list[Prediction]:
    """ChromTransfer's and the binary baseline's fold-ensemble test predictions (mean of the
    fold models; stored by cross-validation, so nothing is predicted here)."""
    datasets = run.need("datasets")
    out = []
    for (kind, ln), cv in run.need("line_models").items():
        if line is None or ln == line:
            ds = datasets.finetune[ln]
            y = ds.labels[ds.subset(split="test")]
            out.append(Prediction(stages.KIND_LABELS[kind], ln, y, cv.test_proba.mean(axis=1)))
    return out


def out_of_fold(cv: Any, dataset: Any) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold predictions: each fold model on the validation rows of its own fold.

    No row is predicted by a model that trained on it, so a threshold chosen on these rows is
    chosen on unseen data. With every fold run (3-fold CV) they cover all training rows; with
    one fold, they are that fold's validation rows.

    Returns
    -------
    rows, p
        Row indices ``(m,)`` into ``dataset`` (fold by fold) and their predicted probabilities.
    """
    from chromtransfer_lib.models.crossval import stored_validation_proba

    rows, probs = [], []
    for fold, run in zip(cv.per_fold["fold"], cv.runs, strict=True):
        valid = dataset.partition(int(fold)).valid
        rows.append(valid)
        stored = stored_validation_proba(run, valid)  # scored after training: no model load
        probs.append(predict_proba(run.model, dataset.codes, indices=valid) if stored is None
                     else stored)  # fmt: skip
    return np.concatenate(rows), np.concatenate(probs)


def line_threshold(cv: Any, dataset: Any) -> float:
    """The decision threshold of a fold ensemble: the one maximising overall F1 on the fold
    models' out-of-fold predictions (:func:`out_of_fold`)."""
    rows, p_oof = out_of_fold(cv, dataset)
    return choose_threshold(dataset.labels[rows], p_oof).threshold


def line_predictions(run: Run) -> list[Prediction]:
    """Test predictions of ChromTransfer, the binary and the multiclass baseline and the
    pre-trained model on every line's test rows (the same rows for all four).

    A binary model's threshold is chosen (:func:`~chromtransfer_lib.evaluate.choose_threshold`)
    on its fold models' out-of-fold predictions (:func:`out_of_fold`) and applied to the fold
    ensemble's test predictions. The pre-trained model is thresholded on the same rows as
    ChromTransfer (it never saw their labels); the multiclass baseline is reported at 0.5 only.
    """
    datasets = run.need("datasets")
    preds = []
    for (kind, line), cv in run.need("line_models").items():
        ds = datasets.finetune[line]
        y, p = ds.labels[ds.subset(split="test")], cv.test_proba.mean(axis=1)
        preds.append(Prediction(stages.KIND_LABELS[kind], line, y, p, line_threshold(cv, ds)))
    pretrained = stages.pretrained_model(run.need("pretrain"))
    multi = run.need("multiclass")
    for line in CELL_LINES:
        ds = datasets.finetune[line]
        y, p = stages.line_test_predictions(pretrained, ds)
        folds = run.profile.finetune.folds
        valid = np.concatenate([ds.partition(k).valid for k in folds])
        p_val = predict_proba(pretrained, ds.codes, indices=valid)
        thr = choose_threshold(ds.labels[valid], p_val).threshold
        preds.append(Prediction("pre-trained", line, y, p, thr))
        y, p = stages.multiclass_on_line(multi, ds, line)
        preds.append(Prediction("multiclass baseline", line, y, p))
    return preds


#: The paper's motif collection (Results, "Feature importance analysis ..."; pyjaspar, offline).
JASPAR = {"release": "JASPAR2022", "collection": "CORE", "tax_group": "vertebrates"}


def world_motifs(run: Run) -> pd.DataFrame | None:
    """The simulated world's ``motifs.tsv`` (matrices and roles); ``None`` on real data."""
    inputs = run.need("inputs")
    return None if inputs.motifs is None else pd.read_csv(inputs.motifs, sep="\t")


def ground_truth(run: Run) -> pd.DataFrame | None:
    """The simulated world's planted sites (``ground_truth.tsv``); ``None`` on real data."""
    inputs = run.need("inputs")
    return None if inputs.ground_truth is None else pd.read_csv(inputs.ground_truth, sep="\t")


def line_fold_epochs(run: Run) -> pd.DataFrame:
    """Every fold of every line model (:func:`.stages.fold_epochs_table`) of the run."""
    return stages.fold_epochs_table(run.need("line_models"))


def line_gaps(run: Run) -> dict[tuple[str, str], float]:
    """``(kind, line)`` → :func:`generalisation_gap` at the kept epochs, mean over folds."""
    return {
        key: generalisation_gap(
            cv.histories, dict(zip(cv.per_fold["fold"], cv.per_fold["best_epoch"], strict=True))
        )
        for key, cv in run.need("line_models").items()
    }


def score_predictions(preds: Sequence[Prediction]) -> pd.DataFrame:
    """Metrics of every prediction set: AUROC, AUPRC, per-class and overall F1 (at 0.5 and at
    the validation-chosen threshold), Brier score and ECE."""
    rows = []
    for pr in preds:
        m = binary_metrics(pr.y, pr.p)
        row = {"model": pr.model, "cell_line": pr.cell_line, **m}
        if pr.threshold is not None:
            mv = binary_metrics(pr.y, pr.p, threshold=pr.threshold)
            row.update(
                f1_overall_valthr=mv["f1_overall"],
                f1_pos_valthr=mv["f1_pos"],
                f1_neg_valthr=mv["f1_neg"],
                threshold_valthr=pr.threshold,
            )
        rows.append(row)
    return pd.DataFrame(rows)


def curve_tables(preds: Sequence[Prediction]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """ROC and PR curves of every prediction set, with a legend label carrying the area."""
    from chromtransfer_lib.evaluate import auprc, auroc, pr_curve_table, roc_curve_table

    rocs, prs = [], []
    for pr in preds:
        roc = roc_curve_table(pr.y, pr.p)
        roc["model"], roc["cell_line"] = pr.model, pr.cell_line
        roc["label"] = f"{pr.cell_line} ({auroc(pr.y, pr.p):.2f})"
        rocs.append(roc)
        prc = pr_curve_table(pr.y, pr.p)
        prc["model"], prc["cell_line"] = pr.model, pr.cell_line
        prc["label"] = f"{pr.cell_line} ({auprc(pr.y, pr.p):.2f})"
        prs.append(prc)
    return pd.concat(rocs, ignore_index=True), pd.concat(prs, ignore_index=True)


def calibration_tables(preds: Sequence[Prediction], *, n_bins: int = 10) -> pd.DataFrame:
    """Calibration curves (10 bins of predicted probability, with counts) of every set."""
    from chromtransfer_lib.evaluate import calibration_table

    parts = []
    for pr in preds:
        t = calibration_table(pr.y, pr.p, n_bins=n_bins)
        t["model"], t["cell_line"] = pr.model, pr.cell_line
        parts.append(t)
    return pd.concat(parts, ignore_index=True)


def learning_curves(histories: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Long table ``model, fold, epoch, set (training/validation), loss`` of training runs."""
    parts = []
    for model, h in histories.items():
        long = h.melt(
            id_vars=["epoch", "fold"],
            value_vars=["loss", "val_loss"],
            var_name="set",
            value_name="value",
        ).rename(columns={"value": "loss"})
        long["set"] = long["set"].map({"loss": "training", "val_loss": "validation"})
        long["model"] = model
        parts.append(long)
    out = pd.concat(parts, ignore_index=True)
    out["partition"] = "partition " + out["fold"].astype(str)
    return out


def generalisation_gap(
    history: pd.DataFrame, best_epochs: Mapping[int, int] | None = None
) -> float:
    """Validation minus training loss at the epoch early stopping kept, averaged over folds:
    how much a model over-fits when early stopping picks it.

    ``best_epochs`` maps fold → kept epoch (a run's ``best_epoch``); without it, the epoch of
    lowest validation loss (what stopping on the loss keeps)."""
    gaps = []
    for fold, h in history.groupby("fold"):
        if best_epochs is None:
            best = h.loc[h["val_loss"].idxmin()]
        else:
            best = h.loc[h["epoch"] == best_epochs[fold]].iloc[0]
        gaps.append(float(best["val_loss"] - best["loss"]))
    return float(np.mean(gaps))


def flatten_metrics(
    table: pd.DataFrame,
    *,
    prefix_col: str = "model",
    line_col: str = "cell_line",
    keys: Mapping[str, str] | None = None,
    metrics: Sequence[str] = (
        "auroc",
        "auprc",
        "f1_pos",
        "f1_neg",
        "f1_overall",
        "f1_overall_valthr",
        "brier",
        "ece",
    ),
) -> dict[str, float]:
    """``{"<model key>.<line>.test.<metric>": value}`` for :func:`results.save_metrics`."""
    out: dict[str, float] = {}
    for _, row in table.iterrows():
        key = (keys or {}).get(row[prefix_col], row[prefix_col])
        for m in metrics:
            if m in row and pd.notna(row[m]):
                out[f"{key}.{row[line_col]}.test.{m}"] = float(row[m])
    return out

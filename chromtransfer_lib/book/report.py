"""Tidy tables the chapters show: dataset sizes beside the paper's, composition, what was planted.

Each function takes loaded artifacts and returns a DataFrame ready for display or plotnine; no
function here trains or writes anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from chromtransfer_lib.config import CELL_LINES
from chromtransfer_lib.genome.sequence import gc_fraction


def dataset_sizes(finetune: Mapping[str, object]) -> pd.DataFrame:
    """Rows per cell line × split × class (positive/negative) of the fine-tuning sets."""
    rows = []
    for line in CELL_LINES:
        reg = finetune[line].regions
        for (split, y), n in reg.groupby(["split", "y"]).size().items():
            rows.append(
                {
                    "cell_line": line,
                    "split": split,
                    "class": "positive" if y == 1 else "negative",
                    "n": int(n),
                }
            )
    return pd.DataFrame(rows)


def sizes_vs_paper(
    finetune: Mapping[str, object],
    *,
    paper_positives: Mapping[str, int],
    paper_negatives: Mapping[str, int],
) -> pd.DataFrame:
    """Per line: the paper's positives/negatives and ratio beside this run's (train + test)."""
    rows = []
    for line in CELL_LINES:
        y = finetune[line].labels
        pos, neg = int((y == 1).sum()), int((y == 0).sum())
        rows.append(
            {
                "cell line": line,
                "paper positives": paper_positives[line],
                "paper negatives": paper_negatives[line],
                "paper neg:pos": round(paper_negatives[line] / paper_positives[line], 2),
                "this run positives": pos,
                "this run negatives": neg,
                "this run neg:pos": round(neg / max(pos, 1), 2),
                "share of positives (paper)": round(
                    paper_positives[line] / sum(paper_positives.values()), 3
                ),
                "share of positives (this run)": np.nan,
            }
        )
    df = pd.DataFrame(rows)
    total = df["this run positives"].sum()
    df["share of positives (this run)"] = (df["this run positives"] / max(total, 1)).round(3)
    return df


def gc_by_group(pretrain: object, finetune: Mapping[str, object]) -> pd.DataFrame:
    """GC fraction of every sequence, labelled by group, for composition plots.

    Groups: pre-training positives (rDHS) and negatives (genome background), and each line's
    fine-tuning positives.
    """
    parts = []
    y = pretrain.labels
    for label, mask in (("rDHS (pre-training +)", y == 1), ("background (pre-training −)", y == 0)):
        gc = gc_fraction(np.asarray(pretrain.codes[np.flatnonzero(mask)]))
        parts.append(pd.DataFrame({"group": label, "gc": gc}))
    for line in CELL_LINES:
        ds = finetune[line]
        gc = gc_fraction(np.asarray(ds.codes[np.flatnonzero(ds.labels == 1)]))
        parts.append(pd.DataFrame({"group": f"{line} +", "gc": gc}))
    out = pd.concat(parts, ignore_index=True)
    out["group"] = pd.Categorical(out["group"], categories=list(dict.fromkeys(out["group"])))
    return out


def planted_summary(ground_truth: pd.DataFrame) -> pd.DataFrame:
    """Planted sites per region class × role (the simulated world's ground truth)."""
    tab = ground_truth.groupby(["region_class", "role"]).size().rename("sites").reset_index()
    per_region = (
        ground_truth[ground_truth["region"] != "."].groupby(["region_class", "region"]).size()
    )
    mean = per_region.groupby("region_class").mean().rename("mean sites per region")
    return tab.merge(mean.round(1).reset_index(), on="region_class", how="left")


def drivers_table(motifs: pd.DataFrame) -> pd.DataFrame:
    """The driver matrices of each line (from the world's ``motifs.tsv``)."""
    d = motifs[motifs["role"] == "driver"].copy()
    return (
        d.groupby("driver_of")
        .agg(drivers=("name", ", ".join), matrix_ids=("matrix_id", ", ".join))
        .reindex(CELL_LINES)
        .reset_index()
        .rename(columns={"driver_of": "cell line"})
    )


class Prediction(NamedTuple):
    """One model's test-set predictions for one cell line (or the pre-training task)."""

    model: str
    cell_line: str
    y: np.ndarray
    p: np.ndarray
    threshold: float | None = None
    """A decision threshold chosen on validation data (``None``: report 0.5 only)."""


def score_predictions(preds: Sequence[Prediction]) -> pd.DataFrame:
    """Metrics of every prediction set: AUROC, AUPRC, per-class and overall F1 (at 0.5 and at
    the validation-chosen threshold), Brier score and ECE."""
    from chromtransfer_lib.evaluate import binary_metrics

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


def retention_sentence(
    retention: pd.DataFrame, n_train: pd.Series, *, paper_n: pd.DataFrame, fraction: float = 0.05
) -> str:
    """What the Table 1 grid shows at ``fraction``: each model's share of its full-data AUROC
    gain over chance, the training-set size behind it, and the paper's size at that fraction.

    ``retention``: fraction × model (labels) from the chapter; ``n_train``: mean training rows
    per fraction; ``paper_n``: the paper's Table 1 with ``fraction`` and ``training sequences``.
    """
    if fraction not in retention.index:
        return f"This profile's grid has no {fraction:.0%} subset."
    row = retention.loc[fraction].dropna()
    paper = paper_n.set_index("fraction")["training sequences"].get(fraction)
    kept = ", ".join(f"{model} {val:.0%}" for model, val in row.items())
    text = (
        f"At {fraction:.0%} of the data ({n_train.get(fraction, float('nan')):.0f} training "
        f"sequences; the paper's {fraction:.0%} was {paper:,}), the share of the full-data AUROC "
        f"gain over chance each model kept was: {kept}."
    )
    if len(row) == 2:
        ft, sc = row.iloc[0], row.iloc[1]
        verdict = (
            "ChromTransfer keeps clearly more, as in the paper"
            if ft >= sc + 0.1
            else "the two do not differ clearly here, unlike the paper"
        )
        text += f" So {verdict}."
    n = n_train.get(fraction, float("nan"))
    if row.iloc[0] < 0.8 and paper and n > 0:
        text += (
            f" The paper lost little at {fraction:.0%}; this run loses more, with subsets "
            f"{paper / n:.0f} times smaller than the paper's."
        )
    return text

# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 4. Over-fitting and calibration
#
# The paper argues that transfer learning does not just score better: it learns *better*. The
# binary baselines over-fit — validation loss stops improving after a few epochs while training
# loss keeps falling — and their predicted probabilities are poorly calibrated on the test set;
# the fine-tuned models show neither problem (Fig 2A–D, Supplementary Fig S2).
#
# **Needs:** the models of chapter 3 (trained here if missing). **Writes:** metrics only.

# %% tags=["parameters"]
profile = "quick"
run_dir = None

# %%

import pandas as pd
import plotnine as p9
from myst_nb import glue

from chromtransfer_lib.book import plots, report, results, stages
from chromtransfer_lib.config import CELL_LINES

ctx = stages.start_chapter(profile, run_dir)
prof = ctx.profile
datasets = stages.ensure_datasets(ctx, stages.ensure_world(ctx))
pre = stages.ensure_pretrained(ctx, datasets)
trained = stages.train_in_parallel(ctx, datasets)  # no-op once chapter 3 has run
cvs = {
    (kind, line): stages.ensure_line_model(ctx, datasets, pre, line=line, kind=kind)
    for kind in stages.MODEL_KINDS
    for line in CELL_LINES
}

# %% [markdown]
# ## Learning curves of the HepG2 models (Fig 2A–B)

# %%
curves = report.learning_curves(
    {stages.KIND_LABELS[k]: cvs[(k, "HepG2")].histories for k in stages.MODEL_KINDS}
)
curves["model"] = pd.Categorical(curves["model"], categories=list(stages.KIND_LABELS.values()))
(
    p9.ggplot(curves, p9.aes("epoch", "loss", colour="set", linetype="partition"))
    + p9.geom_line(size=0.9)
    + p9.geom_point(size=1.2)
    + p9.facet_wrap("~model", scales="free_y")
    + p9.scale_colour_manual({"training": "#0072B2", "validation": "#D55E00"})
    + p9.labs(
        y="binary cross-entropy",
        colour="",
        linetype="",
        title="HepG2: training and validation loss",
    )
    + plots.theme_book()
    + p9.theme(figure_size=(9, 3.8))
)

# %% [markdown]
# A model over-fits when validation loss rises above training loss. We summarise each run by
# the gap between the two at the epoch early stopping kept, and by that epoch:


# %%
def _gap_row(kind: str, line: str) -> dict:
    cv = cvs[(kind, line)]
    kept = dict(zip(cv.per_fold["fold"], cv.per_fold["best_epoch"], strict=True))
    return {
        "cell_line": line,
        "model": stages.KIND_LABELS[kind],
        "gap (val − train loss)": report.generalisation_gap(cv.histories, kept),
        "best epoch": int(cv.per_fold["best_epoch"].iloc[0]),
        "epochs run": int(cv.per_fold["epochs_run"].iloc[0]),
    }


gaps = pd.DataFrame([_gap_row(kind, line) for kind in stages.MODEL_KINDS for line in CELL_LINES])
gap_table = gaps.pivot_table(
    index="cell_line",
    columns="model",
    values=["gap (val − train loss)", "best epoch"],
    observed=True,
)
gap_table.round(3)

# %%
mean_gap = gaps.groupby("model")["gap (val − train loss)"].mean()
glue("gap_ft", f"{mean_gap['ChromTransfer']:+.3f}", display=False)
glue("gap_bl", f"{mean_gap['binary baseline']:+.3f}", display=False)

# %% [markdown]
# Averaged over the six lines, the gap is {glue:text}`gap_ft` for ChromTransfer and
# {glue:text}`gap_bl` for the binary baseline.

# %% [markdown]
# ## Calibration on the test set (Fig 2C–D, Supplementary Fig S2)
#
# Test predictions are binned into 10 bins of predicted probability; a calibrated model's
# observed fraction of positives equals its mean prediction in every bin (the diagonal). The
# paper shows curves only; we add the Brier score and the expected calibration error (ECE:
# the bin-size-weighted mean distance from the diagonal).

# %%
preds = []
for (kind, line), cv in cvs.items():
    ds = datasets.finetune[line]
    preds.append(
        report.Prediction(
            stages.KIND_LABELS[kind],
            line,
            ds.labels[ds.subset(split="test")],
            cv.test_proba.mean(axis=1),
        )
    )
calib = report.calibration_tables(preds)
calib["model"] = pd.Categorical(calib["model"], categories=list(stages.KIND_LABELS.values()))
calib = calib[calib["count"] > 0]
(
    p9.ggplot(calib, p9.aes("mean_pred", "frac_pos", colour="cell_line"))
    + p9.geom_abline(linetype="dashed", colour="#999999")
    + p9.geom_line(size=0.9)
    + p9.geom_point(p9.aes(size="count"), alpha=0.7)
    + p9.facet_wrap("~model")
    + p9.scale_colour_manual(plots.CELL_LINE_COLOURS, breaks=list(plots.CELL_LINE_COLOURS))
    + p9.scale_size_area(max_size=5)
    + p9.coord_equal(xlim=(0, 1), ylim=(0, 1))
    + p9.labs(
        x="mean predicted probability",
        y="observed fraction of positives",
        colour="",
        size="sequences",
        title="Test-set calibration",
    )
    + plots.theme_book()
    + p9.theme(figure_size=(9, 4.2))
)

# %% [markdown]
# Sequences per bin (Supplementary Fig S2):

# %%
(
    p9.ggplot(calib, p9.aes("factor(bin)", "cell_line", fill="count"))
    + p9.geom_tile(colour="white")
    + p9.geom_text(p9.aes(label="count"), size=7)
    + p9.facet_wrap("~model")
    + p9.scale_fill_gradient(low="#f0f0f0", high="#0072B2", trans="log10")
    + p9.labs(x="probability bin (0 = [0, 0.1) … 9 = [0.9, 1])", y="", fill="sequences")
    + plots.theme_book()
    + p9.theme(figure_size=(10, 3.5))
)

# %%
scores = report.score_predictions(preds)
cal_table = scores.pivot_table(
    index="cell_line", columns="model", values=["brier", "ece"], observed=True
).round(3)
ece = scores.pivot_table(index="cell_line", columns="model", values="ece", observed=True)
glue("ece_better", int((ece["ChromTransfer"] < ece["binary baseline"]).sum()), display=False)
cal_table

# %% [markdown]
# ChromTransfer has the lower ECE on {glue:text}`ece_better` of 6 lines in this run.

# %%
results.save_metrics(
    ctx.run_dir,
    "04_overfitting_calibration",
    {
        f"overfit.{r['cell_line']}.{k}.gap": r["gap (val − train loss)"]
        for _, r in gaps.iterrows()
        for k in stages.MODEL_KINDS
        if stages.KIND_LABELS[k] == r["model"]
    },
)

# %% [markdown]
# ## Summary
#
# Chapter 5 asks how little data fine-tuning needs.
#
# **Re-run this chapter:** `chromtransfer book --profile quick --chapter 04`, or with papermill:
# `papermill book/chapters/04_overfitting_calibration.ipynb out.ipynb -p profile quick
# -p run_dir runs/quick`.

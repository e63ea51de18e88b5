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

# %% tags=["hide-input"]
from myst_nb import glue

from chromtransfer_lib.book import figures, report, results, stages, tables
from chromtransfer_lib.config import CELL_LINES

ctx = stages.start_chapter(profile, run_dir)
datasets = stages.ensure_datasets(ctx, stages.ensure_world(ctx))
pre = stages.ensure_pretrained(ctx, datasets)
trained = stages.train_in_parallel(ctx, datasets)  # no-op once chapter 3 has run
line_models = {
    (kind, line): stages.ensure_line_model(ctx, datasets, pre, line=line, kind=kind)
    for kind in stages.MODEL_KINDS
    for line in CELL_LINES
}
run = report.Run(ctx, datasets=datasets, pretrain=pre, line_models=line_models)
for name, value in tables.overfitting_numbers(run).items():
    glue(name, value, display=False)

# %% [markdown]
# ## Learning curves of the HepG2 models (Fig 2A–B)

# %%
figures.fig2ab(run, line="HepG2")

# %% [markdown]
# A model over-fits when validation loss rises above training loss. We summarise each run —
# every cross-validation fold the profile trains, one row each — by the gap between the two at
# the epoch early stopping kept, by that epoch, and by how many epochs ran:

# %%
tables.overfitting(run)

# %% [markdown]
# Averaged over the folds and the {glue:text}`n_lines` lines, the gap is
# {glue:text}`gap_ft:+.3f` for ChromTransfer and {glue:text}`gap_bl:+.3f` for the binary
# baseline.

# %% [markdown]
# ## Calibration on the test set (Fig 2C–D, Supplementary Fig S2)
#
# Test predictions are binned into 10 bins of predicted probability; a calibrated model's
# observed fraction of positives equals its mean prediction in every bin (the diagonal). The
# paper shows curves only; we add the Brier score and the expected calibration error (ECE:
# the bin-size-weighted mean distance from the diagonal).

# %%
figures.fig2cd(run)

# %% [markdown]
# Sequences per bin (Supplementary Fig S2):

# %%
figures.figs2(run)

# %%
tables.calibration(run)

# %% [markdown]
# ChromTransfer has the lower ECE on {glue:text}`ece_better` of {glue:text}`n_lines` lines in
# this run.

# %% tags=["hide-input"]
saved = results.save_metrics(
    run.run_dir, "04_overfitting_calibration", tables.overfitting_metrics(run)
)

# %% [markdown]
# ## Summary
#
# Chapter 5 asks how little data fine-tuning needs.
#
# **Re-run this chapter:** `chromtransfer book --profile quick --chapter 04`, or with papermill:
# `papermill book/chapters/04_overfitting_calibration.ipynb out.ipynb -p profile quick
# -p run_dir runs/quick`.

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
# :::{admonition} Learning objectives
# :class: objectives
#
# After this chapter you can:
#
# * read a learning curve for signs of over-fitting: the gap between validation and training loss
#   at the epoch early stopping kept;
# * read a calibration curve, and say what the Brier score and the expected calibration error
#   (ECE) measure;
# * say which model is better calibrated in this run, ChromTransfer or the binary baseline, and on
#   how many lines.
# :::
#
# **Needs:** the models of chapter 3 (trained here if missing). **Writes:** metrics only.
#
# **Time:** {glue:text}`chapter_minutes:.1f` min ({glue:text}`chapter_seconds:.0f` s) from the
# set-up cell to the last cell, in the run that rendered this page (profile
# {glue:text}`chapter_profile`). Models this chapter trained:
# {glue:text}`chapter_models_trained`; trained models already in the run directory (from earlier
# chapters, an earlier run or a fetched archive), not trained again:
# {glue:text}`chapter_models_found`.
#
# The paper argues that transfer learning does not just score better: it learns *better*. The
# binary baselines over-fit — validation loss stops improving after a few epochs while training
# loss keeps falling — and their predicted probabilities are poorly calibrated on the test set;
# the fine-tuned models show neither problem (Fig 2A–D, Supplementary Fig S2).

# %% tags=["parameters"]
profile = "quick"
run_dir = None

# %% tags=["hide-input"]
from myst_nb import glue

from chromtransfer_lib.book import exercises, figures, report, results, stages, tables
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

# %% tags=["hide-input"]
for name, value in exercises.overfitting_answers(run).items():  # numbers the solutions quote
    glue(name, value, display=False)

# %% [markdown]
# ## Exercises
#
# ::::{exercise} K562's learning curves
# :label: ex-04-k562
#
# Draw the learning curves of the K562 models: `figures.fig2ab(run, line="K562")`. Which
# model has the larger gap between validation and training loss at its kept epoch?
# ::::
#
# ::::{solution} ex-04-k562
# :class: dropdown
#
# Averaged over this profile's folds, the gap is {glue:text}`ex_gap_ft_K562:+.3f` for
# ChromTransfer and {glue:text}`ex_gap_bl_K562:+.3f` for the binary baseline (the K562 rows of
# the table above). A positive gap means the model fits its training data better than unseen
# data, the mark of over-fitting; a negative one is common at the first epochs, as the training
# loss is measured with dropout on. Over all lines the means are {glue:text}`gap_ft:+.3f` and
# {glue:text}`gap_bl:+.3f`.
# ::::
#
# ::::{exercise} Five bins
# :label: ex-04-bins
#
# Bin the HepG2 test predictions into 5 bins instead of 10:
# `report.calibration_tables(report.ensemble_predictions(run, line="HepG2"), n_bins=5)`. How
# many rows does each model get, what do its counts add up to, and does the ECE stay the same?
# ::::
#
# ::::{solution} ex-04-bins
# :class: dropdown
#
# Five rows per model, bins of width 0.2 (an empty bin has no mean). Each model's counts
# still add up to its {glue:text}`ex_n_test_HepG2` test rows, since every prediction falls into
# exactly one bin. The ECE changes with the binning, in no fixed direction: for HepG2,
# ChromTransfer's is {glue:text}`ex_ece10_ft:.3f` with 10 bins and {glue:text}`ex_ece5_ft:.3f`
# with 5, the baseline's {glue:text}`ex_ece10_bl:.3f` and {glue:text}`ex_ece5_bl:.3f`
# (`evaluate.expected_calibration_error(y, p, n_bins=5)`). Compare models by ECE at one binning
# only.
# ::::

# %% tags=["hide-input"]
for name, value in stages.chapter_timing(ctx).items():  # the header's **Time:** line
    glue(name, value, display=False)

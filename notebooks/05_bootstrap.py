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
# # 5. How little data does fine-tuning need? (Table 1, Fig 2E)
#
# :::{admonition} Learning objectives
# :class: objectives
#
# After this chapter you can:
#
# * describe the Table 1 grid: training fractions × repetitions, each a resumable unit with its
#   own folder;
# * say how a unit's validation data are chosen (`bootstrap.subsample_validation`) and why that
#   matters for early stopping on small subsets;
# * measure how much of its full-data advantage over chance a model keeps on a subset (retention),
#   for ChromTransfer and for the baseline trained on the same subsets.
# :::
#
# **Needs:** the pre-trained model (chapter 2) and the 100 % models (chapter 3), trained here if
# missing. **Writes:** the grid's units under `models/` in the run directory.
#
# **Time:** {glue:text}`chapter_minutes:.1f` min ({glue:text}`chapter_seconds:.0f` s) from the
# set-up cell to the last cell, in the run that rendered this page (profile
# {glue:text}`chapter_profile`). Models this chapter trained:
# {glue:text}`chapter_models_trained`; trained models already in the run directory (from earlier
# chapters, an earlier run or a fetched archive), not trained again:
# {glue:text}`chapter_models_found`.
#
# The paper subsampled the HepG2 training data to
# {glue:text}`paper_lowest:.0%`–{glue:text}`paper_highest:.0%` ({glue:text}`paper_reps`
# repetitions each), fine-tuned the pre-trained model on each subsample and scored it on the
# full test set. With
# {glue:text}`goal_fraction:.0%` of the data the mean overall F1 dropped by only
# {glue:text}`paper_drop:.2f`. We run the same grid at this profile's size, and go
# one step further than the paper where the profile asks for it: the binary baseline is trained
# on the very same subsets (at the profile's `bootstrap.scratch_fractions`), so the two can be
# compared where it matters.
#
# Each grid cell is a resumable unit with its own folder: a killed run continues where it
# stopped, and `chromtransfer bootstrap --shard i/n` splits the grid across processes or a job
# array.

# %% tags=["parameters"]
profile = "quick"
run_dir = None

# %% tags=["hide-input"]
from myst_nb import glue

from chromtransfer_lib.book import exercises, results, stages, table1

ctx = stages.start_chapter(profile, run_dir)
grid = table1.ensure_grid(ctx)
results.save_metrics(ctx.run_dir, "05_bootstrap", table1.metrics(grid))  # read by chapter 9
for name, value in table1.facts(grid).items():
    glue(name, value, display=False)

# %% [markdown]
# ## The grid
#
# {glue:text}`n_units` units: ChromTransfer at {glue:text}`fractions` of the {glue:text}`line`
# training data, and the binary baseline on the same subsets at {glue:text}`scratch_fractions`
# ("—" when the profile trains ChromTransfer only, like the paper); {glue:text}`reps`
# repetitions of each:

# %%
table1.grid_table(grid)

# %% [markdown]
# Validation data follow the profile's `bootstrap.subsample_validation`
# ({glue:text}`subsample_validation` here). When it is true, each unit's validation set is
# subsampled with its training set, as the paper subsampled all of its non-test data. When it
# is false, every unit validates on the whole validation fold ({glue:text}`n_valid`
# sequences): a {glue:text}`smallest:.0%` subsample of it would hold
# {glue:text}`n_valid_smallest`, and early stopping on so few is noise. Small subsets are
# repeated within an epoch so that every unit gets at least {glue:text}`min_steps` optimiser
# steps (`bootstrap.min_steps`; 0 means no minimum).
#
# ## Table 1
#
# Mean and standard deviation over the repetitions of each cell, on the full test set; the
# 100 % rows are chapter 3's models (one fold ensemble each, so no sd).

# %%
table1.table_1(grid)

# %% [markdown]
# The paper's Table 1 (HepG2, ChromTransfer), for comparison:

# %%
table1.paper_table()

# %% [markdown]
# ## Fig 2E — and the baseline on the same subsets

# %%
table1.fig2e(grid)

# %% [markdown]
# ## Retention of performance
#
# How much of the full-data model's advantage over chance (AUROC − 0.5) does each model keep at
# each fraction?

# %%
table1.retention(grid).round(3)

# %% [markdown]
# At {glue:text}`goal_fraction:.0%` of the data ({glue:text}`goal_n_train:.0f` training
# sequences; the paper's {glue:text}`goal_fraction:.0%` subset held
# {glue:text}`goal_paper_n_train:,.0f`, {glue:text}`goal_size_ratio:.0f` times more),
# ChromTransfer kept {glue:text}`goal_retention_ft:.0%` of its full-data AUROC gain over chance
# and the binary baseline {glue:text}`goal_retention_scratch:.0%` (nan: not trained at this
# fraction). At its smallest fraction, {glue:text}`smallest_ft_fraction:.0%`, ChromTransfer
# reached a mean test AUROC of {glue:text}`smallest_auroc_ft:.3f`, against
# {glue:text}`smallest_pretrained_auroc:.3f` for the pre-trained model without fine-tuning and
# {glue:text}`smallest_baseline_full_auroc:.3f` for the binary baseline trained on all the data
# (the paper's 1 % models beat both in overall F1). The book's data-efficiency
# criterion (`retention_5pct` in `claims.yaml`, the calibration's criterion 3) asks
# ChromTransfer to keep at least {glue:text}`goal_retention:.0%` while the baseline, trained on
# the same subsets, keeps less than {glue:text}`goal_baseline:.0%`, and at the smallest
# fraction to beat the pre-trained model and come within {glue:text}`goal_smallest_gap:.2f` of
# the full-data baseline: here it is **{glue:text}`goal_outcome`**.
# The paper lost little at {glue:text}`goal_fraction:.0%`; the calibration appendix shows how
# much of a shortfall here comes from the subsets' absolute size.

# %% [markdown]
# ## Summary
#
# Chapters 6 and 7 ask what the fine-tuned models look at.
#
# **Re-run this chapter:** `chromtransfer book --profile quick --chapter 05`; the grid alone:
# `chromtransfer bootstrap --profile quick [--shard i/n]`; with papermill:
# `papermill book/chapters/05_bootstrap.ipynb out.ipynb -p profile quick -p run_dir runs/quick`.

# %% tags=["hide-input"]
for name, value in exercises.bootstrap_answers(ctx).items():  # numbers the solutions quote
    glue(name, value, display=False)

# %% [markdown]
# ## Exercises
#
# ::::{exercise} Three times the repetitions
# :label: ex-05-repetitions
#
# Ask what a grid with three times the repetitions
# ({glue:text}`ex_reps` → {glue:text}`ex_reps_3x`, `bootstrap.repetitions`) would train in
# this run directory:
#
# ```python
# more = ctx.derive({"bootstrap.repetitions": 3 * ctx.profile.bootstrap.repetitions})
# stages.pending_jobs(more, line_models=False, bootstrap=True)
# ```
#
# Would the units this run trained be reused?
# ::::
#
# ::::{solution} ex-05-repetitions
# :class: dropdown
#
# No. The grid would have {glue:text}`ex_units_3x` units instead of
# {glue:text}`n_units` (the same fractions, three times the repetitions), and
# {glue:text}`ex_pending_3x` of them are pending: the grid's folder is keyed by the whole
# `bootstrap` section, so another repetition count starts a new grid instead of adding to this
# one. Table 1's standard deviations would then come from {glue:text}`ex_reps_3x` repetitions
# per cell.
# ::::
#
# ::::{exercise} Subsampled validation
# :label: ex-05-validation
#
# Flip `bootstrap.subsample_validation` ({glue:text}`subsample_validation` here) and run
# this chapter at that profile (the introduction's *Teaching with this book* says how; the grid
# is trained again). What do the smallest units validate on?
# ::::
#
# ::::{solution} ex-05-validation
# :class: dropdown
#
# With `true`, each unit's validation set is subsampled with its training set: at
# {glue:text}`smallest:.0%`, about {glue:text}`n_valid_smallest` sequences; with `false`, every
# unit validates on the whole fold, {glue:text}`n_valid` sequences. On a validation subsample
# that small, early stopping follows noise, so the smallest units may keep other epochs than
# before; which way their test AUROC moves is an empirical question, which the calibration
# appendix answers for the `quick` world (retention with a subsampled and with the whole
# validation fold).
# ::::

# %% tags=["hide-input"]
for name, value in stages.chapter_timing(ctx).items():  # the header's **Time:** line
    glue(name, value, display=False)

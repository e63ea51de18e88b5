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
# # 2. Pre-training: open chromatin of any cell type
#
# :::{admonition} Learning objectives
# :class: objectives
#
# After this chapter you can:
#
# * describe the paper's ResNet-like network and count its parameters at a profile's widths;
# * read learning curves, and say which epoch early stopping keeps and why;
# * read ROC and precision–recall curves of the training, validation and test data;
# * explain why the pre-training task leaves out every rDHS accessible in the six cell lines.
# :::
#
# **Needs:** the datasets of chapter 1 (built here if missing). **Writes:** the pre-trained
# model(s) under `models/` in the run directory, reused by chapters 3–7.
#
# **Time:** {glue:text}`chapter_minutes:.1f` min ({glue:text}`chapter_seconds:.0f` s) from the
# set-up cell to the last cell, in the run that rendered this page (profile
# {glue:text}`chapter_profile`). Models this chapter trained:
# {glue:text}`chapter_models_trained`; trained models already in the run directory (from earlier
# chapters, an earlier run or a fetched archive), not trained again:
# {glue:text}`chapter_models_found`.
#
# The pre-trained model learns what makes DNA open chromatin in *any* cell type: it separates
# rDHSs (positives) from genome background (negatives), after every rDHS accessible in one of
# the six cell lines has been removed — so the fine-tuned models later meet data the
# pre-trained model has not seen (paper, Methods).
#
# The network is the paper's ResNet-like CNN: a 25 bp convolution, a residual block, three
# merged identity blocks, a second residual block, three identity blocks, two convolutions,
# global average pooling and a 512/128 dense head (widths are parameters; the profile sets
# them). It is trained with Adam and early stopping on validation loss, one model per
# cross-validation partition; chromosomes 2 and 3 are the test set.

# %% tags=["parameters"]
profile = "quick"
run_dir = None

# %% tags=["hide-input"]
from myst_nb import glue

from chromtransfer_lib.book import exercises, figures, report, results, stages, tables

ctx = stages.start_chapter(profile, run_dir)
datasets = stages.ensure_datasets(ctx, stages.ensure_world(ctx))
run = report.Run(ctx, datasets=datasets, pretrain=stages.ensure_pretrained(ctx, datasets))
for name, value in tables.pretraining_numbers(run).items():
    glue(name, value, display=False)

# %% [markdown]
# ## The network

# %%
tables.network(run)

# %% [markdown]
# At this profile's widths the network has {glue:text}`n_params:,d` parameters and reads
# {glue:text}`seq_len` bp (at the paper's widths and 600 bp: 655,777, a count the test suite
# checks).

# %% [markdown]
# ## Training
#
# One model per cross-validation partition the profile runs: the epoch early stopping kept
# for each, how many epochs ran, the gap between validation and training loss at the kept
# epoch (positive: the model fits its training data better than unseen data), and each fold
# model's test metrics.

# %%
tables.pretraining_folds(run)

# %% [markdown]
# ### Learning curves

# %%
figures.pretraining_learning_curves(run)

# %% [markdown]
# ## ROC and precision–recall curves (Fig 1D–E)
#
# As in the paper's Fig 1D–E: training, validation and test data of the first partition's model.

# %%
figures.fig1d(run)

# %%
figures.fig1e(run)

# %% [markdown]
# ## Test-set performance

# %%
tables.pretraining_performance(run)

# %% [markdown]
# On the test chromosomes this run's pre-trained model reaches AUROC
# {glue:text}`pre_auroc:.2f` and AUPRC {glue:text}`pre_auprc:.2f` (mean prediction of
# {glue:text}`n_folds_run` partition model(s)); the paper reports
# {glue:text}`paper_pre_auroc:.2f` and {glue:text}`paper_pre_auprc:.2f` on the real genome. The
# two are not directly comparable — a simulated world is not the human genome — but they answer
# the same question: has the network learned the sequence code of open chromatin well enough
# to be a starting point?

# %% tags=["hide-input"]
saved = results.save_metrics(run.run_dir, "02_pretraining", tables.pretraining_metrics(run))

# %% [markdown]
# ## Summary
#
# The pre-trained model is cached in the run directory; chapter 3 copies its trunk into six
# cell-type-specific models.
#
# **Re-run this chapter:** `chromtransfer book --profile quick --chapter 02`, or with papermill:
# `papermill book/chapters/02_pretraining.ipynb out.ipynb -p profile quick -p run_dir runs/quick`.

# %% tags=["hide-input"]
for name, value in exercises.pretraining_answers(run).items():  # numbers the solutions quote
    glue(name, value, display=False)

# %% [markdown]
# ## Exercises
#
# ::::{exercise} A wider stem
# :label: ex-02-stem
#
# `model.stem_filters` sets the width of the network's first convolution
# ({glue:text}`ex_stem_filters` filters at this profile). Count the parameters of the network
# with twice as many, without training it:
#
# ```python
# wide = ctx.derive({"model.stem_filters": 2 * ctx.profile.model.stem_filters})
# tables.network(report.Run(wide))
# ```
#
# Which part of the network grows, the trunk or the head?
# ::::
#
# ::::{solution} ex-02-stem
# :class: dropdown
#
# Only the trunk: {glue:text}`ex_trunk_params:,d` → {glue:text}`ex_trunk_params_2x:,d`
# parameters, while the head keeps {glue:text}`ex_head_params:,d` (→
# {glue:text}`ex_head_params_2x:,d`). The stem feeds the first residual block; the head sees
# only the pooled channels of the last convolution (`model.top_filters`). `ctx.derive` only
# describes the profile: training the wider network means running chapters 2–7 at it, and every
# model's folder is keyed by the `model` section, so nothing of this run would be reused.
# ::::
#
# ::::{exercise} One epoch
# :label: ex-02-epochs
#
# Pre-train with `pretrain.max_epochs: 1` (this profile: {glue:text}`ex_pretrain_max_epochs`),
# either by re-running this chapter at such a profile (the introduction's *Teaching with this
# book*) or by training only that model here:
#
# ```python
# short = ctx.derive({"pretrain.max_epochs": 1})
# tables.pretraining_folds(report.Run(short, datasets=datasets,
#                                     pretrain=stages.ensure_pretrained(short, datasets)))
# ```
#
# What do the fold table and the learning curves show?
# ::::
#
# ::::{solution} ex-02-epochs
# :class: dropdown
#
# Every fold runs exactly one epoch, so early stopping has nothing to choose: epochs run
# and the kept epoch are both the first, and each learning curve is a single point per set. The
# model goes to a new folder (`models/pretrain-<hash>`, keyed by the `pretrain` section) beside
# this chapter's, which is left as it was; chapters 3–7 at that profile would fine-tune from
# the one-epoch model. Whether its test AUROC is lower than the
# {glue:text}`pre_auroc:.2f` above depends on how much this profile's training still gained after
# its first epoch: the learning curves above show it.
# ::::

# %% tags=["hide-input"]
for name, value in stages.chapter_timing(ctx).items():  # the header's **Time:** line
    glue(name, value, display=False)

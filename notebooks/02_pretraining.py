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
#
# **Needs:** the datasets of chapter 1 (built here if missing). **Writes:** the pre-trained
# model(s) under `models/` in the run directory, reused by chapters 3–7.

# %% tags=["parameters"]
profile = "quick"
run_dir = None

# %% tags=["hide-input"]
from myst_nb import glue

from chromtransfer_lib.book import figures, report, results, stages, tables

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

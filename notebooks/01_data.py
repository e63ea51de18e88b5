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
# # 1. Data
#
# :::{admonition} Learning objectives
# :class: objectives
#
# After this chapter you can:
#
# * describe the data ChromTransfer learns from: rDHSs against genome background for pre-training,
#   and six cell-type-specific sets for fine-tuning;
# * read a JASPAR matrix as a sequence logo, and say why a short matrix can never reach a
#   stringent scanning threshold;
# * explain what the simulated world plants in each line's regions, and why that lets the book
#   check its own conclusions;
# * check a dataset's class sizes, splits and GC content before training on it.
# :::
#
# **Needs:** nothing from earlier chapters. **Writes:** the world and the dataset artifacts in
# the run directory, reused by every later chapter.
#
# **Time:** {glue:text}`chapter_minutes:.1f` min ({glue:text}`chapter_seconds:.0f` s) from the
# set-up cell to the last cell, in the run that rendered this page (profile
# {glue:text}`chapter_profile`). Datasets this chapter built:
# {glue:text}`chapter_datasets_built`; datasets already in the run directory (from an earlier run or
# a fetched archive), not built again: {glue:text}`chapter_datasets_found`.
#
# ChromTransfer learns which DNA sequence features make a region open chromatin. In the
# paper, those features turn out to be transcription-factor (TF) binding sites: HNF4A and
# CEBP sites for the liver line HepG2, GATA sites for the erythroleukaemia line K562. This
# chapter starts from the same motif database the paper used to interpret its models —
# **JASPAR 2022, CORE collection, vertebrates** — which `pyjaspar` ships offline.
#
# This chapter then builds the data every later chapter learns from: a genome, the
# pre-training regions (rDHSs against genome background) and six cell-type-specific
# fine-tuning sets — from a simulated, ENCODE-like world by default, or from the paper's real
# files with the `paper` profile.

# %% [markdown]
# **In Google Colab?** The next cell installs this book's library from its repository with
# `pip install git+<repository>` (the install the README gives); anywhere else it does nothing.
# Colab cannot open the chapters from the repository itself, because they are generated, not
# committed: download this page's notebook (the download button at the top, `.ipynb`) and
# upload it in Colab (File → Upload notebook), then run the cells in order. If pip replaces
# packages Colab had already loaded, restart the runtime when Colab asks and run on from the
# parameters cell.

# %% tags=["colab-install", "hide-input"]
import subprocess
import sys

REPOSITORY = None  # this book's repository: `chromtransfer book` writes it in when it knows it
if "google.colab" in sys.modules:
    if REPOSITORY is None:
        raise RuntimeError(
            "this notebook was rendered without a known repository: install the library with "
            "`pip install git+<the book's repository URL>`, then run the following cells"
        )
    subprocess.run([sys.executable, "-m", "pip", "install", f"git+{REPOSITORY}"], check=True)

# %% tags=["parameters"]
profile = "quick"
run_dir = None

# %% tags=["hide-input"]
from myst_nb import glue

from chromtransfer_lib.book import exercises, figures, report, results, stages, tables

ctx = stages.start_chapter(profile, run_dir)
inputs = stages.ensure_world(ctx)
print("inputs in", inputs.root)
run = report.Run(ctx, inputs=inputs, datasets=stages.ensure_datasets(ctx, inputs))
for name, value in tables.data_numbers(run).items():
    glue(name, value, display=False)

# %% [markdown]
# ## JASPAR 2022 CORE vertebrates

# %%
tables.jaspar_summary()

# %% [markdown]
# The collection holds {glue:text}`n_matrices` matrices for {glue:text}`n_tfs` distinct TF
# names (some TFs have several matrices, and dimers such as `FOS::JUN` count as one name).

# %% [markdown]
# ## Motifs the paper discusses
#
# Figure 3 of the paper highlights HNF4A and CEBPA (more important after fine-tuning on
# HepG2), OLIG2 (less important: a neural TF), and GATA factors (K562).

# %%
highlight = ["HNF4A", "CEBPA", "GATA1", "OLIG2"]
figures.jaspar_logos(highlight)

# %% [markdown]
# ## Widths and information content
#
# Long, information-rich matrices (CTCF, 19 bp) can reach a stringent scanning threshold
# easily; short ones (6–8 bp) can never reach p < 1e-5. This matters later, when binding sites
# predicted by scanning are ranked by their attribution scores.

# %%
figures.jaspar_widths(highlight)

# %% [markdown]
# ## Why a simulated world?
#
# The paper's inputs — the GRCh38 genome, ENCODE's ~{glue:text}`paper_n_rdhs_millions:.1f`
# million rDHSs and the authors' per-cell-line label files — cannot be downloaded on the
# machines this book is built on, and workshops often have no network. The default profiles
# therefore run on a **deterministic simulation** that writes the same files in the same
# formats: a soft-masked genome FASTA with assembly gaps, an rDHS BED, a blacklist, and six
# label files with rows `chrN:start-end,LABEL`. One code path reads both. To run on the real
# data instead, use the `paper` profile (`make book PROFILE=paper`), which first downloads
# every input listed in `data_manifest/` with checksums (`chromtransfer fetch --all`).
#
# The simulation plants real JASPAR 2022 binding sites: pre-training rDHSs carry a broad
# vocabulary, and each line's specific regions carry that line's **driver** TFs. Because it
# records every planted site, later chapters can check whether the models found them. (On the
# paper's data there is no planted truth, and the three displays below stay empty.)

# %%
tables.drivers(run)

# %% [markdown]
# The drivers of each line, as JASPAR logos (the first two of each line):

# %%
figures.driver_logos(run)

# %% [markdown]
# What was planted, per kind of region (vocabulary sites in pre-training rDHSs; drivers,
# other lines' drivers, generic factors and decoys in cell-type-specific ones; sparse weak
# sites in the background):

# %%
tables.planted(run)

# %% [markdown]
# ## Datasets
#
# The same builders serve the simulated world, the paper's data and your own: regions are
# re-centred to the profile's input length around their midpoints, sequences are extracted
# chromosome by chromosome into memory-mapped `uint8` codes, chromosomes 2 and 3 are the test
# set, and the remaining chromosomes are split into three cross-validation folds. Pre-training
# negatives tile the genome in 600 bp windows away from gaps, the blacklist and rDHSs.

# %%
tables.pretraining_splits(run)

# %% [markdown]
# The pre-training set holds {glue:text}`n_pretrain` sequences of {glue:text}`seq_len` bp.
# Regions dropped on the way, with their reasons, are recorded in each dataset's provenance:

# %%
tables.dropped_regions(run)

# %% [markdown]
# The six fine-tuning sets beside the paper's class sizes. The simulation keeps the paper's
# proportions across lines and its positive:negative ratios (clipped to the
# 1:{glue:text}`paper_neg_per_pos_min:.1f`–1:{glue:text}`paper_neg_per_pos_max:.1f` range the
# paper states), scaled down:

# %%
tables.dataset_sizes(run)

# %%
figures.dataset_sizes(run)

# %% [markdown]
# ### Composition
#
# A model could separate classes by GC content alone rather than by binding sites. The
# simulation compensates planted sites so that a window's GC is unchanged; the boxes below
# show the GC content of each group of sequences the models see.

# %%
figures.gc_content(run)

# %% tags=["hide-input"]
saved = results.save_metrics(run.run_dir, "01_data", tables.data_metrics(run))

# %% [markdown]
# ## Summary
#
# The world and its datasets are built and cached in the run directory. Chapter 2 pre-trains
# the network on the rDHS-versus-background task.
#
# **Re-run this chapter:** `chromtransfer book --profile quick --chapter 01`, or with papermill:
# `papermill book/chapters/01_data.ipynb out.ipynb -p profile quick -p run_dir runs/quick`.

# %% tags=["hide-input"]
for name, value in exercises.data_answers(run).items():  # numbers the solutions quote
    glue(name, value, display=False)

# %% [markdown]
# ## Exercises
#
# ::::{exercise} Every driver
# :label: ex-01-driver-logos
#
# The logos above show the first two drivers of each line. Draw up to five per line:
# `figures.driver_logos(run, per_line=5)`. How many logos does it draw?
# ::::
#
# ::::{solution} ex-01-driver-logos
# :class: dropdown
#
# One logo per driver, up to five per line: {glue:text}`ex_driver_logos_5` logos in this
# run, against {glue:text}`ex_driver_logos_2` with the default `per_line=2`; a line with fewer
# drivers shows all of its own (the table of drivers above lists them). On the paper's data
# nothing was planted, and the call draws nothing.
# ::::
#
# ::::{exercise} Twice the background
# :label: ex-01-negatives
#
# The pre-training set draws `data.pretrain_negatives_per_positive` genome tiles per
# rDHS ({glue:text}`ex_neg_per_pos` here). Run this chapter at a profile with
# `data.pretrain_negatives_per_positive: 2.0` (the introduction's *Teaching with this book* says
# how). What happens to the table of pre-training splits, and what will the later chapters do
# at that profile?
# ::::
#
# ::::{solution} ex-01-negatives
# :class: dropdown
#
# `round(2 × positives)` background tiles are drawn (all qualifying tiles, with a warning,
# if there are fewer), so the splits table's `background` column grows to about twice its `rDHS`
# column, less the tiles dropped for too many N (the dropped-regions table). The pre-training
# dataset gets a new folder under `datasets/`, keyed by its settings; so do the fine-tuning sets,
# whose keys record the pre-training set they are checked against, although their rows do not
# change. Every model's folder is keyed by the profile's `data` section, so chapters 2–7 at that
# profile train every model again, in new folders beside this run's.
# ::::

# %% tags=["hide-input"]
for name, value in stages.chapter_timing(ctx).items():  # the header's **Time:** line
    glue(name, value, display=False)

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
# # Appendix: how the default world was calibrated
#
# :::{admonition} Learning objectives
# :class: objectives
#
# After this chapter you can:
#
# * explain how the default profile was chosen against five criteria fixed in advance, decided by
#   the same rules as the reproduction ledger;
# * read the calibration record: the settings, the seeds and the criteria each run met;
# * say what early stopping watches, and how that changes the comparison of ChromTransfer with the
#   baseline;
# * derive a profile with one key changed, and see what it would train again.
# :::
#
# **Needs:** nothing from this run: it reads the calibration record in `experiments/`
# (`calibration_grid.yaml`, `calibration/*.csv`). **Writes:** nothing.
#
# **Time:** {glue:text}`chapter_minutes:.1f` min ({glue:text}`chapter_seconds:.0f` s) from the
# set-up cell to the last cell, in the run that rendered this page (profile
# {glue:text}`chapter_profile`). It trains nothing: each recorded row is a full book run, made by
# `chromtransfer calibrate`.
#
# A simulated world does not show the paper's results by itself. With sites sampled as-is
# from JASPAR and few optimiser steps nothing is learned; with too strong sites every model
# is perfect and transfer learning has nothing to add. The `quick` profile — the simulation's
# difficulty and the training recipes — is therefore chosen from recorded evidence, against
# five criteria fixed before looking. They are claims of `book/data/claims.yaml`, decided by
# the same rules wherever the book uses them (the first two are also rows of the reproduction
# ledger):

# %% tags=["parameters"]
profile = "quick"
run_dir = None

# %% tags=["hide-input"]
from myst_nb import glue

from chromtransfer_lib.book import calibration_record, claims, exercises, stages
from chromtransfer_lib.book.runner import find_repo_root

ctx = stages.start_chapter(profile, run_dir)
record = calibration_record.load_record(find_repo_root())
for name, value in calibration_record.facts(record).items():
    glue(name, value, display=False)
glue("run_batchnorm_refresh", ctx.profile.finetune.batchnorm_refresh, display=False)

# %%
claims.rules_table(claims.criteria())

# %% [markdown]
# Criterion 4 counts the planted drivers per cluster of look-alike JASPAR matrices (chapter 7
# explains why); the per-matrix counts are recorded beside them, in the `…_matrices` columns.
#
# **Method.** `chromtransfer calibrate --grid experiments/calibration_grid.yaml` runs the real
# book — every chapter, no HTML — for each setting × seed, at a profile derived from `quick`
# by the setting's overrides, and appends one row of metrics per run to
# `experiments/calibration/runs.csv` ({glue:text}`n_runs` rows so far). This page reads that
# record as the runner wrote it and decides the criteria again by today's rules; it trains
# nothing (each row is a full book run).
#
# **Where `quick` stands.** `quick` is setting {glue:text}`chosen` of the grid — the one
# whose rows `calibration.csv` holds — run for {glue:text}`chosen_seeds` seeds. Criterion 1
# holds in {glue:text}`chosen_met_pretrain_auroc` of them, criterion 2 in
# {glue:text}`chosen_met_transfer_auroc`, criterion 3 in {glue:text}`chosen_met_retention_5pct`,
# criterion 4 in {glue:text}`chosen_met_drivers_top5` and criterion 5 in
# {glue:text}`chosen_met_book_minutes`. Each row records the configuration it ran at (a hash
# of the whole profile but its name; `calibration.configuration_id`): of these rows,
# {glue:text}`chosen_at_quick` were run at today's `quick` and {glue:text}`chosen_at_other` at a
# configuration it has since left; {glue:text}`chosen_unidentified` were recorded before rows
# carried the hash, so that the grid's overrides are all that says what they ran. The rest of
# this page shows the runs behind these counts, what failed and why, and what was tried for the
# criteria not met.
#
# ## The settings tried

# %%
calibration_record.settings_table(record)

# %% [markdown]
# ## Every recorded run

# %%
calibration_record.runs_table(record.runs)

# %% [markdown]
# Finished runs of {glue:text}`settings_counted_by_matrix` counted the planted drivers matrix
# by matrix (the code of the time), so their cluster counts are blank and their counts sit in
# the `…_matrices` columns. Which criteria each run meets (`True` = met):

# %%
calibration_record.criteria_by_run(record.runs)

# %% [markdown]
# ## What failed, and why
#
# The first `quick` profile (setting `first`; {glue:text}`first_runs` recorded runs) was tried
# before the runner existed: early stopping ended pre-training soon after a jump of the
# validation loss, and several fine-tuned models were still improving at their epoch limit.
# `steady` trained longer, with more patience and a lower pre-training learning rate, on a
# smaller world to pay for it. Its fine-tuned models still hit their 15-epoch cap, its 5 %
# bootstrap units, early-stopped on validation subsets of a few dozen sequences, kept
# {glue:text}`steady_retention:.2f` of the full-data AUROC gain on average, and its book took
# {glue:text}`steady_minutes:.1f` minutes. `patient` trains the independent models side by
# side in single-threaded processes (the small networks do not use a second core within one
# model, so two processes double the throughput), spends that on 25-epoch caps, validates
# bootstrap units on the whole fold, and trains the baseline in the grid only at 5 %. Its
# 300-step minimum, spread over 25 epochs, made bootstrap epochs of 12 steps and a patience of
# 60 steps: the 5 % units' validation loss rose for their first epochs while the validation
# AUROC climbed, early stopping kept epoch 1, and the 5 % retention was
# {glue:text}`patient_retention:.2f`. `patient500` gives them 20-step epochs (5 % retention
# {glue:text}`patient500_retention:.2f`); in its runs a patience of 5 epochs still stopped
# some fine-tuned line models while their validation AUROC was rising, behind a noisy
# validation loss. `paper_patience` uses the paper's patience of 10 for both kinds of binary
# model (the grid file says why, setting by setting).
#
# In some runs of `paper_patience` a fine-tuned model's validation loss reaches its minimum
# within the first epochs and then rises while its validation AUROC keeps climbing (the model
# grows over-confident at this learning rate); early stopping on the loss then restores an
# early, weaker model: its runs have {glue:text}`paper_patience_ft_weak:.1f` ChromTransfer
# lines below test AUROC {glue:text}`weak_auroc:.2f` on average, and meet criterion 2 in
# {glue:text}`paper_patience_met_transfer_auroc` and criterion 4 in
# {glue:text}`paper_patience_met_drivers_top5` of {glue:text}`paper_patience_runs`. The paper
# gives patiences but not what early stopping watched (Keras' default is the validation loss),
# so `auroc_stop` trains every binary model — ChromTransfer and baseline alike — to its best
# validation AUROC instead. Finished runs meeting each criterion, per setting:

# %%
calibration_record.criteria_counts(record.runs, settings=list(record.grid["settings"]))

# %% [markdown]
# ### What early stopping watches
#
# The settings side by side (means over each setting's finished seeds; "lowest line" is the
# weakest of the six lines in a run, a weak line one below test AUROC
# {glue:text}`weak_auroc:.2f`):

# %%
calibration_record.setting_comparison(record.runs, list(record.grid["settings"])).round(3)

# %% [markdown]
# Stopping on validation AUROC (`auroc_stop`, {glue:text}`auroc_stop_runs` seeds) instead of
# the loss (`paper_patience`) moved the lowest baseline line's test AUROC from
# {glue:text}`paper_patience_base_lowest:.3f` to {glue:text}`auroc_stop_base_lowest:.3f` and
# the lowest ChromTransfer line's from {glue:text}`paper_patience_ft_lowest:.3f` to
# {glue:text}`auroc_stop_ft_lowest:.3f`; weak lines per run went from
# {glue:text}`paper_patience_base_weak:.1f` to {glue:text}`auroc_stop_base_weak:.1f`
# (baseline) and from {glue:text}`paper_patience_ft_weak:.1f` to
# {glue:text}`auroc_stop_ft_weak:.1f` (ChromTransfer). The planted drivers follow: the
# fine-tuned models rank them in the top clusters (criterion 4) in
# {glue:text}`auroc_stop_met_drivers_top5` of {glue:text}`auroc_stop_runs` `auroc_stop` runs
# against {glue:text}`paper_patience_met_drivers_top5` of {glue:text}`paper_patience_runs`
# `paper_patience` runs. But ChromTransfer's mean AUROC gain over the baseline went from
# {glue:text}`paper_patience_gain:+.3f` to {glue:text}`auroc_stop_gain:+.3f`, with
# {glue:text}`auroc_stop_won:.1f` of 6 lines won on average
# ({glue:text}`paper_patience_won:.1f` before): in this world a from-scratch model trained to
# its best validation AUROC comes close to ChromTransfer on the full data, so most of
# ChromTransfer's full-data margin under loss-based stopping is the baselines' early stops —
# the behaviour the paper describes for its own baselines ("early stopping only after a few
# epochs", Figure 2A). `quick` keeps the validation loss, the paper's likely monitor, and this
# appendix records both; a profile may set `<section>.monitor: val_auroc`.
#
# ### Data efficiency at this scale
#
# The data-efficiency criterion depends on absolute sizes: the paper's 5 % HepG2 subset holds
# {glue:text}`paper_n_train_5pct:,d` training sequences; here it holds the `n_train_5pct`
# sequences below.

# %%
calibration_record.size_table(record.runs)

# %% [markdown]
# To see what limits the 5 % models, `experiments/retention_probe.py` re-trained HepG2 models
# on subsets of one recorded run, changing one thing at a time (validation set, learning rate,
# optimiser steps, subset size; the baseline the same way), and fitted a logistic regression
# on the pre-trained trunk's pooled features (a linear probe). At 5 %
# ({glue:text}`probe_n5:.0f` sequences) the best of the {glue:text}`probe_n_variants`
# ChromTransfer variants was '{glue:text}`probe_best_variant`', with retention
# {glue:text}`probe_best_retention:.2f` (test AUROC {glue:text}`probe_best_auroc:.3f`);
# {glue:text}`probe_n_reached` of them reached criterion 3's
# {glue:text}`goal_retention_5pct_retention:.2f`. Early stopping on a subsampled validation
# set gave retention {glue:text}`probe_val_subsampled:.2f`, on the whole validation fold
# {glue:text}`probe_val_whole:.2f`. Retention {glue:text}`goal_retention_5pct_retention:.2f`
# was first reached at {glue:text}`probe_first_fraction:.0%` of the data
# ({glue:text}`probe_first_n:.0f` sequences). The baseline kept
# {glue:text}`probe_baseline_retention:.2f` at 5 % of the gain of its full-data model (test
# AUROC {glue:text}`probe_baseline_full_auroc:.3f`). The linear probe reached test AUROC
# {glue:text}`probe_linear_auroc:.3f` with all the training data, against
# {glue:text}`probe_full_auroc:.3f` for the fine-tuned model: the difference is what
# fine-tuning has to learn in the upper layers, from a few dozen examples at 5 %.

# %%
calibration_record.probe_table(record.probe)

# %% [markdown]
# ### A wider trunk?
#
# `quick` divides every width by 4, so its trunk ends in {glue:text}`n_channels` pooled
# channels, while pre-training rDHSs carry sites of {glue:text}`n_broad` broad-vocabulary
# motifs (the generic factors and every line's drivers). Telling "open" from "closed" only
# needs to know that some motif is present, so a few channels can mix the lines' drivers, and
# a model fine-tuned on a few dozen sequences has to un-mix them.
# `experiments/width_probe.py` pre-trained wider trunks on the same world (seed 1 of
# `auroc_stop`, whose runs stop on validation AUROC) and measured each step again, with the
# time per training step against the `quick` network in the same process (the `quick` row
# times that network against itself: its ratio is the timing noise). Two repetitions at 5 %
# per width. The network of `quick` kept {glue:text}`width_quick_retention:.2f` of its
# full-data AUROC gain at 5 %; the best of the {glue:text}`width_n` widths,
# '{glue:text}`width_best_variant`', kept {glue:text}`width_best_retention:.2f` at
# {glue:text}`width_best_step_time:.2f`× the time per training step, and
# {glue:text}`width_n_reached` of them reach criterion 3's
# {glue:text}`goal_retention_5pct_retention:.2f`. The linear probe's test AUROC on all the
# training data stayed between {glue:text}`width_linear_lowest:.3f` and
# {glue:text}`width_linear_highest:.3f` across the widths, and criterion 3 holds in
# {glue:text}`chosen_met_retention_5pct` of {glue:text}`chosen_seeds` seeds of `quick`: set
# beside the probe's first fraction to reach the goal
# ({glue:text}`probe_first_n:.0f` sequences), the 5 % subset looks too small in absolute
# terms for the width to be the missing piece at this world's size.

# %%
calibration_record.width_table(record.widths)

# %% [markdown]
# ### Does the pre-trained model know the lines? Probing worlds before running books
#
# A book run behind one row above costs a quarter of an hour or more, so the worlds meant to
# make transfer matter on every seed were first probed more cheaply.
# `experiments/transfer_probe.py` builds a world, its datasets and the pre-trained model
# through the book's own stages. It then fits a logistic regression to the pre-trained
# trunk's pooled features (a linear probe) for every line. For the lines it is asked to
# train, it also trains ChromTransfer and the baseline on 100 % and on a 5 % subset, with
# the recipes of the profile and the bootstrap grid's subset trainer.
# {glue:text}`world_n_settings` settings are recorded, on seed 1
# (`experiments/transfer_grid.yaml`; one row per setting and trained line below):
#
# * `today` is the world of `quick`.
# * `scale60k` pre-trains on 60,000 rDHSs (`quick`: 6,000), each seen twice (`quick`: up to
#   12 times).
# * `sharp2` and `sharp15` sample every planted site at sharpness 2 or 1.5 (`quick`: 4), so
#   sites are more degenerate.
# * `prog50` gives half of the pre-training rDHSs one line's program, and `prog100` gives one
#   to every pre-training rDHS (`simulation.rdhs_program_fraction`, standing for the
#   compendium's regions of related cell types).
# * `sites24` plants 2–4 driver sites per line region (`quick`: 3–6).
# * The `sharp15` settings stop their line models on validation AUROC.
# * `hepg2x22` and `bnr` are described below.
#
# The linear probe's mean test AUROC over the six lines, with all the training data, was
# {glue:text}`world_today_probe_mean:.3f` in `today`, {glue:text}`world_scale60k_probe_mean:.3f`
# with ten times the compendium, and {glue:text}`world_scale60k_sharp2_prog50_probe_mean:.3f`
# with degenerate sites and programs.
#
# At sharpness 2, ChromTransfer trained on 5 % of HepG2 reached test AUROC
# {glue:text}`world_scale60k_sharp2_HepG2_finetune_5pct:.3f` without programs and
# {glue:text}`world_scale60k_sharp2_prog50_HepG2_finetune_5pct:.3f` with them. On all the
# data it reached {glue:text}`world_scale60k_sharp2_HepG2_finetune_100pct:.3f` and
# {glue:text}`world_scale60k_sharp2_prog50_HepG2_finetune_100pct:.3f`. The two settings'
# baselines stopped on validation loss. They kept epochs
# {glue:text}`world_scale60k_sharp2_HepG2_scratch_best_epoch_100pct:.0f` and
# {glue:text}`world_scale60k_sharp2_prog50_HepG2_scratch_best_epoch_100pct:.0f`, with test
# AUROC {glue:text}`world_scale60k_sharp2_HepG2_scratch_100pct:.3f` and
# {glue:text}`world_scale60k_sharp2_prog50_HepG2_scratch_100pct:.3f`. The baseline's
# validation loss jumps between epochs while its validation AUROC climbs. That is why the
# later settings stop on validation AUROC.
#
# At sharpness 1.5 with programs, ChromTransfer reached
# {glue:text}`world_scale60k_sharp15_prog50_HepG2_finetune_100pct:.3f` on all the data and
# the baseline {glue:text}`world_scale60k_sharp15_prog50_HepG2_scratch_100pct:.3f`. On 5 %,
# ChromTransfer reached {glue:text}`world_scale60k_sharp15_prog50_HepG2_finetune_5pct:.3f`
# (retention {glue:text}`world_scale60k_sharp15_prog50_HepG2_finetune_retention_5pct:.2f`)
# and the baseline {glue:text}`world_scale60k_sharp15_prog50_HepG2_scratch_5pct:.3f`. With
# 2–4 driver sites per region, pre-training reached
# {glue:text}`world_scale60k_sharp15_prog50_sites24_pretrain_auroc:.3f`.
#
# When every pre-training rDHS carries a program (`prog100`), the linear probe's mean rose
# to {glue:text}`world_scale60k_sharp15_prog100_probe_mean:.3f` at sharpness 1.5 and
# {glue:text}`world_scale60k_sharp2_prog100_probe_mean:.3f` at sharpness 2. Pre-training
# reached {glue:text}`world_scale60k_sharp15_prog100_pretrain_auroc:.3f` and
# {glue:text}`world_scale60k_sharp2_prog100_pretrain_auroc:.3f`. At sharpness 1.5, ChromTransfer
# on all of HepG2 reached
# {glue:text}`world_scale60k_sharp15_prog100_HepG2_finetune_100pct:.3f` and the baseline
# {glue:text}`world_scale60k_sharp15_prog100_HepG2_scratch_100pct:.3f`. On 5 % they reached
# {glue:text}`world_scale60k_sharp15_prog100_HepG2_finetune_5pct:.3f` (retention
# {glue:text}`world_scale60k_sharp15_prog100_HepG2_finetune_retention_5pct:.2f`) and
# {glue:text}`world_scale60k_sharp15_prog100_HepG2_scratch_5pct:.3f` (retention
# {glue:text}`world_scale60k_sharp15_prog100_HepG2_scratch_retention_5pct:.2f`). On K562:
# {glue:text}`world_scale60k_sharp15_prog100_K562_finetune_100pct:.3f` against
# {glue:text}`world_scale60k_sharp15_prog100_K562_scratch_100pct:.3f` on all the data, and
# {glue:text}`world_scale60k_sharp15_prog100_K562_finetune_5pct:.3f` against
# {glue:text}`world_scale60k_sharp15_prog100_K562_scratch_5pct:.3f` on 5 %.
#
# The baseline's jumping validation loss has a cause. The network applies ReLU → BatchNorm →
# Dropout, and BatchNorm's running statistics are taken with dropout on. At inference, with
# dropout off, the activations no longer fit them, and the from-scratch model's predictions
# drift. `prog100_bnr` keeps the world and the pre-trained model of `prog100`. It re-estimates
# each line model's BatchNorm statistics with dropout off after every epoch
# (`batchnorm_refresh`). The baseline on all of HepG2 then reached
# {glue:text}`world_scale60k_sharp15_prog100_bnr_HepG2_scratch_100pct:.3f`, and ChromTransfer
# {glue:text}`world_scale60k_sharp15_prog100_bnr_HepG2_finetune_100pct:.3f`. On 5 %,
# ChromTransfer reached {glue:text}`world_scale60k_sharp15_prog100_bnr_HepG2_finetune_5pct:.3f`
# (retention {glue:text}`world_scale60k_sharp15_prog100_bnr_HepG2_finetune_retention_5pct:.2f`)
# and the baseline {glue:text}`world_scale60k_sharp15_prog100_bnr_HepG2_scratch_5pct:.3f`
# (retention {glue:text}`world_scale60k_sharp15_prog100_bnr_HepG2_scratch_retention_5pct:.2f`).
# The profile of this run re-estimates its fine-tuned models' statistics on
# {glue:text}`run_batchnorm_refresh:,.0f` training sequences after every epoch (0: Keras'
# running averages, as in the paper's code).
#
# `prog100_hepg2x22` makes HepG2 2.2 times its paper share (`simulation.line_scale`), so its
# training fold holds {glue:text}`world_scale60k_sharp15_prog100_hepg2x22_HepG2_n_train:,.0f`
# sequences instead of {glue:text}`world_scale60k_sharp15_prog100_HepG2_n_train:,.0f`. With that
# much data the baseline caught up: ChromTransfer reached
# {glue:text}`world_scale60k_sharp15_prog100_hepg2x22_HepG2_finetune_100pct:.3f` and the
# baseline {glue:text}`world_scale60k_sharp15_prog100_hepg2x22_HepG2_scratch_100pct:.3f` on all
# of it. On 5 %, they reached
# {glue:text}`world_scale60k_sharp15_prog100_hepg2x22_HepG2_finetune_5pct:.3f` and
# {glue:text}`world_scale60k_sharp15_prog100_hepg2x22_HepG2_scratch_5pct:.3f`.
#
# Harder line tasks, all with the BatchNorm refresh. `sharp1_prog100_bnr` draws sites from the
# matrices as they are (sharpness 1). Pre-training reached
# {glue:text}`world_scale60k_sharp1_prog100_bnr_pretrain_auroc:.3f` and the linear probe
# {glue:text}`world_scale60k_sharp1_prog100_bnr_probe_mean:.3f` (mean of the lines). On all of
# HepG2, ChromTransfer reached
# {glue:text}`world_scale60k_sharp1_prog100_bnr_HepG2_finetune_100pct:.3f` and the baseline
# {glue:text}`world_scale60k_sharp1_prog100_bnr_HepG2_scratch_100pct:.3f`; on 5 %,
# {glue:text}`world_scale60k_sharp1_prog100_bnr_HepG2_finetune_5pct:.3f` (retention
# {glue:text}`world_scale60k_sharp1_prog100_bnr_HepG2_finetune_retention_5pct:.2f`) and
# {glue:text}`world_scale60k_sharp1_prog100_bnr_HepG2_scratch_5pct:.3f` (retention
# {glue:text}`world_scale60k_sharp1_prog100_bnr_HepG2_scratch_retention_5pct:.2f`).
#
# `prog100_bnr_drv` gives each line a larger grammar: five to eight drivers instead of three to
# five. Each added matrix is below 0.72 look-alike similarity to every other line's drivers and to
# the generic and decoy vocabularies, and pre-training refreshes its statistics too. A driver is
# then rarer among the line's own regions, and as common as before in the compendium. Pre-training
# reached {glue:text}`world_scale60k_sharp15_prog100_bnr_drv_pretrain_auroc:.3f` and the linear
# probe {glue:text}`world_scale60k_sharp15_prog100_bnr_drv_probe_mean:.3f`. On all of HepG2,
# ChromTransfer reached
# {glue:text}`world_scale60k_sharp15_prog100_bnr_drv_HepG2_finetune_100pct:.3f` and the baseline
# {glue:text}`world_scale60k_sharp15_prog100_bnr_drv_HepG2_scratch_100pct:.3f` (kept epoch
# {glue:text}`world_scale60k_sharp15_prog100_bnr_drv_HepG2_scratch_best_epoch_100pct:.0f`, the last
# allowed). On 5 %, they reached
# {glue:text}`world_scale60k_sharp15_prog100_bnr_drv_HepG2_finetune_5pct:.3f` (retention
# {glue:text}`world_scale60k_sharp15_prog100_bnr_drv_HepG2_finetune_retention_5pct:.2f`) and
# {glue:text}`world_scale60k_sharp15_prog100_bnr_drv_HepG2_scratch_5pct:.3f` (retention
# {glue:text}`world_scale60k_sharp15_prog100_bnr_drv_HepG2_scratch_retention_5pct:.2f`).
# ChromTransfer on 1 % of HepG2 reached
# {glue:text}`world_scale60k_sharp15_prog100_bnr_drv_HepG2_finetune_1pct:.3f`, where the
# pre-trained model scores
# {glue:text}`world_scale60k_sharp15_prog100_bnr_drv_HepG2_pretrained_line_auroc:.3f` on the line.
# On K562, ChromTransfer reached
# {glue:text}`world_scale60k_sharp15_prog100_bnr_drv_K562_finetune_100pct:.3f` and the baseline
# {glue:text}`world_scale60k_sharp15_prog100_bnr_drv_K562_scratch_100pct:.3f` on all of it; on
# 5 %, {glue:text}`world_scale60k_sharp15_prog100_bnr_drv_K562_finetune_5pct:.3f` against
# {glue:text}`world_scale60k_sharp15_prog100_bnr_drv_K562_scratch_5pct:.3f`.
# `prog100_bnr_drv24` samples that grammar sparsely, with two to four driver sites per line region
# instead of three to six. Pre-training reached
# {glue:text}`world_scale60k_sharp15_prog100_bnr_drv24_pretrain_auroc:.3f`, ChromTransfer on all of
# HepG2 {glue:text}`world_scale60k_sharp15_prog100_bnr_drv24_HepG2_finetune_100pct:.3f` and the
# baseline {glue:text}`world_scale60k_sharp15_prog100_bnr_drv24_HepG2_scratch_100pct:.3f`; on 5 %,
# {glue:text}`world_scale60k_sharp15_prog100_bnr_drv24_HepG2_finetune_5pct:.3f` and
# {glue:text}`world_scale60k_sharp15_prog100_bnr_drv24_HepG2_scratch_5pct:.3f`.
#
# `prog100_bnr_drv_w32e40` is the `drv` world with twice the stem and top convolutions (32 filters
# for the 55 planted matrices) and 40 epochs for the line models, whose `drv` runs had kept their
# last allowed epoch. Pre-training reached
# {glue:text}`world_scale60k_sharp15_prog100_bnr_drv_w32e40_pretrain_auroc:.3f`.
# On all of HepG2, ChromTransfer reached
# {glue:text}`world_scale60k_sharp15_prog100_bnr_drv_w32e40_HepG2_finetune_100pct:.3f`
# and the baseline
# {glue:text}`world_scale60k_sharp15_prog100_bnr_drv_w32e40_HepG2_scratch_100pct:.3f`
# (kept epoch
# {glue:text}`world_scale60k_sharp15_prog100_bnr_drv_w32e40_HepG2_scratch_best_epoch_100pct:.0f`
# of 40); on 5 %,
# {glue:text}`world_scale60k_sharp15_prog100_bnr_drv_w32e40_HepG2_finetune_5pct:.3f`
# (retention
# {glue:text}`world_scale60k_sharp15_prog100_bnr_drv_w32e40_HepG2_finetune_retention_5pct:.2f`)
# and
# {glue:text}`world_scale60k_sharp15_prog100_bnr_drv_w32e40_HepG2_scratch_5pct:.3f`
# (retention
# {glue:text}`world_scale60k_sharp15_prog100_bnr_drv_w32e40_HepG2_scratch_retention_5pct:.2f`).
# On K562, ChromTransfer reached
# {glue:text}`world_scale60k_sharp15_prog100_bnr_drv_w32e40_K562_finetune_100pct:.3f`
# and the baseline
# {glue:text}`world_scale60k_sharp15_prog100_bnr_drv_w32e40_K562_scratch_100pct:.3f`;
# on 5 %,
# {glue:text}`world_scale60k_sharp15_prog100_bnr_drv_w32e40_K562_finetune_5pct:.3f`
# against
# {glue:text}`world_scale60k_sharp15_prog100_bnr_drv_w32e40_K562_scratch_5pct:.3f`.
# The wider trunk and the longer budget helped both models, the baseline more at full data.

# %%
calibration_record.world_table(record.world)

# %% [markdown]
# **Re-run this chapter:** `chromtransfer book --profile quick --chapter 11`; the calibration
# runs themselves: `chromtransfer calibrate --grid experiments/calibration_grid.yaml`
# (each setting × seed is a full book run).

# %% tags=["hide-input"]
for name, value in exercises.calibration_answers(ctx).items():  # numbers the solutions quote
    glue(name, value, display=False)

# %% [markdown]
# ## Exercises
#
# ::::{exercise} Two settings side by side
# :label: ex-10-counts
#
# Count, for the two settings that differ in what early stopping watches, the finished
# runs that meet each criterion:
# `calibration_record.criteria_counts(record.runs, settings=["paper_patience", "auroc_stop"])`.
# Which meets criterion 4 (`drivers_top5`) more often?
# ::::
#
# ::::{solution} ex-10-counts
# :class: dropdown
#
# The table has one row per setting, with the counts the section on early stopping
# quotes: criterion 4 holds in {glue:text}`auroc_stop_met_drivers_top5` of
# {glue:text}`auroc_stop_runs` `auroc_stop` runs and in
# {glue:text}`paper_patience_met_drivers_top5` of {glue:text}`paper_patience_runs`
# `paper_patience` runs.
# ::::
#
# ::::{exercise} Stopping on validation AUROC
# :label: ex-10-monitor
#
# `auroc_stop` trains the binary models to their best validation AUROC. Ask what stopping
# ChromTransfer that way (this profile: {glue:text}`ex_monitor`) would train in this run
# directory: `stages.pending_jobs(ctx.derive({"finetune.monitor": "val_auroc"}))`.
# ::::
#
# ::::{solution} ex-10-monitor
# :class: dropdown
#
# {glue:text}`ex_pending_auroc` job(s), against {glue:text}`ex_pending_now` for this run's
# own profile. The monitor belongs to the `finetune` section, which keys the fine-tuned models'
# folders, so a changed monitor trains every line's ChromTransfer model again, while the
# baselines keep theirs. A mistyped key fails at once:
# `ctx.derive({"finetune.monitr": "val_auroc"})` raises an error that names it.
# ::::

# %% tags=["hide-input"]
for name, value in stages.chapter_timing(ctx).items():  # the header's **Time:** line
    glue(name, value, display=False)

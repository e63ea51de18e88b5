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
# # 7. Motif enrichment: which transcription factors each model relies on
#
# :::{admonition} Learning objectives
# :class: objectives
#
# After this chapter you can:
#
# * turn per-base attributions into a ranking of transcription factors with a signed
#   Kolmogorov–Smirnov statistic and Benjamini–Hochberg FDR;
# * explain why an exact p-value threshold leaves short matrices without sites;
# * read what fine-tuning changed (fine-tuned − pre-trained) and what separates two lines (HepG2 −
#   K562);
# * check whether planted drivers rank on top, counting look-alike matrices once;
# * find motifs de novo with TF-MoDISco and match them to JASPAR.
# :::
#
# **Needs:** chapter 6's attributions and scan (recomputed here if missing). **Writes:** the
# TF-MoDISco runs under `interpret/` in the run directory, and
# `metrics/07_motif_enrichment.json`.
#
# **Time:** {glue:text}`chapter_minutes:.1f` min ({glue:text}`chapter_seconds:.0f` s) from the
# set-up cell to the last cell, in the run that rendered this page (profile
# {glue:text}`chapter_profile`). Models this chapter trained:
# {glue:text}`chapter_models_trained`; trained models already in the run directory (from earlier
# chapters, an earlier run or a fetched archive), not trained again:
# {glue:text}`chapter_models_found`. Interpretation caches (attributions, scans, ISM) it
# computed: {glue:text}`chapter_caches_computed`; already there:
# {glue:text}`chapter_caches_found`.
#
# Chapter 6 scored every base of the analysed regions. Here those scores are summarised per
# transcription factor, as in the paper ("Model interpretation using predicted TF binding
# sites"):
#
# 1. the regions are scanned with all JASPAR 2022 CORE vertebrate matrices (exact p-value
#    threshold, both strands);
# 2. each predicted site gets the **maximum gradient × input** over its bases;
# 3. for each TF with enough sites, a two-sample **Kolmogorov–Smirnov** test compares its
#    sites' scores with the sites of all other TFs that do not overlap them; the statistic D
#    is signed (negative when the TF's sites rank lower) and p-values are Benjamini–Hochberg
#    adjusted.
#
# The paper found HNF4A and CEBP sites far more important to the HepG2 model after
# fine-tuning (Fig 3D–E), OLIG2 less (Fig 3F), and GATA factors for K562 (Fig 3G). On the
# simulated world we can go one step further and ask whether the TFs whose motifs were
# **planted** as each line's drivers come out on top.

# %% tags=["parameters"]
profile = "quick"
run_dir = None

# %% tags=["hide-input"]
from myst_nb import glue

from chromtransfer_lib.book import exercises, results, runner, stages
from chromtransfer_lib.book import interpret_denovo as denovo
from chromtransfer_lib.book import interpret_figures as figures
from chromtransfer_lib.book import interpret_numbers as numbers
from chromtransfer_lib.book import interpret_tables as tables
from chromtransfer_lib.book import interpretation as interp

ctx = stages.start_chapter(profile, run_dir)
att = interp.ensure_attribution(ctx)
enr = interp.motif_enrichment(att)
for name, value in numbers.enrichment_numbers(att, enr).items():
    glue(name, value, display=False)
dn = denovo.ensure_denovo(ctx, att)
for name, value in denovo.denovo_numbers(dn).items():
    glue(name, value, display=False)

# %% [markdown]
# ## Predicted binding sites
#
# A scan at p < {glue:text}`p_value` needs a matrix able to score that rarely: of the
# {glue:text}`n_matrices` matrices, {glue:text}`n_unreachable` (short ones) can never reach the
# threshold, whatever the sequence, so they yield no sites. The other matrices produced
# {glue:text}`n_hits` sites in the {glue:text}`n_regions` analysed regions;
# {glue:text}`n_tfs_enough` TFs have at least {glue:text}`min_sites` sites and are tested.

# %%
tables.unreachable_table(att)

# %% [markdown]
# ## KS enrichment per model
#
# Each analysis below tests the same kind of sites with one model's scores: the two
# fine-tuned models on their own positive predictions, the pre-trained model on the same
# regions, and — as a control — the HepG2 **binary baseline** (trained from scratch). An
# under-trained model tends to put long, generic motifs on top simply because the maximum over
# a longer site is larger by chance; the last column measures that bias as the rank correlation
# between a TF's D and its motif width. The lower rows are the paper's per-site *differences*
# (fine-tuned − pre-trained; HepG2 − K562 on the union of positive predictions).

# %%
tables.ks_overview(att, enr)

# %% [markdown]
# Significant means FDR < {glue:text}`fdr`. The top TFs of each single-model analysis (the
# paper's Fig S4), planted drivers of the line in orange, faded bars not significant:

# %%
figures.fig_s4_rankings(att, enr)

# %% [markdown]
# What fine-tuning changed: KS on the per-site difference fine-tuned − pre-trained (Fig S5);
# TFs on top gained importance during fine-tuning.

# %%
figures.fig_s5_fine_tuning(att, enr)

# %% [markdown]
# ## HNF4A, CEBPA and OLIG2 (Fig 3D–F)
#
# Cumulative distributions of site scores for three TFs against all other TFs' non-overlapping
# sites. A curve to the right of the grey one means the TF's sites carry more attribution than
# other sites. In the paper, HNF4A and CEBPA shift right after fine-tuning and OLIG2 shifts
# left. (OLIG2 was not planted in this world, so its sites are chance matches.)

# %%
figures.fig3_ecdf(enr)

# %% [markdown]
# ## HepG2 against K562 (Fig 3G)
#
# As in the paper, the two fine-tuned models are compared on the union of their positive
# predictions, so both score the same sites. Each point is a TF: its D for the HepG2 model (x)
# and for the K562 model (y), coloured by the D of the per-site difference HepG2 − K562. TFs
# important to one line only sit far from the diagonal.

# %%
figures.fig3g_scatter(att, enr)

# %% [markdown]
# The TFs that lean most towards HepG2 (largest D of the difference):

# %%
tables.d_versus_table(enr)

# %% [markdown]
# ## Ground truth: are the planted drivers on top?
#
# The simulation planted each line's driver motifs in its specific regions (for HepG2:
# {glue:text}`drivers_HepG2`; for K562: {glue:text}`drivers_K562`). This run's data source is
# *{glue:text}`data_source`*: on real data nothing was planted, so read "drivers" as the factors
# the profile expects for each line. Below, the rank of each driver by signed D in each model's
# ranking (1 = most enriched; * significantly enriched, ° significantly depleted; – fewer than
# {glue:text}`min_sites` sites). The other line's model, on the union of both lines' regions, is
# a control.

# %%
figures.driver_rank_figure(att, enr)

# %% [markdown]
# For the HepG2 ChromTransfer model, {glue:text}`n_significant_HepG2` of
# {glue:text}`n_tested_HepG2` tested TFs pass FDR < {glue:text}`fdr`. Planted HepG2 drivers
# among its top 5 significant TFs: {glue:text}`top5_HepG2` of {glue:text}`n_drivers_HepG2`
# ({glue:text}`top5_names_HepG2`); its best-ranked driver, {glue:text}`best_driver_HepG2`, is
# #{glue:text}`best_rank_HepG2` by signed D. In the top 5 of the pre-trained model:
# {glue:text}`top5_pre_HepG2`; of the binary baseline: {glue:text}`top5_scratch_HepG2`; of the
# control ({glue:text}`control_HepG2`): {glue:text}`top5_control_HepG2`. Where the first count
# is the largest, fine-tuning moved the planted drivers up, as the paper found for HNF4A and
# CEBPA.
#
# For the K562 ChromTransfer model, {glue:text}`n_significant_K562` of
# {glue:text}`n_tested_K562` tested TFs pass FDR < {glue:text}`fdr`. Planted K562 drivers among
# its top 5: {glue:text}`top5_K562` of {glue:text}`n_drivers_K562`
# ({glue:text}`top5_names_K562`); its best-ranked driver, {glue:text}`best_driver_K562`, is
# #{glue:text}`best_rank_K562`. In the top 5 of the pre-trained model:
# {glue:text}`top5_pre_K562`; of the control ({glue:text}`control_K562`):
# {glue:text}`top5_control_K562`. A model with no significant TF says nothing either way about
# its line's drivers. The counts side by side:

# %%
tables.driver_counts(att, enr)

# %% [markdown]
# ### Look-alike matrices, counted once
#
# JASPAR holds several matrices for one binding preference (CEBPA/B/D/E/G; the AP-1 dimers,
# NFE2, BACH and MAF; GATA1–6 and TRPS1; HNF1A/B), and a site of one is a site of all — so a
# per-matrix ranking splits one signal over many names, and a planted driver can rank below its
# own look-alikes. The paper reads its rankings the same way ("CEBPs", "GATA factors", the PAR
# bZIPs that "all recognize similar binding site sequences"). Here the
# {glue:text}`n_tested_tfs` tested TFs are grouped into {glue:text}`n_clusters` clusters of
# look-alike matrices (column-wise Pearson correlation of aligned matrices, both strands,
# average linkage, similarity ≥ {glue:text}`cluster_threshold`;
# `chromtransfer_lib.interpret.clusters` says how), and each cluster is ranked by its best
# significant member. Counted this way, HepG2 drivers in the HepG2 model's top 5 clusters:
# {glue:text}`cl_top5_HepG2` of {glue:text}`n_drivers_HepG2` ({glue:text}`cl_which_HepG2`;
# matrix by matrix: {glue:text}`top5_HepG2`), against {glue:text}`cl_top5_pre_HepG2` for the
# pre-trained model; K562 drivers in the K562 model's top 5 clusters: {glue:text}`cl_top5_K562`
# of {glue:text}`n_drivers_K562` ({glue:text}`cl_which_K562`; matrix by matrix:
# {glue:text}`top5_K562`), against {glue:text}`cl_top5_pre_K562` for the pre-trained model.

# %%
tables.cluster_table(enr)

# %% [markdown]
# Rankings compare TFs with each other; the planted sites can also be checked directly. For
# every planted driver site in a line's analysed regions: did the scan find it (same matrix,
# same bases), and is its score above the 90th percentile of sites that overlap nothing
# planted? By chance, a tenth of the sites would be (dashed line). On real data both are empty.

# %%
tables.recovery_table(att, enr)

# %%
figures.recovery_figure(att, enr)

# %% [markdown]
# ## De novo motifs (TF-MoDISco)
#
# Every analysis above starts from a list of known motifs. TF-MoDISco asks the attributions
# directly: it cuts out short stretches of high contribution (*seqlets*), clusters them and
# averages each cluster into a *pattern*; each pattern is then matched to JASPAR 2022 with
# TOMTOM. Here it runs (modisco-lite, with windows fitted to 200-bp inputs, and memelite's
# TOMTOM, so no MEME installation) on the hypothetical contributions of the logit, for each
# line's fine-tuned model and for the pre-trained model, on {glue:text}`dn_sequences_HepG2`
# (HepG2) and {glue:text}`dn_sequences_K562` (K562) of the line's analysed regions (a seeded
# sample where a line has more than {glue:text}`dn_max`). A planted driver counts as found
# when it, or a look-alike matrix of the same cluster as above, is the best match of one of the
# {glue:text}`dn_top` largest positive patterns.

# %%
denovo.driver_recovery_table(dn)

# %% [markdown]
# HepG2 drivers found this way: {glue:text}`dn_found_ft_HepG2` of {glue:text}`dn_drivers_HepG2`
# for the fine-tuned model ({glue:text}`dn_patterns_ft_HepG2` positive patterns),
# {glue:text}`dn_found_pre_HepG2` for the pre-trained model
# ({glue:text}`dn_patterns_pre_HepG2` patterns); K562 drivers: {glue:text}`dn_found_ft_K562`
# of {glue:text}`dn_drivers_K562` for the fine-tuned model ({glue:text}`dn_patterns_ft_K562`
# patterns) and {glue:text}`dn_found_pre_K562` for the pre-trained model
# ({glue:text}`dn_patterns_pre_K562` patterns). MoDISco needs many seqlets per pattern (here
# at least 20), so a small run directory, or a model whose attributions are diffuse, yields few
# patterns or none; the KS ranking above needs far less. The HepG2 fine-tuned model's largest
# patterns and their best matches:

# %%
denovo.top_patterns_table(dn, line="HepG2")

# %%
denovo.pattern_logos(dn, line="HepG2")

# %% [markdown]
# The same for K562:

# %%
denovo.top_patterns_table(dn, line="K562")

# %% tags=["hide-input"]
metrics = numbers.enrichment_metrics(att, enr) | denovo.denovo_metrics(dn)
path = results.save_metrics(ctx.run_dir, "07_motif_enrichment", metrics)
print("metrics saved to", path.relative_to(ctx.run_dir))

# %% [markdown]
# Every analysis's significant TFs, best first, and its planted drivers in the top 5, as saved:

# %%
numbers.headline_metrics(metrics)

# %% [markdown]
# ## Summary
#
# Every analysed region was scanned with the JASPAR 2022 CORE vertebrate collection, each
# predicted site scored by its maximum gradient × input, and TFs ranked per model by a signed
# KS statistic. On this run, planted drivers in the fine-tuned model's top 5 significant TFs:
# {glue:text}`top5_HepG2` of {glue:text}`n_drivers_HepG2` for HepG2 (pre-trained model:
# {glue:text}`top5_pre_HepG2`) and {glue:text}`top5_K562` of {glue:text}`n_drivers_K562` for
# K562 (pre-trained model: {glue:text}`top5_pre_K562`).
#
# Two cautions carry over from the paper and from design choices here: site scores of
# overlapping motifs are not independent (the AP-1/NFE2 family and the HNF4 paralogues share
# sites), and a ranking of under-trained models is dominated by motif length — compare with the
# binary baseline and the ρ(D, width) column before reading a TF's rank as biology.
#
# **Re-run this chapter:** `chromtransfer book --profile <profile> --chapter 07`, or by hand
# with jupytext and papermill:

# %%
print(runner.chapter_command("07_motif_enrichment", ctx.profile.name))

# %% tags=["hide-input"]
for name, value in exercises.enrichment_answers(att, enr).items():  # numbers the solutions quote
    glue(name, value, display=False)

# %% [markdown]
# ## Exercises
#
# ::::{exercise} A longer list
# :label: ex-07-top10
#
# Count the planted drivers among the ten best significant TFs instead of five:
# `tables.driver_counts(att, enr, n=10)`. How do the HepG2 model's counts change?
# ::::
#
# ::::{solution} ex-07-top10
# :class: dropdown
#
# They can only grow or stay, because the top ten contain the top five: for the HepG2
# ChromTransfer model, {glue:text}`ex_top5_HepG2` of its {glue:text}`n_drivers_HepG2` drivers
# are in the top 5 and {glue:text}`ex_top10_HepG2` in the top 10. A longer list also takes in
# more TFs that rank high by chance, so compare such counts at the same length only.
# ::::
#
# ::::{exercise} A looser FDR
# :label: ex-07-fdr
#
# Run this chapter at `interpret.fdr: 0.05` (here {glue:text}`fdr`). How many TFs pass for
# the HepG2 model?
# ::::
#
# ::::{solution} ex-07-fdr
# :class: dropdown
#
# The Benjamini–Hochberg-adjusted p-values (the `fdr` column of each KS table) do not depend
# on the level, so a higher level only relabels: every TF significant at {glue:text}`fdr` stays
# significant, and more may join. For the HepG2 model, {glue:text}`ex_significant_fdr05_HepG2`
# of {glue:text}`n_tested_HepG2` tested TFs pass at 0.05, against
# {glue:text}`n_significant_HepG2` at {glue:text}`fdr`. The rankings by signed D do not change;
# the top-5 counts, which take significant TFs only, can.
# ::::

# %% tags=["hide-input"]
for name, value in stages.chapter_timing(ctx).items():  # the header's **Time:** line
    glue(name, value, display=False)

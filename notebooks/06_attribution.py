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
# # 6. Attribution: which bases drive a prediction
#
# :::{admonition} Learning objectives
# :class: objectives
#
# After this chapter you can:
#
# * compute gradient × input for a model, and explain why this book differentiates the logit
#   rather than the probability;
# * say which regions are analysed and why (each fine-tuned model's positive predictions);
# * read an attribution track beside the predicted and the planted binding sites;
# * check gradient × input against in-silico mutagenesis (ISM).
# :::
#
# **Needs:** chapter 1's datasets and the models of chapters 2–3 (trained here if they are not
# in the run directory yet). **Writes:** attributions, the motif scan and ISM deltas under
# `interpret/` in the run directory (chapter 7 reuses them), and `metrics/06_attribution.json`.
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
# A model that predicts open chromatin well has learnt *something* about sequence; this
# chapter asks what. Following the paper ("Feature importance analysis"), every base of a
# sequence gets a **gradient × input** score: the gradient of the model's output with respect
# to the one-hot input, taken at the observed base. A positive score means the base pushes the
# prediction towards "open". We compute it for the positive predictions of the HepG2 and K562
# ChromTransfer models, and for the pre-trained model on the same regions, to see what
# fine-tuning changed.
#
# Gradients are a local, linear view of a non-linear model, so the paper validated them with
# **in-silico mutagenesis (ISM)**: mutate each base to the three others and record the largest
# change in the prediction. We do the same on true positives of the HepG2 model and compare
# the two scores over predicted transcription-factor binding sites (the paper's Fig S3).

# %% tags=["parameters"]
profile = "quick"
run_dir = None

# %% tags=["hide-input"]
from myst_nb import glue

from chromtransfer_lib.book import exercises, results, runner, stages
from chromtransfer_lib.book import interpret_figures as figures
from chromtransfer_lib.book import interpret_numbers as numbers
from chromtransfer_lib.book import interpret_tables as tables
from chromtransfer_lib.book import interpretation as interp

ctx = stages.start_chapter(profile, run_dir)
att = interp.ensure_attribution(ctx)
gxi_probability = interp.ensure_probability_gxi(ctx, att, line="HepG2")
ism = interp.ensure_ism_check(ctx, att, line="HepG2")
for name, value in numbers.attribution_numbers(att, ism).items():
    glue(name, value, display=False)

# %% [markdown]
# The models interpreted — the two fine-tuned ChromTransfer models, the pre-trained model and
# the HepG2 binary baseline (trained from scratch) — and where they are saved:

# %%
tables.models_table(att)

# %% [markdown]
# ## The regions analysed
#
# As in the paper, attribution is computed for the **positive predictions** (probability
# ≥ 0.5) of each fine-tuned model over its training and test rows. The paper analysed all of
# them (27,940 for HepG2, 35,179 for K562); this profile caps each line at a seeded sample of
# {glue:text}`max_regions`. The HepG2 model predicted {glue:text}`n_positive_HepG2` of its
# {glue:text}`n_rows_HepG2` regions positive and {glue:text}`n_analysed_HepG2` were analysed;
# the K562 model predicted {glue:text}`n_positive_K562` of {glue:text}`n_rows_K562`, and
# {glue:text}`n_analysed_K562` were analysed. A model that predicts no region positive has its
# best-scored labelled positives stand in (the `fallback` column; here:
# {glue:text}`fallback_lines`).

# %%
tables.selection_table(att)

# %% [markdown]
# Their union — {glue:text}`n_union` regions — is what the HepG2 − K562 comparison of chapter
# 7 runs on; every model below is attributed on all of it.
#
# ## Gradient × input
#
# One score per base and model. We differentiate the **output neuron before its sigmoid** (the
# logit), not the probability. The sigmoid saturates: a region predicted at p = 0.999 has
# probability gradients about 250 times smaller than a region at p = 0.5, whatever its
# sequence, so site scores pooled across regions would rank sites by how *uncertain* their
# region is rather than by how much they matter. The table shows this for the HepG2 model on its
# own regions: the largest per-base score of a region, by its predicted probability, for the two
# targets.

# %%
tables.saturation_table(att, gxi_probability, line="HepG2")

# %% [markdown]
# The models' probabilities on the same regions show how differently they see them: the
# pre-trained model predicts *any* regulatory region, so it should call most regions of both
# lines open, while each fine-tuned model should favour its own line's regions.

# %%
tables.model_overview(att)

# %% [markdown]
# ## Predicted binding sites
#
# To read attributions as TF binding, the analysed regions are scanned with every JASPAR 2022
# CORE vertebrate matrix at an exact p < {glue:text}`p_value` on both strands (chapter 7 looks
# at the scan in detail): {glue:text}`n_hits` predicted sites. On the simulated world we also
# know where motifs were **planted**: {glue:text}`n_planted` planted sites fall in the analysed
# windows (their window coordinates come from the ground-truth table).
#
# ## Attribution tracks, fine-tuned vs pre-trained (Fig 3A–C)
#
# Letters are scaled by their gradient × input (of the logit): tall letters above the line
# support "open". Shaded spans are the best-scoring predicted sites of the fine-tuned model
# (non-overlapping, labelled with the JASPAR name); the bottom row shows what was planted
# (drivers of the line in orange). The examples are the {glue:text}`n_examples` region(s) each
# fine-tuned model scores highest.

# %%
figures.fig3_tracks(att, line="HepG2")

# %%
figures.fig3_tracks(att, line="K562")

# %% [markdown]
# ## Gradient × input against in-silico mutagenesis (Fig S3)
#
# ISM needs three predictions per base, so it runs on a seeded sample of the
# {glue:text}`ism_line` model's true positives ({glue:text}`n_ism` regions here). The paper
# measured the change in probability; for the reason above we measure the change of the same
# logit that gradient × input differentiates, so that both scores share one scale across
# regions. A negative ISM delta means the base supports the positive prediction, so we negate
# it: both scores then say "higher = more important". The track below shows both for one
# region.

# %%
figures.fig_s3_track(att, ism)

# %% [markdown]
# Each predicted site in these regions gets its maximum gradient × input and its minimum ISM
# delta over its bases; the two are correlated over all sites and per TF (CEBPA, HNF4A and a
# FOS::JUN dimer, the paper's Fig S3 factors, where they have sites).

# %%
tables.agreement_table(ism)

# %%
figures.fig_s3_agreement(ism)

# %% [markdown]
# Over {glue:text}`n_ism_sites` predicted sites in {glue:text}`n_ism` regions, site max
# gradient × input and the negated site min ISM delta correlate with Spearman
# ρ = {glue:text}`ism_spearman` (Pearson r = {glue:text}`ism_pearson`). In the paper's Fig S3
# the two scores agree closely; a model that has learnt little shows a weak correlation, and
# "n/a" means too few sites fell in the ISM regions to correlate them.

# %% tags=["hide-input"]
path = results.save_metrics(ctx.run_dir, "06_attribution", numbers.attribution_metrics(att, ism))
print("metrics saved to", path.relative_to(ctx.run_dir))

# %% [markdown]
# ## Summary
#
# Gradient × input was computed for the positive predictions of the HepG2 and K562
# ChromTransfer models, for the pre-trained model and the HepG2 binary baseline on the same
# {glue:text}`n_union` regions, and checked against in-silico mutagenesis (Spearman
# ρ = {glue:text}`ism_spearman` over {glue:text}`n_ism_sites` sites). The tracks show which
# predicted sites the fine-tuned models lean on and how that differs from the pre-trained
# model. Chapter 7 turns these per-site scores into a ranking of transcription factors for each
# model.
#
# **Re-run this chapter:** `chromtransfer book --profile <profile> --chapter 06`, or by hand
# with jupytext and papermill:

# %%
print(runner.chapter_command("06_attribution", ctx.profile.name))

# %% tags=["hide-input"]
for name, value in exercises.attribution_answers(att).items():  # numbers the solutions quote
    glue(name, value, display=False)

# %% [markdown]
# ## Exercises
#
# ::::{exercise} More example regions
# :label: ex-06-tracks
#
# Draw the tracks of the five regions the HepG2 model scores highest (the chapter shows
# {glue:text}`n_examples`): `figures.fig3_tracks(att, line="HepG2", n=5)`. How do the first
# panels compare with the ones above?
# ::::
#
# ::::{solution} ex-06-tracks
# :class: dropdown
#
# They are the same: regions are ranked by the fine-tuned model's probability (ties in a
# fixed order), so the chapter's panels (here {glue:text}`n_examples`) come first and the others
# follow in decreasing probability; there are fewer than five when fewer positive regions were
# analysed. `n_sites=10` would shade up to ten predicted sites per region instead of five.
# ::::
#
# ::::{exercise} A looser scan
# :label: ex-06-pvalue
#
# Loosen the motif scan tenfold: set `interpret.p_value` to {glue:text}`ex_p_value_loose`
# (here {glue:text}`p_value`) and run chapters 6 and 7 at that profile. What happens to the
# number of predicted sites, to the matrices that yield none, and to the attributions?
# ::::
#
# ::::{solution} ex-06-pvalue
# :class: dropdown
#
# Every site found at p < {glue:text}`p_value` is still found, as its p-value is below the
# looser threshold too, so the scan finds at least this run's {glue:text}`n_hits` sites, plus
# more chance matches. The matrices that cannot reach the threshold drop from
# {glue:text}`ex_unreachable` to {glue:text}`ex_unreachable_loose`: a matrix's best possible
# p-value (the `best_p` column of the scan's unreachable table) depends only on its width and
# information content. The attributions are not recomputed: their cache is keyed by the models
# and the regions, not by the scan.
# ::::

# %% tags=["hide-input"]
for name, value in stages.chapter_timing(ctx).items():  # the header's **Time:** line
    glue(name, value, display=False)

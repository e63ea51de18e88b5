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
# # 8. Variant effects: does the model react to the bases that matter?
#
# :::{admonition} Learning objectives
# :class: objectives
#
# After this chapter you can:
#
# * score a single-base variant with a model as the change of its logit (Δlogit), as
#   `chromtransfer variants` does for a VCF;
# * design variants of known effect in the simulated world: ones that break a planted driver
#   site, ones that create one, and neutral ones that touch no site;
# * measure with an AUROC how well |Δlogit| separates the variants that matter from neutral ones,
#   for a fine-tuned and for the pre-trained model;
# * read a variant's before / after attribution tracks.
# :::
#
# **Needs:** chapter 6's analysed regions and models (recomputed here if missing). **Writes:**
# the designed variants and their scores under `interpret/` in the run directory, and
# `metrics/08_variant_effects.json`.
#
# **Time:** {glue:text}`chapter_minutes:.1f` min ({glue:text}`chapter_seconds:.0f` s) from the
# set-up cell to the last cell, in the run that rendered this page (profile
# {glue:text}`chapter_profile`). Models this chapter trained:
# {glue:text}`chapter_models_trained`; trained models already in the run directory (from earlier
# chapters, an earlier run or a fetched archive), not trained again:
# {glue:text}`chapter_models_found`. Interpretation caches it computed:
# {glue:text}`chapter_caches_computed`; already there: {glue:text}`chapter_caches_found`.
#
# The paper stops at motif enrichment. The question people most often put to a sequence model
# of accessibility is the next one: *what does this variant do?* A model answers by predicting
# the reference and the alternative sequence; the difference of its **logit** (the output
# neuron before the sigmoid, the scale chapter 6 attributes) is the variant's effect. On real
# data nobody knows the true effect of most variants. In the simulated world we do: every
# planted binding site is listed in the world's ground truth, so we can *design* variants whose
# effect on a line's regulatory grammar is known, and check the model against them.

# %% tags=["parameters"]
profile = "quick"
run_dir = None

# %% tags=["hide-input"]
from myst_nb import glue

from chromtransfer_lib.book import exercises, results, runner, stages
from chromtransfer_lib.book import interpretation as interp
from chromtransfer_lib.book import variant_chapter as variants

ctx = stages.start_chapter(profile, run_dir)
att = interp.ensure_attribution(ctx)
eff = variants.ensure_variants(ctx, att)
for name, value in variants.variant_numbers(eff).items():
    glue(name, value, display=False)
glue("p_value", f"{att.config.p_value:g}", display=False)

# %% [markdown]
# ## Variants of known effect
#
# The variants live in the regions chapter 6 analysed: each fine-tuned model's positive
# predictions. Every such window that carries a planted site of one of its line's **drivers**
# (the motifs the simulator plants to open a region in that line) gets up to
# {glue:text}`var_per_window` single-base variants of each of three kinds:
#
# * **breaks_driver**: one base of a planted driver site, changed to the base that lowers the
#   site's score most, such that the motif scanner (the same JASPAR scan at p <
#   {glue:text}`p_value`) no longer finds a driver site there;
# * **neutral**: a base at least {glue:text}`var_margin` bp from every planted site, changed to a
#   random other base, with no driver site over it before or after;
# * **creates_driver**: a base outside every planted site whose change makes the scanner find a
#   new driver site.
#
# Every variant is checked with the scanner, so "breaks" and "creates" mean what the CLI's
# `sites_destroyed` and `sites_created` columns mean. The counts per line, and the windows with a
# planted driver site they come from:

# %%
eff.counts()

# %% [markdown]
# ## Does |Δlogit| separate them?
#
# Each variant is scored by its line's fine-tuned ChromTransfer model and by the pre-trained
# model, on the reference and the alternative window. A model that has learnt the line's grammar
# should change its logit much more for a broken or a created driver site than for a neutral
# change. The AUROC of |Δlogit|, the variants that touch a driver site against the neutral ones,
# measures that (0.5: no separation); `share_expected_sign` is the share of breaking variants
# that lower the logit and of creating ones that raise it.

# %%
variants.separation_view(eff)

# %%
variants.delta_figure(eff)

# %% [markdown]
# For HepG2, breaking a planted driver site is separated from a neutral change with AUROC
# {glue:text}`var_auroc_breaks_ft_HepG2` by the fine-tuned model and
# {glue:text}`var_auroc_breaks_pre_HepG2` by the pre-trained model
# ({glue:text}`var_n_breaks_driver_HepG2` breaking and {glue:text}`var_n_neutral_HepG2` neutral
# variants; median |Δlogit| {glue:text}`var_median_breaks_ft_HepG2` against
# {glue:text}`var_median_neutral_ft_HepG2` for the fine-tuned model); for K562 the figures are
# {glue:text}`var_auroc_breaks_ft_K562` and {glue:text}`var_auroc_breaks_pre_K562`
# ({glue:text}`var_n_breaks_driver_K562` and {glue:text}`var_n_neutral_K562` variants). Of the
# breaking variants, {glue:text}`var_sign_breaks_ft_HepG2` % (HepG2) and
# {glue:text}`var_sign_breaks_ft_K562` % (K562) lower the fine-tuned model's logit. Creating a
# driver site is separated from neutral with AUROC {glue:text}`var_auroc_creates_ft_HepG2`
# (HepG2) and {glue:text}`var_auroc_creates_ft_K562` (K562) by the fine-tuned models,
# {glue:text}`var_auroc_creates_pre_HepG2` and {glue:text}`var_auroc_creates_pre_K562` by the
# pre-trained one.
#
# Which model reacts more is not settled in advance: the pre-trained model learnt what opens a
# region in *any* line, which includes every line's driver sites, while the fine-tuned model
# learnt what tells its line's regions apart. Each model's |Δlogit| is on its own logit scale,
# so compare the models by AUROC, which depends only on how each model ranks the variants, not
# by the medians. "n/a" marks a figure that could not be computed: a line with no designed
# variant of that kind, or real data, where nothing is planted and no variant can be designed.
#
# ## Before and after: attribution tracks
#
# For each kind, the variant the fine-tuned model reacts to most (for neutral ones, a typical
# one: the variant closest to the median |Δlogit|): gradient × input of the fine-tuned model
# on the reference window (top) and on the alternative window (below it), with the broken or
# created site shaded, the variant's base marked `REF>ALT`, and the planted sites underneath
# (drivers of the line in orange).

# %%
variants.tracks_figure(att, eff, line="HepG2")

# %%
variants.tracks_figure(att, eff, line="K562")

# %% [markdown]
# ## Real variants
#
# For a VCF of real variants the CLI does the same scoring on the genome: `chromtransfer
# variants --model M --genome G --vcf V --out O` writes, per allele, the ref and alt probability,
# Δlogit, the log2 fold change, the motif sites the allele creates or destroys and an empirical
# p-value against dinucleotide-shuffled windows. One difference from this chapter: the CLI
# centres its window on the variant, while a designed variant sits where it is in its analysed
# window, so the two give the same Δlogit only when the variant is at the window's centre.

# %% tags=["hide-input"]
path = results.save_metrics(ctx.run_dir, "08_variant_effects", variants.variant_metrics(eff))
print("metrics saved to", path.relative_to(ctx.run_dir))

# %% [markdown]
# ## Summary
#
# In the simulated world, where every planted site is known, single-base variants that break a
# driver site of the line, create one, or touch no site were designed in the windows chapter 6
# analysed, and scored by each line's fine-tuned model and by the pre-trained model. The AUROC
# of |Δlogit| for breaking against neutral variants is {glue:text}`var_auroc_breaks_ft_HepG2`
# (HepG2) and {glue:text}`var_auroc_breaks_ft_K562` (K562) for the fine-tuned models,
# {glue:text}`var_auroc_breaks_pre_HepG2` and {glue:text}`var_auroc_breaks_pre_K562` for the
# pre-trained model.
#
# **Re-run this chapter:** `chromtransfer book --profile <profile> --chapter 08`, or by hand
# with jupytext and papermill:

# %%
print(runner.chapter_command("08_variant_effects", ctx.profile.name))

# %% tags=["hide-input"]
for name, value in exercises.variant_answers(att, eff).items():  # numbers the solutions quote
    glue(name, value, display=False)

# %% [markdown]
# ## Exercises
#
# ::::{exercise} A model trained from scratch
# :label: ex-08-scratch
#
# Score the HepG2 variants with the HepG2 binary baseline, the model trained from scratch on the
# HepG2 task without pre-training:
# `variants.score_line(att, eff, line="HepG2", model="scratch_HepG2")`. How well does its
# |Δlogit| separate breaking from neutral variants, next to the two models above?
# ::::
#
# ::::{solution} ex-08-scratch
# :class: dropdown
#
# The baseline's AUROC for breaking against neutral variants is {glue:text}`ex_auroc_scratch`
# (fine-tuned {glue:text}`var_auroc_breaks_ft_HepG2`, pre-trained
# {glue:text}`var_auroc_breaks_pre_HepG2`), and {glue:text}`ex_sign_scratch` % of the breaking
# variants lower its logit. It saw the same HepG2 labels as the fine-tuned model but started
# from random weights; chapter 3 compares the two on held-out regions, here they are compared on
# what they learnt about the sites.
# ::::
#
# ::::{exercise} More variants per window
# :label: ex-08-per-window
#
# Design four variants of each kind per window instead of {glue:text}`var_per_window`:
# `variants.design_line(att, "HepG2", per_window=4)`. How many of each kind do you get for
# HepG2, and why not twice as many of every kind?
# ::::
#
# ::::{solution} ex-08-per-window
# :class: dropdown
#
# {glue:text}`ex_n_breaks_4` breaking, {glue:text}`ex_n_neutral_4` neutral and
# {glue:text}`ex_n_creates_4` creating variants (here {glue:text}`var_n_breaks_driver_HepG2`,
# {glue:text}`var_n_neutral_HepG2` and {glue:text}`var_n_creates_driver_HepG2`). A breaking
# variant is one per planted driver site, and a window carries only as many sites as the
# simulator planted there, so that kind grows only in windows with more than
# {glue:text}`var_per_window` driver sites; neutral positions are plentiful in a window,
# and creating SNVs are limited by how many single changes complete a driver motif.
# ::::

# %% tags=["hide-input"]
for name, value in stages.chapter_timing(ctx).items():  # the header's **Time:** line
    glue(name, value, display=False)

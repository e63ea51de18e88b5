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
# A model that predicts open chromatin well has learnt *something* about sequence; this
# chapter asks what. Following the paper ("Feature importance analysis"), every base of a
# sequence gets a **gradient × input** score: the gradient of the predicted probability with
# respect to the one-hot input, taken at the observed base. A positive score means the base
# pushes the prediction towards "open". We compute it for the positive predictions of the
# HepG2 and K562 ChromTransfer models, and for the pre-trained model on the same regions, to
# see what fine-tuning changed.
#
# Gradients are a local, linear view of a non-linear model, so the paper validated them with
# **in-silico mutagenesis (ISM)**: mutate each base to the three others and record the largest
# change in the prediction. We do the same on true positives of the HepG2 model and compare
# the two scores over predicted transcription-factor binding sites (the paper's Fig S3).
#
# **Needs:** chapter 1's datasets and the models of chapters 2–3 (trained here if they are not
# in the run directory yet). **Writes:** attributions, the motif scan and ISM deltas under
# `interpret/` in the run directory (chapter 7 reuses them), and `metrics/06_attribution.json`.

# %% tags=["parameters"]
profile = "quick"
run_dir = None

# %%

import numpy as np
import pandas as pd
from IPython.display import display
from myst_nb import glue

from chromtransfer_lib.book import interpret_tables as tables
from chromtransfer_lib.book import interpretation as interp
from chromtransfer_lib.book import plots_interpret as pi
from chromtransfer_lib.book import results, stages
from chromtransfer_lib.book import runner as book
from chromtransfer_lib.interpret import enrichment

ctx = stages.start_chapter(profile, run_dir)
prof, cfg = ctx.profile, ctx.profile.interpret

# %%
inputs = stages.ensure_world(ctx)
datasets = stages.ensure_datasets(ctx, inputs)
models = interp.ensure_models(ctx, datasets)
models.table(ctx.run_dir)

# %% [markdown]
# ## The regions analysed
#
# As in the paper, attribution is computed for the **positive predictions** (probability
# ≥ 0.5) of each fine-tuned model over its training and test rows. The paper analysed all of
# them (27,940 for HepG2, 35,179 for K562); this profile caps each line at a seeded sample.

# %%
regions = interp.ensure_region_set(ctx, datasets, models)
selection_text = tables.selection_sentence(regions.selection, max_regions=cfg.max_regions)
glue("selection_sentence", selection_text, display=False)
glue("n_union", len(regions.regions), display=False)
regions.selection

# %% [markdown]
# {glue:text}`selection_sentence` Their union — {glue:text}`n_union` regions — is what the
# HepG2 − K562 comparison of chapter 7 runs on; every model below is attributed on all of it.

# %% [markdown]
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
gxi, proba = interp.ensure_attributions(ctx, models, regions)
gxi_p, _ = interp.ensure_attributions(ctx, models, regions, target="probability", only=["HepG2"])
interp.saturation_table(gxi["HepG2"], gxi_p["HepG2"], proba["HepG2"], regions.rows("HepG2"))

# %% [markdown]
# The models' probabilities on the same regions show how differently they see them: the
# pre-trained model predicts *any* regulatory region, so it should call most regions of both
# lines open, while each fine-tuned model should favour its own line's regions.

# %%
tables.model_overview(gxi, proba, regions).round(3)

# %% [markdown]
# ## Predicted binding sites
#
# To read attributions as TF binding, the analysed regions are scanned with every JASPAR 2022
# CORE vertebrate matrix at an exact p < {glue:text}`p_value` on both strands (chapter 7 looks
# at the scan in detail). On the simulated world we also know where motifs were **planted**;
# their window coordinates come from the ground-truth table.

# %%
scan = interp.ensure_scan(ctx, regions)
site_hepg2 = interp.scored_sites(scan.hits, gxi["HepG2"], regions.rows("HepG2"))
site_k562 = interp.scored_sites(scan.hits, gxi["K562"], regions.rows("K562"))
truth = pd.read_csv(inputs.ground_truth, sep="\t") if inputs.ground_truth else None
planted = tables.planted_in_windows(truth, regions.regions) if truth is not None else None
glue("p_value", f"{cfg.p_value:g}", display=False)
glue("n_hits", len(scan.hits), display=False)
print(f"{len(scan.hits)} predicted sites; {0 if planted is None else len(planted)} planted sites")

# %% [markdown]
# ## Attribution tracks, fine-tuned vs pre-trained (Fig 3A–C)
#
# Letters are scaled by their gradient × input (of the logit): tall letters above the line
# support "open".
# Shaded spans are the best-scoring predicted sites of the fine-tuned model (non-overlapping,
# labelled with the JASPAR name); the bottom row shows what was planted (drivers of the line in
# orange). The examples are the regions each fine-tuned model scores highest.

# %%
for line, sites in (("HepG2", site_hepg2), ("K562", site_k562)):
    for row in interp.pick_rows(regions, proba[line], line=line, n=cfg.example_regions):
        fig = pi.plot_attribution_tracks(
            regions.codes[row],
            {f"{line} fine-tuned": gxi[line][row], "pre-trained": gxi["pretrained"][row]},
            sites=tables.track_sites(sites, row, n=5),
            planted=None if planted is None else planted[planted["region"] == row],
            title=f"{line}: {tables.window_name(regions, row)}  "
            f"(p = {proba[line][row]:.2f} fine-tuned, {proba['pretrained'][row]:.2f} pre-trained)",
        )

# %% [markdown]
# ## Gradient × input against in-silico mutagenesis (Fig S3)
#
# ISM needs three predictions per base, so it runs on a seeded sample of the HepG2 model's
# true positives ({glue:text}`n_ism` regions here). The paper measured the change in
# probability; for the reason above we measure the change of the same logit that gradient ×
# input differentiates, so that both scores share one scale across regions. A negative ISM delta
# means the base supports the positive prediction, so we negate it: both scores then say
# "higher = more important". The track below shows both for one region.

# %%
ism_rows = interp.pick_rows(
    regions, proba["HepG2"], line="HepG2", n=cfg.ism_regions, random_state=prof.seed
)
delta = interp.ensure_ism(ctx, models, regions, model="HepG2", rows=ism_rows)
glue("n_ism", len(ism_rows), display=False)
row = ism_rows[np.argmax(proba["HepG2"][ism_rows])]
fig = pi.plot_attribution_tracks(
    regions.codes[row],
    {"gradient × input": gxi["HepG2"][row], "−ISM delta": -delta[list(ism_rows).index(row)]},
    sites=tables.track_sites(site_hepg2, row, n=5),
    title=f"HepG2 model, {tables.window_name(regions, row)}: two views of importance",
)

# %% [markdown]
# Each predicted site in these regions gets its maximum gradient × input and its minimum ISM
# delta over its bases; the two are correlated over all sites and per TF.

# %%
ism_sites = interp.ism_site_table(scan.hits, gxi["HepG2"], delta, ism_rows)
agreement = enrichment.attribution_agreement(
    ism_sites, x="gxi_max", y="ism_importance", min_sites=min(10, cfg.min_sites)
)
factors = tables.agreement_factors(ism_sites["tf"])
agreement_text = tables.agreement_sentence(agreement, n_regions=len(ism_rows))
glue("agreement_sentence", agreement_text, display=False)
display(agreement[agreement["tf"].isin(["(all)", *factors])].round(3))

# %%
pi.plot_site_agreement(ism_sites, agreement, factors) if len(ism_sites) else print("no sites")

# %% [markdown]
# {glue:text}`agreement_sentence`

# %%
metrics = tables.attribution_metrics(
    regions,
    agreement,
    factors,
    n_ism_regions=len(ism_rows),
    n_ism_sites=len(ism_sites),
    n_hits=len(scan.hits),
)
path = results.save_metrics(ctx.run_dir, "06_attribution", metrics)
print("metrics saved to", path.relative_to(ctx.run_dir))

# %% [markdown]
# ## Summary
#
# Gradient × input was computed for the positive predictions of the HepG2 and K562
# ChromTransfer models, for the pre-trained model and the HepG2 binary baseline on the same
# {glue:text}`n_union` regions, and checked against in-silico mutagenesis:
# {glue:text}`agreement_sentence` The tracks show which predicted sites the fine-tuned models
# lean on and how that differs from the pre-trained model. Chapter 7 turns these per-site
# scores into a ranking of transcription factors for each model.
#
# **Re-run this chapter:** `chromtransfer book --profile <profile> --chapter 06`, or by hand
# with jupytext and papermill:

# %%
print(book.chapter_command("06_attribution", prof.name))

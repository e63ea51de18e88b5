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
#
# **Needs:** chapter 6's attributions and scan (recomputed here if missing). **Writes:**
# `metrics/07_motif_enrichment.json`.

# %% tags=["parameters"]
profile = "quick"
run_dir = None

# %%

import pandas as pd
from IPython.display import display
from myst_nb import glue

from chromtransfer_lib.book import interpret_tables as tables
from chromtransfer_lib.book import interpretation as interp
from chromtransfer_lib.book import plots_interpret as pi
from chromtransfer_lib.book import results, stages
from chromtransfer_lib.book import runner as book
from chromtransfer_lib.genome.jaspar import load_jaspar
from chromtransfer_lib.interpret import clusters as motif_clusters

ctx = stages.start_chapter(profile, run_dir)
prof, cfg = ctx.profile, ctx.profile.interpret

# %%
inputs = stages.ensure_world(ctx)
datasets = stages.ensure_datasets(ctx, inputs)
models = interp.ensure_models(ctx, datasets)
regions = interp.ensure_region_set(ctx, datasets, models)
gxi, proba = interp.ensure_attributions(ctx, models, regions)
scan = interp.ensure_scan(ctx, regions)

# %% [markdown]
# ## Predicted binding sites
#
# A scan at p < {glue:text}`p_value` needs a matrix able to score that rarely: of the
# {glue:text}`n_matrices` matrices, {glue:text}`n_unreachable` (short ones) can never reach the
# threshold, whatever the sequence, so they yield no sites. The other matrices produced
# {glue:text}`n_hits` sites in the {glue:text}`n_regions` analysed regions;
# {glue:text}`n_tfs_enough` TFs have at least {glue:text}`min_sites` sites and are tested.

# %%
sites_per_tf = scan.hits["tf"].value_counts()
glue("p_value", f"{cfg.p_value:g}", display=False)
glue("n_matrices", scan.n_matrices, display=False)
glue("n_unreachable", len(scan.unreachable), display=False)
glue("n_hits", len(scan.hits), display=False)
glue("n_regions", len(regions.regions), display=False)
glue("n_tfs_enough", int((sites_per_tf >= cfg.min_sites).sum()), display=False)
glue("min_sites", cfg.min_sites, display=False)
scan.unreachable.groupby("width").size().rename(
    "matrices never reaching the threshold"
).to_frame().T

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
enr = interp.run_enrichment(scan.hits, gxi, regions, min_sites=cfg.min_sites, fdr=cfg.fdr)
overview = tables.enrichment_overview(enr, scan.hits)
glue("fdr", f"{cfg.fdr:g}", display=False)
overview

# %% [markdown]
# Significant means FDR < {glue:text}`fdr`. The top TFs of each single-model analysis (the
# paper's Fig S4), planted drivers of the line in orange, faded bars not significant:

# %%
single = ["HepG2", "pretrained@HepG2", "scratch_HepG2", "K562", "pretrained@K562"]
motif_roles = pd.read_csv(inputs.motifs, sep="\t") if inputs.motifs else None
drivers = tables.world_drivers(motif_roles, prof.simulation.drivers)
driver_names = tables.analysis_driver_names(drivers)
long = tables.ranking_long({interp.Enrichment.label(k): enr.ks[k] for k in single})
pi.plot_rank_bars(long, top_n=12, drivers=driver_names) if len(long) else print("no TF tested")

# %% [markdown]
# What fine-tuning changed: KS on the per-site difference fine-tuned − pre-trained (Fig S5);
# TFs on top gained importance during fine-tuning.

# %%
keys = ["HepG2-pretrained", "K562-pretrained"]
long_diff = tables.ranking_long({interp.Enrichment.label(k): enr.ks[k] for k in keys})
pi.plot_rank_bars(long_diff, top_n=12, drivers=driver_names) if len(long_diff) else None

# %% [markdown]
# ## HNF4A, CEBPA and OLIG2 (Fig 3D–F)
#
# Cumulative distributions of site scores for three TFs against all other TFs' non-overlapping
# sites. A curve to the right of the grey one means the TF's sites carry more attribution than
# other sites. In the paper, HNF4A and CEBPA shift right after fine-tuning and OLIG2 shifts
# left. (OLIG2 was not planted in this world, so its sites are chance matches.)

# %%
ecdf = tables.ecdf_frame(
    {interp.Enrichment.label(k): enr.sites[k] for k in single[:3]}, ["HNF4A", "CEBPA", "OLIG2"]
)
pi.plot_ecdf(ecdf, title="HepG2 regions") if len(ecdf) else print("none of these TFs has sites")

# %% [markdown]
# ## HepG2 against K562 (Fig 3G)
#
# As in the paper, the two fine-tuned models are compared on the union of their positive
# predictions, so both score the same sites. Each point is a TF: its D for the HepG2 model (x)
# and for the K562 model (y), coloured by the D of the per-site difference HepG2 − K562. TFs
# important to one line only sit far from the diagonal.

# %%
versus = tables.d_versus(enr.ks["HepG2@union"], enr.ks["K562@union"], enr.ks["HepG2-K562"])
if len(versus):
    always = [*drivers["HepG2"], *drivers["K562"]]
    display(pi.plot_d_scatter(versus, x="HepG2", y="K562", label_n=10, always=always))
versus.head(8).round(3)

# %% [markdown]
# ## Ground truth: are the planted drivers on top?
#
# The simulation planted each line's driver motifs in its specific regions (for HepG2:
# {glue:text}`drivers_HepG2`; for K562: {glue:text}`drivers_K562`). {glue:text}`truth_note`
# Below, the rank of each driver by signed D in each model's ranking (1 = most enriched;
# * significantly enriched, ° significantly depleted; – fewer than {glue:text}`min_sites`
# sites). The other line's model, on the union of both lines' regions, is a control.

# %%
glue("drivers_HepG2", ", ".join(drivers["HepG2"]), display=False)
glue("drivers_K562", ", ".join(drivers["K562"]), display=False)
real_data = (
    "This run uses real data, so nothing was planted: read 'drivers' as the factors the "
    "profile expects for each line."
)
glue("truth_note", real_data if inputs.ground_truth is None else "", display=False)
tf_ids = tables.tf_matrix_ids(scan.hits)
tested = sorted(set().union(*(set(ks["tf"]) for ks in enr.ks.values())))
clusters = motif_clusters.tf_clusters({t: tf_ids[t] for t in tested}, load_jaspar())
ranks = tables.driver_rank_table(enr, drivers, tf_ids, clusters=clusters)
pi.plot_driver_ranks(ranks)

# %%
for name, text in tables.ranking_sentences(enr, ranks, fdr=cfg.fdr).items():
    glue(name, text, display=False)

# %% [markdown]
# {glue:text}`sentence_HepG2` {glue:text}`comparison_HepG2`
#
# {glue:text}`sentence_K562` {glue:text}`comparison_K562`

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
# average linkage, similarity ≥ {glue:text}`cluster_threshold`; `motif_clusters` says how),
# and each cluster is ranked by its best significant member. {glue:text}`cluster_sentence`

# %%
glue("n_tested_tfs", len(tested), display=False)
glue("n_clusters", int(clusters.nunique()), display=False)
glue("cluster_threshold", f"{motif_clusters.THRESHOLD:g}", display=False)
glue("cluster_sentence", tables.cluster_sentence(ranks), display=False)
cluster_view = tables.cluster_tables(
    enr, clusters, ["HepG2", "pretrained@HepG2", "K562", "pretrained@K562"]
)
cluster_view

# %% [markdown]
# Rankings compare TFs with each other; the planted sites can also be checked directly. For
# every planted driver site in a line's analysed regions: did the scan find it (same matrix,
# same bases), and is its score above the 90th percentile of sites that overlap nothing
# planted? By chance, a tenth of the sites would be (dashed line).

# %%
truth = pd.read_csv(inputs.ground_truth, sep="\t") if inputs.ground_truth else None
planted = tables.planted_in_windows(truth, regions.regions) if truth is not None else None
if planted is not None:
    recovery, recovery_tf = tables.recovery_tables(enr, planted, regions, drivers)
    display(recovery.round(3))
    display(pi.plot_recovery(recovery_tf))

# %%
recovery = recovery if planted is not None else None
metrics = tables.enrichment_metrics(enr, ranks, scan, recovery=recovery, clusters=clusters)
path = results.save_metrics(ctx.run_dir, "07_motif_enrichment", metrics)
print("metrics saved to", path.relative_to(ctx.run_dir))
{k: v for k, v in metrics.items() if k.endswith(("top_tfs", "in_top5"))}

# %% [markdown]
# ## Summary
#
# Every analysed region was scanned with the JASPAR 2022 CORE vertebrate collection, each
# predicted site scored by its maximum gradient × input, and TFs ranked per model by a signed
# KS statistic. On this run: {glue:text}`sentence_HepG2` {glue:text}`comparison_HepG2`
# {glue:text}`sentence_K562`
#
# Two cautions carry over from the paper and from design choices here: site scores of
# overlapping motifs are not independent (the AP-1/NFE2 family and the HNF4 paralogues share
# sites), and a ranking of under-trained models is dominated by motif length — compare with the
# binary baseline and the ρ(D, width) column before reading a TF's rank as biology.
#
# **Re-run this chapter:** `chromtransfer book --profile <profile> --chapter 07`, or by hand
# with jupytext and papermill:

# %%
print(book.chapter_command("07_motif_enrichment", prof.name))

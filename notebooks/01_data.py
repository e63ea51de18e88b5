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
#
# **Needs:** nothing from earlier chapters. **Writes:** the world and the dataset artifacts in
# the run directory, reused by every later chapter.

# %% tags=["parameters"]
profile = "quick"
run_dir = None

# %%

import pandas as pd
import plotnine as p9
from IPython.display import display
from myst_nb import glue

from chromtransfer_lib.book import plots, report, results, stages
from chromtransfer_lib.genome import jaspar
from chromtransfer_lib.sim.world import PAPER_NEGATIVES, PAPER_POSITIVES

ctx = stages.start_chapter(profile, run_dir)
prof = ctx.profile

# %% [markdown]
# ## JASPAR 2022 CORE vertebrates

# %%
matrices = jaspar.load_jaspar(release="JASPAR2022", collection="CORE", tax_group="vertebrates")
catalogue = pd.DataFrame(
    {
        "matrix_id": [m.matrix_id for m in matrices],
        "tf": [m.name for m in matrices],
        "width": [m.width for m in matrices],
        "information_bits": [
            float(plots.information_content(m.probabilities(pseudocount=0.1)).sum())
            for m in matrices
        ],
    }
)
glue("n_matrices", len(catalogue), display=False)
glue("n_tfs", catalogue["tf"].nunique(), display=False)
catalogue.describe().round(1)

# %% [markdown]
# The collection holds {glue:text}`n_matrices` matrices for {glue:text}`n_tfs` distinct TF
# names (some TFs have several matrices, and dimers such as `FOS::JUN` count as one name).

# %% [markdown]
# ## Motifs the paper discusses
#
# Figure 3 of the paper highlights HNF4A and CEBPA (more important after fine-tuning on
# HepG2), OLIG2 (less important: a neural TF), and GATA factors (K562).

# %%
highlight = jaspar.resolve_motifs(["HNF4A", "CEBPA", "GATA1", "OLIG2"], matrices)
fig = plots.plot_logo_grid(highlight, ncols=2, pseudocount=0.1)

# %% [markdown]
# ## Widths and information content
#
# Long, information-rich matrices (CTCF, 19 bp) can reach a stringent scanning threshold
# easily; short ones (6–8 bp) can never reach p < 1e-5. This matters later, when binding sites
# predicted by scanning are ranked by their attribution scores.

# %%
catalogue["highlighted"] = catalogue["matrix_id"].isin([m.matrix_id for m in highlight])
(
    p9.ggplot(catalogue, p9.aes("width", "information_bits"))
    + p9.geom_jitter(colour="#9e9e9e", alpha=0.5, width=0.25, height=0, random_state=0)
    + p9.geom_point(data=catalogue[catalogue["highlighted"]], colour="#D55E00", size=3)
    + p9.geom_label(
        p9.aes(label="tf"),
        data=catalogue[catalogue["highlighted"]],
        ha="left",
        nudge_x=0.6,
        size=8,
    )
    + p9.labs(
        x="matrix width (bp)",
        y="information content (bits)",
        title="JASPAR 2022 CORE vertebrates",
    )
    + plots.theme_book()
)

# %% [markdown]
# ## Why a simulated world?
#
# The paper's inputs — the GRCh38 genome, ENCODE's ~2.2 million rDHSs and the authors'
# per-cell-line label files — cannot be downloaded on the machines this book is built on, and
# workshops often have no network. The default profiles therefore run on a **deterministic
# simulation** that writes the same files in the same formats: a soft-masked genome FASTA
# with assembly gaps, an rDHS BED, a blacklist, and six label files with rows
# `chrN:start-end,LABEL`. One code path reads both. To run on the real data instead, use the
# `paper` profile (`make book PROFILE=paper`), which first downloads every input listed in
# `data_manifest/` with checksums (`chromtransfer fetch --all`).
#
# The simulation plants real JASPAR 2022 binding sites: pre-training rDHSs carry a broad
# vocabulary, and each line's specific regions carry that line's **driver** TFs. Because it
# records every planted site, later chapters can check whether the models found them.

# %%
inputs = stages.ensure_world(ctx)
print("inputs in", inputs.root)

# %%
if inputs.motifs is not None:
    motif_roles = pd.read_csv(inputs.motifs, sep="\t")
    display(report.drivers_table(motif_roles))

# %% [markdown]
# The drivers of each line, as JASPAR logos (the first two of each line):

# %%
if inputs.motifs is not None:
    driver_ids = [
        mid
        for line in prof.simulation.drivers
        for mid in motif_roles.query("driver_of == @line")["matrix_id"].head(2)
    ]
    driver_matrices = jaspar.resolve_motifs(driver_ids, matrices)
    fig = plots.plot_logo_grid(
        driver_matrices,
        ncols=4,
        titles=[
            f"{motif_roles.set_index('matrix_id').loc[m.matrix_id, 'driver_of']}: {m.name}"
            for m in driver_matrices
        ],
        pseudocount=0.1,
    )

# %% [markdown]
# What was planted, per kind of region (vocabulary sites in pre-training rDHSs; drivers,
# other lines' drivers, generic factors and decoys in cell-type-specific ones; sparse weak
# sites in the background):

# %%
if inputs.ground_truth is not None:
    truth = pd.read_csv(inputs.ground_truth, sep="\t")
    glue("n_planted", len(truth), display=False)
    display(report.planted_summary(truth))

# %% [markdown]
# ## Datasets
#
# The same builders serve the simulated world, the paper's data and your own: regions are
# re-centred to the profile's input length around their midpoints, sequences are extracted
# chromosome by chromosome into memory-mapped `uint8` codes, chromosomes 2 and 3 are the test
# set, and the remaining chromosomes are split into three cross-validation folds. Pre-training
# negatives tile the genome in 600 bp windows away from gaps, the blacklist and rDHSs.

# %%
datasets = stages.ensure_datasets(ctx, inputs)
pre = datasets.pretrain
pre_counts = pre.regions.pivot_table(index="split", columns="label", aggfunc="size", fill_value=0)
glue("n_pretrain", len(pre), display=False)
glue("seq_len", prof.data.seq_len, display=False)
pre_counts

# %% [markdown]
# The pre-training set holds {glue:text}`n_pretrain` sequences of {glue:text}`seq_len` bp.
# Regions dropped on the way, with their reasons, are recorded in each dataset's provenance:

# %%
pd.DataFrame(
    [
        {"dataset": name, "reason": reason, "dropped": n}
        for name, ds in [("pre-training", pre), *datasets.finetune.items()]
        for reason, n in ds.provenance["dropped"].items()
    ]
)

# %% [markdown]
# The six fine-tuning sets beside the paper's class sizes. The simulation keeps the paper's
# proportions across lines and its positive:negative ratios (clipped to the 1:2.5–1:3.5 range
# the paper states), scaled down:

# %%
sizes = report.sizes_vs_paper(
    datasets.finetune, paper_positives=PAPER_POSITIVES, paper_negatives=PAPER_NEGATIVES
)
sizes

# %%
counts = report.dataset_sizes(datasets.finetune)
(
    p9.ggplot(counts, p9.aes("cell_line", "n", fill="class"))
    + p9.geom_col(position="stack")
    + p9.facet_wrap("~split", scales="free_y")
    + p9.scale_fill_manual({"positive": "#0072B2", "negative": "#BBBBBB"})
    + p9.labs(x="", y="sequences", title="Fine-tuning sets per split and class")
    + plots.theme_book()
    + p9.theme(axis_text_x=p9.element_text(rotation=45, ha="right"))
)

# %% [markdown]
# ### Composition
#
# A model could separate classes by GC content alone rather than by binding sites. The
# simulation compensates planted sites so that a window's GC is unchanged; the boxes below
# show the GC content of each group of sequences the models see.

# %%
gc = report.gc_by_group(pre, datasets.finetune)
gc_medians = gc.groupby("group", observed=True)["gc"].median()
(
    p9.ggplot(gc, p9.aes("group", "gc"))
    + p9.geom_boxplot(outlier_alpha=0.2, fill="#56B4E9")
    + p9.coord_flip()
    + p9.labs(x="", y="GC fraction", title="GC content per group")
    + plots.theme_book()
)

# %%
results.save_metrics(
    ctx.run_dir,
    "01_data",
    {
        "data.pretrain.n": len(pre),
        **{f"data.finetune.{k}.n": len(v) for k, v in datasets.finetune.items()},
        **{
            f"data.finetune.{k}.n_pos": int((v.labels == 1).sum())
            for k, v in datasets.finetune.items()
        },
        "data.multiclass.n": len(datasets.multiclass),
    },
)

# %% [markdown]
# ## Summary
#
# The world and its datasets are built and cached in the run directory. Chapter 2 pre-trains
# the network on the rDHS-versus-background task.
#
# **Re-run this chapter:** `chromtransfer book --profile quick --chapter 01`, or with papermill:
# `papermill book/chapters/01_data.ipynb out.ipynb -p profile quick -p run_dir runs/quick`.

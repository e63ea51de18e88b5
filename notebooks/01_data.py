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
# # 1. Data: the motif vocabulary
#
# ChromTransfer learns which DNA sequence features make a region open chromatin. In the
# paper, those features turn out to be transcription-factor (TF) binding sites: HNF4A and
# CEBP sites for the liver line HepG2, GATA sites for the erythroleukaemia line K562. This
# chapter starts from the same motif database the paper used to interpret its models —
# **JASPAR 2022, CORE collection, vertebrates** — which `pyjaspar` ships offline.
#
# **Needs:** nothing from earlier chapters. **Writes:** nothing; later chapters load JASPAR
# through the same function.

# %% tags=["parameters"]
profile = "quick"
run_dir = None

# %%
import logging

import pandas as pd
import plotnine as p9
from myst_nb import glue

from chromtransfer_lib import jaspar, plots
from chromtransfer_lib.config import load_profile

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
prof = load_profile(profile)
print(f"profile: {prof.name} — {prof.description}")

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
# ## Summary
#
# The motif vocabulary is in place. The next sections of this chapter build the data the
# models learn from.

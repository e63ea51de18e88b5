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

# %%

import pandas as pd
import plotnine as p9
from myst_nb import glue

from chromtransfer_lib.book import plots, report, results, stages
from chromtransfer_lib.data.pipeline import predict_proba
from chromtransfer_lib.models.network import build_pretrain_model

ctx = stages.start_chapter(profile, run_dir)
prof = ctx.profile
datasets = stages.ensure_datasets(ctx, stages.ensure_world(ctx))

# %% [markdown]
# ## The network

# %%
net = build_pretrain_model(head_units=prof.model.pretrain_head, **stages.network_kwargs(prof))
glue("n_params", f"{net.count_params():,}", display=False)
glue("seq_len", prof.data.seq_len, display=False)
pd.DataFrame(
    [
        {
            "part": "trunk" if lay.name.startswith("trunk_") else "head",
            "layer": lay.name,
            "type": type(lay).__name__,
            "parameters": lay.count_params(),
        }
        for lay in net.layers
        if lay.count_params() > 0
    ]
).groupby(["part", "type"], as_index=False)["parameters"].sum()

# %% [markdown]
# At this profile's widths the network has {glue:text}`n_params` parameters and reads
# {glue:text}`seq_len` bp (at the paper's widths and 600 bp: 655,777, a count the test suite
# checks).

# %% [markdown]
# ## Training

# %%
pre = stages.ensure_pretrained(ctx, datasets)
pre.per_fold[["fold", "best_epoch", "epochs_run", "auroc", "auprc", "f1_pos", "f1_neg"]]

# %% [markdown]
# ### Learning curves

# %%
curves = report.learning_curves({"pre-trained": pre.histories})
(
    p9.ggplot(curves, p9.aes("epoch", "loss", colour="set"))
    + p9.geom_line(size=1)
    + p9.geom_point()
    + p9.facet_wrap("~partition")
    + p9.scale_colour_manual({"training": "#0072B2", "validation": "#D55E00"})
    + p9.labs(y="binary cross-entropy", colour="", title="Pre-training learning curves")
    + plots.theme_book()
)

# %% [markdown]
# ## ROC and precision–recall curves (Fig 1D–E)
#
# As in the paper's Fig 1D–E: training, validation and test data of the first partition's model.

# %%
ds = datasets.pretrain
fold = prof.pretrain.folds[0]
part = ds.partition(fold)
model = stages.pretrained_model(pre)
split_rows = {"training": part.train, "validation": part.valid, "test": ds.subset(split="test")}
preds = [
    report.Prediction(
        name, "pre-training", ds.labels[rows], predict_proba(model, ds.codes, indices=rows)
    )
    for name, rows in split_rows.items()
]
roc, prc = report.curve_tables(preds)
for t in (roc, prc):
    t["set"] = t["model"] + " (" + t["label"].str.extract(r"\((.*)\)")[0] + ")"

# %%
(
    p9.ggplot(roc, p9.aes("fpr", "tpr", colour="set"))
    + p9.geom_abline(linetype="dashed", colour="#999999")
    + p9.geom_path(size=1)
    + p9.coord_equal()
    + p9.labs(
        x="false positive rate",
        y="true positive rate",
        colour="AUROC",
        title="Pre-trained model: ROC",
    )
    + plots.theme_book()
    + p9.theme(figure_size=(5.5, 4))
)

# %%
(
    p9.ggplot(prc, p9.aes("recall", "precision", colour="set"))
    + p9.geom_path(size=1)
    + p9.coord_equal()
    + p9.labs(colour="AUPRC", title="Pre-trained model: precision–recall")
    + plots.theme_book()
    + p9.theme(figure_size=(5.5, 4))
)

# %% [markdown]
# ## Test-set performance

# %%
ens = pre.ensemble
paper = {"auroc": 0.94, "auprc": 0.90, "f1_pos": 0.93, "f1_neg": 0.80}
table = pd.DataFrame(
    {
        "metric": ["AUROC", "AUPRC", "F1 open (positive)", "F1 closed (negative)"],
        "paper": list(paper.values()),
        "this run": [round(float(ens[k]), 3) for k in paper],
    }
)
glue("pre_auroc", f"{ens['auroc']:.2f}", display=False)
glue("pre_auprc", f"{ens['auprc']:.2f}", display=False)
glue("n_folds_run", len(prof.pretrain.folds), display=False)
table

# %% [markdown]
# On the test chromosomes this run's pre-trained model reaches AUROC {glue:text}`pre_auroc`
# and AUPRC {glue:text}`pre_auprc` (mean prediction of {glue:text}`n_folds_run` partition
# model(s)); the paper reports 0.94 and 0.90 on the real genome. The two are not directly
# comparable — a simulated world is not the human genome — but they answer the same
# question: has the network learned the sequence code of open chromatin well enough to be a
# starting point?

# %%
results.save_metrics(
    ctx.run_dir,
    "02_pretraining",
    {
        "pretrain.test.auroc": ens["auroc"],
        "pretrain.test.auprc": ens["auprc"],
        "pretrain.test.f1_pos": ens["f1_pos"],
        "pretrain.test.f1_neg": ens["f1_neg"],
        "pretrain.test.f1_overall": ens["f1_overall"],
        "pretrain.n_params": int(net.count_params()),
        "pretrain.best_epoch": int(pre.per_fold["best_epoch"].iloc[0]),
    },
)

# %% [markdown]
# ## Summary
#
# The pre-trained model is cached in the run directory; chapter 3 copies its trunk into six
# cell-type-specific models.
#
# **Re-run this chapter:** `chromtransfer book --profile quick --chapter 02`, or with papermill:
# `papermill book/chapters/02_pretraining.ipynb out.ipynb -p profile quick -p run_dir runs/quick`.

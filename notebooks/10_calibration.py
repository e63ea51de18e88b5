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
# A simulated world does not show the paper's results by itself. With sites sampled as-is
# from JASPAR and few optimiser steps nothing is learned; with too strong sites every model
# is perfect and transfer learning has nothing to add. The `quick` profile — the simulation's
# difficulty and the training recipes — is therefore chosen from recorded evidence, against
# five criteria fixed before looking:
#
# 1. pre-trained test AUROC ≥ 0.90;
# 2. ChromTransfer beats the binary baseline in test AUROC on ≥ 5 of 6 lines, mean gain ≥ 0.05;
# 3. on 5 % of the HepG2 training data, fine-tuning keeps ≥ 80 % of the full model's AUROC
#    gain over 0.5, and the baseline clearly less;
# 4. at least two planted drivers in the top 5 TFs by signed KS D for the HepG2 and K562
#    fine-tuned models, fewer for the pre-trained model — counted per cluster of look-alike
#    JASPAR matrices (chapter 7 explains why; the per-matrix counts are recorded beside them,
#    in the `…_matrices` columns);
# 5. the whole book at `quick` in ≤ 20 minutes on a 2-core CPU.
#
# **Method.** `chromtransfer calibrate --grid experiments/calibration_grid.yaml` runs the real
# book — every chapter, no HTML — for each setting × seed, at a profile derived from `quick`
# by the setting's overrides, and appends one row of metrics per run to
# `experiments/calibration/runs.csv`. This page shows that table as the runner wrote it; it is
# not recomputed here (each row is a full book run).

# %% tags=["parameters"]
profile = "quick"
run_dir = None

# %%
import pandas as pd
import yaml
from IPython.display import Markdown, display
from myst_nb import glue

from chromtransfer_lib.book import calibration as calibration_report
from chromtransfer_lib.book import stages
from chromtransfer_lib.book.calibration import CALIBRATION_COLUMNS
from chromtransfer_lib.book.runner import find_repo_root
from chromtransfer_lib.config import load_profile

ctx = stages.start_chapter(profile, run_dir)
root = find_repo_root()
grid_path = root / "experiments" / "calibration_grid.yaml"
runs_path = root / "experiments" / "calibration" / "runs.csv"
grid = yaml.safe_load(grid_path.read_text())
runs = pd.read_csv(runs_path) if runs_path.is_file() else pd.DataFrame()
glue("n_runs", len(runs), display=False)
print(f"{len(runs)} recorded runs in {runs_path.relative_to(root)}")
calib_csv = root / "experiments" / "calibration" / "calibration.csv"
chosen = pd.read_csv(calib_csv) if calib_csv.is_file() else pd.DataFrame()
setting = calibration_report.chosen_setting(runs, chosen) if len(runs) else None
status = calibration_report.criteria_sentence(runs, setting) if setting else ""
glue("quick_status", status or "No calibrated setting is recorded.", display=False)

# %% [markdown]
# **Where `quick` stands.** {glue:text}`quick_status` The rest of this page shows the runs
# behind that line, what failed and why, and what was tried for the criteria not met.

# %% [markdown]
# ## The settings tried

# %%
pd.DataFrame(
    [
        {"setting": k, "overrides of quick": ", ".join(f"{a}={b}" for a, b in v.items()) or "—"}
        for k, v in grid["settings"].items()
    ]
)

# %% [markdown]
# ## Every recorded run

# %%
if runs.empty:
    display(Markdown("No calibration run has been recorded yet."))
else:
    shown = ["setting", "seed", "status", *[c for c in CALIBRATION_COLUMNS if c != "seed"]]
    shown += [c for c in runs.columns if c.endswith("_matrices")]
    display(runs[[c for c in shown if c in runs]].round(3))

# %% [markdown]
# Runs of `steady` counted the planted drivers matrix by matrix (the code of the time), so their
# cluster counts are blank and their counts sit in the `…_matrices` columns. Which criteria each
# run meets (`True` = met):

# %%
if not runs.empty:
    ok_cols = [c for c in runs.columns if c.startswith("ok:")]
    display(runs[["setting", "seed", *ok_cols]].rename(columns=lambda c: c.removeprefix("ok:")))

# %% [markdown]
# ## What failed, and why
#
# The first `quick` profile (setting `first`) was tried before the runner existed: early
# stopping ended pre-training soon after a jump of the validation loss, and several fine-tuned
# models were still improving at their epoch limit. `steady` trained longer, with more patience
# and a lower pre-training learning rate, on a smaller world to pay for it. Its fine-tuned
# models still hit their 15-epoch cap, its 5 % bootstrap units stopped early on validation
# subsets of a few dozen sequences, and its book ran over 20 minutes. `patient` trains the
# independent models side by side in single-threaded processes (the small networks do not use
# a second core within one model, so two processes double the throughput), spends that on
# 25-epoch caps, validates bootstrap units on the whole fold, and trains the baseline in the
# grid only at 5 %. Its 300-step minimum, spread over 25 epochs, made bootstrap epochs of 12
# steps and a patience of 60 steps: the 5 % units' validation loss rose for their first epochs
# while the validation AUROC climbed, and early stopping kept epoch 1. `patient500` gives them
# 20-step epochs; in its runs a patience of 5 epochs still stopped some fine-tuned line models
# while their validation AUROC was rising, behind a noisy validation loss. `paper_patience` —
# now the `quick` profile — uses the paper's patience of 10 for both kinds of binary model.
#
# In some runs of `paper_patience` a fine-tuned model's validation loss reaches its minimum
# within the first epochs and then rises while its validation AUROC keeps climbing (the model
# grows over-confident at this learning rate); early stopping on the loss then restores an
# early, weaker model, and that run loses lines and drivers. The paper gives patiences but not
# what early stopping watched (Keras' default is the validation loss), so `auroc_stop` trains
# every binary model — ChromTransfer and baseline alike — to its best validation AUROC instead.
# Share of runs meeting each criterion, per setting:

# %%
ok_cols = [c for c in runs.columns if c.startswith("ok:")]
per_setting = runs.groupby("setting")[ok_cols].mean() if ok_cols else pd.DataFrame()
per_setting.rename(columns=lambda c: c.removeprefix("ok:"))

# %% [markdown]
# ### What early stopping watches
#
# The settings side by side (means over each setting's finished seeds; "lowest line" is the
# weakest of the six lines in a run):

# %%
glue("monitor_sentence", calibration_report.monitor_sentence(runs), display=False)
drivers_ok = "ok:drivers_top5_ft>=2_and_lower_pretrained"
for name, setting in (
    ("drivers_share_auroc", "auroc_stop"),
    ("drivers_share_loss", "paper_patience"),
):
    mine = runs.loc[runs["setting"] == setting, drivers_ok] if drivers_ok in runs else []
    glue(name, f"{int(sum(mine))} of {len(mine)}", display=False)
calibration_report.setting_comparison(runs, list(grid["settings"])).round(3)

# %% [markdown]
# {glue:text}`monitor_sentence` Stopping on AUROC rescues the models that stopping on the loss
# halted too early, of both kinds, and with them the planted drivers: the fine-tuned models
# rank them in the top clusters in {glue:text}`drivers_share_auroc` of `auroc_stop` runs
# against {glue:text}`drivers_share_loss` of `paper_patience` runs. But in this world a
# from-scratch model trained to its best validation AUROC comes close to ChromTransfer on the
# full data: most of ChromTransfer's full-data margin under loss-based stopping is the
# baselines' early stops — the behaviour the paper describes for its own baselines ("early
# stopping only after a few epochs", Figure 2A). `quick` keeps the validation loss, the paper's
# likely monitor, and this appendix records both; a profile may set
# `<section>.monitor: val_auroc`.

# %% [markdown]
# ### Data efficiency at this scale
#
# The data-efficiency criterion depends on absolute sizes: the paper's 5 % HepG2 subset holds
# 3,733 training sequences; here it holds the `n_train_5pct` sequences below.

# %%
size_note = (
    runs[["setting", "seed", "n_train_5pct", "n_train_100pct"]]
    if {"n_train_5pct", "n_train_100pct"} <= set(runs.columns)
    else pd.DataFrame({"note": ["subset sizes were not recorded by these runs"]})
)
size_note

# %% [markdown]
# To see what limits the 5 % models, `experiments/retention_probe.py` re-trained HepG2 models
# on subsets of one recorded run, changing one thing at a time (validation set, learning rate,
# optimiser steps, subset size; the baseline the same way), and fitted a logistic regression
# on the pre-trained trunk's pooled features (a linear probe). {glue:text}`probe_sentence`

# %%
probe_path = root / "experiments" / "calibration" / "retention_probe.csv"
probe = pd.read_csv(probe_path) if probe_path.is_file() else pd.DataFrame()
glue("probe_sentence", calibration_report.probe_sentence(probe), display=False)
calibration_report.probe_table(probe) if len(probe) else Markdown("No probe has been recorded.")

# %% [markdown]
# ### A wider trunk?
#
# The linear probe suggests why: `quick` divides every width by 4, so its trunk ends in
# {glue:text}`n_channels` pooled channels, while pre-training rDHSs carry sites of
# {glue:text}`n_broad` broad-vocabulary motifs (the generic factors and every line's drivers).
# Telling "open" from "closed" only needs to know that some motif is present, so a few channels
# can mix the lines' drivers, and a model fine-tuned on a few dozen sequences has to un-mix them.
# `experiments/width_probe.py` pre-trained wider trunks on the same world (seed 1 of
# `auroc_stop`, whose runs stop on validation AUROC) and measured each step again, with the
# time per training step against the `quick` network in the same process (the `quick` row
# times that network against itself: its ratio is the timing noise). Two repetitions at 5 %
# per width. {glue:text}`width_sentence` Neither the linear probe nor the 5 % models moved
# enough for a wider trunk to be the missing piece at this world's size, and criterion 3 stays
# unmet: the 5 % subset is too small in absolute terms.

# %%
quick = load_profile("quick")  # this section is about quick, whichever profile renders it
sim = quick.simulation
broad = set(sim.generic_vocabulary) | {d for ds in sim.drivers.values() for d in ds}
glue("n_broad", len(broad), display=False)
glue("n_channels", quick.model.top_filters, display=False)
width_path = root / "experiments" / "calibration" / "width_probe.csv"
widths = pd.read_csv(width_path) if width_path.is_file() else pd.DataFrame()
glue("width_sentence", calibration_report.width_sentence(widths), display=False)
calibration_report.width_table(widths) if len(widths) else Markdown("No width probe recorded.")

# %% [markdown]
# **Re-run this chapter:** `chromtransfer book --profile quick --chapter 10`; the calibration
# runs themselves: `chromtransfer calibrate --grid experiments/calibration_grid.yaml`
# (each setting × seed is a full book run).

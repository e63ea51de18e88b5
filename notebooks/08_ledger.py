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
# # 8. Reproduction ledger
#
# Every result the paper reports, next to this run's value, with a status decided by a stated
# rule; then every place where this reproduction had to choose something the paper leaves
# open, or deviates from it, with the reason. Nothing here is typed by hand: the values come
# from the metrics the chapters saved in the run directory, and the table is also written to
# `ledger.csv` there.
#
# Statuses: **reproduced** (the claim holds by the rule), **differs** (it does not), **not
# applicable at this scale** (this profile cannot test it), **not run** (its chapter has not
# run), **choice** (a decision or deviation, with its reason).

# %% tags=["parameters"]
profile = "quick"
run_dir = None

# %%
import pandas as pd
import plotnine as p9
from IPython.display import display
from myst_nb import glue

from chromtransfer_lib.book import ledger, plots, results, stages

ctx = stages.start_chapter(profile, run_dir)
prof = ctx.profile
metrics = results.load_metrics(ctx.run_dir)
table = ledger.build_ledger(metrics, prof)
path = ledger.write_ledger(table, ctx.run_dir)
print(f"ledger written to {path}")

# %% [markdown]
# ## Reported results

# %%
claims = table[table["status"] != "choice"].drop(columns=["profile"])
counts = claims["status"].value_counts()
glue("n_reproduced", int(counts.get("reproduced", 0)), display=False)
glue("n_claims", len(claims), display=False)
glue("n_differs", int(counts.get("differs", 0)), display=False)
glue("profile_name", prof.name, display=False)
with pd.option_context("display.max_colwidth", None):
    display(claims.style.hide(axis="index").map(ledger.status_style, subset=["status"]))

# %%
status_order = ["reproduced", "differs", "not applicable at this scale", "not run"]
claims_plot = claims.assign(
    status=pd.Categorical(claims["status"], categories=status_order),
    result=pd.Categorical(claims["result"], categories=list(claims["result"])[::-1]),
)
(
    p9.ggplot(claims_plot, p9.aes("result", fill="status"))
    + p9.geom_bar(width=0.7)
    + p9.coord_flip()
    + p9.scale_fill_manual(
        {
            "reproduced": "#009E73",
            "differs": "#D55E00",
            "not applicable at this scale": "#BBBBBB",
            "not run": "#F0E442",
        },
        drop=False,
    )
    + p9.labs(x="", y="", fill="", title=f"The paper's results at profile {prof.name}")
    + plots.theme_book()
    + p9.theme(
        axis_text_x=p9.element_blank(),
        axis_ticks_major_x=p9.element_blank(),
        figure_size=(9, 5),
        legend_position="bottom",
    )
)

# %% [markdown]
# At profile `{glue:text}`profile_name``, {glue:text}`n_reproduced` of the
# {glue:text}`n_claims` reported results are reproduced and {glue:text}`n_differs` differ.

# %% [markdown]
# ## The calibrated `quick` claims, seed by seed
#
# The `quick` profile was chosen by running the whole book for several seeds (the calibration
# appendix). These are the recorded rows of its setting, with the five criteria it was held to
# — so a claim above can be read against the seeds that did not show it.

# %%
from chromtransfer_lib.book.runner import find_repo_root

calib_dir = find_repo_root() / "experiments" / "calibration"
calib_path, runs_path = calib_dir / "calibration.csv", calib_dir / "runs.csv"
if calib_path.is_file() and runs_path.is_file():
    chosen = pd.read_csv(calib_path)
    runs = pd.read_csv(runs_path)
    ok_cols = [c for c in runs.columns if c.startswith("ok:")]
    per_seed = chosen.merge(
        runs[runs["seed"].isin(chosen["seed"]) & runs["status"].eq("ok")][
            ["seed", "book_minutes", *ok_cols]
        ].drop_duplicates("seed", keep="last"),
        on=["seed", "book_minutes"],
        how="left",
    ).rename(columns=lambda c: c.removeprefix("ok:"))
    display(per_seed.round(3))
else:
    print("no calibration record in experiments/calibration")

# %% [markdown]
# ## Choices and deviations

# %%
with pd.option_context("display.max_colwidth", None):
    display(table[table["status"] == "choice"][["result", "note"]].style.hide(axis="index"))

# %% [markdown]
# **Re-run this chapter:** `chromtransfer book --profile quick --chapter 08` (it only reads the
# other chapters' saved metrics).

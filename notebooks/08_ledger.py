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
# open, or deviates from it, with the reason. Nothing here is typed by hand: the paper's values
# come from `chromtransfer_lib/paper_results.yaml`, each claim's rule (statistic, comparison,
# threshold, place in the paper) from `book/data/claims.yaml` — the rules the calibration
# runner judges its runs by — and this run's values from the metrics the chapters saved in the
# run directory. The table is also written to `ledger.csv` there.
#
# Statuses: **reproduced** (the claim holds by the rule), **differs** (it does not), **not
# applicable at this scale** (this profile cannot test it), **not run** (its chapter has not
# run), **choice** (a decision or deviation, with its reason).

# %% tags=["parameters"]
profile = "quick"
run_dir = None

# %% tags=["hide-input"]
from myst_nb import glue

from chromtransfer_lib.book import calibration_record, ledger, stages
from chromtransfer_lib.book.runner import find_repo_root

ctx = stages.start_chapter(profile, run_dir)
table = ledger.ensure_ledger(ctx)
record = calibration_record.load_record(find_repo_root())
glue("profile_name", ctx.profile.name, display=False)
for name, value in ledger.status_counts(table).items():
    glue(name, value, display=False)

# %% [markdown]
# ## Reported results

# %%
ledger.claims_view(table)

# %%
ledger.status_figure(table)

# %% [markdown]
# At profile {glue:text}`profile_name`, {glue:text}`n_reproduced` of the
# {glue:text}`n_claims` reported results are reproduced and {glue:text}`n_differs` differ;
# {glue:text}`n_not_applicable` are not applicable at this scale and {glue:text}`n_not_run`
# have not run.

# %% [markdown]
# ## The calibrated `quick` claims, seed by seed
#
# The `quick` profile was chosen by running the whole book for several seeds (the calibration
# appendix). These are the recorded rows of its setting, one per seed, with the five criteria
# it was held to, decided by the rules of `claims.yaml` (`ok:` columns) — so a claim above can
# be read against the seeds that did not show it. The table is empty when the repository holds
# no calibration record.

# %%
calibration_record.per_seed_criteria(record).round(3)

# %% [markdown]
# ## Choices and deviations

# %%
ledger.choices_view(table)

# %% [markdown]
# **Re-run this chapter:** `chromtransfer book --profile quick --chapter 08` (it only reads the
# other chapters' saved metrics).

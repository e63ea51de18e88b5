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
# # 9. Reproduction ledger
#
# :::{admonition} Learning objectives
# :class: objectives
#
# After this chapter you can:
#
# * find each result the paper reports next to this run's value, with the rule that decides its
#   status;
# * tell apart "reproduced", "differs", "not applicable at this scale" and "not run";
# * list the choices and deviations of this reproduction, with their reasons.
# :::
#
# **Needs:** the metrics chapters 1–7 saved in the run directory (the claims of a chapter that
# has not run show as "not run"). **Writes:** `ledger.csv` in the run directory.
#
# **Time:** {glue:text}`chapter_minutes:.1f` min ({glue:text}`chapter_seconds:.0f` s) from the
# set-up cell to the last cell, in the run that rendered this page (profile
# {glue:text}`chapter_profile`). It trains nothing: it reads what the other chapters saved.
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

from chromtransfer_lib.book import calibration_record, claim_support, exercises, ledger, stages
from chromtransfer_lib.book.runner import find_repo_root

ctx = stages.start_chapter(profile, run_dir)
support = claim_support.load_support(find_repo_root(), ctx.profile)
table = ledger.ensure_ledger(ctx, support=support)
record = calibration_record.load_record(find_repo_root())
glue("profile_name", ctx.profile.name, display=False)
for name, value in {**ledger.status_counts(table), **claim_support.support_counts(support)}.items():
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
# ## What this profile's scale supports
#
# A claim that holds on one seed of a small world and not on the next is not a result of that
# scale. The calibration runner judges every claim above, by the same rules, in runs of this
# profile's configuration on several seeds (`experiments/claims/<profile>/claim_support.csv`); a
# claim counts as supported when it was reproduced on every recorded seed (at least
# {glue:text}`n_support_seeds` here), and the ledger marks any other claim "not applicable at
# this scale", with this run's own verdict in its note. {glue:text}`n_supported` claims are
# supported at profile {glue:text}`profile_name`. The table is empty when no run of this
# configuration is recorded (then every claim is judged on this run alone): record one with
# `chromtransfer calibrate` on a grid whose `base` is the profile, one empty setting, several
# seeds and `out_dir: experiments/claims/<profile>`.

# %%
claim_support.support_view(support)

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
# **Re-run this chapter:** `chromtransfer book --profile quick --chapter 09` (it only reads the
# other chapters' saved metrics).

# %% tags=["hide-input"]
for name, value in exercises.ledger_answers(ctx).items():  # numbers the solutions quote
    glue(name, value, display=False)

# %% [markdown]
# ## Exercises
#
# ::::{exercise} A run that saved nothing
# :label: ex-08-empty
#
# Judge the claims on no metrics at all: `ledger.build_ledger({}, ctx.profile)`. What
# status does each claim get?
# ::::
#
# ::::{solution} ex-08-empty
# :class: dropdown
#
# "not run": each claim's rule reads its chapter's saved metrics, and there are none, so
# {glue:text}`ex_empty_not_run` of the {glue:text}`ex_empty_claims` claims are not run. The
# choices and deviations, which depend on no metric, are listed as before.
# ::::
#
# ::::{exercise} Judged as another profile
# :label: ex-08-profile
#
# This chapter judges the metrics saved in the run directory at this run's profile. Judge
# the same metrics as if the `paper` profile had produced them:
#
# ```python
# from chromtransfer_lib.book import results
# from chromtransfer_lib.config import load_profile
#
# ledger.build_ledger(results.load_metrics(ctx.run_dir), load_profile("paper"))
# ```
#
# What changes?
# ::::
#
# ::::{solution} ex-08-profile
# :class: dropdown
#
# The numbers and the rules are the same; the profile enters in two places only. The
# `smoke` profile makes no claims, so a smoke run's ledger marks every claim that ran "not
# applicable at this scale", and judged as `paper` they get the status their rule gives; and the
# "Deviation of this profile" rows list the `paper` profile's deviations. Judged so, the claims
# are: reproduced {glue:text}`ex_paper_reproduced`, differs {glue:text}`ex_paper_differs`, not
# applicable {glue:text}`ex_paper_not_applicable`, not run {glue:text}`ex_paper_not_run`; in
# this run's own ledger above: {glue:text}`n_reproduced`, {glue:text}`n_differs`,
# {glue:text}`n_not_applicable` and {glue:text}`n_not_run`.
# ::::

# %% tags=["hide-input"]
for name, value in stages.chapter_timing(ctx).items():  # the header's **Time:** line
    glue(name, value, display=False)

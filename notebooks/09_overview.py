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
# # Gallery and run times
#
# Every chapter's main figures at a glance, and how long each profile took on the machine that
# rendered this book. Both are read from this run's outputs: the executed chapters and the
# timings the book runner records.

# %% tags=["parameters"]
profile = "quick"
run_dir = None

# %% tags=["hide-input"]
from myst_nb import glue

from chromtransfer_lib.book import gallery, stages
from chromtransfer_lib.book.runner import find_repo_root

ctx = stages.start_chapter(profile, run_dir)
root = find_repo_root()
figures = gallery.chapter_figures(root / "book" / "chapters", per_chapter=2)
glue("n_figures", len(figures), display=False)
glue("n_chapters", figures["chapter"].nunique(), display=False)

# %% [markdown]
# ## Which profile should I use?

# %%
gallery.measured_times(root / "runs", current=(ctx.profile.name, ctx.run_dir))

# %% [markdown]
# `smoke` checks that everything runs (tests, CI); `quick` is the default of `make book` and
# gives meaningful results on a laptop CPU; `paper` uses the paper's data and recipes and needs
# a GPU and the downloaded inputs (`chromtransfer fetch --all`). A blank time means that
# profile has not been run on this machine.
#
# ## Gallery
#
# The first figures of every chapter: {glue:text}`n_figures` figures from
# {glue:text}`n_chapters` chapters.

# %%
gallery.gallery_figure(figures)

# %% [markdown]
# **Re-run this chapter:** `chromtransfer book --profile quick --chapter 09` (it reads the other
# chapters' executed notebooks and the run's timings).

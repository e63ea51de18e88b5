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
# :::{admonition} Learning objectives
# :class: objectives
#
# After this chapter you can:
#
# * choose a profile for a purpose (tests, a laptop, a GPU) from measured run times;
# * find where the book records its chapters' times and where the gallery takes its figures;
# * see every chapter's main figures at a glance.
# :::
#
# **Needs:** the executed chapters in `book/chapters/` and the run directories' timings
# (`runs/<profile>/book_timings.csv`, written by `chromtransfer book`). **Writes:** nothing.
#
# **Time:** {glue:text}`chapter_minutes:.1f` min ({glue:text}`chapter_seconds:.0f` s) from the
# set-up cell to the last cell, in the run that rendered this page (profile
# {glue:text}`chapter_profile`). It trains nothing: it reads what the other chapters left.
#
# Every chapter's main figures at a glance, and how long each profile took on the machine that
# rendered this book. Both are read from this run's outputs: the executed chapters and the
# timings the book runner records.

# %% tags=["parameters"]
profile = "quick"
run_dir = None

# %% tags=["hide-input"]
from myst_nb import glue

from chromtransfer_lib.book import exercises, gallery, stages
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
# **Re-run this chapter:** `chromtransfer book --profile quick --chapter 10` (it reads the other
# chapters' executed notebooks and the run's timings).

# %% tags=["hide-input"]
for name, value in exercises.gallery_answers(root, ctx).items():  # numbers the solutions quote
    glue(name, value, display=False)

# %% [markdown]
# ## Exercises
#
# ::::{exercise} One figure each
# :label: ex-09-one
#
# Take one figure per chapter instead of two:
# `gallery.chapter_figures(root / "book" / "chapters", per_chapter=1)`. How many figures are
# left?
# ::::
#
# ::::{solution} ex-09-one
# :class: dropdown
#
# At most one per chapter: {glue:text}`ex_figures_1` figures from
# {glue:text}`ex_chapters_1` chapters, against {glue:text}`n_figures` with two per chapter. A
# chapter whose executed notebook holds no figure is absent either way.
# ::::
#
# ::::{exercise} Where the times come from
# :label: ex-09-where
#
# Call `gallery.measured_times(root / "runs")` without `current=`. It reads only
# `runs/<profile>/book_timings.csv`. Compare this profile's row with the table above.
# ::::
#
# ::::{solution} ex-09-where
# :class: dropdown
#
# With `current=`, this profile's row reads this run's own directory; without it,
# `runs/` under the repository. The two agree when the book ran in its default run directory,
# and differ when it ran elsewhere (`--run-dir`); both read "not run here" until the runner has
# written the timings, at the end of a book run. Here, this profile's slowest chapter reads
# "{glue:text}`ex_slowest_with`" with `current=` and "{glue:text}`ex_slowest_without`"
# without.
# ::::

# %% tags=["hide-input"]
for name, value in stages.chapter_timing(ctx).items():  # the header's **Time:** line
    glue(name, value, display=False)

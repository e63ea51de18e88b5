"""The bootstrap stage: Table 1's grid of fine-tuning runs on subsets of one line's data."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from chromtransfer_lib.book.stages.context import RunContext
from chromtransfer_lib.book.stages.training import line_model_builder, recipe
from chromtransfer_lib.book.stages.world import Datasets
from chromtransfer_lib.config import BootstrapConfig

if TYPE_CHECKING:  # the models layer imports TensorFlow: stages import it when they run
    import pandas as pd

    from chromtransfer_lib.models.crossval import CVResult
    from chromtransfer_lib.models.grids import BootstrapGrid


def bootstrap_kinds(bc: BootstrapConfig) -> tuple[str, ...]:
    """The grid's model kinds: ChromTransfer, and the baseline if it has fractions."""
    return ("finetune", "scratch") if bc.scratch_fractions else ("finetune",)


def bootstrap_grid(ctx: RunContext) -> BootstrapGrid:
    """The profile's grid (the from-scratch baseline limited to ``scratch_fractions``)."""
    from chromtransfer_lib.models.grids import BootstrapGrid

    bc = ctx.profile.bootstrap
    limits = {"scratch": tuple(bc.scratch_fractions)} if bc.scratch_fractions else {}
    return BootstrapGrid(
        fractions=tuple(bc.fractions),
        repetitions=bc.repetitions,
        random_state=ctx.profile.seed,
        kind_fractions=limits,
        min_steps=bc.min_steps,
        subsample_validation=bc.subsample_validation,
    )


def bootstrap_dir(ctx: RunContext) -> Path:
    """Where the Table 1 grid's units live (read them with
    :func:`~chromtransfer_lib.models.grids.collect_units`)."""
    line = ctx.profile.bootstrap.cell_line
    return ctx.model_dir(f"bootstrap-{line}", "pretrain", "finetune", "scratch", "bootstrap")


def ensure_bootstrap(
    ctx: RunContext,
    datasets: Datasets,
    pretrain_cv: CVResult,
    *,
    shard: tuple[int, int] = (0, 1),
) -> pd.DataFrame:
    """Run (or resume) the Table 1 grid: fractions × repetitions of one line's training data.

    Each unit fine-tunes the pre-trained model (and, if the profile says so, trains the
    binary baseline) on a stratified subsample of the first fine-tuning fold's training (and
    validation) rows and scores it on the full test set. Units are resumable folders, so a
    killed grid continues where it stopped, and ``shard=(i, n)`` runs every n-th unit for job
    arrays. Returns the finished units of this shard (DataFrame).
    """
    from chromtransfer_lib.models.grids import GridData, ModelSpec, run_bootstrap

    prof = ctx.profile
    ds = datasets.finetune[prof.bootstrap.cell_line]
    part = ds.partition(prof.finetune.folds[0])
    models = {
        k: ModelSpec(line_model_builder(ctx, pretrain_cv, kind=k), recipe(getattr(prof, k)))
        for k in bootstrap_kinds(prof.bootstrap)
    }
    data = GridData(ds.codes, ds.labels, part.train, part.valid, ds.subset(split="test"))
    return run_bootstrap(
        models,
        bootstrap_grid(ctx),
        data,
        out_dir=bootstrap_dir(ctx),
        shard=shard,
        progress=ctx.progress,
    )

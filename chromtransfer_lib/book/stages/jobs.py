"""The book's training jobs: what is left to train, and training it on worker processes.

:func:`train_in_parallel` hands the pending jobs to
:func:`chromtransfer_lib.models.parallel.run_jobs` with :func:`run_job` as the task; each
worker rebuilds the :class:`~chromtransfer_lib.book.stages.RunContext` and runs one job
through the ordinary ``ensure_*`` stages, so the chapter's own calls afterwards only load.
"""

from __future__ import annotations

import time
from pathlib import Path

from chromtransfer_lib.book.stages.context import RunContext
from chromtransfer_lib.book.stages.grid import (
    bootstrap_dir,
    bootstrap_grid,
    bootstrap_kinds,
    ensure_bootstrap,
)
from chromtransfer_lib.book.stages.training import (
    MODEL_KINDS,
    ensure_line_model,
    ensure_multiclass,
    ensure_pretrained,
    line_model_dir,
    multiclass_dir,
)
from chromtransfer_lib.book.stages.world import Datasets, ensure_datasets, ensure_world
from chromtransfer_lib.config import CELL_LINES, Profile
from chromtransfer_lib.models.parallel import Job


def _finished_run(folder: Path) -> bool:
    return (folder / "metrics.json").is_file() and (folder / "model.keras").is_file()


def pending_jobs(ctx: RunContext, *, line_models: bool = True, bootstrap: bool = False) -> list:
    """Training jobs whose runs are not finished yet, largest first.

    ``line_models``: the six lines' ChromTransfer and binary baseline models and the multiclass
    baseline (chapter 3's models); ``bootstrap``: every unit of the Table 1 grid, one job each.
    """
    prof, jobs = ctx.profile, []
    if line_models:
        multi = multiclass_dir(ctx)
        if not all(_finished_run(multi / f"fold_{k}") for k in prof.multiclass.folds):
            jobs.append(Job("multiclass"))
        for kind in MODEL_KINDS:
            for line in CELL_LINES:
                root = line_model_dir(ctx, line, kind)
                folds = getattr(prof, kind).folds
                if not all((root / f"fold_{f}" / "test_metrics.json").is_file() for f in folds):
                    jobs.append(Job("line", (("line", line), ("kind", kind))))
    if bootstrap:
        units = bootstrap_grid(ctx).units(bootstrap_kinds(prof.bootstrap))
        root = bootstrap_dir(ctx)
        order = sorted(range(len(units)), key=lambda i: -units[i].fraction)  # big subsets first
        for i in order:
            if not (units[i].folder(root) / "test_metrics.json").is_file():
                jobs.append(Job("bootstrap", (("shard", (i, len(units))),)))
    return jobs


def train_in_parallel(
    ctx: RunContext, datasets: Datasets, *, line_models: bool = True, bootstrap: bool = False
) -> list:
    """Train the pending jobs of :func:`pending_jobs` on the profile's worker processes.

    Pre-training (which every job starts from) runs first, here. Afterwards the chapter's
    ``ensure_*`` calls find every run finished and only load them. Returns ``(job, seconds)``
    per job trained (empty when everything was done already).
    """
    from chromtransfer_lib.models.parallel import resolve_workers, run_jobs

    ensure_pretrained(ctx, datasets)
    jobs = pending_jobs(ctx, line_models=line_models, bootstrap=bootstrap)
    if not jobs:
        return []
    workers = resolve_workers(ctx.profile.workers, len(jobs))
    done = run_jobs(run_job, ctx.profile, ctx.run_dir, jobs, workers=workers, progress=ctx.progress)
    total = sum(sec for _, sec in done)
    print(f"trained {len(done)} job(s) on {workers} process(es): {total / 60:.1f} process-minutes")
    return done


def run_job(profile: Profile, run_dir: str, job: Job) -> tuple[str, float]:
    """Worker side of :func:`train_in_parallel`: rebuild the context and run one job through
    the normal stages; returns ``(job description, seconds)``."""
    t0 = time.perf_counter()
    ctx = RunContext(profile, Path(run_dir))
    datasets = ensure_datasets(ctx, ensure_world(ctx))
    a = dict(job.args)
    if job.kind == "multiclass":
        ensure_multiclass(ctx, datasets)
    else:
        pre = ensure_pretrained(ctx, datasets)
        if job.kind == "line":
            ensure_line_model(ctx, datasets, pre, line=a["line"], kind=a["kind"])
        elif job.kind == "bootstrap":
            ensure_bootstrap(ctx, datasets, pre, shard=tuple(a["shard"]))
        else:
            raise ValueError(f"unknown job kind {job.kind!r}")
    return job.describe(), time.perf_counter() - t0


# ------------------------------------------------------------------ workflow units


#: Training units of :func:`workflow_units` that the book trains on its single-threaded worker
#: processes (:func:`train_in_parallel`); pre-training and the datasets run in the chapter's
#: own process, with every thread.
WORKER_UNITS = ("line", "multiclass", "bootstrap")


def workflow_units(ctx: RunContext) -> list[Job]:
    """Every independent unit of the book's training, in dependency order, for a workflow
    engine (``workflow/Snakefile``): ``world`` (inputs and datasets), ``pretrain`` (one per
    pre-training fold), ``line`` (line × kind × fold), ``multiclass`` and ``bootstrap`` (one
    per Table 1 grid unit, ``shard=(i, n)``). Each runs through :func:`run_unit` and the same
    resumable stages as the book; the chapters afterwards only load.
    """
    prof = ctx.profile
    units = [Job("world")]
    units += [Job("pretrain", (("fold", k),)) for k in prof.pretrain.folds]
    for kind in MODEL_KINDS:
        for line in CELL_LINES:
            for k in getattr(prof, kind).folds:
                units.append(Job("line", (("line", line), ("kind", kind), ("fold", k))))
    units.append(Job("multiclass"))
    n = len(bootstrap_grid(ctx).units(bootstrap_kinds(prof.bootstrap)))
    units += [Job("bootstrap", (("shard", (i, n)),)) for i in range(n)]
    return units


def unit_id(job: Job) -> str:
    """A unit's file-name-safe identity: ``world``, ``pretrain-fold0``,
    ``line-HepG2-finetune-fold0``, ``multiclass``, ``bootstrap-003-of-012``."""
    a = dict(job.args)
    if job.kind == "pretrain":
        return f"pretrain-fold{a['fold']}"
    if job.kind == "line":
        return f"line-{a['line']}-{a['kind']}-fold{a['fold']}"
    if job.kind == "bootstrap":
        i, n = a["shard"]
        return f"bootstrap-{i:03d}-of-{n:03d}"
    return job.kind


def run_unit(ctx: RunContext, job: Job) -> float:
    """Run one unit of :func:`workflow_units` through the book's stages; its seconds.

    A ``line`` unit needs only the first pre-training fold (the model fine-tuning starts from,
    :func:`~.training.pretrained_model`), so it never trains another pre-training fold.
    """
    t0 = time.perf_counter()
    datasets = ensure_datasets(ctx, ensure_world(ctx))
    a = dict(job.args)
    first = (ctx.profile.pretrain.folds[0],)
    if job.kind == "pretrain":
        ensure_pretrained(ctx, datasets, folds=(a["fold"],))
    elif job.kind == "line":
        pre = ensure_pretrained(ctx, datasets, folds=first)
        ensure_line_model(ctx, datasets, pre, line=a["line"], kind=a["kind"], folds=(a["fold"],))
    elif job.kind == "multiclass":
        ensure_multiclass(ctx, datasets)
    elif job.kind == "bootstrap":
        pre = ensure_pretrained(ctx, datasets, folds=first)
        ensure_bootstrap(ctx, datasets, pre, shard=tuple(a["shard"]))
    elif job.kind != "world":
        raise ValueError(f"unknown unit kind {job.kind!r}")
    return time.perf_counter() - t0

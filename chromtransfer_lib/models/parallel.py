"""Train independent models side by side in worker processes.

The quick-width networks are too small for TensorFlow to use two CPU cores on one model: on
the 2-core reference machine one model trains at ~800 samples/s with two threads and ~850
with one, while two single-threaded processes together reach ~1,700. So :func:`run_jobs` runs
a task function on a pool of single-threaded, *spawned* worker processes (never forked:
TensorFlow is not fork-safe), one call per :class:`Job`.

The task is the caller's: the book passes :func:`chromtransfer_lib.book.stages.run_job`, which
rebuilds the run context from the pickled profile and trains through the same resumable
:func:`~chromtransfer_lib.models.train.train_model`, so a killed chapter resumes where it
stopped and results depend only on the profile — not on which process trained a model
(ARCHITECTURE.md, "models"). Numerics follow the thread count: a model trained by a
single-threaded worker may differ in the last bits from one trained by a two-threaded process.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: Environment variable that overrides the profile's ``workers`` (an integer ≥ 0).
WORKERS_ENV = "CHROMTRANSFER_WORKERS"


@dataclass(frozen=True)
class Job:
    """One unit of work: ``kind`` is ``"line"`` (args: line, kind), ``"multiclass"`` or
    ``"bootstrap"`` (args: shard)."""

    kind: str
    args: tuple[tuple[str, Any], ...] = ()

    def describe(self) -> str:
        a = dict(self.args)
        if self.kind == "line":
            return f"{a['kind']} {a['line']}"
        if self.kind == "bootstrap":
            return f"bootstrap shard {a['shard'][0] + 1}/{a['shard'][1]}"
        return self.kind


def resolve_workers(requested: int, n_jobs: int) -> int:
    """How many processes to use for ``n_jobs`` jobs.

    ``requested`` is the profile's ``workers``; the ``CHROMTRANSFER_WORKERS`` environment
    variable overrides it. 0 means one per CPU core, or 1 when TensorFlow sees a GPU (workers
    would each claim the whole GPU's memory). Never more than ``n_jobs``.
    """
    env = os.environ.get(WORKERS_ENV, "").strip()
    if env:
        try:
            requested = int(env)
        except ValueError:
            raise ValueError(f"{WORKERS_ENV}={env!r} is not an integer ≥ 0") from None
    if requested < 0:
        raise ValueError(f"workers must be ≥ 0, got {requested}")
    if requested == 0:
        import tensorflow as tf

        requested = 1 if tf.config.list_physical_devices("GPU") else (os.cpu_count() or 1)
    return max(1, min(requested, n_jobs))


def _init_worker() -> None:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    os.environ["TQDM_DISABLE"] = "1"  # the notebook shows one bar over the jobs
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)


def run_jobs(
    task: Callable[[Any, str, Job], tuple[str, float]],
    profile: Any,
    run_dir: str | Path,
    jobs: Sequence[Job],
    *,
    workers: int,
    progress: bool = True,
) -> list[tuple[str, float]]:
    """Run ``task(profile, run_dir, job)`` for every job on ``workers`` spawned single-threaded
    processes; returns what each call returned (``(job, seconds)``) in completion order.

    ``task`` must be a module-level function (it is pickled by name into the workers); the book
    passes :func:`chromtransfer_lib.book.stages.run_job`. With one worker (or one job) the jobs
    run here, in this process.
    """
    if not jobs:
        return []
    if workers <= 1:
        return [task(profile, str(run_dir), job) for job in jobs]
    from chromtransfer_lib.progress import progress_bar

    done: list[tuple[str, float]] = []
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=get_context("spawn"), initializer=_init_worker
    ) as pool:
        futures = {pool.submit(task, profile, str(run_dir), job): job for job in jobs}
        bar = progress_bar(enabled=progress, total=len(futures), unit="job",
                           desc=f"training on {workers} processes")  # fmt: skip
        for fut in as_completed(futures):
            done.append(fut.result())  # re-raises a worker's exception here
            bar.update()
        bar.close()
    return done

"""Independent training jobs on spawned single-threaded worker processes."""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path

import pytest

from chromtransfer_lib.models import parallel


def _probe(profile: str, run_dir: str, job: parallel.Job) -> tuple[str, float]:
    """A task for :func:`parallel.run_jobs` that records which process ran which job, how."""
    args = dict(job.args)
    if args.get("fail"):
        raise ValueError(f"job {args['name']} failed as asked")
    threads = None
    if "tensorflow" in sys.modules:
        threads = sys.modules["tensorflow"].config.threading.get_intra_op_parallelism_threads()
    record = {
        "job": args["name"],
        "profile": profile,
        "pid": os.getpid(),
        "tqdm_disabled": os.environ.get("TQDM_DISABLE"),
        "threads": threads,
    }
    name = f"{args['name']}-{os.getpid()}-{uuid.uuid4().hex}.json"  # one file per call
    (Path(run_dir) / name).write_text(json.dumps(record))
    return job.describe(), 0.5


def _jobs(*names: str, fail: str | None = None) -> list[parallel.Job]:
    return [parallel.Job("probe", (("name", n), ("fail", n == fail))) for n in names]


def _records(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def test_run_jobs_calls_the_task_once_per_job_in_spawned_workers(tmp_path) -> None:
    done = parallel.run_jobs(_probe, "p", tmp_path, _jobs("a", "b", "c", "d"), workers=2,
                             progress=False)  # fmt: skip
    assert sorted(done) == [("probe", 0.5)] * 4  # what each call returned
    records = _records(tmp_path)
    assert sorted(r["job"] for r in records) == ["a", "b", "c", "d"]  # each job exactly once
    pids = {r["pid"] for r in records}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2  # in (at most) two workers
    assert all(r["profile"] == "p" for r in records)
    # workers are single-threaded and keep their progress bars to themselves
    assert all(r["threads"] == 1 and r["tqdm_disabled"] == "1" for r in records)


def test_run_jobs_runs_here_with_one_worker(tmp_path) -> None:
    done = parallel.run_jobs(_probe, "p", tmp_path, _jobs("a", "b"), workers=1, progress=False)
    assert done == [("probe", 0.5)] * 2
    assert [(r["job"], r["pid"]) for r in _records(tmp_path)] == [
        ("a", os.getpid()),
        ("b", os.getpid()),
    ]
    assert parallel.run_jobs(_probe, "p", tmp_path, [], workers=2) == []


def test_a_workers_exception_reraises_in_the_caller(tmp_path) -> None:
    with pytest.raises(ValueError, match="job b failed as asked"):
        parallel.run_jobs(
            _probe, "p", tmp_path, _jobs("a", "b", fail="b"), workers=2, progress=False
        )
    assert [r["job"] for r in _records(tmp_path)] == ["a"]  # the other job still ran, once


def test_resolve_workers(monkeypatch) -> None:
    import tensorflow as tf

    monkeypatch.delenv(parallel.WORKERS_ENV, raising=False)
    assert parallel.resolve_workers(3, 2) == 2  # never more than the jobs
    assert parallel.resolve_workers(1, 10) == 1
    # 0: one per CPU core without a GPU, one process with a GPU; never more than the jobs
    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    assert parallel.resolve_workers(0, 100) == 3
    assert parallel.resolve_workers(0, 2) == 2
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: ["GPU:0"])
    assert parallel.resolve_workers(0, 100) == 1
    monkeypatch.setenv(parallel.WORKERS_ENV, "2")
    assert parallel.resolve_workers(1, 10) == 2
    monkeypatch.setenv(parallel.WORKERS_ENV, "two")
    with pytest.raises(ValueError, match="not an integer"):
        parallel.resolve_workers(1, 10)
    monkeypatch.setenv(parallel.WORKERS_ENV, "-1")
    with pytest.raises(ValueError, match="≥ 0"):
        parallel.resolve_workers(1, 10)

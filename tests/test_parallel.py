"""Independent training jobs on spawned single-threaded worker processes."""

from __future__ import annotations

import pytest

from chromtransfer_lib.book import stages
from chromtransfer_lib.models import parallel


def test_resolve_workers(monkeypatch) -> None:
    monkeypatch.delenv(parallel.WORKERS_ENV, raising=False)
    assert parallel.resolve_workers(3, 2) == 2  # never more than the jobs
    assert parallel.resolve_workers(1, 10) == 1
    auto = parallel.resolve_workers(0, 100)  # no GPU on the test machines: one per core
    assert auto >= 1
    monkeypatch.setenv(parallel.WORKERS_ENV, "2")
    assert parallel.resolve_workers(1, 10) == 2
    monkeypatch.setenv(parallel.WORKERS_ENV, "two")
    with pytest.raises(ValueError, match="not an integer"):
        parallel.resolve_workers(1, 10)
    monkeypatch.setenv(parallel.WORKERS_ENV, "-1")
    with pytest.raises(ValueError, match="≥ 0"):
        parallel.resolve_workers(1, 10)


def test_jobs_train_on_two_processes_and_the_chapter_only_loads_them(tmp_path, monkeypatch):
    monkeypatch.setenv(parallel.WORKERS_ENV, "2")
    ctx = stages.RunContext.create("smoke", tmp_path)
    datasets = stages.ensure_datasets(ctx, stages.ensure_world(ctx))
    before = stages.pending_jobs(ctx, line_models=True, bootstrap=True)
    # 12 line models + multiclass, and the smoke grid: 2 fractions of ChromTransfer + 1 baseline
    assert sum(j.kind == "line" for j in before) == 12
    assert [j.kind for j in before].count("multiclass") == 1
    assert sum(j.kind == "bootstrap" for j in before) == 3
    done = stages.train_in_parallel(ctx, datasets, bootstrap=True)
    assert sorted(name for name, _ in done) == sorted(j.describe() for j in before)
    assert stages.pending_jobs(ctx, line_models=True, bootstrap=True) == []
    # the chapter's own calls now find finished runs and train nothing
    pre = stages.ensure_pretrained(ctx, datasets)
    cv = stages.ensure_line_model(ctx, datasets, pre, line="HepG2", kind="finetune")
    assert cv.runs[0].reused
    rows = stages.ensure_bootstrap(ctx, datasets, pre)
    assert len(rows) == 3 and set(rows["kind"]) == {"finetune", "scratch"}
    assert stages.train_in_parallel(ctx, datasets, bootstrap=True) == []  # nothing left

"""benchmarks/bench_gpu.py runs end to end at tiny settings and ends with its JSON line."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_gpu.py"


@pytest.mark.slow  # 19-24 s on the 2-core reference machine: tracing the train step dominates
def test_bench_gpu_tiny_run_ends_with_json(monkeypatch, capsys):
    argv = [str(BENCH), "--profile", "smoke", "--steps", "1", "--batch-size", "8",
            "--predict-batch-size", "16", "--predict-batches", "2"]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the script prepends the repository
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")  # the script's setdefault, undone after
    runpy.run_path(str(BENCH), run_name="__main__")  # as `python benchmarks/bench_gpu.py ...`
    lines = capsys.readouterr().out.strip().splitlines()
    assert any(line.startswith("training (model.fit") for line in lines)  # the table
    last = json.loads(lines[-1])
    assert last["benchmark"] == "gpu"
    figures = last["figures"]
    keys = ("device", "train_ms_per_sample", "predict_ms_per_sample",
            "pipeline_ceiling_samples_per_s")  # fmt: skip
    assert set(keys) <= set(figures)
    assert figures["device"].startswith(("CPU: ", "GPU: "))
    assert all(figures[k] > 0 for k in keys[1:])
    assert (figures["batch_size"], figures["steps"], figures["predict_rows"]) == (8, 1, 32)

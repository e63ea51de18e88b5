"""The book as a Snakemake workflow (``workflow/Snakefile``): its jobs are the book's units, and
run with ``snakemake --cores 2`` it reproduces ``chromtransfer book``'s models and tables."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import copy_book_sources

from chromtransfer_lib.book.runner import list_chapters, run_book
from chromtransfer_lib.book.stages import RunContext, bootstrap_grid, bootstrap_kinds
from chromtransfer_lib.config import CELL_LINES, load_profile

ROOT = Path(__file__).resolve().parent.parent
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
pytestmark = pytest.mark.skipif(not SNAKEMAKE.is_file(), reason="snakemake is not installed")


def _env() -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)  # the venv's chromtransfer
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "TF_CPP_MIN_LOG_LEVEL": "2"}


def _snakemake(root: Path, *args: str, timeout: int) -> subprocess.CompletedProcess:
    argv = [str(SNAKEMAKE), "-s", str(root / "workflow" / "Snakefile"), *args]
    done = subprocess.run(argv, cwd=root, env=_env(), capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    return done


def _job_counts(text: str) -> dict[str, int]:
    table = text.split("Job stats:", 1)[1]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, flags=re.M)}


@pytest.mark.parametrize("profile", ["smoke", "paper"])
def test_dry_run_has_one_job_per_unit_of_the_book(profile, tmp_path):
    prof = load_profile(profile)
    run = tmp_path / "run"
    done = _snakemake(ROOT, "--cores", "2", "-n", "--config", f"profile={profile}",
                      f"run_dir={run}", timeout=300)  # fmt: skip
    counts = _job_counts(done.stdout + done.stderr)
    n_grid = len(bootstrap_grid(RunContext.create(profile, run)).units(
        bootstrap_kinds(prof.bootstrap)))  # fmt: skip
    expected = {
        "world": 1, "pretrain": len(prof.pretrain.folds), "multiclass": 1,
        "line": len(CELL_LINES) * (len(prof.finetune.folds) + len(prof.scratch.folds)),
        "bootstrap": n_grid, "chapter": len(list_chapters(ROOT)), "html": 1, "all": 1,
    }  # fmt: skip
    if prof.data.source != "simulated":
        expected["fetch"] = 1  # the paper's files come first
    expected["total"] = sum(expected.values())
    assert counts == expected
    assert not (run / "workflow").exists()  # a dry run writes nothing


def _book_sources(dst: Path) -> Path:
    root = copy_book_sources(dst)
    shutil.copytree(ROOT / "workflow", root / "workflow")
    return root


def _models(run: Path) -> dict[str, Path]:
    """Every training run's folder (CV folds and Table 1 grid units), by relative path."""
    return {str(p.parent.relative_to(run)): p.parent
            for p in sorted((run / "models").rglob("history.csv"))}  # fmt: skip


def _without_times(obj):
    if isinstance(obj, dict):
        return {k: _without_times(v) for k, v in obj.items()
                if not re.search(r"seconds|minutes|_s$|created|finished", k)}  # fmt: skip
    if isinstance(obj, list):
        return [_without_times(v) for v in obj]
    return obj


# ~2 smoke books here (~15 minutes on a loaded 2-core machine): `make test-all` only.
@pytest.mark.slow
def test_snakemake_reproduces_the_smoke_book(tmp_path):
    book_root = copy_book_sources(tmp_path / "book")
    book = run_book(profile="smoke", root=book_root, run_dir=tmp_path / "book_run", progress=False)
    snake_root = _book_sources(tmp_path / "snake")
    run = tmp_path / "snake_run"
    _snakemake(snake_root, "--cores", "2", "--config", "profile=smoke", f"run_dir={run}",
               timeout=3600)  # fmt: skip
    marks = {p.stem for p in (run / "workflow").glob("*.json")}
    assert {"world", "html", *(f"chapter-{c.name}" for c in book.chapters)} <= marks
    assert (snake_root / "_build" / "html" / "index.html").is_file()
    ours, theirs = _models(run), _models(book.run_dir)
    assert ours.keys() == theirs.keys() and len(ours) > 15  # every fold and grid unit
    for name, folder in ours.items():
        h1 = pd.read_csv(folder / "history.csv").drop(columns="seconds")
        h2 = pd.read_csv(theirs[name] / "history.csv").drop(columns="seconds")
        pd.testing.assert_frame_equal(h1, h2, check_exact=True, obj=name)
        for proba in folder.glob("*proba*.npy"):
            np.testing.assert_array_equal(np.load(proba), np.load(theirs[name] / proba.name))
    tables = sorted(p.name for p in (run / "metrics").glob("*.json"))
    assert tables == sorted(p.name for p in (book.run_dir / "metrics").glob("*.json"))
    for name in tables:
        a = _without_times(json.loads((run / "metrics" / name).read_text()))
        b = _without_times(json.loads((book.run_dir / "metrics" / name).read_text()))
        assert a == b, name
    # make book afterwards finds every unit done: each chapter only loads
    again = _snakemake(snake_root, "--cores", "2", "--config", "profile=smoke", f"run_dir={run}",
                       timeout=600)  # fmt: skip
    assert "Nothing to be done" in again.stdout + again.stderr


def test_slurm_profile_names_only_rules_of_the_workflow():
    import yaml

    profile = yaml.safe_load((ROOT / "workflow/profiles/slurm/config.yaml").read_text())
    rules = set(re.findall(r"^rule (\w+):", (ROOT / "workflow/Snakefile").read_text(), re.M))
    assert profile["executor"] == "slurm"
    assert set(profile["set-resources"]) <= rules and set(profile["set-threads"]) <= rules
    gpu = {
        r for r, res in profile["set-resources"].items() if "gres=gpu" in res.get("slurm_extra", "")
    }
    assert {"pretrain", "line", "multiclass", "bootstrap"} <= gpu

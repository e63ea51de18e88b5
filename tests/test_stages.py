"""The book's model stages on a tiny generated dataset: the multiclass baseline's folds."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from chromtransfer_lib.book import stages
from chromtransfer_lib.config import CELL_LINES, load_profile
from chromtransfer_lib.data.datasets import Dataset

CLASSES = (*CELL_LINES, "Negative")


def _dataset(tmp_path, *, n: int, seq_len: int, n_classes: int, seed: int) -> Dataset:
    """Random codes whose class is readable from the sequence, in folds 0-2 and the test set."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, (n, seq_len)).astype(np.uint8)
    y = np.sum(codes[:, : seq_len // 2] == 1, axis=1) % n_classes
    folds = np.tile([0, 1, 2, -1], n // 4)
    regions = pd.DataFrame({"y": y, "fold": folds, "split": np.where(folds == -1, "test", "train")})
    args = {"classes": list(CLASSES)} if n_classes > 2 else {}
    return Dataset(tmp_path, codes, regions, {"args": args})


@pytest.fixture
def two_fold_ctx(tmp_path):
    smoke = load_profile("smoke")
    two_folds = dataclasses.replace(smoke.multiclass, folds=(0, 1))
    prof = dataclasses.replace(smoke, multiclass=two_folds)
    return stages.RunContext(prof, tmp_path / "run")


def test_multiclass_trains_and_ensembles_every_listed_fold(two_fold_ctx, tmp_path):
    ctx = two_fold_ctx
    L = ctx.profile.data.seq_len
    multi_ds = _dataset(tmp_path, n=280, seq_len=L, n_classes=len(CLASSES), seed=0)
    line_ds = _dataset(tmp_path, n=80, seq_len=L, n_classes=2, seed=1)
    datasets = stages.Datasets(pretrain=None, finetune={"HepG2": line_ds}, multiclass=multi_ds)
    assert [j.kind for j in stages.pending_jobs(ctx)].count("multiclass") == 1

    multi = stages.ensure_multiclass(ctx, datasets)

    finished = sorted(p.parent.name for p in ctx.run_dir.glob("models/multiclass-*/*/metrics.json"))
    assert finished == ["fold_0", "fold_1"]  # every listed fold, not folds[0] alone
    assert [r.config["extra"]["fold"] for r in multi.runs] == [0, 1]
    folds = multi_ds.regions["fold"].to_numpy()
    assert [r.config["n_val"] for r in multi.runs] == [int(np.sum(folds == k)) for k in (0, 1)]
    # the ensemble is the folds' mean prediction, and the AUROC table is computed from it
    from chromtransfer_lib.data.pipeline import predict_proba
    from chromtransfer_lib.evaluate import multiclass_ovr_auroc

    test = np.flatnonzero(folds == -1)
    each = [predict_proba(r.model, multi_ds.codes, indices=test) for r in multi.runs]
    assert not np.allclose(each[0], each[1])  # two models, trained on different folds
    np.testing.assert_allclose(multi.test_proba, np.mean(each, axis=0), atol=1e-6)
    expected = multiclass_ovr_auroc(multi_ds.labels[test], multi.test_proba, list(CLASSES))
    pd.testing.assert_frame_equal(multi.auroc, expected)
    y, p = stages.multiclass_on_line(multi, line_ds, "HepG2")
    rows = line_ds.subset(split="test")
    k = CLASSES.index("HepG2")
    on_line = [predict_proba(r.model, line_ds.codes, indices=rows)[:, k] for r in multi.runs]
    np.testing.assert_allclose(p, np.mean(on_line, axis=0), atol=1e-6)
    assert np.array_equal(y, line_ds.labels[rows])
    assert multi.fold_epochs()["fold"].tolist() == [0, 1]
    # finished: nothing pending, and a second call trains nothing
    assert "multiclass" not in [j.kind for j in stages.pending_jobs(ctx)]
    stamp = [(r.out_dir / "model.keras").stat().st_mtime_ns for r in multi.runs]
    again = stages.ensure_multiclass(ctx, datasets)
    assert all(r.reused for r in again.runs)
    assert [(r.out_dir / "model.keras").stat().st_mtime_ns for r in again.runs] == stamp
    np.testing.assert_array_equal(again.test_proba, multi.test_proba)


def test_one_fold_run_keeps_its_identity(two_fold_ctx, tmp_path):
    """A one-fold profile (quick, smoke) trains the fold it always did, under the same seed and
    identity, so a recorded run folder is reused."""
    ctx = dataclasses.replace(
        two_fold_ctx,
        profile=dataclasses.replace(
            two_fold_ctx.profile,
            multiclass=dataclasses.replace(two_fold_ctx.profile.multiclass, folds=(0,)),
        ),
    )
    L = ctx.profile.data.seq_len
    multi_ds = _dataset(tmp_path, n=120, seq_len=L, n_classes=len(CLASSES), seed=2)
    datasets = stages.Datasets(pretrain=None, finetune={}, multiclass=multi_ds)
    (run,) = stages.ensure_multiclass(ctx, datasets).runs
    config = json.loads((run.out_dir / "config.json").read_text())
    assert run.out_dir.name == "fold_0" and run.out_dir.parent == stages.multiclass_dir(ctx)
    assert config["random_state"] == ctx.profile.seed
    assert config["extra"] == {"fold": 0, "classes": list(CLASSES)}
    assert config["loss"] == "sparse_categorical_crossentropy"


def test_derive_changes_one_key_and_the_keys_of_what_it_shapes(tmp_path) -> None:
    """``ctx.derive`` applies dotted overrides, validated like a profile file: the sections it
    changes get new model folders, the others keep theirs; a wrong key or value is an error."""
    from chromtransfer_lib.book.calibration import OverrideError
    from chromtransfer_lib.config import ConfigError

    ctx = stages.RunContext.create("smoke", tmp_path / "run")
    wider = ctx.derive({"finetune.folds": [0, 1, 2]})
    assert wider.profile.finetune.folds == (0, 1, 2) and wider.run_dir == ctx.run_dir
    assert wider.profile.scratch == ctx.profile.scratch and wider.started == ctx.started
    fine = stages.line_model_dir(ctx, "HepG2", "finetune")
    assert stages.line_model_dir(wider, "HepG2", "finetune") != fine
    assert stages.line_model_dir(wider, "HepG2", "scratch") == stages.line_model_dir(
        ctx, "HepG2", "scratch"
    )
    same = ctx.derive({}).profile
    assert dataclasses.replace(same, description=ctx.profile.description) == ctx.profile
    with pytest.raises(OverrideError, match="monitr"):
        ctx.derive({"finetune.monitr": "val_auroc"})
    with pytest.raises(ConfigError, match=r"finetune\.monitor"):
        ctx.derive({"finetune.monitor": "val_aurocc"})
    assert not any((tmp_path / "run").iterdir())  # deriving writes nothing


def test_chapter_timing_counts_what_the_chapter_made_and_what_it_found(tmp_path) -> None:
    """Files older than the chapter's start count as found, newer ones as made by it."""
    import os
    import time

    run = tmp_path / "run"
    old = [
        run / "models" / "pretrain-a" / "fold_0" / "model.keras",
        run / "models" / "bootstrap-b" / "u1" / "model.keras",
        run / "datasets" / "pretrain-c" / "provenance.json",
        run / "interpret" / "gxi-d.npz",
    ]
    for path in old:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
        os.utime(path, (time.time() - 3600, time.time() - 3600))
    os.utime(run / "interpret", (time.time() - 3600, time.time() - 3600))
    ctx = stages.RunContext.create("smoke", run)
    for path in (
        run / "models" / "finetune-e" / "fold_0" / "model.keras",
        run / "datasets" / "finetune-f" / "provenance.json",
        run / "interpret" / "scan-g",
        run / "interpret" / ".gxi-h.tmp-1.npz",  # a temporary file is no artifact
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir() if path.name == "scan-g" else path.write_text("x")
    (run / "models" / "finetune-e" / "fold_0" / "history.csv").write_text("x")
    timing = stages.chapter_timing(ctx)
    assert timing["chapter_profile"] == "smoke"
    assert 0 <= timing["chapter_seconds"] < 60
    assert timing["chapter_minutes"] == pytest.approx(timing["chapter_seconds"] / 60, abs=0.01)
    counts = {
        k: v for k, v in timing.items() if k.endswith(("found", "trained", "built", "computed"))
    }
    assert counts == {
        "chapter_models_trained": 1, "chapter_models_found": 2,
        "chapter_datasets_built": 1, "chapter_datasets_found": 1,
        "chapter_caches_computed": 1, "chapter_caches_found": 1,
    }  # fmt: skip

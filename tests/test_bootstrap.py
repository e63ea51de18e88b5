"""Grids: stratified subsets, shards, resume without redoing units, CV aggregation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from chromtransfer_lib.data.pipeline import predict_proba
from chromtransfer_lib.models import grids as B
from chromtransfer_lib.models import network as M

L = 40
TINY = {"seq_len": L, "stem_filters": 4, "res1_filters": 4, "res2_filters": 4, "top_filters": 4}
ONE_EPOCH = B.Recipe(learning_rate=3e-3, batch_size=32, max_epochs=1, patience=2)


def test_stratified_subsample_keeps_class_counts():
    rng = np.random.default_rng(0)
    labels = (rng.uniform(size=1000) < 0.25).astype(int)
    pool = np.flatnonzero(rng.uniform(size=1000) < 0.8)
    sub = B.stratified_subsample(pool, labels, 0.1, random_state=3)
    assert np.all(np.isin(sub, pool)) and np.unique(sub).size == sub.size
    for c in (0, 1):
        assert np.sum(labels[sub] == c) == round(0.1 * np.sum(labels[pool] == c))
    np.testing.assert_array_equal(sub, B.stratified_subsample(pool, labels, 0.1, random_state=3))
    assert not np.array_equal(sub, B.stratified_subsample(pool, labels, 0.1, random_state=4))
    tiny = B.stratified_subsample(pool, labels, 0.0001, random_state=0)
    assert sorted(labels[tiny].tolist()) == [0, 1]  # at least one per class
    with pytest.raises(ValueError, match="fraction"):
        B.stratified_subsample(pool, labels, 1.5, random_state=0)


def test_shards_partition_the_grid_and_seeds_are_stable():
    units = B.grid_units(["chromtransfer", "scratch"], [0.01, 0.5], 3, random_state=7)
    assert len(units) == 12
    shards = [B.shard_units(units, (i, 5)) for i in range(5)]
    assert sorted((u for s in shards for u in s), key=units.index) == units
    assert sum(len(s) for s in shards) == len(units)
    # both kinds of a cell share the seed (same subset); adding a fraction changes nothing
    assert units[0].random_state == units[1].random_state
    more = B.grid_units(["chromtransfer", "scratch"], [0.01, 0.25, 0.5], 3, random_state=7)
    assert {u for u in units} <= set(more)
    with pytest.raises(ValueError, match="shard"):
        B.shard_units(units, (2, 2))


@pytest.fixture(scope="module")
def world():
    rng = np.random.default_rng(1)
    n = 240
    codes = rng.integers(0, 4, (n, L)).astype(np.uint8)
    y = (np.sum(codes[:, 5:25] == 1, axis=1) > 5).astype(np.int64)
    folds = np.repeat([0, 1, 2, -1], n // 4)  # -1: test chromosomes
    pre = M.build_pretrain_model(head_units=(8, 4), random_state=0, **TINY)
    return codes, y, folds, pre


def _grid_data(world) -> B.GridData:
    codes, y, folds, _ = world
    return B.GridData(
        codes,
        y,
        train=np.flatnonzero(folds > 0),
        val=np.flatnonzero(folds == 0),
        test=np.flatnonzero(folds == -1),
    )


def test_bootstrap_grid_resumes_without_redoing(world, tmp_path):
    _, _, _, pre = world
    models = {
        "chromtransfer": B.ModelSpec(
            lambda s: M.build_chromtransfer_model(pre, head_units=(8, 4), random_state=s),
            ONE_EPOCH,
        ),
        "scratch": B.ModelSpec(
            lambda s: M.build_binary_baseline(head_units=(8, 4), random_state=s, **TINY),
            ONE_EPOCH,
        ),
    }
    grid = B.BootstrapGrid(fractions=(0.5,), repetitions=1, random_state=11)
    data = _grid_data(world)
    kw = {"out_dir": tmp_path, "progress": False}
    # a "killed" grid: only shard 0 of 2 ran
    first = B.run_bootstrap(models, grid, data, shard=(0, 2), **kw)
    assert first["kind"].tolist() == ["chromtransfer"]
    done = tmp_path / "chromtransfer" / "frac_0.5" / "rep_00"
    stamp = {p.name: p.stat().st_mtime_ns for p in done.iterdir()}
    assert len(B.collect_units(tmp_path)) == 1
    # the whole grid again: only the missing unit trains
    rows = B.run_bootstrap(models, grid, data, **kw)
    assert {p.name: p.stat().st_mtime_ns for p in done.iterdir()} == stamp
    units = B.collect_units(tmp_path)
    assert units["kind"].tolist() == ["chromtransfer", "scratch"]
    assert rows["n_train"].tolist() == [60, 60]  # half of 120 training rows, both kinds
    configs = [
        json.loads((tmp_path / k / "frac_0.5" / "rep_00" / "config.json").read_text())
        for k in ("chromtransfer", "scratch")
    ]
    assert configs[0]["data_fingerprint"] == configs[1]["data_fingerprint"]  # same subset
    # stored test metrics agree with a fresh prediction of the saved model
    model = M.load_model(done / "model.keras")
    p = predict_proba(model, data.codes, indices=data.test)
    np.testing.assert_allclose(np.load(done / "test_proba.npy"), p, atol=1e-6)
    table = B.bootstrap_table(units)
    assert table["n_runs"].tolist() == [1, 1]
    assert table.loc[0, "f1_overall_mean"] == pytest.approx(units.loc[0, "f1_overall"])


def test_cross_validation_folds_and_ensemble(world, tmp_path):
    codes, y, folds, _ = world
    cv = B.cross_validate(
        lambda s: M.build_binary_baseline(head_units=(8, 4), random_state=s, **TINY),
        ONE_EPOCH,
        codes=codes,
        labels=y,
        folds=folds,
        out_dir=tmp_path,
        random_state=0,
        fold_ids=(0, 2),
        progress=False,
    )
    assert cv.per_fold["fold"].tolist() == [0, 2]
    assert [r.config["n_val"] for r in cv.runs] == [60, 60]
    assert [r.config["n_train"] for r in cv.runs] == [120, 120]
    assert cv.summary.loc[0, "auroc_mean"] == pytest.approx(cv.per_fold["auroc"].mean())
    assert cv.summary.loc[0, "auroc_sd"] == pytest.approx(cv.per_fold["auroc"].std(ddof=1))
    assert cv.test_proba.shape == (60, 2)
    from chromtransfer_lib.evaluate import binary_metrics

    ens = binary_metrics(y[folds == -1], cv.test_proba.mean(axis=1))
    assert cv.ensemble == pytest.approx(ens, nan_ok=True)
    assert set(cv.histories["fold"]) == {0, 2}
    # every fold's kept epoch and generalisation gap, not fold 0's alone
    table = cv.fold_epochs()
    assert table["fold"].tolist() == [0, 2]
    assert table["best_epoch"].tolist() == cv.per_fold["best_epoch"].tolist()
    for row, run in zip(table.itertuples(), cv.runs, strict=True):
        kept = run.history.loc[run.history["epoch"] == run.best_epoch].iloc[0]
        assert (row.train_loss, row.val_loss) == (kept["loss"], kept["val_loss"])
        assert row.gap == pytest.approx(kept["val_loss"] - kept["loss"])
    from chromtransfer_lib.book import report, stages

    kept_epochs = dict(zip(table["fold"], table["best_epoch"], strict=True))
    mean_gap = report.generalisation_gap(cv.histories, kept_epochs)
    assert table["gap"].mean() == pytest.approx(mean_gap)
    both = stages.fold_epochs_table({("finetune", "HepG2"): cv, ("scratch", "K562"): cv})
    assert both[["model", "cell_line", "fold"]].to_numpy().tolist() == [
        ["ChromTransfer", "HepG2", 0], ["ChromTransfer", "HepG2", 2],
        ["binary baseline", "K562", 0], ["binary baseline", "K562", 2],
    ]  # fmt: skip
    # again: finished runs are loaded and their stored test scores reused, not recomputed
    stored = tmp_path / "fold_0" / "test_metrics.json"
    stamp = stored.stat().st_mtime_ns
    again = B.cross_validate(
        lambda s: M.build_binary_baseline(head_units=(8, 4), random_state=s, **TINY),
        ONE_EPOCH, codes=codes, labels=y, folds=folds, out_dir=tmp_path, random_state=0,
        fold_ids=(0, 2), progress=False,
    )  # fmt: skip
    assert all(r.reused for r in again.runs) and stored.stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(again.test_proba, cv.test_proba)
    pd.testing.assert_frame_equal(again.per_fold, cv.per_fold)
    assert not list(tmp_path.rglob("*.tmp*"))
    with pytest.raises(ValueError, match="fold 5 has no rows"):
        B.cross_validate(
            lambda s: None,
            ONE_EPOCH,
            codes=codes,
            labels=y,
            folds=folds,
            out_dir=tmp_path,
            random_state=0,
            fold_ids=(5,),
        )


def test_epoch_repeats_give_small_subsets_enough_steps() -> None:
    from chromtransfer_lib.models.grids import Recipe, epoch_repeats

    base = Recipe(learning_rate=1e-3, batch_size=64, max_epochs=10, patience=3)
    # 6,400 rows: 100 steps/epoch, 1,000 steps in all: no repetition
    assert epoch_repeats(6400, base, min_steps=300) == 1
    # 300 steps over 10 epochs need 30 steps (1,920 rows) per epoch: 128 rows 15 times
    assert epoch_repeats(128, base, min_steps=300) == 15
    # 18 rows: ceil(1920 / 18) = 107 repeats → 1,926 rows, 31 steps per epoch
    r = epoch_repeats(18, base, min_steps=300)
    assert r == 107 and 10 * -(-(r * 18) // 64) >= 300
    # min_steps=0 disables it; an empty subset is an error
    assert epoch_repeats(1, base, min_steps=0) == 1
    with pytest.raises(ValueError, match="at least one row"):
        epoch_repeats(0, base, min_steps=300)


def test_small_units_repeat_their_subset_and_can_keep_the_whole_validation_fold(world, tmp_path):
    _, _, folds, _ = world
    val = np.flatnonzero(folds == 0)
    recipe = B.Recipe(learning_rate=1e-3, batch_size=16, max_epochs=2, patience=2)
    build = lambda s: M.build_binary_baseline(head_units=(8, 4), random_state=s, **TINY)  # noqa: E731
    grid = B.BootstrapGrid(
        fractions=(0.1,), repetitions=1, random_state=3, min_steps=10, subsample_validation=False
    )
    rows = B.run_bootstrap(
        {"scratch": B.ModelSpec(build, recipe)},
        grid,
        _grid_data(world),
        out_dir=tmp_path,
        progress=False,
    )
    # 12 rows; 10 steps over 2 epochs need 5 batches of 16 (80 rows) per epoch: 7 repeats
    assert rows.loc[0, "n_train"] == 12 and rows.loc[0, "epoch_repeats"] == 7
    assert rows.loc[0, "n_val"] == val.size  # the whole validation fold
    unit = tmp_path / "scratch" / "frac_0.1" / "rep_00"
    assert json.loads((unit / "config.json").read_text())["extra"]["epoch_repeats"] == 7
    fit = json.loads((unit / "metrics.json").read_text())
    assert fit["epochs_run"] == 2  # validated twice, not once per pass over the 12 rows

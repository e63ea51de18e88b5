"""Training runs on CPU: exact resume, repeatable seeds, transfer and freezing through fit."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from chromtransfer_lib.data.pipeline import predict_proba
from chromtransfer_lib.models import network as M
from chromtransfer_lib.models import train as T
from chromtransfer_lib.models.batchnorm import refresh_batchnorm

L = 48
TINY = {"seq_len": L, "stem_filters": 4, "res1_filters": 4, "res2_filters": 4, "top_filters": 4}
RECIPE = T.Recipe(learning_rate=3e-3, batch_size=32, max_epochs=3, patience=5)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, (160, L)).astype(np.uint8)
    y = (np.sum(codes[:, 10:30] == 2, axis=1) > 5).astype(np.int64)  # a learnable rule
    return codes, y, np.arange(120), np.arange(120, 160)


def _run(data, out_dir, *, seed=1, model_seed=0, loss=T.BINARY_LOSS, stop=None, **recipe):
    codes, y, tr, va = data
    model = M.build_pretrain_model(head_units=(8, 4), random_state=model_seed, **TINY)
    return T.train_model(
        model,
        RECIPE._replace(**recipe),
        train=(codes, y, tr),
        val=T.Split(codes, y, va),
        out_dir=out_dir,
        random_state=seed,
        loss=loss,
        progress=False,
        stop_after_epochs=stop,
    )


def _same(a, b):
    return all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))


@pytest.fixture(scope="module")
def uninterrupted(data, tmp_path_factory):
    return _run(data, tmp_path_factory.mktemp("runs") / "a")


def test_run_folder_contents(uninterrupted):
    run = uninterrupted
    files = {p.name for p in run.out_dir.iterdir()}
    assert files == {"config.json", "history.csv", "metrics.json", "model.keras"}
    history = pd.read_csv(run.out_dir / "history.csv")
    assert history["epoch"].tolist() == [1, 2, 3]
    assert {"loss", "val_loss", "auroc", "val_auroc"} <= set(history.columns)
    metrics = json.loads((run.out_dir / "metrics.json").read_text())
    assert metrics["best_epoch"] == int(history.loc[history["val_loss"].idxmin(), "epoch"])
    config = json.loads((run.out_dir / "config.json").read_text())
    assert config["learning_rate"] == RECIPE.learning_rate and config["n_train"] == 120
    best = M.load_model(run.model_path, expected_seq_len=L)
    assert _same(best.get_weights(), run.model.get_weights())


def test_resume_after_kill_reaches_the_same_weights(data, uninterrupted, tmp_path):
    first = _run(data, tmp_path / "b", stop=1)
    assert first.metrics == {"finished": False}
    assert json.loads((tmp_path / "b" / "backup" / "state.json").read_text())["epoch"] == 1
    resumed = _run(data, tmp_path / "b")
    assert resumed.resumed_from_epoch == 1
    assert resumed.history["epoch"].tolist() == [1, 2, 3]
    pd.testing.assert_frame_equal(
        resumed.history.drop(columns="seconds"), uninterrupted.history.drop(columns="seconds")
    )
    assert _same(resumed.model.get_weights(), uninterrupted.model.get_weights())
    assert not (tmp_path / "b" / "backup").exists()


def test_finished_runs_are_reused_and_mismatches_refused(data, uninterrupted):
    reused = _run(data, uninterrupted.out_dir)
    assert reused.reused and _same(reused.model.get_weights(), uninterrupted.model.get_weights())
    with pytest.raises(T.RunConfigMismatch, match="learning_rate"):
        _run(data, uninterrupted.out_dir, learning_rate=1e-4)


def test_run_identity_is_the_recorded_scheme(data, uninterrupted):
    # recorded runs are found again by these two digests: raw bytes, not JSON, 16 hex digits
    import hashlib

    _, y, tr, va = data
    blob = b"".join(np.ascontiguousarray(a).tobytes() for a in (tr, y[tr], va, y[va]))
    config = json.loads((uninterrupted.out_dir / "config.json").read_text())
    assert config["data_fingerprint"] == hashlib.sha256(blob).hexdigest()[:16]
    fresh = M.build_pretrain_model(head_units=(8, 4), random_state=0, **TINY)  # as trained
    arch = hashlib.sha256(fresh.to_json().encode()).hexdigest()[:16]
    assert config["architecture_sha"] == arch
    recipe_keys = {"learning_rate", "batch_size", "max_epochs", "patience"}
    assert {k: config[k] for k in recipe_keys} == {k: getattr(RECIPE, k) for k in recipe_keys}
    assert config["early_stopping"] == "val_loss, best weights restored"


def test_a_profile_section_is_a_recipe(data, uninterrupted):
    from chromtransfer_lib.config import TrainConfig

    # reverse_complement is an option of the own-data commands, not a profile key
    keys = {k: v for k, v in RECIPE._asdict().items() if k != "reverse_complement"}
    assert keys["eager"] is False
    tc = TrainConfig(**keys, folds=(0, 1), mixed_precision=None)
    assert T.Recipe.from_config(tc) == RECIPE
    codes, y, tr, va = data
    model = M.build_pretrain_model(head_units=(8, 4), random_state=0, **TINY)
    again = T.train_model(
        model,
        tc,
        train=(codes, y, tr),
        val=(codes, y, va),
        out_dir=uninterrupted.out_dir,
        random_state=1,
        progress=False,
    )
    assert again.reused  # the same run: a TrainConfig and its Recipe are one identity


@pytest.mark.slow
def test_same_seed_repeats_other_seed_differs(data, uninterrupted, tmp_path):
    # (the resume test is already a second, independent run with the same seed)
    again = _run(data, tmp_path / "c")
    assert _same(again.model.get_weights(), uninterrupted.model.get_weights())
    other = _run(data, tmp_path / "d", seed=2)
    assert not _same(other.model.get_weights(), uninterrupted.model.get_weights())


def test_best_weights_are_restored(data, uninterrupted):
    codes, y, _, va = data
    p = np.clip(predict_proba(uninterrupted.model, codes, indices=va), 1e-7, 1 - 1e-7)
    bce = -np.mean(y[va] * np.log(p) + (1 - y[va]) * np.log(1 - p))
    h = uninterrupted.history
    assert bce == pytest.approx(h["val_loss"].min(), rel=1e-4)
    assert uninterrupted.best_epoch == int(h.loc[h["val_loss"].idxmin(), "epoch"])


def test_early_stopping_rule():
    state = {"best_score": None, "best_epoch": 0, "wait": 0}
    improved = []
    for epoch, loss in enumerate([0.9, 0.8, 0.85, float("nan"), 0.8, 0.7], start=1):
        state, better = T.early_stopping_update(state, loss, epoch)
        improved.append(better)
    assert improved == [True, True, False, False, False, True]  # equal is no improvement
    assert state == {"best_score": 0.7, "best_epoch": 6, "wait": 0}
    state, _ = T.early_stopping_update(state, 0.75, 7)
    assert state["wait"] == 1 and state["best_epoch"] == 6


def test_early_stopping_rule_for_a_score_to_maximise():
    state = {"best_score": None, "best_epoch": 0, "wait": 0}
    improved = []
    for epoch, auroc in enumerate([0.6, 0.7, 0.7, float("nan"), 0.65, 0.8], start=1):
        state, better = T.early_stopping_update(state, auroc, epoch, mode="max")
        improved.append(better)
    assert improved == [True, True, False, False, False, True]
    assert state == {"best_score": 0.8, "best_epoch": 6, "wait": 0}


def test_stopping_on_validation_auroc_keeps_the_best_auroc_epoch(data, uninterrupted, tmp_path):
    run = _run(data, tmp_path / "auroc", monitor="val_auroc")
    h = run.history
    assert run.best_epoch == int(h.loc[h["val_auroc"].idxmax(), "epoch"])
    assert run.metrics["monitor"] == "val_auroc"
    assert run.config["early_stopping"] == "val_auroc, best weights restored"
    # the same recipe stopped on the loss is another run: its folder refuses this one
    with pytest.raises(T.RunConfigMismatch, match="early_stopping"):
        _run(data, uninterrupted.out_dir, monitor="val_auroc")


def test_unknown_or_unfit_monitor_is_refused(data, tmp_path):
    with pytest.raises(ValueError, match="monitor must be one of"):
        _run(data, tmp_path / "x", monitor="val_acc")
    with pytest.raises(ValueError, match="binary model"):
        _run(data, tmp_path / "y", monitor="val_auroc", loss="sparse_categorical_crossentropy")


@pytest.mark.parametrize("freeze", [False, True])
def test_fine_tuning_trains_all_or_only_the_head(data, uninterrupted, tmp_path, freeze):
    codes, y, tr, va = data
    pre = uninterrupted.model
    ct = M.build_chromtransfer_model(pre, head_units=(8, 4), freeze_trunk=freeze, random_state=2)
    trunk0 = {layer.name: layer.get_weights() for layer in M.trunk_layers(ct)}
    head0 = {layer.name: layer.get_weights() for layer in M.head_layers(ct)}
    T.train_model(
        ct,
        RECIPE._replace(max_epochs=1),
        train=(codes, y, tr),
        val=(codes, y, va),
        out_dir=tmp_path / "ft",
        random_state=3,
        progress=False,
    )
    for layer in M.trunk_layers(ct):
        if not trunk0[layer.name]:
            continue
        unchanged = _same(layer.get_weights(), trunk0[layer.name])
        assert unchanged == freeze, layer.name
    for layer in M.head_layers(ct):
        if head0[layer.name]:
            assert not _same(layer.get_weights(), head0[layer.name]), layer.name


def test_helpers():
    assert T.default_mixed_precision() in (None, "mixed_float16", "mixed_bfloat16")
    with T.distribution_scope():
        pass
    import tensorflow as tf

    T.set_seed(3)
    a = tf.random.uniform((3,)).numpy()
    T.set_seed(3)
    np.testing.assert_array_equal(a, tf.random.uniform((3,)).numpy())


def test_refresh_batchnorm_takes_statistics_with_dropout_off(data):
    import keras

    from chromtransfer_lib.genome.sequence import one_hot_tensor

    codes, _, tr, _ = data
    model = M.build_pretrain_model(head_units=(8, 4), dropout=0.5, random_state=0, **TINY)
    weights = [w.copy() for w in model.get_weights()]
    refresh_batchnorm(model, codes, tr[:64], max_rows=1000, random_state=0)
    stem = model.get_layer("trunk_stem_bn")
    conv_out = keras.Model(model.inputs[0], model.get_layer("trunk_stem_conv").output)
    acts = conv_out(one_hot_tensor(codes[tr[:64]])).numpy()
    # the statistics of all 64 rows together (the stem's input has no dropout before it)
    np.testing.assert_allclose(stem.moving_mean.numpy(), acts.mean(axis=(0, 1)), rtol=1e-5,
                               atol=1e-6)  # fmt: skip
    np.testing.assert_allclose(stem.moving_variance.numpy(), acts.var(axis=(0, 1)), rtol=1e-4,
                               atol=1e-6)  # fmt: skip
    # a deeper layer's statistics are those of dropout-free inputs (0.5 would shift them)
    top = model.get_layer("trunk_top1_bn")
    refreshed = top.moving_mean.numpy().copy()
    top_in = keras.Model(model.inputs[0], model.get_layer("trunk_top1_conv").output)
    drops = [la for la in model.layers if isinstance(la, keras.layers.Dropout)]
    for la in drops:
        la.rate = 0.0
    # training=True: the layers before normalise with the same rows' statistics, as in the
    # refresh
    want = top_in(one_hot_tensor(codes[tr[:64]]), training=True).numpy().mean(axis=(0, 1))
    for la in drops:
        la.rate = 0.5
    np.testing.assert_allclose(refreshed, want, rtol=1e-4, atol=1e-5)
    # a sample of max_rows rows, drawn with the seed, is what the statistics are taken on
    refresh_batchnorm(model, codes, tr[:64], max_rows=16, random_state=3)
    picked = np.sort(np.random.default_rng(3).choice(tr[:64], 16, replace=False))
    sample = conv_out(one_hot_tensor(codes[picked])).numpy()
    np.testing.assert_allclose(stem.moving_mean.numpy(), sample.mean(axis=(0, 1)), rtol=1e-5,
                               atol=1e-6)  # fmt: skip
    refresh_batchnorm(model, codes, tr[:64], max_rows=1000, random_state=0)
    # weights other than the BatchNorm statistics, momenta and dropout rates are untouched
    moving = {id(v) for la in model.layers if isinstance(la, keras.layers.BatchNormalization)
              for v in (la.moving_mean, la.moving_variance)}  # fmt: skip
    for w, v, old in zip(model.weights, model.get_weights(), weights, strict=True):
        if id(w) not in moving:
            np.testing.assert_array_equal(v, old)
    assert stem.momentum == 0.99
    assert {la.rate for la in model.layers if isinstance(la, keras.layers.Dropout)} == {0.5}


def test_batchnorm_refresh_in_training_is_recorded_and_resumable(data, tmp_path):
    plain = _run(data, tmp_path / "plain", max_epochs=2)
    assert "batchnorm_refresh" not in plain.config  # 0: earlier runs keep their identity
    fresh = _run(data, tmp_path / "fresh", max_epochs=2, batchnorm_refresh=100)
    assert fresh.config["batchnorm_refresh"] == 100
    assert {"val_loss", "val_auroc", "val_acc"} <= set(fresh.history.columns)
    # training steps are the same; only the statistics (and so validation) differ
    np.testing.assert_allclose(fresh.history["loss"].iloc[0], plain.history["loss"].iloc[0])
    assert not np.allclose(fresh.history["val_loss"], plain.history["val_loss"])
    _run(data, tmp_path / "cut", max_epochs=2, batchnorm_refresh=100, stop=1)
    resumed = _run(data, tmp_path / "cut", max_epochs=2, batchnorm_refresh=100)
    assert _same(resumed.model.get_weights(), fresh.model.get_weights())


def test_eager_execution_trains_the_graph_runs_model_and_is_recorded(data, uninterrupted, tmp_path):
    assert "execution" not in uninterrupted.config  # graph: earlier runs keep their identity
    eager = _run(data, tmp_path / "eager", eager=True)
    assert eager.config["execution"] == "eager" and eager.model.run_eagerly
    assert not uninterrupted.model.run_eagerly
    # the same arithmetic; graph rewrites (fused kernels) change the last bits, which Adam
    # turns into steps of up to the learning rate on parameters with gradients near zero, and
    # how much depends on the CPU's kernels (after three epochs of this diverging tiny run:
    # < 1e-3 in probability on one 2-core machine, 7.7e-3 on an AVX-512/AMX one). So: the first
    # epoch's training loss is the same to float32 precision, its validation loss to 1e-4, and
    # the final models predict alike (correlation, not weight by weight)
    codes = data[0]
    for col, rtol in (("loss", 1e-5), ("val_loss", 1e-4), ("auroc", 1e-5)):
        np.testing.assert_allclose(eager.history[col].iloc[0], uninterrupted.history[col].iloc[0],
                                   rtol=rtol)  # fmt: skip
    a, b = predict_proba(eager.model, codes), predict_proba(uninterrupted.model, codes)
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.99
    np.testing.assert_allclose(a, b, atol=0.05)
    for col in ("loss", "val_loss"):
        np.testing.assert_allclose(eager.history[col], uninterrupted.history[col], rtol=0.05)


def test_reverse_complement_augmentation_is_recorded_resumable_and_scored_on_both_strands(
    data, uninterrupted, tmp_path
):
    from chromtransfer_lib.genome.sequence import reverse_complement
    from chromtransfer_lib.models.crossval import score_binary

    codes, y, _, va = data
    assert "reverse_complement" not in uninterrupted.config  # off: earlier runs keep their identity
    rc = _run(data, tmp_path / "rc", max_epochs=2, reverse_complement=True)
    assert rc.config["reverse_complement"] == "augment"
    plain = _run(data, tmp_path / "plain", max_epochs=2)
    assert not _same(rc.model.get_weights(), plain.model.get_weights())  # other batches
    _run(data, tmp_path / "cut", max_epochs=2, reverse_complement=True, stop=1)
    resumed = _run(data, tmp_path / "cut", max_epochs=2, reverse_complement=True)
    assert _same(resumed.model.get_weights(), rc.model.get_weights())
    _, p_test = score_binary(rc, codes, y, val_rows=va, test_rows=va)
    fwd = predict_proba(rc.model, codes, indices=va)
    rev = predict_proba(rc.model, reverse_complement(codes), indices=va)
    np.testing.assert_allclose(p_test, (fwd + rev) / 2, rtol=1e-5, atol=1e-6)

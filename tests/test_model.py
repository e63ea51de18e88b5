"""Architecture: parameter counts derived by hand, names, transfer, freezing, loading."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from chromtransfer_lib.genome.sequence import one_hot
from chromtransfer_lib.models import network as M

TINY = {"stem_filters": 4, "res1_filters": 4, "res2_filters": 4, "top_filters": 4}
L = 64


def conv(c_in: int, c_out: int, k: int, *, bn: bool = True) -> int:
    """Weights + bias of a Conv1D, plus gamma/beta/mean/variance of its BatchNorm."""
    return k * c_in * c_out + c_out + (4 * c_out if bn else 0)


def dense(n_in: int, n_out: int, *, bn: bool = True) -> int:
    return n_in * n_out + n_out + (4 * n_out if bn else 0)


def hand_count(stem, r1, r2, top, head, n_out=1):
    n = conv(4, stem, 25)  # stem
    n += conv(stem, r1, 20) + conv(r1, r1, 20) + conv(stem, r1, 20)  # residual, conv shortcut
    n += 3 * (conv(r1, r1, 15) + conv(r1, r1, 15))  # 3 identity blocks
    n += conv(3 * r1, r2, 10) + conv(r2, r2, 10) + conv(3 * r1, r2, 10)  # after the concat
    n += 3 * (conv(r2, r2, 5) + conv(r2, r2, 5))
    n += conv(r2, top, 10) + conv(top, top, 5, bn=False)
    width = top
    for u in head:
        n += dense(width, u)
        width = u
    return n + dense(width, n_out, bn=False)


def test_paper_width_parameter_count():
    m = M.build_pretrain_model(seq_len=600)
    assert hand_count(64, 32, 64, 64, (512, 128)) == 655_777  # counted by hand, layer by layer
    assert m.count_params() == 655_777
    quarter = M.build_pretrain_model(
        seq_len=600,
        stem_filters=16,
        res1_filters=8,
        res2_filters=16,
        top_filters=16,
        head_units=(128, 32),
    )
    assert quarter.count_params() == hand_count(16, 8, 16, 16, (128, 32)) == 43_753


def test_heads_and_baselines_counts():
    base = M.build_binary_baseline(seq_len=L, head_units=(16, 8), **TINY)
    assert base.count_params() == hand_count(4, 4, 4, 4, (16, 8))
    multi = M.build_multiclass_baseline(seq_len=L, head_units=(16, 8), n_classes=7, **TINY)
    assert multi.count_params() == hand_count(4, 4, 4, 4, (16, 8), n_out=7)
    x = one_hot(np.random.default_rng(0).integers(0, 5, (3, L)))
    out = multi(x, training=False).numpy()
    assert out.shape == (3, 7)
    np.testing.assert_allclose(out.sum(1), 1, rtol=1e-5)


def test_names_locate_trunk_and_heads():
    m = M.build_pretrain_model(seq_len=L, head_units=(8, 4), **TINY)
    names = [layer.name for layer in m.layers]
    assert len(set(names)) == len(names)
    trunk = M.trunk_layers(m)
    assert trunk[-1].name == M.TRUNK_OUTPUT
    assert {layer.name for layer in trunk} | {layer.name for layer in M.head_layers(m)} == set(
        names
    ) - {M.INPUT_NAME}
    assert all(layer.name.startswith("head_pretrain_") for layer in M.head_layers(m))
    assert M.extract_trunk(m).output.shape == (None, 4)
    with pytest.raises(ValueError, match="trunk_gap"):
        M.trunk_layers(keras.Sequential([keras.Input((L, 4)), keras.layers.Dense(1)]))


def test_seeded_builds_repeat():
    a = M.build_pretrain_model(seq_len=L, random_state=3, **TINY).get_weights()
    b = M.build_pretrain_model(seq_len=L, random_state=3, **TINY).get_weights()
    c = M.build_pretrain_model(seq_len=L, random_state=4, **TINY).get_weights()
    assert all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))
    assert not all(np.array_equal(u, v) for u, v in zip(a, c, strict=True))


def _sgd_step(model: keras.Model, x: np.ndarray, y: np.ndarray) -> None:
    opt = keras.optimizers.SGD(learning_rate=0.5)
    with tf.GradientTape() as tape:
        loss = keras.losses.binary_crossentropy(y[:, None], model(x, training=True))
    opt.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)


@pytest.fixture(scope="module")
def pretrained():
    m = M.build_pretrain_model(seq_len=L, head_units=(8, 4), random_state=0, **TINY)
    rng = np.random.default_rng(1)
    x, y = one_hot(rng.integers(0, 4, (32, L))), rng.integers(0, 2, 32).astype("float32")
    _sgd_step(m, x, y)  # weights and BN statistics no longer at their initial values
    return m, x, y


def test_trunk_transferred_and_every_layer_trains(pretrained):
    pre, x, y = pretrained
    before = {w.path: w.numpy().copy() for w in pre.weights}
    ct = M.build_chromtransfer_model(pre, head_units=(16, 4), random_state=5)
    for layer in M.trunk_layers(ct):
        src = pre.get_layer(layer.name)
        for a, b in zip(layer.get_weights(), src.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    assert M.head_layers(ct)[0].name == "head_finetune_1_dense"
    assert ct.get_layer("head_finetune_1_dense").kernel.shape == (4, 16)
    # every layer with weights is trainable and moves in one step
    trainable_before = [v.numpy().copy() for v in ct.trainable_variables]
    assert len(ct.trainable_variables) == sum(len(w.trainable_weights) for w in ct.layers)
    _sgd_step(ct, x, y)
    for v, old in zip(ct.trainable_variables, trainable_before, strict=True):
        assert not np.array_equal(v.numpy(), old), v.path
    # the copy is independent: the pre-trained model is untouched
    for w in pre.weights:
        np.testing.assert_array_equal(w.numpy(), before[w.path])


def test_frozen_trunk_keeps_trunk_weights(pretrained):
    pre, x, y = pretrained
    ct = M.build_chromtransfer_model(pre, head_units=(16, 4), freeze_trunk=True, random_state=5)
    trunk_before = [w.copy() for layer in M.trunk_layers(ct) for w in layer.get_weights()]
    head_before = [w.copy() for layer in M.head_layers(ct) for w in layer.get_weights()]
    assert all(v.path.startswith("head_") for v in ct.trainable_variables)
    _sgd_step(ct, x, y)
    trunk_after = [w for layer in M.trunk_layers(ct) for w in layer.get_weights()]
    for a, b in zip(trunk_before, trunk_after, strict=True):
        np.testing.assert_array_equal(a, b)  # includes BatchNorm moving statistics
    head_after = [w for layer in M.head_layers(ct) for w in layer.get_weights()]
    assert any(not np.array_equal(a, b) for a, b in zip(head_before, head_after, strict=True))


def test_mixed_bfloat16_policy():
    m = M.build_pretrain_model(seq_len=L, mixed_precision="mixed_bfloat16", **TINY)
    assert m.get_layer("trunk_stem_conv").compute_dtype == "bfloat16"
    assert m.get_layer("trunk_stem_conv").variable_dtype == "float32"
    ct = M.build_chromtransfer_model(m, head_units=(8, 4))
    assert ct.get_layer("head_finetune_1_dense").compute_dtype == "bfloat16"
    out = ct(one_hot(np.zeros((2, L), dtype=np.uint8)), training=False)
    assert out.dtype == "float32"
    with pytest.raises(ValueError, match="mixed_precision"):
        M.build_pretrain_model(seq_len=L, mixed_precision="float8", **TINY)


def test_load_model_round_trip_and_errors(tmp_path, pretrained):
    pre, x, _ = pretrained
    path = tmp_path / "pre.keras"
    pre.save(path)
    loaded = M.load_model(path, expected_seq_len=L)
    np.testing.assert_allclose(loaded(x, training=False), pre(x, training=False), rtol=1e-6)
    with pytest.raises(M.ModelLoadError, match="takes 64 bp inputs but 600"):
        M.load_model(path, expected_seq_len=600)
    with pytest.raises(M.ModelLoadError, match="does not exist"):
        M.load_model(tmp_path / "missing.keras")
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(M.ModelLoadError, match="corrupt or truncated"):
        M.load_model(truncated)
    other = tmp_path / "other.keras"
    keras.Sequential([keras.Input((L, 4)), keras.layers.Dense(1)]).save(other)
    with pytest.raises(M.ModelLoadError, match="not built by chromtransfer_lib"):
        M.load_model(other)

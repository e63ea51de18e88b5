"""Fast (windowed) ISM against the full recomputation, at sequence edges and in the interior."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from chromtransfer_lib.errors import InputError  # noqa: E402
from chromtransfer_lib.genome.sequence import one_hot  # noqa: E402
from chromtransfer_lib.interpret.attribution import (  # noqa: E402
    in_silico_mutagenesis,
    target_model,
)
from chromtransfer_lib.interpret.fast_ism import fast_ism_outputs  # noqa: E402
from chromtransfer_lib.interpret.fast_ism_plan import (  # noqa: E402
    UnsupportedModelError,
    plan_fast_ism,
)
from chromtransfer_lib.models.network import build_chromtransfer_model, build_network  # noqa: E402

TINY = {"stem_filters": 4, "res1_filters": 4, "res2_filters": 4, "top_filters": 4}
#: Agreement asked of float32 probabilities (the round-off of two float32 paths through ~25
#: layers), and of float64 networks, where only the float32 results' own rounding is left.
ATOL = {"float32": 1e-5, "float64": 2e-7}


@contextlib.contextmanager
def _floatx(dtype: str):
    """Build layers in ``dtype`` (float64: the comparison is free of float32 round-off)."""
    old, policy = keras.config.floatx(), keras.config.dtype_policy()
    keras.config.set_floatx(dtype)
    keras.config.set_dtype_policy(dtype)  # once a layer exists, floatx alone does not change it
    try:
        yield
    finally:
        keras.config.set_floatx(old)
        keras.config.set_dtype_policy(policy)


def _spread(model: keras.Model, codes: np.ndarray) -> keras.Model:
    """Rescale the output layer so that an untrained network's outputs spread around 0.5
    (instead of saturating, which would make "equal" vacuous)."""
    out = model.layers[-1]
    hidden = keras.Model(model.inputs[0], out.input)(one_hot(codes)).numpy()
    w, b = out.get_weights()
    logits = hidden @ w + b
    scale = logits.std() + 1e-12
    out.set_weights([w / scale, (b - logits.mean(axis=0)) / scale])
    return model


def _codes(n: int, length: int, seed: int) -> np.ndarray:
    codes = np.random.default_rng(seed).integers(0, 4, size=(n, length)).astype(np.uint8)
    codes[0, :3] = 4  # Ns at an edge ...
    codes[1, length // 2] = 4  # ... and inside
    return codes


def _assert_same(fast, full, *, atol: float = 1e-5) -> None:
    np.testing.assert_allclose(fast.ref_prob, full.ref_prob, rtol=0, atol=atol)
    np.testing.assert_array_equal(np.isnan(fast.delta), np.isnan(full.delta))
    np.testing.assert_allclose(fast.delta, full.delta, rtol=0, atol=atol)
    np.testing.assert_allclose(fast.full, full.full, rtol=0, atol=atol)


@pytest.mark.parametrize("length,dtype", [(80, "float32"), (320, "float64")])
def test_fast_ism_equals_full_at_edges_and_interior(length: int, dtype: str) -> None:
    """At 80 bp every window reaches both ends (receptive field ~200 bp); at 320 bp the
    middle positions' windows are interior."""
    codes = _codes(3, length, 1)
    with _floatx(dtype):
        net = build_network(seq_len=length, head_units=(8, 4), random_state=0, **TINY)
    model = _spread(net, codes)
    plan = plan_fast_ism(model)
    pool = next(step for step in plan.steps if step.kind == "pool")
    assert plan.windows[pool.inputs[0]].width >= min(2 * length - 1, 200)  # the last window
    fast = in_silico_mutagenesis(model, codes, method="fast", return_full=True, batch_size=128)
    full = in_silico_mutagenesis(model, codes, method="full", return_full=True, batch_size=128)
    assert 0.05 < full.ref_prob.min() and full.ref_prob.max() < 0.95
    assert np.nanmax(np.abs(full.delta)) > 0.01  # mutations do change the output
    _assert_same(fast, full, atol=ATOL[dtype])
    assert np.isnan(fast.delta[0, :3]).all() and np.isnan(fast.full[1, length // 2]).all()
    ok = codes < 4
    assert (np.take_along_axis(fast.full, np.minimum(codes, 3)[..., None], axis=2)[ok] == 0).all()


@pytest.mark.parametrize("kind,dtype", [("finetuned_logit", "float64"), ("multiclass", "float32")])
def test_fast_ism_on_finetuned_logit_and_softmax_models(kind: str, dtype: str) -> None:
    """The book's default (the logit of a fine-tuned model, whose trunk is a clone) and a
    softmax column."""
    length = 100
    codes = _codes(2, length, 2)
    with _floatx(dtype):
        if kind == "finetuned_logit":
            pre = build_network(seq_len=length, head_units=(8, 4), random_state=3, **TINY)
            tuned = build_chromtransfer_model(pre, head_units=(8, 4), random_state=4)
            model, index = target_model(_spread(tuned, codes), target="logit"), 0
        else:
            net = build_network(
                seq_len=length, head_units=(8,), n_outputs=3, random_state=5, **TINY
            )
            model, index = _spread(net, codes), 2
    args = {"output_index": index, "return_full": True, "batch_size": 100}
    fast = in_silico_mutagenesis(model, codes, method="fast", **args)
    full = in_silico_mutagenesis(model, codes, method="full", **args)
    _assert_same(fast, full, atol=ATOL[dtype] * (4 if kind == "finetuned_logit" else 1))


def test_fast_ism_valid_padding_dilation_and_merges() -> None:
    """The generic graph walk: 'valid' and dilated convolutions, Activation, Concatenate and
    Add of branches with different windows, layers after the pooling."""
    length = 40
    keras.utils.set_random_seed(7)
    with _floatx("float64"):
        inp = keras.Input((length, 4))
        a = keras.layers.Conv1D(3, 4, padding="same", activation="tanh")(inp)
        b = keras.layers.Conv1D(3, 3, padding="same", dilation_rate=2)(inp)
        b = keras.layers.Activation("relu")(keras.layers.BatchNormalization()(b))
        x = keras.layers.Concatenate()([a, b, keras.layers.Add()([a, b])])
        x = keras.layers.Conv1D(5, 6, padding="valid", activation="relu")(x)
        x = keras.layers.Dense(4, activation="relu")(keras.layers.GlobalAveragePooling1D()(x))
        out = keras.layers.Dense(1, activation="sigmoid")(x)
    codes = _codes(2, length, 8)
    model = _spread(keras.Model(inp, out), codes)
    fast = in_silico_mutagenesis(model, codes, method="fast", return_full=True, batch_size=32)
    full = in_silico_mutagenesis(model, codes, method="full", return_full=True, batch_size=32)
    _assert_same(fast, full, atol=ATOL["float64"])
    with pytest.raises(ValueError, match="length 39"):
        fast_ism_outputs(model, codes[:, 1:])


def test_fast_ism_does_not_depend_on_batch_size() -> None:
    length = 60
    codes = _codes(3, length, 9)
    codes[2] = 4  # a sequence of Ns only
    with _floatx("float64"):
        net = build_network(seq_len=length, head_units=(8, 4), random_state=1, **TINY)
    model = _spread(net, codes)
    results = [
        in_silico_mutagenesis(model, codes, method="fast", return_full=True, batch_size=b)
        for b in (50, 1000)  # several batches per sequence, spanning sequences; one batch
    ]
    _assert_same(results[0], results[1], atol=ATOL["float64"])
    assert np.isnan(results[0].delta[2]).all() and np.isfinite(results[0].ref_prob).all()


def test_unsupported_layer_raises_and_auto_falls_back() -> None:
    length = 16
    keras.utils.set_random_seed(10)
    inp = keras.Input((length, 4))
    x = keras.layers.Conv1D(4, 5, padding="same", activation="relu")(inp)
    x = keras.layers.GlobalMaxPooling1D(name="max_pool")(x)
    model = keras.Model(inp, keras.layers.Dense(1, activation="sigmoid")(x))
    with pytest.raises(UnsupportedModelError, match="'max_pool' \\(GlobalMaxPooling1D\\)") as err:
        plan_fast_ism(model)
    assert isinstance(err.value, InputError) and "method='full'" in str(err.value)
    codes = _codes(2, length, 11)
    with pytest.raises(UnsupportedModelError, match="max_pool"):
        in_silico_mutagenesis(model, codes, method="fast")
    auto = in_silico_mutagenesis(model, codes, return_full=True)
    full = in_silico_mutagenesis(model, codes, method="full", return_full=True)
    _assert_same(auto, full, atol=0)
    with pytest.raises(ValueError, match="method"):
        in_silico_mutagenesis(model, codes, method="quick")


def test_compiled_functions_are_reused_and_see_new_weights() -> None:
    """One trace per model and batch size, whatever the number of sequences; the functions
    read the weights when they run, so training the model further is seen."""
    from chromtransfer_lib.interpret.fast_ism import _compiled

    length = 240  # interior positions (windows inside the sequence) and edge positions
    with _floatx("float64"):
        net = build_network(seq_len=length, head_units=(8, 4), random_state=2, **TINY)
    codes = _codes(5, length, 12)
    model = _spread(net, codes)
    assert plan_fast_ism(model).interior[0] <= plan_fast_ism(model).interior[1]
    for n in (1, 5, 2):
        in_silico_mutagenesis(model, codes[:n], method="fast", batch_size=64)
    before = in_silico_mutagenesis(model, codes[:3], method="fast", batch_size=64)
    fns = _compiled(model, 0)
    counts = [f.experimental_get_tracing_count() for f in fns]
    assert counts == [1, 1, 1]
    conv = model.get_layer("trunk_res2_a_conv")
    kernel, bias = conv.get_weights()
    conv.set_weights([kernel * -1.5, bias + 0.1])
    fast = in_silico_mutagenesis(model, codes[:3], method="fast", return_full=True, batch_size=64)
    full = in_silico_mutagenesis(model, codes[:3], method="full", return_full=True, batch_size=64)
    _assert_same(fast, full, atol=ATOL["float64"])
    assert np.nanmax(np.abs(fast.delta - before.delta)) > 1e-3  # the new weights count
    assert [f.experimental_get_tracing_count() for f in fns] == counts

"""Attribution: gradient × input and ISM against closed forms and brute force on toy models."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from chromtransfer_lib.data.pipeline import predict_proba  # noqa: E402
from chromtransfer_lib.genome.sequence import one_hot  # noqa: E402
from chromtransfer_lib.interpret.attribution import (  # noqa: E402
    grad_x_input,
    in_silico_mutagenesis,
    positive_predictions,
)

LENGTH = 16


def _linear_model(seed: int, *, activation: str | None = None) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inp = keras.Input((LENGTH, 4))
    out = keras.layers.Dense(1, activation=activation)(keras.layers.Flatten()(inp))
    return keras.Model(inp, out)


def _conv_model(seed: int, *, classes: int = 1) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inp = keras.Input((LENGTH, 4))
    x = keras.layers.Conv1D(4, 5, padding="same", activation="relu")(inp)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Dropout(0.1)(x)
    x = keras.layers.GlobalMaxPooling1D()(x)
    act = "sigmoid" if classes == 1 else "softmax"
    return keras.Model(inp, keras.layers.Dense(classes, activation=act)(x))


def _codes(n: int, seed: int) -> np.ndarray:
    codes = np.random.default_rng(seed).integers(0, 4, size=(n, LENGTH)).astype(np.uint8)
    codes[1, 3] = 4  # an N
    return codes


def test_grad_x_input_of_linear_model_is_weight_times_input() -> None:
    model = _linear_model(0)
    codes = _codes(5, 1)
    w = model.layers[-1].get_weights()[0].reshape(LENGTH, 4)
    expect = (one_hot(codes) * w[None]).sum(axis=-1)
    got = grad_x_input(model, codes, batch_size=2)
    np.testing.assert_allclose(got, expect, rtol=1e-5, atol=1e-6)
    assert got[1, 3] == 0.0  # N contributes nothing
    # sigmoid: the chain rule multiplies by p (1 - p) per sequence
    sig = _linear_model(0, activation="sigmoid")
    p = predict_proba(sig, codes)
    got = grad_x_input(sig, codes, batch_size=3)
    np.testing.assert_allclose(got, expect * (p * (1 - p))[:, None], rtol=1e-4, atol=1e-7)


def _brute_force_ism(model: keras.Model, codes: np.ndarray, output_index: int) -> np.ndarray:
    """Predict every single-base mutant one by one: (n, L, 4) output, reference included."""
    n, length = codes.shape
    out = np.full((n, length, 4), np.nan)
    for i in range(n):
        for j in range(length):
            if codes[i, j] == 4:
                continue
            for b in range(4):
                mutant = codes[i].copy()
                mutant[j] = b
                x = one_hot(mutant[None])
                out[i, j, b] = float(model(x, training=False).numpy()[0, output_index])
    return out


@pytest.mark.parametrize("classes,output_index", [(1, 0), (3, 2)])
def test_ism_equals_brute_force_for_every_batch_size(classes: int, output_index: int) -> None:
    model = _conv_model(2, classes=classes)
    codes = _codes(3, 3)
    probs = _brute_force_ism(model, codes, output_index)
    ref = np.array(
        [model(one_hot(c[None]), training=False).numpy()[0, output_index] for c in codes]
    )
    change = probs - ref[:, None, None]
    change[np.arange(3)[:, None], np.arange(LENGTH)[None], np.minimum(codes, 3)] = 0.0
    change[codes == 4] = np.nan
    mag = np.where(np.isnan(change), -1, np.abs(change))
    best = np.take_along_axis(change, mag.argmax(axis=2)[..., None], axis=2)[..., 0]
    for batch_size in (1, 7, 48, 1000):
        res = in_silico_mutagenesis(
            model, codes, batch_size=batch_size, output_index=output_index, return_full=True
        )
        np.testing.assert_allclose(res.ref_prob, ref, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(res.full, change, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(res.delta, best, rtol=1e-4, atol=1e-6)
        assert np.isnan(res.delta[1, 3]) and np.isnan(res.full[1, 3]).all()
    assert in_silico_mutagenesis(model, codes, output_index=output_index).full is None
    if classes == 1:
        with pytest.raises(ValueError, match="output_index"):
            in_silico_mutagenesis(model, codes, output_index=1)


def test_ism_delta_keeps_sign_of_largest_change() -> None:
    """A linear logit: the largest |change| is the known best/worst alternative base."""
    model = _linear_model(4)
    codes = _codes(2, 5)
    codes[1, 3] = 0
    w = model.layers[-1].get_weights()[0].reshape(LENGTH, 4)
    res = in_silico_mutagenesis(model, codes, batch_size=11)
    ref_w = w[np.arange(LENGTH), codes]  # (2, L)
    alt = w[None] - ref_w[..., None]  # linear output: change = w_alt - w_ref
    alt[np.arange(2)[:, None], np.arange(LENGTH)[None], codes] = 0.0
    expect = np.take_along_axis(alt, np.abs(alt).argmax(axis=2)[..., None], axis=2)[..., 0]
    np.testing.assert_allclose(res.delta, expect, rtol=1e-4, atol=1e-6)


def test_predict_proba_and_positive_predictions() -> None:
    """The pipeline's compiled predict (the package's one) on the models attribution takes."""
    model = _conv_model(6)
    codes = _codes(9, 7)
    p = predict_proba(model, codes, batch_size=4)  # a partial last batch
    np.testing.assert_allclose(p, model(one_hot(codes), training=False).numpy()[:, 0], rtol=1e-5)
    multi = _conv_model(6, classes=3)
    p3 = predict_proba(multi, codes, batch_size=4)
    np.testing.assert_allclose(p3, multi(one_hot(codes), training=False).numpy(), rtol=1e-5)
    assert list(positive_predictions(np.array([0.2, 0.5, 0.9, 0.49]))) == [1, 2]
    with pytest.raises(ValueError, match="shape"):
        grad_x_input(model, codes[0])

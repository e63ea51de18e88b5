"""Training on a shared traced shell gives bit-identical runs, and never hands the shell out."""

from __future__ import annotations

import numpy as np
import pytest

from chromtransfer_lib.models import network as M
from chromtransfer_lib.models import shells
from chromtransfer_lib.models import train as T

L = 48
TINY = {"seq_len": L, "stem_filters": 4, "res1_filters": 4, "res2_filters": 4, "top_filters": 4}
RECIPE = T.Recipe(learning_rate=3e-3, batch_size=32, max_epochs=3, patience=5, batchnorm_refresh=64)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, (160, L)).astype(np.uint8)
    y = (np.sum(codes[:, 10:30] == 2, axis=1) > 5).astype(np.int64)
    return codes, y, np.arange(120), np.arange(120, 160)


def _train(data, out_dir, *, seed, lr=3e-3, stop=None):
    codes, y, tr, va = data
    model = M.build_pretrain_model(head_units=(8, 4), random_state=0, **TINY)
    run = T.train_model(model, RECIPE._replace(learning_rate=lr), train=(codes, y, tr),
                        val=(codes, y, va), out_dir=out_dir, random_state=seed, progress=False,
                        stop_after_epochs=stop)  # fmt: skip
    return model, run


def _values(model):
    return [v.numpy().copy() for v in model.weights]


def _same_run(a, b):
    cols = [c for c in a.history if c != "seconds"]
    assert a.history[cols].equals(b.history[cols])
    assert all(
        np.array_equal(u, v) for u, v in zip(_values(a.model), _values(b.model), strict=True)
    )


def test_a_shell_trains_bit_identically_and_is_never_returned(data, tmp_path):
    shells.clear()
    built, first = _train(data, tmp_path / "first", seed=1)  # traces a new shell
    assert first.model is built  # the caller's own model comes back, trained
    assert len(shells._SHELLS) == 1 and next(iter(shells._SHELLS.values())) is not built
    kept = _values(first.model)
    # another seed and learning rate on the same shell: its Adam state and values were reset
    _, other = _train(data, tmp_path / "other", seed=2, lr=1e-2)
    assert len(shells._SHELLS) == 1
    assert all(np.array_equal(u, v) for u, v in zip(kept, _values(first.model), strict=True))
    _, again = _train(data, tmp_path / "again", seed=1)  # reuses the shell
    _same_run(first, again)
    shells.clear()
    _, alone = _train(data, tmp_path / "alone", seed=2, lr=1e-2)  # a fresh trace
    _same_run(other, alone)
    shells.clear()


def test_an_interrupted_run_on_a_shell_resumes_to_the_same_model(data, tmp_path):
    shells.clear()
    _, whole = _train(data, tmp_path / "whole", seed=3)
    part_model, part = _train(data, tmp_path / "part", seed=3, stop=1)
    assert part.model is part_model and not part.metrics["finished"]
    _, resumed = _train(data, tmp_path / "part", seed=3)
    assert resumed.resumed_from_epoch == 1 and resumed.metrics["finished"]
    # a resumed Adam starts from zero moments (backups hold weights only), so the resumed
    # model matches a resumed run trained without shells, not the uninterrupted one
    shells.clear()
    _train(data, tmp_path / "part2", seed=3, stop=1)
    shells.clear()
    _, resumed2 = _train(data, tmp_path / "part2", seed=3)
    _same_run(resumed, resumed2)
    assert whole.metrics["finished"]
    shells.clear()


def test_eager_and_mixed_precision_models_train_as_themselves():
    model = M.build_pretrain_model(head_units=(8, 4), random_state=0, **TINY)
    assert shells.shareable(model, eager=False)
    assert not shells.shareable(model, eager=True)
    mixed = M.build_pretrain_model(
        head_units=(8, 4), random_state=0, mixed_precision="mixed_float16", **TINY
    )
    assert not shells.shareable(mixed, eager=False)

"""Input pipeline and compiled prediction: exact rows, epoch orders, memmaps, outputs."""

from __future__ import annotations

import numpy as np
import pytest

from chromtransfer_lib.data import pipeline as T
from chromtransfer_lib.genome.sequence import one_hot
from chromtransfer_lib.models import network as M

L = 48


@pytest.fixture(scope="module")
def arrays(tmp_path_factory):
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 5, (300, L)).astype(np.uint8)
    path = tmp_path_factory.mktemp("codes") / "codes.npy"
    np.save(path, codes)
    return codes, np.load(path, mmap_mode="r"), rng.integers(0, 2, 300)


@pytest.mark.parametrize("view", ["whole", "rows", "columns", "strided"])
def test_row_reader_matches_numpy(arrays, view):
    codes, mm, _ = arrays
    pick = {
        "whole": lambda a: a,
        "rows": lambda a: a[17:250],
        "columns": lambda a: a[:, 8:40],  # e.g. the centre of longer regions
        "strided": lambda a: a[::3],
    }[view]
    ref, arr = pick(codes), pick(mm)
    idx = np.random.default_rng(1).integers(0, ref.shape[0], 64)
    with T.RowReader(arr) as reader:
        assert reader._fd is not None  # memmaps are read from the file, not the mapping
        np.testing.assert_array_equal(reader.read(idx), ref[idx])
        np.testing.assert_array_equal(reader.read(np.arange(5, 60)), ref[5:60])
        with pytest.raises(IndexError):
            reader.read(np.array([ref.shape[0]]))
    with T.RowReader(np.ascontiguousarray(ref)) as reader:  # in memory: plain indexing
        assert reader._fd is None
        np.testing.assert_array_equal(reader.read(idx), ref[idx])


def _collect(ds):
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds], strict=True)
    return np.concatenate(xs), np.concatenate(ys)


def test_dataset_yields_each_row_once_as_one_hot(arrays):
    codes, mm, y = arrays
    rows = np.arange(10, 290, 2)
    ds = T.make_dataset(mm, y, batch_size=32, indices=rows, shuffle=True, random_state=4)
    assert ds.options().autotune.enabled is False
    assert int(ds.cardinality()) == -(-rows.size // 32)
    x, yy = _collect(ds)
    order = rows[T.epoch_order(rows.size, shuffle=True, random_state=4, epoch=0)]
    np.testing.assert_array_equal(x, one_hot(codes[order]))  # N rows all zero
    np.testing.assert_array_equal(yy, y[order].astype("float32"))
    assert sorted(order.tolist()) == rows.tolist()


def test_epoch_order_is_a_pure_function(arrays):
    _, mm, y = arrays
    a = _collect(T.make_dataset(mm, y, batch_size=50, shuffle=True, random_state=1, epoch=3))
    b = _collect(T.make_dataset(mm, y, batch_size=50, shuffle=True, random_state=1, epoch=3))
    c = _collect(T.make_dataset(mm, y, batch_size=50, shuffle=True, random_state=1, epoch=4))
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])
    plain = _collect(T.make_dataset(mm, y, batch_size=50))
    np.testing.assert_array_equal(plain[0], one_hot(np.asarray(mm)))


def test_drop_remainder_labels_dtype_and_unlabelled(arrays):
    _, mm, y = arrays
    ds = T.make_dataset(mm, y, batch_size=64, drop_remainder=True, label_dtype="int32")
    shapes = [(x.shape[0], yy.dtype.name) for x, yy in ds]
    assert shapes == [(64, "int32")] * 4
    x_only = list(T.make_dataset(mm, batch_size=128))
    assert [x.shape for x in x_only] == [(128, L, 4), (128, L, 4), (44, L, 4)]
    with pytest.raises(ValueError, match="labels have"):
        T.make_dataset(mm, y[:10], batch_size=8)


@pytest.fixture(scope="module")
def tiny_models():
    kw = {
        "seq_len": L,
        "stem_filters": 4,
        "res1_filters": 4,
        "res2_filters": 4,
        "top_filters": 4,
        "head_units": (8, 4),
        "random_state": 0,
    }
    return M.build_pretrain_model(**kw), M.build_multiclass_baseline(n_classes=3, **kw)


def test_predict_proba_equals_model_call(arrays, tiny_models):
    codes, mm, _ = arrays
    binary, multi = tiny_models
    rows = np.array([299, 3, 150, 4, 77])
    p = T.predict_proba(binary, mm, indices=rows, batch_size=2)  # partial last batch
    ref = binary(one_hot(codes[rows]), training=False).numpy()[:, 0]
    assert p.shape == (5,)
    np.testing.assert_allclose(p, ref, rtol=1e-5, atol=1e-6)
    predictor = T.Predictor(multi)
    full = T.predict_proba(predictor, mm, batch_size=128)
    assert full.shape == (300, 3)
    np.testing.assert_allclose(full, multi(one_hot(codes), training=False).numpy(), atol=1e-5)
    np.testing.assert_allclose(predictor.on_one_hot(one_hot(codes[:7])), full[:7], atol=1e-6)
    with pytest.raises(ValueError, match="takes 48 bp"):
        T.predict_proba(binary, np.zeros((3, 20), dtype=np.uint8))


def test_reverse_complement_augmentation_flips_a_seeded_half(arrays):
    from chromtransfer_lib.genome.sequence import reverse_complement

    codes, mm, y = arrays
    kw = {"batch_size": 64, "shuffle": True, "random_state": 5, "epoch": 2}
    x, yy = _collect(T.make_dataset(mm, y, reverse_complement=True, **kw))
    order = T.epoch_order(300, shuffle=True, random_state=5, epoch=2)
    flip = T.rc_mask(300, random_state=5, epoch=2)
    assert 0.4 < flip.mean() < 0.6  # each row flipped with probability 1/2
    expected = np.where(flip[:, None], reverse_complement(codes[order]), codes[order])
    np.testing.assert_array_equal(x, one_hot(expected))  # N stays all-zero
    np.testing.assert_array_equal(yy, y[order].astype("float32"))  # labels do not move
    again, _ = _collect(T.make_dataset(mm, y, reverse_complement=True, **kw))
    np.testing.assert_array_equal(again, x)  # a resumed epoch sees the same strands
    other = T.rc_mask(300, random_state=5, epoch=3)
    assert not np.array_equal(other, flip)


def test_predictor_averages_both_strands(arrays, tiny_models):
    from chromtransfer_lib.genome.sequence import reverse_complement

    codes, mm, _ = arrays
    binary, _ = tiny_models
    fwd = binary(one_hot(codes), training=False).numpy()[:, 0]
    rev = binary(one_hot(reverse_complement(codes)), training=False).numpy()[:, 0]
    assert np.abs(fwd - rev).max() > 1e-3  # the model itself is not strand-symmetric
    both = T.predict_proba(binary, mm, batch_size=100, reverse_complement=True)
    np.testing.assert_allclose(both, (fwd + rev) / 2, rtol=1e-5, atol=1e-6)
    flipped = T.predict_proba(binary, reverse_complement(codes), reverse_complement=True)
    np.testing.assert_allclose(flipped, both, rtol=1e-5, atol=1e-6)  # strand-invariant
    predictor = T.Predictor(binary, reverse_complement=True)
    np.testing.assert_allclose(predictor.on_one_hot(one_hot(codes[:9]))[:, 0], both[:9],
                               rtol=1e-5, atol=1e-6)  # fmt: skip

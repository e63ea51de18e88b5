"""Input pipelines and compiled prediction over uint8 code arrays.

Codes stay ``uint8 (n, L)`` (often a memory-mapped ``.npy`` from
:mod:`chromtransfer_lib.data.datasets`) and are turned into float32 one-hot ``(b, L, 4)`` one
batch at a time, so memory follows the batch, not the dataset:

* rows are read by index (splits are index arrays; the array is never copied);
* rows of a ``numpy.memmap`` are read with ``os.preadv`` from its file instead of touching the
  mapping, so the process's resident memory does not grow with every page an epoch visits;
* ``tf.data`` autotuning is disabled (it stalled epochs by 3–9 s on the 2-core reference CPU);
* prediction goes through a ``tf.function``-wrapped model call (:class:`Predictor`), not
  ``model.predict``.

Shuffling, and the strands of reverse-complement augmentation, are pure functions of
``(random_state, epoch)``, so a resumed run sees the same batches as an uninterrupted one.

Reverse complement (the paper is silent on strands): ``make_dataset(reverse_complement=True)``
turns a seeded half of each epoch's rows into their reverse complement (augmentation, as
ChromBPNet and gReLU train), and ``Predictor(reverse_complement=True)`` averages the
probabilities of both strands.
"""

from __future__ import annotations

import logging
import mmap
import os
from collections.abc import Iterator

import keras
import numpy as np
import tensorflow as tf

from chromtransfer_lib.genome.sequence import one_hot_tensor
from chromtransfer_lib.genome.sequence import reverse_complement as rc_codes

log = logging.getLogger(__name__)

#: Batches prefetched ahead of the model (fixed: autotuning is off).
PREFETCH = 2


def dataset_options() -> tf.data.Options:
    """``tf.data`` options used everywhere: autotuning off, deterministic order."""
    options = tf.data.Options()
    options.autotune.enabled = False
    options.deterministic = True
    return options


def _memmap_layout(codes: np.ndarray) -> tuple[str, int, int] | None:
    """``(file, byte offset of row 0, row stride)`` for a row-contiguous memmap, else None."""
    if not isinstance(codes, np.memmap) or not codes.filename or codes.ndim != 2:
        return None
    if codes.strides[1] != codes.itemsize or codes.strides[0] <= 0 or codes.size == 0:
        return None
    base = codes
    while base is not None and not isinstance(base, mmap.mmap):
        base = getattr(base, "base", None)
    if base is None:
        return None
    map_address = np.frombuffer(base, dtype=np.uint8).ctypes.data
    map_file_start = codes.offset - codes.offset % mmap.ALLOCATIONGRANULARITY
    first = map_file_start + (codes.ctypes.data - map_address)
    return str(codes.filename), int(first), int(codes.strides[0])


class RowReader:
    """Read rows of a 2-D array by index; memmapped files are read with ``preadv``.

    Use as a context manager (it holds a file descriptor for memmaps)::

        with RowReader(codes) as reader:
            batch = reader.read(np.array([5, 2, 9]))
    """

    def __init__(self, codes: np.ndarray):
        if codes.ndim != 2:
            raise ValueError(f"codes must have shape (n, L), got {codes.shape}")
        self.codes = codes
        self.shape = codes.shape
        self.dtype = codes.dtype
        self._layout = _memmap_layout(codes)
        self._fd: int | None = None

    def __enter__(self) -> RowReader:
        if self._layout is not None:
            self._fd = os.open(self._layout[0], os.O_RDONLY)
            probe = self._pread(np.array([0]))
            if not np.array_equal(probe[0], np.asarray(self.codes[0])):
                log.warning("memmap layout of %s not understood; using slicing", self._layout[0])
                self.close()
                self._layout = None
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the file descriptor (idempotent)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _pread(self, idx: np.ndarray) -> np.ndarray:
        _, first, stride = self._layout
        width = self.shape[1] * self.dtype.itemsize
        out = np.empty((len(idx), self.shape[1]), dtype=self.dtype)
        contiguous = stride == width and len(idx) > 1 and np.all(np.diff(idx) == 1)
        if contiguous:
            os.preadv(self._fd, [out], first + int(idx[0]) * stride)
            return out
        for j, i in enumerate(idx):
            os.preadv(self._fd, [out[j]], first + int(i) * stride)
        return out

    def read(self, idx: np.ndarray) -> np.ndarray:
        """Rows ``codes[idx]`` as a new in-memory array ``(len(idx), L)``."""
        idx = np.asarray(idx, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= self.shape[0]):
            raise IndexError(f"row index out of range 0..{self.shape[0] - 1}")
        if self._fd is not None:
            return self._pread(idx)
        return np.asarray(self.codes[idx])


def epoch_order(n: int, *, shuffle: bool, random_state: int | None, epoch: int) -> np.ndarray:
    """Positions ``0..n-1`` in the order of one epoch: a pure function of its arguments."""
    if not shuffle:
        return np.arange(n)
    seed = None if random_state is None else [int(random_state), int(epoch)]
    return np.random.default_rng(seed).permutation(n)


def rc_mask(n: int, *, random_state: int | None, epoch: int) -> np.ndarray:
    """Which of an epoch's ``n`` rows (in epoch order) reverse-complement augmentation flips:
    ``(n,)`` bool, each True with probability 1/2; a pure function of its arguments."""
    seed = None if random_state is None else [int(random_state), int(epoch), 1]
    return np.random.default_rng(seed).random(n) < 0.5


def make_dataset(
    codes: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    batch_size: int,
    indices: np.ndarray | None = None,
    shuffle: bool = False,
    random_state: int | None = None,
    epoch: int = 0,
    drop_remainder: bool = False,
    label_dtype: str = "float32",
    reverse_complement: bool = False,
) -> tf.data.Dataset:
    """A ``tf.data`` pipeline of one epoch: ``(one_hot (b, L, 4), labels (b,))`` batches.

    Parameters
    ----------
    codes
        ``uint8 (n, L)`` codes, possibly a ``numpy.memmap``; never copied as a whole.
    labels
        ``(n,)`` labels aligned with ``codes``; ``None`` yields one-hot batches only.
    batch_size
        Rows per batch.
    indices
        Rows to use (a split); default all rows.
    shuffle, random_state, epoch
        The order is ``default_rng([random_state, epoch]).permutation`` when ``shuffle``.
    drop_remainder
        Drop a last, smaller batch.
    label_dtype
        ``"float32"`` for sigmoid outputs, ``"int32"`` for sparse softmax targets.
    reverse_complement
        Augmentation: each row of the epoch is read as its reverse complement with probability
        1/2, drawn by :func:`rc_mask` (a pure function of ``random_state`` and ``epoch``).
    """
    n_total, seq_len = codes.shape
    rows = np.arange(n_total) if indices is None else np.asarray(indices, dtype=np.int64)
    if labels is not None and len(labels) != n_total:
        raise ValueError(f"labels have {len(labels)} rows but codes have {n_total}")
    order = rows[epoch_order(len(rows), shuffle=shuffle, random_state=random_state, epoch=epoch)]
    n_batches = len(order) // batch_size if drop_remainder else -(-len(order) // batch_size)
    lab = None if labels is None else np.asarray(labels).astype(label_dtype, copy=False)
    flip = None
    if reverse_complement:
        flip = rc_mask(len(order), random_state=random_state, epoch=epoch)

    def batches() -> Iterator:
        with RowReader(codes) as reader:
            for k in range(n_batches):
                idx = order[k * batch_size : (k + 1) * batch_size]
                x = reader.read(idx).astype(np.uint8, copy=False)
                if flip is not None:
                    f = flip[k * batch_size : (k + 1) * batch_size]
                    x[f] = rc_codes(x[f])
                yield x if lab is None else (x, lab[idx])

    x_spec = tf.TensorSpec((None, seq_len), tf.uint8)
    if lab is None:
        ds = tf.data.Dataset.from_generator(batches, output_signature=x_spec)
        ds = ds.map(one_hot_tensor)
    else:
        y_spec = tf.TensorSpec((None,), tf.as_dtype(label_dtype))
        ds = tf.data.Dataset.from_generator(batches, output_signature=(x_spec, y_spec))
        ds = ds.map(lambda x, y: (one_hot_tensor(x), y))
    ds = ds.apply(tf.data.experimental.assert_cardinality(n_batches))
    return ds.prefetch(PREFETCH).with_options(dataset_options())


class Predictor:
    """A compiled (``tf.function``) inference call of a model, reusable across calls.

    ``predictor(codes_batch)`` maps uint8 ``(b, L)`` to probabilities; :meth:`on_one_hot`
    takes float32 one-hot ``(b, L, 4)`` (for ISM and other edited inputs). With
    ``reverse_complement``, each probability is the mean of the sequence's and its reverse
    complement's (one-hot channels are A, C, G, T, so the reverse complement reverses both
    the positions and the channels; ``N`` stays all-zero).
    """

    def __init__(
        self, model: keras.Model, *, jit_compile: bool = False, reverse_complement: bool = False
    ):
        self.model = model
        self.seq_len = int(model.inputs[0].shape[1])
        self.reverse_complement = bool(reverse_complement)

        def call(x):
            p = tf.cast(model(x, training=False), tf.float32)
            if reverse_complement:
                p = (p + tf.cast(model(x[:, ::-1, ::-1], training=False), tf.float32)) / 2
            return p

        @tf.function(
            input_signature=[tf.TensorSpec((None, self.seq_len, 4), tf.float32)],
            jit_compile=jit_compile,
        )
        def _from_one_hot(x):
            return call(x)

        @tf.function(
            input_signature=[tf.TensorSpec((None, self.seq_len), tf.uint8)],
            jit_compile=jit_compile,
        )
        def _from_codes(c):
            return call(one_hot_tensor(c))

        self._from_one_hot = _from_one_hot
        self._from_codes = _from_codes

    def __call__(self, codes: np.ndarray) -> np.ndarray:
        """Probabilities for one batch of codes ``(b, L)`` → ``(b, n_outputs)``."""
        return self._from_codes(tf.convert_to_tensor(codes, dtype=tf.uint8)).numpy()

    def on_one_hot(self, x: np.ndarray) -> np.ndarray:
        """Probabilities for one batch of one-hot ``(b, L, 4)`` → ``(b, n_outputs)``."""
        return self._from_one_hot(tf.convert_to_tensor(x, dtype=tf.float32)).numpy()


def predict_proba(
    model: keras.Model | Predictor,
    codes: np.ndarray,
    *,
    indices: np.ndarray | None = None,
    batch_size: int = 512,
    progress: bool = False,
    reverse_complement: bool = False,
) -> np.ndarray:
    """Predicted probabilities, streaming over batches through a compiled call.

    Parameters
    ----------
    model
        A Keras model or a :class:`Predictor` (pass one to reuse its traced function).
    codes
        ``uint8 (n, L)`` codes (memmap welcome).
    indices
        Rows to predict (default all), in the order given.
    batch_size
        Rows per call.
    progress
        Show a progress bar (on a terminal or in Jupyter: :mod:`chromtransfer_lib.progress`).
    reverse_complement
        Average both strands (a :class:`Predictor` passed as ``model`` keeps its own setting).

    Returns
    -------
    numpy.ndarray
        ``(m,)`` float32 for a sigmoid output, ``(m, k)`` for a ``k``-way softmax.
    """
    predictor = model if isinstance(model, Predictor) else Predictor(
        model, reverse_complement=reverse_complement)  # fmt: skip
    if codes.shape[1] != predictor.seq_len:
        raise ValueError(
            f"codes have length {codes.shape[1]} but the model takes {predictor.seq_len} bp"
        )
    rows = np.arange(codes.shape[0]) if indices is None else np.asarray(indices, dtype=np.int64)
    from chromtransfer_lib.progress import progress_bar

    starts = progress_bar(range(0, len(rows), batch_size), enabled=progress, desc="predict",
                          unit="batch", leave=False)  # fmt: skip
    parts = []
    with RowReader(codes) as reader:
        for s in starts:
            parts.append(predictor(reader.read(rows[s : s + batch_size])))
    n_out = int(predictor.model.outputs[0].shape[-1])
    out = np.concatenate(parts) if parts else np.zeros((0, n_out), dtype=np.float32)
    return out[:, 0] if n_out == 1 else out

"""The ChromTransfer network: a ResNet-like trunk and interchangeable dense heads.

Architecture (paper Methods; ARCHITECTURE.md, "models"), widths as parameters, paper widths by
default::

    one_hot (L, 4)
    → conv  stem_filters k25                                   trunk_stem
    → residual block res1_filters k20, conv shortcut           trunk_res1
    → 3 chained identity blocks res1_filters k15,
      their 3 outputs concatenated ("3 merged blocks")         trunk_id1_{1,2,3}, trunk_merge1
    → residual block res2_filters k10, conv shortcut           trunk_res2
    → 3 chained identity blocks res2_filters k5                trunk_id2_{1,2,3}
    → conv top_filters k10 (+BN, dropout)                      trunk_top1
    → conv top_filters k5 (ReLU only)                          trunk_top2
    → global average pooling                                   trunk_gap   (end of the trunk)
    → dense 512 → dense 128 (+BN, dropout)                     head_pretrain_{1,2}_*
    → dense 1, sigmoid                                         head_pretrain_out

Every convolution and dense layer is ``ReLU → BatchNorm → Dropout(0.1)`` with ``'same'``
padding, in that order (activation inside the layer, as Keras 2 code usually wrote it). A
residual block is ``conv → conv`` added to a one-conv shortcut (same kernel); an identity block
is ``conv → conv`` added to its input; no activation follows an addition.

Which wiring? The paper's sentence is ambiguous in three places: whether the *second* triple of
identity blocks is concatenated like the first, whether the last convolution carries BatchNorm,
and whether shortcuts are convolutions of the block's kernel size. Counting parameters at 600 bp
with a 512/128 head for the readings (tests/test_model.py counts them by hand):

=====================================================  ==========
reading                                                parameters
=====================================================  ==========
first triple concatenated, second chained, top2 no BN     655,777
as above, top2 with BN                                    656,033
both triples concatenated                                 737,697
neither triple concatenated                               573,857
1-bp (instead of block-kernel) shortcut convolutions      561,569
=====================================================  ==========

Only the first reading reproduces 655,777, and it is the wiring of the authors' published
``nn_architecture/architecture.py`` (which also uses ``he_normal`` initialisation and an L2
kernel penalty of 1e-4 that the paper does not mention; ``l2`` is an option here, 0 by default).
At widths ÷4 (16/8/16/16, head 128/32) this network has 43,753 parameters.

Layer names, never indices, locate the parts: trunk layers start with ``trunk_``, heads with
``head_pretrain_`` or ``head_finetune_`` (Keras 3 forbids ``/`` in names). The input is float32
one-hot ``(n, L, 4)`` named ``one_hot``, so attribution can differentiate with respect to it;
:mod:`chromtransfer_lib.data.pipeline` turns uint8 codes into one-hot on the fly.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np

from chromtransfer_lib.errors import InputError

TRUNK_PREFIX = "trunk_"
TRUNK_OUTPUT = "trunk_gap"
PRETRAIN_HEAD = "head_pretrain"
FINETUNE_HEAD = "head_finetune"
INPUT_NAME = "one_hot"


class ModelLoadError(InputError, ValueError):
    """A saved model is missing, corrupt, of the wrong architecture or input length."""


class _Builder:
    """Creates named layers with reproducible seeds and one dtype policy."""

    def __init__(self, *, dropout: float, l2: float, dtype: str | None, random_state: int | None):
        self.dropout = dropout
        self.l2 = l2
        self.dtype = dtype
        self._seeds = (
            None if random_state is None else np.random.default_rng(random_state).integers(2**31)
        )
        self._count = 0

    def batchnorm_args(self) -> dict:
        """BatchNorm's dtype, and ``synchronized=True`` under a strategy with several replicas
        (several GPUs, or the workers of models/multiworker.py): batch statistics over the
        global batch, as on one device."""
        import tensorflow as tf

        args: dict = {"dtype": self.dtype}
        if tf.distribute.has_strategy() and tf.distribute.get_strategy().num_replicas_in_sync > 1:
            args["synchronized"] = True
        return args

    def seed(self) -> int | None:
        self._count += 1
        return None if self._seeds is None else int(self._seeds) + self._count

    def conv(self, x, filters: int, kernel: int, name: str, *, bn: bool = True):
        x = keras.layers.Conv1D(
            filters,
            kernel,
            padding="same",
            activation="relu",
            kernel_initializer=keras.initializers.HeNormal(seed=self.seed()),
            kernel_regularizer=keras.regularizers.L2(self.l2) if self.l2 else None,
            dtype=self.dtype,
            name=f"{name}_conv",
        )(x)
        if bn:
            x = keras.layers.BatchNormalization(**self.batchnorm_args(), name=f"{name}_bn")(x)
            x = keras.layers.Dropout(self.dropout, seed=self.seed(), name=f"{name}_drop")(x)
        return x

    def dense(self, x, units: int, name: str):
        x = keras.layers.Dense(
            units,
            activation="relu",
            kernel_initializer=keras.initializers.HeNormal(seed=self.seed()),
            dtype=self.dtype,
            name=f"{name}_dense",
        )(x)
        x = keras.layers.BatchNormalization(**self.batchnorm_args(), name=f"{name}_bn")(x)
        return keras.layers.Dropout(self.dropout, seed=self.seed(), name=f"{name}_drop")(x)

    def residual(self, x, filters: int, kernel: int, name: str):
        y = self.conv(x, filters, kernel, f"{name}_a")
        y = self.conv(y, filters, kernel, f"{name}_b")
        s = self.conv(x, filters, kernel, f"{name}_short")
        return keras.layers.Add(dtype=self.dtype, name=f"{name}_add")([y, s])

    def identity(self, x, filters: int, kernel: int, name: str):
        y = self.conv(x, filters, kernel, f"{name}_a")
        y = self.conv(y, filters, kernel, f"{name}_b")
        return keras.layers.Add(dtype=self.dtype, name=f"{name}_add")([y, x])


def _trunk(inputs, b: _Builder, *, stem: int, res1: int, res2: int, top: int):
    x = b.conv(inputs, stem, 25, "trunk_stem")
    x = b.residual(x, res1, 20, "trunk_res1")
    merged = []
    for i in (1, 2, 3):
        x = b.identity(x, res1, 15, f"trunk_id1_{i}")
        merged.append(x)
    x = keras.layers.Concatenate(axis=-1, dtype=b.dtype, name="trunk_merge1")(merged)
    x = b.residual(x, res2, 10, "trunk_res2")
    for i in (1, 2, 3):
        x = b.identity(x, res2, 5, f"trunk_id2_{i}")
    x = b.conv(x, top, 10, "trunk_top1")
    x = b.conv(x, top, 5, "trunk_top2", bn=False)
    return keras.layers.GlobalAveragePooling1D(dtype=b.dtype, name=TRUNK_OUTPUT)(x)


def _head(x, b: _Builder, *, prefix: str, units: Sequence[int], n_outputs: int):
    for i, u in enumerate(units, start=1):
        x = b.dense(x, int(u), f"{prefix}_{i}")
    activation = "sigmoid" if n_outputs == 1 else "softmax"
    # The output stays float32 under mixed precision, for a numerically sound loss (float64
    # when that is Keras' floatx, as in tests that compare runs beyond float32 round-off).
    return keras.layers.Dense(
        n_outputs,
        activation=activation,
        kernel_initializer=keras.initializers.GlorotUniform(seed=b.seed()),
        dtype="float64" if keras.config.floatx() == "float64" else "float32",
        name=f"{prefix}_out",
    )(x)


def build_network(
    *,
    seq_len: int = 600,
    stem_filters: int = 64,
    res1_filters: int = 32,
    res2_filters: int = 64,
    top_filters: int = 64,
    head_units: Sequence[int] = (512, 128),
    head_prefix: str = PRETRAIN_HEAD,
    n_outputs: int = 1,
    dropout: float = 0.1,
    l2: float = 0.0,
    mixed_precision: str | None = None,
    random_state: int | None = None,
    name: str = "chromtransfer",
) -> keras.Model:
    """Build the whole network with freshly initialised weights.

    Parameters
    ----------
    seq_len
        Input length ``L`` in bp; the input is float32 one-hot ``(n, L, 4)``.
    stem_filters, res1_filters, res2_filters, top_filters
        Widths of the stem, the first and second residual stages, and the two last convolutions
        (paper: 64, 32, 64, 64).
    head_units
        Dense layer sizes before the output (pre-training 512/128, fine-tuning 1024/32).
    head_prefix
        Name prefix of the head layers (``head_pretrain`` or ``head_finetune``).
    n_outputs
        1 gives a sigmoid output of shape ``(n, 1)``; more gives a softmax ``(n, n_outputs)``.
    dropout
        Dropout rate after every layer.
    l2
        L2 kernel penalty on convolutions (authors' code: 1e-4; paper: unstated; default 0).
    mixed_precision
        ``None``, ``"mixed_float16"`` (GPU) or ``"mixed_bfloat16"`` (CPUs with AMX); the output
        layer is always float32.
    random_state
        Seeds every initialiser and dropout layer; ``None`` uses Keras' global seed.
    """
    if mixed_precision not in (None, "mixed_float16", "mixed_bfloat16"):
        raise ValueError(
            f"mixed_precision must be None, 'mixed_float16' or 'mixed_bfloat16', "
            f"got {mixed_precision!r}"
        )
    b = _Builder(dropout=dropout, l2=l2, dtype=mixed_precision, random_state=random_state)
    inputs = keras.Input((seq_len, 4), name=INPUT_NAME, dtype="float32")
    x = _trunk(inputs, b, stem=stem_filters, res1=res1_filters, res2=res2_filters, top=top_filters)
    out = _head(x, b, prefix=head_prefix, units=head_units, n_outputs=n_outputs)
    return keras.Model(inputs, out, name=name)


def build_pretrain_model(**kwargs) -> keras.Model:
    """The pre-training model (head 512/128/1 by default); arguments of :func:`build_network`."""
    kwargs.setdefault("head_units", (512, 128))
    return build_network(head_prefix=PRETRAIN_HEAD, n_outputs=1, name="pretrain", **kwargs)


def build_binary_baseline(*, head_units: Sequence[int] = (1024, 32), **kwargs) -> keras.Model:
    """The binary baseline: the fine-tuning architecture from random initialisation."""
    return build_network(
        head_prefix=FINETUNE_HEAD,
        head_units=head_units,
        n_outputs=1,
        name="binary_baseline",
        **kwargs,
    )


def build_multiclass_baseline(
    *,
    n_classes: int = 7,
    head_units: Sequence[int] = (1024, 32),
    **kwargs,
) -> keras.Model:
    """The multiclass baseline: fine-tuning architecture with an ``n_classes``-way softmax."""
    if n_classes < 2:
        raise ValueError(f"n_classes must be at least 2, got {n_classes}")
    return build_network(
        head_prefix=FINETUNE_HEAD,
        head_units=head_units,
        n_outputs=n_classes,
        name="multiclass_baseline",
        **kwargs,
    )


def trunk_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The trunk's layers (names starting with ``trunk_``), in graph order."""
    layers = [layer for layer in model.layers if layer.name.startswith(TRUNK_PREFIX)]
    if not any(layer.name == TRUNK_OUTPUT for layer in layers):
        raise ValueError(
            f"model {model.name!r} has no layer named {TRUNK_OUTPUT!r}: it was not built by "
            "chromtransfer_lib.models.network (layer names are how the trunk is found)"
        )
    return layers


def head_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The head's layers (names starting with ``head_``)."""
    return [layer for layer in model.layers if layer.name.startswith("head_")]


def extract_trunk(model: keras.Model) -> keras.Model:
    """A model from the one-hot input to the pooled trunk features ``(n, top_filters)``.

    The returned model shares its layers (and so its weights) with ``model``.
    """
    trunk_layers(model)  # checks the names
    return keras.Model(model.inputs[0], model.get_layer(TRUNK_OUTPUT).output, name="trunk")


def build_chromtransfer_model(
    pretrained: keras.Model,
    *,
    head_units: Sequence[int] = (1024, 32),
    dropout: float = 0.1,
    freeze_trunk: bool = False,
    n_outputs: int = 1,
    random_state: int | None = None,
) -> keras.Model:
    """ChromTransfer: a copy of the pre-trained trunk plus a new, randomly initialised head.

    Parameters
    ----------
    pretrained
        A model from :func:`build_pretrain_model` (or any model of this module); not modified.
    head_units
        The new head's dense layers (paper: 1024, 32).
    dropout
        Dropout rate of the new head.
    freeze_trunk
        ``False`` (the paper): every layer trains. ``True`` (the authors' frozen-trunk script):
        trunk layers are not trainable and their BatchNorm layers run in inference mode.
    n_outputs
        1 for a sigmoid output; more for a softmax.
    random_state
        Seeds the new head's initialisers and dropout.

    Returns
    -------
    keras.Model
        Input ``one_hot (n, L, 4)``; trunk weights equal to ``pretrained``'s at creation.
    """
    trunk = extract_trunk(pretrained)
    copy = keras.models.clone_model(trunk)
    copy.set_weights(trunk.get_weights())
    policy = pretrained.get_layer(TRUNK_OUTPUT).dtype_policy.name
    b = _Builder(
        dropout=dropout,
        l2=0.0,
        dtype=None if policy == "float32" else policy,
        random_state=random_state,
    )
    out = _head(copy.output, b, prefix=FINETUNE_HEAD, units=head_units, n_outputs=n_outputs)
    model = keras.Model(copy.inputs[0], out, name="chromtransfer")
    for layer in trunk_layers(model):
        layer.trainable = not freeze_trunk
    return model


def load_model(path: str | Path, *, expected_seq_len: int | None = None) -> keras.Model:
    """Load a ``.keras`` model saved by this library, in Keras safe mode.

    Raises
    ------
    ModelLoadError
        If the file is missing, not a readable ``.keras`` archive (corrupt or truncated), has no
        ``trunk_gap`` layer (not a ChromTransfer network), or its input length differs from
        ``expected_seq_len``. The message names the file and what to do.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"model file {path} does not exist; train the model first")
    if path.suffix != ".keras":
        raise ModelLoadError(f"{path}: expected a native Keras '.keras' file")
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as err:  # Keras raises many types for a damaged zip/config
        raise ModelLoadError(
            f"{path}: cannot be read as a Keras model ({type(err).__name__}: {err}); the file is "
            "corrupt or truncated — delete it and re-run the step that writes it"
        ) from err
    try:
        trunk_layers(model)
    except ValueError as err:
        raise ModelLoadError(f"{path}: {err}") from err
    shape = tuple(model.inputs[0].shape)
    if len(shape) != 3 or shape[-1] != 4:
        raise ModelLoadError(f"{path}: input shape {shape} is not one-hot (n, L, 4)")
    if expected_seq_len is not None and shape[1] != expected_seq_len:
        raise ModelLoadError(
            f"{path}: the model takes {shape[1]} bp inputs but {expected_seq_len} bp were "
            "expected; use the model trained for this sequence length (profile data.seq_len)"
        )
    return model

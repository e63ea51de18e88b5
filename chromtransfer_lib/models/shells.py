"""Train every model of one architecture on one compiled copy, traced once per process.

Keras traces a model's train and test functions the first time it fits or evaluates it, and a
new model object is traced again, even when its architecture is identical. At the book's
small profiles that tracing is most of a model's cost: a workshop fine-tuning job (327
training rows, 3 epochs) spent ~10 s of its ~19 s tracing the train and test functions and
~4 s running them (py-spy, 2-core machine). The book trains six ChromTransfer and six baseline
models of one architecture each, per worker process.

So :func:`acquire` hands :func:`chromtransfer_lib.models.train.train_model` a *shell*: a
compiled clone kept per architecture (``model.to_json()``: layers, names, initialiser seeds)
and loss, whose traced functions survive from one model to the next. The caller's fresh model
lends the shell its initial values (every variable, so BatchNorm statistics too); the shell's
Adam state is reset to that of a freshly built optimiser (zero moments, zero iterations, the
run's learning rate); dropout is reseeded at every epoch by the training loop anyway. Training
then runs on the shell exactly as it would on the fresh model: the same graph, the same
initial values, the same optimiser state, so the same numbers (tests/test_shells.py compares
the histories bit for bit). :func:`release` copies the shell's final values back into the
caller's model, which is what the run saves and returns: a returned model is never the shell,
so the next run cannot change it.

Not used (the model trains as itself) under a distribution strategy other than the default,
with mixed precision (the loss-scale optimiser has more state), or in eager execution (nothing
is traced). Keras has no such facility (``clone_model`` copies structure, not traces); hence
this module.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

log = logging.getLogger(__name__)

#: Shells kept per process (least recently used dropped first): the book's workers train at
#: most three architectures (ChromTransfer, baseline, multiclass) per chapter.
MAX_SHELLS = 4

_SHELLS: OrderedDict[str, keras.Model] = OrderedDict()


def _key(model: keras.Model, loss: str) -> str:
    return hashlib.sha256(f"{loss}\n{model.to_json()}".encode()).hexdigest()


def shareable(model: keras.Model, *, eager: bool) -> bool:
    """Whether ``model`` may train on a shell: graph execution, the default strategy, no mixed
    precision."""
    if eager or model.distribute_strategy is not tf.distribute.get_strategy():
        return False
    if tf.distribute.has_strategy():
        return False
    return not any(layer.dtype_policy.name == "mixed_float16" for layer in model.layers)


def _copy_values(source: keras.Model, target: keras.Model) -> None:
    """Every variable of ``source`` (trainable, BatchNorm statistics, seed states) into the
    same position of ``target`` (same architecture)."""
    src, dst = source.variables, target.variables
    if len(src) != len(dst):
        raise ValueError(f"models differ: {len(src)} vs {len(dst)} variables")
    for s, d in zip(src, dst, strict=True):
        if tuple(s.shape) != tuple(d.shape):
            raise ValueError(f"models differ at {s.path}: {s.shape} vs {d.shape}")
        d.assign(s.value)


def _reset_optimizer(shell: keras.Model, learning_rate: float) -> None:
    """The shell's Adam as freshly built: zero moments and iterations, ``learning_rate``."""
    opt = shell.optimizer
    for v in opt.variables:
        v.assign(np.zeros(tuple(v.shape), dtype=v.dtype))
    opt.learning_rate.assign(learning_rate)


def acquire(
    fresh: keras.Model,
    *,
    loss: str,
    learning_rate: float,
    compile_fn: Callable[[keras.Model], None],
) -> keras.Model:
    """A compiled shell of ``fresh``'s architecture holding ``fresh``'s values and a fresh
    optimiser; ``compile_fn(model)`` compiles a new shell (once per architecture and loss)."""
    key = _key(fresh, loss)
    shell = _SHELLS.pop(key, None)
    if shell is None:
        shell = keras.models.clone_model(fresh)
        compile_fn(shell)
        log.debug("new training shell for %s (%s)", fresh.name, key[:12])
    _SHELLS[key] = shell
    while len(_SHELLS) > MAX_SHELLS:
        _SHELLS.popitem(last=False)
    _copy_values(fresh, shell)
    _reset_optimizer(shell, learning_rate)
    return shell


def release(shell: keras.Model, fresh: keras.Model) -> keras.Model:
    """Copy the trained ``shell``'s values into ``fresh`` and return ``fresh``."""
    _copy_values(shell, fresh)
    return fresh


def clear() -> None:
    """Forget every shell (tests; frees their memory)."""
    _SHELLS.clear()

"""Seeds and devices: one seeding call, the multi-GPU scope and the mixed-precision default.

Re-exported by :mod:`chromtransfer_lib.models.train` (ARCHITECTURE.md, "models").
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import keras
import tensorflow as tf

log = logging.getLogger(__name__)


def set_seed(random_state: int, *, deterministic: bool = False) -> None:
    """Seed Python, NumPy and TensorFlow/Keras in one place.

    ``deterministic=True`` also enables TensorFlow op determinism (needed on GPUs for bitwise
    repeatability; CPU runs with seeded layers repeat without it).
    """
    keras.utils.set_random_seed(int(random_state))
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def distribution_scope() -> contextlib.AbstractContextManager:
    """``MirroredStrategy().scope()`` when more than one GPU is visible, else a no-op.

    Build *and* train the model inside it::

        with distribution_scope():
            model = build_pretrain_model(...)
            result = train_model(model, recipe, ...)
    """
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        log.info("MirroredStrategy over %d GPUs", len(gpus))
        return tf.distribute.MirroredStrategy().scope()
    return contextlib.nullcontext()


def default_mixed_precision() -> str | None:
    """``"mixed_float16"`` with a GPU, ``"mixed_bfloat16"`` on a CPU with AMX, else None."""
    if tf.config.list_physical_devices("GPU"):
        return "mixed_float16"
    with contextlib.suppress(OSError):
        flags = Path("/proc/cpuinfo").read_text()
        if "amx_bf16" in flags:
            return "mixed_bfloat16"
    return None

"""Seeds and devices: one seeding call, the multi-GPU scope, the mixed-precision default, and
the GPU settings recommended for the ``paper`` profile from the devices seen
(:func:`recommend_gpu_settings`, shown by ``chromtransfer doctor``).

Re-exported by :mod:`chromtransfer_lib.models.train` (ARCHITECTURE.md, "models").
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
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
    """The scope of the process's strategy: ``MultiWorkerMirroredStrategy`` when ``TF_CONFIG``
    names several workers (:mod:`chromtransfer_lib.models.multiworker`), else
    ``MirroredStrategy`` when more than one GPU is visible, else a no-op.

    Build *and* train the model inside it::

        with distribution_scope():
            model = build_pretrain_model(...)
            result = train_model(model, recipe, ...)
    """
    from chromtransfer_lib.models.multiworker import cluster_strategy

    cluster = cluster_strategy()
    if cluster is not None:
        return cluster.scope()
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


#: Compute capability from which a GPU has float16 tensor cores (Volta) and bfloat16 (Ampere).
FLOAT16_MIN_CC, BFLOAT16_MIN_CC = (7, 0), (8, 0)
#: Prediction rows per call: the library's CPU default, and on GPUs in float32 / 16-bit.
PREDICT_BATCH_CPU, PREDICT_BATCH_GPU_FLOAT32, PREDICT_BATCH_GPU_16BIT = 512, 2048, 4096


@dataclass(frozen=True)
class GpuDevice:
    """One GPU as TensorFlow describes it (``tf.config.experimental.get_device_details``)."""

    name: str
    compute_capability: tuple[int, int] | None
    """``(major, minor)``, e.g. ``(8, 0)`` for an A100; ``None`` when TensorFlow gives none."""


@dataclass(frozen=True)
class GpuSettings:
    """What the ``paper`` profile should use on this machine (:func:`recommend_gpu_settings`).

    ``mixed_precision`` is a Keras policy name or ``None`` (float32); ``loss_scaling`` says that
    the optimiser must be wrapped in ``keras.optimizers.LossScaleOptimizer`` (float16 only);
    ``predict_batch_size`` is the rows per call of ``data.pipeline.predict_proba``; ``xla`` is
    ``jit_compile`` for ``model.compile`` and ``data.pipeline.Predictor``. ``supported_policies``
    lists every mixed policy the hardware runs fast; ``reasons`` says why, one sentence each.
    """

    mixed_precision: str | None
    loss_scaling: bool
    predict_batch_size: int
    xla: bool
    supported_policies: tuple[str, ...]
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        """Plain, JSON-serialisable dict (tuples become lists)."""
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def recommend_gpu_settings(gpus: Sequence[GpuDevice], *, xla_available: bool) -> GpuSettings:
    """The ``paper`` profile's GPU settings for the devices seen: a pure function of them.

    Parameters
    ----------
    gpus
        Every visible GPU (:func:`visible_gpus`); empty on a CPU-only machine.
    xla_available
        TensorFlow can JIT-compile for these GPUs (:func:`xla_supported`).

    Notes
    -----
    * Precision follows the *oldest* GPU (``MirroredStrategy`` runs the same graph on each):
      from compute capability 7.0 (Volta: float16 tensor cores) ``mixed_float16`` with loss
      scaling; below, or unknown, float32. From 8.0 (Ampere, Hopper) ``mixed_bfloat16`` runs
      as fast, but float16 keeps 10 mantissa bits to bfloat16's 7, so it stays closer to
      float32, and loss scaling covers its narrower exponent range; bfloat16 is listed in
      ``supported_policies`` only. The output layer is float32 under either policy
      (:mod:`chromtransfer_lib.models.network`).
    * Loss scaling: Keras 3's ``Model.compile(auto_scale_loss=True)`` wraps the optimiser in a
      ``LossScaleOptimizer`` only when the *model's* dtype policy is ``mixed_float16`` (the
      global policy when it was built). This library sets the policy per layer and leaves the
      model's at float32, so nothing is wrapped automatically: ``models.train`` wraps Adam
      itself, and anyone compiling a float16 network of this library must do the same.
    * Prediction batch: 512 rows on a CPU (the library's default); on a GPU 4,096 rows in 16-bit
      and 2,048 in float32, an estimate not yet measured on a GPU: at the paper's widths and
      600 bp the largest activation holds 57,600 values a row (600 bp × 96 channels) and a few
      are live at once, about 0.5 MB a row in float16, so 4,096 rows take ~2 GB next to the
      model. Results do not depend on the batch (inference mode).
    * XLA: on with exactly one GPU when TensorFlow can compile for it; that is Keras 3's own
      choice for training (``jit_compile="auto"`` enables XLA when a GPU is visible), which
      ``Predictor(jit_compile=True)`` extends to prediction. Off on CPUs (Keras turns it off
      there too; oneDNN kernels are faster) and with several GPUs (Keras turns it off under
      ``tf.distribute``).
    """
    if not gpus:
        return GpuSettings(
            mixed_precision=None,
            loss_scaling=False,
            predict_batch_size=PREDICT_BATCH_CPU,
            xla=False,
            supported_policies=(),
            reasons=("no GPU: float32 and the library's CPU defaults",),
        )
    reasons = []
    known = [g.compute_capability for g in gpus if g.compute_capability is not None]
    cc = min(known) if len(known) == len(gpus) else None
    names = ", ".join(f"{g.name} (cc {_cc_text(g.compute_capability)})" for g in gpus)
    reasons.append(f"{len(gpus)} GPU(s): {names}")
    if len(known) > 1 and min(known) != max(known):
        reasons.append(f"GPUs differ: the oldest (cc {_cc_text(cc)}) decides the precision")
    supported: list[str] = []
    if cc is not None and cc >= FLOAT16_MIN_CC:
        supported.append("mixed_float16")
    if cc is not None and cc >= BFLOAT16_MIN_CC:
        supported.append("mixed_bfloat16")
    if cc is None:
        policy = None
        reasons.append("compute capability unknown: float32 (mixed precision may be slower)")
    elif supported:
        policy = "mixed_float16"
        also = " (bfloat16 runs too; float16 is closer to float32)" if len(supported) > 1 else ""
        reasons.append(
            f"cc {_cc_text(cc)} ≥ 7.0 has float16 tensor cores: mixed_float16 with loss "
            f"scaling{also}"
        )
    else:
        policy = None
        reasons.append(f"cc {_cc_text(cc)} < 7.0 has no tensor cores: float32")
    batch = PREDICT_BATCH_GPU_16BIT if policy else PREDICT_BATCH_GPU_FLOAT32
    xla = xla_available and len(gpus) == 1
    if not xla_available:
        reasons.append("XLA off: TensorFlow cannot compile for this GPU (no XLA or no ptxas)")
    elif len(gpus) > 1:
        reasons.append(
            "XLA off: several GPUs train under MirroredStrategy, where Keras disables XLA; "
            "the paper's batch is split across them"
        )
    else:
        reasons.append("XLA on: one GPU (Keras' own default for training on a GPU)")
    return GpuSettings(
        mixed_precision=policy,
        loss_scaling=policy == "mixed_float16",
        predict_batch_size=batch,
        xla=xla,
        supported_policies=tuple(supported),
        reasons=tuple(reasons),
    )


def _cc_text(cc: tuple[int, int] | None) -> str:
    return "?" if cc is None else f"{cc[0]}.{cc[1]}"


def visible_gpus() -> list[GpuDevice]:
    """The GPUs TensorFlow sees, with the name and compute capability it reports."""
    out = []
    for device in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(device)
        cc = details.get("compute_capability")
        name = details.get("device_name") or device.name
        out.append(GpuDevice(str(name), None if cc is None else (int(cc[0]), int(cc[1]))))
    return out


def xla_supported() -> bool:
    """TensorFlow was built with XLA and, for GPUs, ``ptxas`` is found (on PATH or from the
    ``nvidia-cuda-nvcc`` wheel that ``tensorflow[and-cuda]`` installs), which XLA needs to
    compile GPU kernels."""
    if not tf.test.is_built_with_xla():
        return False
    if not tf.config.list_physical_devices("GPU"):
        return True
    try:
        nvcc = importlib.util.find_spec("nvidia.cuda_nvcc") is not None
    except ModuleNotFoundError:
        nvcc = False
    return nvcc or shutil.which("ptxas") is not None

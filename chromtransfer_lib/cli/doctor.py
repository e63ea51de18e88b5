"""``chromtransfer doctor``: is this machine ready to run the book, and if not, why not?

:func:`run_doctor` gathers facts (Python, TensorFlow/Keras versions, GPU visibility and the
reason TensorFlow gives none, the data cache and its free space, which manifest files are
present) into a :class:`DoctorReport` of :class:`Check` rows with status ``ok`` / ``warn`` /
``fail``; :func:`format_report` renders it as text. The ``check_*`` functions are pure (they
take the facts as arguments), so each diagnosis is testable without the hardware.

The report also holds the GPU settings recommended for the ``paper`` profile
(:attr:`DoctorReport.gpu_settings`, a :class:`~chromtransfer_lib.models.devices.GpuSettings`
decided by the pure :func:`~chromtransfer_lib.models.devices.recommend_gpu_settings` from the
GPUs and compute capabilities TensorFlow reports), shown as the ``paper settings`` row.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from chromtransfer_lib.cli.quiet import nvidia_driver_found
from chromtransfer_lib.data import manifest as mf

if TYPE_CHECKING:
    from chromtransfer_lib.models.devices import GpuSettings

Status = Literal["ok", "warn", "fail"]
MIN_PYTHON = (3, 11)
MAX_PYTHON = (3, 14)  # exclusive, as in pyproject.toml
INSTALL_CUDA = "pip install 'tensorflow[and-cuda]'"


@dataclass(frozen=True)
class Check:
    """One diagnosis: ``status`` is ``ok``, ``warn`` (works, with a caveat) or ``fail``."""

    name: str
    status: Status
    message: str


@dataclass(frozen=True)
class DoctorReport:
    """All checks, in the order they ran, and the ``paper`` profile's GPU settings (``None``
    when TensorFlow or Keras does not import)."""

    checks: tuple[Check, ...]
    gpu_settings: GpuSettings | None = None

    @property
    def ok(self) -> bool:
        """True when no check failed (warnings allowed)."""
        return all(c.status != "fail" for c in self.checks)

    @property
    def exit_code(self) -> int:
        """0 when :attr:`ok`, else 1 (for the CLI)."""
        return 0 if self.ok else 1

    def get(self, name: str) -> Check:
        """The check called ``name``."""
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(f"no check named {name!r}; have {[c.name for c in self.checks]}")


def check_python(version: Sequence[int]) -> Check:
    """Python within the supported range (``version`` like ``sys.version_info``)."""
    v = tuple(version[:3])
    text = ".".join(map(str, v))
    if MIN_PYTHON <= v[:2] < MAX_PYTHON:
        return Check("python", "ok", f"Python {text} ({sys.executable})")
    return Check(
        "python",
        "fail",
        f"Python {text} is not supported: use 3.{MIN_PYTHON[1]} to 3.{MAX_PYTHON[1] - 1} "
        "(e.g. `python3.11 -m venv .venv`)",
    )


def check_gpu(
    *,
    gpus: Sequence[str],
    built_with_cuda: bool,
    build_info: Mapping[str, Any],
    require_gpu: bool = False,
    driver_found: bool = False,
    cuda_libraries_found: bool = False,
    cuda_visible_devices: str | None = None,
) -> Check:
    """GPU visible to TensorFlow, or the most likely reason it is not.

    Parameters
    ----------
    gpus
        Names of ``tf.config.list_physical_devices("GPU")``.
    built_with_cuda, build_info
        ``tf.test.is_built_with_cuda()`` and ``tf.sysconfig.get_build_info()``.
    require_gpu
        No GPU is a ``fail`` instead of a ``warn``.
    driver_found
        An NVIDIA driver is installed (``nvidia-smi`` on PATH or ``/dev/nvidia0``).
    cuda_libraries_found
        The pip CUDA libraries (``nvidia-*`` packages from ``tensorflow[and-cuda]``) import.
    cuda_visible_devices
        Value of ``CUDA_VISIBLE_DEVICES`` (``None`` when unset).
    """
    cuda = build_info.get("cuda_version")
    cudnn = build_info.get("cudnn_version")
    build = f"CUDA {cuda}, cuDNN {cudnn}" if cuda else "no CUDA"
    if gpus:
        return Check("gpu", "ok", f"{len(gpus)} GPU(s) visible: {', '.join(gpus)} ({build})")
    if not built_with_cuda:
        why = (
            f"this TensorFlow build has no CUDA support ({platform.system()} wheels other than "
            f"Linux x86-64 are CPU-only); on Linux: {INSTALL_CUDA}"
        )
    elif cuda_visible_devices is not None and cuda_visible_devices.strip() in ("", "-1"):
        why = f"CUDA_VISIBLE_DEVICES={cuda_visible_devices!r} hides every GPU"
    elif not driver_found:
        why = "no NVIDIA driver found (no nvidia-smi, no /dev/nvidia0): no usable NVIDIA GPU here"
    elif not cuda_libraries_found:
        why = (
            f"an NVIDIA driver is present but TensorFlow ({build}) finds no CUDA libraries: "
            f"{INSTALL_CUDA} in this environment"
        )
    else:
        why = (
            f"driver and CUDA libraries are present but TensorFlow ({build}) sees no GPU: check "
            "that the driver supports that CUDA version (nvidia-smi) and rerun with "
            "TF_CPP_MIN_LOG_LEVEL=0 to see TensorFlow's own message"
        )
    if require_gpu:
        return Check("gpu", "fail", f"no GPU visible: {why}")
    return Check(
        "gpu",
        "warn",
        f"no GPU visible, training runs on the CPU (fine for smoke/quick; the paper profile "
        f"needs a GPU): {why}",
    )


def check_gpu_settings(settings: GpuSettings) -> Check:
    """The ``paper`` profile's recommended precision, prediction batch and XLA, with why."""
    precision = settings.mixed_precision or "float32"
    if settings.loss_scaling:
        precision += " with loss scaling"
    msg = (
        f"paper profile: {precision}, prediction batch {settings.predict_batch_size:,}, "
        f"XLA {'on' if settings.xla else 'off'} — {'; '.join(settings.reasons)}"
    )
    return Check("paper settings", "ok", msg)


def _existing_ancestor(path: Path) -> Path:
    p = path.resolve()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def check_cache(
    cache_dir: Path, *, needed_bytes: int, free_bytes: int, writable: bool, source: str
) -> Check:
    """The data cache location, whether it is writable, and room for the missing files."""
    gb = 1e9
    msg = (
        f"{cache_dir} ({source}); {free_bytes / gb:.1f} GB free, missing manifest files need "
        f"~{needed_bytes / gb:.1f} GB (+~3.2 GB if the genome is decompressed there)"
    )
    if not writable:
        return Check("data cache", "warn", f"{msg}; NOT writable: set {mf.DATA_ENV}")
    if free_bytes < needed_bytes:
        return Check("data cache", "warn", f"{msg}; not enough space: set {mf.DATA_ENV}")
    return Check("data cache", "ok", msg)


def check_manifest_files(table: pd.DataFrame) -> Check:
    """Summarise :func:`chromtransfer_lib.data.manifest.status`: present / missing / mismatching."""
    counts = table["state"].value_counts()
    n_present = int(counts.get("present", 0))
    missing = table.loc[table["state"] == "missing", "name"].tolist()
    bad = table.loc[table["state"] == "checksum mismatch", "name"].tolist()
    msg = f"{n_present} of {len(table)} manifest files present"
    if bad:
        msg += f"; checksum mismatch: {', '.join(bad)}"
    if missing:
        msg += f"; missing: {', '.join(missing)}"
    if not (bad or missing):
        return Check("manifest files", "ok", msg)
    return Check(
        "manifest files",
        "warn",
        f"{msg}. Run `chromtransfer fetch --all` (only the paper profile needs them)",
    )


def _tensorflow_facts() -> tuple[list[Check], dict[str, Any]]:
    try:
        import tensorflow as tf
    except Exception as err:  # ImportError, or a broken CUDA/ABI install
        return [Check("tensorflow", "fail", f"cannot import TensorFlow: {err}")], {}
    checks = [Check("tensorflow", "ok", f"TensorFlow {tf.__version__}")]
    try:
        import keras

        checks.append(Check("keras", "ok", f"Keras {keras.__version__}"))
    except Exception as err:
        checks.append(Check("keras", "fail", f"cannot import Keras: {err}"))
    try:
        libs = importlib.util.find_spec("nvidia.cudnn") is not None
    except ModuleNotFoundError:
        libs = False
    facts = {
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
        "built_with_cuda": bool(tf.test.is_built_with_cuda()),
        "build_info": dict(tf.sysconfig.get_build_info()),
        "driver_found": nvidia_driver_found(),
        "cuda_libraries_found": libs,
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
    }
    return checks, facts


def run_doctor(
    *,
    cache_dir: str | Path | None = None,
    manifest_dir: str | Path | None = None,
    require_gpu: bool = False,
    verify_checksums: bool = False,
) -> DoctorReport:
    """Run every check (imports TensorFlow; reads no file but the manifest and cache sizes).

    ``verify_checksums=True`` hashes every present file (minutes for the 1 GB genome);
    by default only existence and sizes are checked.
    """
    checks = [check_python(sys.version_info)]
    tf_checks, facts = _tensorflow_facts()
    checks += tf_checks
    settings = None
    if facts:
        checks.append(check_gpu(require_gpu=require_gpu, **facts))
        if all(c.status == "ok" for c in tf_checks):  # models.devices imports Keras
            from chromtransfer_lib.models import devices

            settings = devices.recommend_gpu_settings(
                devices.visible_gpus(), xla_available=devices.xla_supported()
            )
            checks.append(check_gpu_settings(settings))
    elif require_gpu:
        checks.append(Check("gpu", "fail", "TensorFlow does not import, so no GPU can be used"))
    cache = mf.resolve_cache_dir(cache_dir)
    if cache_dir is not None:
        source = "argument"
    elif os.environ.get(mf.DATA_ENV):
        source = f"${mf.DATA_ENV}"
    else:
        source = "default user cache"
    try:
        entries = mf.load_manifest(manifest_dir)
        table = mf.status(entries=entries, cache_dir=cache, verify=verify_checksums)
    except (mf.ManifestError, OSError) as err:
        checks.append(Check("manifest files", "fail", f"cannot read the manifest: {err}"))
        entries, table = [], None
    missing = set() if table is None else set(table.loc[table["state"] != "present", "name"])
    needed = sum(e.expected_bytes or 0 for e in entries if e.name in missing)
    anchor = _existing_ancestor(cache)
    checks.append(
        check_cache(
            cache,
            needed_bytes=needed,
            free_bytes=shutil.disk_usage(anchor).free,
            writable=os.access(anchor, os.W_OK),
            source=source,
        )
    )
    if table is not None:
        checks.append(check_manifest_files(table))
    mirror = mf.resolve_mirror()
    checks.append(
        Check(
            "mirror",
            "ok",
            f"${mf.MIRROR_ENV}={mirror}" if mirror else "none (downloads from the sources)",
        )
    )
    return DoctorReport(tuple(checks), settings)


def format_report(report: DoctorReport) -> str:
    """Plain-text rendering: one line per check, then a summary line."""
    width = max(len(c.name) for c in report.checks)
    lines = [f"[{c.status.upper():>4}] {c.name:<{width}}  {c.message}" for c in report.checks]
    n = {s: sum(c.status == s for c in report.checks) for s in ("ok", "warn", "fail")}
    verdict = "ready" if report.ok else "NOT ready"
    lines.append(f"{verdict}: {n['ok']} ok, {n['warn']} warning(s), {n['fail']} failure(s)")
    return "\n".join(lines)

"""Chapter results: the metrics each chapter computes, saved as JSON in the run directory.

Chapters write ``<run_dir>/metrics/<chapter>.json`` with :func:`save_metrics`; the reproduction
ledger and later chapters read them back with :func:`load_metrics`. Keys are flat, dotted
strings (``"finetune.HepG2.auroc"``) so any chapter can quote any result.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON via a temporary file and an atomic rename (no half-written files)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(_plain(data), fh, indent=2, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_metrics(run_dir: Path, chapter: str, metrics: dict[str, Any]) -> Path:
    """Save a chapter's flat ``{key: value}`` metrics to ``run_dir/metrics/<chapter>.json``."""
    path = Path(run_dir) / "metrics" / f"{chapter}.json"
    write_json_atomic(path, metrics)
    return path


def load_metrics(run_dir: Path) -> dict[str, Any]:
    """All chapters' metrics merged into one flat dict (later chapters win on clashes)."""
    merged: dict[str, Any] = {}
    folder = Path(run_dir) / "metrics"
    if folder.is_dir():
        for path in sorted(folder.glob("*.json")):
            merged.update(json.loads(path.read_text()))
    return merged

"""Chapter results: the metrics each chapter computes, saved as JSON in the run directory.

Chapters write ``<run_dir>/metrics/<chapter>.json`` with :func:`save_metrics`; the reproduction
ledger, the calibration runner and later chapters read them back with :func:`load_metrics`.
Keys are flat, dotted strings (``"finetune.HepG2.test.auroc"``) so any chapter can quote any
result, and each key has one owner: a key that two chapters' files both hold is refused, since
the reader could not tell which chapter's number it quotes (ARCHITECTURE.md, "book").
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from chromtransfer_lib.errors import InputError
from chromtransfer_lib.fileio import write_json_atomic


class MetricKeyClash(InputError, ValueError):
    """Two chapters' metrics files hold the same key."""


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


def save_metrics(run_dir: Path, chapter: str, metrics: dict[str, Any]) -> Path:
    """Save a chapter's flat ``{key: value}`` metrics to ``run_dir/metrics/<chapter>.json``.

    NaN and infinite values are written as ``null``; NumPy scalars as plain numbers.
    """
    path = Path(run_dir) / "metrics" / f"{chapter}.json"
    return write_json_atomic(path, _plain(metrics))


def load_metrics(run_dir: Path) -> dict[str, Any]:
    """All chapters' metrics merged into one flat dict.

    Raises
    ------
    MetricKeyClash
        If a key is in more than one chapter's file; the message names the key(s) and both
        files.
    """
    merged: dict[str, Any] = {}
    owner: dict[str, str] = {}
    clashes: list[str] = []
    folder = Path(run_dir) / "metrics"
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        for key, value in json.loads(path.read_text()).items():
            if key in owner:
                clashes.append(f"{key!r} ({owner[key]} and {path.name})")
                continue
            merged[key], owner[key] = value, path.name
    if clashes:
        raise MetricKeyClash(
            f"{folder}: metric key(s) written by two chapters: {'; '.join(clashes)}; each key "
            "must have one owner: rename the key in one chapter, or delete a stale file"
        )
    return merged

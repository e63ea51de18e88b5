"""The bootstrap grid (Table 1): independent, resumable runs on subsets of the training data.

Every run is a *unit* with its own folder; a unit is finished when its ``test_metrics.json``
exists, and :func:`chromtransfer_lib.models.train.train_model` resumes an interrupted one. So a
killed grid restarts where it stopped, and ``shard=(i, n)`` lets ``n`` processes (or a job
array) share a grid: shard ``i`` runs the units whose position in the fixed grid order is ``i``
modulo ``n``. Tables are assembled from whatever units have finished (:func:`collect_units`).

Bootstrap subsets (paper: HepG2 training data subsampled to 1–75 %, 10 repetitions): each
subset is drawn without replacement, stratified by class (the class ratio is kept, at least one
sequence per class), from the training rows and — because the paper subsampled all of the
non-test data — from the validation rows too (``subsample_validation``; profiles may keep the
whole validation fold instead, because early stopping on a few dozen sequences is noise). A
unit's subset and seed depend only on ``(random_state, fraction, repetition)``, so the
ChromTransfer and the from-scratch runs of a cell see the same sequences.

Cross-validation lives in :mod:`chromtransfer_lib.models.crossval`; its public names are
importable from here too (ARCHITECTURE.md, "models").
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from chromtransfer_lib.evaluate import summarise
from chromtransfer_lib.models.crossval import (
    BuildFn,
    CVResult,
    ModelSpec,
    cross_validate,
    fold_epochs,
    fold_partition,
    save_json,
    save_npy,
    score_binary,
    unit_seed,
)
from chromtransfer_lib.models.train import Recipe, TrainResult, train_model

__all__ = [
    "TABLE_METRICS", "BootstrapGrid", "BuildFn", "CVResult", "GridData", "ModelSpec", "Recipe",
    "Unit", "bootstrap_table", "collect_units", "cross_validate", "epoch_repeats",
    "fold_epochs", "fold_partition", "grid_units", "run_bootstrap", "shard_units",
    "stratified_subsample", "train_on_subset", "unit_seed",
]  # fmt: skip

#: Metrics summarised per fraction (mean and sd) in the bootstrap table.
TABLE_METRICS = ("f1_pos", "f1_neg", "f1_overall", "auroc", "auprc", "f1_overall_valthr")


@dataclass(frozen=True)
class Unit:
    """One cell of the bootstrap grid."""

    kind: str
    fraction: float
    repetition: int
    random_state: int

    def folder(self, root: Path) -> Path:
        """``root/<kind>/frac_<fraction>/rep_<repetition>``."""
        return root / self.kind / f"frac_{self.fraction:g}" / f"rep_{self.repetition:02d}"


def grid_units(
    kinds: Sequence[str],
    fractions: Sequence[float],
    repetitions: int,
    *,
    random_state: int,
    kind_fractions: Mapping[str, Sequence[float]] | None = None,
) -> list[Unit]:
    """All units in the fixed grid order (fraction, repetition, kind).

    ``kind_fractions`` limits a kind to some of the fractions (e.g. the from-scratch baseline
    only at 5 %); kinds not named there run at every fraction.
    """
    limits = {k: {float(f) for f in v} for k, v in (kind_fractions or {}).items()}
    return [
        Unit(kind, float(f), r, unit_seed(random_state, f, r))
        for f in fractions
        for r in range(repetitions)
        for kind in kinds
        if kind not in limits or float(f) in limits[kind]
    ]


def shard_units(units: Sequence[Unit], shard: tuple[int, int]) -> list[Unit]:
    """The units of shard ``i`` of ``n``: positions ``i, i + n, i + 2n, …``."""
    i, n = shard
    if not (n >= 1 and 0 <= i < n):
        raise ValueError(f"shard must be (i, n) with 0 <= i < n, got {shard}")
    return list(units[i::n])


def stratified_subsample(
    indices: np.ndarray, labels: np.ndarray, fraction: float, *, random_state: int
) -> np.ndarray:
    """A class-stratified subset of ``indices`` (sorted), ``round(fraction·n_c)`` per class ≥ 1.

    ``labels`` is aligned with the full code array (``labels[indices]`` are the rows' classes).
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must lie in (0, 1], got {fraction}")
    indices = np.asarray(indices)
    y = np.asarray(labels)[indices]
    rng = np.random.default_rng(random_state)
    keep = []
    for c in np.unique(y):
        members = indices[y == c]
        k = max(1, round(fraction * members.size))
        keep.append(rng.choice(members, size=k, replace=False))
    return np.sort(np.concatenate(keep))


def epoch_repeats(n_train: int, recipe: Recipe, *, min_steps: int) -> int:
    """How many times a subset of ``n_train`` rows is repeated within one epoch.

    With a fixed epoch limit, a 5 % subset gets 20× fewer optimiser steps than the full data —
    too few to learn anything at a fine-tuning learning rate, whereas the paper stopped each
    bootstrap run by patience alone. A small subset is therefore repeated (reshuffled) within
    an epoch until ``max_epochs`` epochs hold at least ``min_steps`` steps. Patience and the
    epoch limit stay as the recipe says, and the model is validated once per (longer) epoch —
    stretching the epoch count instead would validate hundreds of times on a 1 % subset.
    Returns 1 when the recipe already gives enough steps or ``min_steps`` is 0.
    """
    if n_train < 1:
        raise ValueError(f"a bootstrap subset needs at least one row, got {n_train}")
    if min_steps <= 0:
        return 1
    steps_per_epoch = -(-min_steps // recipe.max_epochs)
    return max(1, -(-(steps_per_epoch * recipe.batch_size) // n_train))


def train_on_subset(
    build: BuildFn,
    recipe: Recipe,
    *,
    codes: np.ndarray,
    labels: np.ndarray,
    rows: np.ndarray,
    val_rows: np.ndarray,
    out_dir: Path,
    random_state: int,
    min_steps: int,
    extra_config: Mapping[str, Any] | None = None,
) -> tuple[TrainResult, int]:
    """Train a fresh model (``build(random_state)``) on a subset, its ``rows`` repeated within
    each epoch as :func:`epoch_repeats` asks; returns the run and the repeat count (recorded
    in ``extra_config`` as ``epoch_repeats`` when one is given)."""
    repeats = epoch_repeats(int(rows.size), recipe, min_steps=min_steps)
    run = train_model(
        build(random_state),
        recipe,
        train=(codes, labels, np.tile(rows, repeats)),
        val=(codes, labels, val_rows),
        out_dir=out_dir,
        random_state=random_state,
        progress=False,
        extra_config=None if extra_config is None else {**extra_config, "epoch_repeats": repeats},
    )
    return run, repeats


class GridData(NamedTuple):
    """What a grid draws from: codes ``(n, L)`` uint8, 0/1 labels ``(n,)``, and the rows of the
    full training, validation and test sets."""

    codes: np.ndarray
    labels: np.ndarray
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


@dataclass(frozen=True)
class BootstrapGrid:
    """The grid: ``fractions`` × ``repetitions`` (paper: 1, 5, 10, 15, 20, 25, 50, 75 % × 10).

    ``random_state`` seeds every unit's subset and training; ``kind_fractions`` limits kinds to
    some fractions (:func:`grid_units`); ``min_steps`` trains every unit for at least this many
    optimiser steps (:func:`epoch_repeats`; 0 keeps the recipe); ``subsample_validation``
    subsamples the validation rows like the training rows (the paper's reading), or validates
    every unit on the whole validation fold.
    """

    fractions: tuple[float, ...]
    repetitions: int
    random_state: int
    kind_fractions: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    min_steps: int = 0
    subsample_validation: bool = True

    def units(self, kinds: Sequence[str]) -> list[Unit]:
        """Every unit of these kinds, in the fixed grid order."""
        return grid_units(
            kinds,
            self.fractions,
            self.repetitions,
            random_state=self.random_state,
            kind_fractions=self.kind_fractions,
        )

    def subsets(self, unit: Unit, data: GridData) -> tuple[np.ndarray, np.ndarray]:
        """A unit's training and validation rows."""
        seed = unit.random_state
        tr = stratified_subsample(data.train, data.labels, unit.fraction, random_state=seed)
        if not self.subsample_validation:
            return tr, np.asarray(data.val)
        va = stratified_subsample(data.val, data.labels, unit.fraction, random_state=seed + 1)
        return tr, va


def run_bootstrap(
    models: Mapping[str, ModelSpec],
    grid: BootstrapGrid,
    data: GridData,
    *,
    out_dir: str | Path,
    shard: tuple[int, int] = (0, 1),
    predict_batch_size: int = 512,
    progress: bool = True,
) -> pd.DataFrame:
    """Run (or resume) this shard's units of the fractions × repetitions × kinds grid.

    Parameters
    ----------
    models
        ``kind → ModelSpec`` (builder and recipe), e.g. ``{"finetune": ..., "scratch": ...}``;
        the grid order runs the kinds in this order within a cell.
    grid
        The fractions, repetitions, seed and options (:class:`BootstrapGrid`).
    data
        Codes, labels and the full training, validation and test rows (:class:`GridData`).
    out_dir
        Root folder of the grid (unit folders: :meth:`Unit.folder`).
    shard
        ``(i, n)``: run only units ``i, i+n, …`` of the grid order.

    Returns
    -------
    pandas.DataFrame
        One row per unit of this shard (see :func:`collect_units`).
    """
    root = Path(out_dir)
    units = shard_units(grid.units(list(models)), shard)
    from chromtransfer_lib.progress import progress_bar

    rows = []
    desc = f"bootstrap shard {shard[0]}/{shard[1]}"
    for unit in progress_bar(units, enabled=progress, desc=desc, unit="run"):
        done = unit.folder(root) / "test_metrics.json"
        if done.is_file():
            rows.append(json.loads(done.read_text()))
        else:
            rows.append(_run_unit(unit, models[unit.kind], grid, data, root, predict_batch_size))
    return pd.DataFrame(rows)


def _run_unit(
    unit: Unit, spec: ModelSpec, grid: BootstrapGrid, data: GridData, root: Path, batch_size: int
) -> dict[str, Any]:
    """Train and score one unit; write its ``test_proba.npy`` and (last) ``test_metrics.json``."""
    folder = unit.folder(root)
    tr, va = grid.subsets(unit, data)
    run, repeats = train_on_subset(
        spec.build, spec.recipe, codes=data.codes, labels=data.labels, rows=tr, val_rows=va,
        out_dir=folder, random_state=unit.random_state, min_steps=grid.min_steps,
        extra_config={"kind": unit.kind, "fraction": unit.fraction, "repetition": unit.repetition},
    )  # fmt: skip
    metrics, p_test = score_binary(run, data.codes, data.labels, val_rows=va, test_rows=data.test,
                                   batch_size=batch_size)  # fmt: skip
    save_npy(folder / "test_proba.npy", p_test.astype(np.float32))
    row = {
        "kind": unit.kind,
        "fraction": unit.fraction,
        "repetition": unit.repetition,
        "n_train": int(tr.size),
        "n_val": int(va.size),
        "epoch_repeats": repeats,
        **metrics,
    }
    save_json(folder / "test_metrics.json", row)
    return row


def collect_units(out_dir: str | Path) -> pd.DataFrame:
    """Every finished unit under a grid folder, one row each (empty frame if none)."""
    paths = sorted(Path(out_dir).glob("*/frac_*/rep_*/test_metrics.json"))
    rows = [json.loads(p.read_text()) for p in paths]
    df = pd.DataFrame(rows)
    if not df.empty:
        df = df.sort_values(["kind", "fraction", "repetition"], ignore_index=True)
    return df


def bootstrap_table(units: pd.DataFrame, *, metrics: Sequence[str] = TABLE_METRICS) -> pd.DataFrame:
    """Table 1: mean and sd of each metric per kind and fraction, with the run count."""
    return summarise(units, by=("kind", "fraction"), metrics=metrics)

"""Grids of independent, resumable training runs: cross-validation and the bootstrap (Table 1).

Every run is a *unit* with its own folder; a unit is finished when its ``test_metrics.json``
exists, and :func:`chromtransfer_lib.models.train.train_model` resumes an interrupted one. So a killed
grid restarts where it stopped, and ``shard=(i, n)`` lets ``n`` processes (or a job array) share
a grid: shard ``i`` runs the units whose position in the fixed grid order is ``i`` modulo ``n``.
Tables are assembled from whatever units have finished (:func:`collect_units`).

Bootstrap subsets (paper: HepG2 training data subsampled to 1–75 %, 10 repetitions): each
subset is drawn without replacement, stratified by class (the class ratio is kept, at least one
sequence per class), from the training rows and — because the paper subsampled all of the
non-test data — from the validation rows too (``subsample_validation``; profiles may keep the
whole validation fold instead, because early stopping on a few dozen sequences is noise). A
unit's subset and seed depend only on ``(random_state, fraction, repetition)``, so the
ChromTransfer and the from-scratch runs of a cell see the same sequences.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import keras
import numpy as np
import pandas as pd

from chromtransfer_lib.data.pipeline import Predictor, predict_proba
from chromtransfer_lib.evaluate import binary_metrics, choose_threshold, summarise
from chromtransfer_lib.models.train import TrainResult, train_model

log = logging.getLogger(__name__)

#: Metrics summarised per fraction (mean and sd) in the bootstrap table.
TABLE_METRICS = ("f1_pos", "f1_neg", "f1_overall", "auroc", "auprc", "f1_overall_valthr")


class Recipe(NamedTuple):
    """One training recipe (a profile's ``TrainConfig`` minus folds and precision)."""

    learning_rate: float
    batch_size: int
    max_epochs: int
    patience: int
    monitor: str = "val_loss"


#: Builds a fresh model from a seed (e.g. ``lambda s: build_chromtransfer_model(pre, ...)``).
BuildFn = Callable[[int], keras.Model]


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


def unit_seed(random_state: int, fraction: float, repetition: int) -> int:
    """Seed of a grid cell; independent of the other fractions in the grid."""
    key = [int(random_state), round(fraction * 1_000_000), int(repetition)]
    return int(np.random.SeedSequence(key).generate_state(1)[0] % 2**31)


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


def _write_json(path: Path, obj: dict[str, Any]) -> None:
    # One temporary name per process: worker processes may write the same file at once.
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, indent=2))
    os.replace(tmp, path)


def _write_npy(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npy")
    np.save(tmp, array)
    os.replace(tmp, path)


def _cached_score(folder: Path, run: TrainResult, n_test: int) -> tuple[dict, np.ndarray] | None:
    """A reused run's stored test metrics and probabilities (None if any is missing or stale)."""
    metrics_path, proba_path = folder / "test_metrics.json", folder / "test_proba.npy"
    if not (run.reused and metrics_path.is_file() and proba_path.is_file()):
        return None
    if proba_path.stat().st_mtime_ns < (folder / "model.keras").stat().st_mtime_ns:
        return None
    p_test = np.load(proba_path)
    if p_test.shape[0] != n_test:
        return None
    metrics = json.loads(metrics_path.read_text())
    metrics.pop("fold", None)
    return metrics, p_test


def _score(
    run: TrainResult,
    codes: np.ndarray,
    labels: np.ndarray,
    val_rows: np.ndarray,
    test_rows: np.ndarray,
    batch_size: int,
) -> tuple[dict[str, Any], np.ndarray]:
    """Test metrics at 0.5 and at the validation-chosen threshold."""
    predictor = Predictor(run.model)
    p_val = predict_proba(predictor, codes, indices=val_rows, batch_size=batch_size)
    p_test = predict_proba(predictor, codes, indices=test_rows, batch_size=batch_size)
    y_test = np.asarray(labels)[test_rows]
    metrics = binary_metrics(y_test, p_test)
    choice = choose_threshold(np.asarray(labels)[val_rows], p_val)
    at_val = binary_metrics(y_test, p_test, threshold=choice.threshold)
    metrics.update({f"{k}_valthr": at_val[k] for k in ("f1_pos", "f1_neg", "f1_overall")})
    metrics["threshold_valthr"] = choice.threshold
    metrics.update(best_epoch=run.best_epoch, epochs_run=run.metrics.get("epochs_run"))
    return metrics, p_test


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
        train=(codes, labels, np.tile(rows, repeats)),
        val=(codes, labels, val_rows),
        out_dir=out_dir,
        random_state=random_state,
        progress=False,
        extra_config=None if extra_config is None else {**extra_config, "epoch_repeats": repeats},
        **recipe._asdict(),
    )
    return run, repeats


def run_bootstrap(
    builders: Mapping[str, BuildFn],
    recipes: Mapping[str, Recipe],
    *,
    codes: np.ndarray,
    labels: np.ndarray,
    train_indices: np.ndarray,
    val_indices: np.ndarray,
    test_indices: np.ndarray,
    fractions: Sequence[float],
    repetitions: int,
    out_dir: str | Path,
    random_state: int,
    shard: tuple[int, int] = (0, 1),
    subsample_validation: bool = True,
    min_steps: int = 0,
    kind_fractions: Mapping[str, Sequence[float]] | None = None,
    predict_batch_size: int = 512,
    progress: bool = True,
) -> pd.DataFrame:
    """Run (or resume) this shard's units of the fractions × repetitions × kinds grid.

    Parameters
    ----------
    builders
        ``kind → BuildFn``, e.g. ``{"chromtransfer": ..., "scratch": ...}``.
    recipes
        ``kind → Recipe`` (learning rate, batch size, epochs, patience).
    codes, labels
        uint8 ``(n, L)`` codes (memmap) and 0/1 labels ``(n,)``.
    train_indices, val_indices, test_indices
        Rows of the full training, validation and test sets.
    fractions, repetitions
        The grid (paper: 1, 5, 10, 15, 20, 25, 50, 75 % × 10).
    out_dir
        Root folder of the grid.
    random_state
        Seeds every unit's subset and training.
    shard
        ``(i, n)``: run only units ``i, i+n, …`` of the grid order.
    min_steps
        Train every unit for at least this many optimiser steps (see :func:`epoch_repeats`);
        0 keeps the recipe as it is.
    kind_fractions
        Limit kinds to some fractions (see :func:`grid_units`).
    subsample_validation
        Subsample the validation rows like the training rows (the paper's reading), or
        validate every unit on the whole validation fold.

    Returns
    -------
    pandas.DataFrame
        One row per unit of this shard (see :func:`collect_units`).
    """
    root = Path(out_dir)
    missing = sorted(set(builders) - set(recipes))
    if missing:
        raise ValueError(f"no training recipe for kind(s) {missing}")
    units = shard_units(
        grid_units(
            list(builders),
            fractions,
            repetitions,
            random_state=random_state,
            kind_fractions=kind_fractions,
        ),
        shard,
    )
    iterator = units
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(units, desc=f"bootstrap shard {shard[0]}/{shard[1]}", unit="run")
    rows = []
    for unit in iterator:
        folder = unit.folder(root)
        done = folder / "test_metrics.json"
        if done.is_file():
            rows.append(json.loads(done.read_text()))
            continue
        tr = stratified_subsample(
            train_indices, labels, unit.fraction, random_state=unit.random_state
        )
        va = (
            stratified_subsample(
                val_indices, labels, unit.fraction, random_state=unit.random_state + 1
            )
            if subsample_validation
            else np.asarray(val_indices)
        )
        run, repeats = train_on_subset(
            builders[unit.kind],
            recipes[unit.kind],
            codes=codes,
            labels=labels,
            rows=tr,
            val_rows=va,
            out_dir=folder,
            random_state=unit.random_state,
            min_steps=min_steps,
            extra_config={
                "kind": unit.kind,
                "fraction": unit.fraction,
                "repetition": unit.repetition,
            },
        )
        metrics, p_test = _score(run, codes, labels, va, test_indices, predict_batch_size)
        _write_npy(folder / "test_proba.npy", p_test.astype(np.float32))
        row = {
            "kind": unit.kind,
            "fraction": unit.fraction,
            "repetition": unit.repetition,
            "n_train": int(tr.size),
            "n_val": int(va.size),
            "epoch_repeats": repeats,
            **metrics,
        }
        _write_json(done, row)
        rows.append(row)
    return pd.DataFrame(rows)


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


@dataclass
class CVResult:
    """Cross-validation: per-fold runs and test metrics, their summary and the fold ensemble."""

    runs: list[TrainResult]
    per_fold: pd.DataFrame
    summary: pd.DataFrame
    ensemble: dict[str, Any]
    test_proba: np.ndarray
    histories: pd.DataFrame


def cross_validate(
    build: BuildFn,
    recipe: Recipe,
    *,
    codes: np.ndarray,
    labels: np.ndarray,
    folds: np.ndarray,
    out_dir: str | Path,
    random_state: int,
    fold_ids: Sequence[int] = (0, 1, 2),
    predict_batch_size: int = 512,
    progress: bool = True,
) -> CVResult:
    """Train one model per fold and score each, and their average, on the test rows.

    Parameters
    ----------
    build
        Fresh model from a seed; each fold gets its own seed.
    folds
        ``(n,)`` fold of every row: ``0..k-1`` for training chromosomes, ``-1`` for the test
        chromosomes (chr2, chr3). Fold ``k``'s run validates on ``folds == k`` and trains on the
        other non-negative folds.
    fold_ids
        Folds to run (profiles may run fewer than all).
    """
    folds = np.asarray(folds)
    test_rows = np.flatnonzero(folds == -1)
    if test_rows.size == 0:
        raise ValueError("no test rows (fold == -1): the test chromosomes are missing")
    root = Path(out_dir)
    runs, rows, probas, hists = [], [], [], []
    for k in fold_ids:
        va = np.flatnonzero(folds == k)
        tr = np.flatnonzero((folds >= 0) & (folds != k))
        if va.size == 0:
            raise ValueError(f"fold {k} has no rows; folds present: {sorted(set(folds) - {-1})}")
        seed = unit_seed(random_state, 1.0, k)
        folder = root / f"fold_{k}"
        run = train_model(
            build(seed),
            train=(codes, labels, tr),
            val=(codes, labels, va),
            out_dir=folder,
            random_state=seed,
            progress=progress,
            extra_config={"fold": int(k)},
            **recipe._asdict(),
        )
        cached = _cached_score(folder, run, test_rows.size)
        if cached is None:
            metrics, p_test = _score(run, codes, labels, va, test_rows, predict_batch_size)
            _write_npy(folder / "test_proba.npy", p_test.astype(np.float32))
            _write_json(folder / "test_metrics.json", {"fold": int(k), **metrics})
        else:  # a finished run scored before: no need to predict the test set again
            metrics, p_test = cached
        runs.append(run)
        rows.append({"fold": int(k), **metrics})
        probas.append(p_test)
        hists.append(run.history.assign(fold=int(k)))
    per_fold = pd.DataFrame(rows)
    metric_cols = [c for c in per_fold.columns if c not in ("fold", "n", "n_pos")]
    summary = summarise(per_fold.assign(all="all"), by=("all",), metrics=metric_cols)
    p_mean = np.mean(probas, axis=0)
    ensemble = binary_metrics(np.asarray(labels)[test_rows], p_mean)
    return CVResult(
        runs,
        per_fold,
        summary.drop(columns="all"),
        ensemble,
        np.stack(probas, axis=1),
        pd.concat(hists, ignore_index=True),
    )

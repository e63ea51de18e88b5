"""Cross-validation by chromosome folds: one resumable run per fold, test scores, the ensemble.

Rows carry a fold: ``0..k-1`` for the training chromosomes, ``-1`` for the test chromosomes
(chr2, chr3). Fold ``k``'s run validates on ``folds == k`` and trains on the other non-negative
folds (:func:`fold_partition`); every fold's model is scored on the same test rows, at 0.5 and
at the threshold chosen on its validation fold, and the folds' mean prediction is the ensemble
the book reports (ARCHITECTURE.md, "models"). A fold is finished when its ``test_metrics.json``
exists; a finished fold is loaded, not trained or scored again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import keras
import numpy as np
import pandas as pd

from chromtransfer_lib.data.pipeline import Predictor, predict_proba
from chromtransfer_lib.evaluate import binary_metrics, choose_threshold, summarise
from chromtransfer_lib.fileio import atomic_path, write_text_atomic
from chromtransfer_lib.models.train import Recipe, TrainResult, train_model

#: Builds a fresh model from a seed (e.g. ``lambda s: build_chromtransfer_model(pre, ...)``).
BuildFn = Callable[[int], keras.Model]


class ModelSpec(NamedTuple):
    """A kind of model: how to build a fresh one from a seed, and how to train it."""

    build: BuildFn
    recipe: Recipe


def unit_seed(random_state: int, fraction: float, repetition: int) -> int:
    """Seed of a grid cell (a CV fold is the cell ``(1.0, fold)``); independent of the others."""
    key = [int(random_state), round(fraction * 1_000_000), int(repetition)]
    return int(np.random.SeedSequence(key).generate_state(1)[0] % 2**31)


def fold_partition(folds: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(train rows, validation rows)`` of fold ``k``: validate on ``folds == k``, train on the
    other non-negative folds. Raises ValueError if fold ``k`` has no rows."""
    folds = np.asarray(folds)
    va = np.flatnonzero(folds == k)
    if va.size == 0:
        raise ValueError(f"fold {k} has no rows; folds present: {sorted(set(folds) - {-1})}")
    return np.flatnonzero((folds >= 0) & (folds != k)), va


def save_json(path: Path, obj: dict[str, Any]) -> None:
    """Write a unit's JSON file atomically (keys in the order given, as the grids always did)."""
    write_text_atomic(path, json.dumps(obj, indent=2))


def save_npy(path: Path, array: np.ndarray) -> None:
    """Write an array atomically."""
    with atomic_path(path) as tmp:
        np.save(tmp, array)


def score_binary(
    run: TrainResult,
    codes: np.ndarray,
    labels: np.ndarray,
    *,
    val_rows: np.ndarray,
    test_rows: np.ndarray,
    batch_size: int = 512,
    return_validation: bool = False,
) -> tuple:
    """Test metrics of a binary run at 0.5 and at the validation-chosen threshold, and its
    test probabilities ``(n_test,)`` (and, with ``return_validation``, its validation
    probabilities); both strands averaged for a run trained with reverse-complement
    augmentation."""
    predictor = Predictor(run.model, reverse_complement="reverse_complement" in run.config)
    p_val = predict_proba(predictor, codes, indices=val_rows, batch_size=batch_size)
    p_test = predict_proba(predictor, codes, indices=test_rows, batch_size=batch_size)
    y_test = np.asarray(labels)[test_rows]
    metrics = binary_metrics(y_test, p_test)
    choice = choose_threshold(np.asarray(labels)[val_rows], p_val)
    at_val = binary_metrics(y_test, p_test, threshold=choice.threshold)
    metrics.update({f"{k}_valthr": at_val[k] for k in ("f1_pos", "f1_neg", "f1_overall")})
    metrics["threshold_valthr"] = choice.threshold
    metrics.update(best_epoch=run.best_epoch, epochs_run=run.metrics.get("epochs_run"))
    return (metrics, p_test, p_val) if return_validation else (metrics, p_test)


def stored_validation_proba(run: TrainResult, rows: np.ndarray) -> np.ndarray | None:
    """A cross-validated run's validation probabilities on ``rows`` as scored after training
    (``val_proba.npy``: the rows and their probabilities), or None when there is none, it is
    older than the model, or it holds other rows. Spares a chapter loading the model and
    predicting again (:func:`chromtransfer_lib.book.report.out_of_fold`)."""
    path, model_path = run.out_dir / "val_proba.npy", run.out_dir / "model.keras"
    if not (path.is_file() and model_path.is_file()):
        return None
    if path.stat().st_mtime_ns < model_path.stat().st_mtime_ns:
        return None
    stored = np.load(path)
    rows = np.asarray(rows)
    if stored.shape != (2, rows.size) or not np.array_equal(stored[0], rows):
        return None
    return stored[1].astype(np.float32)


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


@dataclass
class CVResult:
    """Cross-validation: per-fold runs and test metrics, their summary and the fold ensemble."""

    runs: list[TrainResult]
    per_fold: pd.DataFrame
    summary: pd.DataFrame
    ensemble: dict[str, Any]
    test_proba: np.ndarray
    histories: pd.DataFrame

    def fold_epochs(self) -> pd.DataFrame:
        """Each fold's kept epoch and generalisation gap (:func:`fold_epochs`)."""
        return fold_epochs(self.runs)


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
    """Train one binary model per fold and score each, and their average, on the test rows.

    Parameters
    ----------
    build
        Fresh model from a seed; fold ``k`` gets the seed ``unit_seed(random_state, 1.0, k)``.
    recipe
        How every fold trains.
    codes, labels
        uint8 ``(n, L)`` codes (memmap) and 0/1 labels ``(n,)``.
    folds
        ``(n,)`` fold of every row (see :func:`fold_partition`); ``-1`` marks test rows.
    out_dir
        Root folder; fold ``k`` lives in ``out_dir/fold_<k>``.
    fold_ids
        Folds to run (profiles may run fewer than all).
    """
    folds = np.asarray(folds)
    test_rows = np.flatnonzero(folds == -1)
    if test_rows.size == 0:
        raise ValueError("no test rows (fold == -1): the test chromosomes are missing")
    runs, rows, probas = [], [], []
    for k in fold_ids:
        tr, va = fold_partition(folds, k)
        seed = unit_seed(random_state, 1.0, k)
        folder = Path(out_dir) / f"fold_{k}"
        run = train_model(build(seed), recipe, train=(codes, labels, tr), val=(codes, labels, va),
                          out_dir=folder, random_state=seed, progress=progress,
                          extra_config={"fold": int(k)})  # fmt: skip
        cached = _cached_score(folder, run, test_rows.size)
        if cached is None:
            metrics, p_test, p_val = score_binary(
                run, codes, labels, val_rows=va, test_rows=test_rows,
                batch_size=predict_batch_size, return_validation=True,
            )  # fmt: skip
            save_npy(folder / "val_proba.npy", np.stack([va, p_val]).astype(np.float64))
            save_npy(folder / "test_proba.npy", p_test.astype(np.float32))
            save_json(folder / "test_metrics.json", {"fold": int(k), **metrics})
        else:  # a finished run scored before: no need to predict the test set again
            metrics, p_test = cached
        runs.append(run)
        rows.append({"fold": int(k), **metrics})
        probas.append(p_test)
    return _cv_result(runs, pd.DataFrame(rows), probas, np.asarray(labels)[test_rows])


def _cv_result(
    runs: list[TrainResult], per_fold: pd.DataFrame, probas: list[np.ndarray], y_test: np.ndarray
) -> CVResult:
    metric_cols = [c for c in per_fold.columns if c not in ("fold", "n", "n_pos")]
    summary = summarise(per_fold.assign(all="all"), by=("all",), metrics=metric_cols)
    hists = [r.history.assign(fold=int(f)) for r, f in zip(runs, per_fold["fold"], strict=True)]
    return CVResult(
        runs,
        per_fold,
        summary.drop(columns="all"),
        binary_metrics(y_test, np.mean(probas, axis=0)),
        np.stack(probas, axis=1),
        pd.concat(hists, ignore_index=True),
    )


#: Columns of :func:`fold_epochs`.
FOLD_EPOCH_COLUMNS = ("fold", "best_epoch", "epochs_run", "stopped_early", "train_loss",
                      "val_loss", "gap")  # fmt: skip


def fold_epochs(runs: Sequence[TrainResult]) -> pd.DataFrame:
    """One row per fold's run: the epoch early stopping kept, how long it trained, and the
    training and validation loss at the kept epoch with their difference (``gap`` = validation
    minus training loss: how much the kept model over-fits).

    Works for any runs trained with ``extra_config={"fold": k, ...}`` (the CV folds, the
    multiclass folds). A run whose monitor was never finite has ``best_epoch`` 0 and NaN losses.
    """
    rows = []
    for run in runs:
        h = run.history
        kept = h.loc[h["epoch"] == run.best_epoch]
        train_loss = float(kept["loss"].iloc[0]) if len(kept) else np.nan
        val_loss = float(kept["val_loss"].iloc[0]) if len(kept) else np.nan
        rows.append({
            "fold": int(run.config.get("extra", {}).get("fold", -1)),
            "best_epoch": int(run.best_epoch),
            "epochs_run": int(run.metrics.get("epochs_run", len(h))),
            "stopped_early": bool(run.metrics.get("stopped_early", False)),
            "train_loss": train_loss,
            "val_loss": val_loss,
            "gap": val_loss - train_loss,
        })  # fmt: skip
    return pd.DataFrame(rows, columns=list(FOLD_EPOCH_COLUMNS))

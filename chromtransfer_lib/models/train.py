"""Training runs: the paper's recipes, early stopping, atomic checkpoints and resume.

One call of :func:`train_model` is one *run* with its own output folder::

    out_dir/
      config.json      the resolved run configuration (written first)
      history.csv      one row per finished epoch (learning curves), rewritten every epoch
      model.keras      the best model by the recipe's monitor, native Keras format (atomic)
      metrics.json     best epoch, losses, timing; written last: its presence means "finished"
      backup/          per-epoch weights + optimiser state + early-stopping state (resume)

A run that finds ``metrics.json`` returns the saved model without training again, and a run
that finds ``backup/`` continues after the last finished epoch; that is what makes the CV and
bootstrap grids resumable. Resume is exact on CPU: each epoch's batch order is a pure function
of ``(random_state, epoch)`` and every dropout layer is re-seeded at the start of each epoch, so
an interrupted run reaches the same weights as an uninterrupted one.

Recipes (paper Methods; ARCHITECTURE.md, "models"): pre-training Adam 1e-3, batch 256,
patience 15; ChromTransfer fine-tuning lr 5e-6, batch 128, patience 10; binary baseline lr
1e-3, batch 128, patience 10; all on binary cross-entropy with early stopping (on validation
loss: the paper names no monitor, and that is Keras' default) and the best weights restored.
Profiles give these as a :class:`~chromtransfer_lib.config.TrainConfig`
(:meth:`Recipe.from_config`), and may stop binary models on validation AUROC instead.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from chromtransfer_lib.config import MONITORS, TrainConfig
from chromtransfer_lib.data.pipeline import make_dataset
from chromtransfer_lib.errors import InputError
from chromtransfer_lib.fileio import atomic_path, write_text_atomic
from chromtransfer_lib.models import shells
from chromtransfer_lib.models.batchnorm import refresh_batchnorm
from chromtransfer_lib.models.checkpoints import (
    early_stopping_update,
    end_epoch,
    load_state,
    reseed_dropout,
)
from chromtransfer_lib.models.devices import (
    default_mixed_precision,
    distribution_scope,
    set_seed,
)
from chromtransfer_lib.models.multiworker import (
    BINARY_LOSS,
    evaluate,
    fit_epoch,
    is_multiworker,
    metric_objects,
)
from chromtransfer_lib.models.network import load_model

__all__ = [
    "BINARY_LOSS", "SOFTMAX_LOSS", "Recipe", "RunConfigMismatch", "Split", "TrainResult",
    "default_mixed_precision", "distribution_scope", "early_stopping_update", "set_seed",
    "train_model",
]  # fmt: skip

log = logging.getLogger(__name__)

#: The two losses: sigmoid (binary) models and sparse softmax (multiclass) models.
SOFTMAX_LOSS = "sparse_categorical_crossentropy"


class Recipe(NamedTuple):
    """One training recipe: Adam's learning rate, batch size, epoch limit and early stopping.

    A profile's :class:`~chromtransfer_lib.config.TrainConfig` minus folds and precision.
    ``monitor`` is what early stopping watches: ``"val_loss"`` (lower is better; Keras'
    default, and so presumably the paper's, which names none) or ``"val_auroc"`` (higher is
    better; binary models only). ``batchnorm_refresh`` > 0 re-estimates the BatchNorm
    statistics on that many training rows after every epoch (:func:`.batchnorm.refresh_batchnorm`).
    ``reverse_complement`` trains on a seeded half of each epoch's rows as their reverse
    complement (:func:`chromtransfer_lib.data.pipeline.make_dataset`; the paper is silent on
    strands, so it is off in every profile and an option of the own-data commands).
    ``eager`` runs Keras' train and evaluate steps eagerly instead of tracing them into a graph
    (``TrainConfig.eager``): the same arithmetic without the graph tracing (a smoke-size
    model, 6 batches, trained in 22 s instead of 30 s on a loaded 2-core CPU), at a higher cost
    per batch, so it pays only for models that train for a handful of batches (no packaged
    profile sets it); graph-level rewrites can change the last bits.
    """

    learning_rate: float
    batch_size: int
    max_epochs: int
    patience: int
    monitor: str = "val_loss"
    batchnorm_refresh: int = 0
    reverse_complement: bool = False
    eager: bool = False

    @classmethod
    def from_config(cls, tc: TrainConfig) -> Recipe:
        """The recipe of a profile section (``profile.finetune`` and so on)."""
        return cls(tc.learning_rate, tc.batch_size, tc.max_epochs, tc.patience, tc.monitor,
                   tc.batchnorm_refresh, eager=tc.eager)  # fmt: skip

    def check(self, loss: str) -> None:
        """Raise ValueError if ``monitor`` is unknown, or ``"val_auroc"`` for a softmax model."""
        if self.monitor not in MONITORS:
            raise ValueError(f"monitor must be one of {', '.join(MONITORS)}, got {self.monitor!r}")
        if self.monitor == "val_auroc" and loss != BINARY_LOSS:
            raise ValueError("monitor 'val_auroc' needs a binary model (binary_crossentropy loss)")


class Split(NamedTuple):
    """Rows of a code array used for one purpose; ``indices=None`` means every row."""

    codes: np.ndarray
    labels: np.ndarray
    indices: np.ndarray | None = None

    def rows(self) -> np.ndarray:
        """The row indices (all rows when ``indices`` is None)."""
        return np.arange(len(self.labels)) if self.indices is None else np.asarray(self.indices)


@dataclass
class TrainResult:
    """A finished run: the best model, its learning curve and where it lives.

    A reused run's ``model`` is loaded from ``model.keras`` when first read: a chapter that
    only needs the run's history and cached test scores (most do) never pays the ~0.5 s of
    rebuilding and loading each of its models.
    """

    model: keras.Model | None
    history: pd.DataFrame
    out_dir: Path
    best_epoch: int
    metrics: dict[str, Any]
    resumed_from_epoch: int = 0
    reused: bool = False
    config: dict[str, Any] = field(default_factory=dict)
    loader: Callable[[], keras.Model] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.model is None:
            if self.loader is None:
                raise ValueError("TrainResult needs a model or a loader")
            del self.model  # read through __getattr__ until first loaded

    def __getattr__(self, name: str) -> Any:
        # Only called for attributes not found normally: here, a lazy model not loaded yet.
        if name == "model" and self.__dict__.get("loader") is not None:
            self.model = self.loader()
            return self.model
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def model_path(self) -> Path:
        """The saved ``model.keras``."""
        return self.out_dir / "model.keras"


class RunConfigMismatch(InputError, ValueError):
    """An output folder holds a run with a different configuration."""


def train_model(
    model: keras.Model,
    recipe: Recipe | TrainConfig,
    *,
    train: Split | tuple,
    val: Split | tuple,
    out_dir: str | Path,
    random_state: int,
    loss: str = BINARY_LOSS,
    extra_config: dict[str, Any] | None = None,
    progress: bool = True,
    stop_after_epochs: int | None = None,
) -> TrainResult:
    """Train ``model`` with Adam and early stopping; resumable; returns the best model.

    Parameters
    ----------
    model
        A freshly built (uncompiled) model from :mod:`chromtransfer_lib.models.network`. If
        ``out_dir`` holds a finished run, it is ignored and the saved model returned.
    recipe
        A :class:`Recipe` (or a profile's ``TrainConfig``); early stopping restores the weights
        of the best epoch by ``recipe.monitor``.
    train, val
        :class:`Split` or ``(codes, labels[, indices])``: uint8 codes ``(n, L)`` (memmap
        welcome), labels ``(n,)`` (0/1, or class ids for a softmax), optional row indices.
    out_dir
        The run's folder (created).
    random_state
        Seeds batch order and dropout (weight init is seeded by the model builder).
    loss
        :data:`BINARY_LOSS` or :data:`SOFTMAX_LOSS`.
    extra_config
        JSON-serialisable facts recorded in ``config.json`` (e.g. profile, cell line, fold);
        part of the run's identity.
    progress
        Show a per-epoch progress bar over batches (on a terminal or in Jupyter).
    stop_after_epochs
        Stop (without finishing the run) after this many epochs of this call: simulates an
        interruption in tests; the backup lets a later call continue.

    Raises
    ------
    ValueError
        If ``recipe.monitor`` is unknown, or ``"val_auroc"`` for a softmax model.
    RunConfigMismatch
        If ``out_dir`` holds a run (finished or not) with a different configuration.
    """
    recipe = recipe if isinstance(recipe, Recipe) else Recipe.from_config(recipe)
    recipe.check(loss)
    run = _Run(model, recipe, Split(*train), Split(*val), Path(out_dir), int(random_state), loss)
    run.config = _run_config(run, extra_config)
    run.out_dir.mkdir(parents=True, exist_ok=True)
    _check_config(run.out_dir, run.config)
    finished = _load_finished(run)
    if finished is not None:
        return finished
    return _fit(run, progress=progress, stop_after_epochs=stop_after_epochs)


@dataclass
class _Run:
    """What one call of :func:`train_model` works on."""

    model: keras.Model
    recipe: Recipe
    train: Split
    val: Split
    out_dir: Path
    random_state: int
    loss: str
    config: dict[str, Any] = field(default_factory=dict)
    fresh: keras.Model | None = None
    """The caller's model while ``model`` is a shell (:mod:`.shells`); None otherwise."""

    @property
    def backup(self) -> Path:
        return self.out_dir / "backup"

    @property
    def label_dtype(self) -> str:
        return "float32" if self.loss == BINARY_LOSS else "int32"


def _digest(data: bytes) -> str:
    # Run identities (data fingerprint, architecture) hash raw bytes, not JSON: these two
    # digests are part of every recorded run's config.json, so they stay as they were.
    return hashlib.sha256(data).hexdigest()[:16]


def _run_config(run: _Run, extra: dict[str, Any] | None) -> dict[str, Any]:
    """The run's identity: recipe, data fingerprint (rows + labels) and architecture."""
    model, r, tr, va = run.model, run.recipe, run.train.rows(), run.val.rows()
    arrays = (tr, np.asarray(run.train.labels)[tr], va, np.asarray(run.val.labels)[va])
    config = {
        "learning_rate": float(r.learning_rate), "batch_size": int(r.batch_size),
        "max_epochs": int(r.max_epochs), "patience": int(r.patience),
        "random_state": run.random_state, "loss": run.loss, "optimizer": "adam",
        "early_stopping": f"{r.monitor}, best weights restored",
        "n_train": len(tr), "n_val": len(va), "seq_len": int(run.train.codes.shape[1]),
        "data_fingerprint": _digest(b"".join(np.ascontiguousarray(a).tobytes() for a in arrays)),
        "model_name": model.name, "n_params": int(model.count_params()),
        "n_trainable_params": int(sum(int(np.prod(v.shape)) for v in model.trainable_weights)),
        "architecture_sha": _digest(model.to_json().encode()),
        "dtype_policy": _first_weighted_layer(model).dtype_policy.name,
        "extra": extra or {},
    }  # fmt: skip
    if r.batchnorm_refresh:  # absent at 0, so that earlier runs keep their identity
        config["batchnorm_refresh"] = int(r.batchnorm_refresh)
    if r.reverse_complement:  # absent when off, likewise
        config["reverse_complement"] = "augment"
    if r.eager:  # absent when off (graph execution), likewise
        config["execution"] = "eager"
    return json.loads(json.dumps(config))


def _first_weighted_layer(model: keras.Model) -> keras.layers.Layer:
    """The first layer with weights (``trunk_stem_conv`` in the library's networks): its dtype
    policy is the run's (mixed precision keeps the output layer in float32)."""
    return next(layer for layer in model.layers if layer.weights)


def _check_config(out_dir: Path, config: dict[str, Any]) -> None:
    path = out_dir / "config.json"
    if not path.is_file():
        return
    old = json.loads(path.read_text())
    diff = sorted(k for k in set(old) | set(config) if old.get(k) != config.get(k))
    if diff:
        detail = "; ".join(f"{k}: {old.get(k)!r} → {config.get(k)!r}" for k in diff)
        raise RunConfigMismatch(
            f"{out_dir} holds a run with another configuration ({detail}); delete the folder "
            "or choose another output directory"
        )


def _load_finished(run: _Run) -> TrainResult | None:
    """The saved result of a finished run in ``run.out_dir``, or None."""
    metrics_path, model_path = run.out_dir / "metrics.json", run.out_dir / "model.keras"
    if not (metrics_path.is_file() and model_path.is_file()):
        return None
    log.info("%s: finished run found, not training again", run.out_dir)
    metrics = json.loads(metrics_path.read_text())
    seq_len = run.config["seq_len"]
    return TrainResult(
        model=None,
        loader=lambda: load_model(model_path, expected_seq_len=seq_len),
        history=pd.read_csv(run.out_dir / "history.csv"),
        out_dir=run.out_dir,
        best_epoch=metrics["best_epoch"],
        metrics=metrics,
        reused=True,
        config=run.config,
    )


class _BatchBar(keras.callbacks.Callback):
    """A progress bar over the batches of an epoch (:mod:`chromtransfer_lib.progress`: drawn on
    a terminal or in Jupyter only; :func:`_log_epoch` logs each epoch's line in any case)."""

    def __init__(self, total: int, desc: str):
        super().__init__()
        self.total, self.desc, self.bar = total, desc, None

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        from chromtransfer_lib.progress import progress_bar

        self.bar = progress_bar(total=self.total, desc=f"{self.desc} epoch {epoch + 1}",
                                leave=False)  # fmt: skip

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.bar.update(1)
        if logs and batch % 20 == 0:
            self.bar.set_postfix(loss=f"{float(logs.get('loss', np.nan)):.4f}")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.bar.close()


def _compile(model: keras.Model, *, learning_rate: float, loss: str, eager: bool = False) -> None:
    optimizer: keras.optimizers.Optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
    if any(layer.dtype_policy.name == "mixed_float16" for layer in model.layers):
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    with model.distribute_strategy.scope():
        model.compile(
            optimizer=optimizer, loss=loss, metrics=metric_objects(loss), run_eagerly=eager
        )
        model.optimizer.build(model.trainable_variables)


def _fit(run: _Run, *, progress: bool, stop_after_epochs: int | None) -> TrainResult:
    """Train from the backup's last epoch (or from scratch) until early stopping or the limit."""
    r = run.recipe
    write_text_atomic(run.out_dir / "config.json", json.dumps(run.config, indent=2))
    if shells.shareable(run.model, eager=r.eager):  # traced once per architecture: shells.py
        run.fresh = run.model
        run.model = shells.acquire(
            run.fresh, loss=run.loss, learning_rate=r.learning_rate,
            compile_fn=lambda m: _compile(m, learning_rate=r.learning_rate, loss=run.loss),
        )  # fmt: skip
    else:
        _compile(run.model, learning_rate=r.learning_rate, loss=run.loss, eager=r.eager)
    run.backup.mkdir(exist_ok=True)
    state = load_state(run.backup, run.model)
    start_epoch = state["epoch"]
    if start_epoch:
        log.info("%s: resuming after epoch %d", run.out_dir, start_epoch)
    val_ds = make_dataset(*run.val[:2], batch_size=r.batch_size, indices=run.val.rows(),
                          label_dtype=run.label_dtype)  # fmt: skip
    n_batches = -(-len(run.train.rows()) // r.batch_size)
    callbacks = [_BatchBar(n_batches, run.out_dir.name)] if progress else []
    t0 = time.perf_counter()
    for n_done, epoch in enumerate(range(start_epoch, r.max_epochs), start=1):
        if state["wait"] >= r.patience:
            break
        row = _fit_epoch(run, epoch, val_ds, callbacks)
        end_epoch(run.backup, run.model, state, row, r.monitor)
        with atomic_path(run.out_dir / "history.csv") as tmp:
            pd.DataFrame(state["history"]).to_csv(tmp, index=False)
        if stop_after_epochs is not None and n_done >= stop_after_epochs:
            if epoch + 1 < r.max_epochs and state["wait"] < r.patience:
                log.info("%s: stopping after %d epochs as asked", run.out_dir, n_done)
                _release(run)
                history = pd.DataFrame(state["history"])
                return TrainResult(run.model, history, run.out_dir, state["best_epoch"],
                                   {"finished": False}, start_epoch, config=run.config)  # fmt: skip
    return _finish(run, state, start_epoch, time.perf_counter() - t0)


def _fit_epoch(run: _Run, epoch: int, val_ds: tf.data.Dataset, callbacks: list) -> dict:
    """One epoch (0-based ``epoch``): re-seed dropout, shuffle, fit; the history row."""
    reseed_dropout(run.model, run.random_state, epoch)
    train_ds = make_dataset(
        *run.train[:2], batch_size=run.recipe.batch_size, indices=run.train.rows(), shuffle=True,
        random_state=run.random_state, epoch=epoch, label_dtype=run.label_dtype,
        reverse_complement=run.recipe.reverse_complement,
    )  # fmt: skip
    t_epoch = time.perf_counter()
    n_refresh = run.recipe.batchnorm_refresh
    multi = is_multiworker(run.model)  # Keras cannot fit under this strategy: models/multiworker.py
    if multi:
        row = {"epoch": epoch + 1, **fit_epoch(run.model, train_ds, loss=run.loss)}
    else:  # validates in fit unless BatchNorm is refreshed first
        hist = run.model.fit(
            train_ds, validation_data=None if n_refresh else val_ds, epochs=epoch + 1,
            initial_epoch=epoch, shuffle=False, verbose=0, callbacks=callbacks,
        )  # fmt: skip
        row = {"epoch": epoch + 1, **{k: float(v[-1]) for k, v in hist.history.items()}}
    if n_refresh:
        refresh_batchnorm(
            run.model, run.train.codes, np.unique(run.train.rows()), max_rows=n_refresh,
            random_state=run.random_state + epoch,
        )  # fmt: skip
    if multi:
        row |= {f"val_{k}": v for k, v in evaluate(run.model, val_ds, loss=run.loss).items()}
    elif n_refresh:
        val = run.model.evaluate(val_ds, verbose=0, return_dict=True)
        row |= {f"val_{k}": float(v) for k, v in val.items()}
    return _log_epoch(run, row, t_epoch)


def _log_epoch(run: _Run, row: dict, t_epoch: float) -> dict:
    """Add the epoch's seconds to its history row and log it; the row."""
    row["seconds"] = time.perf_counter() - t_epoch
    monitor = run.recipe.monitor
    log.info("%s epoch %d: loss %.4f val_loss %.4f%s (%.1f s)", run.out_dir.name, row["epoch"],
             row["loss"], row["val_loss"],
             f" {monitor} {row[monitor]:.4f}" if monitor != "val_loss" else "",
             row["seconds"])  # fmt: skip
    return row


def _release(run: _Run) -> None:
    """Train on a shell no more: its values go into the caller's model, which the run keeps."""
    if run.fresh is not None:
        run.model, run.fresh = shells.release(run.model, run.fresh), None


def _finish(run: _Run, state: dict, start_epoch: int, seconds: float) -> TrainResult:
    """Restore the best weights, save the model, write ``metrics.json`` (last), drop the backup."""
    if state.get("best_weights"):
        run.model.load_weights(run.backup / state["best_weights"])
    _release(run)
    with atomic_path(run.out_dir / "model.keras") as tmp:
        run.model.save(tmp)
    history = pd.DataFrame(state["history"])
    metrics = _final_metrics(run, state, history, start_epoch, seconds)
    write_text_atomic(run.out_dir / "metrics.json", json.dumps(metrics, indent=2))
    shutil.rmtree(run.backup, ignore_errors=True)
    return TrainResult(run.model, history, run.out_dir, metrics["best_epoch"], metrics,
                       resumed_from_epoch=start_epoch, config=run.config)  # fmt: skip


def _final_metrics(
    run: _Run, state: dict, history: pd.DataFrame, start_epoch: int, seconds: float
) -> dict[str, Any]:
    """``metrics.json``: the kept epoch, its scores, how training stopped, and its speed."""
    best_rows = history.loc[history["epoch"] == state["best_epoch"]]
    best = best_rows.iloc[0].to_dict() if len(best_rows) else {}  # empty if never finite
    if not best:
        monitor = run.recipe.monitor
        log.warning("%s: %s never finite; keeping the last weights", run.out_dir, monitor)
    epochs_run = int(state["epoch"])
    speed = None
    if epochs_run > start_epoch:
        trained = history["seconds"].iloc[start_epoch:].sum()
        speed = float(run.config["n_train"] * (epochs_run - start_epoch) / trained)
    return {
        "finished": True,
        "best_epoch": int(state["best_epoch"]),
        "monitor": run.recipe.monitor,
        "epochs_run": epochs_run,
        "stopped_early": epochs_run < run.config["max_epochs"],
        "best": {k: float(v) for k, v in best.items() if k != "epoch"},
        "train_seconds_this_call": seconds,
        "train_samples_per_s": speed,
        "resumed_from_epoch": start_epoch,
    }

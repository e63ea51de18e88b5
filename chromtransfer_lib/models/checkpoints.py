"""Early stopping and the per-epoch backup that lets a training run resume exactly.

A run's ``backup/`` folder (see :mod:`chromtransfer_lib.models.train`) holds the weights and
optimiser state of the last finished epoch (and of the best one, if different) and
``state.json``: the epoch, the early-stopping state (``best_score``, ``best_epoch``, ``wait``)
and the history rows so far. ``state.json`` is written last and atomically, so a kill leaves a
consistent backup of the previous epoch. Dropout is re-seeded from ``(random_state, epoch)``
at the start of every epoch, so a resumed run draws the same masks as an uninterrupted one
(ARCHITECTURE.md, "models").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import keras
import numpy as np

from chromtransfer_lib.config import MONITORS
from chromtransfer_lib.fileio import write_text_atomic


def all_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Every layer of ``model``, nested models' layers in their place."""
    out = []
    for layer in model.layers:
        out.extend(all_layers(layer) if isinstance(layer, keras.Model) else [layer])
    return out


def reseed_dropout(model: keras.Model, random_state: int, epoch: int) -> None:
    """Give every layer's seed generator a state derived from ``(random_state, epoch)``."""
    k = 0
    for layer in all_layers(model):
        gen = getattr(layer, "seed_generator", None)
        if gen is None:
            continue
        seed = np.random.SeedSequence([int(random_state), int(epoch), k]).generate_state(1)[0]
        gen.state.assign(np.array([int(seed) % 2**31, 0], dtype=gen.state.dtype))
        k += 1


def early_stopping_update(
    state: dict[str, Any], score: float, epoch: int, mode: str = "min"
) -> tuple[dict[str, Any], bool]:
    """Keras' rule (min_delta 0): record an improvement or count a non-improving epoch.

    ``mode`` is ``"min"`` (a loss) or ``"max"`` (an AUROC). Returns a new state
    (``best_score, best_epoch, wait`` updated) and whether ``epoch`` is the new best.
    Training stops once ``wait >= patience``. NaN never improves.
    """
    best = state["best_score"]
    better = best is None or (score < best if mode == "min" else score > best)
    if np.isfinite(score) and better:
        return {**state, "best_score": float(score), "best_epoch": int(epoch), "wait": 0}, True
    return {**state, "wait": state["wait"] + 1}, False


def load_state(backup: Path, model: keras.Model) -> dict[str, Any]:
    """The backup's state, with the last epoch's weights loaded into ``model`` (a fresh state
    at epoch 0 when there is no backup)."""
    path = backup / "state.json"
    if not path.is_file():
        return {"epoch": 0, "best_epoch": 0, "best_score": None, "wait": 0, "history": []}
    state = json.loads(path.read_text())
    if "best_val_loss" in state:  # a backup written before the monitor became a choice
        state["best_score"] = state.pop("best_val_loss")
    model.load_weights(backup / state["last_weights"])
    return state


def end_epoch(backup: Path, model: keras.Model, state: dict, row: dict, monitor: str) -> None:
    """Update early stopping with a finished epoch's history ``row`` and write its backup;
    ``state.json`` goes last. ``state`` is updated in place."""
    epoch = row["epoch"]
    old_files = {state.get("last_weights"), state.get("best_weights")} - {None}
    last = f"epoch_{epoch:04d}.weights.h5"
    model.save_weights(backup / last)
    state["last_weights"] = last
    new, improved = early_stopping_update(state, row[monitor], epoch, MONITORS[monitor])
    state.update(new)
    if improved:
        state["best_weights"] = last
    state["epoch"] = epoch
    state["history"].append(row)
    # key order is kept (history rows become history.csv columns on resume): no sort_keys
    write_text_atomic(backup / "state.json", json.dumps(state, indent=1))
    for name in old_files - {state["last_weights"], state.get("best_weights")}:
        (backup / name).unlink(missing_ok=True)

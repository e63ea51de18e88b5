"""Tables the chapters show: learning curves, generalisation gap, flattened metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from chromtransfer_lib.book import report


def _history() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "epoch": [1, 2, 3, 1, 2],
            "fold": [0, 0, 0, 1, 1],
            "loss": [0.7, 0.5, 0.3, 0.6, 0.4],
            "val_loss": [0.8, 0.6, 0.9, 0.5, 0.7],
        }
    )


def test_generalisation_gap_by_hand() -> None:
    # fold 0: best val 0.6 at epoch 2 (train 0.5) → 0.1; fold 1: best val 0.5 (train 0.6) → −0.1
    assert report.generalisation_gap(_history()) == pytest.approx(0.0)


def test_generalisation_gap_at_the_kept_epochs() -> None:
    # stopped on another metric: fold 0 kept epoch 3 (0.9 − 0.3), fold 1 epoch 2 (0.7 − 0.4)
    gap = report.generalisation_gap(_history(), best_epochs={0: 3, 1: 2})
    assert gap == pytest.approx((0.6 + 0.3) / 2)


def test_learning_curves_long_format() -> None:
    long = report.learning_curves({"m": _history()})
    assert len(long) == 10
    assert set(long["set"]) == {"training", "validation"}
    v = long[(long["set"] == "validation") & (long["fold"] == 0) & (long["epoch"] == 3)]
    assert v["loss"].item() == pytest.approx(0.9)
    assert set(long["partition"]) == {"partition 0", "partition 1"}


def test_scores_and_flattening() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    p = np.clip(y * 0.6 + rng.random(200) * 0.5, 0, 1)
    preds = [report.Prediction("ChromTransfer", "HepG2", y, p, 0.55)]
    scores = report.score_predictions(preds)
    assert scores.loc[0, "threshold_valthr"] == 0.55
    flat = report.flatten_metrics(scores, keys={"ChromTransfer": "finetune"})
    assert flat["finetune.HepG2.test.auroc"] == pytest.approx(scores.loc[0, "auroc"])
    assert "finetune.HepG2.test.f1_overall_valthr" in flat
    roc, prc = report.curve_tables(preds)
    assert roc["label"].iloc[0].startswith("HepG2 (")
    assert prc["recall"].between(0, 1).all()
    calib = report.calibration_tables(preds)
    assert calib["count"].sum() == 200

"""Metrics against scikit-learn on random data and against small hand-worked cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from chromtransfer_lib import evaluate as ev


@pytest.fixture(params=[0, 1, 2])
def random_case(request):
    rng = np.random.default_rng(request.param)
    n = 500
    y = rng.integers(0, 2, n)
    # informative scores, rounded so that ties occur (tie handling must agree too)
    p = np.clip(0.3 * y + rng.normal(0.35, 0.2, n), 0, 1).round(2)
    return y, p


def test_auroc_auprc_match_sklearn(random_case):
    y, p = random_case
    assert ev.auroc(y, p) == pytest.approx(skm.roc_auc_score(y, p), abs=1e-12)
    assert ev.auprc(y, p) == pytest.approx(skm.average_precision_score(y, p), abs=1e-12)


def test_curves_match_sklearn(random_case):
    y, p = random_case
    fpr, tpr, thr = skm.roc_curve(y, p, drop_intermediate=False)
    roc = ev.roc_curve_table(y, p)
    np.testing.assert_allclose(roc["fpr"], fpr)
    np.testing.assert_allclose(roc["tpr"], tpr)
    np.testing.assert_allclose(roc["threshold"].iloc[1:], thr[1:])
    prec, rec, thr = skm.precision_recall_curve(y, p)
    pr = ev.pr_curve_table(y, p)
    # sklearn lists increasing thresholds and appends the (recall 0, precision 1) end point
    np.testing.assert_allclose(pr["precision"], prec[:-1][::-1])
    np.testing.assert_allclose(pr["recall"], rec[:-1][::-1])
    np.testing.assert_allclose(pr["threshold"], thr[::-1])


def test_f1_brier_match_sklearn(random_case):
    y, p = random_case
    for t in (0.3, 0.5, 0.7):
        yp = (p >= t).astype(int)
        got = ev.binary_metrics(y, p, threshold=t)
        f1_neg, f1_pos = skm.f1_score(y, yp, average=None, labels=[0, 1])
        assert got["f1_pos"] == pytest.approx(f1_pos)
        assert got["f1_neg"] == pytest.approx(f1_neg)
        assert got["f1_overall"] == pytest.approx(skm.f1_score(y, yp, average="weighted"))
        assert got["precision"] == pytest.approx(skm.precision_score(y, yp))
        assert got["recall"] == pytest.approx(skm.recall_score(y, yp))
    assert ev.brier_score(y, p) == pytest.approx(skm.brier_score_loss(y, p))


def test_calibration_matches_sklearn_on_continuous_scores():
    rng = np.random.default_rng(5)
    p = rng.uniform(0, 1, 2000)
    y = (rng.uniform(0, 1, 2000) < p**2).astype(int)
    table = ev.calibration_table(y, p, n_bins=10)
    frac, mean = calibration_curve(y, p, n_bins=10, strategy="uniform")
    nonempty = table[table["count"] > 0]
    np.testing.assert_allclose(nonempty["frac_pos"], frac)
    np.testing.assert_allclose(nonempty["mean_pred"], mean)
    assert table["count"].sum() == 2000
    ece = np.sum(table["count"] / 2000 * (table["mean_pred"] - table["frac_pos"]).abs())
    assert ev.expected_calibration_error(y, p) == pytest.approx(ece)


def test_hand_worked_case():
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.4, 0.35, 0.8])
    # pairs (pos, neg): 0.35>0.1, 0.35<0.4, 0.8>0.1, 0.8>0.4 → 3/4
    assert ev.auroc(y, p) == pytest.approx(0.75)
    # ranked: 0.8 (TP, P=1, R=.5), 0.4 (FP), 0.35 (TP, P=2/3, R=1) → .5·1 + .5·2/3
    assert ev.auprc(y, p) == pytest.approx(0.5 + 1 / 3)
    m = ev.binary_metrics(y, p)  # calls: 0 0 0 1 → TP 1, FN 1, TN 2, FP 0
    assert m["f1_pos"] == pytest.approx(2 / 3)  # 2·1 / (2·1 + 0 + 1)
    assert m["f1_neg"] == pytest.approx(0.8)  # 2·2 / (2·2 + 1 + 0)
    assert m["f1_overall"] == pytest.approx((2 * 2 / 3 + 2 * 0.8) / 4)
    assert m["brier"] == pytest.approx((0.01 + 0.16 + 0.4225 + 0.04) / 4)
    cal = ev.calibration_table(y, p, n_bins=2)  # [0, .5): .1 .4 .35 ; [.5, 1]: .8
    assert cal["count"].tolist() == [3, 1]
    assert cal["frac_pos"].tolist() == pytest.approx([1 / 3, 1.0])
    assert cal["mean_pred"].tolist() == pytest.approx([0.85 / 3, 0.8])
    assert ev.expected_calibration_error(y, p, n_bins=2) == pytest.approx(
        3 / 4 * abs(0.85 / 3 - 1 / 3) + 1 / 4 * 0.2
    )
    # a score exactly on an edge belongs to the upper bin; 1.0 to the last bin
    edge = ev.calibration_table(np.array([0, 1]), np.array([0.5, 1.0]), n_bins=2)
    assert edge["count"].tolist() == [0, 2]


def test_choose_threshold_is_brute_force_optimum(random_case):
    y, p = random_case
    choice = ev.choose_threshold(y, p)
    candidates = np.r_[np.unique(p), 1.01]
    best = max(skm.f1_score(y, (p >= t).astype(int), average="weighted") for t in candidates)
    assert choice.f1_overall == pytest.approx(best)
    yp = (p >= choice.threshold).astype(int)
    assert skm.f1_score(y, yp, average="weighted") == pytest.approx(best)
    assert choice.threshold not in set(p)  # a midpoint between scores


def test_choose_threshold_hand_cases():
    # perfectly separable: any threshold between 0.3 and 0.6 gives F1 1; midpoint 0.45
    choice = ev.choose_threshold(np.array([0, 0, 1, 1]), np.array([0.1, 0.3, 0.6, 0.9]))
    assert choice == (pytest.approx(0.45), pytest.approx(1.0))
    # scores that rank positives lowest: calling everything negative is best
    choice = ev.choose_threshold(np.array([1, 0, 0, 0, 0]), np.array([0.1, 0.5, 0.6, 0.7, 0.8]))
    assert choice.threshold > 0.8
    assert choice.f1_overall == pytest.approx(4 / 5 * (2 * 4 / (2 * 4 + 1)))


def test_multiclass_ovr_auroc_matches_sklearn():
    rng = np.random.default_rng(3)
    n, k = 400, 7
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y]
    proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    names = [f"c{j}" for j in range(k)]
    got = ev.multiclass_ovr_auroc(y, proba, names)
    ref = [skm.roc_auc_score(y == j, proba[:, j]) for j in range(k)]
    np.testing.assert_allclose(got["auroc"], ref)
    assert got["class"].tolist() == names
    assert got["n_pos"].sum() == n
    with pytest.raises(ValueError, match="shape"):
        ev.multiclass_ovr_auroc(y, proba[:, :3], names)


def test_degenerate_inputs():
    assert np.isnan(ev.auroc(np.zeros(5), np.linspace(0, 1, 5)))
    assert np.isnan(ev.auprc(np.zeros(5), np.linspace(0, 1, 5)))
    with pytest.raises(ValueError, match="NaN"):
        ev.binary_metrics(np.array([0, 1]), np.array([0.2, np.nan]))
    with pytest.raises(ValueError, match="0 or 1"):
        ev.binary_metrics(np.array([0, 2]), np.array([0.2, 0.3]))


def test_summarise_mean_and_sd():
    df = pd.DataFrame(
        {"fraction": [0.1, 0.1, 0.1, 0.5], "f1": [0.5, 0.6, 0.7, 0.9], "auroc": [1, 2, 3, 4]}
    )
    out = ev.summarise(df, by=["fraction"], metrics=["f1", "auroc"])
    row = out[out["fraction"] == 0.1].iloc[0]
    assert row["f1_mean"] == pytest.approx(0.6)
    assert row["f1_sd"] == pytest.approx(np.std([0.5, 0.6, 0.7], ddof=1))
    assert row["n_runs"] == 3
    assert np.isnan(out[out["fraction"] == 0.5].iloc[0]["f1_sd"])

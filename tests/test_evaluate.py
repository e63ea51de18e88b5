"""Metrics against brute-force counts, hand-worked cases and (where the code is ours) sklearn.

AUROC, AUPRC, the curves and F1 are scikit-learn's, so they are checked against brute force
(pairwise comparisons, counts at each threshold) and hand-worked cases; the calibration table,
ECE, Brier score and threshold choice are the module's own and are also checked against
scikit-learn.
"""

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


def _pairwise_auroc(y, p):
    """Brute force: the fraction of (positive, negative) pairs ranked right, ties ½."""
    pos, neg = p[y == 1][:, None], p[y == 0][None, :]
    return ((pos > neg).sum() + 0.5 * (pos == neg).sum()) / (pos.size * neg.size)


def _counts_at(y, p, t):
    """Brute force: TP, FP, FN, TN of the calls ``p >= t``."""
    call = p >= t
    return (
        int(np.sum(call & (y == 1))),
        int(np.sum(call & (y == 0))),
        int(np.sum(~call & (y == 1))),
        int(np.sum(~call & (y == 0))),
    )


def _brute_force_curves(y, p):
    """ROC and PR points at every distinct score, from counts taken one threshold at a time."""
    rows = []
    for t in np.unique(p)[::-1]:
        tp, fp, fn, tn = _counts_at(y, p, t)
        rows.append((t, fp / (fp + tn), tp / (tp + fn), tp / (tp + fp)))
    return np.array(rows)  # threshold, fpr, tpr (= recall), precision


def test_auroc_auprc_match_brute_force(random_case):
    y, p = random_case
    assert ev.auroc(y, p) == pytest.approx(_pairwise_auroc(y, p), abs=1e-12)
    curve = _brute_force_curves(y, p)
    recall, precision = curve[:, 2], curve[:, 3]
    ap = np.sum(np.diff(np.r_[0.0, recall]) * precision)  # Σ (R_k − R_k−1) P_k
    assert ev.auprc(y, p) == pytest.approx(ap, abs=1e-12)


def test_curves_match_brute_force(random_case):
    y, p = random_case
    curve = _brute_force_curves(y, p)
    roc = ev.roc_curve_table(y, p)
    assert roc["threshold"].iloc[0] == np.inf
    assert (roc[["fpr", "tpr"]].iloc[0] == 0).all()
    np.testing.assert_allclose(roc["threshold"].iloc[1:], curve[:, 0])
    np.testing.assert_allclose(roc["fpr"].iloc[1:], curve[:, 1])
    np.testing.assert_allclose(roc["tpr"].iloc[1:], curve[:, 2])
    pr = ev.pr_curve_table(y, p)
    np.testing.assert_allclose(pr["threshold"], curve[:, 0])
    np.testing.assert_allclose(pr["recall"], curve[:, 2])
    np.testing.assert_allclose(pr["precision"], curve[:, 3])


def test_f1_matches_counts_and_brier_matches_sklearn(random_case):
    y, p = random_case
    for t in (0.3, 0.5, 0.7):
        tp, fp, fn, tn = _counts_at(y, p, t)
        got = ev.binary_metrics(y, p, threshold=t)
        f1_pos, f1_neg = 2 * tp / (2 * tp + fp + fn), 2 * tn / (2 * tn + fn + fp)
        assert got["f1_pos"] == pytest.approx(f1_pos)
        assert got["f1_neg"] == pytest.approx(f1_neg)
        assert got["f1_overall"] == pytest.approx(
            ((tp + fn) * f1_pos + (tn + fp) * f1_neg) / y.size
        )
        assert got["precision"] == pytest.approx(tp / (tp + fp))
        assert got["recall"] == pytest.approx(tp / (tp + fn))
        assert got["accuracy"] == pytest.approx((tp + tn) / y.size)
    assert ev.brier_score(y, p) == pytest.approx(skm.brier_score_loss(y, p))


def test_hand_worked_ties_and_empty_calls():
    y = np.array([0, 1, 0, 1])
    p = np.array([0.5, 0.5, 0.2, 0.9])
    # pairs (pos, neg): .5=.5 (½), .5>.2, .9>.5, .9>.2 → 3.5/4
    assert ev.auroc(y, p) == pytest.approx(0.875)
    # thresholds .9: P 1, R ½; .5: P 2/3, R 1; .2: P ½, R 1 (ΔR 0) → ½ + ½·2/3
    assert ev.auprc(y, p) == pytest.approx(0.5 + 1 / 3)
    pr = ev.pr_curve_table(y, p)
    assert pr["threshold"].tolist() == [0.9, 0.5, 0.2]
    assert pr["precision"].tolist() == pytest.approx([1.0, 2 / 3, 0.5])
    assert pr["recall"].tolist() == pytest.approx([0.5, 1.0, 1.0])
    roc = ev.roc_curve_table(y, p)
    assert roc["fpr"].tolist() == pytest.approx([0, 0, 0.5, 1.0])
    assert roc["tpr"].tolist() == pytest.approx([0, 0.5, 1.0, 1.0])
    # nothing called positive: precision, recall and the positive F1 are 0, not NaN
    m = ev.binary_metrics(y, p, threshold=0.95)
    assert (m["precision"], m["recall"], m["f1_pos"]) == (0.0, 0.0, 0.0)
    assert m["f1_neg"] == pytest.approx(2 * 2 / (2 * 2 + 2))  # TN 2, FN 2
    assert m["f1_overall"] == pytest.approx(0.5 * 2 / 3)
    assert m["accuracy"] == 0.5


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


def test_multiclass_ovr_auroc_matches_pairwise_counts():
    rng = np.random.default_rng(3)
    n, k = 400, 7
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y]
    proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    names = [f"c{j}" for j in range(k)]
    got = ev.multiclass_ovr_auroc(y, proba, names)
    ref = [_pairwise_auroc((y == j).astype(int), proba[:, j]) for j in range(k)]
    np.testing.assert_allclose(got["auroc"], ref)
    assert got["class"].tolist() == names
    assert got["n_pos"].sum() == n
    with pytest.raises(ValueError, match="shape"):
        ev.multiclass_ovr_auroc(y, proba[:, :3], names)


def test_multiclass_ovr_auroc_hand_case():
    # rows need not sum to 1 (float16 softmax); class 2 is absent from y → NaN
    y = np.array([0, 0, 1, 1])
    proba = np.array([[0.9, 0.1, 0.0], [0.3, 0.6, 0.1], [0.4, 0.5, 0.1], [0.2, 0.7, 0.2]])
    got = ev.multiclass_ovr_auroc(y, proba, ["a", "b", "c"])
    # class a: positives .9 .3 vs negatives .4 .2 → .9>.4, .9>.2, .3<.4, .3>.2 → 3/4
    # class b: positives .5 .7 vs negatives .1 .6 → .5>.1, .5<.6, .7>.1, .7>.6 → 3/4
    assert got["auroc"].iloc[:2].tolist() == pytest.approx([0.75, 0.75])
    assert np.isnan(got["auroc"].iloc[2])
    assert got["n_pos"].tolist() == [2, 2, 0]


def test_degenerate_inputs():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NaN or zeros, without scikit-learn's warnings
        assert np.isnan(ev.auroc(np.zeros(5), np.linspace(0, 1, 5)))
        assert np.isnan(ev.auroc(np.ones(5), np.linspace(0, 1, 5)))
        assert np.isnan(ev.auprc(np.zeros(5), np.linspace(0, 1, 5)))
        assert ev.auprc(np.ones(3), np.array([0.2, 0.2, 0.9])) == 1.0
        # a rate whose class is absent is 0 on the curves
        roc = ev.roc_curve_table(np.zeros(3), np.array([0.1, 0.5, 0.5]))
        assert roc["tpr"].tolist() == [0, 0, 0] and roc["fpr"].tolist() == [0, 2 / 3, 1]
        roc = ev.roc_curve_table(np.ones(2), np.array([0.1, 0.5]))
        assert roc["fpr"].tolist() == [0, 0, 0] and roc["tpr"].tolist() == [0, 0.5, 1]
        pr = ev.pr_curve_table(np.zeros(3), np.array([0.1, 0.5, 0.5]))
        assert pr["recall"].tolist() == [0, 0] and pr["precision"].tolist() == [0, 0]
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

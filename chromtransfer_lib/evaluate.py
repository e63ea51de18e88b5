"""Evaluation metrics: ROC/PR curves, F1 as the paper reports it, calibration, summaries.

ROC and precision–recall curves, AUROC, AUPRC and F1 are scikit-learn's
(:mod:`sklearn.metrics`); the calibration table with its empty bins, the Brier score, the
expected calibration error, the threshold choice and the summaries are written here (see
ARCHITECTURE.md for the layers). Conventions:

* scores ``p`` are predicted probabilities of the positive class; a sequence is called
  positive when ``p >= threshold``;
* ``f1_pos`` and ``f1_neg`` are the F1 scores of the positive and the negative class;
  ``f1_overall`` is their support-weighted mean (scikit-learn's ``average="weighted"``), which is
  what the paper's Table 1 and Fig. 1H call "overall"; an F1, precision or recall whose
  denominator is 0 is 0 (``zero_division=0``);
* AUROC is :func:`sklearn.metrics.roc_auc_score`, i.e. the Mann–Whitney probability that a
  positive outscores a negative (ties count ½); AUPRC is average precision
  (:func:`sklearn.metrics.average_precision_score`), ``Σ (R_k − R_{k−1}) P_k`` over decreasing
  distinct thresholds, not the trapezoidal area under the PR curve; both are NaN where they are
  undefined (AUROC with one class, AUPRC without positives) instead of scikit-learn's warning;
* curves keep every distinct score as a threshold (``drop_intermediate=False``);
* calibration uses ``n_bins`` equal-width bins of predicted probability ``[lo, hi)`` (the last
  bin includes 1); ECE is the count-weighted mean of ``|mean_pred − frac_pos|`` over bins;
  the Brier score is the mean squared error of ``p``.

F1 at a fixed 0.5 is uninformative for under-trained or badly calibrated models (it can equal
the score of calling everything negative), so :func:`choose_threshold` picks the threshold that
maximises overall F1 on *validation* data, to be applied unchanged to the test set.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.exceptions import UndefinedMetricWarning


def _check(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y).astype(np.int64).ravel()
    p = np.asarray(p, dtype=np.float64).ravel()
    if y.shape != p.shape:
        raise ValueError(f"labels ({y.size}) and scores ({p.size}) differ in length")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("binary labels must be 0 or 1")
    if not np.isfinite(p).all():
        raise ValueError(f"{np.count_nonzero(~np.isfinite(p))} scores are NaN or infinite")
    return y, p


def auroc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve (:func:`sklearn.metrics.roc_auc_score`); NaN with one class."""
    y, p = _check(y, p)
    if y.all() or not y.any():
        return float("nan")
    return float(skm.roc_auc_score(y, p))


def roc_curve_table(y: np.ndarray, p: np.ndarray) -> pd.DataFrame:
    """ROC curve: ``threshold, fpr, tpr`` (starting at ``(0, 0)`` with threshold ``inf``).

    Every distinct score is a threshold. A rate whose class is absent is 0 (scikit-learn
    returns NaN and warns).
    """
    y, p = _check(y, p)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        fpr, tpr, thr = skm.roc_curve(y, p, drop_intermediate=False)
    return pd.DataFrame(
        {"threshold": thr, "fpr": np.nan_to_num(fpr, nan=0.0), "tpr": np.nan_to_num(tpr, nan=0.0)}
    )


def pr_curve_table(y: np.ndarray, p: np.ndarray) -> pd.DataFrame:
    """Precision–recall curve: ``threshold, recall, precision``, by decreasing threshold.

    One row per distinct score, without scikit-learn's appended ``(recall 0, precision 1)``
    end point; recall is 0 without positives (scikit-learn sets it to 1 and warns).
    """
    y, p = _check(y, p)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="No positive class found")
        precision, recall, thr = skm.precision_recall_curve(y, p, drop_intermediate=False)
    # scikit-learn lists increasing thresholds and appends the end point; reverse and drop it
    recall = recall[-2::-1] if y.any() else np.zeros(thr.size)
    return pd.DataFrame({"threshold": thr[::-1], "recall": recall, "precision": precision[-2::-1]})


def auprc(y: np.ndarray, p: np.ndarray) -> float:
    """Average precision (:func:`sklearn.metrics.average_precision_score`); NaN without
    positives."""
    y, p = _check(y, p)
    if not y.any():
        return float("nan")
    return float(skm.average_precision_score(y, p))


def f1_scores(y: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Per-class F1 and the support-weighted overall F1 for 0/1 calls ``y_pred``.

    Returns
    -------
    dict
        ``f1_pos, f1_neg, f1_overall, precision, recall, accuracy`` (precision and recall of
        the positive class); scikit-learn's, with ``zero_division=0``.
    """
    y, yp = _check(y, y_pred)
    yp = yp.astype(np.int64)
    precision, recall, f1, _ = skm.precision_recall_fscore_support(
        y, yp, labels=[0, 1], average=None, zero_division=0
    )
    overall = skm.f1_score(y, yp, labels=[0, 1], average="weighted", zero_division=0)
    return {
        "f1_pos": float(f1[1]),
        "f1_neg": float(f1[0]),
        "f1_overall": float(overall),
        "precision": float(precision[1]),
        "recall": float(recall[1]),
        "accuracy": float(skm.accuracy_score(y, yp)),
    }


def calibration_table(y: np.ndarray, p: np.ndarray, *, n_bins: int = 10) -> pd.DataFrame:
    """Reliability diagram data: ``bin, lo, hi, mean_pred, frac_pos, count`` (empty bins NaN)."""
    y, p = _check(y, p)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    b = np.clip(np.floor(p * n_bins).astype(np.int64), 0, n_bins - 1)
    count = np.bincount(b, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_pred = np.bincount(b, weights=p, minlength=n_bins) / count
        frac_pos = np.bincount(b, weights=y, minlength=n_bins) / count
    return pd.DataFrame(
        {
            "bin": np.arange(n_bins),
            "lo": edges[:-1],
            "hi": edges[1:],
            "mean_pred": mean_pred,
            "frac_pos": frac_pos,
            "count": count,
        }
    )


def brier_score(y: np.ndarray, p: np.ndarray) -> float:
    """Mean squared difference between ``p`` and the 0/1 label."""
    y, p = _check(y, p)
    return float(np.mean((p - y) ** 2))


def expected_calibration_error(y: np.ndarray, p: np.ndarray, *, n_bins: int = 10) -> float:
    """ECE: count-weighted mean ``|mean_pred − frac_pos|`` over equal-width bins."""
    t = calibration_table(y, p, n_bins=n_bins)
    t = t[t["count"] > 0]
    gap = (t["mean_pred"] - t["frac_pos"]).abs()
    return float((gap * t["count"]).sum() / t["count"].sum())


def binary_metrics(y: np.ndarray, p: np.ndarray, *, threshold: float = 0.5) -> dict[str, float]:
    """All scalar metrics of one binary evaluation.

    Returns
    -------
    dict
        ``auroc, auprc, f1_pos, f1_neg, f1_overall, precision, recall, accuracy, brier, ece,
        threshold, n, n_pos``.
    """
    y, p = _check(y, p)
    out = {"auroc": auroc(y, p), "auprc": auprc(y, p)}
    out.update(f1_scores(y, (p >= threshold).astype(np.int64)))
    out.update(
        brier=brier_score(y, p),
        ece=expected_calibration_error(y, p),
        threshold=float(threshold),
        n=int(y.size),
        n_pos=int(y.sum()),
    )
    return out


class ThresholdChoice(NamedTuple):
    """A decision threshold chosen on validation data and its validation overall F1."""

    threshold: float
    f1_overall: float


def _cumulative(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct thresholds (decreasing) with true- and false-positive counts at ``p >= t``."""
    order = np.argsort(-p, kind="mergesort")
    ps, ys = p[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(ps)), ps.size - 1]  # last index of each distinct score
    tp = np.cumsum(ys)[last]
    fp = (last + 1) - tp
    return ps[last], tp, fp


def _f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """F1 per candidate threshold from counts (0 where undefined, as ``zero_division=0``)."""
    denom = 2 * tp + fp + fn
    return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)


def choose_threshold(y_val: np.ndarray, p_val: np.ndarray) -> ThresholdChoice:
    """Threshold maximising support-weighted overall F1 on validation data.

    Every distinct score is a candidate (call ``p >= t`` positive), plus "everything
    negative". The returned threshold is the midpoint between the best candidate and the next
    lower score, so it separates the same validation calls and generalises less brittly.
    """
    y, p = _check(y_val, p_val)
    thr, tp, fp = _cumulative(y, p)
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    tp, fp = np.r_[0, tp], np.r_[0, fp]  # index 0: nothing called positive
    fn, tn = n_pos - tp, n_neg - fp
    overall = (n_pos * _f1(tp, fp, fn) + n_neg * _f1(tn, fn, fp)) / max(y.size, 1)
    k = int(np.argmax(overall))
    if k == 0:
        t = float(np.nextafter(thr[0], np.inf))
    elif k < thr.size:
        t = float((thr[k - 1] + thr[k]) / 2)
    else:
        t = float(thr[-1])
    return ThresholdChoice(t, float(overall[k]))


def multiclass_ovr_auroc(
    y: np.ndarray, proba: np.ndarray, class_names: Sequence[str]
) -> pd.DataFrame:
    """One-vs-rest AUROC per class: ``class, auroc, n_pos, n``.

    Each class's AUROC is :func:`auroc` of "this class" against the rest, as scikit-learn's
    ``roc_auc_score(multi_class="ovr", average=None)`` computes it, but without its check that
    rows sum to 1 (float16 softmax rows may not) and NaN for a class absent from ``y``.

    Parameters
    ----------
    y
        Class indices ``(n,)`` in ``0..k-1``.
    proba
        Softmax outputs ``(n, k)``; column ``j`` scores class ``class_names[j]``.
    """
    y = np.asarray(y).astype(np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2 or proba.shape[1] != len(class_names) or proba.shape[0] != y.size:
        raise ValueError(f"proba has shape {proba.shape}; expected ({y.size}, {len(class_names)})")
    rows = []
    for j, name in enumerate(class_names):
        yj = (y == j).astype(np.int64)
        rows.append(
            {"class": name, "auroc": auroc(yj, proba[:, j]), "n_pos": int(yj.sum()), "n": y.size}
        )
    return pd.DataFrame(rows)


def summarise(table: pd.DataFrame, *, by: Sequence[str], metrics: Sequence[str]) -> pd.DataFrame:
    """Mean and sample sd (ddof 1) of ``metrics`` per group: ``<m>_mean, <m>_sd, n_runs``."""
    g = table.groupby(list(by), sort=True)
    out = g[list(metrics)].agg(["mean", "std"])
    out.columns = [f"{m}_{'sd' if s == 'std' else s}" for m, s in out.columns]
    out["n_runs"] = g.size()
    return out.reset_index()

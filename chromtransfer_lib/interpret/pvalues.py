"""Log-odds scoring matrices and their exact p-value thresholds (the scoring model of `motifs`).

The scoring model, stated once:

* **Log-odds.** For a count matrix ``c`` of shape ``(4, w)`` (A, C, G, T) with column totals
  ``N_j``, a background ``b`` and a total pseudocount ``ps`` spread over the bases in proportion
  to the background (MOODS's convention, ``ps = 0.8`` by default as in JASPAR's TFBS tools),
  the frequency is ``f_bj = (c_bj + ps * b_b) / (N_j + ps)`` and the score of base ``b`` at
  position ``j`` is ``log2(f_bj / b_b)`` bits.
* **Integer scores.** Each matrix entry is rounded to a grid of ``1 / scale`` bits
  (``scale = 1000``: 0.001 bits); a site's score is the exact integer sum of its entries, so
  scanning never meets a floating-point tie.
* **Exact p-values.** Under the background (independent bases, probabilities ``b``), the
  distribution of the integer score of a random ``w``-mer is computed exactly by dynamic
  programming (a convolution per column, in float64); the p-value of a score ``s`` is
  ``P(S >= s)``. The threshold for a p-value cut ``p`` is the smallest attainable score whose
  p-value is ``< p``, so a window is a hit if and only if its p-value is ``< p``. When even the
  best score has a p-value ``>= p`` the matrix can never produce a hit: it is *unreachable*.
* The dynamic programme keeps only partial scores that can still end at or above a lower bound
  ``L`` (exact for every score ``>= L``); ``L`` is lowered until ``P(S >= L) >= p``, which
  guarantees the threshold lies above it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

UNIFORM_BACKGROUND = (0.25, 0.25, 0.25, 0.25)


def log_odds_matrix(
    counts: np.ndarray,
    *,
    background: Sequence[float] = UNIFORM_BACKGROUND,
    pseudocount: float = 0.8,
) -> np.ndarray:
    """Log-odds scores (bits) of a count matrix.

    Parameters
    ----------
    counts
        Counts or frequencies, shape ``(4, w)`` in A, C, G, T order.
    background
        Base probabilities ``(4,)`` summing to 1.
    pseudocount
        Total pseudocount per column, spread over bases in proportion to ``background``.

    Returns
    -------
    numpy.ndarray
        float64 scores of shape ``(w, 4)`` (position-major, the layout scanners use).
    """
    counts = np.asarray(counts, dtype=np.float64)
    bg = _check_background(background)
    if counts.ndim != 2 or counts.shape[0] != 4:
        raise ValueError(f"counts must have shape (4, w), got {counts.shape}")
    if pseudocount < 0 or (pseudocount == 0 and (counts == 0).any()):
        raise ValueError("pseudocount must be > 0 when a count is 0 (log of zero)")
    freq = (counts + pseudocount * bg[:, None]) / (counts.sum(axis=0) + pseudocount)
    return np.log2(freq / bg[:, None]).T.copy()


def integer_matrix(log_odds: np.ndarray, *, scale: int = 1000) -> np.ndarray:
    """Round a ``(w, 4)`` log-odds matrix (bits) to int64 units of ``1 / scale`` bits."""
    return np.rint(np.asarray(log_odds, dtype=np.float64) * scale).astype(np.int64)


def reverse_complement_matrix(matrix: np.ndarray) -> np.ndarray:
    """The ``(w, 4)`` matrix that scores the reverse complement of a forward window.

    With A, C, G, T order the complement of base ``b`` is ``3 - b``, so the matrix is reversed
    along both axes: ``score(revcomp(x)) = sum_j rc[j, x_j]``.
    """
    return np.ascontiguousarray(np.asarray(matrix)[::-1, ::-1])


@dataclass(frozen=True)
class ScoreTail:
    """The exact upper tail of a matrix's integer score distribution.

    Attributes
    ----------
    scores
        Attainable integer scores ``>= lower``, ascending, shape ``(k,)``.
    p_values
        ``P(S >= scores[i])`` under the background, shape ``(k,)``.
    lower
        The bound the tail was computed down to (scores below it are not listed).
    """

    scores: np.ndarray
    p_values: np.ndarray
    lower: int

    def p_value(self, score: np.ndarray | int) -> np.ndarray:
        """``P(S >= score)`` for integer scores ``>= lower`` (vectorised)."""
        score = np.asarray(score, dtype=np.int64)
        if (score < self.lower).any():
            raise ValueError(f"score below the computed tail (lower bound {self.lower})")
        idx = np.searchsorted(self.scores, score, side="left")
        out = np.zeros(score.shape, dtype=np.float64)
        inside = idx < self.scores.size
        out[inside] = self.p_values[idx[inside]]
        return out


def score_tail(
    matrix: np.ndarray, *, lower: int, background: Sequence[float] = UNIFORM_BACKGROUND
) -> ScoreTail:
    """Exact ``P(S >= s)`` for every attainable integer score ``s >= lower``.

    Parameters
    ----------
    matrix
        Integer scores, shape ``(w, 4)``.
    lower
        Scores below this are pruned (partial sums that cannot reach it are dropped).
    background
        Base probabilities ``(4,)``.
    """
    m = np.asarray(matrix, dtype=np.int64)
    bg = _check_background(background)
    col_max = m.max(axis=1)
    rest_max = np.concatenate([np.cumsum(col_max[::-1])[::-1][1:], [0]])  # max of later columns
    # dense distribution over partial scores base .. base + len(dist) - 1
    dist = np.ones(1, dtype=np.float64)
    base = 0
    for j in range(m.shape[0]):
        row = m[j]
        new_base = base + int(row.min())
        new = np.zeros(dist.size + int(row.max() - row.min()), dtype=np.float64)
        for b in range(4):
            off = int(row[b]) - int(row.min())
            new[off : off + dist.size] += bg[b] * dist
        # drop partial scores that can no longer reach `lower`
        cut = lower - int(rest_max[j]) - new_base
        if cut > 0:
            new = new[cut:]
            new_base += cut
        dist, base = new, new_base
        if dist.size == 0:
            break
    scores = base + np.flatnonzero(dist > 0)
    probs = dist[dist > 0]
    tail = np.cumsum(probs[::-1])[::-1]
    return ScoreTail(scores=scores.astype(np.int64), p_values=tail, lower=int(lower))


@dataclass(frozen=True)
class Threshold:
    """A matrix's exact score threshold for ``p < p_value``.

    Attributes
    ----------
    score
        Smallest attainable integer score with p-value ``< p_value``; ``None`` if unreachable.
    best_p
        p-value of the best possible score, ``P(S = max)``.
    tail
        The exact tail down to at least ``score`` (used to give each hit its p-value).
    """

    score: int | None
    best_p: float
    tail: ScoreTail


def exact_threshold(
    matrix: np.ndarray,
    p_value: float,
    *,
    background: Sequence[float] = UNIFORM_BACKGROUND,
    initial_span: int = 16_000,
) -> Threshold:
    """Smallest integer score whose exact p-value is below ``p_value``.

    Parameters
    ----------
    matrix
        Integer scores, shape ``(w, 4)``.
    p_value
        The cut, e.g. ``1e-5``; hits are windows with ``P(S >= score) < p_value``.
    background
        Base probabilities ``(4,)``.
    initial_span
        First guess of how far below the maximum score the threshold lies (integer units); it
        is doubled until the tail is provably wide enough.
    """
    m = np.asarray(matrix, dtype=np.int64)
    max_score = int(m.max(axis=1).sum())
    min_score = int(m.min(axis=1).sum())
    span = max(int(initial_span), 1)
    while True:
        lower = max(max_score - span, min_score)
        tail = score_tail(m, lower=lower, background=background)
        # P(S >= lower) >= p_value (or lower is the minimum) => threshold lies inside the tail
        if tail.p_values[0] >= p_value or lower == min_score:
            break
        span *= 2
    below = np.flatnonzero(tail.p_values < p_value)
    best_p = float(tail.p_values[-1])
    score = int(tail.scores[below[0]]) if below.size else None
    return Threshold(score=score, best_p=best_p, tail=tail)


def _check_background(background: Sequence[float]) -> np.ndarray:
    bg = np.asarray(background, dtype=np.float64)
    if bg.shape != (4,) or (bg <= 0).any() or not np.isclose(bg.sum(), 1.0):
        raise ValueError(f"background must be 4 positive probabilities summing to 1, got {bg}")
    return bg

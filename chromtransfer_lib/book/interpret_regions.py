"""Which regions the interpretation chapters (6 and 7) analyse, and which rows they look at.

The analysed regions follow the paper ("Feature importance analysis"): the positive predictions
(``p >= 0.5``, training and test rows) of each line's fine-tuned model, capped at
``interpret.max_regions`` by a seeded subsample (:func:`select_positive_predictions`); their
union (:func:`union_regions`) serves the HepG2 − K562 comparison, and every model is attributed
on all of it. A :class:`RegionSet` holds the union; analyses pick rows with
:meth:`RegionSet.rows`, examples and ISM samples with :func:`pick_rows`. Pure functions; the
stage that caches the set is :func:`.interpretation.ensure_region_set` (ARCHITECTURE.md, book
layer).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

#: Short model keys (metric names) → labels in figures and tables.
MODEL_LABELS: dict[str, str] = {
    "HepG2": "HepG2 ChromTransfer",
    "K562": "K562 ChromTransfer",
    "pretrained": "pre-trained",
    "scratch_HepG2": "HepG2 binary baseline",
}


class Selection(NamedTuple):
    """Rows chosen for attribution, and how."""

    rows: np.ndarray  #: sorted row indices
    n_positive: int  #: rows with ``p >= threshold`` before the cap
    fallback: bool  #: no positive prediction: the best-scoring labelled positives were used


def select_positive_predictions(
    proba: np.ndarray,
    labels: np.ndarray,
    *,
    threshold: float = 0.5,
    max_regions: int,
    random_state: int,
) -> Selection:
    """Positive predictions (``proba >= threshold``), a seeded subsample of ``max_regions``.

    When a model predicts nothing positive (an untrained model), the ``max_regions`` labelled
    positives with the highest probabilities are used instead and ``fallback`` is set, so the
    chapters still show something and say so.
    """
    proba, labels = np.asarray(proba), np.asarray(labels)
    rows = np.flatnonzero(proba >= threshold)
    n_positive, fallback = rows.size, rows.size == 0
    if fallback:
        pos = np.flatnonzero(labels == 1)
        rows = pos[np.argsort(-proba[pos], kind="stable")[:max_regions]]
    elif rows.size > max_regions:
        rows = np.random.default_rng(random_state).choice(rows, max_regions, replace=False)
    return Selection(np.sort(rows), int(n_positive), bool(fallback))


def union_regions(
    tables: Mapping[str, pd.DataFrame], codes: Mapping[str, np.ndarray]
) -> tuple[pd.DataFrame, np.ndarray]:
    """Union of per-line region tables (deduplicated on ``chrom, start, end``) and their codes.

    Returns the union table (``chrom, start, end, region_start, region_end, name, split``,
    ``in_<line>`` flags and ``y_<line>`` labels, NaN where the row was not selected for that
    line) and its codes ``(n, L)``, in first-seen order.
    """
    keys = ["chrom", "start", "end"]
    base = ["chrom", "start", "end", "region_start", "region_end", "name", "split"]
    parts = []
    for line, tab in tables.items():
        part = tab[base].reset_index(drop=True).copy()
        part["_line"], part["_y"], part["_i"] = line, tab["y"].to_numpy(float), np.arange(len(tab))
        parts.append(part)
    if not parts:
        return pd.DataFrame(columns=base), np.zeros((0, 0), np.uint8)
    long = pd.concat(parts, ignore_index=True)
    union = long.drop_duplicates(keys, keep="first").reset_index(drop=True)
    pos = long.merge(union[keys].reset_index(names="_u"), on=keys)["_u"].to_numpy()
    out = union[base].copy()
    for line in tables:
        sel = (long["_line"] == line).to_numpy()
        out[f"in_{line}"] = np.isin(np.arange(len(out)), pos[sel])
        y = np.full(len(out), np.nan)
        y[pos[sel]] = long.loc[sel, "_y"].to_numpy()
        out[f"y_{line}"] = y
    first = union[["_line", "_i"]].to_numpy()
    seq = np.stack([codes[line][i] for line, i in first]) if len(first) else None
    return out, np.ascontiguousarray(seq, dtype=np.uint8)


@dataclass(frozen=True)
class RegionSet:
    """The analysed regions: codes ``(n, L)`` uint8, their table, a content key, the selection.

    ``selection`` has one row per line: cell_line, rows (train + test), labelled positive,
    predicted positive, analysed, fallback.
    """

    codes: np.ndarray
    regions: pd.DataFrame
    key: str
    selection: pd.DataFrame

    def rows(self, line: str | None = None) -> np.ndarray:
        """Rows selected for ``line`` (all rows when ``None``)."""
        if line is None:
            return np.arange(len(self.regions))
        return np.flatnonzero(self.regions[f"in_{line}"].to_numpy(bool))

    @property
    def lines(self) -> list[str]:
        """The lines whose selections make up the union (from the ``in_<line>`` columns)."""
        return [c[3:] for c in self.regions.columns if c.startswith("in_")]

    def window_name(self, row: int) -> str:
        """``chrom:start-end`` of the model's input window of a row (genome coordinates)."""
        r = self.regions.iloc[row]
        return f"{r['chrom']}:{r['start']:,}-{r['end']:,}"


def pick_rows(
    regions: RegionSet,
    proba: np.ndarray,
    *,
    line: str,
    n: int,
    true_positive: bool = True,
    random_state: int | None = None,
) -> np.ndarray:
    """``n`` rows of ``line``'s set, labelled positive (and predicted positive when any is).

    With ``random_state`` a seeded sample (ISM, as the paper's true positives); without, the
    rows with the highest probabilities (example tracks).
    """
    rows = regions.rows(line)
    if true_positive:
        rows = rows[regions.regions[f"y_{line}"].to_numpy()[rows] == 1]
        if (proba[rows] >= 0.5).any():
            rows = rows[proba[rows] >= 0.5]
    if random_state is None:
        return rows[np.argsort(-proba[rows], kind="stable")[:n]]
    if rows.size > n:
        rows = np.random.default_rng(random_state).choice(rows, n, replace=False)
    return np.sort(rows)

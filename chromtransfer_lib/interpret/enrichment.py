"""Which TFs' predicted sites carry high attribution: site scores, KS enrichment, BH, agreement.

The paper's procedure ("Model interpretation using predicted TF binding sites"):

1. each predicted site (a row of :attr:`chromtransfer_lib.interpret.scan.MotifScan.hits`) gets the
   **max** gradient × input over its bases, or the **min** ISM delta (:func:`site_scores`);
2. TFs with at least ``min_sites`` sites are kept;
3. per TF, a two-sample Kolmogorov–Smirnov test of its sites' scores against the sites of all
   other TFs that do **not overlap** any of its sites (same region, intervals sharing at least
   one base); D gets a minus sign when the TF's mean rank in the pooled sample is below the
   background's (:func:`ks_enrichment`);
4. Benjamini–Hochberg (:func:`scipy.stats.false_discovery_control`) over the tested TFs; TFs
   with FDR below ``fdr`` (0.001) are displayed.

The same test on per-site differences between two models (:func:`compare_models`) finds TFs
whose sites gained or lost importance (fine-tuned − pre-trained, HepG2 − K562).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

SITE_KEYS = ("region", "matrix_id", "start", "end", "strand")


def _global_intervals(sites: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Start/end on one axis where regions never touch: ``region * stride + position``."""
    stride = int(sites["end"].max()) + 1 if len(sites) else 1
    offset = sites["region"].to_numpy(np.int64) * stride
    return offset + sites["start"].to_numpy(np.int64), offset + sites["end"].to_numpy(np.int64)


def site_scores(
    hits: pd.DataFrame,
    attributions: np.ndarray,
    *,
    reduce: str = "max",
    name: str = "site_score",
) -> pd.DataFrame:
    """Score each site by the max (or min) per-base attribution over its bases.

    Parameters
    ----------
    hits
        Sites with ``region`` (row of ``attributions``), ``start``, ``end`` (0-based, half-open).
    attributions
        Per-base scores ``(n, L)``: gradient × input (use ``reduce="max"``) or ISM deltas
        (``reduce="min"``). NaN bases are ignored.
    reduce
        ``"max"`` or ``"min"``.
    name
        Column added to the returned copy of ``hits``.

    Returns
    -------
    pandas.DataFrame
        A copy of ``hits`` with the site score column.
    """
    ufunc = {"max": np.fmax, "min": np.fmin}.get(reduce)
    if ufunc is None:
        raise ValueError(f"reduce must be 'max' or 'min', got {reduce!r}")
    attributions = np.asarray(attributions)
    region = hits["region"].to_numpy(np.int64)
    start = hits["start"].to_numpy(np.int64)
    end = hits["end"].to_numpy(np.int64)
    if len(hits) and (
        region.max() >= attributions.shape[0]
        or end.max() > attributions.shape[1]
        or (end <= start).any()
        or start.min() < 0
    ):
        raise ValueError(
            f"sites do not fit attributions of shape {attributions.shape}: check that the hits "
            "come from the same regions (row order) and that start < end"
        )
    out = hits.copy()
    if not len(hits):
        out[name] = np.zeros(0)
        return out
    width = end - start
    offsets = np.concatenate([[0], np.cumsum(width)[:-1]])
    base = np.repeat(region * attributions.shape[1] + start - offsets, width) + np.arange(
        width.sum()
    )
    out[name] = ufunc.reduceat(attributions.ravel()[base], offsets)
    return out


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (FDR), same shape as the input; NaN stays NaN.

    :func:`scipy.stats.false_discovery_control` (``method="bh"``) over the non-NaN values:
    ``min_{j >= i} p_(j) m / j`` for the ``i``-th smallest of ``m`` p-values, capped at 1.
    """
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = stats.false_discovery_control(p[ok], method="bh")
    return out


def non_overlapping_background(sites: pd.DataFrame, members: np.ndarray) -> np.ndarray:
    """Mask of sites that are not members and overlap no member site (same region).

    Parameters
    ----------
    sites
        Table with ``region``, ``start``, ``end``.
    members
        Boolean mask ``(len(sites),)`` of the foreground (one TF's sites).

    Returns
    -------
    numpy.ndarray
        Boolean mask: background sites sharing no base with any member site.
    """
    g_start, g_end = _global_intervals(sites)
    fs, fe = g_start[members], g_end[members]
    order = np.argsort(fs, kind="stable")
    fs, fe = fs[order], np.maximum.accumulate(fe[order])  # furthest end so far
    # last member starting before each site's end; it (or one before) reaches furthest
    j = np.searchsorted(fs, g_end, side="left") - 1
    overlaps = (j >= 0) & (fe[np.maximum(j, 0)] > g_start)
    return ~members & ~overlaps


def ks_enrichment(
    sites: pd.DataFrame,
    *,
    score_col: str = "site_score",
    by: str = "tf",
    min_sites: int = 100,
    fdr: float = 0.001,
) -> pd.DataFrame:
    """Per-TF two-sample KS test of site scores against non-overlapping sites of other TFs.

    Parameters
    ----------
    sites
        Sites with ``region``, ``start``, ``end``, the grouping column and ``score_col``.
    score_col
        Site score to test (e.g. max gradient × input, min ISM delta, or a model difference).
    by
        Grouping column: ``"tf"`` (name; several matrices of one TF pool) or ``"matrix_id"``.
    min_sites
        TFs with fewer sites are not tested.
    fdr
        Benjamini–Hochberg level for the ``significant`` column.

    Returns
    -------
    pandas.DataFrame
        One row per tested TF, sorted by signed D (descending): tf, n_sites, n_background,
        D_signed, p_value, fdr, mean_rank_tf, mean_rank_bg, significant.
    """
    sites = sites[np.isfinite(sites[score_col].to_numpy(np.float64))]
    scores = sites[score_col].to_numpy(np.float64)
    groups = sites[by].to_numpy()
    names, counts = np.unique(groups, return_counts=True)
    rows = []
    for tf in names[counts >= min_sites]:
        members = groups == tf
        background = non_overlapping_background(sites, members)
        fg, bg = scores[members], scores[background]
        if bg.size == 0:
            continue
        test = stats.ks_2samp(fg, bg)
        ranks = stats.rankdata(np.concatenate([fg, bg]))
        rank_fg, rank_bg = ranks[: fg.size].mean(), ranks[fg.size :].mean()
        sign = -1.0 if rank_fg < rank_bg else 1.0
        rows.append((tf, fg.size, bg.size, sign * test.statistic, test.pvalue, rank_fg, rank_bg))
    columns = [by, "n_sites", "n_background", "D_signed", "p_value", "mean_rank_tf", "mean_rank_bg"]
    table = pd.DataFrame(rows, columns=columns)
    table.insert(5, "fdr", benjamini_hochberg(table["p_value"].to_numpy()))
    table["significant"] = table["fdr"] < fdr
    return table.sort_values("D_signed", ascending=False, kind="stable").reset_index(drop=True)


def compare_models(
    sites_a: pd.DataFrame,
    sites_b: pd.DataFrame,
    *,
    score_col: str = "site_score",
    keys: Sequence[str] = SITE_KEYS,
    name: str = "difference",
) -> pd.DataFrame:
    """Per-site difference ``a - b`` of two models' site scores (sites present in both).

    Parameters
    ----------
    sites_a, sites_b
        Site tables scored with each model (usually the same hits, e.g. fine-tuned and
        pre-trained, or HepG2 and K562 on the union of their positive predictions).
    score_col
        Score column in both tables.
    keys
        Columns identifying a site.
    name
        Column holding ``a - b``; the inputs' scores are kept as ``{score_col}_a``/``_b``.
    """
    keys = list(keys)
    extra = [c for c in sites_a.columns if c not in (*keys, score_col)]
    left = sites_a[[*keys, *extra, score_col]].rename(columns={score_col: f"{score_col}_a"})
    right = sites_b[[*keys, score_col]].rename(columns={score_col: f"{score_col}_b"})
    merged = left.merge(right, on=keys, how="inner", validate="one_to_one")
    merged[name] = merged[f"{score_col}_a"] - merged[f"{score_col}_b"]
    return merged


def attribution_agreement(
    sites: pd.DataFrame,
    *,
    x: str,
    y: str,
    by: str = "tf",
    min_sites: int = 10,
) -> pd.DataFrame:
    """Correlation of two site scores (gradient × input vs ISM; Supplementary Fig S3).

    Returns one row per group with at least ``min_sites`` sites, plus a row ``"(all)"``:
    n, pearson_r, spearman_r. Expect negative values for max gradient × input vs min ISM delta.
    """
    rows = []
    groups = [("(all)", sites)] + [
        (g, part) for g, part in sites.groupby(by, sort=True) if len(part) >= min_sites
    ]
    for g, part in groups:
        a, b = part[x].to_numpy(np.float64), part[y].to_numpy(np.float64)
        ok = np.isfinite(a) & np.isfinite(b)
        if ok.sum() < 3:
            continue
        rows.append(
            (g, int(ok.sum()), stats.pearsonr(a[ok], b[ok])[0], stats.spearmanr(a[ok], b[ok])[0])
        )
    return pd.DataFrame(rows, columns=[by, "n", "pearson_r", "spearman_r"])


@dataclass(frozen=True)
class PlantedRecovery:
    """How much of the simulated ground truth the scan and the attribution find.

    Attributes
    ----------
    instances
        The planted table with ``scanned`` (a hit of the same matrix at the same bases, any
        strand), ``site_score`` (best score among those hits) and ``high`` (score above the
        background quantile).
    per_tf
        tf, n_planted, frac_scanned, frac_high (over all planted instances of the TF).
    background_threshold
        Site-score quantile of hits overlapping no planted instance.
    frac_scanned, frac_high
        Over all planted instances.
    """

    instances: pd.DataFrame
    per_tf: pd.DataFrame
    background_threshold: float
    frac_scanned: float
    frac_high: float


def planted_recovery(
    planted: pd.DataFrame,
    sites: pd.DataFrame,
    *,
    score_col: str = "site_score",
    quantile: float = 0.9,
    match_on: str = "matrix_id",
) -> PlantedRecovery:
    """Fraction of planted motif instances found by the scan and carrying high attribution.

    Parameters
    ----------
    planted
        Ground truth: region, tf, matrix_id, start, end, strand (region-relative, half-open).
    sites
        Scored hits (:func:`site_scores`) of the same regions.
    score_col
        Site score; "high" means above the ``quantile`` of background sites' scores (use a
        negated ISM score so that higher means more important).
    quantile
        Background quantile defining high attribution.
    match_on
        ``"matrix_id"`` or ``"tf"``: which hits count as the planted motif.
    """
    keys = ["region", match_on, "start", "end"]
    best = sites.groupby(keys, as_index=False, sort=False)[score_col].max()
    found = planted.merge(best, on=keys, how="left", validate="many_to_one")
    touched = np.zeros(len(sites), dtype=bool)
    if len(planted):
        both = pd.concat([planted[["region", "start", "end"]], sites[["region", "start", "end"]]])
        is_planted = np.r_[np.ones(len(planted), bool), np.zeros(len(sites), bool)]
        touched = ~non_overlapping_background(both.reset_index(drop=True), is_planted)
        touched = touched[len(planted) :]
    bg_scores = sites.loc[~touched, score_col].to_numpy(np.float64)
    threshold = float(np.nanquantile(bg_scores, quantile)) if bg_scores.size else np.nan
    found["scanned"] = found[score_col].notna()
    found["high"] = found["scanned"] & (found[score_col] > threshold)
    per_tf = (
        found.groupby("tf", sort=True)
        .agg(
            n_planted=("scanned", "size"),
            frac_scanned=("scanned", "mean"),
            frac_high=("high", "mean"),
        )
        .reset_index()
    )
    return PlantedRecovery(
        instances=found,
        per_tf=per_tf,
        background_threshold=threshold,
        frac_scanned=float(found["scanned"].mean()) if len(found) else np.nan,
        frac_high=float(found["high"].mean()) if len(found) else np.nan,
    )

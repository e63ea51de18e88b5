"""The motif analyses of chapter 7: scored sites, KS tables per analysis, TF rankings.

Every analysis scores the predicted sites of some rows of the :class:`.interpret_regions.
RegionSet` with one model's gradient × input (:data:`ANALYSES`), or with the per-site difference
of two models on the same rows (:data:`DIFFERENCES`), and tests each TF with
:func:`~chromtransfer_lib.interpret.enrichment.ks_enrichment`. :func:`run_enrichment` does all of
them; the rest reads the KS tables: significant TFs in order (:func:`top_tfs`), where the planted
drivers land (:func:`driver_ranks`, :func:`driver_rank_table`), how far motif length alone
explains a ranking (:func:`width_bias`). Pure functions over tables (ARCHITECTURE.md, book layer).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from chromtransfer_lib.book.interpret_regions import RegionSet
from chromtransfer_lib.interpret.enrichment import compare_models, ks_enrichment, site_scores

# --- site tables --------------------------------------------------------------------------------


def scored_sites(hits: pd.DataFrame, attributions: np.ndarray, rows: np.ndarray) -> pd.DataFrame:
    """Hits in ``rows`` with ``site_score`` = max gradient × input over the site's bases."""
    return site_scores(hits[hits["region"].isin(rows)], attributions).reset_index(drop=True)


def ism_site_table(
    hits: pd.DataFrame, gxi: np.ndarray, ism_delta: np.ndarray, rows: np.ndarray
) -> pd.DataFrame:
    """Sites in the ISM ``rows``: ``gxi_max``, ``ism_min`` and ``ism_importance = -ism_min``."""
    rows = np.asarray(rows)
    sub = hits[hits["region"].isin(rows)].copy()
    local = sub.assign(region=np.searchsorted(rows, sub["region"].to_numpy()))
    out = site_scores(local, gxi[rows], name="gxi_max")
    out["ism_min"] = site_scores(local, ism_delta, reduce="min", name="m")["m"].to_numpy()
    out["ism_importance"] = -out["ism_min"]
    out["region"] = sub["region"].to_numpy()
    return out.reset_index(drop=True)


def agreement_factors(names: Sequence[str]) -> list[str]:
    """The Fig S3 factors present: CEBPA, HNF4A and a FOS/JUN heterodimer (first such name)."""
    names = list(dict.fromkeys(names))
    upper = {n.upper(): n for n in names}
    found = [upper[t] for t in ("CEBPA", "HNF4A") if t in upper]
    fosjun = [n for n in names if "::" in n and "FOS" in n.upper() and "JUN" in n.upper()]
    return found + sorted(fosjun)[:1]


# --- the analyses -------------------------------------------------------------------------------

#: Single-model analyses: key → (model, region rows (a line's set, or None for the union), label).
ANALYSES: dict[str, tuple[str, str | None, str]] = {
    "HepG2": ("HepG2", "HepG2", "HepG2 ChromTransfer"),
    "pretrained@HepG2": ("pretrained", "HepG2", "pre-trained (HepG2 regions)"),
    "scratch_HepG2": ("scratch_HepG2", "HepG2", "HepG2 binary baseline"),
    "K562": ("K562", "K562", "K562 ChromTransfer"),
    "pretrained@K562": ("pretrained", "K562", "pre-trained (K562 regions)"),
    "pretrained": ("pretrained", None, "pre-trained (all regions)"),
    "HepG2@union": ("HepG2", None, "HepG2 ChromTransfer (all regions)"),
    "K562@union": ("K562", None, "K562 ChromTransfer (all regions)"),
}
#: Per-site differences ``a − b`` (the sites of both on the same regions): key → (a, b, label).
DIFFERENCES: dict[str, tuple[str, str, str]] = {
    "HepG2-pretrained": ("HepG2", "pretrained@HepG2", "HepG2 ChromTransfer − pre-trained"),
    "K562-pretrained": ("K562", "pretrained@K562", "K562 ChromTransfer − pre-trained"),
    "HepG2-K562": ("HepG2@union", "K562@union", "HepG2 − K562 (union of positives)"),
}
#: The single-model analyses of Fig S4, and the differences of Fig S5.
SINGLE = ("HepG2", "pretrained@HepG2", "scratch_HepG2", "K562", "pretrained@K562")
FINE_TUNING = ("HepG2-pretrained", "K562-pretrained")


@dataclass(frozen=True)
class Enrichment:
    """Scored sites and KS tables of every analysis in :data:`ANALYSES` and :data:`DIFFERENCES`.

    ``clusters`` (TF → look-alike cluster id, :func:`.interpret.clusters.tf_clusters`) is set by
    :func:`.interpretation.motif_enrichment`.
    """

    sites: dict[str, pd.DataFrame]
    ks: dict[str, pd.DataFrame]
    clusters: pd.Series | None = None

    @staticmethod
    def label(key: str) -> str:
        """Display label of an analysis key."""
        return {**ANALYSES, **DIFFERENCES}[key][-1]

    def tested(self) -> list[str]:
        """Every TF tested in at least one analysis, sorted."""
        return sorted(set().union(*(set(ks["tf"]) for ks in self.ks.values())))

    def with_clusters(self, clusters: pd.Series) -> Enrichment:
        """A copy with look-alike clusters."""
        return replace(self, clusters=clusters)


def run_enrichment(
    hits: pd.DataFrame,
    gxi: Mapping[str, np.ndarray],
    regions: RegionSet,
    *,
    min_sites: int,
    fdr: float,
) -> Enrichment:
    """Site scores (max gradient × input) and per-TF KS tests for every analysis."""
    specs = {k: (m, line) for k, (m, line, _) in ANALYSES.items()}
    sites = {k: scored_sites(hits, gxi[m], regions.rows(line)) for k, (m, line) in specs.items()}
    for key, (a, b, _) in DIFFERENCES.items():
        sites[key] = compare_models(sites[a], sites[b], name="site_score")
    ks = {
        k: ks_enrichment(sites[k], min_sites=min_sites, fdr=fdr) for k in (*ANALYSES, *DIFFERENCES)
    }
    return Enrichment(sites, ks)


# --- rankings -----------------------------------------------------------------------------------


def top_tfs(ks: pd.DataFrame, *, by: str = "tf", positive_only: bool = False) -> list[str]:
    """Significant TFs by descending signed D (only those with ``D > 0`` if ``positive_only``)."""
    sig = ks[ks["significant"].astype(bool)]
    if positive_only:
        sig = sig[sig["D_signed"] > 0]
    return sig.sort_values("D_signed", ascending=False, kind="stable")[by].tolist()


def width_bias(ks: pd.DataFrame, hits: pd.DataFrame) -> float:
    """Spearman correlation between a TF's signed D and its median site width (bp).

    Close to +1 means long motifs win by chance (the max over more bases), as for under-trained
    models.
    """
    from scipy import stats

    width = (hits["end"] - hits["start"]).groupby(hits["tf"]).median()
    w = ks["tf"].map(width).to_numpy(float)
    if len(ks) < 3 or np.ptp(w) == 0:
        return float("nan")
    return float(stats.spearmanr(ks["D_signed"], w)[0])


def tf_matrix_ids(hits: pd.DataFrame) -> dict[str, set[str]]:
    """TF name → the matrix IDs of its hits."""
    return {tf: set(g) for tf, g in hits.groupby("tf")["matrix_id"]}


def _matches(name: str, driver: str, ids: Mapping[str, set], driver_id: str | None) -> bool:
    return name.upper() == driver.upper() or (driver_id is not None and driver_id in ids[name])


def driver_ranks(
    ks: pd.DataFrame,
    drivers: Sequence[str],
    *,
    driver_ids: Mapping[str, str | None] | None = None,
    tf_ids: Mapping[str, set[str]] | None = None,
    by: str = "tf",
) -> pd.DataFrame:
    """Where each planted driver lands in a KS ranking.

    Parameters
    ----------
    ks
        :func:`~chromtransfer_lib.interpret.enrichment.ks_enrichment` table (tf, D_signed, fdr,
        significant).
    drivers
        Driver names as the profile spells them (``"SPI1"`` matches JASPAR's ``"Spi1"``).
    driver_ids
        Optional driver name → JASPAR matrix ID; a TF whose matrices include it matches too.
    tf_ids
        TF name → the matrix IDs behind it (from the hits), needed for ID matching.

    Returns
    -------
    pandas.DataFrame
        driver, tf (the matched name, or NaN), rank (1 = highest signed D among the tested TFs;
        NaN when not tested), n_tested, D_signed, fdr, significant, top_rank (position among
        the significant TFs with D > 0, NaN if not there).
    """
    ranked = ks.sort_values("D_signed", ascending=False, kind="stable").reset_index(drop=True)
    top = top_tfs(ranked, by=by, positive_only=True)
    ids = {n: set((tf_ids or {}).get(n, ())) for n in ranked[by]}
    rows = []
    for d in drivers:
        did = (driver_ids or {}).get(d)
        hit = [i for i, n in enumerate(ranked[by]) if _matches(n, d, ids, did)]
        row = {"driver": d, "tf": np.nan, "rank": np.nan, "n_tested": len(ranked)}
        row |= {"D_signed": np.nan, "fdr": np.nan, "significant": False, "top_rank": np.nan}
        if hit:
            r = ranked.iloc[hit[0]]
            row |= {"tf": r[by], "rank": hit[0] + 1, "D_signed": r["D_signed"], "fdr": r["fdr"]}
            row |= {"significant": bool(r["significant"])}
            row["top_rank"] = top.index(r[by]) + 1 if r[by] in top else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def drivers_in_top(ranks: pd.DataFrame, *, n: int = 5, column: str = "top_rank") -> int:
    """Drivers among the ``n`` best significant TFs with D > 0 (from :func:`driver_ranks`);
    ``column="cluster_rank"`` counts drivers whose look-alike cluster is among the ``n`` best."""
    return int((ranks[column] <= n).sum())


def with_cluster_ranks(ranks: pd.DataFrame, ks: pd.DataFrame, clusters: pd.Series) -> pd.DataFrame:
    """Add ``cluster_rank`` and ``cluster_lead`` to :func:`driver_ranks`: where a significant,
    positive driver's look-alike cluster lands in :func:`.interpret.clusters.cluster_ranking`."""
    from chromtransfer_lib.interpret.clusters import cluster_ranking

    table = cluster_ranking(ks, clusters)
    rank_of = dict(zip(table["cluster"], table["rank"], strict=True))
    lead_of = dict(zip(table["cluster"], table["lead"], strict=True))
    sig = ranks["significant"].astype(bool) & (ranks["D_signed"] > 0)
    cl = [clusters.get(t) if ok else None for t, ok in zip(ranks["tf"], sig, strict=True)]
    return ranks.assign(
        cluster_rank=[rank_of.get(c, np.nan) if c is not None else np.nan for c in cl],
        cluster_lead=[lead_of.get(c) if c is not None else None for c in cl],
    )


#: Which analyses each line's planted drivers are looked up in; the last, a control, is the
#: other line's model on the union of both lines' regions (so the drivers' sites are there).
DRIVER_ANALYSES = {
    "HepG2": ("HepG2", "pretrained@HepG2", "scratch_HepG2", "K562@union"),
    "K562": ("K562", "pretrained@K562", "HepG2@union"),
}


def analysis_role(key: str, line: str) -> str:
    """What an analysis is relative to ``line``: ChromTransfer, binary baseline, pre-trained, or
    the other line's ChromTransfer (a control)."""
    if key == line:
        return "ChromTransfer"
    if key.startswith("scratch_"):
        return "binary baseline"
    if key.startswith("pretrained"):
        return "pre-trained"
    return "other line's ChromTransfer (all regions)"


def driver_rank_table(
    enr: Enrichment,
    drivers: Mapping[str, Mapping[str, str | None]],
    tf_ids: Mapping[str, set],
) -> pd.DataFrame:
    """Rank of every planted driver of each line in the analyses of :data:`DRIVER_ANALYSES`.

    ``drivers`` maps a line to driver name → matrix ID (:func:`.interpret_truth.line_drivers`).
    With ``enr.clusters``, two more columns: ``cluster_rank``, the rank of the driver's cluster
    among the clusters with a significant, positive member (NaN unless the driver itself is
    significant with D > 0), and ``cluster_lead``, that cluster's best member.
    """
    parts = []
    for line, keys in DRIVER_ANALYSES.items():
        for key in keys:
            r = driver_ranks(
                enr.ks[key], list(drivers[line]), driver_ids=drivers[line], tf_ids=tf_ids
            )
            if enr.clusters is not None:
                r = with_cluster_ranks(r, enr.ks[key], enr.clusters)
            parts.append(
                r.assign(
                    line=line,
                    analysis=key,
                    model=Enrichment.label(key),
                    role=analysis_role(key, line),
                )
            )
    return pd.concat(parts, ignore_index=True)

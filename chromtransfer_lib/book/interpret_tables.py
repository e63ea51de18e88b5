"""Tables, rankings and sentences of the interpretation chapters (6 and 7).

Pure functions over what :mod:`.interpretation` computes and caches (the analysed
:class:`~.interpretation.RegionSet`, scored sites, the :class:`~.interpretation.Enrichment`
KS tables): ECDF frames, TF rankings and where the planted drivers land in them, the world's
ground truth in window coordinates, per-analysis overviews, the chapters' metrics, and the
sentences glued into the prose.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from chromtransfer_lib.book.interpretation import (
    ANALYSES,
    DIFFERENCES,
    MODEL_LABELS,
    Enrichment,
    RegionSet,
    Scan,
)
from chromtransfer_lib.interpret.enrichment import non_overlapping_background

# --- site tables --------------------------------------------------------------------------------


def agreement_factors(names: Sequence[str]) -> list[str]:
    """The Fig S3 factors present: CEBPA, HNF4A and a FOS/JUN heterodimer (first such name)."""
    names = list(dict.fromkeys(names))
    upper = {n.upper(): n for n in names}
    found = [upper[t] for t in ("CEBPA", "HNF4A") if t in upper]
    fosjun = [n for n in names if "::" in n and "FOS" in n.upper() and "JUN" in n.upper()]
    return found + sorted(fosjun)[:1]


def ecdf_frame(
    sites: Mapping[str, pd.DataFrame], tfs: Sequence[str], *, score_col: str = "site_score"
) -> pd.DataFrame:
    """Long table for ECDFs: per model and highlighted TF, its sites vs non-overlapping others.

    Columns: model, panel (the TF), group (the TF's name or ``"other TFs"``), score. TFs are
    matched case-insensitively; a TF without sites is left out.
    """
    parts = []
    for model, tab in sites.items():
        upper = tab["tf"].str.upper().to_numpy()
        for tf in tfs:
            members = upper == tf.upper()
            if not members.any():
                continue
            bg = non_overlapping_background(tab, members)
            for group, mask in ((tf, members), ("other TFs", bg)):
                parts.append(
                    pd.DataFrame(
                        {"model": model, "panel": tf, "group": group, "score": tab[score_col][mask]}
                    )
                )
    cols = ["model", "panel", "group", "score"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)


# --- rankings and the planted drivers -----------------------------------------------------------


def top_tfs(ks: pd.DataFrame, *, by: str = "tf", positive_only: bool = False) -> list[str]:
    """Significant TFs by descending signed D (only those with ``D > 0`` if ``positive_only``)."""
    sig = ks[ks["significant"].astype(bool)]
    if positive_only:
        sig = sig[sig["D_signed"] > 0]
    return sig.sort_values("D_signed", ascending=False, kind="stable")[by].tolist()


def _matches(name: str, driver: str, ids: Mapping[str, set], driver_id: str | None) -> bool:
    return name.upper() == driver.upper() or (driver_id is not None and driver_id in ids[name])


def driver_ranks(
    ks: pd.DataFrame,
    drivers: Sequence[str],
    *,
    driver_ids: Mapping[str, str] | None = None,
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
    positive driver's look-alike cluster lands in :func:`.motif_clusters.cluster_ranking`."""
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


def tf_matrix_ids(hits: pd.DataFrame) -> dict[str, set[str]]:
    """TF name → the matrix IDs of its hits."""
    return {tf: set(g) for tf, g in hits.groupby("tf")["matrix_id"]}


def line_drivers(
    motif_roles: pd.DataFrame | None, drivers: Mapping[str, Sequence[str]], line: str
) -> dict[str, str | None]:
    """Driver name → matrix ID for ``line`` (IDs from the world's ``motifs.tsv`` when given)."""
    ids: dict[str, str | None] = {d: None for d in drivers.get(line, ())}
    if motif_roles is not None and len(ids):
        mine = motif_roles[motif_roles["driver_of"] == line]
        for d in ids:
            same = mine[mine["name"].str.upper() == d.upper()]
            ids[d] = same["matrix_id"].iloc[0] if len(same) else None
    return ids


def planted_in_windows(truth: pd.DataFrame, regions: pd.DataFrame) -> pd.DataFrame:
    """Planted sites in the coordinates of the analysed windows.

    A site belongs to every window that contains all of its bases (genome coordinates; usually
    only its own region's window, but overlapping regions share sites, and background sites can
    fall in a window too).

    Parameters
    ----------
    truth
        The world's ``ground_truth.tsv``: region (rDHS name, ``.`` for background), chrom,
        start, end (genome, 0-based half-open), rel_start, rel_end (from the 600-bp region's
        start), tf, matrix_id, role, region_class, strand.
    regions
        Analysed windows: chrom, start, end (the stored input window). Row ``i`` is attribution
        row ``i``. (The 600-bp region starts ``(600 - L) // 2`` bases before the window; a
        site's window coordinate is ``rel_start - (start - region_start)``, the same number.)

    Returns
    -------
    pandas.DataFrame
        One row per (site, window): region (row of ``regions``), rdhs, tf, matrix_id, role,
        region_class, strand, start, end (0-based, half-open, window-relative).
    """
    t = truth.rename(columns={"region": "rdhs"}).reset_index(drop=True)
    placed = t[t["rel_start"].notna()]
    n_starts = (placed["start"] - placed["rel_start"]).groupby(placed["rdhs"]).nunique()
    if (n_starts > 1).any():
        bad = n_starts[n_starts > 1].index[0]
        raise ValueError(
            f"ground truth: sites of {bad} disagree on the region start (start - rel_start); "
            "is this a ground_truth.tsv written by chromtransfer_lib.sim.world?"
        )
    pairs = []
    win = regions.reset_index(drop=True)
    for chrom, w in win.groupby("chrom", sort=False):
        sites = t[t["chrom"] == chrom]
        order = np.argsort(w["start"].to_numpy(), kind="stable")
        w_start, w_end = w["start"].to_numpy()[order], w["end"].to_numpy()[order]
        w_row = w.index.to_numpy()[order]
        longest = int((w_end - w_start).max())
        s_start, s_end = sites["start"].to_numpy(), sites["end"].to_numpy()
        lo = np.searchsorted(w_start, s_end - longest, side="left")
        hi = np.searchsorted(w_start, s_start, side="right")  # windows starting at or before
        n = np.maximum(hi - lo, 0)
        site_i = np.repeat(np.arange(len(sites)), n)
        cand = np.repeat(lo - np.cumsum(n) + n, n) + np.arange(n.sum())
        keep = w_end[cand] >= s_end[site_i]
        site_i, cand = site_i[keep], cand[keep]
        pairs.append(
            sites.iloc[site_i].assign(
                region=w_row[cand],
                start=s_start[site_i] - w_start[cand],
                end=s_end[site_i] - w_start[cand],
            )
        )
    cols = ["region", "rdhs", "tf", "matrix_id", "role", "region_class", "strand", "start", "end"]
    if not pairs:
        return pd.DataFrame(columns=cols)
    out = pd.concat(pairs, ignore_index=True)[cols]
    return out.sort_values(["region", "start"], kind="stable").reset_index(drop=True)


def ranking_long(tables: Mapping[str, pd.DataFrame], *, by: str = "tf") -> pd.DataFrame:
    """KS tables of several analyses stacked with their ``rank`` (1 = highest signed D)."""
    parts = [
        t.sort_values("D_signed", ascending=False, kind="stable").assign(
            analysis=name, rank=np.arange(1, len(t) + 1)
        )
        for name, t in tables.items()
    ]
    cols = ["analysis", "rank", by, "n_sites", "D_signed", "fdr", "significant"]
    return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)


def d_versus(
    ks_a: pd.DataFrame, ks_b: pd.DataFrame, ks_diff: pd.DataFrame, *, by: str = "tf"
) -> pd.DataFrame:
    """Fig 3G table: per TF tested in both, ``D_a``, ``D_b`` and the D of the per-site
    difference ``a - b`` (NaN where not tested), with ``significant_diff``."""
    a = ks_a[[by, "D_signed"]].rename(columns={"D_signed": "D_a"})
    b = ks_b[[by, "D_signed"]].rename(columns={"D_signed": "D_b"})
    d = ks_diff[[by, "D_signed", "significant"]].rename(
        columns={"D_signed": "D_diff", "significant": "significant_diff"}
    )
    out = a.merge(b, on=by).merge(d, on=by, how="left")
    out["significant_diff"] = out["significant_diff"].fillna(False).astype(bool)
    return out.sort_values("D_diff", ascending=False, kind="stable").reset_index(drop=True)


def driver_sentence(
    ranks: pd.DataFrame, ks: pd.DataFrame, *, model: str, line: str, fdr: float, n: int = 5
) -> str:
    """One sentence on how a model's KS ranking treats ``line``'s planted drivers."""
    n_sig = int(ks["significant"].sum()) if len(ks) else 0
    if not len(ks):
        return f"No TF had enough predicted sites to be tested for the {model} model."
    if n_sig == 0:
        return (
            f"For the {model} model no TF passes FDR < {fdr:g} among the {len(ks)} tested, so its "
            f"ranking is no evidence either way about the {line} drivers."
        )
    k, best = drivers_in_top(ranks, n=n), ranks.dropna(subset=["rank"]).sort_values("rank")
    found = ", ".join(ranks.loc[ranks["top_rank"] <= n, "tf"].astype(str)) or "none"
    text = (
        f"For the {model} model, {n_sig} of {len(ks)} tested TFs pass FDR < {fdr:g}; "
        f"{k} of the {len(ranks)} planted {line} drivers {'is' if k == 1 else 'are'} among its "
        f"top {n} ({found})"
    )
    if len(best):
        b = best.iloc[0]
        text += f", and the best-ranked driver, {b['tf']}, is #{int(b['rank'])} by signed D"
    return text + "."


def window_name(regions: RegionSet, row: int) -> str:
    """``chrom:start-end`` of the model's input window of a row (genome coordinates)."""
    r = regions.regions.iloc[row]
    return f"{r['chrom']}:{r['start']:,}-{r['end']:,}"


def track_sites(sites: pd.DataFrame, row: int, *, n: int = 5) -> pd.DataFrame:
    """The ``n`` best-scoring, mutually non-overlapping sites of one region (track labels)."""
    part = sites[sites["region"] == row].sort_values("site_score", ascending=False)
    chosen: list[int] = []
    taken = np.zeros(int(part["end"].max()) + 1 if len(part) else 0, dtype=bool)
    for i, s in zip(part.index, part.itertuples(), strict=True):
        if len(chosen) == n:
            break
        if not taken[s.start : s.end].any():
            chosen.append(i)
            taken[s.start : s.end] = True
    return part.loc[chosen].sort_values("start")


def width_bias(ks: pd.DataFrame, hits: pd.DataFrame) -> float:
    """Spearman correlation between a TF's signed D and its median site width (bp).

    Close to +1 means long motifs win by chance (the max over more bases), as for under-trained
    models (design.md §8).
    """
    from scipy import stats

    width = (hits["end"] - hits["start"]).groupby(hits["tf"]).median()
    w = ks["tf"].map(width).to_numpy(float)
    if len(ks) < 3 or np.ptp(w) == 0:
        return float("nan")
    return float(stats.spearmanr(ks["D_signed"], w)[0])


def enrichment_overview(enr: Enrichment, hits: pd.DataFrame, *, n: int = 5) -> pd.DataFrame:
    """One row per analysis: sites, TFs tested, significant, top ``n`` TFs, ρ(D, width)."""
    rows = []
    for key, ks in enr.ks.items():
        rows.append(
            {
                "analysis": Enrichment.label(key),
                "sites": len(enr.sites[key]),
                "TFs tested": len(ks),
                "significant": int(ks["significant"].sum()),
                f"top {n} (significant, D > 0)": ", ".join(top_tfs(ks, positive_only=True)[:n]),
                "ρ(D, motif width)": round(width_bias(ks, hits), 2),
            }
        )
    return pd.DataFrame(rows)


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
    *,
    clusters: pd.Series | None = None,
) -> pd.DataFrame:
    """Rank of every planted driver of each line in the analyses of :data:`DRIVER_ANALYSES`.

    ``drivers`` maps a line to driver name → matrix ID (:func:`line_drivers`). With
    ``clusters`` (TF → look-alike cluster, :func:`.motif_clusters.tf_clusters`), two more
    columns: ``cluster_rank``, the rank of the driver's cluster among the clusters with a
    significant, positive member (NaN unless the driver itself is significant with D > 0), and
    ``cluster_lead``, that cluster's best member.
    """
    parts = []
    for line, keys in DRIVER_ANALYSES.items():
        for key in keys:
            r = driver_ranks(
                enr.ks[key], list(drivers[line]), driver_ids=drivers[line], tf_ids=tf_ids
            )
            if clusters is not None:
                r = with_cluster_ranks(r, enr.ks[key], clusters)
            parts.append(
                r.assign(
                    line=line,
                    analysis=key,
                    model=Enrichment.label(key),
                    role=analysis_role(key, line),
                )
            )
    return pd.concat(parts, ignore_index=True)


def recovery_tables(
    enr: Enrichment,
    planted: pd.DataFrame,
    regions: RegionSet,
    drivers: Mapping[str, Mapping[str, str | None]],
    *,
    quantile: float = 0.9,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Planted driver sites found by the scan and carrying high attribution, per analysis.

    Returns an overview (line, model, planted driver sites, share scanned, share high) and the
    per-driver shares (line, model, tf, n_planted, frac_scanned, frac_high).
    """
    from chromtransfer_lib.interpret.enrichment import planted_recovery

    overview, per_tf = [], []
    for line, keys in DRIVER_ANALYSES.items():
        ids = {i for i in drivers[line].values() if i}
        mine = planted[
            (planted["role"] == "driver")
            & planted["matrix_id"].isin(ids)
            & planted["region"].isin(regions.rows(line))
        ]
        for key in keys[:-1]:  # the cross-line control is scored on other regions
            rec = planted_recovery(mine, enr.sites[key], quantile=quantile)
            label = Enrichment.label(key)
            overview.append(
                {
                    "line": line,
                    "analysis": key,
                    "model": label,
                    "planted driver sites": len(mine),
                    "share scanned": rec.frac_scanned,
                    "share with high attribution": rec.frac_high,
                }
            )
            per_tf.append(rec.per_tf.assign(line=line, model=label, role=analysis_role(key, line)))
    return pd.DataFrame(overview), pd.concat(per_tf, ignore_index=True)


# --- chapter 6: overview and metrics -----------------------------------------------------------


def model_overview(
    gxi: Mapping[str, np.ndarray], proba: Mapping[str, np.ndarray], regions: RegionSet
) -> pd.DataFrame:
    """Per model: mean probability on each line's analysed regions and mean |gradient × input|."""
    lines = [c[3:] for c in regions.regions.columns if c.startswith("in_")]
    rows = []
    for m in gxi:
        row = {"model": MODEL_LABELS.get(m, m)}
        row |= {f"mean p, {ln} regions": float(proba[m][regions.rows(ln)].mean()) for ln in lines}
        row["mean |gradient × input|"] = float(np.abs(gxi[m]).mean())
        rows.append(row)
    return pd.DataFrame(rows).set_index("model")


def attribution_metrics(
    regions: RegionSet,
    agreement: pd.DataFrame,
    factors: Sequence[str],
    *,
    n_ism_regions: int,
    n_ism_sites: int,
    n_hits: int,
    line: str = "HepG2",
) -> dict[str, object]:
    """Chapter 6's metrics: selection counts, ISM agreement overall and per factor."""
    stats = agreement.set_index(agreement.columns[0])
    get = lambda tf, col: stats[col].get(tf, np.nan)  # noqa: E731
    out: dict[str, object] = {
        f"attribution.{line}.site_spearman_gxi_vs_ism": get("(all)", "spearman_r"),
        f"attribution.{line}.site_pearson_gxi_vs_ism": get("(all)", "pearson_r"),
        f"attribution.{line}.ism_regions": n_ism_regions,
        f"attribution.{line}.ism_sites": n_ism_sites,
        "attribution.union_regions": len(regions.regions),
        "attribution.scan_sites": n_hits,
    }
    out |= {
        f"attribution.{line}.site_spearman_gxi_vs_ism.{tf}": get(tf, "spearman_r") for tf in factors
    }
    for r in regions.selection.to_dict("records"):
        key = f"attribution.{r['cell_line']}"
        out |= {f"{key}.positive_predictions": r["predicted positive"]}
        out |= {f"{key}.analysed": r["analysed"], f"{key}.fallback": bool(r["fallback"])}
    return out


def world_drivers(
    motif_roles: pd.DataFrame | None,
    drivers: Mapping[str, Sequence[str]],
    lines: Sequence[str] = ("HepG2", "K562"),
) -> dict[str, dict[str, str | None]]:
    """Line → driver name → matrix ID (:func:`line_drivers` for each of ``lines``)."""
    return {line: line_drivers(motif_roles, drivers, line) for line in lines}


def analysis_driver_names(drivers: Mapping[str, Mapping[str, object]]) -> dict[str, set[str]]:
    """Analysis label → upper-case names of the drivers of the line its regions belong to."""
    out = {}
    for key, spec in {**ANALYSES, **DIFFERENCES}.items():
        line = next((ln for ln in drivers if ln in key), None)
        out[spec[-1]] = {d.upper() for d in drivers.get(line, {})}
    return out


def enrichment_metrics(
    enr: Enrichment,
    ranks: pd.DataFrame,
    scan: Scan,
    *,
    recovery: pd.DataFrame | None = None,
    clusters: pd.Series | None = None,
    n: int = 5,
) -> dict[str, object]:
    """Chapter 7's metrics: top TFs, driver ranks and top-``n`` counts, scan and recovery.

    Keys: ``enrichment.<model>.top_tfs`` (significant TFs by descending signed D),
    ``enrichment.<model>.driver_ranks`` / ``drivers_in_top5`` for a model's own line, and
    ``enrichment.<model>.<line>_driver_ranks`` / ``<line>_drivers_in_top5`` otherwise (the
    pre-trained model on each line's regions, the other line's model as a control); with
    cluster ranks in ``ranks``, the same counts over look-alike clusters (``…_top5_clusters``),
    and with ``clusters`` each analysis's 10 best clusters (``top_clusters``: member lists).
    """
    out: dict[str, object] = {
        "enrichment.scan.n_matrices": scan.n_matrices,
        "enrichment.scan.n_unreachable": len(scan.unreachable),
        "enrichment.scan.n_sites": len(scan.hits),
    }
    for key, ks in enr.ks.items():
        name = key.replace("@", "_").replace("-", "_minus_")
        if key == "pretrained":
            name = "pretrained"
        out[f"enrichment.{name}.top_tfs"] = top_tfs(ks)
        out[f"enrichment.{name}.n_tested"] = len(ks)
        out[f"enrichment.{name}.n_significant"] = int(ks["significant"].sum())
        out[f"enrichment.{name}.width_bias_spearman"] = width_bias(ks, scan.hits)
        if clusters is not None:
            from chromtransfer_lib.interpret.clusters import cluster_ranking

            top = cluster_ranking(ks, clusters).head(10)
            out[f"enrichment.{name}.top_clusters"] = [m.split(", ") for m in top["members"]]
    for (line, key), g in ranks.groupby(["line", "analysis"], sort=False):
        model = key.split("@")[0]
        prefix = "" if key in (line, f"scratch_{line}") else f"{line}_"
        out[f"enrichment.{model}.{prefix}driver_ranks"] = {
            d: (None if pd.isna(r) else int(r)) for d, r in zip(g["driver"], g["rank"], strict=True)
        }
        out[f"enrichment.{model}.{prefix}drivers_in_top{n}"] = drivers_in_top(g, n=n)
        if "cluster_rank" in g:
            out[f"enrichment.{model}.{prefix}drivers_in_top{n}_clusters"] = drivers_in_top(
                g, n=n, column="cluster_rank"
            )
    for r in [] if recovery is None else recovery.to_dict("records"):
        key = f"enrichment.recovery.{r['line']}.{r['analysis']}"
        out[f"{key}.frac_scanned"] = r["share scanned"]
        out[f"{key}.frac_high"] = r["share with high attribution"]
    return out


# --- sentences for the prose (glued) ------------------------------------------------------------


def selection_sentence(selection: pd.DataFrame, *, max_regions: int) -> str:
    """How the analysed regions were chosen, including any fallback."""
    parts = []
    for r in selection.to_dict("records"):
        if r["fallback"]:
            parts.append(
                f"the {r['cell_line']} model predicted no region positive, so the "
                f"{r['analysed']} labelled positives it scored highest stand in"
            )
        else:
            parts.append(
                f"the {r['cell_line']} model predicted {r['predicted positive']} of "
                f"{r['rows (train + test)']} regions positive and {r['analysed']} were analysed"
            )
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + f" (at most {max_regions} per line)."


def agreement_sentence(agreement: pd.DataFrame, *, n_regions: int) -> str:
    """Overall gradient × input vs ISM agreement in words, conditional on its strength."""
    row = agreement[agreement.iloc[:, 0] == "(all)"]
    if not len(row):
        return "Too few sites fell in the ISM regions to correlate the two scores."
    rho, r, n = row["spearman_r"].iloc[0], row["pearson_r"].iloc[0], int(row["n"].iloc[0])
    verdict = (
        "they agree well, as in the paper's Fig S3"
        if rho >= 0.5
        else "they agree only moderately"
        if rho >= 0.2
        else "they barely agree, unlike in the paper (expected when the model has learnt little)"
    )
    return (
        f"Over {n} predicted sites in {n_regions} regions, site max gradient × input and the "
        f"negated site min ISM delta correlate with Spearman ρ = {rho:.2f} (Pearson r = {r:.2f}): "
        f"{verdict}."
    )


def comparison_sentence(ranks: pd.DataFrame, *, line: str, n: int = 5) -> str:
    """Fine-tuned vs pre-trained and baseline on ``line``'s drivers, plus the cross-line control
    (:func:`driver_rank_table` rows)."""
    mine = ranks[ranks["line"] == line]
    counts = {m: int((g["top_rank"] <= n).sum()) for m, g in mine.groupby("analysis", sort=False)}
    total, own = int((mine["analysis"] == line).sum()), counts.get(line, 0)
    *others, control = DRIVER_ANALYSES[line][1:]
    against = " and ".join(
        f"{counts.get(k, 0)} for the {Enrichment.label(k)}" for k in others if k in counts
    )
    if own == 0:
        verdict = "none of the planted drivers reaches the fine-tuned model's top in this run"
    elif own > max((counts.get(k, 0) for k in others), default=0):
        verdict = "fine-tuning moved the planted drivers up, as the paper found for HNF4A and CEBPA"
    else:
        verdict = "fine-tuning did not move the planted drivers above the other models here"
    return (
        f"Among the top {n} significant TFs, {own} of the {total} planted {line} drivers "
        f"appear for the {Enrichment.label(line)} model, against {against}; the control, "
        f"{Enrichment.label(control)}, has {counts.get(control, 0)}. In short, {verdict}."
    )


def ranking_sentences(
    enr: Enrichment, ranks: pd.DataFrame, *, fdr: float, lines: Sequence[str] = ("HepG2", "K562")
) -> dict[str, str]:
    """``sentence_<line>`` (:func:`driver_sentence`) and ``comparison_<line>``
    (:func:`comparison_sentence`) for each line, ready to glue."""
    out = {}
    for line in lines:
        own = ranks[ranks["analysis"] == line]
        label = Enrichment.label(line)
        out[f"sentence_{line}"] = driver_sentence(
            own, enr.ks[line], model=label, line=line, fdr=fdr
        )
        out[f"comparison_{line}"] = comparison_sentence(ranks, line=line)
    return out


# --- look-alike clusters -----------------------------------------------------------------------


def cluster_tables(
    enr: Enrichment, clusters: pd.Series, keys: Sequence[str], *, n: int = 5, members: int = 4
) -> pd.DataFrame:
    """The ``n`` best look-alike clusters of each analysis, side by side (rows: rank; columns:
    model; cells: the lead TF with up to ``members`` further significant members)."""
    from chromtransfer_lib.interpret.clusters import cluster_ranking

    cols = {}
    for key in keys:
        table = cluster_ranking(enr.ks[key], clusters).head(n)
        cells = []
        for names in table["members"]:
            parts = names.split(", ")
            more = f" +{len(parts) - members - 1}" if len(parts) > members + 1 else ""
            rest = f" ({', '.join(parts[1 : members + 1])}{more})" if len(parts) > 1 else ""
            cells.append(parts[0] + rest)
        cols[Enrichment.label(key)] = cells + [""] * (n - len(cells))
    return pd.DataFrame(cols, index=pd.RangeIndex(1, n + 1, name="cluster rank"))


def cluster_sentence(
    ranks: pd.DataFrame, *, lines: Sequence[str] = ("HepG2", "K562"), n: int = 5
) -> str:
    """How many planted drivers sit in the top-``n`` clusters, fine-tuned vs pre-trained."""
    if "cluster_rank" not in ranks:
        return ""
    parts = []
    for line in lines:
        own = ranks[(ranks["line"] == line) & (ranks["analysis"] == line)]
        pre = ranks[(ranks["line"] == line) & (ranks["analysis"] == f"pretrained@{line}")]
        if own.empty:
            continue
        top = own[own["cluster_rank"] <= n].sort_values("cluster_rank")
        which = ", ".join(
            f"{d} #{int(r)}" + (f" with {lead}" if lead != tf else "")
            for d, tf, r, lead in zip(
                top["driver"], top["tf"], top["cluster_rank"], top["cluster_lead"], strict=True
            )
        )
        k = drivers_in_top(own, n=n, column="cluster_rank")
        parts.append(
            f"{k} of {line}'s {len(own)} planted drivers {'is' if k == 1 else 'are'} in the "
            f"{line} model's top {n} clusters"
            + (f" ({which})" if which else "")
            + f" — {drivers_in_top(own, n=n)} counted matrix by matrix — against "
            f"{drivers_in_top(pre, n=n, column='cluster_rank')} for the pre-trained model"
        )
    if not parts:
        return ""
    return "Counted this way, " + "; ".join(parts) + "."

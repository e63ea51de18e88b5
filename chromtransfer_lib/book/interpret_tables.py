"""Tables of the interpretation chapters (6 and 7), one function per table, and the long frames
their figures draw.

Chapter tables take the chapter's bundles (:class:`.interpretation.Attribution`,
:class:`.interpretation.IsmCheck`, :class:`.interpret_analyses.Enrichment`) and return a
DataFrame ready to display; the frames below them (:func:`ecdf_frame`, :func:`ranking_long`,
:func:`d_versus`, :func:`track_sites`) are pure functions over site and KS tables that
:mod:`.interpret_figures` plots. Numbers only: the chapters write the sentences
(ARCHITECTURE.md, book layer).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from chromtransfer_lib.book.interpret_analyses import (
    Enrichment,
    analysis_role,
    driver_rank_table,
    drivers_in_top,
    tf_matrix_ids,
    top_tfs,
    width_bias,
)
from chromtransfer_lib.book.interpret_regions import MODEL_LABELS
from chromtransfer_lib.book.interpret_truth import recovery_tables
from chromtransfer_lib.book.interpretation import Attribution, IsmCheck
from chromtransfer_lib.interpret.enrichment import non_overlapping_background

# --- chapter 6 ----------------------------------------------------------------------------------


def models_table(att: Attribution) -> pd.DataFrame:
    """The models interpreted: key, label and saved file (relative to the run directory)."""
    return att.models.table(att.run_dir)


def selection_table(att: Attribution) -> pd.DataFrame:
    """Per line: rows (train + test), labelled and predicted positive, analysed, fallback."""
    return att.regions.selection.copy()


def saturation_bins(
    gxi_logit: np.ndarray, gxi_probability: np.ndarray, proba: np.ndarray, rows: np.ndarray
) -> pd.DataFrame:
    """Median per-region max |gradient × input| by predicted-probability bin, for both targets.

    Shows why logits are attributed: probability gradients shrink as p approaches 1.
    """
    bins = [0.0, 0.5, 0.9, 0.99, 0.999, 1.0]
    p = proba[rows]
    frame = pd.DataFrame(
        {
            "probability bin": pd.cut(p, bins, include_lowest=True),
            "logit target": np.abs(gxi_logit[rows]).max(axis=1),
            "probability target": np.abs(gxi_probability[rows]).max(axis=1),
        }
    )
    out = frame.groupby("probability bin", observed=True).agg(
        regions=("logit target", "size"),
        logit=("logit target", "median"),
        probability=("probability target", "median"),
    )
    return out.rename(
        columns={
            "logit": "median max |g×i|, logit",
            "probability": "median max |g×i|, probability",
        }
    )


def saturation_table(
    att: Attribution, gxi_probability: np.ndarray, *, line: str = "HepG2"
) -> pd.DataFrame:
    """:func:`saturation_bins` of ``line``'s model on its own regions (``gxi_probability`` from
    :func:`.interpretation.ensure_probability_gxi`)."""
    rows = att.regions.rows(line)
    return saturation_bins(att.gxi[line], gxi_probability, att.proba[line], rows)


def model_overview(att: Attribution, *, decimals: int = 3) -> pd.DataFrame:
    """Per model: mean probability on each line's analysed regions and mean |gradient × input|."""
    rows = []
    for m in att.gxi:
        row = {"model": MODEL_LABELS.get(m, m)}
        for ln in att.regions.lines:
            row[f"mean p, {ln} regions"] = float(att.proba[m][att.regions.rows(ln)].mean())
        row["mean |gradient × input|"] = float(np.abs(att.gxi[m]).mean())
        rows.append(row)
    return pd.DataFrame(rows).set_index("model").round(decimals)


def agreement_table(ism: IsmCheck, *, decimals: int = 3) -> pd.DataFrame:
    """Gradient × input vs ISM correlations over all sites and for the Fig S3 factors."""
    agreement = ism.agreement
    keep = agreement["tf"].isin(["(all)", *ism.factors])
    return agreement[keep].round(decimals)


# --- chapter 7 ----------------------------------------------------------------------------------


def unreachable_table(att: Attribution) -> pd.DataFrame:
    """Matrices that can never reach the scan's p-value threshold, counted by width (one row)."""
    counts = att.scan.unreachable.groupby("width").size()
    return counts.rename("matrices never reaching the threshold").to_frame().T


def ks_overview(att: Attribution, enr: Enrichment, *, n: int = 5) -> pd.DataFrame:
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
                "ρ(D, motif width)": round(width_bias(ks, att.scan.hits), 2),
            }
        )
    return pd.DataFrame(rows)


def d_versus_table(enr: Enrichment, *, n: int = 8, decimals: int = 3) -> pd.DataFrame:
    """Fig 3G's TFs most biased towards HepG2 (largest D of HepG2 − K562), ``n`` rows."""
    return d_versus_frame(enr).head(n).round(decimals)


def driver_ranks(att: Attribution, enr: Enrichment) -> pd.DataFrame:
    """:func:`.interpret_analyses.driver_rank_table` of the run's drivers and scan."""
    return driver_rank_table(enr, att.drivers, tf_matrix_ids(att.scan.hits))


def driver_counts(att: Attribution, enr: Enrichment, *, n: int = 5) -> pd.DataFrame:
    """Per line and analysis: planted drivers, how many were tested, and how many are among the
    ``n`` best significant TFs with D > 0 (and, with clusters, among the ``n`` best clusters)."""
    ranks = driver_ranks(att, enr)
    rows = []
    for (line, key), g in ranks.groupby(["line", "analysis"], sort=False):
        row = {"line": line, "model": Enrichment.label(key), "role": analysis_role(key, line)}
        row |= {"drivers": len(g), "tested": int(g["rank"].notna().sum())}
        row[f"in top {n}"] = drivers_in_top(g, n=n)
        if "cluster_rank" in g:
            row[f"in top {n} clusters"] = drivers_in_top(g, n=n, column="cluster_rank")
        rows.append(row)
    return pd.DataFrame(rows)


def cluster_table(
    enr: Enrichment,
    keys: Sequence[str] = ("HepG2", "pretrained@HepG2", "K562", "pretrained@K562"),
    *,
    n: int = 5,
    members: int = 4,
) -> pd.DataFrame:
    """The ``n`` best look-alike clusters of each analysis, side by side (rows: rank; columns:
    model; cells: the lead TF with up to ``members`` further significant members)."""
    from chromtransfer_lib.interpret.clusters import cluster_ranking

    cols = {}
    for key in keys:
        table = cluster_ranking(enr.ks[key], enr.clusters).head(n)
        cells = []
        for names in table["members"]:
            parts = names.split(", ")
            more = f" +{len(parts) - members - 1}" if len(parts) > members + 1 else ""
            rest = f" ({', '.join(parts[1 : members + 1])}{more})" if len(parts) > 1 else ""
            cells.append(parts[0] + rest)
        cols[Enrichment.label(key)] = cells + [""] * (n - len(cells))
    return pd.DataFrame(cols, index=pd.RangeIndex(1, n + 1, name="cluster rank"))


def recovery(att: Attribution, enr: Enrichment) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`.interpret_truth.recovery_tables` for the run (two empty tables on real data)."""
    if att.planted is None:
        return pd.DataFrame(), pd.DataFrame()
    return recovery_tables(enr, att.planted, att.regions, att.drivers)


def recovery_table(att: Attribution, enr: Enrichment, *, decimals: int = 3) -> pd.DataFrame:
    """Per line and analysis: planted driver sites, share found by the scan, share with high
    attribution (empty on real data, where nothing was planted)."""
    return recovery(att, enr)[0].round(decimals)


# --- frames the figures draw --------------------------------------------------------------------


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
                scores = tab[score_col][mask]
                parts.append(
                    pd.DataFrame({"model": model, "panel": tf, "group": group, "score": scores})
                )
    cols = ["model", "panel", "group", "score"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)


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


def d_versus_frame(enr: Enrichment) -> pd.DataFrame:
    """:func:`d_versus` of the two fine-tuned models on the union of their positives."""
    return d_versus(enr.ks["HepG2@union"], enr.ks["K562@union"], enr.ks["HepG2-K562"])


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

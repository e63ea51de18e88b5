"""Numbers of the interpretation chapters (6 and 7): saved metrics and the values glued into prose.

Two kinds of output, both plain numbers and names, never sentences:

* the chapters' metrics (:func:`attribution_metrics`, :func:`enrichment_metrics`), saved with
  :func:`.results.save_metrics`; the ledger (:mod:`.ledger`) reads
  ``attribution.HepG2.site_spearman_gxi_vs_ism`` and ``enrichment.<line>.top_tfs`` /
  ``top_clusters``, so those key names are fixed;
* the values each chapter glues into its markdown (:func:`attribution_numbers`,
  :func:`enrichment_numbers`): counts, formatted statistics and comma-separated names, keyed by
  the glue names the chapter's text uses.

ARCHITECTURE.md, book layer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from chromtransfer_lib.book.interpret_analyses import (
    DRIVER_ANALYSES,
    Enrichment,
    drivers_in_top,
    top_tfs,
    width_bias,
)
from chromtransfer_lib.book.interpret_tables import driver_ranks, recovery
from chromtransfer_lib.book.interpretation import Attribution, IsmCheck

# --- metrics ------------------------------------------------------------------------------------


def attribution_metrics(att: Attribution, ism: IsmCheck) -> dict[str, object]:
    """Chapter 6's metrics: selection counts, ISM agreement overall and per Fig S3 factor."""
    line = ism.line
    stats = ism.agreement.set_index(ism.agreement.columns[0])
    get = lambda tf, col: stats[col].get(tf, np.nan)  # noqa: E731
    out: dict[str, object] = {
        f"attribution.{line}.site_spearman_gxi_vs_ism": get("(all)", "spearman_r"),
        f"attribution.{line}.site_pearson_gxi_vs_ism": get("(all)", "pearson_r"),
        f"attribution.{line}.ism_regions": len(ism.rows),
        f"attribution.{line}.ism_sites": len(ism.sites),
        "attribution.union_regions": len(att.regions.regions),
        "attribution.scan_sites": len(att.scan.hits),
    }
    for tf in ism.factors:
        out[f"attribution.{line}.site_spearman_gxi_vs_ism.{tf}"] = get(tf, "spearman_r")
    for r in att.regions.selection.to_dict("records"):
        key = f"attribution.{r['cell_line']}"
        out |= {f"{key}.positive_predictions": r["predicted positive"]}
        out |= {f"{key}.analysed": r["analysed"], f"{key}.fallback": bool(r["fallback"])}
    return out


def _metric_name(key: str) -> str:
    """Analysis key → the name used in metric keys (``pretrained@HepG2`` → ``pretrained_HepG2``,
    ``HepG2-K562`` → ``HepG2_minus_K562``)."""
    return key.replace("@", "_").replace("-", "_minus_")


def _ks_metrics(enr: Enrichment, hits: pd.DataFrame) -> dict[str, object]:
    from chromtransfer_lib.interpret.clusters import cluster_ranking

    out: dict[str, object] = {}
    for key, ks in enr.ks.items():
        name = _metric_name(key)
        out[f"enrichment.{name}.top_tfs"] = top_tfs(ks)
        out[f"enrichment.{name}.n_tested"] = len(ks)
        out[f"enrichment.{name}.n_significant"] = int(ks["significant"].sum())
        out[f"enrichment.{name}.width_bias_spearman"] = width_bias(ks, hits)
        if enr.clusters is not None:
            top = cluster_ranking(ks, enr.clusters).head(10)
            out[f"enrichment.{name}.top_clusters"] = [m.split(", ") for m in top["members"]]
    return out


def _driver_metrics(ranks: pd.DataFrame, *, n: int) -> dict[str, object]:
    out: dict[str, object] = {}
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
    return out


def enrichment_metrics(att: Attribution, enr: Enrichment, *, n: int = 5) -> dict[str, object]:
    """Chapter 7's metrics: top TFs, driver ranks and top-``n`` counts, scan and recovery.

    Keys: ``enrichment.<model>.top_tfs`` (significant TFs by descending signed D),
    ``enrichment.<model>.driver_ranks`` / ``drivers_in_top5`` for a model's own line, and
    ``enrichment.<model>.<line>_driver_ranks`` / ``<line>_drivers_in_top5`` otherwise (the
    pre-trained model on each line's regions, the other line's model as a control); with
    clusters, the same counts over look-alike clusters (``…_top5_clusters``) and each analysis's
    10 best clusters (``top_clusters``: member lists); on the simulated world, the recovery of
    planted driver sites (``enrichment.recovery.<line>.<analysis>.frac_scanned`` /
    ``frac_high``).
    """
    scan = att.scan
    out: dict[str, object] = {
        "enrichment.scan.n_matrices": scan.n_matrices,
        "enrichment.scan.n_unreachable": len(scan.unreachable),
        "enrichment.scan.n_sites": len(scan.hits),
    }
    out |= _ks_metrics(enr, scan.hits)
    out |= _driver_metrics(driver_ranks(att, enr), n=n)
    for r in recovery(att, enr)[0].to_dict("records"):
        key = f"enrichment.recovery.{r['line']}.{r['analysis']}"
        out[f"{key}.frac_scanned"] = r["share scanned"]
        out[f"{key}.frac_high"] = r["share with high attribution"]
    return out


def headline_metrics(metrics: Mapping[str, object]) -> dict[str, object]:
    """The metrics chapter 7 shows: every analysis's top TFs and drivers-in-top-5 counts."""
    return {k: v for k, v in metrics.items() if k.endswith(("top_tfs", "in_top5"))}


# --- values glued into the prose ----------------------------------------------------------------


def _f2(value: float) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.2f}"


def _names(names: Sequence[str]) -> str:
    return ", ".join(str(n) for n in names) if len(names) else "none"


def attribution_numbers(att: Attribution, ism: IsmCheck) -> dict[str, object]:
    """Chapter 6's glued values.

    ``n_union``, ``max_regions``; per line ``n_rows_<line>``, ``n_positive_<line>``,
    ``n_analysed_<line>``; ``fallback_lines`` (lines whose model predicted nothing positive, or
    ``none``); ``p_value``, ``n_hits``, ``n_planted``, ``n_examples``; ``ism_line``, ``n_ism``
    (regions), ``n_ism_sites`` (sites correlated), ``ism_spearman``, ``ism_pearson``.
    """
    sel = att.regions.selection
    out: dict[str, object] = {"n_union": len(att.regions.regions)}
    out["max_regions"] = att.config.max_regions
    for r in sel.to_dict("records"):
        line = r["cell_line"]
        out[f"n_rows_{line}"] = int(r["rows (train + test)"])
        out[f"n_positive_{line}"] = int(r["predicted positive"])
        out[f"n_analysed_{line}"] = int(r["analysed"])
    out["fallback_lines"] = _names(sel.loc[sel["fallback"].astype(bool), "cell_line"].tolist())
    out["p_value"] = f"{att.config.p_value:g}"
    out["n_hits"] = len(att.scan.hits)
    out["n_planted"] = 0 if att.planted is None else len(att.planted)
    out["n_examples"] = att.config.example_regions
    overall = ism.agreement[ism.agreement["tf"] == "(all)"]
    out |= {"ism_line": ism.line, "n_ism": len(ism.rows)}
    out["n_ism_sites"] = int(overall["n"].iloc[0]) if len(overall) else 0
    out["ism_spearman"] = _f2(overall["spearman_r"].iloc[0] if len(overall) else np.nan)
    out["ism_pearson"] = _f2(overall["pearson_r"].iloc[0] if len(overall) else np.nan)
    return out


def _line_numbers(ranks: pd.DataFrame, enr: Enrichment, line: str, *, n: int) -> dict:
    """One line's values for the driver, comparison and cluster paragraphs of chapter 7."""
    mine = ranks[ranks["line"] == line]
    own = mine[mine["analysis"] == line]
    pre = mine[mine["analysis"] == f"pretrained@{line}"]
    control = DRIVER_ANALYSES[line][-1]
    best = own.dropna(subset=["rank"]).sort_values("rank", kind="stable")
    out = {
        f"n_tested_{line}": len(enr.ks[line]),
        f"n_significant_{line}": int(enr.ks[line]["significant"].sum()),
        f"n_drivers_{line}": len(own),
        f"top{n}_{line}": drivers_in_top(own, n=n),
        f"top{n}_names_{line}": _names(own.loc[own["top_rank"] <= n, "tf"].astype(str).tolist()),
        f"best_driver_{line}": best["tf"].iloc[0] if len(best) else "none",
        f"best_rank_{line}": int(best["rank"].iloc[0]) if len(best) else "–",
        f"top{n}_pre_{line}": drivers_in_top(pre, n=n),
        f"top{n}_control_{line}": drivers_in_top(mine[mine["analysis"] == control], n=n),
        f"control_{line}": Enrichment.label(control),
    }
    if f"scratch_{line}" in DRIVER_ANALYSES[line]:
        scratch = mine[mine["analysis"] == f"scratch_{line}"]
        out[f"top{n}_scratch_{line}"] = drivers_in_top(scratch, n=n)
    if "cluster_rank" in own:
        top = own[own["cluster_rank"] <= n].sort_values("cluster_rank", kind="stable")
        which = [
            f"{d} #{int(r)}" + (f" (lead {lead})" if lead != tf else "")
            for d, tf, r, lead in zip(
                top["driver"], top["tf"], top["cluster_rank"], top["cluster_lead"], strict=True
            )
        ]
        out[f"cl_top{n}_{line}"] = drivers_in_top(own, n=n, column="cluster_rank")
        out[f"cl_which_{line}"] = _names(which)
        out[f"cl_top{n}_pre_{line}"] = drivers_in_top(pre, n=n, column="cluster_rank")
    return out


def enrichment_numbers(att: Attribution, enr: Enrichment, *, n: int = 5) -> dict[str, object]:
    """Chapter 7's glued values: the scan (``p_value``, ``n_matrices``, ``n_unreachable``,
    ``n_hits``, ``n_regions``, ``n_tfs_enough``, ``min_sites``, ``fdr``), the drivers
    (``drivers_<line>``, ``data_source``), look-alike clusters (``n_tested_tfs``,
    ``n_clusters``, ``cluster_threshold``), and per line the values of :func:`_line_numbers`
    (``n_tested_<line>``, ``top5_<line>``, ``best_driver_<line>``, ``cl_top5_<line>``, …)."""
    from chromtransfer_lib.interpret.clusters import THRESHOLD

    cfg, hits = att.config, att.scan.hits
    out: dict[str, object] = {
        "p_value": f"{cfg.p_value:g}",
        "n_matrices": att.scan.n_matrices,
        "n_unreachable": len(att.scan.unreachable),
        "n_hits": len(hits),
        "n_regions": len(att.regions.regions),
        "n_tfs_enough": int((hits["tf"].value_counts() >= cfg.min_sites).sum()),
        "min_sites": cfg.min_sites,
        "fdr": f"{cfg.fdr:g}",
        "data_source": att.source,
        "n_tested_tfs": len(enr.tested()),
        "n_clusters": 0 if enr.clusters is None else int(enr.clusters.nunique()),
        "cluster_threshold": f"{THRESHOLD:g}",
    }
    out |= {f"drivers_{line}": _names(list(d)) for line, d in att.drivers.items()}
    ranks = driver_ranks(att, enr)
    for line in DRIVER_ANALYSES:
        out |= _line_numbers(ranks, enr, line, n=n)
    return out

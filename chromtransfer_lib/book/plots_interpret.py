"""Plotnine figures of the interpretation chapters (6–7): agreement, ECDFs, D scatter, rankings.

Each function draws one long table (from :mod:`.interpret_tables`) with the book's theme
(:func:`.plots.theme_book`); :mod:`.interpret_figures` picks the tables for each of the paper's
figures. Attribution tracks (logomaker) are in :mod:`.plots_tracks`. ARCHITECTURE.md, book layer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from chromtransfer_lib.book.plots import MODEL_COLOURS, theme_book

#: Colours of an analysis's role relative to a line (:func:`.interpret_analyses.analysis_role`).
ROLE_COLOURS = {
    "ChromTransfer": MODEL_COLOURS["ChromTransfer"],
    "binary baseline": MODEL_COLOURS["binary baseline"],
    "pre-trained": MODEL_COLOURS["pre-trained"],
    "other line's ChromTransfer (all regions)": "#CC79A7",
}
#: Driver vs other TF in rankings.
DRIVER_COLOURS = {"planted driver": "#D55E00", "other TF": "#7F7F7F"}


def plot_site_agreement(sites: pd.DataFrame, agreement: pd.DataFrame, factors: Sequence[str]):
    """Fig S3: site max gradient × input vs the negated site min ISM delta (both: higher = more
    important), one panel for all sites and one per factor; ρ is Spearman's."""
    import plotnine as p9

    stats = agreement.set_index(agreement.columns[0])
    panels = []
    for name in ["(all)", *factors]:
        part = sites if name == "(all)" else sites[sites["tf"] == name]
        if not len(part):
            continue
        rho = stats["spearman_r"].get(name, np.nan)
        label = f"{'all sites' if name == '(all)' else name}  (n = {len(part)}, ρ = {rho:.2f})"
        panels.append(part.assign(panel=label))
    data = pd.concat(panels, ignore_index=True)
    data["panel"] = pd.Categorical(data["panel"], categories=list(dict.fromkeys(data["panel"])))
    return (
        p9.ggplot(data, p9.aes("gxi_max", "ism_importance"))
        + p9.geom_point(alpha=0.5, colour=MODEL_COLOURS["ChromTransfer"], size=1.4)
        + p9.facet_wrap("~panel", scales="free", ncol=2)
        + p9.labs(
            x="site max gradient × input",
            y="−(site min ISM delta)",
            title="Site importance: gradient × input vs in-silico mutagenesis (HepG2 model)",
        )
        + theme_book()
        + p9.theme(figure_size=(8, 2.6 * int(np.ceil(len(panels) / 2))))
    )


def plot_ecdf(frame: pd.DataFrame, *, title: str):
    """Fig 3D–F: ECDFs of a TF's site scores against other TFs' non-overlapping sites."""
    import plotnine as p9

    data = frame.assign(highlight=np.where(frame["group"] == "other TFs", "other TFs", "TF sites"))
    return (
        p9.ggplot(data, p9.aes("score", colour="highlight"))
        + p9.stat_ecdf(size=0.9)
        + p9.facet_grid("panel ~ model", scales="free_x")
        + p9.scale_colour_manual({"TF sites": "#D55E00", "other TFs": "#7F7F7F"})
        + p9.labs(x="site max gradient × input", y="cumulative fraction", colour="", title=title)
        + theme_book()
        + p9.theme(figure_size=(8, 1.9 * max(1, frame["panel"].nunique()) + 0.8))
    )


def _spread_labels(
    data: pd.DataFrame, *, label_n: int, always: Sequence[str] = (), min_gap: float = 0.06
) -> np.ndarray:
    """Name the TFs in ``always`` (any case), then up to ``label_n`` more, largest ``|D_diff|``
    first, skipping any closer than ``min_gap`` (a fraction of the axis ranges) to a named one."""
    xy = data[["D_a", "D_b"]].to_numpy(float)
    span = np.maximum(np.ptp(xy, axis=0), 1e-9) if len(xy) else np.ones(2)
    named = np.array(data["tf"].str.upper().isin({a.upper() for a in always}), dtype=bool)
    budget = named.sum() + label_n
    for i in data["D_diff"].abs().fillna(0).sort_values(ascending=False, kind="stable").index:
        if named.sum() >= budget:
            break
        gap = np.abs((xy[named] - xy[i]) / span)
        if not len(gap) or (gap.max(axis=1) > min_gap).all():
            named[i] = True
    return named


def plot_d_scatter(
    table: pd.DataFrame, *, x: str, y: str, label_n: int = 10, always: Sequence[str] = ()
):
    """Fig 3G: D for one model against another, coloured by the D of their per-site difference.

    ``table`` is :func:`.interpret_tables.d_versus` output; up to ``label_n`` TFs with the largest
    ``|D_diff|`` are named, skipping points too close to a named one; TFs in ``always`` (e.g.
    the planted drivers) are named regardless.
    """
    import plotnine as p9

    data = table.reset_index(drop=True)
    data["named"] = _spread_labels(data, label_n=label_n, always=always)
    lim = float(np.nanmax(np.abs(data["D_diff"]))) if data["D_diff"].notna().any() else 1.0
    nudge = 0.015 * (float(np.ptp(data["D_b"])) if len(data) > 1 else 1.0)
    return (
        p9.ggplot(data, p9.aes("D_a", "D_b", fill="D_diff"))
        + p9.geom_hline(yintercept=0, colour="#cccccc")
        + p9.geom_vline(xintercept=0, colour="#cccccc")
        + p9.geom_abline(slope=1, intercept=0, colour="#cccccc", linetype="dashed")
        + p9.geom_point(size=2.6, stroke=0.3, colour="#333333")
        + p9.geom_text(
            p9.aes(label="tf"), data=data[data["named"]], size=7, nudge_y=nudge, va="bottom"
        )
        + p9.scale_fill_gradient2(
            low="#2166AC", mid="#F7F7F7", high="#B2182B", midpoint=0, limits=(-lim, lim)
        )
        + p9.labs(x=f"D, {x}", y=f"D, {y}", fill=f"D of\n{x} − {y}")
        + theme_book()
        + p9.theme(figure_size=(6.5, 5.5))
    )


def plot_rank_bars(
    long: pd.DataFrame, *, top_n: int = 12, drivers: Mapping[str, set[str]] | None = None
):
    """Figs S4–S5: the ``top_n`` significant TFs by signed D per analysis (as the paper, which
    plots significant TFs only); an analysis without any shows its ``top_n`` tested TFs, faded.

    ``long`` is :func:`.interpret_tables.ranking_long` output; ``drivers`` maps an analysis to
    the upper-case names of its planted drivers (highlighted).
    """
    import plotnine as p9

    parts = []
    for name, g in long.groupby("analysis", sort=False):
        sig = g[g["significant"].astype(bool)]
        shown = (sig if len(sig) else g).sort_values("rank").head(top_n)
        label = f"{name}" if len(sig) else f"{name} (none significant)"
        parts.append(shown.assign(analysis=label))
    data = pd.concat(parts, ignore_index=True)
    names = {a: a.removesuffix(" (none significant)") for a in data["analysis"].unique()}
    drv = drivers or {}
    data["kind"] = [
        "planted driver" if str(t).upper() in drv.get(names[a], set()) else "other TF"
        for a, t in zip(data["analysis"], data["tf"], strict=True)
    ]
    data["sig"] = np.where(data["significant"].astype(bool), "FDR below cut-off", "not significant")
    data["key"] = data["tf"].astype(str) + "@@" + data["analysis"].astype(str)
    order = data.sort_values(["analysis", "D_signed"])["key"].tolist()
    data["key"] = pd.Categorical(data["key"], categories=list(dict.fromkeys(order)))
    data["analysis"] = pd.Categorical(data["analysis"], categories=list(names))
    n = data["analysis"].nunique()
    return (
        p9.ggplot(data, p9.aes("key", "D_signed", fill="kind", alpha="sig"))
        + p9.geom_col()
        + p9.coord_flip()
        + p9.facet_wrap("~analysis", scales="free_y", ncol=min(n, 2))
        + p9.scale_x_discrete(labels=lambda keys: [k.split("@@")[0] for k in keys])
        + p9.scale_fill_manual(DRIVER_COLOURS)
        + p9.scale_alpha_manual({"FDR below cut-off": 1.0, "not significant": 0.35})
        + p9.labs(x="", y="signed KS D", fill="", alpha="")
        + theme_book(10)
        + p9.theme(figure_size=(9, 0.25 * top_n * int(np.ceil(n / 2)) + 1.5))
    )


def plot_driver_ranks(table: pd.DataFrame):
    """Tiles: rank of each planted driver (rows) in each model's ranking (columns), per line.

    ``table`` is :func:`.interpret_analyses.driver_rank_table` output (with ``role``).
    """
    import plotnine as p9

    data = table.copy()
    mark = np.where(data["significant"], np.where(data["D_signed"] > 0, "*", "°"), "")
    data["text"] = [
        "–" if pd.isna(r) else f"{int(r)}{m} / {n}"
        for r, m, n in zip(data["rank"], mark, data["n_tested"], strict=True)
    ]
    data["facet"] = data["line"] + " drivers"
    data["role"] = pd.Categorical(data["role"], categories=list(ROLE_COLOURS))
    return (
        p9.ggplot(data, p9.aes("role", "driver", fill="rank"))
        + p9.geom_tile(colour="white", size=0.8)
        + p9.geom_text(p9.aes(label="text"), size=9)
        + p9.facet_wrap("~facet", scales="free")
        + p9.scale_fill_gradient(low="#D55E00", high="#F7F7F7", trans="log10", na_value="#eeeeee")
        + p9.labs(
            x="",
            y="planted driver",
            fill="rank",
            title="Rank of each planted driver by signed D among the TFs tested\n"
            "(* significantly enriched, ° significantly depleted, – too few sites)",
        )
        + theme_book(10)
        + p9.theme(axis_text_x=p9.element_text(rotation=25, ha="right"), figure_size=(9, 4.2))
    )


def plot_recovery(per_tf: pd.DataFrame, *, quantile: float = 0.9):
    """Share of planted driver sites with high attribution, per driver and model role; the
    dashed line is the share expected by chance (``1 - quantile``)."""
    import plotnine as p9

    return (
        p9.ggplot(per_tf, p9.aes("tf", "frac_high", fill="role"))
        + p9.geom_hline(yintercept=1 - quantile, linetype="dashed", colour="#555555")
        + p9.geom_col(position=p9.position_dodge(width=0.8, preserve="single"), width=0.75)
        + p9.facet_wrap("~line", scales="free_x")
        + p9.scale_fill_manual(
            ROLE_COLOURS, breaks=[r for r in ROLE_COLOURS if r in set(per_tf["role"])]
        )
        + p9.labs(
            x="planted driver", y="share of sites above the\nbackground's 90th percentile", fill=""
        )
        + theme_book(10)
        + p9.theme(axis_text_x=p9.element_text(rotation=30, ha="right"), figure_size=(9, 3.6))
    )

"""Figures of the interpretation chapters (6 and 7), one function per figure of the paper.

Each takes the chapter's bundles (:class:`.interpretation.Attribution`,
:class:`.interpretation.IsmCheck`, :class:`.interpret_analyses.Enrichment`), builds the long
table with :mod:`.interpret_tables` and draws it with :mod:`.plots_interpret` (plotnine) or
:mod:`.plots_tracks` (logomaker). A figure with nothing to show (no site, no TF tested, no
ground truth) is ``None``, which a notebook cell displays as nothing. ARCHITECTURE.md, book layer.
"""

from __future__ import annotations

import numpy as np

from chromtransfer_lib.book.interpret_analyses import (
    FINE_TUNING,
    SINGLE,
    Enrichment,
    scored_sites,
)
from chromtransfer_lib.book.interpret_regions import pick_rows
from chromtransfer_lib.book.interpret_tables import (
    d_versus_frame,
    driver_ranks,
    ecdf_frame,
    ranking_long,
    recovery,
    track_sites,
)
from chromtransfer_lib.book.interpret_truth import analysis_driver_names
from chromtransfer_lib.book.interpretation import Attribution, IsmCheck
from chromtransfer_lib.book.plots_interpret import (
    plot_d_scatter,
    plot_driver_ranks,
    plot_ecdf,
    plot_rank_bars,
    plot_recovery,
    plot_site_agreement,
)
from chromtransfer_lib.book.plots_tracks import (
    draw_attribution_tracks,
    plot_attribution_tracks,
    track_size,
    track_view,
)

#: The TFs of Fig 3D–F.
ECDF_TFS = ("HNF4A", "CEBPA", "OLIG2")


def stacked_tracks(panels: list[dict]):
    """One figure of several regions' tracks, one sub-figure each (``None`` when empty)."""
    import matplotlib.pyplot as plt

    if len(panels) <= 1:
        return plot_attribution_tracks(**panels[0]) if panels else None
    sizes = []
    for p in panels:
        a, b = track_view(len(p["codes"]), p.get("sites"), 220)
        sizes.append(track_size(b - a, len(p["tracks"]), planted=p.get("planted") is not None))
    width, heights = max(s[0] for s in sizes), [s[1] + 0.4 for s in sizes]
    fig = plt.figure(figsize=(width, sum(heights)), layout="constrained")
    for sub, panel in zip(
        fig.subfigures(len(panels), 1, height_ratios=heights), panels, strict=True
    ):
        draw_attribution_tracks(sub, **panel)
    plt.close(fig)
    return fig


def fig3_tracks(att: Attribution, *, line: str, n: int | None = None, n_sites: int = 5):
    """Fig 3A–C: gradient × input of ``line``'s fine-tuned model and of the pre-trained model on
    the ``n`` regions the fine-tuned model scores highest (default ``interpret.example_regions``),
    with its ``n_sites`` best non-overlapping predicted sites and, below, what was planted."""
    n = att.config.example_regions if n is None else n
    rows = pick_rows(att.regions, att.proba[line], line=line, n=n)
    sites = scored_sites(att.scan.hits, att.gxi[line], att.regions.rows(line))
    panels = []
    for row in rows:
        planted = None if att.planted is None else att.planted[att.planted["region"] == row]
        p_ft, p_pre = att.proba[line][row], att.proba["pretrained"][row]
        panels.append(
            {
                "codes": att.regions.codes[row],
                "tracks": {
                    f"{line} fine-tuned": att.gxi[line][row],
                    "pre-trained": att.gxi["pretrained"][row],
                },
                "sites": track_sites(sites, row, n=n_sites),
                "planted": planted,
                "title": f"{line}: {att.regions.window_name(row)}  "
                f"(p = {p_ft:.2f} fine-tuned, {p_pre:.2f} pre-trained)",
            }
        )
    return stacked_tracks(panels)


def fig_s3_track(att: Attribution, ism: IsmCheck, *, n_sites: int = 5):
    """Gradient × input and the negated ISM delta on the ISM region the model scores highest."""
    if not len(ism.rows):
        return None
    line, rows = ism.line, list(ism.rows)
    row = rows[int(np.argmax(att.proba[line][ism.rows]))]
    sites = scored_sites(att.scan.hits, att.gxi[line], att.regions.rows(line))
    return plot_attribution_tracks(
        att.regions.codes[row],
        {"gradient × input": att.gxi[line][row], "−ISM delta": -ism.delta[rows.index(row)]},
        sites=track_sites(sites, row, n=n_sites),
        title=f"{line} model, {att.regions.window_name(row)}: two views of importance",
    )


def fig_s3_agreement(ism: IsmCheck):
    """Fig S3: site max gradient × input against the negated site min ISM delta, all sites and
    the Fig S3 factors."""
    return plot_site_agreement(ism.sites, ism.agreement, ism.factors) if len(ism.sites) else None


def _rank_bars(att: Attribution, enr: Enrichment, keys, *, top_n: int):
    long = ranking_long({Enrichment.label(k): enr.ks[k] for k in keys})
    if not len(long):
        return None
    return plot_rank_bars(long, top_n=top_n, drivers=analysis_driver_names(att.drivers))


def fig_s4_rankings(att: Attribution, enr: Enrichment, *, top_n: int = 12):
    """Fig S4: the ``top_n`` significant TFs of each single-model analysis, drivers highlighted."""
    return _rank_bars(att, enr, SINGLE, top_n=top_n)


def fig_s5_fine_tuning(att: Attribution, enr: Enrichment, *, top_n: int = 12):
    """Fig S5: the same for the per-site differences fine-tuned − pre-trained."""
    return _rank_bars(att, enr, FINE_TUNING, top_n=top_n)


def fig3_ecdf(enr: Enrichment):
    """Fig 3D–F: ECDFs of HNF4A, CEBPA and OLIG2 sites against other TFs' non-overlapping
    sites, for the HepG2 fine-tuned, pre-trained and binary-baseline models."""
    sites = {Enrichment.label(k): enr.sites[k] for k in SINGLE[:3]}
    frame = ecdf_frame(sites, list(ECDF_TFS))
    return plot_ecdf(frame, title="HepG2 regions") if len(frame) else None


def fig3g_scatter(att: Attribution, enr: Enrichment, *, label_n: int = 10):
    """Fig 3G: D for the HepG2 model against D for the K562 model on the union of their
    positives, coloured by the D of the per-site difference; the planted drivers are named."""
    versus = d_versus_frame(enr)
    if not len(versus):
        return None
    always = [d for line in ("HepG2", "K562") for d in att.drivers.get(line, {})]
    return plot_d_scatter(versus, x="HepG2", y="K562", label_n=label_n, always=always)


def driver_rank_figure(att: Attribution, enr: Enrichment):
    """Rank of each planted driver in each model's KS ranking, per line (tiles)."""
    return plot_driver_ranks(driver_ranks(att, enr))


def recovery_figure(att: Attribution, enr: Enrichment):
    """Share of each planted driver's sites with high attribution, per model role."""
    per_tf = recovery(att, enr)[1]
    return plot_recovery(per_tf) if len(per_tf) else None

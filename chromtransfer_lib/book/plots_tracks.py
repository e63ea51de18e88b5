"""Attribution tracks (Fig 3A–C of the paper): per-base scores drawn as letters over a sequence.

Letters are scaled by gradient × input (logomaker on matplotlib, :data:`.plots.BASE_COLOURS`):
tall letters above the line support "open". Predicted binding sites are shaded and labelled,
and the sites the simulation planted are drawn as bars below. :func:`draw_attribution_tracks`
draws into any matplotlib figure or sub-figure, so several regions can share one figure
(:func:`.interpret_figures.fig3_tracks`); :func:`plot_attribution_tracks` is one region in a
figure of its own. ARCHITECTURE.md, book layer.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from chromtransfer_lib.book.plots import BASE_COLOURS

#: Colours of site spans in tracks (Okabe–Ito without the nucleotide-like hues), cycled per TF.
SITE_COLOURS = ["#0072B2", "#E69F00", "#CC79A7", "#56B4E9", "#009E73", "#D55E00", "#999999"]
#: Planted sites: a driver of the line, or any other planted motif.
PLANTED_COLOURS = {"driver": "#D55E00", "other": "#9e9e9e"}


def attribution_frame(codes: np.ndarray, scores: np.ndarray) -> pd.DataFrame:
    """``(L,)`` codes and per-base scores → logomaker's ``(L, 4)`` matrix (score at the base)."""
    codes = np.asarray(codes)
    out = np.zeros((codes.size, 4), dtype=float)
    ok = codes < 4
    out[np.flatnonzero(ok), codes[ok]] = np.nan_to_num(np.asarray(scores, dtype=float)[ok])
    return pd.DataFrame(out, columns=list("ACGT"))


def track_view(length: int, sites: pd.DataFrame | None, width: int) -> tuple[int, int]:
    """The ``[a, b)`` window of at most ``width`` bases shown, centred on the sites."""
    if length <= width:
        return 0, length
    centre = length // 2
    if sites is not None and len(sites):
        centre = int((sites["start"].min() + sites["end"].max()) // 2)
    a = int(np.clip(centre - width // 2, 0, length - width))
    return a, a + width


def track_size(length: int, n_tracks: int, *, planted: bool) -> tuple[float, float]:
    """Figure size (inches) of one region's tracks over ``length`` shown bases."""
    return max(8, 0.07 * length), 1.9 * n_tracks + 0.7 * planted


def _logo(ax, codes: np.ndarray, scores: np.ndarray, a: int, b: int, *, pad: float, limits=None):
    """One track: letters of ``codes[a:b]`` scaled by ``scores[a:b]``; returns the top of the
    data and the label band's height. ``limits`` (low, high) fixes the data range shown (for
    tracks drawn on one scale), else it is the track's own."""
    import logomaker

    frame = attribution_frame(codes[a:b], np.asarray(scores)[a:b])
    frame.index = np.arange(a, b)
    logo = logomaker.Logo(frame, ax=ax, color_scheme=BASE_COLOURS, flip_below=False)
    logo.style_spines(visible=False)
    logo.style_spines(spines=["left", "bottom"], visible=True)
    lo, hi = min(frame.to_numpy().min(), 0.0), max(frame.to_numpy().max(), 1e-12)
    if limits is not None:
        lo, hi = min(limits[0], 0.0), max(limits[1], 1e-12)
    band = pad * (hi - lo)
    ax.set_ylim(lo - 0.05 * (hi - lo), hi + band)
    ax.axhline(0, color="#bbbbbb", lw=0.6)
    return hi, band


def _shade_sites(ax, sites: pd.DataFrame, colour: Mapping[str, str], a: int, b: int) -> None:
    for site in sites.itertuples():
        if site.end <= a or site.start >= b:
            continue
        ax.axvspan(site.start - 0.5, site.end - 0.5, color=colour[site.tf], alpha=0.16, lw=0)


def _label_sites(ax, sites, colour, a: int, b: int, *, hi: float, band: float) -> None:
    """TF names above the first track, alternating between two heights."""
    for i, site in enumerate(sites.sort_values("start").itertuples()):
        if a <= (site.start + site.end) / 2 < b:
            ax.text(
                (site.start + site.end - 1) / 2,
                hi + band * (0.35 if i % 2 else 0.75),
                site.tf,
                ha="center",
                va="center",
                fontsize=8,
                color=colour[site.tf],
                fontweight="bold",
            )


def _planted_row(ax, planted: pd.DataFrame) -> None:
    for site in planted.itertuples():
        kind = "driver" if site.role == "driver" else "other"
        ax.broken_barh(
            [(site.start - 0.5, site.end - site.start)], (0.15, 0.7), color=PLANTED_COLOURS[kind]
        )
        ax.text(
            (site.start + site.end - 1) / 2,
            0.5,
            site.tf,
            ha="center",
            va="center",
            fontsize=7,
            color="white",
            clip_on=True,
        )
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.set_ylabel("planted", rotation=0, ha="right", va="center", fontsize=9)
    for s in ("top", "right", "left"):
        ax.spines[s].set_visible(False)


def draw_attribution_tracks(
    fig,
    codes: np.ndarray,
    tracks: Mapping[str, np.ndarray],
    *,
    sites: pd.DataFrame | None = None,
    planted: pd.DataFrame | None = None,
    title: str | None = None,
    max_width: int = 220,
    limits: tuple[float, float] | None = None,
) -> None:
    """Draw one region's tracks into ``fig`` (a matplotlib Figure or SubFigure); arguments as
    :func:`plot_attribution_tracks`, and ``limits`` (low, high): one score range for every
    track (e.g. a variant's REF and ALT panels), default each track's own."""
    a, b = track_view(len(codes), sites, max_width)
    heights = [3] * len(tracks) + ([1] if planted is not None else [])
    axes = fig.subplots(
        len(heights), 1, sharex=True, gridspec_kw={"height_ratios": heights}, squeeze=False
    )[:, 0]
    tfs = list(dict.fromkeys([] if sites is None else sites["tf"]))
    colour = {tf: SITE_COLOURS[i % len(SITE_COLOURS)] for i, tf in enumerate(tfs)}
    for k, (ax, (label, scores)) in enumerate(zip(axes, tracks.items(), strict=False)):
        pad = 0.35 if k == 0 and tfs else 0.08
        hi, band = _logo(ax, codes, scores, a, b, pad=pad, limits=limits)
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
        if sites is not None:
            _shade_sites(ax, sites, colour, a, b)
            if k == 0:
                _label_sites(ax, sites, colour, a, b, hi=hi, band=band)
    if planted is not None:
        _planted_row(axes[-1], planted)
    axes[-1].set_xlim(a - 0.5, b - 0.5)
    axes[-1].set_xlabel("position in the model's input (bp)")
    if title:
        fig.suptitle(title, x=0.01, ha="left", fontsize=11)


def plot_attribution_tracks(
    codes: np.ndarray,
    tracks: Mapping[str, np.ndarray],
    *,
    sites: pd.DataFrame | None = None,
    planted: pd.DataFrame | None = None,
    title: str | None = None,
    max_width: int = 220,
    limits: tuple[float, float] | None = None,
):
    """Attribution "logos" of one sequence for several models, with predicted sites marked.

    Parameters
    ----------
    codes
        ``(L,)`` uint8 codes of the sequence.
    tracks
        Model label → per-base scores ``(L,)`` (gradient × input); one panel each.
    sites
        Scanned sites to shade and label: ``start``, ``end`` (window-relative), ``tf``.
    planted
        Ground-truth sites (``start``, ``end``, ``tf``, ``role``) drawn as bars below.
    title
        Figure title.
    max_width
        Longer sequences are shown in a window of this many bases around the sites.
    limits
        (low, high) score range of every track, to draw several on one scale (default: each
        track's own range).

    Returns
    -------
    matplotlib.figure.Figure
        Closed in pyplot, so a notebook shows it once: as the value of the cell.
    """
    import matplotlib.pyplot as plt

    a, b = track_view(len(codes), sites, max_width)
    fig = plt.figure(figsize=track_size(b - a, len(tracks), planted=planted is not None))
    draw_attribution_tracks(
        fig,
        codes,
        tracks,
        sites=sites,
        planted=planted,
        title=title,
        max_width=max_width,
        limits=limits,
    )
    fig.tight_layout()
    plt.close(fig)
    return fig

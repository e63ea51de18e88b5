"""Ground truth for the interpretation chapters: planted sites in window coordinates, each
line's planted drivers, and whether the scan and the attributions recover them.

On the simulated world the truth is known: ``ground_truth.tsv`` lists every planted site in
genome coordinates, ``motifs.tsv`` which matrices drive which line. These pure functions put
that truth next to the analysed windows (:func:`planted_in_windows`), name each line's drivers
with their matrix IDs (:func:`line_drivers`) and measure recovery per analysis
(:func:`recovery_tables`). ARCHITECTURE.md, book layer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from chromtransfer_lib.book.interpret_analyses import (
    ANALYSES,
    DIFFERENCES,
    DRIVER_ANALYSES,
    Enrichment,
    analysis_role,
)
from chromtransfer_lib.book.interpret_regions import RegionSet

PLANTED_COLUMNS = [
    "region",
    "rdhs",
    "tf",
    "matrix_id",
    "role",
    "region_class",
    "strand",
    "start",
    "end",
]


def _check_region_starts(placed: pd.DataFrame) -> None:
    n_starts = (placed["start"] - placed["rel_start"]).groupby(placed["rdhs"]).nunique()
    if (n_starts > 1).any():
        bad = n_starts[n_starts > 1].index[0]
        raise ValueError(
            f"ground truth: sites of {bad} disagree on the region start (start - rel_start); "
            "is this a ground_truth.tsv written by chromtransfer_lib.sim.world?"
        )


def _sites_in_windows(sites: pd.DataFrame, windows: pd.DataFrame) -> pd.DataFrame:
    """Every (site, window) pair of one chromosome with the site inside the window."""
    order = np.argsort(windows["start"].to_numpy(), kind="stable")
    w_start, w_end = windows["start"].to_numpy()[order], windows["end"].to_numpy()[order]
    w_row = windows.index.to_numpy()[order]
    longest = int((w_end - w_start).max())
    s_start, s_end = sites["start"].to_numpy(), sites["end"].to_numpy()
    lo = np.searchsorted(w_start, s_end - longest, side="left")
    hi = np.searchsorted(w_start, s_start, side="right")  # windows starting at or before
    n = np.maximum(hi - lo, 0)
    site_i = np.repeat(np.arange(len(sites)), n)
    cand = np.repeat(lo - np.cumsum(n) + n, n) + np.arange(n.sum())
    keep = w_end[cand] >= s_end[site_i]
    site_i, cand = site_i[keep], cand[keep]
    return sites.iloc[site_i].assign(
        region=w_row[cand],
        start=s_start[site_i] - w_start[cand],
        end=s_end[site_i] - w_start[cand],
    )


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
    _check_region_starts(t[t["rel_start"].notna()])
    win = regions.reset_index(drop=True)
    pairs = [
        _sites_in_windows(t[t["chrom"] == chrom], w)
        for chrom, w in win.groupby("chrom", sort=False)
    ]
    if not pairs:
        return pd.DataFrame(columns=PLANTED_COLUMNS)
    out = pd.concat(pairs, ignore_index=True)[PLANTED_COLUMNS]
    return out.sort_values(["region", "start"], kind="stable").reset_index(drop=True)


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


def recovery_tables(
    enr: Enrichment,
    planted: pd.DataFrame,
    regions: RegionSet,
    drivers: Mapping[str, Mapping[str, str | None]],
    *,
    quantile: float = 0.9,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Planted driver sites found by the scan and carrying high attribution, per analysis.

    Returns an overview (line, analysis, model, planted driver sites, share scanned, share with
    high attribution) and the per-driver shares (tf, n_planted, frac_scanned, frac_high, line,
    model, role). The cross-line control of :data:`.interpret_analyses.DRIVER_ANALYSES` is left
    out: it is scored on other regions.
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
        for key in keys[:-1]:
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

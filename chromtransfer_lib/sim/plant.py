"""Motif sites of the simulated world: which matrices go where, and their sampled bases.

Used by :mod:`chromtransfer_lib.sim.world`. Everything here is vectorised over sites/windows.

A *site request* is (region, matrix, role); :func:`layout_sites` gives each a non-overlapping
position inside its region's planting window, :func:`sample_sites` draws its bases from the
matrix (column probabilities raised to a *sharpness* power and renormalised; sharpness 1
samples the matrix as-is, large values approach the consensus) on either strand, and
:func:`compensate_gc` redraws the other bases of a planting window so that planting does not
change its GC.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chromtransfer_lib.genome.jaspar import JasparMatrix
from chromtransfer_lib.sim.background import deplete_cpg, depletion_plan, sample_iid

#: Pseudo-probability added to every matrix cell for the log-odds in the ground truth.
LOG_ODDS_PSEUDO = 0.01


@dataclass(frozen=True)
class SiteTable:
    """Planted sites, one entry per site (all arrays of shape ``(n,)``).

    Attributes
    ----------
    region
        Index of the region (``-1`` for a background site).
    chrom
        Index of the chromosome (in the genome's order).
    matrix
        Index into the list of used matrices.
    role
        ``vocabulary``, ``driver``, ``cross_driver``, ``generic``, ``decoy`` or ``background``.
    start
        0-based genome start; the site covers ``[start, start + width)``.
    width
        Site length in bp.
    minus
        True for a site on the minus strand.
    sharpness
        Power applied to the matrix probabilities for this site.
    """

    region: np.ndarray
    chrom: np.ndarray
    matrix: np.ndarray
    role: np.ndarray
    start: np.ndarray
    width: np.ndarray
    minus: np.ndarray
    sharpness: np.ndarray


def sharpened(probs: np.ndarray, sharpness: float) -> np.ndarray:
    """Column probabilities ``(4, w)`` raised to ``sharpness`` > 0 and renormalised per column.

    Computed in log space, so very large powers tend to the consensus instead of 0/0.
    """
    with np.errstate(divide="ignore"):
        logp = np.log(probs)
    p = np.exp(sharpness * (logp - logp.max(axis=0, keepdims=True)))
    return p / p.sum(axis=0, keepdims=True)


def draw_counts(n: int, count_range: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Number of sites per region, uniform on the inclusive range, shape ``(n,)``."""
    lo, hi = count_range
    return rng.integers(lo, hi + 1, size=n)


def request_sites(
    regions: np.ndarray,
    counts: np.ndarray,
    choices: np.ndarray,
    role: str,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``counts[i]`` sites for ``regions[i]``, matrices drawn uniformly from ``choices``.

    Returns
    -------
    tuple of numpy.ndarray
        ``(region, matrix, role)`` per site.
    """
    reg = np.repeat(np.asarray(regions, dtype=np.int64), counts)
    if len(choices) == 0:
        reg = reg[:0]
    mat = np.asarray(choices, dtype=np.int64)[rng.integers(0, max(len(choices), 1), reg.size)]
    return reg, mat, np.full(reg.size, role, dtype=object)


def layout_sites(
    region: np.ndarray,
    width: np.ndarray,
    window_start: np.ndarray,
    window: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping random positions for each region's sites inside its window.

    Sites are put in random order; those that no longer fit (the region's sites would exceed
    ``window`` bp) are dropped. Positions are uniform over non-overlapping arrangements
    ("random gaps": sorted uniform offsets for the free space plus the preceding widths).

    Parameters
    ----------
    region, width
        Per site, shape ``(n,)``.
    window_start
        Genome start of each region's window, indexed by region, shape ``(n_regions,)``.
    window
        Window length in bp.

    Returns
    -------
    tuple of numpy.ndarray
        ``(keep, start)``: indices of the kept sites into the inputs, and their genome starts.
    """
    n = region.size
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    order = np.lexsort((rng.random(n), region))
    reg, wid = region[order], width[order]
    first = np.r_[True, reg[1:] != reg[:-1]]
    group = np.cumsum(first) - 1
    csum = np.cumsum(wid)
    group_base = (csum - wid)[first]
    fits = csum - group_base[group] <= window
    order, reg, wid = order[fits], reg[fits], wid[fits]
    first = np.r_[True, reg[1:] != reg[:-1]]
    group = np.cumsum(first) - 1
    total = np.bincount(group, weights=wid).astype(np.int64)
    free = window - total
    u = rng.integers(0, free[group] + 1)
    order2 = np.lexsort((u, group))  # sort offsets within each region
    order, reg, wid, u, group = order[order2], reg[order2], wid[order2], u[order2], group[order2]
    csum = np.cumsum(wid)
    before = csum - wid - (csum - wid)[np.r_[True, group[1:] != group[:-1]]][group]
    start = window_start[reg] + u + before
    return order, start


def sample_sites(
    matrix: np.ndarray,
    minus: np.ndarray,
    sharpness: np.ndarray,
    matrices: list[JasparMatrix],
    rng: np.random.Generator,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Draw every site's bases; return them in genome (+ strand) order, and log-odds.

    Parameters
    ----------
    matrix, minus, sharpness
        Per site, shape ``(n,)``.
    matrices
        The used matrices, indexed by ``matrix``.

    Returns
    -------
    tuple
        ``(codes, log_odds)``: per site a ``uint8`` array of length ``w`` as it reads on the
        genome's + strand (reverse-complemented for minus-strand sites), and the site's log2
        odds against a uniform background (matrix orientation, pseudo-probability
        :data:`LOG_ODDS_PSEUDO`), shape ``(n,)``.
    """
    out: list[np.ndarray] = [np.zeros(0, dtype=np.uint8)] * matrix.size
    scores = np.zeros(matrix.size)
    keys = np.stack([matrix.astype(np.float64), sharpness]).T
    for m_idx, sharp in np.unique(keys, axis=0):
        sel = np.flatnonzero((matrix == m_idx) & (sharpness == sharp))
        mat = matrices[int(m_idx)]
        probs = mat.probabilities()
        cum = np.cumsum(sharpened(probs, float(sharp)), axis=0)[:3]  # (3, w)
        u = rng.random((sel.size, mat.width))
        codes = (u[:, None, :] >= cum[None, :, :]).sum(axis=1).astype(np.uint8)  # (k, w)
        lo = np.log2((probs + LOG_ODDS_PSEUDO) / (1 + 4 * LOG_ODDS_PSEUDO) / 0.25)
        scores[sel] = lo[codes, np.arange(mat.width)[None, :]].sum(axis=1)
        rc = 3 - codes[:, ::-1]
        for k, i in enumerate(sel):
            out[i] = rc[k] if minus[i] else codes[k]
    return out, scores


def gather_windows(
    arrays: list[np.ndarray], chrom: np.ndarray, starts: np.ndarray, width: int
) -> np.ndarray:
    """Windows ``[start, start + width)`` of the chromosomes' codes, shape ``(n, width)``.

    ``arrays[i]`` holds chromosome ``i``; ``chrom`` and ``starts`` are per window.
    """
    out = np.empty((starts.size, width), dtype=np.uint8)
    for ci, codes in enumerate(arrays):
        sel = chrom == ci
        out[sel] = codes[starts[sel][:, None] + np.arange(width)[None, :]]
    return out


def scatter_windows(
    arrays: list[np.ndarray], chrom: np.ndarray, starts: np.ndarray, values: np.ndarray
) -> None:
    """Write ``values`` (shape ``(n, width)``) back into the windows, **in place**."""
    width = values.shape[1]
    for ci, codes in enumerate(arrays):
        sel = chrom == ci
        codes[starts[sel][:, None] + np.arange(width)[None, :]] = values[sel]


def is_gc(codes: np.ndarray) -> np.ndarray:
    """True where a code is C or G."""
    return (codes == 1) | (codes == 2)


def compensate_gc(
    windows: np.ndarray,
    site_mask: np.ndarray,
    target_gc: np.ndarray,
    *,
    strength: float,
    cpg_obs_exp: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Redraw the non-site bases of each window so its GC moves back to ``target_gc``.

    Parameters
    ----------
    windows
        ``uint8`` codes with the sites planted, shape ``(n, W)``.
    site_mask
        True at site bases (kept), shape ``(n, W)``.
    target_gc
        GC fraction of each window before planting, shape ``(n,)``.
    strength
        0 leaves the windows' GC as planted; 1 draws the free bases with the GC fraction that
        makes each window's expected GC equal ``target_gc`` (clipped to 0.05-0.9).

    Returns
    -------
    numpy.ndarray
        New windows, shape ``(n, W)`` (CpG-depleted like the background).
    """
    n, width = windows.shape
    site_gc = (is_gc(windows) & site_mask).sum(axis=1)
    n_free = np.maximum(width - site_mask.sum(axis=1), 1)
    wanted = (target_gc * width - site_gc) / n_free
    p = np.clip(target_gc + strength * (wanted - target_gc), 0.05, 0.9)
    pre, keep = depletion_plan(p, cpg_obs_exp=cpg_obs_exp)
    fresh = sample_iid(np.repeat(pre, width), rng)
    fresh = deplete_cpg(fresh, keep=np.repeat(keep, width), rng=rng)
    return np.where(site_mask, windows, fresh.reshape(n, width))

"""Look-alike JASPAR matrices grouped into clusters, and KS rankings read per cluster.

JASPAR holds many matrices for one binding preference: CEBPA/B/D/E/G, the AP-1 dimers and
NFE2/BACH/MAF, GATA1–6 and TRPS1, HNF1A/B. A site of one scores as a site of all, so a
per-matrix ranking splits one signal over a dozen names, and a planted driver can sit at rank 14
behind its own look-alikes. The paper reads its rankings by family for the same reason ("CEBPs",
"GATA factors", the PAR bZIPs that "all recognize similar binding site sequences").

Similarity of two matrices is the summed Pearson correlation of aligned columns (probabilities,
pseudocount 0.8 spread over the four bases; flank columns under 0.5 bits trimmed first),
maximised over both strands and every offset that leaves at most ``max_overhang`` columns of
the shorter matrix outside the longer one, divided by the shorter width — so 1.0 means the
shorter matrix is contained in the longer. Matrices are clustered by average linkage on
``1 − similarity`` and the tree is cut at ``1 − threshold``.
A cluster's score in a ranking is its best member's signed D among significant, positive TFs
(:func:`cluster_ranking`); chapter 7 reads its rankings this way (ARCHITECTURE.md, interpret
layer).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

#: Default similarity above which two matrices are look-alikes.
THRESHOLD = 0.75
#: Columns of the shorter matrix that may hang over the longer one's end.
MAX_OVERHANG = 2
#: Pseudocount per matrix column, spread evenly over the four bases.
PSEUDOCOUNT = 0.8
#: Flank columns with less information (bits) are trimmed before comparing.
MIN_FLANK_BITS = 0.5
#: Trimming keeps at least this many columns.
MIN_CORE = 4


def _trimmed_probabilities(counts: np.ndarray) -> np.ndarray:
    """``(w', 4)`` column probabilities without the weak flanks (information < ``MIN_FLANK_BITS``;
    at least ``MIN_CORE`` columns are kept)."""
    c = np.asarray(counts, dtype=np.float64) + PSEUDOCOUNT / 4
    p = (c / c.sum(axis=0, keepdims=True)).T
    bits = 2.0 + (p * np.log2(p)).sum(axis=1)
    strong = np.flatnonzero(bits >= MIN_FLANK_BITS)
    if strong.size == 0 or strong[-1] - strong[0] + 1 < MIN_CORE:
        return p
    return p[strong[0] : strong[-1] + 1]


def _standardised_columns(counts: np.ndarray) -> np.ndarray:
    """``(w, 4)``: each column's probabilities centred and scaled so that dot/4 is Pearson's r."""
    p = _trimmed_probabilities(counts)
    z = p - p.mean(axis=1, keepdims=True)
    sd = np.sqrt((z**2).mean(axis=1, keepdims=True))
    return np.divide(z, sd, out=np.zeros_like(z), where=sd > 0)


def _best_diagonal(pcc: np.ndarray, max_overhang: int) -> float:
    """Best summed diagonal of a column-correlation matrix ``(wa, wb)`` over allowed offsets."""
    wa, wb = pcc.shape
    short = min(wa, wb)
    best = -np.inf
    for k in range(-(wa - 1), wb):
        overlap = len(np.diagonal(pcc, offset=k))
        if overlap >= short - max_overhang and overlap > 0:
            best = max(best, float(np.trace(pcc, offset=k)))
    return best / short


def matrix_similarity(a: np.ndarray, b: np.ndarray, *, max_overhang: int = MAX_OVERHANG) -> float:
    """Similarity of two count matrices ``(4, w)`` (A, C, G, T rows), both strands; see module."""
    za, zb = _standardised_columns(a), _standardised_columns(b)
    fwd = za @ zb.T / 4
    rev = za @ zb[::-1, ::-1].T / 4  # reverse complement: columns reversed, A↔T and C↔G
    return max(_best_diagonal(fwd, max_overhang), _best_diagonal(rev, max_overhang))


def similarity_matrix(
    counts: Mapping[str, np.ndarray], *, max_overhang: int = MAX_OVERHANG
) -> pd.DataFrame:
    """Pairwise :func:`matrix_similarity` of named count matrices (symmetric, 1 on the diagonal)."""
    names = list(counts)
    out = np.eye(len(names))
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            out[i, j] = out[j, i] = matrix_similarity(
                counts[names[i]], counts[names[j]], max_overhang=max_overhang
            )
    return pd.DataFrame(out, index=names, columns=names)


def cluster_matrices(similarity: pd.DataFrame, *, threshold: float = THRESHOLD) -> pd.Series:
    """Cluster id (1, 2, …) per name: average linkage on ``1 − similarity``, cut at
    ``1 − threshold``. Ids are numbered in the order of each cluster's first name."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    names = list(similarity.index)
    if len(names) < 2:
        return pd.Series(np.ones(len(names), dtype=int), index=names, name="cluster")
    dist = np.clip(1.0 - similarity.to_numpy(), 0.0, None)
    np.fill_diagonal(dist, 0.0)
    raw = fcluster(
        linkage(squareform(dist, checks=False), method="average"),
        t=1.0 - threshold,
        criterion="distance",
    )
    order = {c: i + 1 for i, c in enumerate(dict.fromkeys(raw))}
    return pd.Series([order[c] for c in raw], index=names, name="cluster")


def tf_clusters(
    tf_ids: Mapping[str, set[str]],
    matrices: Sequence[object],
    *,
    threshold: float = THRESHOLD,
) -> pd.Series:
    """Cluster of every TF name in ``tf_ids`` (name → its matrix IDs, e.g. from the hits).

    ``matrices`` are :class:`~chromtransfer_lib.genome.jaspar.JasparMatrix` objects; a TF with
    several matrices is represented by its first ID in sorted order.
    """
    by_id = {m.matrix_id: m for m in matrices}
    counts = {}
    for tf, ids in sorted(tf_ids.items()):
        known = sorted(i for i in ids if i in by_id)
        if not known:
            raise KeyError(f"no JASPAR matrix among {sorted(ids)} for TF {tf!r}")
        counts[tf] = by_id[known[0]].counts
    return cluster_matrices(similarity_matrix(counts), threshold=threshold)


def cluster_ranking(ks: pd.DataFrame, clusters: pd.Series) -> pd.DataFrame:
    """Clusters ranked by their best significant, positive member's signed D.

    Returns columns rank (1 = best), cluster, lead (the best member), D_signed, members
    (significant positive members, best first).
    """
    sig = ks[ks["significant"].astype(bool) & (ks["D_signed"] > 0)]
    sig = sig.sort_values("D_signed", ascending=False, kind="stable")
    sig = sig.assign(cluster=sig["tf"].map(clusters))
    if sig["cluster"].isna().any():
        missing = sig.loc[sig["cluster"].isna(), "tf"].tolist()
        raise KeyError(f"TFs without a cluster: {missing[:5]}")
    rows = [
        {
            "cluster": int(c),
            "lead": g["tf"].iloc[0],
            "D_signed": float(g["D_signed"].iloc[0]),
            "members": ", ".join(g["tf"]),
        }
        for c, g in sig.groupby("cluster", sort=False)
    ]
    out = pd.DataFrame(rows, columns=["cluster", "lead", "D_signed", "members"])
    return out.assign(rank=np.arange(1, len(out) + 1))[
        ["rank", "cluster", "lead", "D_signed", "members"]
    ]

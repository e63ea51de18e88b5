"""Dinucleotide-preserving shuffles of code sequences (Altschul–Erickson), for null backgrounds.

:func:`dinucleotide_shuffle` returns random sequences with exactly the dinucleotide counts of
the input (so also its letter counts, its first and its last letter): the background that
variant scoring (:mod:`chromtransfer_lib.predict.variants`) compares an effect against, as
``fasta-shuffle-letters -kmer 2`` (MEME), uShuffle and tangermeme's ``dinucleotide_shuffle``
do. Codes follow :mod:`.sequence` (``A=0 … N=4``); ``N`` is shuffled as a fifth letter, so
its count is kept too.

The algorithm (Altschul & Erickson 1985, as made uniform by Kandel et al. 1996): the sequence
is an Eulerian path through the multigraph whose vertices are letters and whose edges are its
``L - 1`` dinucleotides. A random path with the same edges is drawn by

1. choosing, for every letter but the last one of the sequence, the edge by which a walk
   leaves it for the last time, such that these edges form a tree pointing at the last
   letter (Wilson's loop-erased random walks, each step along a random out-edge, so trees are
   drawn in proportion to the product of edge multiplicities, as uniformity needs);
2. putting every letter's other out-edges in a random order, with the tree edge last;
3. walking from the first letter, always along the next unused out-edge.

Why written here: no installed, maintained dependency provides it. memelite (a dependency, for
TOMTOM and FIMO) has no shuffle, tangermeme is not a dependency, and uShuffle's Python binding
is unmaintained. It is some 60 lines of NumPy and Python. See ARCHITECTURE.md for the layers.
"""

from __future__ import annotations

import numpy as np


def dinucleotide_shuffle(
    codes: np.ndarray,
    *,
    n_shuffles: int = 1,
    random_state: int | np.random.Generator | None = None,
) -> np.ndarray:
    """Shuffles of one sequence that keep every dinucleotide count exactly.

    Parameters
    ----------
    codes
        uint8 codes of one sequence, shape ``(L,)`` (:mod:`.sequence`: ``A=0 … N=4``).
    n_shuffles
        How many shuffles to draw.
    random_state
        Seed or generator (:func:`numpy.random.default_rng`); the same seed gives the same
        shuffles.

    Returns
    -------
    numpy.ndarray
        uint8 ``(n_shuffles, L)``. Each row has the input's dinucleotide counts, letter counts,
        first and last letter. Sequences shorter than 3 bp are returned unchanged (they have
        no other arrangement).
    """
    seq = np.asarray(codes, dtype=np.uint8)
    if seq.ndim != 1:
        raise ValueError(f"codes must be one sequence of shape (L,), got {seq.shape}")
    if n_shuffles < 0:
        raise ValueError(f"n_shuffles must be >= 0, got {n_shuffles}")
    rng = np.random.default_rng(random_state)
    out = np.empty((n_shuffles, seq.size), dtype=np.uint8)
    if seq.size < 3:
        out[:] = seq
        return out
    first, last = int(seq[0]), int(seq[-1])
    # out-edges of each letter, as the letters that follow it
    succ = {int(v): seq[1:][seq[:-1] == v] for v in np.unique(seq[:-1])}
    for k in range(n_shuffles):
        tree = _last_exit_tree(succ, last, rng)
        edges = {}
        for v, targets in succ.items():
            if v == last:
                edges[v] = rng.permutation(targets).tolist()
                continue
            rest = np.delete(targets, np.flatnonzero(targets == tree[v])[0])
            edges[v] = [*rng.permutation(rest).tolist(), tree[v]]
        out[k] = _walk(edges, first, seq.size)
    return out


def _last_exit_tree(succ: dict[int, np.ndarray], root: int, rng: np.random.Generator) -> dict:
    """Wilson's algorithm: each letter but ``root`` → the target of its last exit edge."""
    in_tree, nxt = {root}, {}
    for v in succ:
        u = v
        while u not in in_tree:  # loop-erased random walk: later steps overwrite loops
            targets = succ[u]
            nxt[u] = int(targets[rng.integers(targets.size)])
            u = nxt[u]
        u = v
        while u not in in_tree:
            in_tree.add(u)
            u = nxt[u]
    return nxt


def _walk(edges: dict[int, list[int]], first: int, length: int) -> list[int]:
    """The Eulerian path from ``first`` that takes each letter's out-edges in list order."""
    pos = dict.fromkeys(edges, 0)
    path, u = [first], first
    for _ in range(length - 1):
        i = pos[u]
        pos[u] = i + 1
        u = edges[u][i]
        path.append(u)
    return path

"""Motif scanning with exact p-value thresholds: every window with ``p < p_value``, no other.

The scoring model (log-odds in bits with a stated background and pseudocount, integer scores on
a ``1 / scale``-bit grid, exact p-values by dynamic programming) is described in
:mod:`chromtransfer_lib.interpret.pvalues`. Both strands are scanned: the reverse strand with the
reverse-complement matrix, so a ``-`` hit at ``[start, end)`` means the motif reads 5'→3' on the
minus strand over those bases. Windows containing ``N`` are never hits. Matrices that cannot
reach the threshold (even their best score has ``p >= p_value``) are listed in
:attr:`MotifScan.unreachable` and not scanned.

How the scan is fast in NumPy (a multiple-matrix lookahead filter in the spirit of MOODS):

1. **Index.** For each matrix and strand, pick the ``q1``-column window (default 8) that
   filters best, and list every ``q1``-mer whose window score plus the best possible score of
   the other columns can still reach the threshold. One table maps each ``q1``-mer code to its
   (matrix, offset) pairs.
2. **Candidates.** The ``q1``-mer code at each sequence position selects the pairs, giving
   candidate windows (about 7 per position for the 1,682 JASPAR 2022 matrices and strands).
3. **Verification.** Candidates are scored in blocks of ``q2`` columns (default 5) through
   per-matrix ``4**q2`` lookup tables, most informative block first; after each block, windows
   whose score plus the best of the remaining blocks is below the threshold are dropped. What
   survives all blocks has its exact integer score ``>= threshold``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from chromtransfer_lib.genome.sequence import N_CODE
from chromtransfer_lib.interpret.pvalues import (
    UNIFORM_BACKGROUND,
    ScoreTail,
    exact_threshold,
    integer_matrix,
    log_odds_matrix,
    reverse_complement_matrix,
)
from chromtransfer_lib.progress import progress_bar

logger = logging.getLogger(__name__)

HIT_COLUMNS = ["region", "tf", "matrix_id", "start", "end", "strand", "score", "p_value"]


class CountMatrix(Protocol):
    """What the scanner needs from a matrix, e.g. :class:`.jaspar.JasparMatrix`."""

    matrix_id: str
    name: str
    counts: np.ndarray  # (4, w) A, C, G, T


@dataclass(frozen=True)
class MotifSet:
    """Matrices turned into integer scores with exact thresholds, plus the scan index.

    Attributes
    ----------
    matrix_ids, names
        One entry per *reachable* matrix, in input order.
    scores
        Integer score matrices ``(w, 4)`` (forward strand), units of ``1 / scale`` bits.
    thresholds
        int64 ``(m,)``: a window is a hit iff its integer score is ``>= thresholds[i]``.
    tails
        Exact score tails, used to give each hit its p-value.
    unreachable
        Table (matrix_id, tf, width, best_p) of matrices that can never reach ``p < p_value``.
    p_value, background, pseudocount, scale
        The scoring model.
    """

    matrix_ids: tuple[str, ...]
    names: tuple[str, ...]
    scores: tuple[np.ndarray, ...]
    thresholds: np.ndarray
    tails: tuple[ScoreTail, ...]
    unreachable: pd.DataFrame
    p_value: float
    background: tuple[float, ...]
    pseudocount: float
    scale: int
    index: _ScanIndex


@dataclass(frozen=True)
class MotifScan:
    """Result of :func:`scan_motifs`.

    Attributes
    ----------
    hits
        One row per hit: region (row of ``codes``), tf, matrix_id, start, end (0-based,
        half-open, region-relative), strand (``+``/``-``), score (bits), p_value.
    unreachable
        Matrices not scanned because no window can reach ``p < p_value``.
    n_candidates
        Candidate windows examined after the first filter (a measure of work).
    """

    hits: pd.DataFrame
    unreachable: pd.DataFrame
    n_candidates: int


@dataclass(frozen=True)
class _ScanIndex:
    q1: int
    q2: int
    width: np.ndarray  # (s,) per scanner (matrix x strand)
    threshold: np.ndarray  # (s,)
    motif: np.ndarray  # (s,) index into MotifSet
    strand: np.ndarray  # (s,) +1 / -1
    indptr: np.ndarray  # (4**q1 + 1,)
    entry_scanner: np.ndarray  # (e,)
    entry_offset: np.ndarray  # (e,)
    block_table: np.ndarray  # (s * k * 4**q2,) flat int32
    block_order: np.ndarray  # (s, k) block evaluated at step i
    rest_max: np.ndarray  # (s, k + 1) best score of the blocks not yet evaluated
    n_blocks: np.ndarray  # (s,) blocks that hold columns of the matrix
    k: int


def prepare_motifs(
    matrices: Sequence[CountMatrix],
    *,
    p_value: float = 1e-5,
    background: Sequence[float] = UNIFORM_BACKGROUND,
    pseudocount: float = 0.8,
    scale: int = 1000,
    q1: int = 8,
    q2: int = 5,
) -> MotifSet:
    """Score matrices, exact thresholds and the scan index for :func:`scan_motifs`.

    Parameters
    ----------
    matrices
        Count matrices with ``matrix_id``, ``name`` and ``counts`` ``(4, w)``, e.g.
        ``chromtransfer_lib.genome.jaspar.load_jaspar()``.
    p_value
        Hits are windows whose exact p-value is ``< p_value``.
    background
        Base probabilities (A, C, G, T) of the log-odds and of the p-values.
    pseudocount
        Total pseudocount per column (see
        :func:`chromtransfer_lib.interpret.pvalues.log_odds_matrix`).
    scale
        Integer units per bit (score granularity ``1 / scale`` bits).
    q1, q2
        Index word length and verification block length (speed only; hits do not depend on
        them).
    """
    ids, names, scores, thresholds, tails, dropped = [], [], [], [], [], []
    for mat in matrices:
        m = integer_matrix(
            log_odds_matrix(mat.counts, background=background, pseudocount=pseudocount),
            scale=scale,
        )
        thr = exact_threshold(m, p_value, background=background)
        if thr.score is None:
            dropped.append((mat.matrix_id, mat.name, m.shape[0], thr.best_p))
            continue
        ids.append(mat.matrix_id)
        names.append(mat.name)
        scores.append(m)
        thresholds.append(thr.score)
        tails.append(thr.tail)
    unreachable = pd.DataFrame(dropped, columns=["matrix_id", "tf", "width", "best_p"])
    if len(unreachable):
        logger.info(
            "%d of %d matrices cannot reach p < %g and are not scanned",
            len(unreachable),
            len(matrices),
            p_value,
        )
    thresholds_arr = np.asarray(thresholds, dtype=np.int64)
    index = _build_index(scores, thresholds_arr, q1=q1, q2=q2)
    return MotifSet(
        matrix_ids=tuple(ids),
        names=tuple(names),
        scores=tuple(scores),
        thresholds=thresholds_arr,
        tails=tuple(tails),
        unreachable=unreachable,
        p_value=float(p_value),
        background=tuple(float(b) for b in background),
        pseudocount=float(pseudocount),
        scale=int(scale),
        index=index,
    )


def _kmer_scores(block: np.ndarray) -> np.ndarray:
    """Scores of all ``4**q`` words under a ``(q, 4)`` block; word code is base-4, first base
    most significant."""
    out = np.zeros(1, dtype=np.int64)
    for row in block:
        out = (out[:, None] + row[None, :]).ravel()
    return out


def _build_index(
    scores: Sequence[np.ndarray], thresholds: np.ndarray, *, q1: int, q2: int
) -> _ScanIndex:
    scanners = [m for fwd in scores for m in (fwd, reverse_complement_matrix(fwd))]
    thr = np.repeat(thresholds, 2)
    width = np.array([m.shape[0] for m in scanners], dtype=np.int64)
    k = int(np.ceil(width.max() / q2)) if len(scanners) else 1
    codes, owners, offsets = [], [], []
    table = np.zeros((len(scanners), k, 4**q2), dtype=np.int32)
    for s, m in enumerate(scanners):
        w = m.shape[0]
        col_max = m.max(axis=1)
        if w <= q1:
            ok = np.flatnonzero(_kmer_scores(m) >= thr[s])
            ok = (ok[:, None] * 4 ** (q1 - w) + np.arange(4 ** (q1 - w))[None, :]).ravel()
            offset = 0
        else:
            # the window that keeps the fewest words is the best filter
            best = None
            for o in range(w - q1 + 1):
                rest = col_max.sum() - col_max[o : o + q1].sum()
                passing = np.flatnonzero(_kmer_scores(m[o : o + q1]) + rest >= thr[s])
                if best is None or passing.size < best[0].size:
                    best = (passing, o)
            ok, offset = best
        codes.append(ok)
        owners.append(np.full(ok.size, s, dtype=np.int32))
        offsets.append(np.full(ok.size, offset, dtype=np.int32))
        padded = np.zeros((k * q2, 4), dtype=np.int64)
        padded[:w] = m
        for b in range(k):
            table[s, b] = _kmer_scores(padded[b * q2 : (b + 1) * q2])
    codes_all = np.concatenate(codes) if codes else np.zeros(0, dtype=np.int64)
    order = np.argsort(codes_all, kind="stable")
    indptr = np.zeros(4**q1 + 1, dtype=np.int64)
    np.add.at(indptr, codes_all + 1, 1)
    block_max = table.max(axis=2).astype(np.int64)
    gain = block_max - table.mean(axis=2)  # expected drop below the best: informative first
    block_order = np.argsort(-gain, axis=1, kind="stable")
    sorted_max = np.take_along_axis(block_max, block_order, axis=1)
    rest_max = np.concatenate(
        [np.cumsum(sorted_max[:, ::-1], axis=1)[:, ::-1], np.zeros((len(scanners), 1), np.int64)],
        axis=1,
    )
    return _ScanIndex(
        q1=q1,
        q2=q2,
        width=width,
        threshold=thr,
        motif=np.repeat(np.arange(len(scores)), 2),
        strand=np.tile([1, -1], len(scores)),
        indptr=np.cumsum(indptr),
        entry_scanner=np.concatenate(owners)[order] if owners else np.zeros(0, np.int32),
        entry_offset=np.concatenate(offsets)[order] if offsets else np.zeros(0, np.int32),
        block_table=table.ravel(),
        block_order=block_order,
        rest_max=rest_max,
        n_blocks=np.ceil(width / q2).astype(np.int64),
        k=k,
    )


def _word_codes(x: np.ndarray, q: int) -> np.ndarray:
    """Base-4 codes of every ``q``-mer of each row of ``x`` (n, Lp) → (n, Lp - q + 1)."""
    n_words = x.shape[1] - q + 1
    out = np.zeros((x.shape[0], n_words), dtype=np.int64)
    for j in range(q):
        out = out * 4 + x[:, j : j + n_words]
    return out


def _scan_batch(codes: np.ndarray, idx: _ScanIndex) -> tuple[np.ndarray, ...]:
    """Hits of one batch: (row, scanner, start, integer score) arrays, and the candidate count."""
    n, length = codes.shape
    is_n = codes == N_CODE
    padded = np.zeros((n, length + idx.k * idx.q2 + idx.q1), dtype=np.int64)
    padded[:, :length] = np.where(is_n, 0, codes)  # N scored as A here, removed below
    words1 = _word_codes(padded[:, : length + idx.q1 - 1], idx.q1).ravel()
    words2 = _word_codes(padded, idx.q2)
    row_len2 = words2.shape[1]
    words2 = words2.ravel()
    first = idx.indptr[words1]
    count = idx.indptr[words1 + 1] - first
    total = int(count.sum())
    entry = np.repeat(first - (np.cumsum(count) - count), count) + np.arange(total)
    where = np.repeat(np.arange(n * length, dtype=np.int64), count)
    scanner = idx.entry_scanner[entry].astype(np.int64)
    start = where % length - idx.entry_offset[entry]
    row = where // length
    keep = (start >= 0) & (start + idx.width[scanner] <= length)
    scanner, start, row = scanner[keep], start[keep], row[keep]
    score = np.zeros(scanner.size, dtype=np.int64)
    done: list[tuple[np.ndarray, ...]] = []
    table_rows = 4**idx.q2
    for i in range(idx.k):
        block = idx.block_order[scanner, i]
        word = words2[row * row_len2 + start + block * idx.q2]
        score += idx.block_table[(scanner * idx.k + block) * table_rows + word]
        alive = score + idx.rest_max[scanner, i + 1] >= idx.threshold[scanner]
        finished = alive & (idx.n_blocks[scanner] <= i + 1)
        done.append((row[finished], scanner[finished], start[finished], score[finished]))
        alive &= ~finished
        scanner, start, row, score = scanner[alive], start[alive], row[alive], score[alive]
        if scanner.size == 0:
            break
    row, scanner, start, score = (np.concatenate(parts) for parts in zip(*done, strict=True))
    if is_n.any():
        n_before = np.concatenate([np.zeros((n, 1), np.int64), np.cumsum(is_n, axis=1)], axis=1)
        clean = n_before[row, start + idx.width[scanner]] == n_before[row, start]
        row, scanner, start, score = row[clean], scanner[clean], start[clean], score[clean]
    return row, scanner, start, score, total


def scan_motifs(
    codes: np.ndarray,
    motifs: MotifSet,
    *,
    batch_size: int = 500,
    verbose: bool = False,
) -> MotifScan:
    """All windows of ``codes`` whose exact p-value is below ``motifs.p_value``, both strands.

    Parameters
    ----------
    codes
        uint8 sequence codes ``(n, L)`` (``chromtransfer_lib.genome.sequence`` contract).
    motifs
        From :func:`prepare_motifs`.
    batch_size
        Sequences scanned together (memory grows with it: ~7 candidates per base).
    verbose
        Show a progress bar.

    Returns
    -------
    MotifScan
        Hits sorted by region, start, matrix and strand; unreachable matrices.
    """
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise ValueError(f"codes must have shape (n, L), got {codes.shape}")
    if codes.size and codes.max() > N_CODE:
        raise ValueError(
            "codes must be uint8 A=0 C=1 G=2 T=3 N=4 (chromtransfer_lib.genome.sequence)"
        )
    idx = motifs.index
    parts, n_candidates = [], 0
    starts = range(0, codes.shape[0], batch_size)
    for a in progress_bar(starts, enabled=verbose, desc="motif scan", unit="batch"):
        row, scanner, start, score, total = _scan_batch(codes[a : a + batch_size], idx)
        parts.append((row + a, scanner, start, score))
        n_candidates += total
    if parts and len(motifs.scores):
        row, scanner, start, score = (np.concatenate(p) for p in zip(*parts, strict=True))
    else:
        row = scanner = start = score = np.zeros(0, dtype=np.int64)
    motif = idx.motif[scanner]
    p = np.empty(score.size, dtype=np.float64)
    for m in np.unique(motif):
        sel = motif == m
        p[sel] = motifs.tails[m].p_value(score[sel])
    ids = np.asarray(motifs.matrix_ids, dtype=object)
    names = np.asarray(motifs.names, dtype=object)
    hits = pd.DataFrame(
        {
            "region": row.astype(np.int64),
            "tf": names[motif] if motif.size else np.zeros(0, dtype=object),
            "matrix_id": ids[motif] if motif.size else np.zeros(0, dtype=object),
            "start": start.astype(np.int64),
            "end": (start + idx.width[scanner]).astype(np.int64),
            "strand": np.where(idx.strand[scanner] > 0, "+", "-").astype(object),
            "score": score / motifs.scale,
            "p_value": p,
        },
        columns=HIT_COLUMNS,
    )
    hits = hits.sort_values(["region", "start", "matrix_id", "strand"], kind="stable")
    return MotifScan(
        hits=hits.reset_index(drop=True),
        unreachable=motifs.unreachable,
        n_candidates=n_candidates,
    )

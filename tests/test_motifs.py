"""Motif scanning: exact p-value thresholds and hits, against brute force and Biopython/MOODS."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from chromtransfer_lib.genome.jaspar import load_jaspar, resolve_motifs
from chromtransfer_lib.genome.sequence import decode_sequences, reverse_complement
from chromtransfer_lib.interpret.pvalues import (
    exact_threshold,
    integer_matrix,
    log_odds_matrix,
    reverse_complement_matrix,
    score_tail,
)
from chromtransfer_lib.interpret.scan import HIT_COLUMNS, prepare_motifs, scan_motifs


@dataclass(frozen=True)
class Toy:
    matrix_id: str
    name: str
    counts: np.ndarray


def _random_counts(rng: np.random.Generator, width: int) -> np.ndarray:
    return rng.dirichlet(np.full(4, 0.4), size=width).T * rng.integers(10, 60)


def _brute_distribution(m: np.ndarray, bg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All 4**w words: integer scores and probabilities."""
    w = m.shape[0]
    words = np.array(list(itertools.product(range(4), repeat=w)))
    scores = m[np.arange(w), words].sum(axis=1)
    probs = bg[words].prod(axis=1)
    return scores, probs


def _brute_hits(codes: np.ndarray, motifs) -> set:
    """Every window, both strands, scored directly; N windows excluded."""
    out = set()
    for i, (m, thr) in enumerate(zip(motifs.scores, motifs.thresholds, strict=True)):
        w = m.shape[0]
        win = np.lib.stride_tricks.sliding_window_view(codes, w, axis=1)
        has_n = (win == 4).any(axis=-1)
        safe = np.where(win == 4, 0, win)
        for strand, mm in (("+", m), ("-", reverse_complement_matrix(m))):
            score = mm[np.arange(w), safe].sum(axis=-1)
            r, s = np.nonzero((score >= thr) & ~has_n)
            out |= {
                (a, motifs.matrix_ids[i], b, strand, score[a, b]) for a, b in zip(r, s, strict=True)
            }
    return out


def _as_set(hits: pd.DataFrame, scale: int) -> set:
    return set(
        zip(
            hits["region"],
            hits["matrix_id"],
            hits["start"],
            hits["strand"],
            np.rint(hits["score"] * scale).astype(np.int64),
            strict=True,
        )
    )


@pytest.mark.parametrize("bg", [(0.25, 0.25, 0.25, 0.25), (0.3, 0.2, 0.2, 0.3)])
def test_threshold_matches_enumeration_of_all_kmers(bg: tuple[float, ...]) -> None:
    rng = np.random.default_rng(1)
    bg_arr = np.asarray(bg)
    for width in (3, 4, 5, 6, 7):
        m = integer_matrix(log_odds_matrix(_random_counts(rng, width), background=bg), scale=1000)
        scores, probs = _brute_distribution(m, bg_arr)
        support = np.unique(scores)
        tail = np.array([probs[scores >= s].sum() for s in support])
        for p in (1e-1, 1e-2, 1e-3, 2e-4):
            thr = exact_threshold(m, p, background=bg, initial_span=50)  # forces doubling
            below = support[tail < p]
            assert thr.score == (below[0] if below.size else None)
            assert thr.best_p == pytest.approx(probs[scores == scores.max()].sum(), rel=1e-12)
            if thr.score is not None:
                # p-values of every attainable score at or above the threshold
                got = thr.tail.p_value(support[support >= thr.score])
                np.testing.assert_allclose(got, tail[support >= thr.score], rtol=1e-12)
                # a window is a hit iff its exact p-value is < p
                hit = scores >= thr.score
                word_p = thr.tail.p_value(np.maximum(scores, thr.tail.lower))
                assert np.array_equal(hit, (word_p < p) & (scores >= thr.tail.lower))


def test_pruned_tail_equals_full_distribution() -> None:
    rng = np.random.default_rng(2)
    m = integer_matrix(log_odds_matrix(_random_counts(rng, 8)), scale=100)
    scores, probs = _brute_distribution(m, np.full(4, 0.25))
    lower = int(np.quantile(scores, 0.9))
    tail = score_tail(m, lower=lower)
    support = np.unique(scores[scores >= lower])
    np.testing.assert_array_equal(tail.scores, support)
    expect = [probs[scores >= s].sum() for s in support]
    np.testing.assert_allclose(tail.p_values, expect, rtol=1e-12)


def test_log_odds_convention_and_reverse_complement() -> None:
    counts = np.array([[10, 0], [0, 0], [0, 10], [0, 10]], dtype=float)  # A/G-T
    lo = log_odds_matrix(counts, pseudocount=0.8)
    assert lo.shape == (2, 4)
    assert lo[0, 0] == pytest.approx(np.log2((10 + 0.2) / 10.8 / 0.25))
    assert lo[0, 1] == pytest.approx(np.log2(0.2 / 10.8 / 0.25))
    rng = np.random.default_rng(3)
    m = rng.integers(-50, 50, size=(6, 4))
    x = rng.integers(0, 4, size=(20, 6)).astype(np.uint8)
    rc = reverse_complement(x)
    direct = m[np.arange(6), rc].sum(axis=1)
    np.testing.assert_array_equal(reverse_complement_matrix(m)[np.arange(6), x].sum(axis=1), direct)


@pytest.fixture(scope="module")
def jaspar_subset() -> tuple:
    names = ["CTCF", "HNF4A", "GATA1", "CEBPA", "FOXA2", "SPI1", "HNF1A", "NFE2", "MA0004.1"]
    return resolve_motifs(names, load_jaspar())


def _planted_sequences(matrices, n: int, length: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    codes = rng.choice(4, size=(n, length), p=[0.3, 0.2, 0.2, 0.3]).astype(np.uint8)
    for i in range(n):
        for _ in range(3):
            mat = matrices[rng.integers(len(matrices))]
            probs = mat.counts / mat.counts.sum(axis=0)
            site = np.array([rng.choice(4, p=probs[:, j]) for j in range(mat.width)], np.uint8)
            if rng.random() < 0.5:
                site = reverse_complement(site)
            s = rng.integers(0, length - mat.width + 1)  # edges included
            codes[i, s : s + mat.width] = site
    codes[0, 5:9] = 4  # N stretches must never be inside a hit
    codes[1, length - 3 :] = 4
    return codes


@pytest.mark.parametrize("p_value", [1e-5, 1e-3])
def test_scan_equals_brute_force_on_random_and_planted(jaspar_subset, p_value: float) -> None:
    motifs = prepare_motifs(jaspar_subset, p_value=p_value)
    codes = _planted_sequences(jaspar_subset, n=40, length=120, seed=4)
    scan = scan_motifs(codes, motifs, batch_size=7)
    assert list(scan.hits.columns) == HIT_COLUMNS
    assert len(scan.hits) > 0
    assert _as_set(scan.hits, motifs.scale) == _brute_hits(codes, motifs)
    assert (scan.hits["p_value"] < p_value).all()
    widths = scan.hits["end"] - scan.hits["start"]
    expect = scan.hits["matrix_id"].map({m.matrix_id: m.width for m in jaspar_subset})
    assert (widths == expect).all()
    # speed knobs and batch size do not change the hits
    other = prepare_motifs(jaspar_subset, p_value=p_value, q1=6, q2=3)
    again = scan_motifs(codes, other, batch_size=1000)
    pd.testing.assert_frame_equal(scan.hits, again.hits)


def test_scan_random_matrices_near_their_threshold() -> None:
    """Low-information random matrices: many windows close to the threshold, both strands."""
    rng = np.random.default_rng(5)
    mats = [Toy(f"T{w}", f"toy{w}", _random_counts(rng, w)) for w in (4, 7, 9, 13, 21)]
    motifs = prepare_motifs(mats, p_value=1e-3, background=(0.3, 0.2, 0.2, 0.3), pseudocount=1.0)
    codes = rng.choice(4, size=(30, 90)).astype(np.uint8)
    scan = scan_motifs(codes, motifs)
    assert len(scan.hits) > 20
    assert _as_set(scan.hits, motifs.scale) == _brute_hits(codes, motifs)


def test_unreachable_matrices_are_reported() -> None:
    jaspar = load_jaspar()
    bg = np.full(4, 0.25)
    best_p, widths = [], []
    for mat in jaspar:
        m = integer_matrix(log_odds_matrix(mat.counts))
        thr = exact_threshold(m, 1e-5)
        # P(best score) = product over columns of the mass of the columns' best bases
        expect = np.prod([bg[row == row.max()].sum() for row in m])
        assert thr.best_p == pytest.approx(expect, rel=1e-9)
        assert (thr.score is None) == (expect >= 1e-5)
        best_p.append(thr.best_p)
        widths.append(mat.width)
    unreachable = np.asarray(best_p) >= 1e-5
    assert len(jaspar) == 841
    assert unreachable.sum() == 91  # matrices whose best score is no rarer than p 1e-5
    assert np.asarray(widths)[unreachable].max() <= 8
    short = [m for m, u in zip(jaspar, unreachable, strict=True) if u][:3]
    motifs = prepare_motifs([*short, *resolve_motifs(["CTCF"], jaspar)])
    assert list(motifs.unreachable["matrix_id"]) == [m.matrix_id for m in short]
    assert motifs.matrix_ids == ("MA0139.1",)
    codes = np.zeros((2, 50), np.uint8)
    assert scan_motifs(codes, motifs).unreachable.equals(motifs.unreachable)


def test_scan_equals_biopython_filtered_by_exact_p(jaspar_subset) -> None:
    from Bio import motifs as bio_motifs
    from Bio.Seq import Seq

    motifs = prepare_motifs(jaspar_subset, p_value=1e-4)
    codes = _planted_sequences(jaspar_subset, n=25, length=150, seed=6)
    codes[codes == 4] = 0  # Biopython scores N windows as NaN/skips them differently
    seqs = decode_sequences(codes)
    ours = scan_motifs(codes, motifs).hits
    found = set()
    scanned = [m for m in jaspar_subset if m.matrix_id in motifs.matrix_ids]  # Arnt: too short
    for mat, m, thr, tail in zip(
        scanned, motifs.scores, motifs.thresholds, motifs.tails, strict=True
    ):
        bm = bio_motifs.Motif(counts={b: list(mat.counts[i]) for i, b in enumerate("ACGT")})
        pssm = bm.counts.normalize(pseudocounts=0.2).log_odds()
        w = mat.width
        rc = reverse_complement_matrix(m)
        for r, s in enumerate(seqs):
            # a permissive float threshold, then the exact p-value filter
            for pos, _ in pssm.search(Seq(s), threshold=thr / motifs.scale - 0.05, both=True):
                start = pos if pos >= 0 else len(s) + pos
                strand_m, strand = (m, "+") if pos >= 0 else (rc, "-")
                score = strand_m[np.arange(w), codes[r, start : start + w]].sum()
                if score >= tail.lower and tail.p_value(score) < motifs.p_value:
                    found.add((r, mat.matrix_id, start, strand, score))
    assert len(found) > 10
    assert _as_set(ours, motifs.scale) == found


def test_scan_equals_moods_filtered_by_exact_p(jaspar_subset) -> None:
    moods_scan = pytest.importorskip("MOODS.scan", reason="moods-python is benchmark-only")
    import MOODS.tools

    motifs = prepare_motifs(jaspar_subset, p_value=1e-4)
    codes = _planted_sequences(jaspar_subset, n=25, length=150, seed=7)
    codes[codes == 4] = 0
    bg = [0.25] * 4
    mats, meta = [], []
    scanned = [m for m in jaspar_subset if m.matrix_id in motifs.matrix_ids]
    for mat, m in zip(scanned, motifs.scores, strict=True):
        lo = MOODS.tools.log_odds([list(r) for r in mat.counts], bg, 0.8, 2)
        for strand, mm, ints in (("+", lo, m), ("-", MOODS.tools.reverse_complement(lo, 4), None)):
            mats.append(mm)
            meta.append(
                (mat.matrix_id, strand, m if ints is not None else reverse_complement_matrix(m))
            )
    thresholds = [MOODS.tools.threshold_from_p(mm, bg, motifs.p_value) for mm in mats]
    scanner = moods_scan.Scanner(7)
    scanner.set_motifs(mats, bg, thresholds)
    tails = dict(zip(motifs.matrix_ids, motifs.tails, strict=True))
    found = set()
    for r, s in enumerate(decode_sequences(codes)):
        for (mid, strand, m), res in zip(meta, scanner.scan(s), strict=True):
            for hit in res:
                w = m.shape[0]
                score = m[np.arange(w), codes[r, hit.pos : hit.pos + w]].sum()
                if score >= tails[mid].lower and tails[mid].p_value(score) < motifs.p_value:
                    found.add((r, mid, hit.pos, strand, score))
    ours = _as_set(scan_motifs(codes, motifs).hits, motifs.scale)
    assert len(found) > 10
    assert ours == found

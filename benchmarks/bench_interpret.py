"""Benchmark of interpretation: ISM against a naive ISM, motif scanning against Biopython and MOODS.

Run: ``TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python benchmarks/bench_interpret.py`` (~6-10 minutes
on 2 CPU cores, the ISM part ~2 minutes; ``--only ism`` or ``--only scan`` for one part).
Prints each comparison and ends with one JSON line.

* **ISM.** The paper-architecture network at 600 bp, with widths ÷4 (quick profile; 6
  sequences) and at the paper's widths (4 sequences), its BatchNorm statistics set on random
  sequences and its output layer rescaled so that outputs spread around 0.5 (as a trained
  network's: see ``_trained_like``). ``in_silico_mutagenesis`` with its default
  ``method="auto"``, i.e. the windowed ISM of :mod:`chromtransfer_lib.interpret.fast_ism`
  (reference activations once per sequence, each layer recomputing only the window a mutation
  reaches, three alternatives per position, batches spanning sequences) against a naive ISM:
  all four bases at every position, one sequence's 2,400 mutants per batch built in NumPy, each
  through the whole model in one compiled ``tf.function`` (not ``model.predict``). Each side's
  compiled functions are made once per model and traced in a warm-up call, not timed.
  ``ism_speedup_vs_naive`` is the smaller of the two speed-ups, ``ism_max_abs_diff`` the
  largest max |delta difference| (float32 round-off). For the record, the quick widths at
  200 bp too (the quick and workshop profiles' inputs, 18 sequences), where the ~200 bp
  receptive field spans the input and windows save little
  (``ism_speedup_vs_naive_quick_200bp``).
* **Scan.** JASPAR 2022 CORE vertebrates (841 matrices, the 750 that can reach p < 1e-5, both
  strands) over 10,000 × 600 bp sequences (human-like composition, three sampled JASPAR sites
  planted per sequence). MOODS (benchmark-only: ``pip install moods-python``) gets the same
  log-odds (pseudocount 0.8, log2) and its own ``threshold_from_p``; its hits are then filtered
  by the exact p-value and compared with ours. Biopython's ``PSSM.search`` is timed on a subset
  of sequences (its own p-value thresholds take minutes, so it is given our thresholds minus
  0.05 bits); speed is compared per sequence. Scan times exclude the one-off per-matrix setup
  (exact thresholds + index for ours; ``threshold_from_p`` + ``set_motifs`` for MOODS), which is
  printed separately.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from chromtransfer_lib.genome.jaspar import load_jaspar
from chromtransfer_lib.genome.sequence import decode_sequences, one_hot, reverse_complement
from chromtransfer_lib.interpret.attribution import in_silico_mutagenesis
from chromtransfer_lib.interpret.pvalues import reverse_complement_matrix
from chromtransfer_lib.interpret.scan import prepare_motifs, scan_motifs

SEQ_LEN = 600
N_ISM = 6
REPEATS = 2
N_SCAN = 10_000
N_BIOPYTHON = 40
P_VALUE = 1e-5


def naive_predictor(model):
    """The naive ISM's compiled forward pass, made once per model (as the fast ISM's are)."""
    import tensorflow as tf

    return tf.function(lambda x: model(x, training=False)[:, 0], reduce_retracing=True)


def naive_ism(predict, codes: np.ndarray) -> np.ndarray:
    """All four bases at every position, one sequence's mutants per batch: (n, L) deltas."""
    n, length = codes.shape
    out = np.empty((n, length), dtype=np.float32)
    rows = np.arange(4 * length)
    for i in range(n):
        ref = float(predict(one_hot(codes[i : i + 1])).numpy()[0])
        x = np.repeat(one_hot(codes[i : i + 1]), 4 * length, axis=0)
        x[rows, rows // 4, :] = 0.0
        x[rows, rows // 4, rows % 4] = 1.0
        change = predict(x).numpy().reshape(length, 4) - ref
        change[np.arange(length), codes[i]] = 0.0  # the reference "mutant"
        out[i] = change[np.arange(length), np.abs(change).argmax(axis=1)]
    return out


#: Widths of the two networks timed: the quick profile's (paper ÷ 4) and the paper's.
ISM_WIDTHS = {
    "quick": {
        "stem_filters": 16,
        "res1_filters": 8,
        "res2_filters": 16,
        "top_filters": 16,
        "head_units": (128, 32),
    },
    "paper": {
        "stem_filters": 64,
        "res1_filters": 32,
        "res2_filters": 64,
        "top_filters": 64,
        "head_units": (512, 128),
    },
}
#: (widths, input length) → sequences timed; 200 bp is the quick and workshop profiles' input.
N_ISM_SEQUENCES = {("quick", 600): N_ISM, ("paper", 600): 4, ("quick", 200): 3 * N_ISM}


def _trained_like(model, rng: np.random.Generator, length: int) -> None:
    """Give an untrained network a trained one's scales: BatchNorm statistics estimated on 256
    random sequences (an untrained BatchNorm is the identity, so activations grow through the
    residual sums and float32 round-off with them: max |delta difference| 1.0e-4 at paper
    widths against 3e-6 with the statistics set), then the output layer rescaled so that
    outputs spread around 0.5 (untrained, they saturate and "results equal" is vacuous)."""
    import keras

    from chromtransfer_lib.models.batchnorm import refresh_batchnorm

    calib = rng.integers(0, 4, size=(256, length)).astype(np.uint8)
    refresh_batchnorm(model, calib, np.arange(len(calib)), max_rows=len(calib), random_state=0)
    out_layer = model.layers[-1]
    hidden = keras.Model(model.input, out_layer.input)(one_hot(calib[:16])).numpy()
    w, b = out_layer.get_weights()
    logits = hidden @ w + b
    out_layer.set_weights(
        [w / (logits.std() + 1e-12), (b - logits.mean()) / (logits.std() + 1e-12)]
    )


def bench_ism_at(widths: str, length: int = SEQ_LEN) -> tuple[float, float]:
    """(speed-up of ``in_silico_mutagenesis`` over :func:`naive_ism`, max |delta difference|)
    on the network of ``ISM_WIDTHS[widths]`` at ``length`` bp."""
    from chromtransfer_lib.models.network import build_network

    model = build_network(seq_len=length, random_state=0, **ISM_WIDTHS[widths])
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, size=(N_ISM_SEQUENCES[widths, length], length)).astype(np.uint8)
    _trained_like(model, rng, length)
    predict = naive_predictor(model)
    in_silico_mutagenesis(model, codes[:1])  # warm both up: trace their compiled functions
    naive_ism(predict, codes[:1])
    t_ours, t_naive = np.inf, np.inf
    for _ in range(REPEATS):  # interleaved, best of each: the machine is shared
        t0 = time.perf_counter()
        ours = in_silico_mutagenesis(model, codes).delta
        t_ours = min(t_ours, time.perf_counter() - t0)
        t0 = time.perf_counter()
        ref = naive_ism(predict, codes)
        t_naive = min(t_naive, time.perf_counter() - t0)
    diff = float(np.abs(ours - ref).max())
    n = len(codes)
    print(
        f"ISM, {widths} widths, {n} x {length} bp: ours {t_ours:.2f} s ({n / t_ours:.2f} seq/s), "
        f"naive {t_naive:.2f} s ({n / t_naive:.2f} seq/s), speed-up {t_naive / t_ours:.2f}x, "
        f"max |delta difference| {diff:.2e} (deltas up to {np.abs(ref).max():.3f})"
    )
    return t_naive / t_ours, diff


def bench_ism() -> dict:
    """ISM at the quick and the paper widths (600 bp): the smaller speed-up, the larger
    difference; and, for the record, at the quick profile's own 200 bp inputs."""
    (quick, d_quick), (paper, d_paper) = bench_ism_at("quick"), bench_ism_at("paper")
    short, d_short = bench_ism_at("quick", 200)
    return {
        "ism_speedup_vs_naive": min(quick, paper),
        "ism_speedup_vs_naive_quick": quick,
        "ism_speedup_vs_naive_paper": paper,
        "ism_speedup_vs_naive_quick_200bp": short,
        "ism_max_abs_diff": max(d_quick, d_paper, d_short),
    }


def scan_sequences(matrices, rng: np.random.Generator) -> np.ndarray:
    codes = rng.choice(4, size=(N_SCAN, SEQ_LEN), p=[0.3, 0.2, 0.2, 0.3]).astype(np.uint8)
    for i in range(N_SCAN):
        for mat in (matrices[j] for j in rng.integers(0, len(matrices), size=3)):
            probs = mat.counts / mat.counts.sum(axis=0)
            cum = probs.cumsum(axis=0)
            site = (rng.random(mat.width)[None, :] > cum).sum(axis=0).clip(max=3).astype(np.uint8)
            if rng.random() < 0.5:
                site = reverse_complement(site)
            s = rng.integers(0, SEQ_LEN - mat.width + 1)
            codes[i, s : s + mat.width] = site
    return codes


def exact_filter(found: dict, codes: np.ndarray, motifs) -> set:
    """(region, matrix_id, start, strand) of another scanner's hits whose exact p < cut."""
    keep = set()
    for (mi, strand), (region, start) in found.items():
        if not len(region):
            continue
        m = motifs.scores[mi] if strand == "+" else reverse_complement_matrix(motifs.scores[mi])
        w = m.shape[0]
        window = codes[np.asarray(region)[:, None], np.asarray(start)[:, None] + np.arange(w)]
        score = m[np.arange(w), window].sum(axis=1)
        tail = motifs.tails[mi]
        ok = score >= tail.lower
        ok[ok] = tail.p_value(score[ok]) < motifs.p_value
        mid = motifs.matrix_ids[mi]
        keep |= {
            (r, mid, s, strand)
            for r, s in zip(np.asarray(region)[ok], np.asarray(start)[ok], strict=True)
        }
    return keep


def bench_scan() -> dict:
    matrices = load_jaspar()
    codes = scan_sequences(matrices, np.random.default_rng(1))
    seqs = decode_sequences(codes)
    t0 = time.perf_counter()
    motifs = prepare_motifs(matrices, p_value=P_VALUE)
    t_setup = time.perf_counter() - t0
    t0 = time.perf_counter()
    scan = scan_motifs(codes, motifs)
    t_ours = time.perf_counter() - t0
    hits = scan.hits
    ours = set(zip(hits["region"], hits["matrix_id"], hits["start"], hits["strand"], strict=True))
    print(
        f"ours: {len(matrices)} matrices ({len(motifs.unreachable)} unreachable at p < {P_VALUE:g},"
        f" not scanned), {N_SCAN} x {SEQ_LEN} bp, both strands: setup {t_setup:.1f} s, scan "
        f"{t_ours:.2f} s ({N_SCAN / t_ours:.0f} seq/s), {len(hits)} hits, "
        f"{scan.n_candidates / codes.size:.1f} candidates per base"
    )
    figures = {
        "scan_speedup_vs_biopython": None,
        "scan_time_ratio_vs_moods": None,
        "hit_agreement": None,
    }
    scanned = [m for m in matrices if m.matrix_id in set(motifs.matrix_ids)]

    try:
        from Bio import motifs as bio_motifs
        from Bio.Seq import Seq
    except ImportError:
        print("Biopython not installed: skipping its comparison")
    else:
        pssms = [
            bio_motifs.Motif(counts={b: list(m.counts[i]) for i, b in enumerate("ACGT")})
            .counts.normalize(pseudocounts=0.2)
            .log_odds()
            for m in scanned
        ]
        t0 = time.perf_counter()
        n_bio = 0
        for s in seqs[:N_BIOPYTHON]:
            for pssm, thr in zip(pssms, motifs.thresholds, strict=True):
                n_bio += sum(1 for _ in pssm.search(Seq(s), threshold=thr / motifs.scale - 0.05))
        t_bio = time.perf_counter() - t0
        speedup = (t_bio / N_BIOPYTHON) / (t_ours / N_SCAN)
        print(
            f"Biopython PSSM.search: {N_BIOPYTHON} sequences in {t_bio:.1f} s "
            f"({N_BIOPYTHON / t_bio:.1f} seq/s, {n_bio} hits before the exact filter); "
            f"ours is {speedup:.0f}x faster per sequence"
        )
        figures["scan_speedup_vs_biopython"] = speedup

    try:
        import MOODS.scan
        import MOODS.tools
    except ImportError:
        print("MOODS not installed (pip install moods-python): skipping its comparison")
        return figures
    bg = [0.25] * 4
    t0 = time.perf_counter()
    lo = [MOODS.tools.log_odds([list(r) for r in m.counts], bg, 0.8, 2) for m in scanned]
    all_m = [x for f in lo for x in (f, MOODS.tools.reverse_complement(f, 4))]
    thresholds = [MOODS.tools.threshold_from_p(m, bg, P_VALUE) for m in all_m]
    scanner = MOODS.scan.Scanner(7)
    scanner.set_motifs(all_m, bg, thresholds)
    t_moods_setup = time.perf_counter() - t0
    t0 = time.perf_counter()
    results = [scanner.scan(s) for s in seqs]
    t_moods = time.perf_counter() - t0
    found: dict = {}
    n_moods = 0
    for r, res in enumerate(results):
        for k, hits_k in enumerate(res):
            key = (k // 2, "+" if k % 2 == 0 else "-")
            regions, starts = found.setdefault(key, ([], []))
            for h in hits_k:
                regions.append(r)
                starts.append(h.pos)
                n_moods += 1
    filtered = exact_filter(found, codes, motifs)
    agreement = len(ours & filtered) / max(len(filtered), 1)
    print(
        f"MOODS: setup {t_moods_setup:.1f} s, scan {t_moods:.2f} s ({N_SCAN / t_moods:.0f} seq/s), "
        f"{n_moods} hits, {len(filtered)} with exact p < {P_VALUE:g}; ours/MOODS scan time "
        f"{t_ours / t_moods:.2f}, end-to-end {(t_setup + t_ours) / (t_moods_setup + t_moods):.2f}; "
        f"{agreement:.4%} of MOODS's exact hits identical in ours, {len(ours - filtered)} of "
        f"ours not in MOODS's"
    )
    figures["scan_time_ratio_vs_moods"] = t_ours / t_moods
    figures["hit_agreement"] = agreement
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("ism", "scan"), help="run one comparison only")
    only = parser.parse_args().only
    figures = bench_ism() if only != "scan" else {}
    if only != "ism":
        figures.update(bench_scan())
    print(json.dumps({"benchmark": "interpret", "figures": figures}))


if __name__ == "__main__":
    main()

"""Benchmark: extract a pre-training-sized dataset (2.2 M × 600 bp) from a 300+ Mbp genome.

Writes a synthetic genome (random bases, soft-masked stretches, N runs; 60-column FASTA) into
a temporary directory, draws random regions in shuffled chromosome order, and times
:func:`chromtransfer_lib.genome.sequence.extract_sequences` into a memory-mapped ``.npy``. The
reference, measured in the same run on a subset, is the per-region loop of the original code:
one pyfaidx fetch per region and a Python one-hot. Temporary files are removed at the end.

Usage::

    python benchmarks/bench_data.py                              # 2.2 M regions, 300 Mbp
    python benchmarks/bench_data.py --regions 50000 --genome-mb 20   # a quick check

Ends with one JSON line: ``{"benchmark": "data", "figures": {...}}``.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyfaidx
from numpy.lib.format import open_memmap

from chromtransfer_lib.genome.sequence import extract_sequences, open_fasta

LETTERS = np.frombuffer(b"ACGTacgtN", dtype=np.uint8)


def write_genome(path: Path, *, total_mb: float, n_chroms: int, rng: np.random.Generator) -> dict:
    """A FASTA of ``n_chroms`` equal chromosomes, ``total_mb`` Mbp in all, 60 bp per line."""
    size = int(total_mb * 1e6 / n_chroms) // 60 * 60
    sizes = {}
    with open(path, "wb") as fh:
        for k in range(n_chroms):
            codes = rng.integers(0, 4, size=size, dtype=np.uint8)
            mask = np.repeat(rng.random(size // 1000) < 0.4, 1000)  # soft-masked kb blocks
            codes[: mask.size][mask] += 4
            for s in rng.integers(0, size - 5000, size=3):  # a few N runs
                codes[s : s + int(rng.integers(100, 5000))] = 8
            lines = np.empty((size // 60, 61), dtype=np.uint8)
            lines[:, :60] = LETTERS[codes].reshape(-1, 60)
            lines[:, 60] = ord("\n")
            name = f"chr{k + 1}"
            fh.write(f">{name}\n".encode())
            fh.write(lines.tobytes())
            sizes[name] = size
    return sizes


def naive_one_hot(fasta: Path, regions: pd.DataFrame) -> np.ndarray:
    """The per-region reference: a pyfaidx fetch and a Python one-hot per region."""
    table = {"A": [1, 0, 0, 0], "C": [0, 1, 0, 0], "G": [0, 0, 1, 0], "T": [0, 0, 0, 1]}
    fa = pyfaidx.Fasta(str(fasta))
    out = []
    for chrom, start, end in regions[["chrom", "start", "end"]].itertuples(index=False):
        seq = fa[chrom][int(start) : int(end)].seq.upper()
        out.append(np.array([table.get(b, [0, 0, 0, 0]) for b in seq], dtype=np.float32))
    fa.close()
    return np.stack(out)


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--regions", type=int, default=2_200_000)
    ap.add_argument("--genome-mb", type=float, default=300.0)
    ap.add_argument("--chroms", type=int, default=10)
    ap.add_argument("--length", type=int, default=600)
    ap.add_argument("--naive", type=int, default=2_000, help="regions for the reference loop")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_data_") as tmp:
        tmp = Path(tmp)
        fasta = tmp / "genome.fa"
        t0 = time.perf_counter()
        sizes = write_genome(fasta, total_mb=args.genome_mb, n_chroms=args.chroms, rng=rng)
        rows.append(("write synthetic FASTA", time.perf_counter() - t0, ""))
        t_index = time.perf_counter()
        open_fasta(fasta).close()
        t_index = time.perf_counter() - t_index
        rows.append(("build .fai (pyfaidx, once per genome)", t_index, ""))
        names = np.array(list(sizes))
        chrom = names[rng.integers(0, len(names), size=args.regions)]
        size = np.array([sizes[c] for c in chrom])
        start = rng.integers(0, size - args.length + 1)
        regions = pd.DataFrame({"chrom": chrom, "start": start, "end": start + args.length})
        rss_before = peak_rss_gib()

        t0 = time.perf_counter()
        codes = open_memmap(
            tmp / "codes.npy", mode="w+", dtype=np.uint8, shape=(args.regions, args.length)
        )
        extract_sequences(fasta, regions, out=codes, progress=False)
        codes.flush()
        t_extract = time.perf_counter() - t0
        wall = t_index + t_extract  # the dataset build: index + extraction
        peak = peak_rss_gib()
        rate = args.regions / wall
        rows.append(
            (
                "extract_sequences → memmapped codes.npy",
                t_extract,
                f"{args.regions / t_extract:,.0f} regions/s",
            )
        )
        rows.append(("wall: index + extraction", wall, f"{rate:,.0f} regions/s"))

        sub = regions.iloc[
            rng.choice(args.regions, size=min(args.naive, args.regions), replace=False)
        ]
        t0 = time.perf_counter()
        ref = naive_one_hot(fasta, sub)
        naive_wall = time.perf_counter() - t0
        naive_rate = len(sub) / naive_wall
        rows.append(
            (
                "per-region pyfaidx + Python one-hot",
                naive_wall,
                f"{naive_rate:,.0f} regions/s on {len(sub):,}",
            )
        )
        # the fast path must agree with the reference (N and soft-masked letters included)
        fast = np.eye(5, 4, dtype=np.float32)[np.asarray(codes[sub.index.to_numpy()])]
        if not np.array_equal(fast, ref):
            sys.exit("fast extraction disagrees with the per-region reference")
        del codes

    figures = {
        "regions": args.regions,
        "genome_mb": round(sum(sizes.values()) / 1e6, 1),
        "wall_s": round(wall, 2),
        "regions_per_s": round(rate),
        "peak_rss_gib": round(peak, 3),
        "speedup_vs_naive": round(rate / naive_rate, 1),
    }
    print(
        f"\nData benchmark: {args.regions:,} regions × {args.length} bp from a "
        f"{figures['genome_mb']:,} Mbp synthetic genome ({args.chroms} chromosomes)\n"
    )
    print(f"{'step':<42} {'seconds':>9}  note")
    print("-" * 80)
    for name, sec, note in rows:
        print(f"{name:<42} {sec:>9.2f}  {note}")
    print("-" * 80)
    print(
        f"peak RSS {peak:.2f} GiB (before extraction {rss_before:.2f} GiB); "
        f"speed-up vs per-region loop {figures['speedup_vs_naive']:,}×"
    )
    print("targets: < 120 s, < 4 GiB, ≥ 20× (2.2 M regions, 600 bp, 300+ Mbp, 2 cores)\n")
    print(json.dumps({"benchmark": "data", "figures": figures}))
    return figures


if __name__ == "__main__":
    main()

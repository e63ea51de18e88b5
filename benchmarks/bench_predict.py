"""Streaming prediction (``chromtransfer predict``): throughput and peak memory vs region count.

A synthetic genome (random bases with N blocks, in a temporary folder), a smoke-width model
(untrained: prediction costs the same) and BED files of ``--small`` and ``--regions`` random
regions of 50-1,000 bp, sorted like a typical peak file. Each count is predicted by
:func:`chromtransfer_lib.predict.predict_regions` in a fresh subprocess that reports its wall time
and its peak resident memory (``VmHWM`` of ``/proc/self/status``): memory must stay flat as the
region count grows (it follows ``--chunk-size``, not the file).

Usage::

    python benchmarks/bench_predict.py                 # 100,000 and 1,000,000 regions
    python benchmarks/bench_predict.py --regions 200000 --small 20000

The last line is JSON: ``{"benchmark": "predict", "figures": {"regions", "wall_s",
"regions_per_s", "peak_rss_gib", ...}}`` for the large count.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CHROMS = {"chr1": 8_000_000, "chr2": 6_000_000, "chr3": 5_000_000, "chr4": 3_000_000}


def make_inputs(folder: Path, counts: list[int], *, seed: int = 0) -> dict[str, Path]:
    """Genome, model and one BED per count (the first ``n`` of one sorted region draw)."""
    from chromtransfer_lib.config import load_profile
    from chromtransfer_lib.models.network import build_pretrain_model

    rng = np.random.default_rng(seed)
    with open(folder / "genome.fa", "w") as fh:
        for chrom, size in CHROMS.items():
            seq = np.frombuffer(b"ACGT", dtype=np.uint8)[rng.integers(0, 4, size)].copy()
            for s in rng.integers(0, size - 50_000, 3):  # assembly gaps
                seq[s : s + 20_000] = ord("N")
            fh.write(f">{chrom}\n")
            lines = seq[: size - size % 60].reshape(-1, 60)
            body = np.hstack([lines, np.full((len(lines), 1), ord("\n"), dtype=np.uint8)])
            fh.write(body.tobytes().decode())
            if size % 60:
                fh.write(seq[size - size % 60 :].tobytes().decode() + "\n")
    m = load_profile("smoke").model
    net = build_pretrain_model(
        seq_len=load_profile("smoke").data.seq_len, stem_filters=m.stem_filters,
        res1_filters=m.res1_filters, res2_filters=m.res2_filters, top_filters=m.top_filters,
        head_units=m.pretrain_head, random_state=0,
    )  # fmt: skip
    net.save(folder / "model.keras")
    n = max(counts)
    names = np.array(list(CHROMS))
    chrom = rng.choice(len(CHROMS), n, p=np.array(list(CHROMS.values())) / sum(CHROMS.values()))
    sizes = np.array(list(CHROMS.values()))[chrom]
    width = rng.integers(50, 1000, n)
    start = (rng.random(n) * (sizes - width)).astype(np.int64)
    paths = {"genome": folder / "genome.fa", "model": folder / "model.keras"}
    for count in counts:
        idx = np.arange(count)
        order = np.lexsort((start[idx], chrom[idx]))
        path = folder / f"regions_{count}.bed"
        with open(path, "w") as fh:
            for s in range(0, count, 200_000):
                part = idx[order[s : s + 200_000]]
                rows = [f"{names[c]}\t{a}\t{a + w}\tr{i}\n" for c, a, w, i in
                        zip(chrom[part], start[part], width[part], part, strict=True)]  # fmt: skip
                fh.write("".join(rows))
        paths[f"bed_{count}"] = path
    return paths


def child(folder: Path, count: int, chunk_size: int) -> None:
    """Predict one BED and print ``{"regions", "wall_s", "peak_rss_gib"}`` as JSON."""
    from chromtransfer_lib.predict import predict_regions, read_predictions

    t0 = time.perf_counter()
    s = predict_regions(
        folder / "model.keras", genome=folder / "genome.fa",
        regions_bed=folder / f"regions_{count}.bed", out=folder / f"pred_{count}.tsv",
        chunk_size=chunk_size,
    )  # fmt: skip
    wall = time.perf_counter() - t0
    status = Path("/proc/self/status").read_text()
    hwm_kb = int(next(x for x in status.splitlines() if x.startswith("VmHWM")).split()[1])
    assert s.n_regions == count
    tail = read_predictions(folder / f"pred_{count}.tsv").tail(3)  # a sanity check of the end
    assert tail["probability"].dropna().between(0, 1).all()
    print(json.dumps({"regions": count, "wall_s": wall, "peak_rss_gib": hwm_kb / 2**20,
                      "na": s.n_masked}))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", type=int, default=1_000_000, help="large region count")
    parser.add_argument("--small", type=int, default=100_000, help="small region count")
    parser.add_argument("--chunk-size", type=int, default=50_000, help="regions per chunk")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.dir, args.child, args.chunk_size)
        return
    with tempfile.TemporaryDirectory(prefix="bench_predict_") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        make_inputs(folder, [args.small, args.regions])
        print(f"inputs ({sum(CHROMS.values()) / 1e6:.0f} Mbp genome, smoke-width model, BEDs): "
              f"{time.perf_counter() - t0:.1f} s", flush=True)  # fmt: skip
        results = []
        for count in (args.small, args.regions):
            cmd = [sys.executable, __file__, "--child", str(count), "--dir", str(folder),
                   "--chunk-size", str(args.chunk_size)]  # fmt: skip
            res = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if res.returncode:
                sys.exit(f"predict of {count} regions failed:\n{res.stderr[-3000:]}")
            results.append(json.loads(res.stdout.strip().splitlines()[-1]))
    print(f"\n{'regions':>10s} {'wall s':>8s} {'regions/s':>10s} {'peak RSS GiB':>13s} {'NA':>6s}")
    for r in results:
        rate = r["regions"] / r["wall_s"]
        print(f"{r['regions']:>10,d} {r['wall_s']:>8.1f} {rate:>10,.0f} "
              f"{r['peak_rss_gib']:>13.3f} {r['na']:>6d}")  # fmt: skip
    small, large = results
    ratio = large["peak_rss_gib"] / small["peak_rss_gib"]
    print(f"\npeak RSS at {large['regions'] / small['regions']:.0f}x the regions: {ratio:.2f}x "
          f"(chunk size {args.chunk_size:,})")  # fmt: skip
    figures = {
        "regions": large["regions"],
        "wall_s": round(large["wall_s"], 2),
        "regions_per_s": round(large["regions"] / large["wall_s"], 1),
        "peak_rss_gib": round(large["peak_rss_gib"], 3),
        "regions_small": small["regions"],
        "peak_rss_gib_small": round(small["peak_rss_gib"], 3),
    }
    print(json.dumps({"benchmark": "predict", "figures": figures}))


if __name__ == "__main__":
    main()

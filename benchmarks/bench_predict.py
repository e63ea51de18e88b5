"""Streaming prediction (``chromtransfer predict``): throughput and peak memory vs region count.

A synthetic genome (random bases with N blocks, in a temporary folder), a smoke-width model
(untrained: prediction costs the same) and BED files of ``--small`` and ``--regions`` random
regions of 50-1,000 bp, sorted like a typical peak file. Each count is predicted by
:func:`chromtransfer_lib.predict.predict_regions` in a fresh subprocess that reports its wall time
and its peak resident memory (``VmHWM`` of ``/proc/self/status``): memory must stay flat as the
region count grows (it follows ``--chunk-size``, not the file).

``--genome-scale`` is the genome-sized case instead: a simulated genome of hg38's size (3.1 Gb,
chr1..chr22, chrX, chrY in hg38's proportions; random bases, soft-masked stretches, N blocks;
plain FASTA with its ``.fai``), 2.2 M random regions and an untrained model of the ``quick``
profile's widths (stem 16, res1 8, res2 16, top 16; 200 bp). Fresh subprocesses build the
genome code cache (:func:`chromtransfer_lib.genome.cache.ensure_genome_codes`, once), predict
the regions from an UNSORTED BED and from the same regions SORTED, time the model alone on
random codes (the ceiling of any pipeline), and predict the first ``--baseline-regions`` of the
unsorted BED without the cache (each chunk decodes every chromosome it touches: the cost the
cache removes). It needs ~7 GB in the temporary folder (``--tmp``), removed at the end.

Usage::

    python benchmarks/bench_predict.py                 # 100,000 and 1,000,000 regions
    python benchmarks/bench_predict.py --regions 200000 --small 20000
    python benchmarks/bench_predict.py --genome-scale  # 3.1 Gb genome, 2.2 M regions
    python benchmarks/bench_predict.py --genome-scale --genome-mb 100 --regions 100000

The last line is JSON: ``{"benchmark": "predict", "figures": {"regions", "wall_s",
"regions_per_s", "peak_rss_gib", ...}}`` for the large count; with ``--genome-scale``,
``{"genome_mb", "regions", "regions_per_s", "peak_rss_gib", "unsorted_vs_sorted", ...}``
(``regions_per_s`` of the unsorted runs' mean time, ``unsorted_vs_sorted`` the unsorted runs'
summed wall time over the sorted runs' -- ``--repeats`` of each, in ABBA order so that a load
drifting over the benchmark does not decide the ratio -- ``peak_rss_gib`` the largest).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
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

#: hg38's primary chromosomes (bp), whose proportions the genome-scale genome keeps.
HG38 = {
    "chr1": 248_956_422, "chr2": 242_193_529, "chr3": 198_295_559, "chr4": 190_214_555,
    "chr5": 181_538_259, "chr6": 170_805_979, "chr7": 159_345_973, "chr8": 145_138_636,
    "chr9": 138_394_717, "chr10": 133_797_422, "chr11": 135_086_622, "chr12": 133_275_309,
    "chr13": 114_364_328, "chr14": 107_043_718, "chr15": 101_991_189, "chr16": 90_338_345,
    "chr17": 83_257_441, "chr18": 80_373_285, "chr19": 58_617_616, "chr20": 64_444_167,
    "chr21": 46_709_983, "chr22": 50_818_468, "chrX": 156_040_895, "chrY": 57_227_415,
}  # fmt: skip


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


def peak_rss_gib() -> float:
    """This process's peak resident memory (``VmHWM``), GiB."""
    status = Path("/proc/self/status").read_text()
    return int(next(x for x in status.splitlines() if x.startswith("VmHWM")).split()[1]) / 2**20


def child(folder: Path, bed: str, chunk_size: int, *, genome_cache: bool = True) -> None:
    """Predict ``folder/bed`` and print ``{"regions", "wall_s", "peak_rss_gib", "na"}`` as JSON."""
    from chromtransfer_lib.predict import predict_regions, read_predictions

    out = folder / f"pred_{Path(bed).stem}.tsv"
    t0 = time.perf_counter()
    s = predict_regions(
        folder / "model.keras", genome=folder / "genome.fa", regions_bed=folder / bed, out=out,
        chunk_size=chunk_size, genome_cache=genome_cache,
    )  # fmt: skip
    wall = time.perf_counter() - t0
    hwm = peak_rss_gib()
    tail = read_predictions(out).tail(3)  # a sanity check of the end
    assert tail["probability"].dropna().between(0, 1).all()
    print(json.dumps({"regions": s.n_regions, "wall_s": wall, "peak_rss_gib": hwm,
                      "na": s.n_masked}))  # fmt: skip


# ------------------------------------------------------------------ genome scale


def make_genome(path: Path, total_mb: float, *, seed: int = 0, width: int = 60) -> dict[str, int]:
    """A plain FASTA of ``total_mb`` Mbp in hg38's proportions, and its ``.fai``.

    Random bases, soft-masked (lowercase) in alternate 50 kb stretches, N at both ends (10 kb),
    over a centromere-like block (1 % of the chromosome) and in three 10-100 kb gaps. Written
    60 Mbp at a time with NumPy (memory stays at a few hundred MB); the ``.fai`` is computed,
    not indexed.
    """
    rng = np.random.default_rng(seed)
    scale = total_mb * 1e6 / sum(HG38.values())
    sizes = {chrom: round(n * scale) for chrom, n in HG38.items()}
    acgt = np.frombuffer(b"ACGT", dtype=np.uint8)
    block, fai = width * 1_000_000, []
    with open(path, "wb") as fh:
        for chrom, size in sizes.items():
            fh.write(f">{chrom}\n".encode())
            fai.append(f"{chrom}\t{size}\t{fh.tell()}\t{width}\t{width + 1}\n")
            mid, cen = size // 2, size // 100
            gaps = [(0, 10_000), (size - 10_000, size), (mid - cen // 2, mid + cen // 2)]
            for a in rng.integers(0, max(size - 100_000, 1), 3):
                gaps.append((int(a), int(a + rng.integers(10_000, 100_000))))
            for s0 in range(0, size, block):
                n = min(block, size - s0)
                seq = acgt[np.frombuffer(rng.bytes(n), dtype=np.uint8) & 3]
                for m in range(s0 // 50_000 * 50_000, s0 + n, 100_000):  # soft-masked
                    seq[max(m - s0, 0) : max(min(m + 50_000 - s0, n), 0)] |= 0x20
                for a, b in gaps:
                    seq[min(max(a - s0, 0), n) : min(max(b - s0, 0), n)] = ord("N")
                full = n // width
                lines = np.empty((full, width + 1), dtype=np.uint8)
                lines[:, :width] = seq[: full * width].reshape(full, width)
                lines[:, width] = ord("\n")
                fh.write(lines.data)
                if n % width:
                    fh.write(seq[full * width :].tobytes() + b"\n")
    Path(f"{path}.fai").write_text("".join(fai))  # after the FASTA: pyfaidx keeps it
    return sizes


def make_genome_inputs(folder: Path, *, genome_mb: float, regions: int, seed: int = 0) -> dict:
    """Genome, a quick-width model, and the same random regions as unsorted.bed and sorted.bed."""
    import pandas as pd

    from chromtransfer_lib.config import load_profile
    from chromtransfer_lib.models.network import build_pretrain_model

    sizes = make_genome(folder / "genome.fa", genome_mb, seed=seed)
    quick = load_profile("quick")
    m = quick.model
    net = build_pretrain_model(
        seq_len=quick.data.seq_len, stem_filters=m.stem_filters, res1_filters=m.res1_filters,
        res2_filters=m.res2_filters, top_filters=m.top_filters, head_units=m.pretrain_head,
        random_state=0,
    )  # fmt: skip
    net.save(folder / "model.keras")
    rng = np.random.default_rng(seed + 1)
    names, lengths = np.array(list(sizes)), np.array(list(sizes.values()))
    chrom = rng.choice(len(sizes), regions, p=lengths / lengths.sum())
    width = rng.integers(50, 1000, regions)
    start = (rng.random(regions) * (lengths[chrom] - width)).astype(np.int64)
    table = pd.DataFrame({"chrom": names[chrom], "start": start, "end": start + width,
                          "name": np.char.add("r", np.arange(regions).astype(str))})  # fmt: skip
    table.to_csv(folder / "unsorted.bed", sep="\t", header=False, index=False)  # random order
    order = np.lexsort((start, chrom))  # FASTA order, then start
    table.iloc[order].to_csv(folder / "sorted.bed", sep="\t", header=False, index=False)
    return {"sizes": sizes, "seq_len": quick.data.seq_len, "widths": m}


def child_cache(folder: Path) -> None:
    """Build the genome code cache; print ``{"wall_s", "peak_rss_gib", "gb"}`` as JSON."""
    from chromtransfer_lib.genome.cache import ensure_genome_codes

    t0 = time.perf_counter()
    codes = ensure_genome_codes(folder / "genome.fa")
    print(json.dumps({"wall_s": time.perf_counter() - t0, "peak_rss_gib": peak_rss_gib(),
                      "gb": codes.n_bases / 1e9}))  # fmt: skip


def child_model(folder: Path, n: int, batch_size: int = 512) -> None:
    """The model alone on ``n`` random codes (after a warm-up call); print regions/s as JSON."""
    from chromtransfer_lib.data.pipeline import Predictor, predict_proba
    from chromtransfer_lib.models.network import load_model

    predictor = Predictor(load_model(folder / "model.keras"))
    codes = np.random.default_rng(0).integers(0, 5, (n, predictor.seq_len), dtype=np.uint8)
    predict_proba(predictor, codes[: 4 * batch_size], batch_size=batch_size)
    t0 = time.perf_counter()
    predict_proba(predictor, codes, batch_size=batch_size)
    wall = time.perf_counter() - t0
    print(json.dumps({"regions": n, "wall_s": wall, "peak_rss_gib": peak_rss_gib()}))


def _run_child(*args: str) -> dict:
    cmd = [sys.executable, __file__, *args]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode:
        sys.exit(f"{' '.join(args)} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def genome_scale(args: argparse.Namespace) -> None:
    """The genome-scale benchmark (see the module doc); prints a table, then the JSON line."""
    need = args.genome_mb * 1e6 * (61 / 60 + 1) + args.regions * 150  # FASTA, codes, BEDs, TSVs
    free = shutil.disk_usage(args.tmp).free
    if free < 1.1 * need:
        sys.exit(f"{args.tmp}: {free / 1e9:.1f} GB free, the benchmark needs ~{need / 1e9:.1f} GB"
                 "; pass --tmp a folder with more space")  # fmt: skip
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench_predict_genome_", dir=args.tmp) as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        info = make_genome_inputs(folder, genome_mb=args.genome_mb, regions=args.regions)
        inputs_s = time.perf_counter() - t0
        m = info["widths"]
        print(f"inputs ({sum(info['sizes'].values()) / 1e6:,.0f} Mbp genome in "
              f"{len(info['sizes'])} chromosomes, {args.regions:,} regions, model widths "
              f"{m.stem_filters}/{m.res1_filters}/{m.res2_filters}/{m.top_filters} at "
              f"{info['seq_len']} bp): {inputs_s:.1f} s", flush=True)  # fmt: skip
        cache = _run_child("--child-cache", "--dir", str(folder))
        print(f"genome code cache: {cache['wall_s']:.1f} s", flush=True)
        chunk = ["--chunk-size", str(args.chunk_size), "--dir", str(folder)]
        # ABBA order (unsorted, sorted, sorted, unsorted, ...): a load that drifts linearly over
        # the runs weighs both orders equally, so their time ratio is not the drift's.
        order = []
        for i in range(args.repeats):
            order += ["unsorted", "sorted"] if i % 2 == 0 else ["sorted", "unsorted"]
        times = {"unsorted": [], "sorted": []}
        runs = {}
        for name in order:
            run = _run_child("--child-bed", f"{name}.bed", *chunk)
            times[name].append(run["wall_s"])
            if name not in runs or run["peak_rss_gib"] > runs[name]["peak_rss_gib"]:
                runs[name] = {**run, "wall_s": run["wall_s"]}
            print(f"{name}: {run['wall_s']:.1f} s", flush=True)
        for name in runs:  # the table's wall time: the mean over the repeats
            runs[name]["wall_s"] = float(np.mean(times[name]))
        model = _run_child("--child-model", str(args.model_regions), "--dir", str(folder))
        base = None
        if args.baseline_regions:
            with open(folder / "unsorted.bed") as src, open(folder / "baseline.bed", "w") as dst:
                dst.writelines(itertools.islice(src, args.baseline_regions))
            base = _run_child("--child-bed", "baseline.bed", "--no-genome-cache", *chunk)
    rows = [("genome code cache, built once", None, cache),
            ("predict, unsorted BED", runs["unsorted"]["regions"], runs["unsorted"]),
            ("predict, sorted BED", runs["sorted"]["regions"], runs["sorted"]),
            ("model alone, random codes", model["regions"], model)]  # fmt: skip
    if base is not None:
        rows.append(("predict, unsorted, no cache", base["regions"], base))
    print(f"\n{'run':<32s} {'regions':>10s} {'wall s':>8s} {'regions/s':>10s} "
          f"{'peak RSS GiB':>13s}")  # fmt: skip
    for label, n, r in rows:
        rate = f"{n / r['wall_s']:>10,.0f}" if n else f"{'-':>10s}"
        count = f"{n:>10,d}" if n else f"{'-':>10s}"
        print(f"{label:<32s} {count} {r['wall_s']:>8.1f} {rate} {r['peak_rss_gib']:>13.3f}")
    uns, srt = runs["unsorted"], runs["sorted"]
    figures = {
        "genome_mb": round(sum(info["sizes"].values()) / 1e6, 1),
        "chromosomes": len(info["sizes"]),
        "regions": uns["regions"],
        "regions_per_s": round(uns["regions"] / uns["wall_s"], 1),
        "regions_per_s_sorted": round(srt["regions"] / srt["wall_s"], 1),
        "peak_rss_gib": round(max(uns["peak_rss_gib"], srt["peak_rss_gib"]), 3),
        "peak_rss_gib_unsorted": round(uns["peak_rss_gib"], 3),
        "peak_rss_gib_sorted": round(srt["peak_rss_gib"], 3),
        "unsorted_vs_sorted": round(sum(times["unsorted"]) / sum(times["sorted"]), 3),
        "repeats": args.repeats,
        "wall_s_unsorted_each": [round(t, 1) for t in times["unsorted"]],
        "wall_s_sorted_each": [round(t, 1) for t in times["sorted"]],
        "wall_s_unsorted": round(uns["wall_s"], 1),
        "wall_s_sorted": round(srt["wall_s"], 1),
        "na_regions": uns["na"],
        "cache_build_s": round(cache["wall_s"], 1),
        "cache_build_peak_rss_gib": round(cache["peak_rss_gib"], 3),
        "model_regions_per_s": round(model["regions"] / model["wall_s"], 1),
        "chunk_size": args.chunk_size,
        "inputs_s": round(inputs_s, 1),
        "cpus": os.cpu_count(),
        "load_average_1min_at_start": round(load, 2),
    }
    if base is not None:
        figures["no_cache_regions"] = base["regions"]
        figures["no_cache_regions_per_s"] = round(base["regions"] / base["wall_s"], 1)
    print(json.dumps({"benchmark": "predict", "figures": figures}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--regions",
        type=int,
        default=None,
        help="large region count (1,000,000; 2,200,000 with --genome-scale)",
    )
    parser.add_argument("--small", type=int, default=100_000, help="small region count")
    parser.add_argument("--chunk-size", type=int, default=50_000, help="regions per chunk")
    parser.add_argument(
        "--genome-scale",
        action="store_true",
        help="3.1 Gb genome, unsorted vs sorted BED (default --regions 2200000)",
    )
    parser.add_argument(
        "--genome-mb",
        type=float,
        default=3100.0,
        help="genome size with --genome-scale (Mbp, hg38's proportions)",
    )
    parser.add_argument(
        "--model-regions",
        type=int,
        default=200_000,
        help="random windows timed through the model alone (--genome-scale)",
    )
    parser.add_argument(
        "--baseline-regions",
        type=int,
        default=100_000,
        help="first regions of the unsorted BED predicted without the genome "
        "cache (--genome-scale; 0: skip)",
    )
    parser.add_argument(
        "--tmp",
        type=Path,
        default=Path(tempfile.gettempdir()),
        help="folder for the temporary inputs (--genome-scale: ~7 GB)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=2,
        help="runs of each BED with --genome-scale, in ABBA order (2: unsorted, sorted, sorted, "
        "unsorted); the ratio is of the summed times",
    )
    parser.add_argument("--child-bed", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child-cache", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-model", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--no-genome-cache", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_bed is not None:
        child(args.dir, args.child_bed, args.chunk_size, genome_cache=not args.no_genome_cache)
        return
    if args.child_cache:
        child_cache(args.dir)
        return
    if args.child_model is not None:
        child_model(args.dir, args.child_model)
        return
    if args.genome_scale:
        args.regions = args.regions or 2_200_000
        genome_scale(args)
        return
    args.regions = args.regions or 1_000_000
    with tempfile.TemporaryDirectory(prefix="bench_predict_") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        make_inputs(folder, [args.small, args.regions])
        print(f"inputs ({sum(CHROMS.values()) / 1e6:.0f} Mbp genome, smoke-width model, BEDs): "
              f"{time.perf_counter() - t0:.1f} s", flush=True)  # fmt: skip
        results = []
        for count in (args.small, args.regions):
            results.append(_run_child("--child-bed", f"regions_{count}.bed", "--dir", str(folder),
                                      "--chunk-size", str(args.chunk_size)))  # fmt: skip
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

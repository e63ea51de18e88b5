"""Training and inference throughput through the project's pipeline, and its memory use.

For the smoke, quick and paper widths (each profile's widths, input length and fine-tuning
batch size), in one run:

* training samples/s through ``tfdata.make_dataset`` (uint8 memmap → one-hot per batch, autotune
  off) and through plain ``model.fit`` on an in-memory float32 one-hot array — their ratio;
* prediction samples/s through the compiled ``tfdata.predict_proba`` and ``model.predict``;
* at quick widths, training samples/s under a ``mixed_bfloat16`` policy (CPUs with AMX);
* peak RSS of the same run (one shuffled training epoch through the pipeline, a few optimiser
  steps, prediction of every row) on a small and on a 10× larger memory-mapped dataset, each
  in a fresh subprocess: memory should follow the batch, not the dataset.

Timings exclude tracing (a warm-up epoch runs first). Usage::

    python benchmarks/bench_train.py            # ~4 minutes on 2 CPU cores
    python benchmarks/bench_train.py --quick    # fewer steps, smaller RSS datasets

The last line is JSON: ``{"benchmark": "train", "figures": {...}}``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from chromtransfer_lib.config import load_profile  # noqa: E402


def _write_codes(path: Path, n: int, seq_len: int, *, seed: int) -> None:
    from numpy.lib.format import open_memmap

    rng = np.random.default_rng(seed)
    out = open_memmap(path, mode="w+", dtype=np.uint8, shape=(n, seq_len))
    for s in range(0, n, 50_000):
        out[s : s + 50_000] = rng.integers(0, 4, (min(50_000, n - s), seq_len), dtype=np.uint8)
    out.flush()
    del out


def _widths(profile: str) -> dict:
    p = load_profile(profile)
    m = p.model
    return {
        "seq_len": p.data.seq_len if profile != "paper" else 600,
        "stem_filters": m.stem_filters,
        "res1_filters": m.res1_filters,
        "res2_filters": m.res2_filters,
        "top_filters": m.top_filters,
        "head_units": m.pretrain_head,
        "batch_size": p.finetune.batch_size,
    }


def _fit_rate(model, data, n: int) -> float:
    t = time.perf_counter()
    if isinstance(data, tuple):
        model.fit(data[0], data[1], batch_size=data[2], shuffle=True, verbose=0)
    else:
        model.fit(data, shuffle=False, verbose=0)
    return n / (time.perf_counter() - t)


def bench_width(name: str, *, steps: int, tmp: Path, bf16: bool) -> dict:
    import keras

    from chromtransfer_lib.data import pipeline as tfdata
    from chromtransfer_lib.genome.sequence import one_hot
    from chromtransfer_lib.models import network as M

    w = _widths(name)
    bs, seq_len = w.pop("batch_size"), w["seq_len"]
    n = steps * bs
    path = tmp / f"codes_{name}.npy"
    _write_codes(path, n, seq_len, seed=1)
    codes = np.load(path, mmap_mode="r")
    y = np.random.default_rng(2).integers(0, 2, n)
    warm = min(n, 4 * bs)

    def fresh(policy: str | None = None) -> keras.Model:
        model = M.build_pretrain_model(random_state=0, mixed_precision=policy, **w)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
        return model

    def ds(rows: int) -> object:
        return tfdata.make_dataset(
            codes, y, batch_size=bs, indices=np.arange(rows), shuffle=True, random_state=0
        )

    res = {}
    model = fresh()
    _fit_rate(model, ds(warm), warm)  # tracing
    res["pipeline"] = _fit_rate(model, ds(n), n)
    x = one_hot(np.asarray(codes))
    model = fresh()
    _fit_rate(model, (x[:warm], y[:warm], bs), warm)
    res["plain_fit"] = _fit_rate(model, (x, y, bs), n)
    predictor = tfdata.Predictor(model)
    tfdata.predict_proba(predictor, codes[:512])
    t = time.perf_counter()
    tfdata.predict_proba(predictor, codes)
    res["predict_compiled"] = n / (time.perf_counter() - t)
    model.predict(x[:512], batch_size=512, verbose=0)
    t = time.perf_counter()
    model.predict(x, batch_size=512, verbose=0)
    res["predict_model_predict"] = n / (time.perf_counter() - t)
    if bf16:
        model = fresh("mixed_bfloat16")
        _fit_rate(model, ds(warm), warm)
        res["pipeline_bf16"] = _fit_rate(model, ds(n), n)
    print(
        f"{name:6s} L={seq_len} batch={bs} params={model.count_params():,}: "
        + ", ".join(f"{k} {v:,.0f}/s" for k, v in res.items()),
        flush=True,
    )
    return res


def rss_worker(path: str) -> None:
    """One run on a memmapped dataset; prints peak RSS in GiB (a fresh process each time)."""
    import keras

    from chromtransfer_lib.data import pipeline as tfdata
    from chromtransfer_lib.models import network as M

    codes = np.load(path, mmap_mode="r")
    n, seq_len = codes.shape
    y = np.zeros(n, dtype=np.int64)
    y[::2] = 1
    model = M.build_pretrain_model(
        seq_len=seq_len,
        stem_filters=4,
        res1_filters=4,
        res2_filters=4,
        top_filters=4,
        head_units=(8, 4),
        random_state=0,
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    train = tfdata.make_dataset(codes, y, batch_size=256, shuffle=True, random_state=0)
    seen = 0
    for i, (xb, yb) in enumerate(train):  # the whole shuffled epoch, one-hot batches
        seen += int(xb.shape[0])
        if i < 20:
            model.train_on_batch(xb, yb)
    p = tfdata.predict_proba(model, codes, batch_size=1024)
    assert seen == n and p.shape == (n,)
    print(json.dumps({"n": n, "peak_rss_gib": _peak_rss_gib()}))


def _peak_rss_gib() -> float:
    """This process's peak RSS. ``VmHWM`` on Linux: ``ru_maxrss`` survives ``exec`` and would
    report the (larger) parent that forked this worker."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20  # kB → GiB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def bench_rss(tmp: Path, *, n_small: int, seq_len: int = 600) -> dict:
    out = {}
    for label, n in (("small", n_small), ("large", 10 * n_small)):
        path = tmp / f"rss_{label}.npy"
        _write_codes(path, n, seq_len, seed=3)
        t = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, __file__, "--rss-worker", str(path)],
            capture_output=True,
            text=True,
            check=True,
        )
        rss = json.loads(proc.stdout.strip().splitlines()[-1])["peak_rss_gib"]
        size = path.stat().st_size / 2**30
        print(
            f"RSS {label}: {n:,} × {seq_len} bp ({size:.2f} GiB of codes) → peak RSS "
            f"{rss:.2f} GiB ({time.perf_counter() - t:.0f} s)",
            flush=True,
        )
        out[label] = rss
        path.unlink()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps, smaller RSS sets")
    parser.add_argument("--rss-worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_worker:
        rss_worker(args.rss_worker)
        return
    steps = {"smoke": 200, "quick": 150, "paper": 3}
    n_small = 20_000
    if args.quick:
        steps = {"smoke": 50, "quick": 50, "paper": 2}
        n_small = 10_000
    figures: dict = {"samples_per_s": {}, "ratio_vs_plain_fit": {}, "predict_samples_per_s": {}}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("smoke", "quick", "paper"):
            r = bench_width(name, steps=steps[name], tmp=Path(tmp), bf16=name == "quick")
            figures["samples_per_s"][name] = round(r["pipeline"], 1)
            figures["ratio_vs_plain_fit"][name] = round(r["pipeline"] / r["plain_fit"], 3)
            figures["predict_samples_per_s"][name] = {
                "compiled": round(r["predict_compiled"], 1),
                "model_predict": round(r["predict_model_predict"], 1),
            }
            if "pipeline_bf16" in r:
                figures["samples_per_s_bfloat16"] = {name: round(r["pipeline_bf16"], 1)}
        rss = bench_rss(Path(tmp), n_small=n_small)
    figures["peak_rss_gib_small"] = round(rss["small"], 3)
    figures["peak_rss_gib_large"] = round(rss["large"], 3)
    figures["rss_dataset_rows"] = {"small": n_small, "large": 10 * n_small, "seq_len": 600}
    figures["wall_s"] = round(time.perf_counter() - t0, 1)
    print(json.dumps({"benchmark": "train", "figures": figures}))


if __name__ == "__main__":
    main()

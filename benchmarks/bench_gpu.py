"""GPU readiness: ms/sample of training and prediction of the paper network, and the input
pipeline's ceiling.

Where TensorFlow places the work (a GPU; several train under ``MirroredStrategy`` as in
``models.train``; else the CPU), with the ``paper`` profile's widths, input length and
pre-training batch size (``--profile`` picks another profile's), on random uint8 codes in a
temporary memory-mapped ``.npy``:

* **training** ms/sample: ``model.fit`` of the pre-training network through the library's
  ``data.pipeline.make_dataset`` (shuffled, one-hot per batch), ``--steps`` optimiser steps
  after two warm-up steps (tracing, XLA compilation); Adam, wrapped in a
  ``LossScaleOptimizer`` under ``mixed_float16`` as ``models.train`` does (Keras 3 does not
  wrap it here by itself: see ``models.devices.recommend_gpu_settings``);
* **prediction** ms/sample: ``data.pipeline.predict_proba`` through a compiled ``Predictor``
  in batches of ``--predict-batch-size`` rows, after one warm-up batch;
* the input pipeline's **ceiling** in samples/s: the same shuffled training pipeline iterated
  with the model replaced by a no-op, i.e. the most samples/s any model could be fed; its ratio
  to the training rate says how far the pipeline is from being the bottleneck.

Precision, XLA and the prediction batch default to what ``chromtransfer doctor`` recommends
for the devices seen (``models.devices.recommend_gpu_settings``); ``--precision``, ``--xla`` /
``--no-xla`` and ``--predict-batch-size`` override them. With a precision other than float32,
the largest difference of its predictions from a float32 copy of the same weights is reported
too. Usage::

    python benchmarks/bench_gpu.py              # ~2 minutes on 2 CPU cores (8 steps)
    python benchmarks/bench_gpu.py --steps 300  # on a GPU (the default there)
    python benchmarks/bench_gpu.py --precision float32 --no-xla   # the float32 reference

The last line is JSON: ``{"benchmark": "gpu", "figures": {"device", "train_ms_per_sample",
"predict_ms_per_sample", "pipeline_ceiling_samples_per_s", ...}}``.

Recorded figures
----------------
Paper widths (655,777 parameters), 600 bp, training batch 256, the doctor's settings:

===========================  =========  ===  =========  =========  ==========  ============
device                       precision  XLA  train      predict    pipeline    timed steps;
                                             ms/sample  ms/sample  ceiling /s  predict rows
===========================  =========  ===  =========  =========  ==========  ============
CPU: AMD EPYC, 2 cores [1]   float32    off  20.2       4.09       58,400      8; 512 × 8
===========================  =========  ===  =========  =========  ==========  ============

[1] TensorFlow 2.21.0, Keras 3.15.1, with another CPU-bound job running (load ~3 on 2 cores);
101 s wall. The pipeline's ceiling is ~1,200× the training rate here.

No GPU run has been recorded yet: on a GPU, run ``python benchmarks/bench_gpu.py`` (the
doctor's settings, 300 steps) and ``--precision float32 --no-xla`` (the reference), and add
both rows; the second also shows what mixed precision and XLA gain.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))  # bench_train's code writer

from bench_train import _write_codes  # noqa: E402

from chromtransfer_lib.config import PROFILE_NAMES, load_profile  # noqa: E402

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
WARMUP_STEPS = 2
#: Default optimiser steps timed: enough for a stable figure on a GPU, ~1-2 minutes on a CPU.
STEPS_GPU, STEPS_CPU = 300, 8
#: Default prediction batches timed, and the fewest batches the pipeline ceiling iterates.
PREDICT_BATCHES_GPU, PREDICT_BATCHES_CPU, CEILING_MIN_STEPS = 25, 8, 50


def describe_device() -> tuple[str, list]:
    """``"GPU: <name> (cc x.y)"`` (the first GPU, ``n×`` for several) or ``"CPU: <model>
    (n cores)"``, and the GPUs TensorFlow reports."""
    from chromtransfer_lib.models.devices import visible_gpus

    gpus = visible_gpus()
    if gpus:
        g = gpus[0]
        cc = "?" if g.compute_capability is None else ".".join(map(str, g.compute_capability))
        count = f"{len(gpus)}× " if len(gpus) > 1 else ""
        return f"GPU: {count}{g.name} (cc {cc})", gpus
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = " ".join(line.split(":", 1)[1].split())
                break
    return f"CPU: {model} ({os.cpu_count()} cores)", gpus


def build_compiled(profile: str, *, policy: str | None, xla: bool):
    """The profile's pre-training network, compiled as ``models.train`` compiles it."""
    import keras

    from chromtransfer_lib.models.network import build_pretrain_model

    p = load_profile(profile)
    m = p.model
    model = build_pretrain_model(
        seq_len=p.data.seq_len, stem_filters=m.stem_filters, res1_filters=m.res1_filters,
        res2_filters=m.res2_filters, top_filters=m.top_filters, head_units=m.pretrain_head,
        dropout=m.dropout, mixed_precision=policy, random_state=0,
    )  # fmt: skip
    optimizer = keras.optimizers.Adam(learning_rate=p.pretrain.learning_rate)
    if policy == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    model.compile(optimizer=optimizer, loss="binary_crossentropy", jit_compile=xla)
    return model


def run(args: argparse.Namespace) -> dict:
    """Time training, prediction and the pipeline ceiling; print the table; the figures."""
    import keras
    import tensorflow as tf

    from chromtransfer_lib.data import pipeline as tfdata
    from chromtransfer_lib.models import devices

    t0 = time.perf_counter()
    device, gpus = describe_device()
    rec = devices.recommend_gpu_settings(gpus, xla_available=devices.xla_supported())
    prof = load_profile(args.profile)
    bs = args.batch_size or prof.pretrain.batch_size
    steps = args.steps or (STEPS_GPU if gpus else STEPS_CPU)
    precision = args.precision or (rec.mixed_precision or "float32")
    policy = None if precision == "float32" else precision
    xla = rec.xla if args.xla is None else args.xla
    pbs = args.predict_batch_size or rec.predict_batch_size
    n_pred = pbs * (args.predict_batches or (PREDICT_BATCHES_GPU if gpus else PREDICT_BATCHES_CPU))
    n_train = (WARMUP_STEPS + steps) * bs
    n_ceiling = max(steps, CEILING_MIN_STEPS) * bs
    seq_len = prof.data.seq_len
    with tempfile.TemporaryDirectory(prefix="bench_gpu_") as tmp:
        n_rows = max(n_train, n_pred, n_ceiling)
        _write_codes(Path(tmp) / "codes.npy", n_rows, seq_len, seed=1)
        codes = np.load(Path(tmp) / "codes.npy", mmap_mode="r")
        y = np.random.default_rng(2).integers(0, 2, n_rows)

        def train_ds(rows: np.ndarray):
            return tfdata.make_dataset(
                codes, y, batch_size=bs, indices=rows, shuffle=True, random_state=0
            )

        with devices.distribution_scope():
            model = build_compiled(args.profile, policy=policy, xla=xla)
            warmup, timed = np.arange(WARMUP_STEPS * bs), np.arange(WARMUP_STEPS * bs, n_train)
            model.fit(train_ds(warmup), verbose=0, shuffle=False)  # tracing, XLA compilation
            t = time.perf_counter()
            model.fit(train_ds(timed), verbose=0, shuffle=False)
            train_s = time.perf_counter() - t

        predictor = tfdata.Predictor(model, jit_compile=xla)
        tfdata.predict_proba(predictor, codes, indices=np.arange(pbs), batch_size=pbs)
        t = time.perf_counter()
        proba = tfdata.predict_proba(predictor, codes, indices=np.arange(n_pred), batch_size=pbs)
        predict_s = time.perf_counter() - t

        @tf.function
        def noop(x, labels):  # the model's place: touches nothing but the shapes
            return tf.shape(x)[0] + tf.shape(labels)[0]

        for x, labels in train_ds(np.arange(2 * bs)):  # starts the generator, traces noop
            noop(x, labels)
        t = time.perf_counter()
        seen = 0
        for x, labels in train_ds(np.arange(n_ceiling)):
            noop(x, labels)
            seen += int(x.shape[0])
        ceiling_s = time.perf_counter() - t
        assert seen == n_ceiling and proba.shape == (n_pred,)

        diff = None
        if policy is not None:  # the same weights in float32, on the first prediction batch
            ref = build_compiled(args.profile, policy=None, xla=False)
            ref.set_weights(model.get_weights())
            rows = np.arange(pbs)
            p32 = tfdata.predict_proba(ref, codes, indices=rows, batch_size=pbs)
            diff = float(np.max(np.abs(p32 - proba[:pbs])))

    train_ms = 1000 * train_s / (steps * bs)
    predict_ms = 1000 * predict_s / n_pred
    ceiling = n_ceiling / ceiling_s
    m = prof.model
    widths = f"{m.stem_filters}/{m.res1_filters}/{m.res2_filters}/{m.top_filters}"
    head = "/".join(map(str, m.pretrain_head))
    print(f"device      {device}")
    print(f"visible     {', '.join(d.name for d in tf.config.list_physical_devices())}")
    print(f"software    TensorFlow {tf.__version__}, Keras {keras.__version__}")
    print(f"network     {args.profile} widths {widths}, head {head}, {seq_len} bp, "
          f"{model.count_params():,} parameters")  # fmt: skip
    print(f"settings    {precision}, XLA {'on' if xla else 'off'} (doctor recommends "
          f"{rec.mixed_precision or 'float32'}, XLA {'on' if rec.xla else 'off'}, "
          f"prediction batch {rec.predict_batch_size:,})")  # fmt: skip
    print()
    rows_out = [
        ("training (model.fit, make_dataset)", f"{bs} × {steps} steps",
         f"{train_ms:8.3f} ms/sample", f"{1000 / train_ms:10,.0f} samples/s"),
        ("prediction (compiled Predictor)", f"{pbs:,} × {n_pred // pbs} batches",
         f"{predict_ms:8.3f} ms/sample", f"{1000 / predict_ms:10,.0f} samples/s"),
        ("input pipeline ceiling (no-op model)", f"{bs} × {n_ceiling // bs} batches",
         f"{1000 / ceiling:8.3f} ms/sample", f"{ceiling:10,.0f} samples/s"),
    ]  # fmt: skip
    print(f"{'measure':<38s} {'rows':<20s} {'time':>17s} {'rate':>21s}")
    for name, rows_text, ms, rate in rows_out:
        print(f"{name:<38s} {rows_text:<20s} {ms:>17s} {rate:>21s}")
    headroom = ceiling * train_ms / 1000
    print(f"\npipeline ceiling / training rate: {headroom:,.1f}×"
          + ("" if diff is None else f"; max |p - p_float32| = {diff:.2e}"))  # fmt: skip
    figures = {
        "device": device,
        "train_ms_per_sample": round(train_ms, 4),
        "predict_ms_per_sample": round(predict_ms, 4),
        "pipeline_ceiling_samples_per_s": round(ceiling, 1),
        "pipeline_headroom_vs_training": round(headroom, 2),
        "precision": precision,
        "xla": xla,
        "profile": args.profile,
        "seq_len": seq_len,
        "n_params": int(model.count_params()),
        "batch_size": bs,
        "steps": steps,
        "predict_batch_size": pbs,
        "predict_rows": n_pred,
        "n_gpus": len(gpus),
        "recommended": rec.to_dict(),
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    if diff is not None:
        figures["predict_max_abs_diff_vs_float32"] = diff
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--profile",
        choices=PROFILE_NAMES,
        default="paper",
        help="whose widths, input length and batch size (default: paper)",
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help=f"training steps timed (default {STEPS_GPU} on a GPU, {STEPS_CPU} on a CPU)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="training batch (default: the profile's pre-training batch, 256)",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=None,
        help="dtype policy (default: the doctor's recommendation)",
    )
    parser.add_argument(
        "--xla",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="jit_compile for training and prediction (default: the doctor's)",
    )
    parser.add_argument(
        "--predict-batch-size",
        type=int,
        default=None,
        help="prediction rows per call (default: the doctor's)",
    )
    parser.add_argument(
        "--predict-batches",
        type=int,
        default=None,
        help=f"prediction batches timed (default {PREDICT_BATCHES_GPU} on a GPU, "
        f"{PREDICT_BATCHES_CPU} on a CPU)",
    )
    args = parser.parse_args(argv)
    for name in ("steps", "batch_size", "predict_batch_size", "predict_batches"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    figures = run(args)
    print(json.dumps({"benchmark": "gpu", "figures": figures}))


if __name__ == "__main__":
    main()

"""Does a wider trunk keep more of the HepG2 signal on 5 % of the data? A recorded probe.

The `quick` network has widths ÷4: its trunk ends in 16 pooled channels, while the simulated
world plants 34 broad-vocabulary motifs in pre-training rDHSs. Pre-training (open vs closed)
only needs "some motif is here", so 16 channels can mix the lines' drivers, and a fine-tuned
model must then un-mix them from ~95 sequences. This probe re-uses a finished calibration
run's world and datasets, pre-trains networks with other trunk widths (everything else as the
run's profile), and for each width records: pre-training test AUROC, a linear probe (logistic
regression on the pooled trunk features) for HepG2-specific regions on 5 % and 100 % of the
training rows, ChromTransfer on 100 % and on 5 % (repetitions as the bootstrap grid would
train them: same subsets, epoch repeats and recipe), and the seconds each step took.

Writes one row per width to ``experiments/calibration/width_probe.csv`` (widths already there
are skipped; run again to resume). The book's calibration appendix shows the table.

    python experiments/width_probe.py experiments/calibration/auroc_stop/seed1 [--part 0/2]
    python experiments/width_probe.py experiments/calibration/auroc_stop/seed1 --retime
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

#: (variant, model overrides); the first is the source run's own network (its models reused).
VARIANTS = (
    ("widths ÷4 (quick)", {}),
    ("top convolutions 32", {"top_filters": 32}),
    ("stem 32, top convolutions 32", {"stem_filters": 32, "top_filters": 32}),
)
REPETITIONS = 2
FRACTION = 0.05
OUT = Path(__file__).resolve().parent / "calibration" / "width_probe.csv"


def _variant_dir(src: Path, variant: str, overrides: dict) -> Path:
    """A run folder sharing the source's world and datasets (and, unchanged, its models)."""
    out = src / "width_probe" / variant.replace(" ", "_").replace("÷", "div")
    out.mkdir(parents=True, exist_ok=True)
    shared = ("world", "datasets") + (("models",) if not overrides else ())
    for name in shared:
        link = out / name
        if not link.exists():
            os.symlink((src / name).resolve(), link)
    raw = yaml.safe_load((src / "profile.yaml").read_text())
    raw["model"].update(overrides)
    raw["name"] = f"{raw['name']}-{variant}"
    (out / "profile.yaml").write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))
    return out


def relative_cost(base_kw: dict, overrides: dict, *, batch: int = 64, steps: int = 60) -> float:
    """Seconds per training step of the widened network over the source's: both trained in
    this process on the same random batches, alternately, three times; the fastest of each."""
    import keras

    from chromtransfer_lib.models.network import build_pretrain_model

    rng = np.random.default_rng(0)
    x = np.eye(4, dtype="float32")[rng.integers(0, 4, (batch * steps, base_kw["seq_len"]))]
    y = rng.integers(0, 2, batch * steps).astype("float32")
    nets = []
    for kw in (base_kw, {**base_kw, **overrides}):
        net = build_pretrain_model(head_units=(128, 32), random_state=0, **kw)
        net.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
        net.fit(x[: batch * 5], y[: batch * 5], batch_size=batch, epochs=1, verbose=0)  # warm-up
        nets.append(net)
    best = [np.inf, np.inf]
    for _ in range(3):
        for k, net in enumerate(nets):
            t0 = time.perf_counter()
            net.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)
            best[k] = min(best[k], time.perf_counter() - t0)
    return best[1] / best[0]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path, help="a finished calibration run (has profile.yaml)")
    ap.add_argument("--part", default="0/1", help="i/n: probe every n-th width starting at i")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument(
        "--retime",
        action="store_true",
        help="only measure step_time_vs_quick again for the recorded widths (run it alone: "
        "the training parts running beside it would skew the timing)",
    )
    args = ap.parse_args(argv)
    i, n = (int(x) for x in args.part.split("/"))
    if n > 1:  # parts run side by side: one thread each, as the book's training workers
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)

    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    from chromtransfer_lib.book import stages
    from chromtransfer_lib.book.calibration import append_row
    from chromtransfer_lib.config import load_profile
    from chromtransfer_lib.data.pipeline import predict_proba
    from chromtransfer_lib.genome.sequence import one_hot_tensor
    from chromtransfer_lib.models import grids as bootstrap
    from chromtransfer_lib.models.network import extract_trunk

    done = pd.read_csv(args.out) if args.out.is_file() else pd.DataFrame()
    have = set(zip(done["run"], done["variant"], strict=True)) if len(done) else set()
    run = str(args.run_dir)
    source = load_profile(args.run_dir / "profile.yaml")
    if args.retime:
        table = pd.read_csv(args.out)
        for k, r in table.iterrows():
            ratio = relative_cost(stages.network_kwargs(source), json.loads(r["overrides"]))
            table.loc[k, "step_time_vs_quick"] = ratio
            print(f"{r['variant']}: {ratio:.3f}x the time per step", flush=True)
        table.to_csv(args.out.with_suffix(".tmp"), index=False)
        args.out.with_suffix(".tmp").replace(args.out)
        return 0
    for variant, overrides in VARIANTS[i::n]:
        if (run, variant) in have:
            continue
        vdir = _variant_dir(args.run_dir, variant, overrides)
        ctx = stages.RunContext.create(vdir / "profile.yaml", vdir)
        prof = ctx.profile
        datasets = stages.ensure_datasets(ctx, stages.ensure_world(ctx))
        row: dict = {"run": run, "variant": variant, "overrides": json.dumps(overrides)}
        row["step_time_vs_quick"] = relative_cost(stages.network_kwargs(source), overrides)

        t0 = time.perf_counter()
        pre = stages.ensure_pretrained(ctx, datasets)
        row["pretrain_seconds"] = time.perf_counter() - t0
        row["pretrain_test_auroc"] = float(pre.ensemble["auroc"])
        net = stages.pretrained_model(pre)
        row["n_params"] = int(net.count_params())

        line = prof.bootstrap.cell_line
        ds = datasets.finetune[line]
        part = ds.partition(prof.finetune.folds[0])
        tr, va, te, y = part.train, part.valid, ds.subset(split="test"), ds.labels
        trunk = extract_trunk(net)

        def features(rows_: np.ndarray, trunk=trunk, ds=ds) -> np.ndarray:
            return np.concatenate([
                trunk(one_hot_tensor(ds.codes[rows_[k : k + 512]]), training=False).numpy()
                for k in range(0, rows_.size, 512)
            ])  # fmt: skip

        f_tr, f_te = features(tr), features(te)
        for frac in (FRACTION, 1.0):
            sub = bootstrap.stratified_subsample(tr, y, frac, random_state=prof.seed)
            clf = LogisticRegression(max_iter=2000).fit(f_tr[np.searchsorted(tr, sub)], y[sub])
            auroc = roc_auc_score(y[te], clf.predict_proba(f_te)[:, 1])
            row[f"linear_probe_auroc_{frac:.0%}"] = float(auroc)

        t0 = time.perf_counter()
        full = stages.ensure_line_model(ctx, datasets, pre, line=line, kind="finetune")
        row["finetune_100pct_seconds"] = time.perf_counter() - t0
        row["finetune_100pct_auroc"] = full_auroc = float(full.ensemble["auroc"])

        recipe = stages.recipe(prof.finetune)
        build = stages.line_model_builder(ctx, pre, kind="finetune")
        aurocs, seconds = [], []
        for r in range(REPETITIONS):
            seed = bootstrap.unit_seed(prof.seed, FRACTION, r)
            sub = bootstrap.stratified_subsample(tr, y, FRACTION, random_state=seed)
            t0 = time.perf_counter()
            result, _ = bootstrap.train_on_subset(
                build,
                recipe,
                codes=ds.codes,
                labels=y,
                rows=sub,
                val_rows=va,
                out_dir=vdir / "width_probe_5pct" / f"rep_{r}",
                random_state=seed,
                min_steps=prof.bootstrap.min_steps,
            )
            seconds.append(time.perf_counter() - t0)
            aurocs.append(roc_auc_score(y[te], predict_proba(result.model, ds.codes, indices=te)))
        row["n_train_5pct"] = int(sub.size)
        row["finetune_5pct_auroc"] = float(np.mean(aurocs))
        row["finetune_5pct_auroc_reps"] = json.dumps([round(a, 4) for a in aurocs])
        row["finetune_5pct_seconds"] = float(np.mean(seconds))
        row["retention_5pct"] = (row["finetune_5pct_auroc"] - 0.5) / (full_auroc - 0.5)
        print(json.dumps(row), flush=True)
        append_row(args.out, row)  # parts append one at a time
    return 0


if __name__ == "__main__":
    sys.exit(main())

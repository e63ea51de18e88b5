"""Why does fine-tuning on 5 % of this world's HepG2 data keep so little? A recorded probe.

Re-uses a finished calibration run (its world, datasets, pre-trained model and full-data HepG2
models) and re-trains HepG2 models on stratified subsets while varying one thing at a time:
the validation set used for early stopping, the learning rate, the number of optimiser steps
and the subset size; the from-scratch baseline is probed the same way. A linear probe
(logistic regression on the pre-trained trunk's pooled features) asks whether the pre-trained
representation already separates HepG2-specific regions.

Writes one row per trained model to ``experiments/calibration/retention_probe.csv`` (rows
already there are kept and not re-trained; run again to resume). The book's calibration
appendix shows the table.

    python experiments/retention_probe.py experiments/calibration/patient/seed1 [--part 0/2]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

#: (variant, kind, fraction, validation, learning rate, min_steps); None = the profile's value.
VARIANTS = (
    ("as quick", "finetune", 0.05, "whole fold", None, None),
    ("validation subsampled", "finetune", 0.05, "subsampled", None, None),
    ("lr 1e-4", "finetune", 0.05, "whole fold", 1e-4, None),
    ("lr 1e-3", "finetune", 0.05, "whole fold", 1e-3, None),
    ("300 steps", "finetune", 0.05, "whole fold", None, 300),
    ("1000 steps", "finetune", 0.05, "whole fold", None, 1000),
    ("10 % subset", "finetune", 0.10, "whole fold", None, None),
    ("25 % subset", "finetune", 0.25, "whole fold", None, None),
    ("baseline, as quick", "scratch", 0.05, "whole fold", None, None),
)
REPETITIONS = 2
OUT = Path(__file__).resolve().parent / "calibration" / "retention_probe.csv"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path, help="a finished calibration run (has profile.yaml)")
    ap.add_argument("--part", default="0/1", help="i/n: run every n-th job starting at i")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    i, n = (int(x) for x in args.part.split("/"))

    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    from chromtransfer_lib.book import stages
    from chromtransfer_lib.book.calibration import append_row
    from chromtransfer_lib.data.pipeline import predict_proba
    from chromtransfer_lib.genome.sequence import one_hot_tensor
    from chromtransfer_lib.models import grids as bootstrap
    from chromtransfer_lib.models.network import extract_trunk

    ctx = stages.RunContext.create(args.run_dir / "profile.yaml", args.run_dir)
    prof = ctx.profile
    datasets = stages.ensure_datasets(ctx, stages.ensure_world(ctx))
    pre = stages.ensure_pretrained(ctx, datasets)
    line = prof.bootstrap.cell_line
    ds = datasets.finetune[line]
    part = ds.partition(prof.finetune.folds[0])
    tr, va, te = part.train, part.valid, ds.subset(split="test")
    y = ds.labels
    full = json.loads((args.run_dir / "metrics" / "03_finetuning.json").read_text())
    done = pd.read_csv(args.out) if args.out.is_file() else pd.DataFrame()
    key_cols = ["run", "variant", "repetition"]
    have = set(map(tuple, done[key_cols].astype(str).to_numpy())) if len(done) else set()

    def record(row: dict) -> None:
        full_auroc = full[f"{row['kind']}.{line}.test.auroc"]
        row["full_data_test_auroc"] = full_auroc
        row["retention"] = (row["test_auroc"] - 0.5) / (full_auroc - 0.5)
        print(json.dumps(row), flush=True)
        append_row(args.out, row)  # parts append one at a time

    run = str(args.run_dir)
    jobs = [(v, r) for v in VARIANTS for r in range(REPETITIONS)]
    for v, r in jobs[i::n]:
        variant, kind, frac, validation, lr, steps = v
        if (run, variant, str(r)) in have:
            continue
        seed = bootstrap.unit_seed(prof.seed, frac, r)
        sub = bootstrap.stratified_subsample(tr, y, frac, random_state=seed)
        val = (
            bootstrap.stratified_subsample(va, y, frac, random_state=seed + 1)
            if validation == "subsampled"
            else va
        )
        tc = getattr(prof, kind)
        lr = tc.learning_rate if lr is None else lr
        steps = prof.bootstrap.min_steps if steps is None else steps
        t0 = time.perf_counter()
        result, _ = bootstrap.train_on_subset(
            stages.line_model_builder(ctx, pre, kind=kind),
            stages.recipe(tc)._replace(learning_rate=lr),
            codes=ds.codes,
            labels=y,
            rows=sub,
            val_rows=val,
            out_dir=args.run_dir / "retention_probe" / variant.replace(" ", "_") / f"rep_{r}",
            random_state=seed,
            min_steps=steps,
        )
        p = predict_proba(result.model, ds.codes, indices=te)
        record({
            "run": run, "variant": variant, "kind": kind, "fraction": frac,
            "validation": validation, "learning_rate": lr, "min_steps": steps,
            "repetition": r, "n_train": int(sub.size), "n_val": int(val.size),
            "best_epoch": result.best_epoch, "epochs_run": len(result.history),
            "test_auroc": float(roc_auc_score(y[te], p)),
            "seconds": time.perf_counter() - t0,
        })  # fmt: skip

    if i == 0:  # the linear probe, once
        trunk = extract_trunk(stages.pretrained_model(pre))

        def features(rows_: np.ndarray) -> np.ndarray:
            return np.concatenate([
                trunk(one_hot_tensor(ds.codes[rows_[k : k + 512]]), training=False).numpy()
                for k in range(0, rows_.size, 512)
            ])  # fmt: skip

        f_tr, f_te = features(tr), features(te)
        for frac in (0.05, 1.0):
            variant = f"linear probe on pre-trained features, {frac:.0%}"
            if (run, variant, "0") in have:
                continue
            sub = bootstrap.stratified_subsample(tr, y, frac, random_state=prof.seed)
            clf = LogisticRegression(max_iter=2000).fit(f_tr[np.searchsorted(tr, sub)], y[sub])
            record({
                "run": run, "variant": variant, "kind": "finetune", "fraction": frac,
                "validation": "none", "learning_rate": np.nan, "min_steps": 0,
                "repetition": 0, "n_train": int(sub.size), "n_val": 0,
                "best_epoch": np.nan, "epochs_run": np.nan,
                "test_auroc": float(roc_auc_score(y[te], clf.predict_proba(f_te)[:, 1])),
                "seconds": np.nan,
            })  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

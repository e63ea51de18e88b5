"""Are the book's training recipes as good as a plain CNN's? Issue 16 item 3's measurement.

On real K562-vs-HepG2 DHS sequences (200 bp, ~20 k training rows) the quick-width network
trained with the ``scratch:`` recipe reached test AUROC 0.944, where a plain three-layer CNN
with reverse-complement augmentation and stopping on validation AUROC reached 0.969-0.973.
This probe asks the same question on a simulated world of real size (a setting of
``experiments/transfer_grid.yaml``: ~20 k training rows for the probed line), through the
book's own stages for the world, the datasets and pre-training, and the library's
``train_model`` for every model, so the arms differ only in network and recipe:

``chromtransfer``
    the book's ChromTransfer: the pre-trained trunk with a new head, the ``finetune:`` recipe;
``baseline``
    the book's binary baseline: the same architecture from random weights, the ``scratch:``
    recipe;
``baseline_rc_auroc`` / ``chromtransfer_rc_auroc``
    the same two with reverse-complement augmentation and early stopping on validation AUROC
    (the plain CNN's recipe, at the book's learning rates and patience);
``plain_cnn``
    the reference: three convolution/max-pool blocks, one dense layer, Adam 1e-3, batch 64,
    reverse-complement augmentation, stopping on validation AUROC with patience 5
    (:func:`plain_cnn`; written here, not in the library, because it is a yardstick and not
    a model the book offers).

Each arm × training seed trains on fold 0 of the line's training chromosomes, is resumable
(its folder under ``experiments/calibration/probe/<setting>/seed<W>/recipe/``), and saves its
test predictions. ``report`` scores every finished arm × seed on the same test rows: AUROC with
a 95 % percentile bootstrap interval over test rows, and the paired AUROC difference from the
plain CNN trained with the same seed, with its interval. It writes one row per arm × seed to
``experiments/calibration/recipe_probe.csv``, keeping the rows of units scored in earlier
calls (whose folders may be gone). Seeds vary weight initialisation, batch order, dropout and
augmentation; the world (``--world-seed``) is one.

    python experiments/recipe_probe.py prepare SETTING
    python experiments/recipe_probe.py train SETTING --seeds 1 2 3 [--arms ...] [--threads 1]
    python experiments/recipe_probe.py report SETTING
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

HERE = Path(__file__).resolve().parent
GRID = HERE / "transfer_grid.yaml"
OUT = HERE / "calibration" / "recipe_probe.csv"
ARMS = ("plain_cnn", "baseline", "baseline_rc_auroc", "chromtransfer", "chromtransfer_rc_auroc")
#: The plain CNN's recipe: Adam's learning rate, batch, epoch limit, patience.
PLAIN_RECIPE = {"learning_rate": 1e-3, "batch_size": 64, "max_epochs": 25, "patience": 5}


def context(setting: str, world_seed: int):
    from chromtransfer_lib.book import stages
    from chromtransfer_lib.book.calibration import derive_profile

    overrides = yaml.safe_load(GRID.read_text())["settings"][setting] or {}
    run_dir = HERE / "calibration" / "probe" / setting / f"seed{world_seed}"
    prof_path = derive_profile(
        "quick", overrides, seed=world_seed, name="quick", out_path=run_dir / "profile.yaml"
    )
    return stages.RunContext.create(prof_path, run_dir)


def prepare(ctx, *, pretrain: bool = True) -> tuple:
    """The world, its datasets and (with ``pretrain``) the pre-trained model (the book's
    stages; cached)."""
    from chromtransfer_lib.book import stages

    inputs = stages.ensure_world(ctx)
    datasets = stages.ensure_datasets(ctx, inputs)
    return datasets, stages.ensure_pretrained(ctx, datasets) if pretrain else None


def plain_cnn(seq_len: int, *, random_state: int):
    """The yardstick: 3 x (Conv1D, ReLU, max-pool), dense 64, sigmoid; ~60 k weights."""
    import keras

    keras.utils.set_random_seed(random_state)
    x = inp = keras.Input((seq_len, 4), name="one_hot")
    for filters, width, pool in ((64, 11, 4), (64, 7, 4), (64, 5, None)):
        x = keras.layers.Conv1D(filters, width, padding="same", activation="relu")(x)
        x = (keras.layers.MaxPooling1D(pool) if pool else keras.layers.GlobalMaxPooling1D())(x)
        x = keras.layers.Dropout(0.2)(x)
    x = keras.layers.Dense(64, activation="relu")(x)
    x = keras.layers.Dropout(0.3)(x)
    out = keras.layers.Dense(1, activation="sigmoid", name="output")(x)
    return keras.Model(inp, out, name="plain_cnn")


def arm_recipe(prof, arm: str):
    """The :class:`~chromtransfer_lib.models.train.Recipe` of an arm."""
    from chromtransfer_lib.models.train import Recipe

    if arm == "plain_cnn":
        return Recipe(**PLAIN_RECIPE, monitor="val_auroc", reverse_complement=True)
    section = prof.finetune if arm.startswith("chromtransfer") else prof.scratch
    base = Recipe.from_config(section)
    if arm.endswith("_rc_auroc"):
        return base._replace(monitor="val_auroc", reverse_complement=True)
    return base


def train_arms(ctx, datasets, pre_cv, *, line: str, arms, seeds) -> None:
    from chromtransfer_lib.book import stages
    from chromtransfer_lib.data.pipeline import predict_proba
    from chromtransfer_lib.models.crossval import save_json, save_npy
    from chromtransfer_lib.models.grids import unit_seed
    from chromtransfer_lib.models.train import train_model

    prof = ctx.profile
    ds = datasets.finetune[line]
    part = ds.partition(prof.finetune.folds[0])
    test = ds.subset(split="test")
    for seed in seeds:
        s = unit_seed(seed, 1.0, prof.finetune.folds[0])  # seed 1 = the book's fold-0 seed
        for arm in arms:
            folder = ctx.run_dir / "recipe" / line / f"{arm}-seed{seed}"
            if (folder / "result.json").is_file():
                continue
            if arm == "plain_cnn":
                model = plain_cnn(prof.data.seq_len, random_state=s)
            else:
                kind = "finetune" if arm.startswith("chromtransfer") else "scratch"
                model = stages.line_model_builder(ctx, pre_cv, kind=kind)(s)
            t0 = time.perf_counter()
            rec = arm_recipe(prof, arm)
            res = train_model(
                model, rec, train=(ds.codes, ds.labels, part.train),
                val=(ds.codes, ds.labels, part.valid), out_dir=folder, random_state=s,
                progress=False, extra_config={"probe": "recipe", "arm": arm, "line": line},
            )  # fmt: skip
            save_npy(folder / "test_proba.npy", predict_proba(res.model, ds.codes, indices=test))
            save_npy(
                folder / "test_proba_rc.npy",
                predict_proba(res.model, ds.codes, indices=test, reverse_complement=True),
            )
            save_json(folder / "result.json", {
                "arm": arm, "seed": seed, "line": line, "recipe": rec._asdict(),
                "n_train": int(part.train.size), "n_valid": int(part.valid.size),
                "n_test": int(test.size), "best_epoch": res.best_epoch,
                "epochs": len(res.history), "seconds": time.perf_counter() - t0,
                "n_weights": int(res.model.count_params()),
            })  # fmt: skip
            print(f"{line} {arm} seed {seed}: {time.perf_counter() - t0:.0f} s", flush=True)


def report(ctx, datasets, *, line: str, n_boot: int = 2000) -> pd.DataFrame:
    """One row per arm × seed: test AUROC with a bootstrap interval, and the paired
    difference from the same seed's plain CNN."""
    from sklearn.metrics import roc_auc_score

    ds = datasets.finetune[line]
    y = ds.labels[ds.subset(split="test")]
    root = ctx.run_dir / "recipe" / line
    runs = sorted(p for p in root.glob("*-seed*") if (p / "result.json").is_file())
    rng = np.random.default_rng(0)
    boot = [rng.integers(0, y.size, y.size) for _ in range(n_boot)]

    def aurocs(p: np.ndarray) -> np.ndarray:
        return np.array([roc_auc_score(y[b], p[b]) for b in boot])

    rows, plain = [], {}
    for folder in runs:
        meta = json.loads((folder / "result.json").read_text())
        p, p_rc = np.load(folder / "test_proba.npy"), np.load(folder / "test_proba_rc.npy")
        meta |= {"test_auroc": roc_auc_score(y, p), "test_auroc_rc_mean": roc_auc_score(y, p_rc)}
        meta["_boot"] = aurocs(p)
        if meta["arm"] == "plain_cnn":
            plain[meta["seed"]] = meta["_boot"], meta["test_auroc"]
        rows.append(meta)
    for r in rows:
        b = r.pop("_boot")
        r["ci_low"], r["ci_high"] = np.quantile(b, [0.025, 0.975])
        if r["seed"] in plain:
            pb, pa = plain[r["seed"]]
            r["minus_plain"] = r["test_auroc"] - pa
            r["minus_plain_low"], r["minus_plain_high"] = np.quantile(b - pb, [0.025, 0.975])
        rec = r.pop("recipe")
        r |= {f"recipe_{k}": v for k, v in rec.items()}
    df = pd.DataFrame(rows)
    df.insert(0, "setting", ctx.run_dir.parent.name)
    df.insert(1, "world_seed", ctx.profile.seed)
    return df


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("action", choices=("prepare", "train", "report"))
    ap.add_argument("setting")
    ap.add_argument("--world-seed", type=int, default=1)
    ap.add_argument("--line", default="HepG2")
    ap.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    ap.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS))
    ap.add_argument("--threads", type=int, default=0, help="TensorFlow threads (0 = its own)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    if args.threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    ctx = context(args.setting, args.world_seed)
    t0 = time.perf_counter()
    # pre-training: for prepare, and to train a ChromTransfer arm; report reads saved predictions
    need = args.action == "prepare" or (
        args.action == "train" and any(a.startswith("chromtransfer") for a in args.arms)
    )
    datasets, pre_cv = prepare(ctx, pretrain=need)
    print(f"world, datasets and pre-training ready in {time.perf_counter() - t0:.0f} s")
    if args.action == "train":
        train_arms(ctx, datasets, pre_cv, line=args.line, arms=args.arms, seeds=args.seeds)
    elif args.action == "report":
        df = report(ctx, datasets, line=args.line)
        keys = ["setting", "world_seed", "line", "arm", "seed"]
        if args.out.is_file():  # rows of units trained in earlier sessions stay
            old = pd.read_csv(args.out).set_index(keys)
            df = pd.concat([old.drop(df.set_index(keys).index, errors="ignore").reset_index(), df])
        df = df.sort_values(keys, kind="stable", ignore_index=True)
        df.to_csv(args.out, index=False)
        cols = ["line", "arm", "seed", "n_train", "best_epoch", "epochs", "test_auroc",
                "ci_low", "ci_high", "minus_plain", "minus_plain_low", "minus_plain_high",
                "test_auroc_rc_mean", "seconds"]  # fmt: skip
        mine = df[(df["setting"] == args.setting) & (df["world_seed"] == args.world_seed)]
        print(mine[cols].round(4).to_string(index=False))
        print(mine.groupby(["line", "arm"])[["test_auroc", "minus_plain"]]
              .agg(["mean", "min", "max", "count"]).round(4).to_string())  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

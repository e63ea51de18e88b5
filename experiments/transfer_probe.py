"""Does the pre-trained trunk already know the lines? A cheap, recorded probe of a world setting.

The book run behind one calibration row costs ~15 minutes; this probe costs the world, the
datasets and pre-training only, and asks the diagnostic question of issue 15: does a linear
probe (logistic regression) on the pre-trained trunk's pooled features separate each line's
positives from its negatives — on 5 % and on 100 % of the line's training fold — before any
fine-tuning? A world in which it does not cannot show transfer; a world in which it does is
worth a full calibration run (``chromtransfer calibrate``). With ``--train LINE``, the probe
also trains that line's ChromTransfer and baseline models on 100 % (the book's own stage, so a
later book run reuses them) and on a 5 % subset (the bootstrap grid's trainer, its
``min_steps``), ChromTransfer also on a 1 % subset (criterion 3's second half), and records
their test AUROCs and retentions beside the linear probe.

Settings are the dotted-key overrides of ``experiments/transfer_grid.yaml`` (base profile
``quick``); each setting × seed runs in ``experiments/calibration/probe/<setting>/seed<S>``
through the book's own stages (world, datasets, pre-training: the code every chapter runs) and
writes one row per line to ``experiments/calibration/transfer_probe.csv``. A setting × seed is
probed again (from its cached world and models: minutes) until every ``--train`` line has its
trained columns; new values are written over the recorded row, and a column the new row leaves
empty (a line trained in an earlier call) keeps its recorded value.

    python experiments/transfer_probe.py SETTING [SETTING ...] [--seeds 1 2] [--train HepG2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

HERE = Path(__file__).resolve().parent
GRID = HERE / "transfer_grid.yaml"
OUT = HERE / "calibration" / "transfer_probe.csv"


def probe(name: str, overrides: dict, seed: int, train: list[str]) -> list[dict]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import StandardScaler

    from chromtransfer_lib.book import stages
    from chromtransfer_lib.book.calibration import derive_profile
    from chromtransfer_lib.config import CELL_LINES
    from chromtransfer_lib.data.pipeline import predict_proba
    from chromtransfer_lib.genome.sequence import one_hot_tensor
    from chromtransfer_lib.models import grids
    from chromtransfer_lib.models.network import extract_trunk

    run_dir = HERE / "calibration" / "probe" / name / f"seed{seed}"
    prof_path = derive_profile(
        "quick", overrides, seed=seed, name="quick", out_path=run_dir / "profile.yaml"
    )
    ctx = stages.RunContext.create(prof_path, run_dir)
    t0 = time.perf_counter()
    inputs = stages.ensure_world(ctx)
    datasets = stages.ensure_datasets(ctx, inputs)
    t_data = time.perf_counter() - t0
    pre_cv = stages.ensure_pretrained(ctx, datasets)
    t_pre = time.perf_counter() - t0 - t_data
    model = stages.pretrained_model(pre_cv)
    pds = datasets.pretrain
    te = np.flatnonzero(pds.regions["split"].to_numpy() == "test")
    pre_auroc = float(roc_auc_score(pds.labels[te], predict_proba(model, pds.codes, indices=te)))
    run = pre_cv.runs[0]
    import keras

    # pooled trunk output (what the new head sees), and the max over positions of the stem's
    # and the first merged stage's activations (are the motif detectors there?)
    extractors = {
        "": extract_trunk(model),
        "stem_": keras.Model(
            model.inputs[0],
            keras.layers.GlobalMaxPooling1D()(model.get_layer("trunk_stem_bn").output),
        ),
        "merge1_": keras.Model(
            model.inputs[0],
            keras.layers.GlobalMaxPooling1D()(model.get_layer("trunk_merge1").output),
        ),
    }

    def features(trunk, codes: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return np.concatenate([
            trunk(one_hot_tensor(codes[rows[k : k + 512]]), training=False).numpy()
            for k in range(0, rows.size, 512)
        ])  # fmt: skip

    rows = []
    for line in CELL_LINES:
        ds = datasets.finetune[line]
        part = ds.partition(ctx.profile.finetune.folds[0])
        tr, test = part.train, ds.subset(split="test")
        y = ds.labels
        row = {
            "setting": name, "seed": seed, "line": line,
            "n_pretrain": int(pds.labels.size), "pretrain_auroc": pre_auroc,
            "pretrain_best_epoch": run.best_epoch, "pretrain_epochs": len(run.history),
            "n_train": int(tr.size), "n_pos_train": int(y[tr].sum()),
            "data_seconds": t_data, "pretrain_seconds": t_pre,
            # the pre-trained model itself on the line (criterion 3: the smallest fraction
            # must beat it)
            "pretrained_line_auroc": float(
                roc_auc_score(y[test], predict_proba(model, ds.codes, indices=test))
            ),
        }  # fmt: skip
        for prefix, trunk in extractors.items():
            f_tr, f_te = features(trunk, ds.codes, tr), features(trunk, ds.codes, test)
            for frac in (0.05, 1.0):
                sub = (
                    tr if frac == 1 else grids.stratified_subsample(tr, y, frac, random_state=seed)
                )
                x = f_tr[np.searchsorted(tr, sub)]
                scale = StandardScaler().fit(x)
                clf = LogisticRegression(max_iter=5000).fit(scale.transform(x), y[sub])
                p = clf.predict_proba(scale.transform(f_te))[:, 1]
                row[f"probe_{prefix}auroc_{frac:.0%}"] = float(roc_auc_score(y[test], p))
        if line in train:
            row.update(train_line(ctx, datasets, pre_cv, line, seed))
        rows.append(row)
        print(row, flush=True)
    return rows


def train_line(ctx, datasets, pre_cv, line: str, seed: int) -> dict:
    """Test AUROC of the line's ChromTransfer and baseline at 100 % and 5 %, and retentions;
    ChromTransfer at 1 % (criterion 3's second half)."""
    from sklearn.metrics import roc_auc_score

    from chromtransfer_lib.book import stages
    from chromtransfer_lib.data.pipeline import predict_proba
    from chromtransfer_lib.models import grids

    prof = ctx.profile
    ds = datasets.finetune[line]
    part = ds.partition(prof.finetune.folds[0])
    test, y = ds.subset(split="test"), ds.labels

    def subset_auroc(kind: str, fraction: float) -> tuple[float, int]:
        """Test AUROC of ``kind`` trained on a ``fraction`` subset (the grid's trainer and
        ``min_steps``), and the subset's size."""
        unit_seed = grids.unit_seed(prof.seed, fraction, 0)
        sub = grids.stratified_subsample(part.train, y, fraction, random_state=unit_seed)
        res, _ = grids.train_on_subset(
            stages.line_model_builder(ctx, pre_cv, kind=kind),
            stages.recipe(getattr(prof, kind)),
            codes=ds.codes, labels=y, rows=sub, val_rows=part.valid,
            out_dir=ctx.run_dir / f"probe_{fraction * 100:g}pct" / f"{kind}-{line}",
            random_state=unit_seed, min_steps=prof.bootstrap.min_steps,
        )  # fmt: skip
        p = predict_proba(res.model, ds.codes, indices=test)
        return float(roc_auc_score(y[test], p)), sub.size

    out: dict = {}
    for kind in ("finetune", "scratch"):
        t0 = time.perf_counter()
        cv = stages.ensure_line_model(ctx, datasets, pre_cv, line=line, kind=kind)
        p_full = predict_proba(cv.runs[0].model, ds.codes, indices=test)
        full = float(roc_auc_score(y[test], p_full))
        small, _ = subset_auroc(kind, 0.05)
        out |= {
            f"{kind}_auroc_100%": full, f"{kind}_auroc_5%": small,
            f"{kind}_retention_5%": (small - 0.5) / (full - 0.5),
            f"{kind}_best_epoch_100%": cv.runs[0].best_epoch,
            f"{kind}_seconds": time.perf_counter() - t0,
        }  # fmt: skip
    out["finetune_auroc_1%"], out["n_train_1%"] = subset_auroc("finetune", 0.01)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("settings", nargs="+")
    ap.add_argument("--seeds", nargs="+", type=int, default=[1])
    ap.add_argument("--train", nargs="*", default=[], help="lines to train models for")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    grid = yaml.safe_load(GRID.read_text())["settings"]
    for name in args.settings:
        for seed in args.seeds:
            done = pd.read_csv(args.out) if args.out.is_file() else pd.DataFrame()
            if _complete(done, name, seed, args.train):
                continue
            rows = probe(name, grid[name] or {}, seed, args.train)
            _merge(args.out, pd.DataFrame(rows))
    return 0


def _complete(done: pd.DataFrame, name: str, seed: int, train: list[str]) -> bool:
    """Whether ``done`` holds the setting × seed with every line of ``train`` trained (its 1 %
    model included, the last unit the probe trains)."""
    if done.empty:
        return False
    mine = done[(done["setting"].astype(str) == name) & (done["seed"].astype(int) == seed)]
    if mine.empty:
        return False
    trained = mine.set_index("line").get("finetune_auroc_1%", pd.Series(dtype=float))
    return all(pd.notna(trained.get(line)) for line in train)


def _merge(path: Path, new: pd.DataFrame) -> None:
    """Write ``new``'s rows over the same setting × seed × line rows of ``path``; a column the
    new row leaves empty (a line trained in an earlier call) keeps its recorded value."""
    keys = ["setting", "seed", "line"]
    if not path.is_file():
        new.to_csv(path, index=False)
        return
    old = pd.read_csv(path)
    cols = list(dict.fromkeys([*old.columns, *new.columns]))
    old, new = old.set_index(keys), new.set_index(keys)
    merged = new.combine_first(old)  # every row of both; a new non-empty value wins
    order = old.index.append(new.index.difference(old.index))  # recorded rows keep their place
    merged.loc[order].reset_index()[cols].to_csv(path, index=False)


if __name__ == "__main__":
    sys.exit(main())

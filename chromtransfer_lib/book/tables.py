"""The tables of chapters 1-4, one function each, named after the paper's table they rebuild.

Every function takes the chapter's :class:`~chromtransfer_lib.book.report.Run` and returns a
DataFrame ready to display (or ``None`` where the run lacks what the table shows, e.g. the
planted sites of a simulated world on the paper's data). The ``*_numbers`` functions return the
plain numbers a chapter glues into its prose, and ``*_metrics`` the flat metrics it saves; the
paper's values come from :mod:`.paper` (``paper_results.yaml``, read by
:mod:`chromtransfer_lib.reported`). See ARCHITECTURE.md.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from chromtransfer_lib.book import paper, report, stages
from chromtransfer_lib.book.report import MODEL_ORDER, Run
from chromtransfer_lib.config import CELL_LINES


def _pivot(scores: pd.DataFrame, values: list[str], models: tuple[str, ...]) -> pd.DataFrame:
    """Line × (metric, model) table of ``scores``, metrics and models in the order given."""
    sub = scores[scores["model"].isin(models)]
    wide = sub.pivot_table(index="cell_line", columns="model", values=values, observed=True)
    cols = [(v, m) for v in values for m in models if (v, m) in wide.columns]
    out = wide[cols]
    out.columns = pd.MultiIndex.from_tuples(cols, names=[None, "model"])
    out.index = pd.Index([str(i) for i in out.index], name="cell_line")
    return out


# --- chapter 1: data ------------------------------------------------------------------------


def jaspar_catalogue() -> pd.DataFrame:
    """The paper's motif collection (JASPAR 2022 CORE vertebrates), one row per matrix:
    ``matrix_id, tf, width, information_bits`` (total information content)."""
    return _catalogue().copy()


@functools.cache
def _catalogue() -> pd.DataFrame:
    from chromtransfer_lib.book.plots import information_content
    from chromtransfer_lib.genome.jaspar import load_jaspar

    matrices = load_jaspar(**report.JASPAR)
    return pd.DataFrame(
        {
            "matrix_id": [m.matrix_id for m in matrices],
            "tf": [m.name for m in matrices],
            "width": [m.width for m in matrices],
            "information_bits": [
                float(information_content(m.probabilities(pseudocount=0.1)).sum()) for m in matrices
            ],
        }
    )


def jaspar_summary() -> pd.DataFrame:
    """Width and information content of the collection's matrices (count, mean, quartiles)."""
    return jaspar_catalogue().describe().round(1)


def drivers(run: Run) -> pd.DataFrame | None:
    """The driver matrices planted for each line of the simulated world (``None`` otherwise)."""
    motifs = report.world_motifs(run)
    if motifs is None:
        return None
    d = motifs[motifs["role"] == "driver"]
    return (
        d.groupby("driver_of")
        .agg(drivers=("name", ", ".join), matrix_ids=("matrix_id", ", ".join))
        .reindex(CELL_LINES)
        .reset_index()
        .rename(columns={"driver_of": "cell line"})
    )


def planted(run: Run) -> pd.DataFrame | None:
    """Planted sites per region class × role, and the mean per region (simulated world only)."""
    truth = report.ground_truth(run)
    if truth is None:
        return None
    tab = truth.groupby(["region_class", "role"]).size().rename("sites").reset_index()
    per_region = truth[truth["region"] != "."].groupby(["region_class", "region"]).size()
    mean = per_region.groupby("region_class").mean().round(1).rename("mean sites per region")
    return tab.join(mean, on="region_class")


def pretraining_splits(run: Run) -> pd.DataFrame:
    """Pre-training sequences per split (train/test) × label (rDHS/background)."""
    pre = run.need("datasets").pretrain
    return pre.regions.pivot_table(index="split", columns="label", aggfunc="size", fill_value=0)


def dropped_regions(run: Run) -> pd.DataFrame:
    """Regions each dataset builder dropped, by reason (from the datasets' provenance)."""
    ds = run.need("datasets")
    return pd.DataFrame(
        [
            {"dataset": name, "reason": reason, "dropped": n}
            for name, d in [("pre-training", ds.pretrain), *ds.finetune.items()]
            for reason, n in d.provenance["dropped"].items()
        ],
        columns=["dataset", "reason", "dropped"],
    )


def dataset_sizes(run: Run) -> pd.DataFrame:
    """The dataset-size table: per line, the paper's positives, negatives, ratio and share of
    positives (Methods) beside this run's (training and test rows together)."""
    sizes = paper.section("dataset_sizes")
    pos_p, neg_p = sizes["positives"], sizes["negatives"]
    finetune = run.need("datasets").finetune
    rows = []
    for line in CELL_LINES:
        y = finetune[line].labels
        pos, neg = int((y == 1).sum()), int((y == 0).sum())
        rows.append(
            {
                "cell line": line,
                "paper positives": pos_p[line],
                "paper negatives": neg_p[line],
                "paper neg:pos": round(neg_p[line] / pos_p[line], 2),
                "this run positives": pos,
                "this run negatives": neg,
                "this run neg:pos": round(neg / max(pos, 1), 2),
                "share of positives (paper)": round(pos_p[line] / sum(pos_p.values()), 3),
            }
        )
    out = pd.DataFrame(rows)
    total = max(out["this run positives"].sum(), 1)
    out["share of positives (this run)"] = (out["this run positives"] / total).round(3)
    return out


def data_numbers(run: Run) -> dict[str, float | int]:
    """Numbers chapter 1 glues: the collection's size, the pre-training set, what was planted,
    and the paper's compendium size and neg:pos range."""
    cat = jaspar_catalogue()
    truth = report.ground_truth(run)
    sizes = paper.section("dataset_sizes")
    out = {
        "n_matrices": len(cat),
        "n_tfs": int(cat["tf"].nunique()),
        "n_pretrain": len(run.need("datasets").pretrain),
        "seq_len": int(run.profile.data.seq_len),
        "paper_n_rdhs_millions": float(sizes["n_rdhs_millions"]),
        "paper_neg_per_pos_min": float(sizes["neg_per_pos"]["min"]),
        "paper_neg_per_pos_max": float(sizes["neg_per_pos"]["max"]),
    }
    if truth is not None:
        out["n_planted"] = len(truth)
    return out


def data_metrics(run: Run) -> dict[str, int]:
    """Chapter 1's saved metrics: the size of every dataset (and each line's positives)."""
    ds = run.need("datasets")
    return {
        "data.pretrain.n": len(ds.pretrain),
        **{f"data.finetune.{k}.n": len(v) for k, v in ds.finetune.items()},
        **{f"data.finetune.{k}.n_pos": int((v.labels == 1).sum()) for k, v in ds.finetune.items()},
        "data.multiclass.n": len(ds.multiclass),
    }


# --- chapter 2: pre-training ----------------------------------------------------------------


@functools.cache
def _network_layers(kwargs: tuple) -> pd.DataFrame:
    from chromtransfer_lib.models.network import build_pretrain_model

    net = build_pretrain_model(**dict(kwargs))
    return pd.DataFrame(
        [
            {
                "part": "trunk" if lay.name.startswith("trunk_") else "head",
                "layer": lay.name,
                "type": type(lay).__name__,
                "parameters": lay.count_params(),
            }
            for lay in net.layers
            if lay.count_params() > 0
        ]
    )


def _layers(run: Run) -> pd.DataFrame:
    prof = run.profile
    kw = {"head_units": tuple(prof.model.pretrain_head), **stages.network_kwargs(prof)}
    return _network_layers(tuple(sorted(kw.items()))).copy()


def network(run: Run) -> pd.DataFrame:
    """Parameters of the pre-training network per part (trunk/head) and layer type."""
    return _layers(run).groupby(["part", "type"], as_index=False)["parameters"].sum()


def pretraining_folds(run: Run) -> pd.DataFrame:
    """Every pre-training fold: the epoch early stopping kept, epochs run, the validation −
    training loss gap at the kept epoch, and the fold model's test metrics."""
    cv = run.need("pretrain")
    epochs = cv.fold_epochs()[["fold", "best_epoch", "epochs_run", "gap"]]
    test = cv.per_fold[["fold", "auroc", "auprc", "f1_pos", "f1_neg"]]
    return epochs.join(test.set_index("fold"), on="fold")


def pretraining_performance(run: Run) -> pd.DataFrame:
    """Fig 1D-E's test-set numbers: the paper's pre-trained model beside this run's ensemble."""
    reported = paper.section("pretraining")["test"]
    names = {
        "auroc": "AUROC",
        "auprc": "AUPRC",
        "f1_pos": "F1 open (positive)",
        "f1_neg": "F1 closed (negative)",
    }
    ens = run.need("pretrain").ensemble
    return pd.DataFrame(
        {
            "metric": list(names.values()),
            "paper": [reported[k] for k in names],
            "this run": [round(float(ens[k]), 3) for k in names],
        }
    )


def pretraining_numbers(run: Run) -> dict[str, float | int]:
    """Numbers chapter 2 glues: network size, input length, the ensemble's test AUROC/AUPRC
    and fold count, and the paper's AUROC/AUPRC."""
    ens, reported = run.need("pretrain").ensemble, paper.section("pretraining")["test"]
    return {
        "n_params": int(_layers(run)["parameters"].sum()),
        "seq_len": int(run.profile.data.seq_len),
        "pre_auroc": float(ens["auroc"]),
        "pre_auprc": float(ens["auprc"]),
        "n_folds_run": len(run.profile.pretrain.folds),
        "paper_pre_auroc": float(reported["auroc"]),
        "paper_pre_auprc": float(reported["auprc"]),
    }


def pretraining_metrics(run: Run) -> dict[str, float | int]:
    """Chapter 2's saved metrics: the ensemble's test metrics, network size, and every fold's
    kept epoch and loss gap (``pretrain.fold_<k>.best_epoch`` / ``.gap``)."""
    ens = run.need("pretrain").ensemble
    out: dict[str, float | int] = {
        f"pretrain.test.{k}": ens[k] for k in ("auroc", "auprc", "f1_pos", "f1_neg", "f1_overall")
    }
    out["pretrain.n_params"] = int(_layers(run)["parameters"].sum())
    for _, r in run.need("pretrain").fold_epochs().iterrows():
        out[f"pretrain.fold_{int(r['fold'])}.best_epoch"] = int(r["best_epoch"])
        out[f"pretrain.fold_{int(r['fold'])}.gap"] = float(r["gap"])
    return out


# --- chapter 3: fine-tuning -----------------------------------------------------------------


def recipes(run: Run) -> pd.DataFrame:
    """Each model's training recipe in this profile, beside the paper's (where it states one)."""
    reported = paper.section("recipes")
    settings = ("learning_rate", "batch_size", "max_epochs", "patience", "monitor", "folds")
    rows = []
    for kind, label in {**stages.KIND_LABELS, "multiclass": "multiclass baseline"}.items():
        tc = getattr(run.profile, kind)
        for s in settings:
            value = getattr(tc, s)
            rows.append(
                {
                    "model": label,
                    "setting": s,
                    "this profile": str(list(value) if s == "folds" else value),
                    "paper": str(reported.get(kind, {}).get(s, "")),
                }
            )
    return pd.DataFrame(rows).set_index(["model", "setting"])


def auroc_by_line(run: Run) -> pd.DataFrame:
    """Fig 1F-G's areas: test AUROC per line of the four models."""
    return _pivot(run.scores, ["auroc"], MODEL_ORDER)["auroc"].round(3)


def table_s1(run: Run) -> pd.DataFrame:
    """Table S1: test F1 (overall, open, closed) at 0.5 per line and model, and overall F1 at
    the threshold chosen on out-of-fold validation predictions."""
    values = ["f1_overall", "f1_pos", "f1_neg", "f1_overall_valthr"]
    return _pivot(run.scores, values, MODEL_ORDER).round(3)


def table_s2(run: Run) -> pd.DataFrame:
    """Table S2: test AUROC and AUPRC of ChromTransfer and the binary baseline per line."""
    return _pivot(run.scores, ["auroc", "auprc"], MODEL_ORDER[:2]).round(3)


def table_s3(run: Run) -> pd.DataFrame:
    """Table S3: ChromTransfer's test AUROC against the multiclass baseline's on the same rows,
    the gain, and the multiclass model's one-vs-rest AUROC on its own test set."""
    auroc = _pivot(run.scores, ["auroc"], MODEL_ORDER)["auroc"]
    out = auroc[["ChromTransfer", "multiclass baseline"]].copy()
    out["gain"] = out["ChromTransfer"] - out["multiclass baseline"]
    ovr = run.need("multiclass").auroc.set_index("class")["auroc"]
    out["multiclass (its own test set, one-vs-rest)"] = ovr.reindex(out.index)
    return out.round(3)


def finetuning_numbers(run: Run) -> dict[str, float | int]:
    """Numbers chapter 3 glues: ChromTransfer's wins and mean gains over the binary and the
    multiclass baseline, its AUROC range, the pre-trained model's F1 range, and the paper's."""
    auroc = _pivot(run.scores, ["auroc"], MODEL_ORDER)["auroc"]
    f1 = _pivot(run.scores, ["f1_overall"], MODEL_ORDER)["f1_overall"]
    ft = auroc["ChromTransfer"]
    gain_auroc = ft - auroc["binary baseline"]
    gain_f1 = f1["ChromTransfer"] - f1["binary baseline"]
    fin, base = paper.section("finetuning"), paper.section("baselines")
    return {
        "lines_won_auroc": int((gain_auroc > 0).sum()),
        "mean_gain_auroc": float(gain_auroc.mean()),
        "lines_won_f1": int((gain_f1 > 0).sum()),
        "mean_gain_f1": float(gain_f1.mean()),
        "mean_gain_multi": float((ft - auroc["multiclass baseline"]).mean()),
        "ft_auroc_min": float(ft.min()),
        "ft_auroc_max": float(ft.max()),
        "pt_f1_min": float(f1["pre-trained"].min()),
        "pt_f1_max": float(f1["pre-trained"].max()),
        "n_lines": len(CELL_LINES),
        "paper_ft_auroc_min": float(fin["chromtransfer"]["auroc"]["min"]),
        "paper_ft_auroc_max": float(fin["chromtransfer"]["auroc"]["max"]),
        "paper_pt_f1_min": float(fin["pretrained_only"]["f1_overall"]["min"]),
        "paper_pt_f1_max": float(fin["pretrained_only"]["f1_overall"]["max"]),
        "paper_lines_won_f1": int(base["binary"]["lines_won"]),
        "paper_mean_gain_f1": float(base["binary"]["f1_overall_gain"]["mean"]),
        "paper_mean_gain_multi": float(base["multiclass"]["auroc_gain"]["mean"]),
    }


def finetuning_metrics(run: Run) -> dict[str, float]:
    """Chapter 3's saved metrics: ``<model>.<line>.test.<metric>`` for the four models."""
    return report.flatten_metrics(run.scores, keys=report.METRIC_KEYS)


# --- chapter 4: over-fitting and calibration ------------------------------------------------


def overfitting(run: Run) -> pd.DataFrame:
    """Every line model's folds: the validation − training loss gap at the kept epoch, the
    kept (best) epoch and the epochs run, per line × fold (rows) and model (columns)."""
    rows = report.line_fold_epochs(run).rename(
        columns={"gap": "gap (val − train loss)", "best_epoch": "best epoch"}
    )
    rows["epochs run"] = rows["epochs_run"]
    values = ["gap (val − train loss)", "best epoch", "epochs run"]
    models = tuple(stages.KIND_LABELS.values())
    wide = rows.pivot_table(index=["cell_line", "fold"], columns="model", values=values)
    wide = wide[[(v, m) for v in values for m in models if (v, m) in wide.columns]]
    order = [(line, f) for line in CELL_LINES for f in sorted(rows["fold"].unique())]
    return wide.reindex([i for i in order if i in wide.index]).round(3)


def calibration(run: Run) -> pd.DataFrame:
    """Brier score and expected calibration error of the fold ensembles' test predictions."""
    scores = report.score_predictions(report.ensemble_predictions(run))
    return _pivot(scores, ["brier", "ece"], tuple(stages.KIND_LABELS.values())).round(3)


def overfitting_numbers(run: Run) -> dict[str, float | int]:
    """Numbers chapter 4 glues: the mean gap of each model over the lines, and on how many
    lines ChromTransfer's ECE is the lower."""
    gaps = report.line_gaps(run)
    ece = calibration(run)["ece"]
    return {
        "gap_ft": float(np.mean([g for (k, _), g in gaps.items() if k == "finetune"])),
        "gap_bl": float(np.mean([g for (k, _), g in gaps.items() if k == "scratch"])),
        "ece_better": int((ece["ChromTransfer"] < ece["binary baseline"]).sum()),
        "n_lines": len(CELL_LINES),
    }


def overfitting_metrics(run: Run) -> dict[str, float | int]:
    """Chapter 4's saved metrics: ``overfit.<line>.<kind>.gap`` (mean over folds) and, per
    fold, ``overfit.<line>.<kind>.fold_<k>.gap`` / ``.best_epoch``."""
    out: dict[str, float | int] = {
        f"overfit.{line}.{kind}.gap": g for (kind, line), g in report.line_gaps(run).items()
    }
    for _, r in report.line_fold_epochs(run).iterrows():
        key = f"overfit.{r['cell_line']}.{r['kind']}.fold_{int(r['fold'])}"
        out[f"{key}.gap"] = float(r["gap"])
        out[f"{key}.best_epoch"] = int(r["best_epoch"])
    return out

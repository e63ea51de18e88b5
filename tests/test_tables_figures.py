"""The paper's tables and figures of chapters 1-4, on tiny inline runs with expected tables."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from chromtransfer_lib.book import figures, paper, report, stages, tables
from chromtransfer_lib.config import CELL_LINES, load_profile
from chromtransfer_lib.data.datasets import Dataset
from chromtransfer_lib.evaluate import choose_threshold
from chromtransfer_lib.models.grids import CVResult
from chromtransfer_lib.models.train import TrainResult


def _dataset(y, split, fold, *, codes=None, label=None, dropped=None) -> Dataset:
    regions = pd.DataFrame({"y": y, "split": split, "fold": fold})
    if label is not None:
        regions["label"] = label
    codes = np.zeros((len(regions), 2), np.uint8) if codes is None else np.asarray(codes, np.uint8)
    return Dataset(Path("inline"), codes, regions, {"dropped": dropped or {}})


def _run(tmp_path: Path, **artifacts) -> report.Run:
    return report.Run(stages.RunContext(load_profile("smoke"), tmp_path), **artifacts)


def _no_model():
    raise AssertionError("a table loaded a model it does not need")


def _cv(best: dict[int, int], histories: pd.DataFrame, **extra) -> CVResult:
    per_fold = pd.DataFrame({"fold": list(best), "best_epoch": list(best.values())})
    per_fold["epochs_run"] = [
        int(histories.loc[histories["fold"] == f, "epoch"].max()) for f in best
    ]
    for k, v in extra.pop("per_fold", {}).items():
        per_fold[k] = v
    runs = [
        TrainResult(
            model=None,
            loader=_no_model,  # the tables read histories and metrics, never a model
            history=histories[histories["fold"] == f].reset_index(drop=True),
            out_dir=Path(f"fold_{f}"),
            best_epoch=b,
            metrics={"epochs_run": int(n), "stopped_early": bool(n > b)},
            config={"extra": {"fold": f}},
        )
        for (f, b), n in zip(best.items(), per_fold["epochs_run"], strict=True)
    ]
    fields = {
        "runs": runs,
        "summary": pd.DataFrame(),
        "ensemble": {},
        "test_proba": np.zeros((0, 1)),
    }
    return CVResult(per_fold=per_fold, histories=histories, **{**fields, **extra})


#: Two folds: fold 0 keeps epoch 2 of 3, fold 1 epoch 3 of 4.
HISTORY = pd.DataFrame(
    {
        "fold": [0, 0, 0, 1, 1, 1, 1],
        "epoch": [1, 2, 3, 1, 2, 3, 4],
        "loss": [0.70, 0.50, 0.40, 0.80, 0.60, 0.45, 0.30],
        "val_loss": [0.75, 0.60, 0.65, 0.85, 0.70, 0.50, 0.55],
    }
)


# --- the paper's numbers ---------------------------------------------------------------------


def test_paper_numbers_of_chapters_1_to_4() -> None:
    sizes = paper.section("dataset_sizes")
    assert sizes["positives"]["HepG2"] == 31211 and sizes["negatives"]["K562"] == 103995
    assert set(sizes["positives"]) == set(sizes["negatives"]) == set(CELL_LINES)
    assert paper.section("pretraining")["test"] == {
        "auroc": 0.94,
        "auprc": 0.90,
        "f1_pos": 0.93,
        "f1_neg": 0.80,
    }
    assert paper.section("finetuning")["chromtransfer"]["auroc"] == {"min": 0.79, "max": 0.89}
    assert paper.section("baselines")["multiclass"]["auroc_gain"]["mean"] == 0.15


# --- chapter 1 -----------------------------------------------------------------------------


def _finetune() -> dict[str, Dataset]:
    # line i has i + 1 positives and 2 negatives; one positive and one negative are test rows
    out = {}
    for i, line in enumerate(CELL_LINES):
        y = [1] * (i + 1) + [0, 0]
        split = ["test"] + ["train"] * i + ["test", "train"]
        fold = [-1] + [0] * i + [-1, 1]
        out[line] = _dataset(y, split, fold, dropped={"gap": i} if i < 2 else {})
    return out


def test_dataset_sizes_beside_the_paper(tmp_path: Path) -> None:
    pre = _dataset([1, 0, 0], ["train", "train", "test"], [0, 1, -1])
    datasets = stages.Datasets(pre, _finetune(), _dataset([0], ["train"], [0]))
    table = tables.dataset_sizes(_run(tmp_path, datasets=datasets))
    expected = pd.DataFrame(
        {
            "cell line": list(CELL_LINES),
            "paper positives": [14112, 20018, 31211, 31740, 36769, 39461],
            "paper negatives": [78725, 62389, 54995, 81805, 103995, 91122],
            "paper neg:pos": [5.58, 3.12, 1.76, 2.58, 2.83, 2.31],
            "this run positives": [1, 2, 3, 4, 5, 6],
            "this run negatives": [2] * 6,
            "this run neg:pos": [2.0, 1.0, 0.67, 0.5, 0.4, 0.33],
            "share of positives (paper)": [0.081, 0.116, 0.18, 0.183, 0.212, 0.228],
            "share of positives (this run)": [0.048, 0.095, 0.143, 0.19, 0.238, 0.286],
        }
    )
    pd.testing.assert_frame_equal(table, expected)
    assert tables.data_metrics(_run(tmp_path, datasets=datasets)) == {
        "data.pretrain.n": 3,
        **{f"data.finetune.{line}.n": i + 3 for i, line in enumerate(CELL_LINES)},
        **{f"data.finetune.{line}.n_pos": i + 1 for i, line in enumerate(CELL_LINES)},
        "data.multiclass.n": 1,
    }


def test_pretraining_splits_and_dropped_regions(tmp_path: Path) -> None:
    pre = _dataset(
        [1, 0, 0, 1],
        ["train", "train", "test", "test"],
        [0, 1, -1, -1],
        label=["rDHS", "background", "background", "rDHS"],
        dropped={"blacklist": 4},
    )
    run = _run(tmp_path, datasets=stages.Datasets(pre, _finetune(), pre))
    splits = tables.pretraining_splits(run)
    assert splits.to_dict() == {
        "background": {"test": 1, "train": 1},
        "rDHS": {"test": 1, "train": 1},
    }
    expected = pd.DataFrame(
        {
            "dataset": ["pre-training", "A549"],
            "reason": ["blacklist", "gap"],
            "dropped": [4, 0],
        }
    )
    dropped = tables.dropped_regions(run)
    pd.testing.assert_frame_equal(dropped.iloc[:2], expected)
    assert dropped["dataset"].tolist() == ["pre-training", "A549", "HCT116"]


def test_world_tables_need_a_simulated_world(tmp_path: Path) -> None:
    world = tmp_path / "world"
    world.mkdir()
    (world / "motifs.tsv").write_text(
        "matrix_id\tname\trole\tdriver_of\n"
        "MA0114.4\tHNF4A\tdriver\tHepG2\nMA0035.4\tGata1\tdriver\tK562\n"
        "MA0079.4\tSP1\tgeneric\t\n"
    )
    (world / "truth.tsv").write_text(
        "region_class\trole\tregion\n"
        "specific\tdriver\tr1\nspecific\tdriver\tr1\nspecific\tdecoy\tr2\nbackground\tweak\t.\n"
    )
    inputs = SimpleNamespace(motifs=world / "motifs.tsv", ground_truth=world / "truth.tsv")
    run = _run(tmp_path, inputs=inputs)
    drivers = tables.drivers(run).set_index("cell line")
    assert drivers.loc["HepG2"].tolist() == ["HNF4A", "MA0114.4"]
    assert drivers.loc["MCF7"].isna().all()
    expected = pd.DataFrame(
        {
            "region_class": ["background", "specific", "specific"],
            "role": ["weak", "decoy", "driver"],
            "sites": [1, 1, 2],
            "mean sites per region": [np.nan, 1.5, 1.5],
        }
    )
    pd.testing.assert_frame_equal(tables.planted(run), expected)
    on_real_data = _run(tmp_path, inputs=SimpleNamespace(motifs=None, ground_truth=None))
    assert tables.drivers(on_real_data) is None and tables.planted(on_real_data) is None
    assert figures.driver_logos(on_real_data) is None


def test_jaspar_catalogue_is_the_papers_collection() -> None:
    cat = tables.jaspar_catalogue()
    assert len(cat) == 841  # JASPAR 2022 CORE vertebrates
    ctcf = cat[cat["tf"] == "CTCF"].iloc[0]
    assert ctcf["width"] == 19
    assert tables.jaspar_summary().loc["count", "width"] == 841


# --- per-fold epochs (chapters 2 and 4 showed fold 0's only) ----------------------------------


def test_every_folds_best_epoch_and_gap() -> None:
    table = _cv({0: 2, 1: 3}, HISTORY).fold_epochs()
    expected = pd.DataFrame(
        {
            "fold": [0, 1],
            "best_epoch": [2, 3],
            "epochs_run": [3, 4],
            "stopped_early": [True, True],
            "train_loss": [0.50, 0.45],
            "val_loss": [0.60, 0.50],
            "gap": [0.10, 0.05],
        }
    )
    pd.testing.assert_frame_equal(table, expected)


def test_pretraining_folds_and_metrics_name_every_fold(tmp_path: Path) -> None:
    metrics = {"auroc": [0.9, 0.8], "auprc": [0.7, 0.6], "f1_pos": [0.5, 0.4], "f1_neg": [0.3, 0.2]}
    ensemble = {"auroc": 0.91, "auprc": 0.71, "f1_pos": 0.51, "f1_neg": 0.31, "f1_overall": 0.4}
    cv = _cv({0: 2, 1: 3}, HISTORY, per_fold=metrics, ensemble=ensemble)
    run = _run(tmp_path, pretrain=cv)
    expected = pd.DataFrame(
        {"fold": [0, 1], "best_epoch": [2, 3], "epochs_run": [3, 4], "gap": [0.10, 0.05], **metrics}
    )
    pd.testing.assert_frame_equal(tables.pretraining_folds(run), expected)
    saved = tables.pretraining_metrics(run)
    assert {k: saved[k] for k in saved if ".fold_" in k} == pytest.approx(
        {
            "pretrain.fold_0.best_epoch": 2,
            "pretrain.fold_0.gap": 0.10,
            "pretrain.fold_1.best_epoch": 3,
            "pretrain.fold_1.gap": 0.05,
        }
    )
    assert saved["pretrain.test.auroc"] == 0.91 and saved["pretrain.n_params"] > 0
    performance = tables.pretraining_performance(run)
    assert performance["paper"].tolist() == [0.94, 0.90, 0.93, 0.80]
    assert performance["this run"].tolist() == [0.91, 0.71, 0.51, 0.31]


def _line_models(proba: dict[tuple[str, str], list[float]]) -> dict:
    return {
        key: _cv({0: 2, 1: 3}, HISTORY, test_proba=np.array(p)[:, None]) for key, p in proba.items()
    }


def test_overfitting_table_shows_every_fold(tmp_path: Path) -> None:
    scratch = HISTORY.assign(val_loss=HISTORY["val_loss"] + 0.2)
    models = _line_models({("finetune", "HepG2"): [0.5]})
    models[("scratch", "HepG2")] = _cv({0: 1, 1: 2}, scratch)
    run = _run(tmp_path, line_models=models)
    table = tables.overfitting(run)
    gap, best = "gap (val − train loss)", "best epoch"
    expected = pd.DataFrame(
        {
            (gap, "ChromTransfer"): [0.10, 0.05],
            (gap, "binary baseline"): [0.25, 0.30],
            (best, "ChromTransfer"): [2.0, 3.0],
            (best, "binary baseline"): [1.0, 2.0],
            ("epochs run", "ChromTransfer"): [3.0, 4.0],
            ("epochs run", "binary baseline"): [3.0, 4.0],
        },
        index=pd.MultiIndex.from_tuples([("HepG2", 0), ("HepG2", 1)], names=["cell_line", "fold"]),
    )
    pd.testing.assert_frame_equal(table, expected, check_names=False)
    figures.fig2ab(run, line="HepG2").draw()
    assert tables.overfitting_metrics(run) == pytest.approx(
        {
            "overfit.HepG2.finetune.gap": 0.075,
            "overfit.HepG2.scratch.gap": 0.275,
            "overfit.HepG2.finetune.fold_0.gap": 0.10,
            "overfit.HepG2.finetune.fold_0.best_epoch": 2,
            "overfit.HepG2.finetune.fold_1.gap": 0.05,
            "overfit.HepG2.finetune.fold_1.best_epoch": 3,
            "overfit.HepG2.scratch.fold_0.gap": 0.25,
            "overfit.HepG2.scratch.fold_0.best_epoch": 1,
            "overfit.HepG2.scratch.fold_1.gap": 0.30,
            "overfit.HepG2.scratch.fold_1.best_epoch": 2,
        }
    )


# --- the decision threshold of a fold ensemble (chapter 3 used fold 0's) ----------------------


def _first_base_model(bias: float):
    """A sigmoid model of the first base only: logit = (−2, −1, 1, 2)[base] + bias."""
    import keras

    inp = keras.Input((2, 4))
    out = keras.layers.Dense(1, activation="sigmoid")(keras.layers.Flatten()(inp))
    model = keras.Model(inp, out)
    w = np.zeros((8, 1), np.float32)
    w[[0, 1, 2, 3], 0] = [-2, -1, 1, 2]
    model.layers[-1].set_weights([w, np.array([bias], np.float32)])
    return model


def test_ensemble_threshold_is_chosen_out_of_fold() -> None:
    bases = [0, 1, 2, 3, 0, 1, 2, 3, 0, 3]
    y = [0, 1, 0, 1, 0, 0, 1, 1, 0, 1]
    fold = [0, 0, 0, 0, 1, 1, 1, 1, -1, -1]
    ds = _dataset(y, ["train"] * 8 + ["test"] * 2, fold, codes=[[b, 0] for b in bases])
    biases = {0: 0.0, 1: -1.5}
    # runs without a stored val_proba.npy: out_of_fold predicts with the models
    runs = [SimpleNamespace(model=_first_base_model(b), out_dir=Path(f"absent/fold_{f}"))
            for f, b in enumerate(biases.values())]  # fmt: skip
    cv = _cv({0: 2, 1: 3}, HISTORY, runs=runs)

    rows, p = report.out_of_fold(cv, ds)
    logit = np.array([-2, -1, 1, 2])[bases[:8]] + np.repeat(list(biases.values()), 4)
    np.testing.assert_array_equal(rows, np.arange(8))  # each fold's own validation rows
    np.testing.assert_allclose(p, 1 / (1 + np.exp(-logit)), rtol=1e-6)

    pooled = choose_threshold(np.array(y[:8]), p).threshold
    fold0_only = choose_threshold(np.array(y[:4]), p[:4]).threshold
    assert pooled != pytest.approx(fold0_only)  # the data tell the two rules apart
    assert report.line_threshold(cv, ds) == pytest.approx(pooled)


# --- chapter 3: Tables S1-S3 from scores ------------------------------------------------------


def _scores() -> pd.DataFrame:
    rows = []
    values = {  # model: (auroc, auprc, f1_overall, f1_pos, f1_neg) for HepG2, K562
        "ChromTransfer": [(0.85, 0.60, 0.80, 0.70, 0.85), (0.80, 0.50, 0.75, 0.60, 0.80)],
        "binary baseline": [(0.75, 0.40, 0.70, 0.50, 0.80), (0.82, 0.55, 0.70, 0.40, 0.85)],
        "multiclass baseline": [(0.70, 0.30, 0.60, 0.20, 0.75), (0.60, 0.20, 0.65, 0.10, 0.80)],
        "pre-trained": [(0.60, 0.30, 0.40, 0.30, 0.45), (0.55, 0.25, 0.30, 0.20, 0.35)],
    }
    for model, per_line in values.items():
        for line, (a, p, f, fp, fn) in zip(["HepG2", "K562"], per_line, strict=True):
            row = {"model": model, "cell_line": line, "auroc": a, "auprc": p}
            row.update(f1_overall=f, f1_pos=fp, f1_neg=fn, brier=0.1, ece=0.05)
            if model != "multiclass baseline":
                row["f1_overall_valthr"] = f + 0.01
            rows.append(row)
    out = pd.DataFrame(rows)
    out["model"] = pd.Categorical(out["model"], categories=list(report.MODEL_ORDER))
    out["cell_line"] = pd.Categorical(out["cell_line"], categories=list(CELL_LINES))
    return out


def _scored_run(tmp_path: Path) -> report.Run:
    ovr = pd.DataFrame({"class": ["HepG2", "K562", "Negative"], "auroc": [0.9, 0.8, 0.7]})
    run = _run(tmp_path, multiclass=SimpleNamespace(auroc=ovr))
    run.scores = _scores()  # what Run.scores computes from the models' predictions
    return run


def test_tables_s2_and_s3(tmp_path: Path) -> None:
    run = _scored_run(tmp_path)
    expected_s2 = pd.DataFrame(
        {
            ("auroc", "ChromTransfer"): [0.85, 0.80],
            ("auroc", "binary baseline"): [0.75, 0.82],
            ("auprc", "ChromTransfer"): [0.60, 0.50],
            ("auprc", "binary baseline"): [0.40, 0.55],
        },
        index=pd.Index(["HepG2", "K562"], name="cell_line"),
    )
    pd.testing.assert_frame_equal(tables.table_s2(run), expected_s2, check_names=False)
    expected_s3 = pd.DataFrame(
        {
            "ChromTransfer": [0.85, 0.80],
            "multiclass baseline": [0.70, 0.60],
            "gain": [0.15, 0.20],
            "multiclass (its own test set, one-vs-rest)": [0.9, 0.8],
        },
        index=pd.Index(["HepG2", "K562"], name="cell_line"),
    )
    pd.testing.assert_frame_equal(tables.table_s3(run), expected_s3, check_names=False)


def test_table_s1_orders_metrics_and_models(tmp_path: Path) -> None:
    s1 = tables.table_s1(_scored_run(tmp_path))
    assert list(s1.columns)[:4] == [
        ("f1_overall", "ChromTransfer"),
        ("f1_overall", "binary baseline"),
        ("f1_overall", "multiclass baseline"),
        ("f1_overall", "pre-trained"),
    ]
    assert ("f1_overall_valthr", "multiclass baseline") not in s1.columns  # 0.5 only
    assert s1.loc["K562", ("f1_overall_valthr", "ChromTransfer")] == pytest.approx(0.76)
    assert s1.loc["HepG2", ("f1_neg", "pre-trained")] == pytest.approx(0.45)
    figures.fig1h(_scored_run(tmp_path)).draw()


def test_finetuning_numbers_beside_the_papers(tmp_path: Path) -> None:
    numbers = tables.finetuning_numbers(_scored_run(tmp_path))
    assert numbers == pytest.approx(
        {
            "lines_won_auroc": 1,
            "mean_gain_auroc": 0.04,
            "lines_won_f1": 2,
            "mean_gain_f1": 0.075,
            "mean_gain_multi": 0.175,
            "ft_auroc_min": 0.80,
            "ft_auroc_max": 0.85,
            "pt_f1_min": 0.30,
            "pt_f1_max": 0.40,
            "n_lines": 6,
            "paper_ft_auroc_min": 0.79,
            "paper_ft_auroc_max": 0.89,
            "paper_pt_f1_min": 0.24,
            "paper_pt_f1_max": 0.49,
            "paper_lines_won_f1": 6,
            "paper_mean_gain_f1": 0.13,
            "paper_mean_gain_multi": 0.15,
        }
    )
    assert all(type(v) in (int, float) for v in numbers.values())  # glue shows plain numbers
    metrics = tables.finetuning_metrics(_scored_run(tmp_path))
    assert metrics["finetune.HepG2.test.auroc"] == 0.85
    assert metrics["pretrained_only.K562.test.f1_overall"] == 0.30
    assert "multiclass.HepG2.test.f1_overall_valthr" not in metrics


def test_recipes_beside_the_papers(tmp_path: Path) -> None:
    table = tables.recipes(_run(tmp_path))
    assert table.loc[("ChromTransfer", "learning_rate"), "paper"] == "5e-06"
    assert table.loc[("binary baseline", "patience"), "paper"] == "10"
    assert table.loc[("multiclass baseline", "max_epochs"), "paper"] == "50"
    assert table.loc[("ChromTransfer", "monitor"), "paper"] == ""  # the paper names none
    assert table.loc[("ChromTransfer", "folds"), "this profile"] == "[0]"


# --- chapter 4: calibration of the fold ensembles --------------------------------------------


def test_calibration_table_by_hand(tmp_path: Path) -> None:
    # one test row per bin: ECE is the mean |p − y|, Brier the mean (p − y)²
    y = [0, 1, 1, 0]
    datasets = stages.Datasets(None, {"HepG2": _dataset(y, ["test"] * 4, [-1] * 4)}, None)
    models = _line_models(
        {("finetune", "HepG2"): [0.1, 0.8, 0.6, 0.3], ("scratch", "HepG2"): [0.9, 0.2, 0.4, 0.7]}
    )
    run = _run(tmp_path, datasets=datasets, line_models=models)
    expected = pd.DataFrame(
        {
            ("brier", "ChromTransfer"): [0.075],
            ("brier", "binary baseline"): [0.575],
            ("ece", "ChromTransfer"): [0.25],
            ("ece", "binary baseline"): [0.75],
        },
        index=pd.Index(["HepG2"], name="cell_line"),
    )
    pd.testing.assert_frame_equal(tables.calibration(run), expected, check_names=False)
    numbers = tables.overfitting_numbers(run)
    assert numbers["ece_better"] == 1 and numbers["gap_ft"] == pytest.approx(0.075)
    for fig in (figures.fig2cd(run), figures.figs2(run), figures.fig1fg(run)):
        fig.draw()


def test_a_missing_artifact_names_the_stage(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs the run's pretrain: ensure it"):
        tables.pretraining_folds(_run(tmp_path))

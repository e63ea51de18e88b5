"""Chapter 5's tables and numbers from a finished grid (Table 1, retention, the paper's Table 1)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from chromtransfer_lib.book import table1
from chromtransfer_lib.config import load_profile


def _unit(kind: str, fraction: float, rep: int, n: int, f1: float, auroc: float) -> dict:
    return {
        "kind": kind,
        "fraction": fraction,
        "repetition": rep,
        "n_train": n,
        "f1_pos": f1 - 0.1,
        "f1_neg": f1 + 0.1,
        "f1_overall": f1,
        "f1_overall_valthr": f1,
        "auroc": auroc,
        "auprc": auroc - 0.2,
    }


@pytest.fixture
def grid() -> table1.Grid:
    units = pd.DataFrame([
        _unit("finetune", 0.05, 0, 95, 0.70, 0.80),
        _unit("finetune", 0.05, 1, 95, 0.80, 0.90),
        _unit("finetune", 0.25, 0, 475, 0.85, 0.95),
        _unit("scratch", 0.05, 0, 95, 0.50, 0.55),
        _unit("scratch", 0.05, 1, 96, 0.60, 0.65),
    ])  # fmt: skip
    full = pd.DataFrame([
        _unit("finetune", 1.0, 0, 1901, 0.90, 1.00),
        _unit("scratch", 1.0, 0, 1901, 0.80, 0.90),
    ]).drop(columns=["f1_overall_valthr"])  # fmt: skip
    return table1.Grid(load_profile("quick"), units, full, n_valid=818, pretrained_auroc=0.6)


def test_table_1_against_an_inline_table(grid: table1.Grid) -> None:
    sd = round(float(np.std([0.70, 0.80], ddof=1)), 3)  # 0.071
    sd_sc = round(float(np.std([0.50, 0.60], ddof=1)), 3)
    expected = pd.DataFrame({
        "model": ["ChromTransfer"] * 3 + ["binary baseline"] * 2,
        "fraction": [0.05, 0.25, 1.0, 0.05, 1.0],
        "n_runs": [2, 1, 1, 2, 1],
        "training sequences": [95.0, 475.0, 1901.0, 95.5, 1901.0],
        "f1_neg_mean": [0.85, 0.95, 1.0, 0.65, 0.9],
        "f1_neg_sd": [sd, np.nan, np.nan, sd_sc, np.nan],
        "f1_pos_mean": [0.65, 0.75, 0.8, 0.45, 0.7],
        "f1_pos_sd": [sd, np.nan, np.nan, sd_sc, np.nan],
        "f1_overall_mean": [0.75, 0.85, 0.9, 0.55, 0.8],
        "f1_overall_sd": [sd, np.nan, np.nan, sd_sc, np.nan],
        "auroc_mean": [0.85, 0.95, 1.0, 0.6, 0.9],
        "auroc_sd": [sd, np.nan, np.nan, sd_sc, np.nan],
    })  # fmt: skip
    pd.testing.assert_frame_equal(table1.table_1(grid), expected, check_dtype=False)


def test_grid_table_counts_units(grid: table1.Grid) -> None:
    t = table1.grid_table(grid)
    assert t.loc[("ChromTransfer", 0.05), "repetitions"] == 2
    assert t.loc[("binary baseline", 0.05), "training sequences"] == 95.5
    assert ("ChromTransfer", 1.0) not in t.index  # the full-data models are not grid units


def test_retention_and_facts(grid: table1.Grid) -> None:
    ret = table1.retention(grid)
    assert ret.loc[0.05, "ChromTransfer"] == pytest.approx((0.85 - 0.5) / 0.5)
    assert ret.loc[0.05, "binary baseline"] == pytest.approx((0.6 - 0.5) / 0.4)
    assert math.isnan(ret.loc[0.25, "binary baseline"])
    f = table1.facts(grid)
    assert (f["goal_fraction"], f["goal_n_train"], f["goal_paper_n_train"]) == (0.05, 95.25, 3733)
    assert f["goal_size_ratio"] == pytest.approx(3733 / 95.25)
    assert f["goal_retention_ft"] == pytest.approx(0.7)
    assert (f["goal_retention"], f["goal_baseline"]) == (0.8, 0.5)
    assert f["goal_outcome"] == "not met"  # 0.70 < 0.80
    # the smallest fraction ChromTransfer ran at, against the pre-trained and full baseline
    assert (f["smallest_ft_fraction"], f["smallest_auroc_ft"]) == (0.05, pytest.approx(0.85))
    assert (f["smallest_pretrained_auroc"], f["smallest_baseline_full_auroc"]) == (0.6, 0.9)
    assert f["goal_smallest_gap"] == 0.05
    assert (f["paper_lowest"], f["paper_highest"], f["paper_reps"]) == (0.01, 0.75, 10)
    assert f["paper_drop"] == pytest.approx(0.05)
    assert (f["n_units"], f["fractions"], f["scratch_fractions"]) == (5, "1%, 5%, 25%", "5%")
    assert (f["n_valid"], f["n_valid_smallest"], f["subsample_validation"]) == (818, 8, False)
    # plain Python values: a numpy scalar glues as "np.float64(...)", which `:.0f` cannot format
    assert not [k for k, v in f.items() if isinstance(v, np.generic)]


def test_metrics_keys_and_values(grid: table1.Grid) -> None:
    m = table1.metrics(grid)
    assert m["bootstrap.0.05.finetune.f1_overall_mean"] == pytest.approx(0.75)
    assert m["bootstrap.1.finetune.f1_overall_mean"] == pytest.approx(0.90)
    assert m["bootstrap.0.05.scratch.n_train_mean"] == 95.5
    assert m["bootstrap.0.05.scratch.auroc_retention"] == pytest.approx(0.25)
    assert "bootstrap.0.25.scratch.auroc_retention" not in m  # not trained at 25 %
    assert math.isnan(m["bootstrap.0.25.finetune.auroc_sd"])


def test_papers_table_1_from_the_packaged_file() -> None:
    t = table1.paper_table()
    assert t["fraction"].tolist() == [0.01, 0.05, 0.1, 0.15, 0.2, 0.25, 0.5, 0.75, 1.0]
    five = t.set_index("fraction").loc[0.05]
    assert (five["training sequences"], five["f1_overall_mean"], five["f1_overall_sd"]) == (
        3733,
        0.74,
        0.01,
    )
    assert t.set_index("fraction").loc[1.0, ["f1_overall_sd"]].isna().all()


def test_fig2e_plots_every_unit(grid: table1.Grid) -> None:
    fig = table1.fig2e(grid)
    assert set(fig.data["metric"]) == {"overall F1 (threshold 0.5)", "AUROC"}
    assert len(fig.layers[-1].geom.data) == 2 * len(grid.all_units)  # the jittered points

"""The calibration record read for chapters 9 and 11: per-seed criteria, counts and numbers."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from chromtransfer_lib.book import calibration, calibration_record, claims
from chromtransfer_lib.book.calibration import CALIBRATION_COLUMNS
from chromtransfer_lib.config import CELL_LINES

ROOT = Path(__file__).resolve().parent.parent
OK = [f"ok:{c.key}" for c in claims.criteria()]


def _run(setting: str, seed: int, *, minutes: float, auroc: float, status: str = "ok") -> dict:
    row = {
        "setting": setting,
        "seed": seed,
        "status": status,
        "pretrain_auroc": auroc,
        "lines_won": 6,
        "mean_auroc_gain": 0.07,
        "ft_retention_5pct": 0.5,
        "scratch_retention_5pct": 0.3,
        "hepg2_drivers_in_top5": 3.0,
        "k562_drivers_in_top5": 2.0,
        "hepg2_drivers_in_top5_pretrained": 1.0,
        "k562_drivers_in_top5_pretrained": 0.0,
        "book_minutes": minutes,
        "n_train_5pct": 95.0,
        "n_train_100pct": 1901.0,
    }
    for c in CELL_LINES:
        row |= {f"ft_auroc_{c}": 0.95, f"scratch_auroc_{c}": 0.88}
    return row


def _record(runs: pd.DataFrame, chosen: pd.DataFrame) -> calibration_record.Record:
    empty = pd.DataFrame()
    grid = {"settings": {name: {} for name in dict.fromkeys(runs["setting"])}}
    return calibration_record.Record(grid, runs, chosen, empty, empty)


def test_per_seed_criteria_come_from_the_chosen_setting_without_nan(tmp_path: Path) -> None:
    """Defect: chapter 9 joined calibration.csv to the runs on ``seed`` and the float
    ``book_minutes`` after keeping the *last* finished run of each seed (another setting),
    so every criterion of the per-seed table was NaN."""
    runs = pd.DataFrame([
        _run("chosen", 1, minutes=18.155, auroc=0.9475),
        _run("chosen", 2, minutes=16.103333333333335, auroc=0.9456),
        _run("later", 1, minutes=17.775, auroc=0.9475),
        _run("later", 2, minutes=19.2766, auroc=0.9456),
    ])  # fmt: skip
    runs.loc[runs["setting"] == "later", "book_minutes"] += 30  # "later" misses criterion 5
    # calibration.csv as the runner wrote it: a CSV round trip, one float's last digit off
    chosen = runs[runs["setting"] == "chosen"][list(CALIBRATION_COLUMNS)].copy()
    chosen.loc[chosen["seed"] == 1, "book_minutes"] = 18.154999999999998
    chosen.to_csv(tmp_path / "c.csv", index=False)
    chosen = pd.read_csv(tmp_path / "c.csv")
    table = calibration_record.per_seed_criteria(_record(runs, chosen))
    assert table["seed"].tolist() == [1, 2]
    assert not table[OK].isna().any().any()
    assert table["ok:book_minutes"].all() and table["ok:transfer_auroc"].all()
    assert table["book_minutes"].tolist() == pytest.approx([18.155, 16.103333])


def test_recorded_per_seed_table_is_complete() -> None:
    record = calibration_record.load_record(ROOT)
    table = calibration_record.per_seed_criteria(record)
    assert calibration_record.chosen_setting(record.runs, record.chosen) == "paper_patience"
    assert table["seed"].tolist() == sorted(record.chosen["seed"])
    assert not table.isna().any().any()
    assert list(table.columns) == [*CALIBRATION_COLUMNS, *OK]


def test_chosen_setting_needs_one_matching_setting() -> None:
    runs = pd.DataFrame([
        _run("a", 1, minutes=18.1, auroc=0.948), _run("a", 2, minutes=16.0, auroc=0.946),
        _run("b", 1, minutes=18.1, auroc=0.951),
    ])  # fmt: skip
    chosen = runs[runs["setting"] == "a"][list(CALIBRATION_COLUMNS)]
    assert calibration_record.chosen_setting(runs, chosen) == "a"
    assert calibration_record.chosen_setting(runs, chosen.assign(pretrain_auroc=0.5)) is None
    assert calibration_record.chosen_setting(runs, pd.DataFrame()) is None
    twin = pd.concat([runs, runs[runs["setting"] == "a"].assign(setting="c")])
    assert calibration_record.chosen_setting(twin, chosen) is None  # two settings match


def test_criteria_counts_per_setting_leave_failed_runs_out() -> None:
    runs = pd.DataFrame([
        _run("a", 1, minutes=18.0, auroc=0.95), _run("a", 2, minutes=25.0, auroc=0.85),
        _run("a", 3, minutes=10.0, auroc=0.99, status="failed: BookError"),
    ])  # fmt: skip
    counts = calibration_record.criteria_counts(runs, settings=["a", "absent"])
    assert counts.loc["a"].to_dict() == {
        "runs": 2,
        "pretrain_auroc": 1,
        "transfer_auroc": 2,
        "retention_5pct": 0,
        "drivers_top5": 2,
        "book_minutes": 1,
    }
    assert list(counts.index) == ["a"]
    by_run = calibration_record.criteria_by_run(runs)
    assert list(by_run.columns) == ["setting", "seed", *OK] and len(by_run) == 3


def test_setting_comparison_means_over_finished_seeds() -> None:
    rows = []
    for setting, ft, sc, status in (
        ("paper_patience", 0.95, 0.60, "ok"),
        ("paper_patience", 0.90, 0.80, "ok"),
        ("auroc_stop", 0.96, 0.95, "ok"),
        ("auroc_stop", 0.10, 0.10, "failed"),  # failed runs are left out
    ):
        row = {"setting": setting, "seed": len(rows), "status": status}
        row |= {"lines_won": 6 if ft > sc else 0}
        row |= {"mean_auroc_gain": ft - sc, "ft_retention_5pct": 0.5, "book_minutes": 15.0}
        for i, c in enumerate(CELL_LINES):  # the first line is the lowest one
            row |= {
                f"ft_auroc_{c}": ft + 0.01 * min(i, 1),
                f"scratch_auroc_{c}": sc + 0.01 * min(i, 1),
            }
        rows.append(row)
    runs = pd.DataFrame(rows)
    t = calibration_record.setting_comparison(runs, ["paper_patience", "auroc_stop", "absent"])
    assert list(t.index) == ["paper_patience", "auroc_stop"] and t["seeds"].tolist() == [2, 1]
    assert t.loc["paper_patience", "baseline AUROC (lowest line)"] == pytest.approx(0.70)
    assert t.loc["auroc_stop", "mean AUROC gain"] == pytest.approx(0.01)
    assert t.loc["paper_patience", "weak baseline lines"] == pytest.approx(6.0)  # all < 0.85
    assert t.loc["paper_patience", "weak ChromTransfer lines"] == pytest.approx(0.0)
    facts = calibration_record._setting_facts(runs, ["paper_patience", "auroc_stop", "x"])
    assert facts["paper_patience_base_lowest"] == pytest.approx(0.70)
    assert facts["auroc_stop_gain"] == pytest.approx(0.01)
    assert facts["paper_patience_runs"] == 2 and facts["auroc_stop_runs"] == 1
    assert math.isnan(facts["x_gain"]) and facts["x_runs"] == 0


def _probe() -> pd.DataFrame:
    rows = []
    for variant, kind, frac, val, ret, auroc in (
        ("as quick", "finetune", 0.05, "whole fold", 0.62, 0.79),
        ("validation subsampled", "finetune", 0.05, "subsampled", 0.35, 0.66),
        ("25 % subset", "finetune", 0.25, "whole fold", 0.86, 0.90),
        ("baseline, as quick", "scratch", 0.05, "whole fold", 0.15, 0.57),
        ("linear probe on pre-trained features, 100%", "finetune", 1.0, "none", 0.3, 0.66),
    ):
        for rep in (0, 1):
            rows.append({
                "variant": variant, "kind": kind, "fraction": frac, "validation": val,
                "n_train": int(frac * 1800), "repetition": rep,
                "learning_rate": 5e-4, "min_steps": 500,
                "retention": ret + 0.01 * rep, "test_auroc": auroc,
                "full_data_test_auroc": 0.97 if kind == "finetune" else 0.63,
            })  # fmt: skip
    return pd.DataFrame(rows)


def test_probe_table_and_numbers_come_from_the_rows() -> None:
    probe = _probe()
    t = calibration_record.probe_table(probe)
    assert list(t.index[:2]) == ["as quick", "validation subsampled"]  # recorded order
    assert t.loc["as quick", "retention"] == pytest.approx(0.625)
    assert t.loc["baseline, as quick", "model"] == "binary baseline"
    f = calibration_record._probe_facts(probe, goal=0.8)
    assert f["probe_best_variant"] == "as quick" and f["probe_best_retention"] == 0.625
    assert (f["probe_n_variants"], f["probe_n_reached"]) == (2, 0)
    assert (f["probe_first_fraction"], f["probe_first_n"]) == (0.25, 450.0)
    assert f["probe_val_subsampled"] == pytest.approx(0.355)
    assert f["probe_baseline_retention"] == pytest.approx(0.155)
    assert f["probe_baseline_full_auroc"] == 0.63
    assert (f["probe_linear_auroc"], f["probe_full_auroc"]) == (0.66, 0.97)
    assert calibration_record.probe_table(pd.DataFrame()).empty
    empty = calibration_record._probe_facts(pd.DataFrame(), goal=0.8)
    assert empty["probe_n_reached"] == 0 and math.isnan(empty["probe_best_retention"])


def test_width_table_and_numbers() -> None:
    widths = pd.DataFrame({
        "variant": ["widths ÷4 (quick)", "top convolutions 32"],
        "n_params": [43753, 50000], "step_time_vs_quick": [1.0, 1.2],
        "pretrain_test_auroc": [0.95, 0.95], "retention_5pct": [0.45, 0.6],
        "linear_probe_auroc_100%": [0.65, 0.62],
    })  # fmt: skip
    t = calibration_record.width_table(widths)
    assert list(t.columns) == [
        "n_params", "step_time_vs_quick", "pretrain_test_auroc", "linear_probe_auroc_100%",
        "retention_5pct",
    ]  # fmt: skip
    f = calibration_record._width_facts(widths, goal=0.8)
    assert f["width_quick_retention"] == 0.45 and f["width_best_variant"] == "top convolutions 32"
    assert (f["width_best_retention"], f["width_best_step_time"]) == (0.6, 1.2)
    assert (f["width_n"], f["width_n_reached"]) == (2, 0)
    assert (f["width_linear_lowest"], f["width_linear_highest"]) == (0.62, 0.65)
    assert f["n_channels"] > 0 and f["n_broad"] > 0


def test_facts_of_the_recorded_appendix() -> None:
    """The appendix's conclusions are computed from the record; these are today's."""
    f = calibration_record.facts(calibration_record.load_record(ROOT))
    assert f["chosen"] == "paper_patience" and f["chosen_seeds"] == 3
    assert f["chosen_met_retention_5pct"] == 0  # criterion 3: met in no seed of quick
    assert f["chosen_met_pretrain_auroc"] == 3
    assert f["goal_retention_5pct_retention"] == 0.8
    assert f["settings_counted_by_matrix"] == "steady"
    assert f["paper_n_train_5pct"] == 3733
    assert f["probe_n_reached"] == 0 and f["width_n_reached"] == 0
    assert all(isinstance(v, int | float | str) for v in f.values())


def test_an_empty_record_gives_empty_tables_and_numbers() -> None:
    empty = pd.DataFrame()
    record = calibration_record.Record({"settings": {"a": {}}}, empty, empty, empty, empty)
    f = calibration_record.facts(record)
    assert f["chosen"] == "—" and f["n_runs"] == 0 and f["a_runs"] == 0
    assert calibration_record.per_seed_criteria(record).empty
    assert calibration_record.runs_table(empty).empty
    assert calibration_record.size_table(empty).empty
    assert calibration_record.settings_table(record)["setting"].tolist() == ["a"]
    assert calibration_record.setting_comparison(empty, ["a"]).empty


def test_records_criteria_use_the_runner_rule() -> None:
    row = _run("a", 1, minutes=18.0, auroc=0.95)
    by_run = calibration_record.criteria_by_run(pd.DataFrame([row]))
    assert by_run[OK].iloc[0].tolist() == list(calibration.criteria(row).values())
    assert np.bool_(by_run["ok:pretrain_auroc"].iloc[0])


def test_world_probe_table_and_facts() -> None:
    rows = []
    for setting, probe, trained in (("plain", 0.6, False), ("programs", 0.7, True)):
        for i, line in enumerate(CELL_LINES):
            row = {
                "setting": setting, "seed": 1, "line": line, "pretrain_auroc": 0.93,
                "probe_auroc_100%": probe + 0.01 * i,
            }  # fmt: skip
            if trained and line == "HepG2":
                row |= {
                    "finetune_auroc_100%": 0.95, "scratch_auroc_100%": 0.90,
                    "scratch_best_epoch_100%": 12, "finetune_auroc_5%": 0.85,
                    "scratch_auroc_5%": 0.6, "finetune_retention_5%": 0.78,
                    "scratch_retention_5%": 0.25, "n_train": 1850,
                }  # fmt: skip
            rows.append(row)
    world = pd.DataFrame(rows)
    table = calibration_record.world_table(world)
    assert list(table.index) == [("plain", 1, ""), ("programs", 1, "HepG2")]
    programs = table.loc[("programs", 1, "HepG2")]
    assert programs["linear probe, 100 % (mean of 6 lines)"] == pytest.approx(0.725)
    assert pd.isna(table.loc[("plain", 1, ""), "ChromTransfer, 5 %"])
    f = calibration_record._world_facts(world)
    assert f["world_n_settings"] == 2
    assert f["world_programs_HepG2_finetune_5pct"] == 0.85
    assert f["world_programs_HepG2_finetune_retention_5pct"] == 0.78
    assert f["world_programs_HepG2_scratch_retention_5pct"] == 0.25
    assert f["world_programs_HepG2_n_train"] == 1850
    assert f["world_plain_probe_mean"] == pytest.approx(0.625)
    assert not any(k.startswith("world_plain_HepG2") for k in f)
    assert calibration_record.world_table(pd.DataFrame()).empty
    # a collapsed full-data baseline (AUROC < 0.6) has no meaningful retention
    world.loc[world["line"] == "HepG2", "scratch_auroc_100%"] = 0.51
    collapsed = calibration_record.world_table(world).loc[("programs", 1, "HepG2")]
    assert pd.isna(collapsed["baseline retention, 5 %"])
    assert collapsed["ChromTransfer retention, 5 %"] == 0.78


def test_chosen_rows_say_whether_they_ran_at_todays_quick() -> None:
    """Chapter 11 says how many chosen rows ran at today's ``quick`` (recorded configuration id
    equal to today's at the row's seed), at another configuration, or before ids existed."""
    import dataclasses

    from chromtransfer_lib.config import load_profile

    quick = load_profile("quick")
    runs = pd.DataFrame([_run("chosen", s, minutes=10.0, auroc=0.95) for s in (1, 2, 3)])
    runs["config_id"] = [
        calibration.configuration_id(dataclasses.replace(quick, seed=1)),
        "0123456789abcdef",
        np.nan,
    ]
    chosen = runs[list(CALIBRATION_COLUMNS)].copy()
    facts = calibration_record.facts(_record(runs, chosen))
    assert (facts["chosen_at_quick"], facts["chosen_at_other"],
            facts["chosen_unidentified"]) == (1, 1, 1)  # fmt: skip

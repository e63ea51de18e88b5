"""The calibration runner's pieces: overrides, derived profiles, rows and criteria."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chromtransfer_lib.book import calibration
from chromtransfer_lib.config import CELL_LINES, load_profile


def test_overrides_apply_and_typos_fail() -> None:
    raw = {"a": {"b": 1, "c": {"d": 2}}, "e": 3}
    out = calibration.apply_overrides(raw, {"a.c.d": 5, "e": 4})
    assert out == {"a": {"b": 1, "c": {"d": 5}}, "e": 4}
    assert raw["a"]["c"]["d"] == 2  # input untouched
    with pytest.raises(KeyError, match="no key 'dd'"):
        calibration.apply_overrides(raw, {"a.c.dd": 1})
    with pytest.raises(KeyError, match="no section 'x'"):
        calibration.apply_overrides(raw, {"x.y": 1})


def test_derived_profile_loads(tmp_path: Path) -> None:
    path = calibration.derive_profile(
        "quick",
        {"finetune.learning_rate": 1e-3},
        seed=11,
        name="quick",
        out_path=tmp_path / "p.yaml",
    )
    prof = load_profile(path)
    assert prof.seed == 11 and prof.finetune.learning_rate == 1e-3
    assert prof.pretrain == load_profile("quick").pretrain


def test_row_and_criteria() -> None:
    m = {"pretrain.test.auroc": 0.93}
    for i, line in enumerate(CELL_LINES):
        m[f"finetune.{line}.test.auroc"] = 0.85
        m[f"scratch.{line}.test.auroc"] = 0.70 if i else 0.90
    m.update({
        "bootstrap.0.05.finetune.auroc_retention": 0.85,
        "bootstrap.0.05.scratch.auroc_retention": 0.40,
        "enrichment.HepG2.drivers_in_top5_clusters": 3,
        "enrichment.K562.drivers_in_top5_clusters": 2,
        "enrichment.pretrained.HepG2_drivers_in_top5_clusters": 0,
        "enrichment.pretrained.K562_drivers_in_top5_clusters": 1,
        "enrichment.HepG2.drivers_in_top5": 1,  # per matrix: recorded, not the criterion
        "enrichment.K562.drivers_in_top5": 0,
    })  # fmt: skip
    import pandas as pd

    row = calibration.summarise_run(m, pd.DataFrame({"chapter": ["a"], "seconds": [600.0]}))
    assert row["lines_won"] == 5
    assert row["mean_auroc_gain"] == pytest.approx((5 * 0.15 - 0.05) / 6)
    assert row["book_minutes"] == pytest.approx(10.0)
    assert (row["hepg2_drivers_in_top5"], row["hepg2_drivers_in_top5_matrices"]) == (3, 1)
    assert row["k562_drivers_in_top5_matrices"] == 0
    assert np.isnan(row["k562_drivers_in_top5_pretrained_matrices"])
    ok = calibration.criteria(row)
    assert all(ok.values()), ok
    row["k562_drivers_in_top5_pretrained"] = 2
    assert not calibration.criteria(row)["drivers_top5_ft>=2_and_lower_pretrained"]


def test_missing_metrics_give_nan_not_errors() -> None:
    row = calibration.summarise_run({}, None)
    assert np.isnan(row["pretrain_auroc"]) and np.isnan(row["book_minutes"])
    assert not any(calibration.criteria(row).values())


def test_probe_table_and_sentence_come_from_the_rows() -> None:
    import pandas as pd

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
            })  # fmt: skip
    probe = pd.DataFrame(rows)
    t = calibration.probe_table(probe)
    assert list(t.index[:2]) == ["as quick", "validation subsampled"]  # recorded order
    assert t.loc["as quick", "retention"] == pytest.approx(0.625)
    assert t.loc["baseline, as quick", "model"] == "binary baseline"
    text = calibration.probe_sentence(probe)
    assert "best variant was 'as quick' with retention 0.62" in text
    assert "none of the variants reached 0.80" in text
    assert "first reached at 25% of the data (450 sequences)" in text
    assert "baseline kept 0.15" in text and "does not by itself separate" in text
    assert calibration.probe_sentence(pd.DataFrame()) == ""


def test_setting_comparison_and_monitor_sentence() -> None:
    import pandas as pd

    from chromtransfer_lib.config import CELL_LINES

    rows = []
    for setting, ft, sc, status in (
        ("paper_patience", 0.95, 0.60, "ok"),
        ("paper_patience", 0.90, 0.80, "ok"),
        ("auroc_stop", 0.96, 0.95, "ok"),
        ("auroc_stop", 0.10, 0.10, "failed"),  # failed runs are left out
    ):
        row = {"setting": setting, "status": status, "lines_won": 6 if ft > sc else 0}
        row |= {"mean_auroc_gain": ft - sc, "ft_retention_5pct": 0.5}
        for i, c in enumerate(CELL_LINES):  # the first line is the lowest one
            row |= {
                f"ft_auroc_{c}": ft + 0.01 * min(i, 1),
                f"scratch_auroc_{c}": sc + 0.01 * min(i, 1),
            }
        rows.append(row)
    runs = pd.DataFrame(rows)
    t = calibration.setting_comparison(runs, ["paper_patience", "auroc_stop", "absent"])
    assert list(t.index) == ["paper_patience", "auroc_stop"] and t["seeds"].tolist() == [2, 1]
    assert t.loc["paper_patience", "baseline AUROC (lowest line)"] == pytest.approx(0.70)
    assert t.loc["auroc_stop", "mean AUROC gain"] == pytest.approx(0.01)
    assert t.loc["paper_patience", "weak baseline lines"] == pytest.approx(6.0)  # all < 0.85
    assert t.loc["paper_patience", "weak ChromTransfer lines"] == pytest.approx(0.0)
    text = calibration.monitor_sentence(runs)
    assert "lowest baseline line's AUROC from 0.700 to 0.950" in text
    assert "went from +0.225 to +0.010" in text
    assert "from 6.0 to 0.0 (baseline)" in text
    assert calibration.monitor_sentence(runs[runs["setting"] == "auroc_stop"]) == ""


def test_width_table_and_sentence() -> None:
    import pandas as pd

    probe = pd.DataFrame({
        "variant": ["widths ÷4 (quick)", "top convolutions 32"],
        "n_params": [43753, 50000], "step_time_vs_quick": [1.0, 1.2],
        "pretrain_test_auroc": [0.95, 0.95], "retention_5pct": [0.45, 0.6],
    })  # fmt: skip
    t = calibration.width_table(probe)
    assert list(t.columns) == ["n_params", "step_time_vs_quick", "pretrain_test_auroc",
                               "retention_5pct"]  # fmt: skip
    text = calibration.width_sentence(probe)
    assert "kept 0.45" in text and "'top convolutions 32', kept 0.60 at 1.20x" in text
    assert text.endswith("short of 0.80.")
    assert calibration.width_sentence(pd.DataFrame()) == ""


def test_chosen_setting_and_criteria_sentence() -> None:
    import pandas as pd

    runs = pd.DataFrame({
        "setting": ["a", "a", "b"], "seed": [1, 2, 1], "status": ["ok", "ok", "ok"],
        "book_minutes": [18.1, 16.0, 18.1], "pretrain_auroc": [0.948, 0.946, 0.951],
        "ok:one": [True, True, False], "ok:two": [True, False, True],
    })  # fmt: skip
    chosen = runs[runs["setting"] == "a"].drop(columns=["setting", "status"])
    assert calibration.chosen_setting(runs, chosen) == "a"
    assert calibration.chosen_setting(runs, chosen.assign(pretrain_auroc=0.5)) is None
    assert calibration.chosen_setting(runs, pd.DataFrame()) is None
    text = calibration.criteria_sentence(runs, "a")
    assert text == "Setting `a` meets criterion 1 in 2 of 2, criterion 2 in 1 of 2 seeds."
    assert calibration.criteria_sentence(runs, "c") == ""


def test_append_row_keeps_earlier_rows_and_adds_columns(tmp_path: Path) -> None:
    import pandas as pd

    table = tmp_path / "probe" / "rows.csv"
    calibration.append_row(table, {"variant": "a", "auroc": 0.7})
    calibration.append_row(table, {"variant": "b", "auroc": 0.8, "seconds": 3.0})
    got = pd.read_csv(table)
    assert got["variant"].tolist() == ["a", "b"] and got["seconds"].isna().tolist() == [True, False]
    assert not table.with_suffix(".tmp").exists()

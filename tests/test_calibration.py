"""The calibration runner's pieces: overrides, derived profiles, rows and criteria (by the
rules of claims.yaml)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chromtransfer_lib.book import calibration, claims
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
        "bootstrap.0.01.finetune.auroc_mean": 0.72,  # the smallest fraction
        "bootstrap.0.05.finetune.auroc_mean": 0.80,
        "bootstrap.1.finetune.auroc_mean": 0.85,
        "pretrained_only.HepG2.test.auroc": 0.55,
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
    stats = calibration.criterion_statistics(row)
    assert (row["smallest_fraction"], row["ft_auroc_smallest"]) == (0.01, 0.72)
    assert stats["retention_5pct"] == pytest.approx({
        "retention": 0.85,
        "baseline": 0.40,
        "smallest_over_pretrained": 0.72 - 0.55,
        "smallest_vs_baseline": 0.72 - 0.70,  # HepG2's baseline on all the data
    })  # fmt: skip
    row["ft_auroc_smallest"] = 0.64  # 0.06 below the full-data baseline
    assert not calibration.criteria(row)["retention_5pct"]
    row["ft_auroc_smallest"] = 0.72
    assert stats["transfer_auroc"]["lowest_other"] == 0.70
    row["scratch_auroc_A549"] = 0.55  # a collapsed baseline: a win over it is no result
    assert not calibration.criteria(row)["transfer_auroc"]
    row["scratch_auroc_A549"] = 0.90
    assert stats["drivers_top5"] == {"fewest": 2.0, "pretrained_margin": 1.0}
    row["k562_drivers_in_top5_pretrained"] = 2
    assert not calibration.criteria(row)["drivers_top5"]
    assert list(ok) == [c.key for c in claims.criteria()]  # one entry per claims.yaml criterion


def test_missing_metrics_give_nan_not_errors() -> None:
    row = calibration.summarise_run({}, None)
    assert np.isnan(row["pretrain_auroc"]) and np.isnan(row["book_minutes"])
    assert not any(calibration.criteria(row).values())


def test_append_row_keeps_earlier_rows_and_adds_columns(tmp_path: Path) -> None:
    import pandas as pd

    table = tmp_path / "probe" / "rows.csv"
    calibration.append_row(table, {"variant": "a", "auroc": 0.7})
    calibration.append_row(table, {"variant": "b", "auroc": 0.8, "seconds": 3.0})
    got = pd.read_csv(table)
    assert got["variant"].tolist() == ["a", "b"] and got["seconds"].isna().tolist() == [True, False]
    assert not table.with_suffix(".tmp").exists()


def test_runner_appends_rows_with_criteria_by_claim(tmp_path: Path, monkeypatch) -> None:
    """One row per setting × seed with ``ok:<claim>`` columns; a finished row is not re-run."""
    calls = []

    def fake_book(**kwargs) -> None:
        calls.append(kwargs["run_dir"])
        metrics = Path(kwargs["run_dir"]) / "metrics"
        metrics.mkdir(parents=True)
        (metrics / "02.json").write_text('{"pretrain.test.auroc": 0.93}')

    from chromtransfer_lib.book import runner

    monkeypatch.setattr(runner, "run_book", fake_book)
    runs = calibration.run_calibration({"s": {}}, seeds=[1], out_dir=tmp_path)
    again = calibration.run_calibration({"s": {}}, seeds=[1], out_dir=tmp_path)
    assert len(calls) == 1 and len(again) == 1
    assert [c for c in runs.columns if c.startswith("ok:")] == [
        f"ok:{c.key}" for c in claims.criteria()
    ]
    assert runs["ok:pretrain_auroc"].item() and not runs["ok:transfer_auroc"].item()
    assert (tmp_path / "runs.csv").is_file() and not list(tmp_path.glob(".*tmp*"))
    # the row says what it ran at: base quick, no overrides, seed 1 is today's quick
    assert runs["config_id"].item() == calibration.configuration_id(load_profile("quick"))


def test_configuration_id_ignores_name_and_follows_values(tmp_path: Path) -> None:
    """A derived profile rewrites name and description: neither changes the id; a value or the
    seed does."""
    import dataclasses

    quick = load_profile("quick")
    same = calibration.derive_profile("quick", {}, seed=quick.seed, name="other",
                                      out_path=tmp_path / "a.yaml")  # fmt: skip
    moved = calibration.derive_profile("quick", {"finetune.patience": 9}, seed=quick.seed,
                                       name="quick", out_path=tmp_path / "b.yaml")  # fmt: skip
    qid = calibration.configuration_id(quick)
    assert calibration.configuration_id(load_profile(same)) == qid
    assert calibration.configuration_id(load_profile(moved)) != qid
    assert calibration.configuration_id(dataclasses.replace(quick, seed=quick.seed + 1)) != qid

"""The calibration runner's pieces: overrides, derived profiles, rows and criteria."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chromtransfer_lib import calibration
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

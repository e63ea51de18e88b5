"""One rule per claim: claims.yaml decides the ledger's rows and the calibration's criteria."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from chromtransfer_lib.book import calibration, claims, ledger
from chromtransfer_lib.config import CELL_LINES, load_profile

ROOT = Path(__file__).resolve().parent.parent


def _row(table: pd.DataFrame, start: str) -> pd.Series:
    rows = table[table["result"].str.startswith(start)]
    assert len(rows) == 1, start
    return rows.iloc[0]


def test_claims_load_with_their_rules() -> None:
    ledger_keys = [c.key for c in claims.ledger_claims()]
    criteria_keys = [c.key for c in claims.criteria()]
    assert len(ledger_keys) == len(set(ledger_keys)) == 15
    assert criteria_keys == [
        "pretrain_auroc",
        "transfer_auroc",
        "retention_5pct",
        "drivers_top5",
        "book_minutes",
    ]
    assert set(ledger_keys) & set(criteria_keys) == {"pretrain_auroc", "transfer_auroc"}
    pre = claims.claim("pretrain_auroc")
    assert pre.threshold("auroc") == 0.90
    assert pre.rule() == "pre-trained test AUROC ≥ 0.9"
    assert "Fig 1D" in pre.where
    with pytest.raises(KeyError, match="no claim 'nope'"):
        claims.claim("nope")
    table = claims.rules_table(claims.criteria())
    assert list(table.index) == [1, 2, 3, 4, 5]
    assert table.loc[2, "rule"] == (
        "lines where ChromTransfer's test AUROC is higher ≥ 5 and mean gain in test AUROC ≥ 0.05"
        " and the lowest baseline test AUROC ≥ 0.6"
    )


def test_tests_fail_on_missing_values_and_combine() -> None:
    t = claims.Test("x", ">=", 0.5)
    assert t.holds(0.5) and not t.holds(0.49)
    assert not t.holds(None) and not t.holds(math.nan) and not t.holds("n/a")
    cebp = claims.claim("drivers_hepg2_cebp")
    assert cebp.combine == "any"
    assert cebp.holds({"tf_rank": math.nan, "cluster_rank": 2.0})
    assert not cebp.holds({"tf_rank": 11.0, "cluster_rank": 6.0})
    assert cebp.outcome({"tf_rank": math.nan, "cluster_rank": 2.0}) == "met"
    ret = claims.claim("retention_5pct")
    small = {"smallest_over_pretrained": 0.2, "smallest_vs_baseline": -0.04}
    assert ret.outcome({"retention": 0.9, "baseline": math.nan, **small}) == "not computable"
    assert ret.outcome({"retention": 0.9, "baseline": 0.3, **small}) == "met"
    assert ret.outcome({"retention": 0.9, "baseline": 0.5, **small}) == "not met"
    assert ret.outcome({"retention": 0.7, "baseline": 0.3, **small}) == "not met"
    far = {**small, "smallest_vs_baseline": -0.06}
    assert ret.outcome({"retention": 0.9, "baseline": 0.3, **far}) == "not met"
    assert ret.outcome(None) == "not computable"


def _run_metrics(*, pretrain: float, gain: float) -> dict:
    m = {"pretrain.test.auroc": pretrain, "pretrain.test.auprc": 0.9}
    for line in CELL_LINES:
        m[f"finetune.{line}.test.auroc"] = 0.80 + gain
        m[f"scratch.{line}.test.auroc"] = 0.80
    return m


@pytest.mark.parametrize("offset", [-0.01, 0.01])
def test_ledger_and_calibration_decide_shared_claims_alike(offset: float) -> None:
    """Just below and just above each shared threshold, the ledger's status and the
    calibration's criterion agree (before, the ledger passed 0.85 and gain > 0)."""
    quick = load_profile("quick")
    auroc = claims.claim("pretrain_auroc").threshold("auroc") + offset
    gain = claims.claim("transfer_auroc").threshold("mean_gain") + offset
    metrics = _run_metrics(pretrain=auroc, gain=gain)
    table = ledger.build_ledger(metrics, quick)
    ok = calibration.criteria(calibration.summarise_run(metrics, None))
    expected = "reproduced" if offset > 0 else "differs"
    assert _row(table, "Pre-trained model, test set")["status"] == expected
    assert _row(table, "ChromTransfer vs binary baseline, test AUROC")["status"] == expected
    assert ok["pretrain_auroc"] is (offset > 0)
    assert ok["transfer_auroc"] is (offset > 0)


def test_recorded_verdicts_follow_the_rules() -> None:
    """The runner's recorded ``ok:`` columns are what today's claims decide from the rows."""
    runs = pd.read_csv(ROOT / "experiments" / "calibration" / "runs.csv")
    recorded = runs[[f"ok:{c.key}" for c in claims.criteria()]]
    again = pd.DataFrame([calibration.criteria(r) for r in runs.to_dict("records")])
    assert again.add_prefix("ok:").equals(recorded)

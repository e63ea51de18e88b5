"""Which claims a profile's scale supports is computed from runs on several seeds by the ledger's
rules, and the ledger marks the rest (book.claim_support)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import yaml

from chromtransfer_lib.book import calibration, claim_support, ledger
from chromtransfer_lib.book import claims as claim_rules
from chromtransfer_lib.config import CELL_LINES, load_profile


def _metrics(pretrain: float, ft: float, sc: float) -> dict:
    m = {"pretrain.test.auroc": pretrain, "pretrain.test.auprc": 0.8}
    for i, line in enumerate(CELL_LINES):
        m[f"finetune.{line}.test.auroc"] = ft + 0.01 * i
        m[f"scratch.{line}.test.auroc"] = sc + 0.01 * i
    return m


def _status(table: pd.DataFrame, key: str) -> pd.Series:
    result = claim_rules.claim(key).result
    return table.loc[table["result"] == result].iloc[0]


def test_a_run_is_judged_by_the_ledger_rules() -> None:
    prof = load_profile("quick")
    rows = claim_support.judge_run(_metrics(0.93, 0.85, 0.70), prof, seed=2)
    assert list(rows.columns) == claim_support.RECORD_COLUMNS
    assert rows["claim"].tolist() == [c.key for c in claim_rules.ledger_claims()]
    by_claim = rows.set_index("claim")["status"]
    assert by_claim["pretrain_auroc"] == "reproduced"  # 0.93 >= 0.90
    assert by_claim["transfer_auroc"] == "reproduced"  # 6/6 lines, mean gain 0.15
    assert by_claim["drivers_k562_gata"] == "not run"  # no enrichment metrics
    assert set(rows["seed"]) == {2} and len(set(rows["support_id"])) == 1


def test_support_needs_every_recorded_seed(tmp_path: Path) -> None:
    prof = load_profile("quick")
    path = tmp_path / claim_support.RECORD_NAME
    # the pre-trained AUROC holds on seeds 1-3; the transfer gain fails on seed 3
    for seed, sc in ((1, 0.70), (2, 0.72), (3, 0.84)):
        claim_support.record_run(
            path, claim_support.judge_run(_metrics(0.93, 0.85, sc), prof, seed=seed)
        )
    record = pd.read_csv(path)
    support = claim_support.support_table(record, prof).set_index("claim")
    assert support.loc["pretrain_auroc", ["seeds", "reproduced"]].tolist() == [3, 3]
    assert support.loc["pretrain_auroc", "supported"]
    assert support.loc["transfer_auroc", ["reproduced", "differs"]].tolist() == [2, 1]
    assert not support.loc["transfer_auroc", "supported"]
    assert not support.loc["drivers_k562_gata", "supported"]  # never run: not supported
    # re-recording a seed replaces its rows
    claim_support.record_run(
        path, claim_support.judge_run(_metrics(0.93, 0.85, 0.70), prof, seed=3)
    )
    record = pd.read_csv(path)
    assert len(record) == 3 * len(claim_rules.ledger_claims())
    assert (
        claim_support.support_table(record, prof)
        .set_index("claim")
        .loc["transfer_auroc", "supported"]
    )


def test_too_few_seeds_or_another_configuration_give_no_support(tmp_path: Path) -> None:
    prof = load_profile("quick")
    rows = [
        claim_support.judge_run(_metrics(0.93, 0.85, 0.70), prof, seed=s)
        for s in range(1, claim_support.MIN_SEEDS)
    ]
    support = claim_support.support_table(pd.concat(rows), prof)
    assert not support["supported"].any()  # reproduced on every seed, but too few seeds
    changed = dataclasses.replace(
        prof, interpret=dataclasses.replace(prof.interpret, max_regions=601)
    )
    assert claim_support.support_table(pd.concat(rows), changed) is None
    # another seed of the same configuration is the same configuration
    reseeded = dataclasses.replace(prof, seed=9)
    assert claim_support.support_id(reseeded) == claim_support.support_id(prof)
    assert claim_support.load_support(tmp_path, prof) is None
    assert claim_support.support_view(None).empty
    assert claim_support.support_counts(None) == {"n_supported": 0, "n_support_seeds": 0}


def test_the_ledger_marks_unsupported_claims_and_keeps_this_runs_verdict() -> None:
    prof = load_profile("quick")
    record = pd.concat(
        claim_support.judge_run(_metrics(0.93, 0.85, sc), prof, seed=seed)
        for seed, sc in ((1, 0.70), (2, 0.72), (3, 0.84))
    )
    support = claim_support.support_table(record, prof)
    table = ledger.build_ledger(_metrics(0.93, 0.85, 0.70), prof, support=support)
    pre = _status(table, "pretrain_auroc")
    assert pre["status"] == "reproduced"  # supported, and it holds in this run
    gain = _status(table, "transfer_auroc")
    assert gain["status"] == "not applicable at this scale"
    assert "reproduced on 2 of 3 recorded seeds; this run: reproduced" in gain["note"]
    assert _status(table, "drivers_k562_gata")["status"] == "not run"  # untouched
    # without a record every claim is judged on this run alone
    alone = ledger.build_ledger(_metrics(0.93, 0.85, 0.70), prof)
    assert _status(alone, "transfer_auroc")["status"] == "reproduced"
    counts = claim_support.support_counts(support)
    assert counts == {"n_supported": int(support["supported"].sum()), "n_support_seeds": 3}


def test_the_calibration_runner_records_every_claim(tmp_path: Path, monkeypatch) -> None:
    def fake_book(**kwargs) -> None:
        metrics = Path(kwargs["run_dir"]) / "metrics"
        metrics.mkdir(parents=True)
        saved = '{"pretrain.test.auroc": 0.93, "pretrain.test.auprc": 0.8}'
        (metrics / "02.json").write_text(saved)

    from chromtransfer_lib.book import runner

    monkeypatch.setattr(runner, "run_book", fake_book)
    calibration.run_calibration({"quick": {}}, seeds=[1, 2], out_dir=tmp_path, base="quick")
    record = pd.read_csv(tmp_path / claim_support.RECORD_NAME)
    assert sorted(set(record["seed"])) == [1, 2]
    assert set(record["support_id"]) == {claim_support.support_id(load_profile("quick"))}
    pre = record[record["claim"] == "pretrain_auroc"]["status"]
    assert (pre == "reproduced").all()
    assert (tmp_path / "runs.csv").is_file()


def test_the_workshop_record_matches_the_packaged_workshop_profile() -> None:
    """The committed record (experiments/claims/workshop) was run at the packaged profile's
    configuration on at least MIN_SEEDS seeds per claim: a changed profile without a new
    calibration would leave the workshop book judging its claims on one seed."""
    root = Path(__file__).resolve().parents[1]
    prof = load_profile("workshop")
    support = claim_support.load_support(root, prof)
    assert support is not None, (
        "experiments/claims/workshop/claim_support.csv has no rows at the packaged workshop "
        "profile: run `chromtransfer calibrate --grid experiments/workshop_grid.yaml`"
    )
    assert list(support["claim"]) == [c.key for c in claim_rules.ledger_claims()]
    assert (support["seeds"] >= claim_support.MIN_SEEDS).all()
    grid = yaml.safe_load((root / "experiments" / "workshop_grid.yaml").read_text())
    assert grid["base"] == "workshop"
    assert Path(grid["out_dir"]) == Path("experiments/claims/workshop")
    assert set(grid["seeds"]) == set(
        pd.read_csv(claim_support.record_dir(root, "workshop") / "claim_support.csv")["seed"]
    )

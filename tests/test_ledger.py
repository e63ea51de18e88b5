"""The reproduction ledger decides each status from saved metrics by its stated rule."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from chromtransfer_lib.book import ledger, results
from chromtransfer_lib.config import CELL_LINES, load_profile


def _metrics(ft_auroc: float, sc_auroc: float) -> dict:
    m = {"pretrain.test.auroc": 0.91, "pretrain.test.auprc": 0.88}
    for i, line in enumerate(CELL_LINES):
        m[f"finetune.{line}.test.auroc"] = ft_auroc + 0.01 * i
        m[f"scratch.{line}.test.auroc"] = sc_auroc + 0.01 * i
    return m


def _row(table: pd.DataFrame, start: str) -> pd.Series:
    rows = table[table["result"].str.startswith(start)]
    assert len(rows) == 1, start
    return rows.iloc[0]


def test_statuses_follow_the_rules() -> None:
    quick = load_profile("quick")
    table = ledger.build_ledger(_metrics(0.80, 0.70), quick)
    assert list(table.columns) == ledger.LEDGER_COLUMNS
    assert _row(table, "Pre-trained model, test set")["status"] == "reproduced"
    auroc_row = _row(table, "ChromTransfer vs binary baseline, test AUROC")
    assert auroc_row["status"] == "reproduced"
    assert "wins on 6/6 lines, mean gain +0.10" in auroc_row["this_run"]
    assert _row(table, "Fine-tuned test AUROC across")["this_run"] == "0.80–0.85"
    # a claim whose chapter has not run says so
    assert _row(table, "K562 model: GATA")["status"] == "not run"
    # choices and the profile's deviations are listed
    choices = table[table["status"] == "choice"]
    assert len(choices) >= len(ledger.FIXED_CHOICES) + len(quick.deviations)


def test_a_failed_claim_differs() -> None:
    table = ledger.build_ledger(_metrics(0.70, 0.80), load_profile("quick"))
    row = _row(table, "ChromTransfer vs binary baseline, test AUROC")
    assert row["status"] == "differs"
    assert "wins on 0/6" in row["this_run"]
    assert _row(table, "Fine-tuned test AUROC across")["status"] == "differs"


def test_smoke_profile_makes_no_claims() -> None:
    table = ledger.build_ledger(_metrics(0.80, 0.70), load_profile("smoke"))
    assert _row(table, "Pre-trained model, test set")["status"] == "not applicable at this scale"


def test_bootstrap_fraction_missing_from_grid() -> None:
    m = {
        "bootstrap.1.finetune.f1_overall_mean": 0.8,
        "bootstrap.0.05.finetune.f1_overall_mean": 0.75,
    }
    table = ledger.build_ledger(m, load_profile("quick"))
    five = _row(table, "HepG2 fine-tuned on 5 %")
    assert five["status"] == "reproduced" and "drop 0.05" in five["this_run"]
    one = _row(table, "HepG2 fine-tuned on 1 %")
    assert one["status"] == "not applicable at this scale"


def test_drivers_claim_reads_top_tfs() -> None:
    m = {
        "enrichment.K562.top_tfs": ["NFE2", "GATA1::TAL1", "CTCF"],
        "enrichment.HepG2.top_tfs": ["CTCF", "SP1"],
    }
    table = ledger.build_ledger(m, load_profile("quick"))
    assert _row(table, "K562 model: GATA")["status"] == "reproduced"
    assert _row(table, "HepG2 model: CEBP")["status"] == "differs"
    # outside the top 10 TFs, but in the 2nd-best look-alike cluster: reproduced, and said so
    m["enrichment.HepG2.top_tfs"] = [f"TF{i}" for i in range(10)] + ["CEBPA"]
    m["enrichment.HepG2.top_clusters"] = [["TF0", "TF1"], ["TF2", "CEBPA", "CEBPD"]]
    row = _row(ledger.build_ledger(m, load_profile("quick")), "HepG2 model: CEBP")
    assert row["status"] == "reproduced" and "cluster #2" in row["this_run"]


def test_metrics_round_trip_and_ledger_file(tmp_path: Path) -> None:
    results.save_metrics(tmp_path, "02_x", {"a.b": 1.5, "nan": math.nan, "lst": [1, 2]})
    results.save_metrics(tmp_path, "03_y", {"c.d": 2.0})
    loaded = results.load_metrics(tmp_path)
    assert loaded == {"a.b": 1.5, "nan": None, "lst": [1, 2], "c.d": 2.0}
    path = ledger.write_ledger(ledger.build_ledger(loaded, load_profile("quick")), tmp_path)
    assert pd.read_csv(path).columns.tolist() == ledger.LEDGER_COLUMNS
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize("status", ["reproduced", "differs", "not run"])
def test_status_style(status: str) -> None:
    assert ledger.status_style(status).startswith("background-color")


def test_paper_values_and_rules_come_from_the_data_files() -> None:
    from chromtransfer_lib.book import claims

    table = ledger.build_ledger(_metrics(0.80, 0.70), load_profile("quick"))
    pre = _row(table, "Pre-trained model, test set")
    assert pre["paper_value"] == "AUROC 0.94, AUPRC 0.90"  # filled from the pretraining section
    assert pre["note"] == f"rule: {claims.claim('pretrain_auroc').rule()}"
    five = _row(table, "HepG2 fine-tuned on 5 %")
    assert five["paper_value"] == "0.74 (sd 0.01)"  # Table 1, from paper_results.yaml
    assert [c.result for c in claims.ledger_claims()] == list(
        table.loc[table["status"] != "choice", "result"]
    )


def test_bootstrap_note_gives_the_papers_drop() -> None:
    m = {
        "bootstrap.1.finetune.f1_overall_mean": 0.8,
        "bootstrap.0.05.finetune.f1_overall_mean": 0.6,
        "bootstrap.0.01.finetune.f1_overall_mean": 0.75,
    }
    table = ledger.build_ledger(m, load_profile("quick"))
    five = _row(table, "HepG2 fine-tuned on 5 %")
    assert five["status"] == "differs" and "paper drop at 5%: 0.05" in five["note"]
    assert "paper drop at 1%: 0.12" in _row(table, "HepG2 fine-tuned on 1 %")["note"]


def test_status_counts_views_and_figure(tmp_path: Path) -> None:
    from chromtransfer_lib.book.stages import RunContext

    results.save_metrics(tmp_path, "02_x", _metrics(0.80, 0.70))
    table = ledger.ensure_ledger(RunContext(load_profile("quick"), tmp_path))
    assert (tmp_path / "ledger.csv").is_file()
    counts = ledger.status_counts(table)
    assert counts["n_claims"] == 15
    assert counts["n_reproduced"] + counts["n_differs"] + counts["n_not_run"] == 15
    assert counts["n_reproduced"] == 3  # pre-training, fine-tuned AUROC, AUROC vs baseline
    html = ledger.claims_view(table).to_html()
    assert "background-color" in html and "profile" not in ledger.claims_view(table).columns
    assert list(ledger.choices_view(table).columns) == ["result", "note"]
    fig = ledger.status_figure(table)
    assert fig.data["status"].cat.categories.tolist() == list(ledger.STATUSES)

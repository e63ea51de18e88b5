"""The paper's numbers are typed once: the ledger's texts are filled from the numeric sections."""

from __future__ import annotations

import re

import pytest

from chromtransfer_lib.book import paper


def test_value_reads_a_dotted_path_and_names_a_missing_key() -> None:
    assert paper.value("pretraining.test.auroc") == pytest.approx(0.94)
    with pytest.raises(KeyError, match=r"no 'aurox' under pretraining\.test"):
        paper.value("pretraining.test.aurox")


def test_ledger_texts_are_filled_from_the_numbers_and_type_none_themselves() -> None:
    ledger = paper.section("ledger")
    assert paper.paper_text(ledger["pretrain_auroc"]) == "AUROC 0.94, AUPRC 0.90"
    assert paper.paper_text(ledger["k562_jump"]) == "0.24 → 0.86"
    for key, template in ledger.items():
        filled = paper.paper_text(str(template))
        assert "{" not in filled, key
        # a decimal number may only appear in a ledger text through a {reference}
        assert not re.search(r"\d\.\d", re.sub(r"\{[^}]*\}", "", str(template))), key

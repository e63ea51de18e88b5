"""Chapter metrics files: one owner per key."""

from __future__ import annotations

import math

import pytest

from chromtransfer_lib.book import results
from chromtransfer_lib.errors import InputError


def test_chapters_metrics_merge_into_one_flat_dict(tmp_path):
    results.save_metrics(tmp_path, "02_x", {"pretrain.auroc": 0.9, "nan": math.nan})
    results.save_metrics(tmp_path, "03_y", {"finetune.HepG2.auroc": 0.8})
    merged = results.load_metrics(tmp_path)
    assert merged == {"pretrain.auroc": 0.9, "nan": None, "finetune.HepG2.auroc": 0.8}
    assert results.load_metrics(tmp_path / "nowhere") == {}


def test_a_key_written_by_two_chapters_is_refused_naming_both(tmp_path):
    results.save_metrics(tmp_path, "02_pretraining", {"pretrain.auroc": 0.9, "a": 1})
    results.save_metrics(tmp_path, "05_bootstrap", {"pretrain.auroc": 0.7, "b": 2})
    with pytest.raises(InputError, match=r"'pretrain\.auroc'") as err:  # not: the later one wins
        results.load_metrics(tmp_path)
    assert "02_pretraining.json" in str(err.value) and "05_bootstrap.json" in str(err.value)
    assert type(err.value).__name__ == "MetricKeyClash" and isinstance(err.value, ValueError)

"""Tests for chromtransfer_lib.book.interpret_denovo: chapter 7's TF-MoDISco section.

HNF4A sites (sampled from its JASPAR 2022 matrix, either strand) planted in 200-bp windows; the
"fine-tuned" HepG2 model is one convolution carrying HNF4A's log-odds, so its contributions sit
on the sites and MoDISco must find HNF4A; the "pre-trained" model is random. The K562 rows are
too few for a pattern, which the tables and numbers must survive.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from fake_attribution import fake_attribution, random_model, refusing_models

from chromtransfer_lib.book import interpret_denovo as dn_mod
from chromtransfer_lib.book.interpretation import Attribution
from chromtransfer_lib.genome.jaspar import load_jaspar, resolve_motifs
from chromtransfer_lib.interpret.pvalues import log_odds_matrix, reverse_complement_matrix

keras = pytest.importorskip("keras")

LENGTH, N_HEPG2, N_K562 = 200, 240, 30
NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "07_motif_enrichment.py"


def _hnf4a():
    (m,) = resolve_motifs(["MA0114"], load_jaspar())
    return m


def _codes(rng) -> np.ndarray:
    motif = _hnf4a()
    ppm = motif.probabilities(pseudocount=0.8).T
    codes = rng.integers(0, 4, (N_HEPG2 + N_K562, LENGTH)).astype(np.uint8)
    w = ppm.shape[0]
    for i in range(N_HEPG2):
        start = rng.integers(0, LENGTH - w + 1)
        site = (rng.random((w, 1)) > ppm.cumsum(axis=1)).sum(axis=1)
        codes[i, start : start + w] = site if rng.random() < 0.5 else 3 - site[::-1]
    return codes


def _site_model():
    lo = log_odds_matrix(_hnf4a().counts)  # (w, 4)
    inp = keras.Input((LENGTH, 4))
    x = keras.layers.Conv1D(2, lo.shape[0], activation="relu")(inp)
    x = keras.layers.GlobalMaxPooling1D()(x)
    model = keras.Model(inp, keras.layers.Dense(1, activation="sigmoid")(x))
    model.layers[1].set_weights([np.stack([lo, reverse_complement_matrix(lo)], -1), np.zeros(2)])
    model.layers[-1].set_weights([np.ones((2, 1)), np.zeros(1)])
    return model


def _attribution(tmp: Path) -> Attribution:
    codes = _codes(np.random.default_rng(2))
    rows = np.arange(len(codes))
    in_line = {"HepG2": rows < N_HEPG2, "K562": rows >= N_HEPG2}
    models = {"HepG2": _site_model(), "K562": random_model(LENGTH, 4, filters=4),
              "pretrained": random_model(LENGTH, 4, filters=4)}  # fmt: skip
    drivers = {"HepG2": {"HNF4A": "MA0114.4", "GATA1": None}, "K562": {"GATA1": None}}
    return fake_attribution(tmp, codes, in_line, models, drivers=drivers)


@pytest.fixture(scope="module")
def setting(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("denovo")
    att = _attribution(tmp)
    return att, dn_mod.ensure_denovo(SimpleNamespace(run_dir=tmp), att)


def test_recovers_the_planted_driver_for_the_site_model_only(setting) -> None:
    _, dn = setting
    table = dn_mod.driver_recovery_table(dn).set_index(["line", "model"])
    ft = table.loc[("HepG2", "HepG2 ChromTransfer")]
    assert ft["sequences"] == N_HEPG2 and ft["positive patterns"] >= 1
    # HNF4A itself or its look-alike HNF4G is the best match
    assert (ft["drivers"], ft["found in top 5"]) == (2, 1) and ft["found by name"] <= 1
    assert table.loc[("HepG2", "pre-trained"), "found by name"] == 0
    assert table.loc[("K562", "K562 ChromTransfer"), "positive patterns"] == 0
    top = dn_mod.top_patterns_table(dn, line="HepG2")
    best = top["best match"].iloc[0].upper()
    assert best in {"HNF4A", "HNF4G"} and top["driver (by name)"].iloc[0] == (best == "HNF4A")
    assert dn_mod.top_patterns_table(dn, line="K562").empty


def test_cached_runs_are_read_back_unchanged(setting) -> None:
    att, dn = setting

    cached = refusing_models(att)
    again = dn_mod.ensure_denovo(SimpleNamespace(run_dir=att.run_dir), cached)
    for key, run in dn.runs.items():
        pd.testing.assert_frame_equal(again.runs[key].matches, run.matches)
        assert again.runs[key].ppm.keys() == run.ppm.keys()
    capped = dn_mod.line_rows(att, "HepG2", max_regions=50)
    assert len(capped) == 50 and set(capped) <= set(att.regions.rows("HepG2"))


def test_numbers_metrics_and_logos(setting) -> None:
    _, dn = setting
    numbers = dn_mod.denovo_numbers(dn)
    used = set(re.findall(r"\{glue:text\}`(dn_[A-Za-z0-9_]+)", NOTEBOOK.read_text()))
    assert used and used <= set(numbers)
    assert numbers["dn_found_ft_HepG2"] == 1 and numbers["dn_drivers_HepG2"] == 2
    metrics = dn_mod.denovo_metrics(dn)
    assert metrics["denovo.HepG2.finetuned.drivers_found"] == 1
    assert metrics["denovo.K562.pretrained.positive_patterns"] >= 0
    assert dn_mod.pattern_logos(dn, line="HepG2") is not None
    assert dn_mod.pattern_logos(dn, line="K562") is None

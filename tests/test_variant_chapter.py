"""Tests for chromtransfer_lib.book.variant_chapter: chapter 8's cached stage, numbers and figures.

A small setting without the simulator: random windows with consensus sites of two JASPAR 2022
matrices planted at known places (GATA1 as the HepG2 "driver", HNF4A as a decoy), an
:class:`~chromtransfer_lib.book.interpretation.Attribution` built around them, and two tiny
random Keras models standing in for the fine-tuned and pre-trained ones.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from fake_attribution import fake_attribution, random_model, refusing_models

from chromtransfer_lib.book import variant_chapter as vc
from chromtransfer_lib.book.interpret_truth import PLANTED_COLUMNS
from chromtransfer_lib.book.interpretation import Attribution
from chromtransfer_lib.book.variant_truth import KINDS
from chromtransfer_lib.genome.jaspar import load_jaspar

keras = pytest.importorskip("keras")

LENGTH, N_WINDOWS = 120, 24
NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "08_variant_effects.py"


def _matrix(name: str):
    return next(m for m in load_jaspar() if m.name.upper() == name)


def _consensus(m) -> np.ndarray:
    return np.argmax(np.asarray(m.counts), axis=0).astype(np.uint8)


def _attribution(tmp: Path, *, planted: bool = True) -> Attribution:
    rng = np.random.default_rng(5)
    codes = rng.integers(0, 4, (N_WINDOWS, LENGTH)).astype(np.uint8)
    gata, hnf = _matrix("GATA1"), _matrix("HNF4A")
    rows = []
    for w in range(N_WINDOWS):
        for m, role, start in ((gata, "driver", 20), (gata, "driver", 80), (hnf, "other", 50)):
            site = _consensus(m)
            codes[w, start : start + site.size] = site
            rows.append((w, f"r{w}", m.name, m.matrix_id, role, "HepG2", "+", start,
                         start + site.size))  # fmt: skip
    table = pd.DataFrame(rows, columns=PLANTED_COLUMNS)
    models = {k: random_model(LENGTH, s) for s, k in enumerate(("HepG2", "K562", "pretrained"), 1)}
    in_line = {"HepG2": np.arange(N_WINDOWS) < 20, "K562": np.arange(N_WINDOWS) >= 4}
    drivers = {"HepG2": {"GATA1": gata.matrix_id}, "K562": {"HNF4A": hnf.matrix_id}}
    return fake_attribution(tmp, codes, in_line, models, drivers=drivers, seed=3,
                            planted=table if planted else None)  # fmt: skip


@pytest.fixture(scope="module")
def setting(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("variants")
    att = _attribution(tmp)
    return att, vc.ensure_variants(SimpleNamespace(run_dir=tmp), att)


def test_designs_and_scores_every_line_with_both_models(setting) -> None:
    att, eff = setting
    assert eff.available and eff.lines == ("HepG2", "K562")
    counts = eff.counts().set_index("line")
    assert counts.loc["HepG2", "windows"] == 20  # every HepG2 window carries GATA1 sites
    assert counts.loc["K562", "windows"] == 0  # HNF4A planted as "other": no K562 driver site
    assert counts.loc["K562", list(KINDS)].sum() == 0
    assert counts.loc["HepG2", "breaks_driver"] > 0 and counts.loc["HepG2", "neutral"] > 0
    assert set(eff.scored["HepG2"]) == {"HepG2", "pretrained"}
    assert set(eff.separation["model"]) >= {"HepG2 ChromTransfer", "pre-trained"}
    ft = eff.scored["HepG2"]["HepG2"]
    # only windows the line's model analysed
    assert set(ft["window"]) <= set(np.flatnonzero(att.regions.regions["in_HepG2"]))
    # both models scored the same variants
    pre = eff.scored["HepG2"]["pretrained"]
    pd.testing.assert_frame_equal(ft.iloc[:, :12], pre.iloc[:, :12])
    assert not np.allclose(ft["delta_logit"], pre["delta_logit"])


def test_cached_and_rescored_when_a_model_file_changes(setting, tmp_path) -> None:
    att, eff = setting

    cached = refusing_models(att)
    again = vc.ensure_variants(SimpleNamespace(run_dir=att.run_dir), cached)
    pd.testing.assert_frame_equal(again.scored["HepG2"]["HepG2"], eff.scored["HepG2"]["HepG2"])
    att.models.paths["HepG2"].write_text("retrained")  # a new model file: scores again
    try:
        fresh = vc.ensure_variants(SimpleNamespace(run_dir=att.run_dir), att)
    finally:
        att.models.paths["HepG2"].write_text("HepG2")
    pd.testing.assert_frame_equal(fresh.scored["HepG2"]["HepG2"], eff.scored["HepG2"]["HepG2"])


def test_numbers_cover_the_chapter_and_match_the_table(setting) -> None:
    _, eff = setting
    numbers = vc.variant_numbers(eff)
    used = set(re.findall(r"\{glue:text\}`(var_[A-Za-z0-9_]+)", NOTEBOOK.read_text()))
    assert used and used <= set(numbers)
    sep = eff.separation.set_index(["line", "model", "comparison"])
    auroc = sep.loc[("HepG2", "pre-trained", "breaks_driver vs neutral"), "auroc"]
    assert numbers["var_auroc_breaks_pre_HepG2"] == f"{auroc:.3f}"
    assert (
        numbers["var_n_neutral_HepG2"] == (eff.scored["HepG2"]["HepG2"]["kind"] == "neutral").sum()
    )
    metrics = vc.variant_metrics(eff)
    assert metrics["variants.HepG2.pretrained.breaks_driver.auroc"] == pytest.approx(auroc)
    assert metrics["variants.K562.n_creates_driver"] == 0


def test_figures(setting) -> None:
    att, eff = setting
    assert vc.delta_figure(eff) is not None
    fig = vc.tracks_figure(att, eff, line="HepG2", n=1)
    n_kinds = sum(1 for k in KINDS if (eff.scored["HepG2"]["HepG2"]["kind"] == k).any())
    assert len(fig.subfigs) == 2 * n_kinds  # a REF and an ALT panel per variant
    ref_ax, alt_ax = fig.subfigs[0].axes[0], fig.subfigs[1].axes[0]
    assert ref_ax.get_ylim() == alt_ax.get_ylim()  # one scale before and after


def test_real_data_has_nothing_to_design(tmp_path) -> None:
    att = _attribution(tmp_path, planted=False)
    eff = vc.ensure_variants(SimpleNamespace(run_dir=tmp_path), att)
    assert not eff.available and eff.separation.empty
    assert eff.counts()[list(KINDS)].to_numpy().sum() == 0
    numbers = vc.variant_numbers(eff)
    assert numbers["var_auroc_breaks_ft_HepG2"] == "n/a" and numbers["var_n_neutral_K562"] == 0
    assert vc.delta_figure(eff) is None and vc.tracks_figure(att, eff, line="HepG2") is None
    assert np.isnan(vc.variant_metrics(eff)["variants.HepG2.finetuned.breaks_driver.auroc"])

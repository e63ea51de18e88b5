"""Tests for chromtransfer_lib.book.variant_truth: designed SNVs of known effect, and their scores.

A tiny synthetic setting without the simulator: random windows with a driver matrix's sites and a
decoy's planted at known places (the table :func:`.interpret_truth.planted_in_windows` returns);
every kind is checked against a full-window scan, the vectorised search for creating SNVs
against brute force, and the separation against a model whose logit counts driver-site matches.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from chromtransfer_lib.book.interpret_truth import PLANTED_COLUMNS
from chromtransfer_lib.book.variant_truth import (
    KINDS,
    SCORE_COLUMNS,
    VARIANT_COLUMNS,
    _creating_snvs,
    design_variants,
    example_variants,
    score_designed,
    separation_table,
    variant_tracks_data,
)
from chromtransfer_lib.genome.jaspar import JasparMatrix
from chromtransfer_lib.interpret.pvalues import reverse_complement_matrix
from chromtransfer_lib.interpret.scan import prepare_motifs, scan_motifs

LENGTH, N_WINDOWS, N_PLANTED, P_VALUE = 200, 60, 40, 1e-4
DRIVER, DECOY = "GATAAGCCTA", "CCCGGGTTTA"


def _matrix(matrix_id: str, name: str, consensus: str, weak=()) -> JasparMatrix:
    """Consensus columns 91:3:3:3, ``weak`` ones 40:20:20:20 (so the consensus site is lost by
    any change at a strong column, and near-sites one base away occur in random sequence)."""
    base = ["ACGT".index(b) for b in consensus]
    counts = np.full((4, len(consensus)), 3.0)
    counts[base, np.arange(len(consensus))] = 91.0
    for j in weak:
        counts[:, j] = 20.0
        counts[base[j], j] = 40.0
    return JasparMatrix(matrix_id, name, counts)


MATRICES = [_matrix("X0001.1", "DRV", DRIVER, weak=(1, 4, 7, 9)), _matrix("X0002.1", "DEC", DECOY)]
DRIVERS = {"DRV": "X0001.1"}


def _encode(s: str) -> np.ndarray:
    return np.array(["ACGT".index(b) for b in s], dtype=np.uint8)


@pytest.fixture(scope="module")
def world() -> tuple[np.ndarray, pd.DataFrame]:
    """Codes ``(60, 200)``; windows 0-39 carry two driver sites and one decoy, 40-59 a decoy."""
    rng = np.random.default_rng(11)
    codes = rng.integers(0, 4, (N_WINDOWS, LENGTH)).astype(np.uint8)
    codes[7, 150:155] = 4  # an N stretch
    rows = []
    for w in range(N_WINDOWS):
        slots = rng.permutation(np.arange(5, LENGTH - 15, 30))[:3]
        plan = [("DRV", DRIVER, "driver")] * 2 if w < N_PLANTED else []
        for (tf, seq, role), start in zip([*plan, ("DEC", DECOY, "decoy")], slots, strict=False):
            strand = "+" if rng.random() < 0.5 else "-"
            site = _encode(seq)
            codes[w, start : start + 10] = site if strand == "+" else 3 - site[::-1]
            mid = "X0001.1" if tf == "DRV" else "X0002.1"
            rows.append((w, f"r{w}", tf, mid, role, "specific", strand, start, start + 10))
    return codes, pd.DataFrame(rows, columns=PLANTED_COLUMNS)


@pytest.fixture(scope="module")
def designed(world) -> pd.DataFrame:
    codes, planted = world
    return design_variants(codes, planted, DRIVERS, MATRICES, p_value=P_VALUE, per_window=2,
                           random_state=5)  # fmt: skip


@pytest.fixture(scope="module")
def motifs():
    return prepare_motifs(MATRICES[:1], p_value=P_VALUE)


def _mutate(codes: np.ndarray, v: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    ref = codes[v["window"].to_numpy()].copy()
    alt = ref.copy()
    alt[np.arange(len(v)), v["pos"].to_numpy()] = v["alt"].to_numpy()
    return ref, alt


def _hits_over(hits: pd.DataFrame, i: int, pos: int) -> pd.DataFrame:
    h = hits[hits["region"] == i]
    return h[(h["start"] <= pos) & (h["end"] > pos)]


def test_table_and_counts(designed) -> None:
    assert list(designed.columns) == VARIANT_COLUMNS
    counts = designed["kind"].value_counts()
    assert set(counts.index) == set(KINDS)
    assert counts["breaks_driver"] >= 60 and counts["neutral"] == 2 * N_PLANTED
    assert counts["creates_driver"] >= 5
    assert designed["window"].max() < N_PLANTED  # only windows with a planted driver site
    assert designed.groupby(["window", "kind"]).size().max() <= 2
    assert (designed["ref"] != designed["alt"]).all()
    assert not designed.duplicated(["window", "pos", "alt"]).any()


def test_breaks_driver_removes_the_scanned_site(world, designed, motifs) -> None:
    codes, planted = world
    b = designed[designed["kind"] == "breaks_driver"].reset_index(drop=True)
    ref, alt = _mutate(codes, b)
    ref_h, alt_h = scan_motifs(ref, motifs).hits, scan_motifs(alt, motifs).hits
    for i, v in b.iterrows():
        assert v["site_start"] <= v["pos"] < v["site_end"] and v["tf"] == "DRV"
        assert ((planted["region"] == v["window"]) & (planted["start"] == v["site_start"])
                & (planted["role"] == "driver")).any()  # fmt: skip
        over = _hits_over(ref_h, i, v["pos"])
        assert ((over["start"] == v["site_start"]) & (over["end"] == v["site_end"])).any()
        assert _hits_over(alt_h, i, v["pos"]).empty
    assert b["site_before"].all() and not b["site_after"].any()
    # the base changed is the site's most informative one: the largest possible score drop
    m = motifs.scores[0]
    for _, v in b.iterrows():
        mat = m if v["site_strand"] == "+" else reverse_complement_matrix(m)
        x = codes[v["window"], v["site_start"] : v["site_end"]]
        drop = mat[np.arange(x.size), x] - mat.min(axis=1)
        assert drop[v["pos"] - v["site_start"]] == drop.max()
        assert mat[v["pos"] - v["site_start"], v["alt"]] == mat[v["pos"] - v["site_start"]].min()


def test_neutral_keeps_margin_and_every_driver_site(world, designed, motifs) -> None:
    codes, planted = world
    n = designed[designed["kind"] == "neutral"].reset_index(drop=True)
    ref, alt = _mutate(codes, n)
    ref_h, alt_h = scan_motifs(ref, motifs).hits, scan_motifs(alt, motifs).hits
    cols = ["region", "matrix_id", "start", "strand"]
    assert ref_h[cols].equals(alt_h[cols])  # no site created or destroyed anywhere
    for i, v in n.iterrows():
        assert _hits_over(ref_h, i, v["pos"]).empty
        mine = planted[planted["region"] == v["window"]]
        dist = np.maximum(np.maximum(mine["start"] - v["pos"], v["pos"] - mine["end"] + 1), 0)
        assert dist.min() >= 10
    assert (n["tf"] == ".").all() and n["site_start"].isna().all()


def test_creates_driver_adds_a_site(world, designed, motifs) -> None:
    codes, planted = world
    c = designed[designed["kind"] == "creates_driver"].reset_index(drop=True)
    ref, alt = _mutate(codes, c)
    ref_h, alt_h = scan_motifs(ref, motifs).hits, scan_motifs(alt, motifs).hits
    for i, v in c.iterrows():
        assert _hits_over(ref_h, i, v["pos"]).empty
        over = _hits_over(alt_h, i, v["pos"])
        assert ((over["start"] == v["site_start"]) & (over["strand"] == v["site_strand"])).any()
        mine = planted[planted["region"] == v["window"]]
        assert not ((mine["start"] <= v["pos"]) & (mine["end"] > v["pos"])).any()
        # the created site is new: it overlaps no planted site (of any role)
        assert not ((mine["start"] < v["site_end"]) & (mine["end"] > v["site_start"])).any()
    assert (c["tf"] == "DRV").all() and c["site_after"].all() and not c["site_before"].any()


def test_creating_snvs_equal_brute_force(world, motifs) -> None:
    codes, _ = world
    for w in (3, 7, 45):  # window 7 holds N
        x = codes[w]
        fast = _creating_snvs(x, motifs)[0]
        mutants = np.repeat(x[None], LENGTH * 4, axis=0)
        mutants[np.arange(LENGTH * 4), np.repeat(np.arange(LENGTH), 4)] = np.tile(
            np.arange(4), LENGTH
        )
        hits = scan_motifs(np.concatenate([x[None], mutants]), motifs).hits
        cover = np.zeros((1 + 4 * LENGTH, LENGTH), bool)  # sequence i has a site over base p
        for r, a, e in hits[["region", "start", "end"]].itertuples(index=False):
            cover[r, a:e] = True
        slow = cover[1:][4 * np.arange(LENGTH)[:, None] + np.arange(4), np.arange(LENGTH)[:, None]]
        slow &= ~cover[0][:, None] & (x[:, None] != np.arange(4)) & (x[:, None] != 4)
        assert (fast == slow).all()


def test_design_is_seeded(world, designed) -> None:
    codes, planted = world
    again = design_variants(codes, planted, DRIVERS, MATRICES, p_value=P_VALUE, per_window=2,
                            random_state=5)  # fmt: skip
    pd.testing.assert_frame_equal(designed, again)
    other = design_variants(codes, planted, DRIVERS, MATRICES, p_value=P_VALUE, per_window=2,
                            random_state=6)  # fmt: skip
    assert not other[other["kind"] == "neutral"]["pos"].equals(
        designed[designed["kind"] == "neutral"]["pos"]
    )
    none = design_variants(codes, planted[planted["role"] != "driver"], DRIVERS, MATRICES,
                           p_value=P_VALUE, random_state=0)  # fmt: skip
    assert none.empty and list(none.columns) == VARIANT_COLUMNS
    assert design_variants(codes, planted, {"DRV": None}, MATRICES, p_value=P_VALUE,
                           random_state=0).empty  # fmt: skip
    with pytest.raises(ValueError, match="X9"):
        design_variants(codes, planted, {"Z": "X9.1"}, MATRICES, p_value=P_VALUE, random_state=0)


def _site_count_model(motifs):
    """Logit = the sum over windows of relu(driver score − (threshold − 1 bit)), both strands."""
    import keras

    fwd = motifs.scores[0] / motifs.scale
    w = fwd.shape[0]
    inp = keras.Input((LENGTH, 4))
    x = keras.layers.Conv1D(2, w, activation="relu")(inp)
    x = keras.layers.GlobalAveragePooling1D()(x)
    model = keras.Model(inp, keras.layers.Dense(1, activation="sigmoid")(x))
    kernel = np.stack([fwd, reverse_complement_matrix(fwd)], axis=-1)
    bias = np.full(2, 1.0 - motifs.thresholds[0] / motifs.scale)
    model.layers[1].set_weights([kernel, bias])
    model.layers[-1].set_weights([np.full((2, 1), LENGTH - w + 1.0), np.zeros(1)])
    return model


def _random_model(seed: int):
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input((LENGTH, 4))
    x = keras.layers.Conv1D(8, 9, activation="relu")(inp)
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(inp, keras.layers.Dense(1, activation="sigmoid")(x))


def test_separation_by_a_site_counting_and_a_random_model(world, designed, motifs) -> None:
    pytest.importorskip("keras")
    codes, planted = world
    scored = {
        "sites": score_designed(_site_count_model(motifs), codes, designed, batch_size=32),
        **{f"random {k}": score_designed(_random_model(k), codes, designed) for k in range(4)},
    }
    s = scored["sites"]
    assert list(s.columns) == VARIANT_COLUMNS + SCORE_COLUMNS
    np.testing.assert_allclose(s["delta_logit"], s["alt_logit"] - s["ref_logit"])
    tab = separation_table(scored).set_index(["model", "comparison"])
    assert list(tab.columns) == ["n_kind", "n_neutral", "auroc", "median_abs_delta_kind",
                                 "median_abs_delta_neutral", "share_expected_sign"]  # fmt: skip
    counts = designed["kind"].value_counts()
    assert tab.loc[("sites", "breaks_driver vs neutral"), "n_kind"] == counts["breaks_driver"]
    assert tab.loc[("sites", "creates_driver vs neutral"), "n_kind"] == counts["creates_driver"]
    assert (tab["n_neutral"] == counts["neutral"]).all()
    sites = tab.loc["sites"]
    assert (sites["auroc"] > 0.95).all()
    assert (sites["share_expected_sign"] == 1.0).all()
    assert (sites["median_abs_delta_kind"] > sites["median_abs_delta_neutral"]).all()
    # untrained models: one can happen to respond to the site, their mean is near chance
    random = tab.drop(index="sites", level="model")["auroc"]
    assert random.between(0.2, 0.85).all() and 0.35 < random.mean() < 0.65

    ex = example_variants(s, n=2)
    assert list(ex["kind"]) == ["breaks_driver"] * 2 + ["neutral"] * 2 + ["creates_driver"] * 2
    top = s[s["kind"] == "breaks_driver"]["abs_delta"].max()
    assert ex["abs_delta"].iloc[0] == top

    tracks = variant_tracks_data(_site_count_model(motifs), codes, ex, planted=planted)
    assert len(tracks) == len(ex)
    for t, (_, v) in zip(tracks, ex.iterrows(), strict=True):
        changed = np.flatnonzero(t.ref_codes != t.alt_codes)
        assert list(changed) == [v["pos"]] and t.alt_codes[v["pos"]] == v["alt"]
        assert t.ref_gxi.shape == t.alt_gxi.shape == (LENGTH,)
        ref_panel, alt_panel = t.panels()
        assert list(ref_panel["tracks"]) == [f"REF {'ACGT'[v['ref']]}"]
        assert alt_panel["codes"] is t.alt_codes
        assert (t.planted["region"] == v["window"]).all()
        assert len(t.sites) == (1 if v["kind"] == "neutral" else 2)
    from chromtransfer_lib.book.plots_tracks import plot_attribution_tracks

    fig = plot_attribution_tracks(**tracks[0].panels()[1])  # the panels fit the track plot
    assert len(fig.axes) == 2  # the ALT logo and the planted sites
    # breaking the site lowers the attribution inside it
    b = tracks[0]
    v = ex.iloc[0]
    a, e = int(v["site_start"]), int(v["site_end"])
    assert b.alt_gxi[a:e].sum() < b.ref_gxi[a:e].sum()

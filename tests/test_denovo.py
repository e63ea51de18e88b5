"""De novo motifs: hypothetical contributions against gradient × input, TF-MoDISco recovering a
planted JASPAR motif from synthetic contributions, nothing from noise, TOMTOM finding a matrix
itself, driver recovery on an inline table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from chromtransfer_lib.genome.jaspar import load_jaspar, resolve_motifs
from chromtransfer_lib.genome.sequence import N_CODE, one_hot
from chromtransfer_lib.interpret.denovo import (
    MATCH_COLUMNS,
    discover_motifs,
    driver_recovery,
    match_clusters,
    match_jaspar,
)
from chromtransfer_lib.interpret.pvalues import log_odds_matrix

LENGTH = 200


def _conv_model(seed: int, length: int):
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(seed)
    inp = keras.Input((length, 4))
    x = keras.layers.Conv1D(4, 5, padding="same", activation="relu")(inp)
    x = keras.layers.GlobalMaxPooling1D()(x)
    return keras.Model(inp, keras.layers.Dense(2)(x))


def test_hypothetical_times_one_hot_is_grad_x_input_minus_channel_mean() -> None:
    pytest.importorskip("keras")
    from chromtransfer_lib.interpret.attribution import grad_x_input
    from chromtransfer_lib.interpret.denovo import hypothetical_contributions

    model = _conv_model(0, 16)
    codes = np.random.default_rng(1).integers(0, 4, size=(7, 16)).astype(np.uint8)
    codes[2, 5] = N_CODE
    oh = one_hot(codes)
    gxi = grad_x_input(model, codes, batch_size=3, output_index=1)
    raw = hypothetical_contributions(model, codes, batch_size=3, output_index=1, mean_centre=False)
    hyp = hypothetical_contributions(model, codes, batch_size=4, output_index=1)
    assert hyp.shape == raw.shape == (7, 16, 4) and hyp.dtype == np.float32
    # uncentred: the gradient itself, and × one-hot it is gradient × input
    np.testing.assert_allclose((raw * oh).sum(-1), gxi, rtol=1e-6, atol=1e-7)
    # centred: minus the mean over channels (0 at N), so × one-hot = gxi − mean
    is_base = codes != N_CODE
    mean = raw.mean(-1)
    np.testing.assert_allclose(hyp[is_base], (raw - mean[..., None])[is_base], atol=1e-6)
    np.testing.assert_allclose(hyp.sum(-1), 0.0, atol=1e-6)
    np.testing.assert_allclose(
        (hyp * oh).sum(-1)[is_base], (gxi - mean)[is_base], rtol=1e-5, atol=1e-6
    )
    assert not hyp[2, 5].any() and not raw[2, 5].any()


def test_hypothetical_of_linear_model_is_its_weights() -> None:
    keras = pytest.importorskip("keras")
    from chromtransfer_lib.interpret.denovo import hypothetical_contributions

    keras.utils.set_random_seed(3)
    inp = keras.Input((8, 4))
    model = keras.Model(inp, keras.layers.Dense(1)(keras.layers.Flatten()(inp)))
    w = model.layers[-1].get_weights()[0].reshape(8, 4)
    codes = np.random.default_rng(2).integers(0, 4, size=(3, 8)).astype(np.uint8)
    got = hypothetical_contributions(model, codes, batch_size=2)
    np.testing.assert_allclose(
        got, np.broadcast_to(w - w.mean(1, keepdims=True), got.shape), atol=1e-6
    )


def _planted(n: int, motif, *, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` random 200-bp sequences, a site sampled from ``motif`` planted (either strand) in
    every other one; hypothetical contributions = 0.3 × the site's log-odds on its positions,
    N(0, 0.02) noise everywhere, mean-centred. Returns codes, hypothetical, planted rows."""
    rng = np.random.default_rng(seed)
    ppm = motif.probabilities(pseudocount=0.8).T
    lo = log_odds_matrix(motif.counts)
    w = len(lo)
    codes = rng.integers(0, 4, size=(n, LENGTH)).astype(np.uint8)
    hyp = rng.normal(0.0, 0.02, size=(n, LENGTH, 4))
    rows = np.arange(0, n, 2)
    for i in rows:
        start = rng.integers(0, LENGTH - w + 1)
        site = (rng.random((w, 1)) > ppm.cumsum(axis=1)).sum(axis=1)
        scores = lo
        if rng.random() < 0.5:
            site, scores = 3 - site[::-1], lo[::-1, ::-1]
        codes[i, start : start + w] = site
        hyp[i, start : start + w] += 0.3 * scores
    hyp -= hyp.mean(axis=-1, keepdims=True)
    return codes, hyp.astype(np.float32), rows


@pytest.fixture(scope="module")
def jaspar():
    return load_jaspar()


@pytest.fixture(scope="module")
def planted_hnf4a(jaspar):
    (hnf4a,) = resolve_motifs(["MA0114"], jaspar)
    codes, hyp, rows = _planted(300, hnf4a, seed=0)
    return rows, discover_motifs(hyp, one_hot(codes))


def test_discover_motifs_recovers_a_planted_jaspar_motif(planted_hnf4a, jaspar) -> None:
    rows, found = planted_hnf4a
    assert found.patterns, "no pattern from 150 planted HNF4A sites"
    top = found.patterns[0]
    assert top.pattern_id == "pos_patterns.pattern_0" and top.sign == 1
    assert top.n_seqlets >= 40 and top.n_seqlets == len(top.seqlets)
    assert [p.n_seqlets for p in found.patterns if p.sign > 0] == sorted(
        (p.n_seqlets for p in found.patterns if p.sign > 0), reverse=True
    )
    np.testing.assert_allclose(top.ppm.sum(axis=1), 1.0)
    assert top.cwm.shape == top.ppm.shape == top.hypothetical_cwm.shape and top.cwm.sum() > 0
    assert np.isin(top.seqlets["example_idx"], rows).mean() > 0.9  # seqlets on planted rows
    assert found.table()["pattern"].tolist() == [p.pattern_id for p in found.patterns]

    matches = match_jaspar(found.patterns, jaspar, n_best=3)
    assert list(matches.columns) == MATCH_COLUMNS
    best = matches[(matches["pattern"] == top.pattern_id) & (matches["rank"] == 1)].iloc[0]
    clusters = match_clusters(matches, ["HNF4A", "GATA1"], jaspar)
    assert clusters[best["tf"].upper()] == clusters["HNF4A"], best["tf"]  # or HNF4G
    assert best["q_value"] < 1e-3
    recovered = driver_recovery(matches, ["hnf4a", "GATA1"], top_patterns=1, clusters=clusters)
    assert (recovered.n_drivers, recovered.n_found) == (2, 1)
    assert recovered.table["found"].tolist() == [True, False]


def test_no_signal_gives_no_patterns_without_error() -> None:
    rng = np.random.default_rng(5)
    codes = rng.integers(0, 4, size=(100, LENGTH)).astype(np.uint8)
    zeros = np.zeros((100, LENGTH, 4), dtype=np.float32)
    assert discover_motifs(zeros, one_hot(codes)).patterns == ()
    noise = rng.normal(0.0, 0.02, size=zeros.shape)
    noise -= noise.mean(axis=-1, keepdims=True)
    found = discover_motifs(noise, one_hot(codes), n_leiden_runs=2)
    assert len(found.patterns) <= 1
    assert list(found.table().columns) == ["pattern", "sign", "n_seqlets", "width", "consensus"]


def test_discover_motifs_refuses_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(n, L, 4\)"):
        discover_motifs(np.zeros((2, 50, 4)), np.zeros((2, 40, 4)))
    with pytest.raises(ValueError, match="flank_size"):
        discover_motifs(np.zeros((2, 20, 4)), np.zeros((2, 20, 4)))


def test_match_jaspar_finds_a_matrix_itself_on_either_strand(jaspar) -> None:
    picked = resolve_motifs(["MA0035.4", "MA0114.4", "CTCF"], jaspar)
    queries = {m.matrix_id: m.probabilities().T for m in picked}
    queries["MA0114.4 reverse"] = picked[1].probabilities()[::-1, ::-1].T
    got = match_jaspar(queries, jaspar, n_best=2)
    assert list(got.columns) == MATCH_COLUMNS and len(got) == 2 * len(queries)
    first = got[got["rank"] == 1].set_index("pattern")
    assert first["matrix_id"].tolist() == ["MA0035.4", "MA0114.4", "MA0139.1", "MA0114.4"]
    assert first["strand"].tolist() == [0, 0, 0, 1]
    assert (first["p_value"] < 1e-10).all()
    assert (first["e_value"] == first["p_value"] * len(jaspar)).all()
    assert (got["p_value"].to_numpy()[1::2] >= got["p_value"].to_numpy()[::2]).all()
    assert match_jaspar([], jaspar).columns.tolist() == MATCH_COLUMNS


def test_driver_recovery_by_name_dimer_and_cluster() -> None:
    matches = pd.DataFrame(
        {
            "pattern": ["p0", "p0", "p1", "p2", "n0"],
            "sign": [1, 1, 1, 1, -1],
            "n_seqlets": [90, 90, 60, 30, 80],
            "rank": [1, 2, 1, 1, 1],
            "tf": ["Gata2", "HNF4A", "GATA1::TAL1", "CEBPB", "REST"],
        }
    )
    clusters = {"GATA1": 1, "GATA2": 1, "GATA1::TAL1": 1, "TAL1": 2, "CEBPA": 3, "CEBPB": 3}
    got = driver_recovery(matches, ["GATA1", "tal1", "HNF4A", "CEBPA", "REST"], top_patterns=2)
    assert got.table["found"].tolist() == [True, True, False, False, False]
    assert got.table["pattern"].tolist() == ["p1", "p1", "", "", ""]
    got = driver_recovery(matches, ["GATA1", "CEBPA", "HNF4A"], top_patterns=3, clusters=clusters)
    assert (got.n_found, got.n_found_by_name) == (2, 1)
    assert got.table["pattern"].tolist() == ["p0", "p2", ""]  # GATA1 via Gata2's cluster first
    assert driver_recovery(matches, ["HNF4A"], ranks=2).n_found == 1
    assert driver_recovery(matches, ["REST"], sign=-1).n_found == 1


def test_denovo_command_reports_the_planted_motif(tmp_path, jaspar) -> None:
    """``chromtransfer denovo`` on an attribution folder holding the planted HNF4A
    contributions: the same patterns and matches as the library, written as a report; a folder
    without hypothetical contributions is a one-line input error."""
    from chromtransfer_lib.cli.main import main
    from chromtransfer_lib.errors import InputError
    from chromtransfer_lib.predict.attributions import _write_folder, load_attributions
    from chromtransfer_lib.predict.denovo import denovo_report

    (hnf4a,) = resolve_motifs(["MA0114"], jaspar)
    codes, hyp, _rows = _planted(300, hnf4a, seed=0)
    regions = pd.DataFrame({"chrom": "chr1", "start": np.arange(300) * 1000, "probability": 0.9})
    regions["end"] = regions["start"] + LENGTH
    gxi = (hyp * one_hot(codes)).sum(axis=-1)
    arrays = {"codes": codes, "grad_x_input": gxi, "hypothetical": hyp}
    _write_folder(tmp_path / "attr", regions, arrays, {"target": "logit"})
    assert load_attributions(tmp_path / "attr").hypothetical.shape == (300, LENGTH, 4)
    assert main(["denovo", "--attributions", str(tmp_path / "attr"), "--out",
                 str(tmp_path / "report")]) == 0  # fmt: skip
    patterns = pd.read_csv(tmp_path / "report" / "patterns.tsv", sep="\t")
    matches = pd.read_csv(tmp_path / "report" / "matches.tsv", sep="\t")
    best = matches[(matches["pattern"] == patterns["pattern"][0]) & (matches["rank"] == 1)]
    clusters = match_clusters(matches, ["HNF4A"], jaspar)
    assert clusters[best["tf"].iloc[0].upper()] == clusters["HNF4A"]
    with np.load(tmp_path / "report" / "patterns.npz") as npz:
        assert npz[f"{patterns['pattern'][0]}.ppm"].shape[1] == 4
    del arrays["hypothetical"]
    _write_folder(tmp_path / "plain", regions, arrays, {"target": "logit"})
    with pytest.raises(InputError, match="attribute --hypothetical"):
        denovo_report(tmp_path / "plain", tmp_path / "r2")


def test_attribute_saves_hypothetical_contributions(tmp_path) -> None:
    """``attribute_regions(hypothetical=True)``: (n, L, 4) contributions whose observed-base
    values, summed, are gradient × input minus the channel mean (as the library's)."""
    import pyfaidx

    from chromtransfer_lib.predict.attributions import attribute_regions

    rng = np.random.default_rng(1)
    seq = "".join(rng.choice(list("ACGT"), 5000))
    (tmp_path / "g.fa").write_text(
        ">chr1\n" + "".join(seq[i : i + 60] + "\n" for i in range(0, 5000, 60))
    )
    pyfaidx.Faidx(str(tmp_path / "g.fa"))
    (tmp_path / "r.bed").write_text("chr1\t500\t700\nchr1\t2000\t2100\n")
    from chromtransfer_lib.models.network import build_pretrain_model

    model = build_pretrain_model(seq_len=120, stem_filters=4, res1_filters=4, res2_filters=4,
                                 top_filters=4, head_units=(8, 4), random_state=0)  # fmt: skip
    model.save(tmp_path / "m.keras")
    a = attribute_regions(tmp_path / "m.keras", genome=tmp_path / "g.fa",
                          regions_bed=tmp_path / "r.bed", out_dir=tmp_path / "a",
                          target="probability", hypothetical=True)  # fmt: skip
    assert a.hypothetical.shape == (2, 120, 4)
    np.testing.assert_allclose(a.hypothetical.sum(axis=-1), 0, atol=1e-6)

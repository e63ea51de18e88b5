"""Site scores, non-overlapping background, KS enrichment, BH, model comparison, recovery."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from chromtransfer_lib.interpret.enrichment import (
    attribution_agreement,
    benjamini_hochberg,
    compare_models,
    ks_enrichment,
    non_overlapping_background,
    planted_recovery,
    site_scores,
)


def _random_sites(n: int, seed: int, *, tfs: int = 5, regions: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = rng.integers(0, 180, size=n)
    return pd.DataFrame(
        {
            "region": rng.integers(0, regions, size=n),
            "tf": np.array([f"TF{i}" for i in range(tfs)])[rng.integers(0, tfs, size=n)],
            "matrix_id": "M",
            "start": start,
            "end": start + rng.integers(1, 20, size=n),
            "strand": "+",
        }
    )


def test_site_scores_are_max_and_min_over_site_bases() -> None:
    rng = np.random.default_rng(0)
    attr = rng.normal(size=(40, 200))
    attr[3, 10] = np.nan  # NaN bases are ignored
    sites = _random_sites(300, 1)
    sites.loc[0, ["region", "start", "end"]] = [3, 8, 12]
    got_max = site_scores(sites, attr)["site_score"].to_numpy()
    got_min = site_scores(sites, attr, reduce="min", name="ism")["ism"].to_numpy()
    for i, (r, s, e) in enumerate(sites[["region", "start", "end"]].to_numpy()):
        assert got_max[i] == np.nanmax(attr[r, s:e])
        assert got_min[i] == np.nanmin(attr[r, s:e])
    assert "site_score" not in sites.columns  # input untouched
    with pytest.raises(ValueError, match="do not fit"):
        site_scores(sites, attr[:, :50])


def test_non_overlapping_background_matches_pairwise_check() -> None:
    sites = _random_sites(400, 2, regions=6)
    s, e, r = (sites[c].to_numpy() for c in ("start", "end", "region"))
    for tf in ("TF0", "TF3"):
        members = (sites["tf"] == tf).to_numpy()
        got = non_overlapping_background(sites, members)
        overlap = (
            (r[:, None] == r[members][None])
            & (s[:, None] < e[members][None])
            & (s[members][None] < e[:, None])
        ).any(axis=1)
        np.testing.assert_array_equal(got, ~members & ~overlap)
    # written out: touching intervals (end == start) do not overlap; other regions never do
    table = pd.DataFrame(
        {"region": [0, 0, 0, 0, 1], "start": [10, 5, 20, 14, 10], "end": [15, 10, 25, 16, 15]}
    )
    got = non_overlapping_background(table, np.array([True, False, False, False, False]))
    assert list(got) == [False, True, True, False, True]


def test_ks_recovers_planted_difference_with_sign() -> None:
    rng = np.random.default_rng(3)
    sites = _random_sites(3000, 4, tfs=6, regions=300)
    score = rng.normal(size=len(sites))
    score[sites["tf"] == "TF1"] += 1.0
    score[sites["tf"] == "TF4"] -= 0.8
    sites["site_score"] = score
    table = ks_enrichment(sites, min_sites=100).set_index("tf")
    assert table.loc["TF1", "significant"] and table.loc["TF1", "D_signed"] > 0.3
    assert table.loc["TF4", "significant"] and table.loc["TF4", "D_signed"] < -0.25
    assert table.loc["TF1", "mean_rank_tf"] > table.loc["TF1", "mean_rank_bg"]
    # the D and p of one TF equal scipy on the explicit non-overlapping background
    members = (sites["tf"] == "TF1").to_numpy()
    bg = non_overlapping_background(sites, members)
    ref = stats.ks_2samp(score[members], score[bg])
    assert table.loc["TF1", "D_signed"] == pytest.approx(ref.statistic)
    assert table.loc["TF1", "p_value"] == pytest.approx(ref.pvalue)
    assert table.loc["TF1", "n_background"] == bg.sum()
    # min_sites filters TFs
    assert ks_enrichment(sites, min_sites=10_000).empty


def test_ks_p_values_roughly_uniform_under_permutation() -> None:
    sites = _random_sites(1500, 5, tfs=5, regions=200)
    rng = np.random.default_rng(6)
    base = rng.normal(size=len(sites))
    p = []
    for _ in range(40):
        sites["site_score"] = rng.permutation(base)
        p.extend(ks_enrichment(sites, min_sites=100)["p_value"])
    p = np.asarray(p)
    assert p.size == 200
    assert stats.kstest(p, "uniform").pvalue > 0.001
    assert 0.01 <= (p < 0.05).mean() <= 0.12


def test_benjamini_hochberg_matches_statsmodels() -> None:
    multipletests = pytest.importorskip("statsmodels.stats.multitest").multipletests
    rng = np.random.default_rng(7)
    p = np.concatenate([rng.uniform(size=200), rng.uniform(0, 1e-4, size=30), [0.5, 0.5, 1.0]])
    rng.shuffle(p)
    np.testing.assert_allclose(benjamini_hochberg(p), multipletests(p, method="fdr_bh")[1])
    with_nan = np.array([0.01, np.nan, 0.04, 0.03])
    expect = multipletests(with_nan[~np.isnan(with_nan)], method="fdr_bh")[1]
    got = benjamini_hochberg(with_nan)
    assert np.isnan(got[1])
    np.testing.assert_allclose(got[~np.isnan(with_nan)], expect)


def test_benjamini_hochberg_hand_worked() -> None:
    # sorted .01 .03 .04 .2 (m 4) → p·m/rank .04 .06 .0533 .2 → running min from the top
    got = benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.2, np.nan]))
    np.testing.assert_allclose(got[:4], [0.04, 0.16 / 3, 0.16 / 3, 0.2], rtol=1e-15)
    assert np.isnan(got[4])
    # ties share the adjusted value; one p-value is its own adjustment
    np.testing.assert_allclose(benjamini_hochberg(np.array([0.02, 0.5, 0.02])), [0.03, 0.5, 0.03])
    assert benjamini_hochberg(np.array([0.7])).tolist() == [0.7]
    assert benjamini_hochberg(np.array([])).shape == (0,)
    assert np.isnan(benjamini_hochberg(np.array([np.nan, np.nan]))).all()
    grid = benjamini_hochberg(np.array([[0.01, 0.2], [0.04, 0.03]]))  # any shape, pooled
    np.testing.assert_allclose(grid, [[0.04, 0.2], [0.16 / 3, 0.16 / 3]])


def test_compare_models_and_agreement() -> None:
    sites = _random_sites(500, 8)
    sites["start"] = np.arange(500)  # unique site keys
    sites["end"] = sites["start"] + 5
    rng = np.random.default_rng(9)
    a = sites.assign(site_score=rng.normal(size=500))
    b = sites.assign(site_score=a["site_score"] * 0.5 - 1).iloc[::-1]  # other order
    diff = compare_models(a, b.iloc[:400])
    assert len(diff) == 400
    np.testing.assert_allclose(diff["difference"], diff["site_score_a"] * 0.5 + 1)
    assert "tf" in diff.columns
    both = a.assign(ism=-2 * a["site_score"] + rng.normal(0, 0.1, size=500))
    agree = attribution_agreement(both, x="site_score", y="ism", min_sites=50).set_index("tf")
    ref = stats.pearsonr(both["site_score"], both["ism"])[0]
    assert agree.loc["(all)", "pearson_r"] == pytest.approx(ref)
    assert (agree["spearman_r"] < -0.9).all()


def test_planted_recovery_on_synthetic_truth() -> None:
    rng = np.random.default_rng(10)
    planted = pd.DataFrame(
        {
            "region": np.arange(20),
            "tf": ["A"] * 10 + ["B"] * 10,
            "matrix_id": ["MA1"] * 10 + ["MA2"] * 10,
            "start": 100,
            "end": 110,
            "strand": "+",
        }
    )
    # the scan finds A's 10 and B's first 5; background hits lie elsewhere
    found = planted.iloc[:15].copy()
    background = pd.DataFrame(
        {
            "region": rng.integers(0, 20, 200),
            "tf": "C",
            "matrix_id": "MA3",
            "start": rng.integers(0, 80, 200),
            "strand": "-",
        }
    ).assign(end=lambda d: d["start"] + 8)
    overlapping = planted.iloc[:3].assign(tf="D", matrix_id="MA4", start=105, end=115)
    sites = pd.concat([found, background, overlapping], ignore_index=True)
    score = rng.uniform(0, 1, size=len(sites))
    score[:15] = 5.0  # planted hits score high ...
    score[[0, 1]] = 0.1  # ... except two
    score[-3:] = 100.0  # overlapping hits are not background: they must not set the bar
    sites["site_score"] = score
    res = planted_recovery(planted, sites, quantile=0.9)
    assert res.background_threshold == pytest.approx(np.quantile(score[15:215], 0.9))
    assert res.frac_scanned == pytest.approx(15 / 20)
    assert res.frac_high == pytest.approx(13 / 20)
    per_tf = res.per_tf.set_index("tf")
    assert per_tf.loc["A", "frac_high"] == pytest.approx(0.8)
    assert per_tf.loc["B", "frac_scanned"] == pytest.approx(0.5)

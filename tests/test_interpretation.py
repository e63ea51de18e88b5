"""Glue of the interpretation chapters: region selection, ground truth in window coordinates,
driver matching and rankings, site tables, the enrichment analyses and their metrics."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from chromtransfer_lib.book import interpret_tables as tables
from chromtransfer_lib.book import interpretation as interp
from chromtransfer_lib.interpret.enrichment import site_scores

# --- region selection ---------------------------------------------------------------------------


def test_positive_predictions_are_capped_by_a_seeded_sample() -> None:
    rng = np.random.default_rng(0)
    proba = rng.random(500)
    labels = (rng.random(500) < 0.3).astype(int)
    sel = interp.select_positive_predictions(proba, labels, max_regions=40, random_state=3)
    assert sel.n_positive == int((proba >= 0.5).sum())
    assert not sel.fallback
    assert len(sel.rows) == 40 and np.all(np.diff(sel.rows) > 0)
    assert np.all(proba[sel.rows] >= 0.5)
    again = interp.select_positive_predictions(proba, labels, max_regions=40, random_state=3)
    np.testing.assert_array_equal(sel.rows, again.rows)
    few = interp.select_positive_predictions(proba, labels, max_regions=10_000, random_state=3)
    np.testing.assert_array_equal(few.rows, np.flatnonzero(proba >= 0.5))


def test_no_positive_prediction_falls_back_to_best_scored_labelled_positives() -> None:
    proba = np.array([0.1, 0.4, 0.3, 0.2, 0.45, 0.05])
    labels = np.array([1, 1, 0, 1, 0, 1])
    sel = interp.select_positive_predictions(proba, labels, max_regions=2, random_state=0)
    assert sel.fallback and sel.n_positive == 0
    np.testing.assert_array_equal(sel.rows, [1, 3])  # labelled positives with p 0.4 and 0.2


def _region_table(starts: list[int], *, chrom: str = "chr1", length: int = 10) -> pd.DataFrame:
    s = np.asarray(starts)
    return pd.DataFrame(
        {
            "chrom": chrom,
            "start": s + 5,
            "end": s + 5 + length,
            "region_start": s,
            "region_end": s + 20,
            "name": [f"{chrom}:{a}-{a + 20}" for a in s],
            "split": "train",
            "y": 1,
        }
    )


def test_union_deduplicates_regions_and_keeps_flags_labels_and_codes() -> None:
    a, b = _region_table([0, 100, 200]), _region_table([100, 300])
    b["y"] = [0, 1]
    codes_a = np.arange(30, dtype=np.uint8).reshape(3, 10) % 4
    codes_b = (np.arange(20, dtype=np.uint8).reshape(2, 10) + 1) % 4
    codes_b[0] = codes_a[1]  # the same window has the same sequence
    table, seq = interp.union_regions({"A": a, "B": b}, {"A": codes_a, "B": codes_b})
    assert table["region_start"].tolist() == [0, 100, 200, 300]
    assert table["in_A"].tolist() == [True, True, True, False]
    assert table["in_B"].tolist() == [False, True, False, True]
    np.testing.assert_array_equal(table["y_B"].to_numpy(), [np.nan, 0, np.nan, 1])
    np.testing.assert_array_equal(seq, np.vstack([codes_a, codes_b[1:]]))
    rs = interp.RegionSet(seq, table, "k", pd.DataFrame())
    np.testing.assert_array_equal(rs.rows("B"), [1, 3])
    np.testing.assert_array_equal(rs.rows(), [0, 1, 2, 3])


# --- ground truth in window coordinates ---------------------------------------------------------


def _world(seed: int, *, n_regions: int = 30, seq_len: int = 200, region_len: int = 600):
    """A random genome, 600-bp regions with windows at their centre, and planted k-mers."""
    rng = np.random.default_rng(seed)
    genome = {c: rng.integers(0, 4, 20_000).astype(np.uint8) for c in ("chr1", "chr2")}
    owner = {c: np.full(20_000, -1) for c in genome}  # which planted site wrote each base last
    rows, truth = [], []
    for i in range(n_regions):
        chrom = ("chr1", "chr2")[i % 2]
        r0 = int(rng.integers(0, 20_000 - region_len))
        w0 = r0 + (region_len - seq_len) // 2
        rows.append((chrom, w0, w0 + seq_len, r0, r0 + region_len, f"{chrom}:{r0}-{r0 + 600}"))
        for _ in range(int(rng.integers(1, 6))):
            width = int(rng.integers(6, 20))
            rel = int(rng.integers(0, region_len - width))
            kmer = rng.integers(0, 4, width).astype(np.uint8)
            genome[chrom][r0 + rel : r0 + rel + width] = kmer
            owner[chrom][r0 + rel : r0 + rel + width] = len(truth)
            truth.append(
                {
                    "region": f"rDHS{i:03d}",
                    "region_class": "specific",
                    "tf": "TF" + "ACGT"[int(kmer[0])],
                    "matrix_id": f"MA{width}.1",
                    "role": "driver",
                    "chrom": chrom,
                    "start": r0 + rel,
                    "end": r0 + rel + width,
                    "strand": "+",
                    "rel_start": rel,
                    "rel_end": rel + width,
                    "kmer": kmer,
                }
            )
    truth.append(
        {
            "region": ".",
            "region_class": "background",
            "tf": "TFX",
            "matrix_id": "MA1.1",
            "role": "background",
            "chrom": "chr1",
            "start": 5,
            "end": 15,
            "strand": "+",
            "rel_start": np.nan,
            "rel_end": np.nan,
            "kmer": None,
        }
    )
    cols = ["chrom", "start", "end", "region_start", "region_end", "name"]
    regions = pd.DataFrame(rows, columns=cols).sample(frac=1, random_state=seed)
    truth = pd.DataFrame(truth)
    truth["intact"] = [
        t.kmer is not None and bool((owner[t.chrom][t.start : t.end] == i).all())
        for i, t in enumerate(truth.itertuples())
    ]
    return genome, regions.reset_index(drop=True), truth


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_sites_in_window_coordinates_match_brute_force(seed: int) -> None:
    genome, regions, truth = _world(seed)
    got = tables.planted_in_windows(truth.drop(columns=["kmer", "intact"]), regions)
    expected = set()
    for t in truth[truth["rel_start"].notna()].itertuples():
        for row, w in enumerate(regions.itertuples()):
            if t.chrom == w.chrom and w.start <= t.start and t.end <= w.end:
                expected.add((row, t.region, t.start - w.start, t.end - w.start))
    assert set(zip(got["region"], got["rdhs"], got["start"], got["end"], strict=True)) == expected
    assert len(got) == len(expected) > 0
    # brute force on sequence: the window's codes at the converted coordinates are the k-mer
    # that was planted there (for sites no later plant overwrote)
    checked = 0
    for s in got.itertuples():
        w = regions.iloc[s.region]
        t = truth[(truth["region"] == s.rdhs) & (truth["start"] == w["start"] + s.start)].iloc[0]
        if t["intact"]:
            window = genome[w["chrom"]][w["start"] : w["end"]]
            np.testing.assert_array_equal(window[s.start : s.end], t["kmer"])
            checked += 1
    assert checked > 0.5 * len(got)


def test_planted_sites_reject_inconsistent_region_starts() -> None:
    _, regions, truth = _world(0)
    bad = truth[truth["region"] == "rDHS000"].copy()
    if len(bad) < 2:
        bad = pd.concat([bad, bad])
    bad.iloc[1, bad.columns.get_loc("rel_start")] += 1
    with pytest.raises(ValueError, match="rDHS000"):
        tables.planted_in_windows(bad.drop(columns=["kmer", "intact"]), regions)


# --- rankings and drivers -----------------------------------------------------------------------


def _ks(rows: list[tuple[str, float, bool]]) -> pd.DataFrame:
    tf, d, sig = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "tf": tf,
            "n_sites": 100,
            "D_signed": d,
            "fdr": [1e-6 if s else 0.5 for s in sig],
            "significant": sig,
        }
    )


def test_top_tfs_are_significant_by_descending_signed_d() -> None:
    ks = _ks([("B", 0.2, True), ("A", 0.5, False), ("C", 0.4, True), ("D", -0.3, True)])
    assert tables.top_tfs(ks) == ["C", "B", "D"]
    assert tables.top_tfs(ks, positive_only=True) == ["C", "B"]
    assert tables.top_tfs(ks.iloc[:0]) == []


def test_driver_ranks_match_names_case_insensitively_and_by_matrix_id() -> None:
    ks = _ks(
        [
            ("Spi1", 0.6, True),
            ("CTCF", 0.7, True),
            ("GATA1", 0.1, False),
            ("Gfi1-like", 0.5, True),
            ("NFE2", -0.4, True),
        ]
    )
    ranks = tables.driver_ranks(
        ks,
        ["SPI1", "GATA1", "GFI1", "NFE2", "ABSENT"],
        driver_ids={"GFI1": "MA0038.2"},
        tf_ids={"Gfi1-like": {"MA0038.2"}},
    )
    by = ranks.set_index("driver")
    assert by.loc["SPI1", "tf"] == "Spi1" and by.loc["SPI1", "rank"] == 2
    assert by.loc["SPI1", "top_rank"] == 2  # CTCF, then Spi1
    assert by.loc["GFI1", "tf"] == "Gfi1-like" and by.loc["GFI1", "rank"] == 3
    assert by.loc["GATA1", "rank"] == 4 and np.isnan(by.loc["GATA1", "top_rank"])
    assert by.loc["NFE2", "rank"] == 5 and np.isnan(by.loc["NFE2", "top_rank"])  # depleted
    assert np.isnan(by.loc["ABSENT", "rank"]) and by.loc["ABSENT", "n_tested"] == 5
    assert tables.drivers_in_top(ranks, n=5) == 2
    assert tables.drivers_in_top(ranks, n=2) == 1


def test_line_drivers_take_matrix_ids_from_the_world_table() -> None:
    roles = pd.DataFrame(
        {
            "matrix_id": ["MA0080.6", "MA0035.4"],
            "name": ["Spi1", "GATA1"],
            "driver_of": ["GM12878", "K562"],
        }
    )
    drivers = {"GM12878": ["SPI1", "IRF4"], "K562": ["GATA1"]}
    assert tables.line_drivers(roles, drivers, "GM12878") == {"SPI1": "MA0080.6", "IRF4": None}
    assert tables.line_drivers(None, drivers, "K562") == {"GATA1": None}


# --- site tables --------------------------------------------------------------------------------


def _hits(seed: int, *, n: int, regions: int, length: int, tfs: str = "ABCDEF") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = rng.integers(0, length - 20, n)
    tf = np.array(list(tfs))[rng.integers(0, len(tfs), n)]
    return (
        pd.DataFrame(
            {
                "region": rng.integers(0, regions, n),
                "tf": tf,
                "matrix_id": [f"M{t}" for t in tf],
                "start": start,
                "end": start + rng.integers(6, 20, n),
                "strand": rng.choice(["+", "-"], n),
            }
        )
        .drop_duplicates(["region", "matrix_id", "start", "strand"])
        .reset_index(drop=True)
    )


def test_ism_site_table_maps_rows_and_matches_brute_force() -> None:
    rng = np.random.default_rng(1)
    hits = _hits(0, n=300, regions=12, length=80)
    gxi, rows = rng.normal(size=(12, 80)), np.array([2, 5, 9])
    delta = rng.normal(size=(3, 80))
    got = interp.ism_site_table(hits, gxi, delta, rows)
    assert set(got["region"]) <= set(rows) and len(got) == hits["region"].isin(rows).sum()
    for s in got.itertuples():
        k = list(rows).index(s.region)
        assert s.gxi_max == pytest.approx(gxi[s.region, s.start : s.end].max())
        assert s.ism_min == pytest.approx(delta[k, s.start : s.end].min())
        assert s.ism_importance == pytest.approx(-s.ism_min)


def test_track_sites_are_the_best_non_overlapping_sites() -> None:
    sites = pd.DataFrame(
        {
            "region": [0, 0, 0, 0, 1],
            "tf": list("ABCDE"),
            "start": [0, 5, 12, 30, 0],
            "end": [10, 15, 20, 40, 10],
            "site_score": [0.9, 1.0, 0.5, 0.1, 5.0],
        }
    )
    got = tables.track_sites(sites, 0, n=5)
    assert got["tf"].tolist() == ["B", "D"]  # B beats A and C, which overlap it
    assert tables.track_sites(sites, 0, n=1)["tf"].tolist() == ["B"]
    assert tables.track_sites(sites, 7).empty


def test_ecdf_frame_compares_a_tf_with_non_overlapping_other_sites() -> None:
    sites = pd.DataFrame(
        {
            "region": [0, 0, 0, 1],
            "tf": ["Hnf4a", "CTCF", "SP1", "SP1"],
            "start": [0, 5, 30, 0],
            "end": [10, 15, 40, 10],
            "site_score": [1.0, 2.0, 3.0, 4.0],
        }
    )
    got = tables.ecdf_frame({"m": sites}, ["HNF4A", "OLIG2"])
    assert set(got["panel"]) == {"HNF4A"}  # OLIG2 has no sites
    assert got[got["group"] == "HNF4A"]["score"].tolist() == [1.0]
    assert sorted(got[got["group"] == "other TFs"]["score"]) == [3.0, 4.0]  # CTCF overlaps


def test_agreement_factors_pick_cebpa_hnf4a_and_one_fos_jun_dimer() -> None:
    names = ["FOS::JUNB", "Hnf4a", "CEBPA", "FOS::JUN", "JUN", "CTCF"]
    assert tables.agreement_factors(names) == ["CEBPA", "Hnf4a", "FOS::JUN"]
    assert tables.agreement_factors(["CTCF"]) == []


# --- the chapter 7 analyses on a planted signal -------------------------------------------------


def _signal_world(seed: int = 0):
    """Regions half HepG2, half K562; TF A's sites matter to the HepG2 model, B's to K562's."""
    rng = np.random.default_rng(seed)
    n, length = 80, 100
    hits = _hits(seed, n=1500, regions=n, length=length)
    table = pd.DataFrame({"in_HepG2": np.arange(n) < 50, "in_K562": np.arange(n) >= 30})
    regions = interp.RegionSet(np.zeros((n, length), np.uint8), table, "k", pd.DataFrame())
    gxi = {m: rng.normal(0, 1, (n, length)) for m in interp.MODEL_LABELS}
    for model, tf in (("HepG2", "A"), ("K562", "B")):
        for s in hits[hits["tf"] == tf].itertuples():
            gxi[model][s.region, s.start + 2] += 4.0
    return hits, gxi, regions


def test_run_enrichment_finds_each_models_planted_tf_and_reports_metrics() -> None:
    hits, gxi, regions = _signal_world()
    enr = interp.run_enrichment(hits, gxi, regions, min_sites=20, fdr=0.001)
    assert tables.top_tfs(enr.ks["HepG2"])[0] == "A"
    assert tables.top_tfs(enr.ks["K562"])[0] == "B"
    assert "A" not in tables.top_tfs(enr.ks["pretrained@HepG2"], positive_only=True)
    # per-site differences: A gains in HepG2 − pre-trained; HepG2 − K562 ranks A top, B bottom
    assert tables.top_tfs(enr.ks["HepG2-pretrained"])[0] == "A"
    diff = enr.ks["HepG2-K562"].sort_values("D_signed")
    assert diff["tf"].iloc[-1] == "A" and diff["tf"].iloc[0] == "B"
    # the HepG2 analysis only uses HepG2 rows
    assert set(enr.sites["HepG2"]["region"]) <= set(regions.rows("HepG2"))
    expected = site_scores(hits[hits["region"] < 50], gxi["HepG2"])["site_score"].to_numpy()
    np.testing.assert_allclose(enr.sites["HepG2"]["site_score"].to_numpy(), expected)

    drivers = {"HepG2": {"a": "MA", "HNF4A": None}, "K562": {"b": None}}
    tested = sorted(set().union(*(set(ks["tf"]) for ks in enr.ks.values())))
    clusters = pd.Series(np.arange(1, len(tested) + 1), index=tested)
    clusters["B"] = clusters["A"]  # pretend A and B are look-alikes
    ranks = tables.driver_rank_table(enr, drivers, tables.tf_matrix_ids(hits), clusters=clusters)
    scan = interp.Scan(hits, pd.DataFrame({"width": [6]}), 10)
    metrics = tables.enrichment_metrics(enr, ranks, scan)
    own = ranks[ranks["analysis"] == "HepG2"].set_index("driver")
    assert own.loc["a", "cluster_rank"] == 1 and own.loc["a", "cluster_lead"] == "A"
    assert np.isnan(own.loc["HNF4A", "cluster_rank"])  # not tested: no cluster rank
    assert metrics["enrichment.HepG2.drivers_in_top5_clusters"] == 1
    assert metrics["enrichment.pretrained.HepG2_drivers_in_top5_clusters"] == 0
    text = tables.cluster_sentence(ranks)
    assert "1 of HepG2's 2 planted drivers is in the HepG2 model's top 5 clusters (a #1)" in text
    view = tables.cluster_tables(enr, clusters, ["HepG2", "K562"], n=3)
    assert view.shape == (3, 2) and view.iloc[0, 0].startswith("A")
    assert metrics["enrichment.HepG2.top_tfs"][0] == "A"
    assert metrics["enrichment.K562.top_tfs"][0] == "B"
    assert metrics["enrichment.HepG2.driver_ranks"] == {"a": 1, "HNF4A": None}
    assert metrics["enrichment.HepG2.drivers_in_top5"] == 1
    assert metrics["enrichment.K562.drivers_in_top5"] == 1
    assert metrics["enrichment.pretrained.HepG2_drivers_in_top5"] == 0
    assert metrics["enrichment.K562.HepG2_drivers_in_top5"] == 0  # the cross-line control
    assert "enrichment.pretrained.top_tfs" in metrics
    assert metrics["enrichment.scan.n_unreachable"] == 1

    sentence = tables.comparison_sentence(ranks, line="HepG2")
    assert "1 of the 2 planted HepG2 drivers" in sentence
    assert "moved the planted drivers up" in sentence and "the control" in sentence
    text = tables.driver_sentence(
        ranks[ranks["analysis"] == "HepG2"], enr.ks["HepG2"], model="m", line="HepG2", fdr=0.001
    )
    assert "best-ranked driver, A, is #1" in text


def test_sentences_say_when_nothing_is_found() -> None:
    ks = _ks([("A", 0.2, False), ("B", 0.1, False)])
    ranks = tables.driver_ranks(ks, ["A"])
    text = tables.driver_sentence(ranks, ks, model="m", line="HepG2", fdr=0.001)
    assert "no TF passes FDR < 0.001" in text and "no evidence" in text
    selection = pd.DataFrame(
        {
            "cell_line": ["HepG2"],
            "rows (train + test)": [50],
            "labelled positive": [10],
            "predicted positive": [0],
            "analysed": [10],
            "fallback": [True],
        }
    )
    assert "predicted no region positive" in tables.selection_sentence(selection, max_regions=9)
    weak = pd.DataFrame({"tf": ["(all)"], "n": [40], "pearson_r": [0.1], "spearman_r": [0.05]})
    assert "barely agree" in tables.agreement_sentence(weak, n_regions=3)


def test_width_bias_is_the_rank_correlation_of_d_and_motif_width() -> None:
    hits = pd.DataFrame({"tf": list("ABC"), "start": 0, "end": [8, 12, 20]})
    assert tables.width_bias(_ks([("A", 0.1, 1), ("B", 0.2, 1), ("C", 0.3, 1)]), hits) == 1.0
    assert tables.width_bias(_ks([("A", 0.3, 1), ("B", 0.2, 1), ("C", 0.1, 1)]), hits) == -1.0


# --- cache --------------------------------------------------------------------------------------


def test_file_key_follows_content(tmp_path) -> None:
    p = tmp_path / "model.keras"
    p.write_bytes(b"one")
    k1 = interp.file_key(p)
    p.write_bytes(b"two")
    assert interp.file_key(p) != k1


def test_scan_is_cached_in_the_run_directory(tmp_path) -> None:
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, (4, 120)).astype(np.uint8)
    regions = interp.RegionSet(codes, pd.DataFrame({"in_X": [True] * 4}), "abc", pd.DataFrame())
    ctx = SimpleNamespace(
        run_dir=tmp_path, profile=SimpleNamespace(interpret=SimpleNamespace(p_value=1e-4))
    )
    first = interp.ensure_scan(ctx, regions)
    files = sorted(p.name for p in (tmp_path / "interpret").iterdir())
    assert len(files) == 2 and first.n_matrices == 841
    assert len(first.hits) > 0 and set(first.hits["region"]) <= set(range(4))
    again = interp.ensure_scan(ctx, regions)
    pd.testing.assert_frame_equal(first.hits, again.hits)
    assert sorted(p.name for p in (tmp_path / "interpret").iterdir()) == files


# --- attribution target --------------------------------------------------------------------------


def test_logit_model_shares_weights_and_rescales_probability_gradients() -> None:
    import keras

    from chromtransfer_lib.data.pipeline import predict_proba
    from chromtransfer_lib.interpret.attribution import grad_x_input

    keras.utils.set_random_seed(0)
    x = keras.Input((30, 4))
    h = keras.layers.Dense(3, activation="relu")(keras.layers.Flatten()(x))
    model = keras.Model(x, keras.layers.Dense(1, activation="sigmoid")(h))
    codes = np.random.default_rng(0).integers(0, 4, (6, 30)).astype(np.uint8)
    logits = interp.logit_model(model)
    p = predict_proba(model, codes)
    z = predict_proba(logits, codes)
    np.testing.assert_allclose(1 / (1 + np.exp(-z)), p, rtol=1e-5, atol=1e-6)
    # d p / d x = p (1 - p) d z / d x, base by base
    g_p, g_z = grad_x_input(model, codes), grad_x_input(logits, codes)
    np.testing.assert_allclose(g_p, (p * (1 - p))[:, None] * g_z, rtol=1e-4, atol=1e-7)
    softmax = keras.Model(x, keras.layers.Dense(3, activation="softmax")(h))
    with pytest.raises(ValueError, match="sigmoid"):
        interp.logit_model(softmax)


def test_saturation_table_bins_regions_by_probability() -> None:
    proba = np.array([0.6, 0.95, 0.995, 0.9995, 0.3])
    g_logit = np.ones((5, 4))
    g_prob = (proba * (1 - proba))[:, None] * g_logit
    table = interp.saturation_table(g_logit, g_prob, proba, np.arange(4))
    assert table["regions"].tolist() == [1, 1, 1, 1]
    col = table["median max |g×i|, probability"].to_numpy()
    assert np.all(np.diff(col) < 0)  # probability gradients shrink as p approaches 1


def test_pick_rows_prefers_true_positives_and_is_seeded() -> None:
    table = pd.DataFrame({"in_A": [True] * 6 + [False], "y_A": [1, 1, 0, 1, 1, np.nan, np.nan]})
    rs = interp.RegionSet(np.zeros((7, 5), np.uint8), table, "k", pd.DataFrame())
    proba = np.array([0.9, 0.2, 0.99, 0.7, 0.6, 0.8, 1.0])
    top = interp.pick_rows(rs, proba, line="A", n=2)
    np.testing.assert_array_equal(top, [0, 3])  # true positives (y = 1, p >= 0.5), best first
    sample = interp.pick_rows(rs, proba, line="A", n=2, random_state=1)
    assert set(sample) <= {0, 3, 4} and len(sample) == 2
    np.testing.assert_array_equal(
        sample, interp.pick_rows(rs, proba, line="A", n=2, random_state=1)
    )


# --- figures ------------------------------------------------------------------------------------


def test_every_figure_draws_from_the_chapter_tables(tmp_path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from chromtransfer_lib.book import plots_interpret as pi
    from chromtransfer_lib.interpret.enrichment import attribution_agreement

    hits, gxi, regions = _signal_world()
    enr = interp.run_enrichment(hits, gxi, regions, min_sites=20, fdr=0.001)
    drivers = {"HepG2": {"A": None, "HNF4A": None}, "K562": {"B": None}}
    names = tables.analysis_driver_names(drivers)
    assert names["HepG2 ChromTransfer"] == {"A", "HNF4A"} and names["K562 ChromTransfer"] == {"B"}
    single = ["HepG2", "pretrained@HepG2", "scratch_HepG2", "K562"]
    long = tables.ranking_long({interp.Enrichment.label(k): enr.ks[k] for k in single})
    versus = tables.d_versus(enr.ks["HepG2@union"], enr.ks["K562@union"], enr.ks["HepG2-K562"])
    ranks = tables.driver_rank_table(enr, drivers, tables.tf_matrix_ids(hits))
    planted = hits[hits["tf"].isin(["A", "B"])].assign(role="driver", matrix_id="MA")
    _, per_tf = tables.recovery_tables(enr, planted, regions, {"HepG2": {"A": "MA"}, "K562": {}})
    ecdf = tables.ecdf_frame({"m": enr.sites["HepG2"]}, ["A", "Z"])
    ism = interp.ism_site_table(hits, gxi["HepG2"], -gxi["HepG2"][:3] * 0.5, np.arange(3))
    agreement = attribution_agreement(ism, x="gxi_max", y="ism_importance", min_sites=3)
    figures = [
        pi.plot_rank_bars(long, top_n=5, drivers=names),
        pi.plot_d_scatter(versus, x="HepG2", y="K562", label_n=3, always=["a"]),
        pi.plot_ecdf(ecdf, title="t"),
        pi.plot_driver_ranks(ranks),
        pi.plot_recovery(per_tf),
        pi.plot_site_agreement(ism, agreement, ["A"]),
    ]
    for i, fig in enumerate(figures):
        fig.save(tmp_path / f"f{i}.png", verbose=False)
    codes = np.random.default_rng(0).integers(0, 5, 100).astype(np.uint8)
    track = pi.plot_attribution_tracks(
        codes,
        {"a": gxi["HepG2"][0], "b": gxi["pretrained"][0]},
        sites=tables.track_sites(enr.sites["HepG2"], 0, n=3),
        planted=planted[planted["region"] == 0],
        title="t",
    )
    track.savefig(tmp_path / "track.png")
    plt.close("all")
    assert len(list(tmp_path.glob("*.png"))) == 7

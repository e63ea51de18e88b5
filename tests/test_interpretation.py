"""Stages and analyses of the interpretation chapters: region selection, ground truth in window
coordinates, driver matching and rankings, site tables, the enrichment analyses, the caches."""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from chromtransfer_lib.book import interpret_analyses as an
from chromtransfer_lib.book import interpret_cache as cache
from chromtransfer_lib.book import interpret_regions as reg
from chromtransfer_lib.book import interpret_tables as tables
from chromtransfer_lib.book import interpret_truth as truth_mod
from chromtransfer_lib.interpret.enrichment import site_scores

# --- region selection ---------------------------------------------------------------------------


def test_positive_predictions_are_capped_by_a_seeded_sample() -> None:
    rng = np.random.default_rng(0)
    proba = rng.random(500)
    labels = (rng.random(500) < 0.3).astype(int)
    sel = reg.select_positive_predictions(proba, labels, max_regions=40, random_state=3)
    assert sel.n_positive == int((proba >= 0.5).sum())
    assert not sel.fallback
    assert len(sel.rows) == 40 and np.all(np.diff(sel.rows) > 0)
    assert np.all(proba[sel.rows] >= 0.5)
    again = reg.select_positive_predictions(proba, labels, max_regions=40, random_state=3)
    np.testing.assert_array_equal(sel.rows, again.rows)
    few = reg.select_positive_predictions(proba, labels, max_regions=10_000, random_state=3)
    np.testing.assert_array_equal(few.rows, np.flatnonzero(proba >= 0.5))


def test_no_positive_prediction_falls_back_to_best_scored_labelled_positives() -> None:
    proba = np.array([0.1, 0.4, 0.3, 0.2, 0.45, 0.05])
    labels = np.array([1, 1, 0, 1, 0, 1])
    sel = reg.select_positive_predictions(proba, labels, max_regions=2, random_state=0)
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
    table, seq = reg.union_regions({"A": a, "B": b}, {"A": codes_a, "B": codes_b})
    assert table["region_start"].tolist() == [0, 100, 200, 300]
    assert table["in_A"].tolist() == [True, True, True, False]
    assert table["in_B"].tolist() == [False, True, False, True]
    np.testing.assert_array_equal(table["y_B"].to_numpy(), [np.nan, 0, np.nan, 1])
    np.testing.assert_array_equal(seq, np.vstack([codes_a, codes_b[1:]]))
    rs = reg.RegionSet(seq, table, "k", pd.DataFrame())
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
    got = truth_mod.planted_in_windows(truth.drop(columns=["kmer", "intact"]), regions)
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
        truth_mod.planted_in_windows(bad.drop(columns=["kmer", "intact"]), regions)


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
    assert an.top_tfs(ks) == ["C", "B", "D"]
    assert an.top_tfs(ks, positive_only=True) == ["C", "B"]
    assert an.top_tfs(ks.iloc[:0]) == []


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
    ranks = an.driver_ranks(
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
    assert an.drivers_in_top(ranks, n=5) == 2
    assert an.drivers_in_top(ranks, n=2) == 1


def test_line_drivers_take_matrix_ids_from_the_world_table() -> None:
    roles = pd.DataFrame(
        {
            "matrix_id": ["MA0080.6", "MA0035.4"],
            "name": ["Spi1", "GATA1"],
            "driver_of": ["GM12878", "K562"],
        }
    )
    drivers = {"GM12878": ["SPI1", "IRF4"], "K562": ["GATA1"]}
    assert truth_mod.line_drivers(roles, drivers, "GM12878") == {"SPI1": "MA0080.6", "IRF4": None}
    assert truth_mod.line_drivers(None, drivers, "K562") == {"GATA1": None}


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
    got = an.ism_site_table(hits, gxi, delta, rows)
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
    assert an.agreement_factors(names) == ["CEBPA", "Hnf4a", "FOS::JUN"]
    assert an.agreement_factors(["CTCF"]) == []


# --- the chapter 7 analyses on a planted signal -------------------------------------------------


def _signal_world(seed: int = 0):
    """Regions half HepG2, half K562; TF A's sites matter to the HepG2 model, B's to K562's."""
    rng = np.random.default_rng(seed)
    n, length = 80, 100
    hits = _hits(seed, n=1500, regions=n, length=length)
    table = pd.DataFrame({"in_HepG2": np.arange(n) < 50, "in_K562": np.arange(n) >= 30})
    regions = reg.RegionSet(np.zeros((n, length), np.uint8), table, "k", pd.DataFrame())
    gxi = {m: rng.normal(0, 1, (n, length)) for m in reg.MODEL_LABELS}
    for model, tf in (("HepG2", "A"), ("K562", "B")):
        for s in hits[hits["tf"] == tf].itertuples():
            gxi[model][s.region, s.start + 2] += 4.0
    return hits, gxi, regions


def test_run_enrichment_finds_each_models_planted_tf() -> None:
    hits, gxi, regions = _signal_world()
    enr = an.run_enrichment(hits, gxi, regions, min_sites=20, fdr=0.001)
    assert an.top_tfs(enr.ks["HepG2"])[0] == "A"
    assert an.top_tfs(enr.ks["K562"])[0] == "B"
    assert "A" not in an.top_tfs(enr.ks["pretrained@HepG2"], positive_only=True)
    # per-site differences: A gains in HepG2 − pre-trained; HepG2 − K562 ranks A top, B bottom
    assert an.top_tfs(enr.ks["HepG2-pretrained"])[0] == "A"
    diff = enr.ks["HepG2-K562"].sort_values("D_signed")
    assert diff["tf"].iloc[-1] == "A" and diff["tf"].iloc[0] == "B"
    # the HepG2 analysis only uses HepG2 rows
    assert set(enr.sites["HepG2"]["region"]) <= set(regions.rows("HepG2"))
    expected = site_scores(hits[hits["region"] < 50], gxi["HepG2"])["site_score"].to_numpy()
    np.testing.assert_allclose(enr.sites["HepG2"]["site_score"].to_numpy(), expected)
    assert enr.tested() == list("ABCDEF") and enr.clusters is None


def test_driver_rank_table_ranks_drivers_and_their_clusters_in_every_analysis() -> None:
    hits, gxi, regions = _signal_world()
    enr = an.run_enrichment(hits, gxi, regions, min_sites=20, fdr=0.001)
    clusters = pd.Series(np.arange(1, 7), index=list("ABCDEF"))
    clusters["B"] = clusters["A"]  # pretend A and B are look-alikes
    drivers = {"HepG2": {"a": "MA", "HNF4A": None}, "K562": {"b": None}}
    ranks = an.driver_rank_table(enr.with_clusters(clusters), drivers, an.tf_matrix_ids(hits))
    assert ranks.groupby("line")["analysis"].unique().map(tuple).to_dict() == {
        "HepG2": an.DRIVER_ANALYSES["HepG2"],
        "K562": an.DRIVER_ANALYSES["K562"],
    }
    own = ranks[ranks["analysis"] == "HepG2"].set_index("driver")
    assert own.loc["a", "tf"] == "A" and own.loc["a", "rank"] == 1
    assert own.loc["a", "cluster_rank"] == 1 and own.loc["a", "cluster_lead"] == "A"
    assert np.isnan(own.loc["HNF4A", "cluster_rank"])  # not tested: no cluster rank
    assert ranks.loc[ranks["analysis"] == "K562@union", "role"].unique().tolist() == [
        "other line's ChromTransfer (all regions)"
    ]
    plain = an.driver_rank_table(enr, drivers, an.tf_matrix_ids(hits))
    assert "cluster_rank" not in plain


def test_width_bias_is_the_rank_correlation_of_d_and_motif_width() -> None:
    hits = pd.DataFrame({"tf": list("ABC"), "start": 0, "end": [8, 12, 20]})
    assert an.width_bias(_ks([("A", 0.1, 1), ("B", 0.2, 1), ("C", 0.3, 1)]), hits) == 1.0
    assert an.width_bias(_ks([("A", 0.3, 1), ("B", 0.2, 1), ("C", 0.1, 1)]), hits) == -1.0
    assert np.isnan(an.width_bias(_ks([("A", 0.3, 1), ("B", 0.2, 1)]), hits))


# --- cache --------------------------------------------------------------------------------------


def test_file_key_follows_content(tmp_path) -> None:
    p = tmp_path / "model.keras"
    p.write_bytes(b"one")
    k1 = cache.file_key(p)
    p.write_bytes(b"two")
    assert cache.file_key(p) != k1
    assert k1 == hashlib.sha256(b"one").hexdigest()[:16]  # the keys of recorded runs hold


def _scan_ctx(tmp_path):
    return SimpleNamespace(
        run_dir=tmp_path,
        profile=SimpleNamespace(
            interpret=SimpleNamespace(p_value=1e-4, jaspar_release="JASPAR2022")
        ),
    )


def _scan_regions() -> reg.RegionSet:
    codes = np.random.default_rng(0).integers(0, 4, (4, 120)).astype(np.uint8)
    return reg.RegionSet(codes, pd.DataFrame({"in_X": [True] * 4}), "abc", pd.DataFrame())


def test_scan_is_cached_in_the_run_directory(tmp_path) -> None:
    ctx, regions = _scan_ctx(tmp_path), _scan_regions()
    first = cache.ensure_scan(ctx, regions)
    files = sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "interpret").rglob("*"))
    assert len(files) == 3 and first.n_matrices == 841  # the folder, hits and unreachable
    assert len(first.hits) > 0 and set(first.hits["region"]) <= set(range(4))
    again = cache.ensure_scan(ctx, regions)
    pd.testing.assert_frame_equal(first.hits, again.hits)
    assert (
        sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "interpret").rglob("*")) == files
    )


def _broken_parquet(monkeypatch) -> None:
    """Make every parquet write leave a partial file and fail, as a kill mid-write would."""

    def broken(self, path, *args, **kwargs):
        Path(path).write_bytes(b"PAR1 partial")
        raise OSError("killed while writing")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", broken)


def test_a_scan_killed_while_writing_is_not_reused(tmp_path, monkeypatch) -> None:
    from chromtransfer_lib.genome import jaspar

    few = jaspar.load_jaspar(release="JASPAR2022", collection="CORE", tax_group="vertebrates")
    monkeypatch.setattr(jaspar, "load_jaspar", lambda **kw: few[:60])  # 60 of 841: faster
    ctx, regions = _scan_ctx(tmp_path), _scan_regions()
    with monkeypatch.context() as m:
        _broken_parquet(m)
        with pytest.raises(OSError, match="killed"):
            cache.ensure_scan(ctx, regions)
    scan = cache.ensure_scan(ctx, regions)  # scans again instead of reading the partial file
    assert len(scan.hits) > 0 and scan.n_matrices == 60
    pd.testing.assert_frame_equal(
        scan.hits, cache.ensure_scan(_scan_ctx(tmp_path / "b"), regions).hits
    )


class _Dataset:
    """The fields of a fine-tuning dataset that :func:`.interpret_cache.ensure_region_set` reads."""

    def __init__(self, tmp_path, line: str, n: int) -> None:
        rng = np.random.default_rng(len(line))
        self.path = tmp_path / f"finetune-{line}"
        self.codes = rng.integers(0, 4, (n, 12)).astype(np.uint8)
        self.labels = (np.arange(n) % 2).astype(int)
        self.regions = _region_table(list(range(0, 50 * n, 50)), length=12).assign(y=self.labels)

    def __len__(self) -> int:
        return len(self.labels)


def _region_stage(tmp_path, monkeypatch):
    """A run context, datasets and model files for ensure_region_set (predictions patched)."""
    import chromtransfer_lib.data.pipeline as pipeline

    monkeypatch.setattr(
        pipeline, "predict_proba", lambda model, codes: np.linspace(0, 1, len(codes))
    )
    ctx = SimpleNamespace(
        run_dir=tmp_path,
        profile=SimpleNamespace(seed=0, interpret=SimpleNamespace(max_regions=3)),
    )
    datasets = SimpleNamespace(finetune={ln: _Dataset(tmp_path, ln, 8) for ln in ("HepG2", "K562")})
    paths = {}
    for line in ("HepG2", "K562"):
        paths[line] = tmp_path / f"{line}.keras"
        paths[line].write_bytes(line.encode())
    return ctx, datasets, cache.InterpretModels({ln: None for ln in paths}, paths)


def test_region_set_is_selected_once_and_cached(tmp_path, monkeypatch) -> None:
    ctx, datasets, models = _region_stage(tmp_path, monkeypatch)
    rs = cache.ensure_region_set(ctx, datasets, models)
    assert rs.selection["predicted positive"].tolist() == [4, 4]  # p = 4/7 … 1 of 8 rows
    assert rs.selection["analysed"].tolist() == [3, 3] and len(rs.regions) == 3  # same windows
    again = cache.ensure_region_set(ctx, datasets, models)
    assert again.key == rs.key
    pd.testing.assert_frame_equal(again.regions, rs.regions)
    np.testing.assert_array_equal(again.codes, rs.codes)


def test_a_region_set_killed_while_writing_is_not_reused(tmp_path, monkeypatch) -> None:
    ctx, datasets, models = _region_stage(tmp_path, monkeypatch)
    with monkeypatch.context() as m:
        _broken_parquet(m)
        with pytest.raises(OSError, match="killed"):
            cache.ensure_region_set(ctx, datasets, models)
    rs = cache.ensure_region_set(ctx, datasets, models)  # selects again
    assert len(rs.regions) == 3 and rs.codes.shape == (3, 12)


# --- attribution target --------------------------------------------------------------------------


def test_logit_model_shares_weights_and_rescales_probability_gradients() -> None:
    import keras

    from chromtransfer_lib.data.pipeline import predict_proba
    from chromtransfer_lib.interpret.attribution import grad_x_input, logit_model

    keras.utils.set_random_seed(0)
    x = keras.Input((30, 4))
    h = keras.layers.Dense(3, activation="relu")(keras.layers.Flatten()(x))
    model = keras.Model(x, keras.layers.Dense(1, activation="sigmoid")(h))
    codes = np.random.default_rng(0).integers(0, 4, (6, 30)).astype(np.uint8)
    logits = logit_model(model)
    p = predict_proba(model, codes)
    z = predict_proba(logits, codes)
    np.testing.assert_allclose(1 / (1 + np.exp(-z)), p, rtol=1e-5, atol=1e-6)
    # d p / d x = p (1 - p) d z / d x, base by base
    g_p, g_z = grad_x_input(model, codes), grad_x_input(logits, codes)
    np.testing.assert_allclose(g_p, (p * (1 - p))[:, None] * g_z, rtol=1e-4, atol=1e-7)
    softmax = keras.Model(x, keras.layers.Dense(3, activation="softmax")(h))
    with pytest.raises(ValueError, match="sigmoid"):
        logit_model(softmax)


def test_saturation_bins_group_regions_by_probability() -> None:
    proba = np.array([0.6, 0.95, 0.995, 0.9995, 0.3])
    g_logit = np.ones((5, 4))
    g_prob = (proba * (1 - proba))[:, None] * g_logit
    table = tables.saturation_bins(g_logit, g_prob, proba, np.arange(4))
    assert table["regions"].tolist() == [1, 1, 1, 1]
    col = table["median max |g×i|, probability"].to_numpy()
    assert np.all(np.diff(col) < 0)  # probability gradients shrink as p approaches 1


def test_pick_rows_prefers_true_positives_and_is_seeded() -> None:
    table = pd.DataFrame({"in_A": [True] * 6 + [False], "y_A": [1, 1, 0, 1, 1, np.nan, np.nan]})
    rs = reg.RegionSet(np.zeros((7, 5), np.uint8), table, "k", pd.DataFrame())
    proba = np.array([0.9, 0.2, 0.99, 0.7, 0.6, 0.8, 1.0])
    top = reg.pick_rows(rs, proba, line="A", n=2)
    np.testing.assert_array_equal(top, [0, 3])  # true positives (y = 1, p >= 0.5), best first
    sample = reg.pick_rows(rs, proba, line="A", n=2, random_state=1)
    assert set(sample) <= {0, 3, 4} and len(sample) == 2
    np.testing.assert_array_equal(sample, reg.pick_rows(rs, proba, line="A", n=2, random_state=1))


def test_region_set_names_windows_and_lists_its_lines() -> None:
    table = _region_table([1000, 2_000_000]).assign(in_HepG2=[True, False], in_K562=True)
    rs = reg.RegionSet(np.zeros((2, 10), np.uint8), table, "k", pd.DataFrame())
    assert rs.lines == ["HepG2", "K562"]
    assert rs.window_name(1) == "chr1:2,000,005-2,000,015"

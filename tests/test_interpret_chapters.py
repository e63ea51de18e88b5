"""The tables, figures, metrics and glued numbers of chapters 6 and 7, on one tiny inline run.

Four analysed windows of 20 bp (HepG2 rows 0–2, K562 rows 2–3), eight predicted sites of three
TFs (A, B, CEBPA), three planted driver sites, and KS tables written out by hand, so each
expected table below can be checked by eye.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from chromtransfer_lib.book import interpret_analyses as an
from chromtransfer_lib.book import interpret_figures as figures
from chromtransfer_lib.book import interpret_numbers as numbers
from chromtransfer_lib.book import interpret_tables as tables
from chromtransfer_lib.book.interpret_cache import InterpretModels, Scan
from chromtransfer_lib.book.interpret_regions import RegionSet
from chromtransfer_lib.book.interpretation import Attribution, IsmCheck
from chromtransfer_lib.config import InterpretConfig

HITS = pd.DataFrame(
    [
        (0, "A", "MA1", 2, 8, "+"),
        (0, "CEBPA", "MA3", 10, 18, "+"),
        (1, "A", "MA1", 4, 10, "-"),
        (1, "B", "MA2", 12, 18, "+"),
        (2, "B", "MA2", 0, 6, "+"),
        (2, "CEBPA", "MA3", 8, 16, "+"),
        (3, "B", "MA2", 3, 9, "+"),
        (3, "CEBPA", "MA3", 12, 20, "-"),
    ],
    columns=["region", "tf", "matrix_id", "start", "end", "strand"],
)
PLANTED = pd.DataFrame(
    [
        (0, "A", "MA1", "driver", 2, 8, "+"),  # scanned: the hit has the same bases
        (1, "A", "MA1", "driver", 5, 11, "+"),  # missed: the hit is one base off
        (3, "B", "MA2", "driver", 3, 9, "+"),
        (3, "X", "MA9", "background", 0, 2, "+"),
    ],
    columns=["region", "tf", "matrix_id", "role", "start", "end", "strand"],
)
SELECTION = pd.DataFrame(
    {
        "cell_line": ["HepG2", "K562"],
        "rows (train + test)": [50, 40],
        "labelled positive": [10, 12],
        "predicted positive": [3, 0],
        "analysed": [3, 2],
        "fallback": [False, True],
    }
)
CONFIG = InterpretConfig(
    max_regions=3,
    ism_regions=2,
    p_value=1e-5,
    min_sites=2,
    fdr=0.05,
    example_regions=1,
    jaspar_release="JASPAR2022",
)


def _ks(rows: list[tuple[str, float, bool]]) -> pd.DataFrame:
    tf, d, sig = zip(*rows, strict=True)
    return pd.DataFrame(
        {"tf": tf, "n_sites": 3, "D_signed": d, "fdr": [0.01 if s else 0.5 for s in sig]}
    ).assign(significant=list(sig))


#: Hand-written KS tables of every analysis (the driver ranks below follow from them).
KS = {
    "HepG2": _ks([("A", 0.6, True), ("CEBPA", 0.2, True), ("B", -0.3, True)]),
    "pretrained@HepG2": _ks([("CEBPA", 0.4, True), ("A", 0.1, False), ("B", -0.1, False)]),
    "scratch_HepG2": _ks([("CEBPA", 0.3, True), ("A", 0.2, True)]),
    "K562": _ks([("B", 0.7, True), ("CEBPA", 0.1, False)]),
    "pretrained@K562": _ks([("A", 0.2, True), ("B", 0.1, True)]),
    "pretrained": _ks([("A", 0.1, False)]),
    "HepG2@union": _ks([("A", 0.5, True), ("B", -0.2, True), ("CEBPA", 0.1, False)]),
    "K562@union": _ks([("A", -0.1, False), ("B", 0.4, True), ("CEBPA", 0.0, False)]),
    "HepG2-pretrained": _ks([("A", 0.3, True)]),
    "K562-pretrained": _ks([("B", 0.2, False)]),
    "HepG2-K562": _ks([("A", 0.6, True), ("B", -0.5, True)]),
}
#: A and CEBPA are look-alikes.
CLUSTERS = pd.Series({"A": 1, "B": 2, "CEBPA": 1})


def _attribution(tmp_path: Path, *, planted: bool = True) -> Attribution:
    regions = pd.DataFrame(
        {
            "chrom": "chr1",
            "start": [1000, 2000, 3000, 4000],
            "end": [1020, 2020, 3020, 4020],
            "in_HepG2": [True, True, True, False],
            "in_K562": [False, False, True, True],
            "y_HepG2": [1, 1, 1, np.nan],
            "y_K562": [np.nan, np.nan, 1, 1],
        }
    )
    codes = np.tile(np.arange(4, dtype=np.uint8), (4, 5))
    gxi = {m: np.zeros((4, 20)) for m in ("HepG2", "K562", "pretrained", "scratch_HepG2")}
    gxi["HepG2"][0, 4] = 5.0  # inside A's planted and scanned site
    gxi["HepG2"][1, 1] = -3.0
    gxi["K562"][3, 5] = 4.0  # inside B's planted site
    proba = {
        "HepG2": np.array([0.6, 0.95, 0.995, 0.205]),
        "K562": np.array([0.1, 0.2, 0.7, 0.9]),
        "pretrained": np.array([0.5, 0.5, 0.5, 0.5]),
        "scratch_HepG2": np.array([0.3, 0.6, 0.9, 0.0]),
    }
    paths = {"HepG2": tmp_path / "models" / "h.keras", "pretrained": Path("/elsewhere/p.keras")}
    return Attribution(
        run_dir=tmp_path,
        config=CONFIG,
        seed=0,
        source="simulated",
        models=InterpretModels({}, paths),
        regions=RegionSet(codes, regions, "k", SELECTION),
        gxi=gxi,
        proba=proba,
        scan=Scan(HITS, pd.DataFrame({"matrix_id": ["M1", "M2", "M3"], "width": [5, 5, 6]}), 10),
        planted=PLANTED if planted else None,
        drivers={"HepG2": {"A": "MA1", "Z": None}, "K562": {"B": "MA2"}},
    )


def _enrichment(att: Attribution) -> an.Enrichment:
    sites = an.run_enrichment(HITS, att.gxi, att.regions, min_sites=2, fdr=0.05).sites
    return an.Enrichment(sites, KS, CLUSTERS)


def _ism(att: Attribution) -> IsmCheck:
    rows = np.array([0, 1])
    delta = -att.gxi["HepG2"][rows]
    agreement = pd.DataFrame(
        {
            "tf": ["(all)", "A", "CEBPA"],
            "n": [4, 2, 2],
            "pearson_r": [0.81234, 0.5, 0.25],
            "spearman_r": [0.70001, 1.0, -0.5],
        }
    )
    sites = an.ism_site_table(HITS, att.gxi["HepG2"], delta, rows)
    return IsmCheck("HepG2", rows, delta, sites, agreement, ["CEBPA"])


# --- chapter 6 tables ---------------------------------------------------------------------------


def test_models_table_names_files_relative_to_the_run(tmp_path) -> None:
    expected = pd.DataFrame(
        {
            "key": ["HepG2", "pretrained"],
            "model": ["HepG2 ChromTransfer", "pre-trained"],
            "file": ["models/h.keras", "/elsewhere/p.keras"],
        }
    )
    pd.testing.assert_frame_equal(tables.models_table(_attribution(tmp_path)), expected)


def test_selection_table_is_a_copy_of_the_selection(tmp_path) -> None:
    att = _attribution(tmp_path)
    got = tables.selection_table(att)
    pd.testing.assert_frame_equal(got, SELECTION)
    got.loc[0, "analysed"] = 99
    assert att.regions.selection.loc[0, "analysed"] == 3


def test_saturation_table_bins_the_lines_own_regions(tmp_path) -> None:
    att = _attribution(tmp_path)
    gxi_probability = att.gxi["HepG2"] * 0.1
    got = tables.saturation_table(att, gxi_probability, line="HepG2")
    assert [str(b) for b in got.index] == ["(0.5, 0.9]", "(0.9, 0.99]", "(0.99, 0.999]"]
    assert got["regions"].tolist() == [1, 1, 1]  # rows 0, 1, 2 (p 0.6, 0.95, 0.995)
    assert got["median max |g×i|, logit"].tolist() == [5.0, 3.0, 0.0]
    assert got["median max |g×i|, probability"].tolist() == pytest.approx([0.5, 0.3, 0.0])


def test_model_overview_means_per_line(tmp_path) -> None:
    got = tables.model_overview(_attribution(tmp_path))
    expected = pd.DataFrame(
        {
            "mean p, HepG2 regions": [0.848, 0.333, 0.5, 0.6],
            "mean p, K562 regions": [0.6, 0.8, 0.5, 0.45],
            "mean |gradient × input|": [0.1, 0.05, 0.0, 0.0],
        },
        index=pd.Index(
            ["HepG2 ChromTransfer", "K562 ChromTransfer", "pre-trained", "HepG2 binary baseline"],
            name="model",
        ),
    )
    pd.testing.assert_frame_equal(got, expected)


def test_agreement_table_keeps_all_sites_and_the_fig_s3_factors(tmp_path) -> None:
    got = tables.agreement_table(_ism(_attribution(tmp_path)))
    expected = pd.DataFrame(
        {"tf": ["(all)", "CEBPA"], "n": [4, 2], "pearson_r": [0.812, 0.25]}
    ).assign(spearman_r=[0.7, -0.5])
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected)


# --- chapter 7 tables ---------------------------------------------------------------------------


def test_unreachable_table_counts_matrices_by_width(tmp_path) -> None:
    got = tables.unreachable_table(_attribution(tmp_path))
    assert got.index.tolist() == ["matrices never reaching the threshold"]
    assert got.columns.tolist() == [5, 6] and got.iloc[0].tolist() == [2, 1]


def test_ks_overview_has_one_row_per_analysis(tmp_path) -> None:
    att = _attribution(tmp_path)
    got = tables.ks_overview(att, _enrichment(att)).set_index("analysis")
    assert len(got) == 11
    row = got.loc["HepG2 ChromTransfer"]
    assert row["sites"] == 6 and row["TFs tested"] == 3 and row["significant"] == 3
    assert row["top 5 (significant, D > 0)"] == "A, CEBPA"
    # D ranks A 3, CEBPA 2, B 1 against median widths 6, 8, 6: no rank correlation
    assert row["ρ(D, motif width)"] == 0.0
    assert got.loc["K562 ChromTransfer", "top 5 (significant, D > 0)"] == "B"


def test_d_versus_table_sorts_by_the_difference(tmp_path) -> None:
    got = tables.d_versus_table(_enrichment(_attribution(tmp_path)))
    expected = pd.DataFrame(
        {
            "tf": ["A", "B", "CEBPA"],
            "D_a": [0.5, -0.2, 0.1],
            "D_b": [-0.1, 0.4, 0.0],
            "D_diff": [0.6, -0.5, np.nan],
            "significant_diff": [True, True, False],
        }
    )
    pd.testing.assert_frame_equal(got, expected)


def test_driver_counts_per_line_and_analysis(tmp_path) -> None:
    att = _attribution(tmp_path)
    got = tables.driver_counts(att, _enrichment(att))
    other = "other line's ChromTransfer (all regions)"
    expected = pd.DataFrame(
        [
            ("HepG2", "HepG2 ChromTransfer", "ChromTransfer", 2, 1, 1, 1),
            ("HepG2", "pre-trained (HepG2 regions)", "pre-trained", 2, 1, 0, 0),
            ("HepG2", "HepG2 binary baseline", "binary baseline", 2, 1, 1, 1),
            ("HepG2", "K562 ChromTransfer (all regions)", other, 2, 1, 0, 0),
            ("K562", "K562 ChromTransfer", "ChromTransfer", 1, 1, 1, 1),
            ("K562", "pre-trained (K562 regions)", "pre-trained", 1, 1, 1, 1),
            ("K562", "HepG2 ChromTransfer (all regions)", other, 1, 1, 0, 0),
        ],
        columns=["line", "model", "role", "drivers", "tested", "in top 5", "in top 5 clusters"],
    )
    pd.testing.assert_frame_equal(got, expected)


def test_cluster_table_lists_lead_and_members(tmp_path) -> None:
    got = tables.cluster_table(_enrichment(_attribution(tmp_path)), ["HepG2", "K562"], n=2)
    expected = pd.DataFrame(
        {"HepG2 ChromTransfer": ["A (CEBPA)", ""], "K562 ChromTransfer": ["B", ""]},
        index=pd.RangeIndex(1, 3, name="cluster rank"),
    )
    pd.testing.assert_frame_equal(got, expected)


def test_recovery_table_checks_the_planted_driver_sites(tmp_path) -> None:
    att = _attribution(tmp_path)
    got = tables.recovery_table(att, _enrichment(att))
    expected = pd.DataFrame(
        [
            ("HepG2", "HepG2", "HepG2 ChromTransfer", 2, 0.5, 0.5),
            ("HepG2", "pretrained@HepG2", "pre-trained (HepG2 regions)", 2, 0.5, 0.0),
            ("HepG2", "scratch_HepG2", "HepG2 binary baseline", 2, 0.5, 0.0),
            ("K562", "K562", "K562 ChromTransfer", 1, 1.0, 1.0),
            ("K562", "pretrained@K562", "pre-trained (K562 regions)", 1, 1.0, 0.0),
        ],
        columns=[
            "line",
            "analysis",
            "model",
            "planted driver sites",
            "share scanned",
            "share with high attribution",
        ],
    )
    pd.testing.assert_frame_equal(got, expected)
    real = _attribution(tmp_path, planted=False)
    assert tables.recovery_table(real, _enrichment(real)).empty


# --- metrics and glued numbers ------------------------------------------------------------------


def test_attribution_numbers_are_the_values_the_prose_quotes(tmp_path) -> None:
    att = _attribution(tmp_path)
    got = numbers.attribution_numbers(att, _ism(att))
    assert got == {
        "n_union": 4,
        "max_regions": 3,
        "n_rows_HepG2": 50,
        "n_positive_HepG2": 3,
        "n_analysed_HepG2": 3,
        "n_rows_K562": 40,
        "n_positive_K562": 0,
        "n_analysed_K562": 2,
        "fallback_lines": "K562",
        "p_value": "1e-05",
        "n_hits": 8,
        "n_planted": 4,
        "n_examples": 1,
        "ism_line": "HepG2",
        "n_ism": 2,
        "n_ism_sites": 4,
        "ism_spearman": "0.70",
        "ism_pearson": "0.81",
    }
    empty = IsmCheck(
        "HepG2",
        np.array([0]),
        np.zeros((1, 20)),
        HITS.iloc[:0],
        pd.DataFrame(columns=["tf", "n", "pearson_r", "spearman_r"]),
        [],
    )
    got = numbers.attribution_numbers(att, empty)
    assert (got["n_ism_sites"], got["ism_spearman"], got["ism_pearson"]) == (0, "n/a", "n/a")


def test_attribution_metrics_keep_the_ledger_keys(tmp_path) -> None:
    att = _attribution(tmp_path)
    got = numbers.attribution_metrics(att, _ism(att))
    assert got == {
        "attribution.HepG2.site_spearman_gxi_vs_ism": 0.70001,
        "attribution.HepG2.site_pearson_gxi_vs_ism": 0.81234,
        "attribution.HepG2.ism_regions": 2,
        "attribution.HepG2.ism_sites": 4,
        "attribution.union_regions": 4,
        "attribution.scan_sites": 8,
        "attribution.HepG2.site_spearman_gxi_vs_ism.CEBPA": -0.5,
        "attribution.HepG2.positive_predictions": 3,
        "attribution.HepG2.analysed": 3,
        "attribution.HepG2.fallback": False,
        "attribution.K562.positive_predictions": 0,
        "attribution.K562.analysed": 2,
        "attribution.K562.fallback": True,
    }


def test_enrichment_numbers_are_the_values_the_prose_quotes(tmp_path) -> None:
    att = _attribution(tmp_path)
    got = numbers.enrichment_numbers(att, _enrichment(att))
    expected = {
        "p_value": "1e-05",
        "n_matrices": 10,
        "n_unreachable": 3,
        "n_hits": 8,
        "n_regions": 4,
        "n_tfs_enough": 3,
        "min_sites": 2,
        "fdr": "0.05",
        "data_source": "simulated",
        "n_tested_tfs": 3,
        "n_clusters": 2,
        "cluster_threshold": "0.75",
        "drivers_HepG2": "A, Z",
        "drivers_K562": "B",
        "n_tested_HepG2": 3,
        "n_significant_HepG2": 3,
        "n_drivers_HepG2": 2,
        "top5_HepG2": 1,
        "top5_names_HepG2": "A",
        "best_driver_HepG2": "A",
        "best_rank_HepG2": 1,
        "top5_pre_HepG2": 0,
        "top5_scratch_HepG2": 1,
        "top5_control_HepG2": 0,
        "control_HepG2": "K562 ChromTransfer (all regions)",
        "cl_top5_HepG2": 1,
        "cl_which_HepG2": "A #1",
        "cl_top5_pre_HepG2": 0,
        "n_tested_K562": 2,
        "n_significant_K562": 1,
        "n_drivers_K562": 1,
        "top5_K562": 1,
        "top5_names_K562": "B",
        "best_driver_K562": "B",
        "best_rank_K562": 1,
        "top5_pre_K562": 1,
        "top5_control_K562": 0,
        "control_K562": "HepG2 ChromTransfer (all regions)",
        "cl_top5_K562": 1,
        "cl_which_K562": "B #1",
        "cl_top5_pre_K562": 1,
    }
    assert got == expected


def test_enrichment_metrics_keep_their_keys(tmp_path) -> None:
    att = _attribution(tmp_path)
    got = numbers.enrichment_metrics(att, _enrichment(att))
    assert got["enrichment.scan.n_matrices"] == 10 and got["enrichment.scan.n_sites"] == 8
    assert got["enrichment.HepG2.top_tfs"] == ["A", "CEBPA", "B"]
    assert got["enrichment.HepG2.top_clusters"] == [["A", "CEBPA"]]
    assert got["enrichment.pretrained_HepG2.n_significant"] == 1
    assert got["enrichment.HepG2_minus_K562.top_tfs"] == ["A", "B"]
    assert got["enrichment.HepG2.driver_ranks"] == {"A": 1, "Z": None}
    assert got["enrichment.HepG2.drivers_in_top5"] == 1
    assert got["enrichment.scratch_HepG2.drivers_in_top5"] == 1
    assert got["enrichment.pretrained.HepG2_drivers_in_top5"] == 0
    assert got["enrichment.pretrained.K562_drivers_in_top5_clusters"] == 1
    assert got["enrichment.K562.HepG2_drivers_in_top5"] == 0  # the cross-line control
    assert got["enrichment.recovery.HepG2.HepG2.frac_scanned"] == 0.5
    assert got["enrichment.recovery.K562.K562.frac_high"] == 1.0
    headline = numbers.headline_metrics(got)
    assert headline["enrichment.K562.drivers_in_top5"] == 1
    assert all(k.endswith(("top_tfs", "in_top5")) for k in headline)
    real = _attribution(tmp_path, planted=False)
    assert not any("recovery" in k for k in numbers.enrichment_metrics(real, _enrichment(real)))


# --- figures ------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Attempting to set identical low and high ylims")  # 0-tracks
def test_every_figure_draws_from_the_tiny_run(tmp_path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    att = _attribution(tmp_path)
    enr, ism = _enrichment(att), _ism(att)
    drawn = {
        "tracks": figures.fig3_tracks(att, line="HepG2"),
        "tracks2": figures.fig3_tracks(att, line="HepG2", n=2),
        "s3_track": figures.fig_s3_track(att, ism),
        "s3": figures.fig_s3_agreement(ism),
        "s4": figures.fig_s4_rankings(att, enr),
        "s5": figures.fig_s5_fine_tuning(att, enr),
        "ecdf": figures.fig3_ecdf(enr),
        "3g": figures.fig3g_scatter(att, enr),
        "ranks": figures.driver_rank_figure(att, enr),
        "recovery": figures.recovery_figure(att, enr),
    }
    for name, fig in drawn.items():
        if hasattr(fig, "savefig"):
            fig.savefig(tmp_path / f"{name}.png")
        else:
            fig.save(tmp_path / f"{name}.png", verbose=False)
    assert len(list(tmp_path.glob("*.png"))) == len(drawn)
    assert len(drawn["tracks2"].subfigs) == 2  # two regions, one figure
    assert not plt.get_fignums()  # closed in pyplot: a notebook shows each once
    real = _attribution(tmp_path, planted=False)
    assert figures.recovery_figure(real, _enrichment(real)) is None
    assert figures.fig3_tracks(att, line="HepG2", n=0) is None

"""Look-alike clusters of JASPAR matrices and rankings read per cluster."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from chromtransfer_lib.book import interpret_analyses as an
from chromtransfer_lib.genome.jaspar import load_jaspar
from chromtransfer_lib.interpret import clusters as mc


def _counts(seq: str, n: float = 20.0) -> np.ndarray:
    """A sharp count matrix ``(4, w)`` spelling ``seq``."""
    out = np.zeros((4, len(seq)))
    for j, b in enumerate(seq):
        out["ACGT".index(b), j] = n
    return out


def _revcomp(seq: str) -> str:
    return seq[::-1].translate(str.maketrans("ACGT", "TGCA"))


def test_similarity_sees_containment_shift_and_reverse_strand() -> None:
    core = "TGACTCAT"
    assert mc.matrix_similarity(_counts(core), _counts(core)) == pytest.approx(1.0)
    # contained in a longer matrix, on either strand: still 1
    assert mc.matrix_similarity(_counts(core), _counts("GG" + core + "CA")) == pytest.approx(1.0)
    assert mc.matrix_similarity(_counts(core), _counts(_revcomp("GG" + core))) == pytest.approx(1.0)
    # symmetric, and unrelated sequences score far lower
    a, b = _counts("GATAAGGA"), _counts("CCGCGCCC")
    assert mc.matrix_similarity(a, b) == pytest.approx(mc.matrix_similarity(b, a))
    assert mc.matrix_similarity(a, b) < 0.5


def test_overhang_limit_keeps_a_half_overlap_apart() -> None:
    # the last four columns of one equal the first four of the other: 4 of 8 columns overlap
    a, b = _counts("ACGTGGCC"), _counts("GGCCTTAA")
    assert mc.matrix_similarity(a, b, max_overhang=4) > mc.matrix_similarity(a, b, max_overhang=2)


def test_real_jaspar_look_alikes_cluster_together_and_apart() -> None:
    wanted = ["CEBPA", "CEBPD", "GATA1", "GATA2", "HNF4A", "CTCF", "FOS::JUN", "JUNB"]
    by_name = {m.name: m for m in load_jaspar()}
    tf_ids = {n: {by_name[n].matrix_id} for n in wanted}
    cl = mc.tf_clusters(tf_ids, load_jaspar())
    assert (
        cl["CEBPA"] == cl["CEBPD"] and cl["GATA1"] == cl["GATA2"] and cl["FOS::JUN"] == cl["JUNB"]
    )
    assert len({cl["CEBPA"], cl["GATA1"], cl["HNF4A"], cl["CTCF"], cl["FOS::JUN"]}) == 5
    with pytest.raises(KeyError, match="no JASPAR matrix"):
        mc.tf_clusters({"X": {"MA9999.9"}}, load_jaspar())


def test_cluster_ranking_and_driver_counts() -> None:
    ks = pd.DataFrame(
        {
            "tf": ["A1", "A2", "B", "C", "D", "E", "F", "G"],
            "D_signed": [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, -0.5],
            "significant": [True, True, True, True, True, True, True, True],
            "fdr": [1e-6] * 8,
        }
    )
    clusters = pd.Series({"A1": 1, "A2": 1, "B": 2, "C": 3, "D": 4, "E": 5, "F": 6, "G": 7})
    r = mc.cluster_ranking(ks, clusters)
    assert r["lead"].tolist() == ["A1", "B", "C", "D", "E", "F"]  # G: negative D, left out
    assert r.loc[0, "members"] == "A1, A2" and r["rank"].tolist() == [1, 2, 3, 4, 5, 6]
    # per matrix, F is 7th; per cluster it is 6th; A2 shares the top cluster
    ranks = an.with_cluster_ranks(an.driver_ranks(ks, ["a2", "F", "G"]), ks, clusters)
    assert ranks["cluster_rank"].tolist()[:2] == [1, 6] and np.isnan(ranks["cluster_rank"][2])
    assert ranks["cluster_lead"].tolist()[:2] == ["A1", "F"] and pd.isna(ranks["cluster_lead"][2])
    assert an.drivers_in_top(ranks, n=5, column="cluster_rank") == 1
    assert an.drivers_in_top(ranks, n=6, column="cluster_rank") == 2
    with pytest.raises(KeyError, match="without a cluster"):
        mc.cluster_ranking(ks, clusters.drop("B"))


def test_cluster_matrices_threshold() -> None:
    sim = pd.DataFrame(
        [[1.0, 0.9, 0.1], [0.9, 1.0, 0.2], [0.1, 0.2, 1.0]], index=list("xyz"), columns=list("xyz")
    )
    assert mc.cluster_matrices(sim, threshold=0.8).tolist() == [1, 1, 2]
    assert mc.cluster_matrices(sim, threshold=0.95).tolist() == [1, 2, 3]
    assert mc.cluster_matrices(sim.iloc[:1, :1]).tolist() == [1]

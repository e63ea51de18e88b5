"""Tests for chromtransfer_lib.genome.jaspar: the offline JASPAR 2022 loader and name resolution."""

from __future__ import annotations

import numpy as np
import pytest

from chromtransfer_lib.genome.jaspar import (
    JasparMatrix,
    UnknownMotifError,
    load_jaspar,
    resolve_motifs,
)


@pytest.fixture(scope="module")
def matrices() -> tuple[JasparMatrix, ...]:
    return load_jaspar()


def test_jaspar2022_core_vertebrates_has_841_matrices(matrices):
    assert len(matrices) == 841
    assert len({m.matrix_id for m in matrices}) == 841
    assert [m.matrix_id for m in matrices] == sorted(m.matrix_id for m in matrices)


def test_loader_is_cached_and_read_only(matrices):
    assert load_jaspar() is matrices
    with pytest.raises(ValueError, match="read-only"):
        matrices[0].counts[0, 0] = 1.0


def test_ctcf_matrix_matches_published_counts(matrices):
    # MA0139.1 (CTCF), first column from the JASPAR 2022 flat file: A 87 C 291 G 76 T 459
    (ctcf,) = resolve_motifs(["MA0139.1"], matrices)
    assert ctcf.name == "CTCF"
    assert ctcf.width == 19
    np.testing.assert_array_equal(ctcf.counts[:, 0], [87, 291, 76, 459])
    assert ctcf.consensus == "TGGCCACCAGGGGGCGCTA"
    p = ctcf.probabilities()
    np.testing.assert_allclose(p.sum(axis=0), 1.0)
    assert (ctcf.probabilities(pseudocount=1.0) > 0).all()


def test_resolution_by_name_id_and_base_id(matrices):
    spi1, nrf1, ctcf, hnf1a, by_base = resolve_motifs(
        ["SPI1", "nrf1", "CTCF", "HNF1A", "ma0148"], matrices
    )
    assert (spi1.matrix_id, spi1.name) == ("MA0080.6", "Spi1")  # mouse matrix, mixed case
    assert nrf1.name == "Nrf1"
    assert ctcf.matrix_id == "MA0139.1"  # lowest base ID among MA0139.1, MA1929.1, MA1930.1
    assert hnf1a.matrix_id == "MA0046.2"  # exact-case human HNF1A over mouse Hnf1A (MA1991.1)
    assert by_base.matrix_id == "MA0148.4" and by_base.name == "FOXA1"
    (other_ctcf,) = resolve_motifs(["MA1929.1"], matrices)
    assert other_ctcf.name == "CTCF" and other_ctcf.width == 34


def test_dimers_resolve(matrices):
    (gt,) = resolve_motifs(["gata1::tal1"], matrices)
    assert gt.matrix_id == "MA0140.2"


def test_unknown_names_are_reported_with_close_matches(matrices):
    with pytest.raises(UnknownMotifError) as err:
        resolve_motifs(["HNF4A", "HNF4Z", "NOT_A_TF_AT_ALL"], matrices)
    msg = str(err.value)
    assert "'HNF4Z'" in msg and "HNF4A" in msg.split("'HNF4Z'")[1]
    assert "'NOT_A_TF_AT_ALL'" in msg and "no close name" in msg
    assert "MA0139.1" in msg  # says what to do

"""Codes, one-hot, reverse complement and FASTA extraction against plain-Python references."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
from Bio import bgzf

from chromtransfer_lib.genome import sequence as sq

REF_CODE = {"A": 0, "C": 1, "G": 2, "T": 3}
REF_COMP = {"A": "T", "C": "G", "G": "C", "T": "A", "N": "N"}


def ref_codes(s: str) -> list[int]:
    return [REF_CODE.get(ch.upper(), 4) for ch in s]


def ref_one_hot(s: str) -> np.ndarray:
    out = np.zeros((len(s), 4), dtype=np.float32)
    for i, ch in enumerate(s.upper()):
        if ch in REF_CODE:
            out[i, REF_CODE[ch]] = 1.0
    return out


def test_codes_one_hot_round_trip_and_n_rows():
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGTNacgtnRYkm"), size=37)) for _ in range(20)]
    codes = sq.encode_sequences(seqs)
    assert codes.dtype == np.uint8 and codes.shape == (20, 37)
    assert codes.tolist() == [ref_codes(s) for s in seqs]
    x = sq.one_hot(codes)
    assert x.dtype == np.float32 and x.shape == (20, 37, 4)
    np.testing.assert_array_equal(x, np.stack([ref_one_hot(s) for s in seqs]))
    assert (x[codes == 4] == 0).all() and (x[codes < 4].sum(-1) == 1).all()
    np.testing.assert_array_equal(sq.codes_from_one_hot(x), codes)
    expected = ["".join(ch if ch in "ACGT" else "N" for ch in s.upper()) for s in seqs]
    assert sq.decode_sequences(codes) == expected


def test_invalid_letter_is_named():
    with pytest.raises(sq.SequenceError, match=r"invalid letter 'X' at position 2"):
        sq.encode_sequences(["ACXT"])


def test_reverse_complement_matches_reference():
    rng = np.random.default_rng(1)
    seqs = ["".join(rng.choice(list("ACGTN"), size=25)) for _ in range(10)]
    rc = sq.decode_sequences(sq.reverse_complement(sq.encode_sequences(seqs)))
    assert rc == ["".join(REF_COMP[c] for c in reversed(s)) for s in seqs]
    codes = sq.encode_sequences(seqs)
    np.testing.assert_array_equal(sq.reverse_complement(sq.reverse_complement(codes)), codes)


def test_gc_and_n_fraction():
    codes = sq.encode_sequences(["GGCCAATT", "NNNNNNNN", "GNNNNNNA"])
    np.testing.assert_allclose(sq.n_fraction(codes), [0, 1, 0.75])
    gc = sq.gc_fraction(codes)
    assert gc[0] == 0.5 and np.isnan(gc[1]) and gc[2] == 0.5


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    """Two chromosomes in plain (60 columns), CRLF (50 columns) and bgzip FASTA."""
    rng = np.random.default_rng(2)
    chroms = {
        "chr1": "".join(rng.choice(list("ACGTacgtNNRy"), size=2003)),
        "chr2": "".join(rng.choice(list("ACGT"), size=120)),  # exactly two 60-col lines
        "chrM": "ACGTA",
    }
    d = tmp_path_factory.mktemp("fasta")

    def write(name: str, width: int, nl: str) -> str:
        with open(d / name, "w", newline="") as fh:
            for k, v in chroms.items():
                fh.write(f">{k} some description{nl}")
                for i in range(0, len(v), width):
                    fh.write(v[i : i + width] + nl)
        return str(d / name)

    plain = write("g.fa", 60, "\n")
    crlf = write("crlf.fa", 50, "\r\n")
    with bgzf.BgzfWriter(str(d / "g.fa.gz"), "wb") as w:
        w.write((d / "g.fa").read_bytes())
    (d / "plain_gzip.fa.gz").write_bytes(gzip.compress((d / "g.fa").read_bytes()))
    return {
        "chroms": chroms,
        "plain": plain,
        "crlf": crlf,
        "bgzip": str(d / "g.fa.gz"),
        "gzip": str(d / "plain_gzip.fa.gz"),
    }


@pytest.mark.parametrize("kind", ["plain", "crlf", "bgzip"])
def test_read_chromosome_all_formats(genome, kind):
    assert sq.chrom_sizes(genome[kind]) == {k: len(v) for k, v in genome["chroms"].items()}
    for chrom, seq in genome["chroms"].items():
        codes = sq.read_chromosome(genome[kind], chrom)
        assert codes.tolist() == ref_codes(seq), chrom


@pytest.mark.parametrize("kind", ["plain", "crlf"])
def test_read_chromosome_in_blocks_of_lines(genome, kind, monkeypatch):
    """Plain FASTA is decoded a block of lines at a time: block edges change nothing."""
    monkeypatch.setattr(sq, "_LINES", 3)
    for chrom, seq in genome["chroms"].items():
        assert sq.read_chromosome(genome[kind], chrom).tolist() == ref_codes(seq), chrom


@pytest.mark.parametrize("kind", ["plain", "crlf", "bgzip"])
def test_extract_sequences_equals_brute_force(genome, kind, tmp_path):
    rng = np.random.default_rng(3)
    L = 40
    chrom = rng.choice(["chr1", "chr2"], size=200, p=[0.8, 0.2])
    size = np.where(chrom == "chr1", 2003, 120)
    start = rng.integers(0, size - L + 1)
    regions = pd.DataFrame({"chrom": chrom, "start": start, "end": start + L})
    out = np.lib.format.open_memmap(tmp_path / "c.npy", mode="w+", dtype=np.uint8, shape=(200, L))
    got = sq.extract_sequences(genome[kind], regions, out=out, progress=False)
    assert got is out
    expected = [
        ref_codes(genome["chroms"][c][s : s + L]) for c, s in zip(chrom, start, strict=True)
    ]
    assert np.load(tmp_path / "c.npy").tolist() == expected
    # one-hot of the extracted codes equals the per-base reference
    np.testing.assert_array_equal(
        sq.one_hot(got[:5]),
        np.stack(
            [
                ref_one_hot(genome["chroms"][c][s : s + L])
                for c, s in zip(chrom, start, strict=True)
            ][:5]
        ),
    )


def test_extract_errors(genome):
    fa = genome["plain"]
    with pytest.raises(sq.FastaError, match=r"chromosome naming differs"):
        sq.extract_sequences(fa, pd.DataFrame({"chrom": ["1"], "start": [0], "end": [5]}))
    with pytest.raises(sq.FastaError, match=r"region 1 \(chr2:100-140\) lies outside chr2"):
        sq.extract_sequences(
            fa,
            pd.DataFrame({"chrom": ["chr1", "chr2"], "start": [0, 100], "end": [40, 140]}),
            progress=False,
        )
    with pytest.raises(sq.FastaError, match=r"region 1 .* is 30 bp, expected 40"):
        sq.extract_sequences(
            fa, pd.DataFrame({"chrom": ["chr1", "chr1"], "start": [0, 0], "end": [40, 30]})
        )
    with pytest.raises(sq.FastaError, match="bgzip"):
        sq.open_fasta(genome["gzip"])
    with pytest.raises(sq.FastaError, match="does not exist"):
        sq.open_fasta(genome["plain"] + ".missing")
    empty = sq.extract_sequences(fa, pd.DataFrame({"chrom": [], "start": [], "end": []}), length=7)
    assert empty.shape == (0, 7)


def test_invalid_letter_in_fasta(tmp_path):
    (tmp_path / "bad.fa").write_text(">chr1\nACGT\nAC*T\n")
    with pytest.raises(sq.SequenceError, match=r"bad.fa:chr1: invalid letter at position 6"):
        sq.read_chromosome(tmp_path / "bad.fa", "chr1")

"""Variant scoring: windows against hand-built references and ``predict_proba``, multi-allelic
split, bad rows skipped, counted and named (or an error with ``strict``), planted JASPAR sites
destroyed and created, the dinucleotide shuffle, the null's p-values, both strands, the CLI.

One VCF holds every case and is scored once (the model load and trace dominate the run time)."""

from __future__ import annotations

import argparse
import collections
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from chromtransfer_lib.config import load_profile
from chromtransfer_lib.genome.jaspar import load_jaspar, resolve_motifs
from chromtransfer_lib.genome.sequence import decode_sequences, encode_sequences
from chromtransfer_lib.genome.sequence import reverse_complement as rc
from chromtransfer_lib.genome.shuffle import dinucleotide_shuffle
from chromtransfer_lib.predict import variants as V

L = 100
HEADER = "##fileformat=VCFv4.2\n##contig=<ID=chr1>\n##contig=<ID=chr2>\n" + "\t".join(
    ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]
)
SITE_AT = 1500  #: 0-based start of the intact CTCF site on chr1 (a broken copy at chr2:1000)
INDELS = [(800, 5, 1), (900, 1, 4), (1000, 4, 1), (1100, 1, 8), (1200, 3, 2)]  # pos, r, a
SCORED = {"n_shuffles": 9, "random_state": 3, "max_n_fraction": 0.3}


def _ctcf():
    return resolve_motifs(["MA0139.1"], load_jaspar("JASPAR2022"))


def _site_pair() -> tuple[str, str, int]:
    """CTCF's consensus, a copy with its 4 most informative consecutive bases at their least
    likely letters (no longer a site), and where those 4 bases start."""
    counts = _ctcf()[0].counts
    p = (counts + 0.2) / (counts + 0.2).sum(axis=0)
    info = 2 + (p * np.log2(p)).sum(axis=0)
    i = int(np.argmax(np.convolve(info, np.ones(4), mode="valid")))
    site = "".join("ACGT"[k] for k in counts.argmax(axis=0))
    worst = "".join("ACGT"[k] for k in counts[:, i : i + 4].argmin(axis=0))
    return site, site[:i] + worst + site[i + 4 :], i


def _row(chrom: str, pos: int, ref: str, alt: str, vid: str = ".") -> str:
    return f"{chrom}\t{pos}\t{vid}\t{ref}\t{alt}\t.\tPASS\t."


def _other(base: str) -> str:
    return "C" if base.upper() != "C" else "G"


def _rows(s1: str, s2: str) -> list[str]:
    """Every case, in this order (record numbers in the comments; 4 header lines)."""
    site, broken, i = _site_pair()
    two = ",".join([b for b in "ACGT" if b != s1[399]][:2])
    return [
        _row("chr1", 300, s1[299], _other(s1[299]), "rs1"),  # 1
        _row("chr1", 400, s1[399], two, "rs2"),  # 2: multi-allelic
        _row("chr2", 30, s2[29].lower(), _other(s2[29])),  # 3: 21 % N, lower-case REF
        _row("chr1", 600, _other(s1[599]), "A"),  # 4: REF mismatch, line 8
        _row("chr1", 650, s1[649], "<DEL>"),  # 5
        _row("chr1", 660, s1[659], "*," + _other(s1[659])),  # 6: '*' skipped, the other kept
        _row("chr1", 670, s1[669], f"{s1[669]}]chr2:100]"),  # 7: breakend
        _row("chr1", 680, s1[679:705], s1[679]),  # 8: a 25 bp deletion
        _row("chr3", 10, "A", "G"),  # 9
        _row("chr2", 5, s2[4], _other(s2[4])),  # 10: 46 % N
        _row("chr1", 690, s1[689], "."),  # 11
        *(
            _row("chr1", pos, s1[pos - 1 : pos - 1 + r], s1[pos - 1] + "TGCAGTCA"[: a - 1])
            for pos, r, a in INDELS
        ),  # 12-16
        _row("chr1", SITE_AT + i + 1, site[i : i + 4], broken[i : i + 4]),  # 17: breaks it
        _row("chr2", 1000 + i + 1, broken[i : i + 4], site[i : i + 4]),  # 18: mends it
        _row("chr1", 2400, s1[2399], _other(s1[2399])),  # 19
    ]


def _write_vcf(path: Path, rows: list[str], *, bgzip: bool = False) -> Path:
    text = HEADER + "\n" + "".join(r + "\n" for r in rows)
    if bgzip:
        from Bio import bgzf

        with bgzf.BgzfWriter(str(path), "wb") as fh:
            fh.write(text.encode())
    else:
        path.write_text(text)
    return path


class _Messages(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.text = ""

    def emit(self, record: logging.LogRecord) -> None:
        self.text += record.getMessage() + "\n"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Two random chromosomes (a CTCF site planted on chr1, a broken one on chr2), an untrained
    width-4 model of 100 bp, the VCF of :func:`_rows` and its scores (with CTCF at the book's
    p-value, 9 shuffles), and reference predictors of both strand settings."""
    from chromtransfer_lib.data.pipeline import Predictor
    from chromtransfer_lib.models.network import build_pretrain_model

    d = tmp_path_factory.mktemp("variants")
    rng = np.random.default_rng(0)
    site, broken, _ = _site_pair()
    seqs = {c: "".join(rng.choice(list("ACGT"), n)) for c, n in (("chr1", 3000), ("chr2", 2000))}
    seqs["chr1"] = seqs["chr1"][:SITE_AT] + site + seqs["chr1"][SITE_AT + len(site) :]
    seqs["chr2"] = seqs["chr2"][:1000] + broken + seqs["chr2"][1000 + len(broken) :]
    with open(d / "genome.fa", "w") as fh:
        for c, s in seqs.items():
            fh.write(f">{c}\n" + "".join(s[i : i + 60] + "\n" for i in range(0, len(s), 60)))
    net = build_pretrain_model(seq_len=L, stem_filters=4, res1_filters=4, res2_filters=4,
                               top_filters=4, head_units=(8, 4), random_state=0)  # fmt: skip
    net.save(d / "model.keras")
    vcf = _write_vcf(d / "all.vcf", _rows(seqs["chr1"], seqs["chr2"]))
    logger, messages = logging.getLogger("chromtransfer_lib"), _Messages()  # variants + vcf
    logger.addHandler(messages)
    try:
        summary = V.score_variants(d / "model.keras", genome=d / "genome.fa", vcf=vcf,
                                   out=d / "all.tsv", motifs=_ctcf(),
                                   motif_p_value=load_profile("quick").interpret.p_value,
                                   **SCORED)  # fmt: skip
    finally:
        logger.removeHandler(messages)
    return {"dir": d, "seqs": seqs, "vcf": vcf, "summary": summary, "log": messages.text,
            "table": V.read_variant_scores(d / "all.tsv"), "fwd": Predictor(net),
            "both": Predictor(net, reverse_complement=True)}  # fmt: skip


def _window(seq: str, start: int) -> str:
    """``seq[start : start + L]``, N beyond its ends."""
    return "".join(seq[i] if 0 <= i < len(seq) else "N" for i in range(start, start + L))


def _proba(tiny: dict, windows: list[str], *, strands: str = "fwd") -> np.ndarray:
    from chromtransfer_lib.data.pipeline import predict_proba

    return predict_proba(tiny[strands], encode_sequences(windows)).astype(np.float64)


# ------------------------------------------------------------------ the shuffle


def test_dinucleotide_shuffle_keeps_every_dinucleotide_and_is_seeded() -> None:
    rng = np.random.default_rng(1)
    seq = rng.choice(5, 300, p=[0.3, 0.2, 0.2, 0.28, 0.02]).astype(np.uint8)
    got = dinucleotide_shuffle(seq, n_shuffles=50, random_state=7)

    def pairs(s: np.ndarray) -> collections.Counter:
        return collections.Counter(zip(s[:-1].tolist(), s[1:].tolist(), strict=True))

    assert got.shape == (50, 300) and got.dtype == np.uint8
    assert all(pairs(row) == pairs(seq) for row in got)
    assert (got[:, 0] == seq[0]).all() and (got[:, -1] == seq[-1]).all()
    assert (got != seq).any(axis=1).all() and len({row.tobytes() for row in got}) == 50
    np.testing.assert_array_equal(got, dinucleotide_shuffle(seq, n_shuffles=50, random_state=7))
    assert not np.array_equal(got, dinucleotide_shuffle(seq, n_shuffles=50, random_state=8))
    # uniform over the arrangements: ACAGCACGA has 15, each drawn ~1/15 of the time
    small = encode_sequences(["ACAGCACGA"])[0]
    seen = collections.Counter(
        r.tobytes() for r in dinucleotide_shuffle(small, n_shuffles=3000, random_state=0)
    )
    assert len(seen) == 15 and min(seen.values()) > 150 and max(seen.values()) < 250


# ------------------------------------------------------------------ windows and scores


def test_output_rows_follow_the_vcf_one_per_alt(tiny) -> None:
    t, s = tiny["table"], tiny["summary"]
    assert list(t.columns) == V.COLUMNS
    site_pos = SITE_AT + _site_pair()[2] + 1
    expected = [300, 400, 400, 30, 660, *(pos for pos, *_ in INDELS), site_pos,
                1000 + site_pos - SITE_AT, 2400]  # fmt: skip
    assert t["pos"].tolist() == expected and s.n_records == 19 and s.n_scored == len(expected)
    assert t["id"].tolist()[:4] == ["rs1", "rs2", "rs2", "."]
    s1 = tiny["seqs"]["chr1"]
    assert t["alt"].tolist()[1:3] == [b for b in "ACGT" if b != s1[399]][:2]


def test_snvs_match_predict_proba_on_hand_built_windows(tiny) -> None:
    t = tiny["table"]
    t = t[(t["ref"].str.len() == 1) & (t["alt"].str.len() == 1)]
    assert len(t) == 6  # incl. both ALTs of rs2 and chr2:30, whose window starts with 21 N
    refs, alts = [], []
    for r in t.itertuples():
        seq, p = tiny["seqs"][r.chrom], r.pos - 1
        refs.append(_window(seq, p - L // 2))
        alts.append(_window(seq[:p] + r.alt + seq[p + 1 :], p - L // 2))
    p_ref, p_alt = _proba(tiny, refs), _proba(tiny, alts)
    np.testing.assert_allclose(t["ref_prob"], p_ref, rtol=1e-5)
    np.testing.assert_allclose(t["alt_prob"], p_alt, rtol=1e-5)
    logit = np.log(p_alt / (1 - p_alt)) - np.log(p_ref / (1 - p_ref))
    np.testing.assert_allclose(t["delta_logit"], logit, rtol=1e-4, atol=2e-6)
    np.testing.assert_allclose(t["log2_fold_change"], np.log2(p_alt / p_ref), rtol=1e-4,
                               atol=2e-6)  # fmt: skip


def test_indel_windows_are_recentred_on_each_allele(tiny) -> None:
    s, t = tiny["seqs"]["chr1"], tiny["table"].set_index("pos")
    refs, alts, naive = [], [], []
    for pos, r, a in INDELS:
        p, alt = pos - 1, t.loc[pos, "alt"]
        assert (len(t.loc[pos, "ref"]), len(alt)) == (r, a)
        hap = s[:p] + alt + s[p + r :]  # the ALT haplotype
        refs.append(_window(s, p + r // 2 - L // 2))  # the REF span recentred
        alts.append(_window(hap, p + a // 2 - L // 2))  # the ALT span recentred in it
        naive.append(_window(hap, p + r // 2 - L // 2))  # alt cut where the ref window starts
    got = t.loc[[pos for pos, *_ in INDELS]]
    np.testing.assert_allclose(got["ref_prob"], _proba(tiny, refs), rtol=1e-5)
    np.testing.assert_allclose(got["alt_prob"], _proba(tiny, alts), rtol=1e-5)
    moved = [i for i, (x, y) in enumerate(zip(alts, naive, strict=True)) if x != y]
    assert moved and not np.allclose(got["alt_prob"].to_numpy()[moved],
                                     _proba(tiny, naive)[moved], rtol=1e-6, atol=0)  # fmt: skip


def test_bad_rows_are_skipped_counted_and_named(tiny, tmp_path) -> None:
    assert tiny["summary"].skipped == {"not_in_genome": 1, "ref_mismatch": 1, "symbolic": 4,
                                       "too_long": 1, "too_many_n": 1}  # fmt: skip
    s1, vcf = tiny["seqs"]["chr1"], tiny["vcf"]
    where = f"{vcf}: record 4 (line 8) chr1:600: REF does not match the genome"
    assert f"{where}: expected (VCF REF) '{_other(s1[599])}', found '{s1[599]}'" in tiny["log"]
    assert "record 9 (line 13) chr3:10: no chromosome 'chr3' in the genome" in tiny["log"]
    assert "<DEL>: ALT is not a sequence" in tiny["log"]
    assert "25 bp is longer than the maximum indel length 20" in tiny["log"]
    assert ("skipped 8 alleles: not_in_genome=1, ref_mismatch=1, symbolic=4, too_long=1, "
            "too_many_n=1") in tiny["log"]  # fmt: skip
    summary = tiny["summary"]
    last = (tiny["dir"] / "all.tsv").read_text().splitlines()[-1]
    assert last == (f"# counts: {summary.n_records} records read, {summary.n_scored} alleles "
                    "scored, 8 alleles skipped (not_in_genome=1, ref_mismatch=1, symbolic=4, "
                    "too_long=1, too_many_n=1)")  # fmt: skip
    d = tiny["dir"]
    with pytest.raises(V.VariantError, match=r"record 4 \(line 8\) chr1:600: REF does not"):
        V.score_variants(d / "model.keras", genome=d / "genome.fa", vcf=vcf,
                         out=tmp_path / "strict.tsv", n_shuffles=0, strict=True)  # fmt: skip
    assert not list(tmp_path.iterdir())


def test_planted_site_destroyed_and_created(tiny) -> None:
    t = tiny["table"]
    assert t["sites_destroyed"].tolist() == ["."] * 10 + ["CTCF", ".", "."]
    assert t["sites_created"].tolist() == ["."] * 11 + ["CTCF", "."]


def test_p_values_are_in_the_unit_interval(tiny) -> None:
    p = tiny["table"]["p_value"].to_numpy()
    assert ((p > 0) & (p <= 1)).all() and len(np.unique(p)) > 1
    np.testing.assert_allclose(p * 10, np.round(p * 10))  # (1 + k) / (1 + 9)


def test_the_books_variant_scores_equal_the_clis(tiny) -> None:
    """Chapter 8 scores a designed SNV in its window (``book.variant_truth.score_designed``);
    for an SNV at the window's centre, where the CLI puts it, both give the same Δlogit."""
    from chromtransfer_lib.book.variant_truth import score_designed
    from chromtransfer_lib.models.network import load_model

    t = tiny["table"]
    acgt = t["ref"].isin(list("ACGT")) & t["alt"].isin(list("ACGT"))  # SNVs of the four bases
    t = t[acgt].reset_index(drop=True)
    assert len(t) >= 4
    windows = [_window(tiny["seqs"][r.chrom], r.pos - 1 - L // 2) for r in t.itertuples()]
    designed = pd.DataFrame({
        "window": np.arange(len(t)), "pos": L // 2, "kind": "neutral",
        "ref": ["ACGT".index(b) for b in t["ref"]], "alt": ["ACGT".index(b) for b in t["alt"]],
    })  # fmt: skip
    book = score_designed(load_model(tiny["dir"] / "model.keras"), encode_sequences(windows),
                          designed)  # fmt: skip
    np.testing.assert_allclose(book["delta_logit"], t["delta_logit"], rtol=1e-5, atol=1e-6)


def test_reverse_complement_averages_both_strands(tiny, tmp_path) -> None:
    s1, d = tiny["seqs"]["chr1"], tiny["dir"]
    vcf = _write_vcf(tmp_path / "v.vcf", [_row("chr1", 300, s1[299], _other(s1[299])),
                                          _row("chr1", 1001, s1[1000:1004], s1[1000])])  # fmt: skip
    V.score_variants(d / "model.keras", genome=d / "genome.fa", vcf=vcf, out=tmp_path / "b.tsv",
                     n_shuffles=0, reverse_complement=True)  # fmt: skip
    both = V.read_variant_scores(tmp_path / "b.tsv")
    refs = [_window(s1, 299 - L // 2), _window(s1, 1000 + 2 - L // 2)]
    flipped = decode_sequences(rc(encode_sequences(refs)))
    mean = (_proba(tiny, refs) + _proba(tiny, flipped)) / 2
    np.testing.assert_allclose(both["ref_prob"], mean, rtol=1e-5)
    np.testing.assert_allclose(both["ref_prob"], _proba(tiny, refs, strands="both"), rtol=1e-5)
    assert not np.allclose(both["ref_prob"], _proba(tiny, refs), rtol=1e-6, atol=0)
    assert both["sites_created"].isna().all() and both["p_value"].isna().all()


# ------------------------------------------------------------------ command line, output


def _cli(argv: list[str]) -> int:
    from chromtransfer_lib.cli.variants import add_variants

    parser = argparse.ArgumentParser(prog="chromtransfer")
    add_variants(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_on_bgzip_in_small_chunks_equals_the_library(tiny, tmp_path, capsys) -> None:
    d, text = tiny["dir"], tiny["vcf"].read_text()
    vcf = _write_vcf(tmp_path / "all.vcf.gz", text.split("\n", 4)[4].splitlines(), bgzip=True)
    argv = ["variants", "--model", str(d / "model.keras"), "--genome", str(d / "genome.fa"),
            "--vcf", str(vcf), "--out", str(tmp_path / "o.tsv"), "--motifs", "MA0139.1",
            "--n-shuffles", "9", "--seed", "3", "--max-n-fraction", "0.3", "--chunk-size", "4",
            "--batch-size", "7", "--quiet"]  # fmt: skip
    assert _cli(argv) == 0
    assert "wrote 13 alleles of 19 VCF records" in capsys.readouterr().out
    got = V.read_variant_scores(tmp_path / "o.tsv")  # the model's float32 kernels round by
    pd.testing.assert_frame_equal(got, tiny["table"], rtol=1e-4, atol=1e-6)  # batch: ~1e-7
    lines = (tmp_path / "o.tsv").read_text().splitlines()
    assert lines[0] == "# chromtransfer variants"
    assert lines[3].startswith(f"# vcf: {vcf.resolve()} sha256=")
    motifs = "# motifs: JASPAR2022 CORE vertebrates (MA0139.1): 1 matrices, sites with p < 1e-05"
    assert motifs in lines and "# null: 9 dinucleotide shuffles per allele, random_state=3" in lines
    assert next(x for x in lines if not x.startswith("#")).split("\t") == V.COLUMNS


def test_an_interrupted_write_leaves_no_output(tmp_path) -> None:
    def tables():
        yield pd.DataFrame([["chr1", 1] + ["x"] * 10], columns=V.COLUMNS)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        V._write_tsv(
            tmp_path / "k.tsv", "# chromtransfer variants\n", tables(), lambda: "# counts\n"
        )
    assert not list(tmp_path.iterdir())

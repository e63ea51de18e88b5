"""The genome code cache: decoded once, reused, invalidated by a changed FASTA, equal to the
FASTA's codes in every format, and prediction that does not depend on the BED's order."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from Bio import bgzf

from chromtransfer_lib.genome import cache as gc
from chromtransfer_lib.genome import sequence as sq

#: Upper and soft-masked (lowercase) bases, N and IUPAC letters: all must decode as in FASTA.
LETTERS = list("ACGTacgtNNnRYSWKMBDHVryk")


def _write_fasta(path: Path, chroms: dict[str, str], *, width: int = 60) -> Path:
    with open(path, "w") as fh:
        for name, seq in chroms.items():
            fh.write(f">{name} a description\n")
            fh.writelines(seq[i : i + width] + "\n" for i in range(0, len(seq), width))
    return path


@pytest.fixture
def genome(tmp_path: Path) -> dict[str, object]:
    """Three chromosomes (one of exactly two lines, one shorter than a line) in plain and bgzip
    FASTA, each in its own folder."""
    rng = np.random.default_rng(5)
    chroms = {
        "chr1": "".join(rng.choice(LETTERS, 1999)),
        "chr2": "".join(rng.choice(list("ACGT"), 120)),
        "chrM": "ACGTA",
    }
    (tmp_path / "plain").mkdir()
    (tmp_path / "bgzip").mkdir()
    plain = _write_fasta(tmp_path / "plain" / "g.fa", chroms)
    with bgzf.BgzfWriter(str(tmp_path / "bgzip" / "g.fa.gz"), "wb") as w:
        w.write(plain.read_bytes())
    return {"chroms": chroms, "plain": plain, "bgzip": tmp_path / "bgzip" / "g.fa.gz"}


@pytest.fixture
def decode_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Chromosomes decoded from a FASTA by the cache module (its builder and its reader)."""
    calls: list[str] = []
    real = gc._read_codes

    def counted(fa, chrom):
        calls.append(chrom)
        return real(fa, chrom)

    monkeypatch.setattr(gc, "_read_codes", counted)
    return calls


def _random_regions(sizes: dict[str, int], n: int, length: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    names = [c for c in sizes if sizes[c] >= length]
    chrom = rng.choice(names, n)
    start = rng.integers(0, np.array([sizes[c] for c in chrom]) - length + 1)
    return pd.DataFrame({"chrom": chrom, "start": start, "end": start + length})


# ------------------------------------------------------------------ the cache itself


@pytest.mark.parametrize("kind", ["plain", "bgzip"])
def test_cache_codes_equal_read_chromosome(genome, kind):
    fasta = genome[kind]
    codes = gc.ensure_genome_codes(fasta)
    assert codes.path == Path(f"{fasta}.codes").absolute()
    assert list(codes.sizes) == ["chr1", "chr2", "chrM"]  # FASTA order
    assert codes.path.stat().st_size == sum(len(s) for s in genome["chroms"].values())
    flat = codes.open()
    for chrom, seq in genome["chroms"].items():
        expected = sq.read_chromosome(fasta, chrom)
        np.testing.assert_array_equal(codes.chromosome(chrom, genome=flat), expected)
        assert expected.tolist() == sq.encode_sequences([seq])[0].tolist()  # lowercase, IUPAC
    regions = _random_regions(codes.sizes, 300, 50, seed=1)
    np.testing.assert_array_equal(
        sq.extract_sequences(fasta, regions, progress=False, cache=codes),
        sq.extract_sequences(fasta, regions, progress=False, cache=False),
    )
    meta = json.loads(Path(f"{codes.path}.json").read_text())
    assert meta["format"] == gc.FORMAT and meta["version"] == gc.FORMAT_VERSION
    assert meta["chroms"] == [["chr1", 0, 1999], ["chr2", 1999, 120], ["chrM", 2119, 5]]


def test_cache_built_once_and_reused(genome, decode_calls):
    first = gc.ensure_genome_codes(genome["plain"])
    assert decode_calls == ["chr1", "chr2", "chrM"]
    mtime = first.path.stat().st_mtime_ns
    again = gc.ensure_genome_codes(genome["plain"])
    assert again == first and first.path.stat().st_mtime_ns == mtime
    regions = _random_regions(first.sizes, 50, 40, seed=2)
    got = sq.extract_sequences(genome["plain"], regions, progress=False)  # cache=True: found
    assert decode_calls == ["chr1", "chr2", "chrM"]  # nothing decoded again
    np.testing.assert_array_equal(
        got, sq.extract_sequences(genome["plain"], regions, progress=False, cache=False)
    )
    assert len(decode_calls) == 3 + 2  # cache=False decodes the two chromosomes it reads


def test_changed_fasta_invalidates_the_cache(genome, decode_calls):
    fasta = genome["plain"]
    old = gc.ensure_genome_codes(fasta)
    chroms = dict(genome["chroms"], chr2="T" * 120)  # same size, other letters
    _write_fasta(fasta, chroms)
    os.utime(fasta, ns=(old.path.stat().st_mtime_ns + 10**9,) * 2)
    assert gc.find_genome_codes(fasta) is None
    new = gc.ensure_genome_codes(fasta)
    assert len(decode_calls) == 6  # rebuilt
    assert (new.chromosome("chr2") == 3).all()
    _write_fasta(fasta, {**chroms, "chr3": "ACGT"})  # a new chromosome: another size
    assert gc.find_genome_codes(fasta) is None


def test_touched_fasta_keeps_the_cache_by_sha256(genome, decode_calls):
    fasta = genome["plain"]
    codes = gc.ensure_genome_codes(fasta)
    os.utime(fasta, ns=(fasta.stat().st_mtime_ns + 10**9,) * 2)  # same bytes, new mtime
    assert gc.find_genome_codes(fasta) == codes
    assert decode_calls == ["chr1", "chr2", "chrM"]
    meta = json.loads(Path(f"{codes.path}.json").read_text())
    assert meta["fasta_mtime_ns"] == fasta.stat().st_mtime_ns  # the sidecar caught up


def test_corrupt_cache_is_found_by_verify(genome):
    codes = gc.ensure_genome_codes(genome["plain"])
    with open(codes.path, "r+b") as fh:
        fh.seek(7)
        fh.write(bytes([9]))
    assert gc.find_genome_codes(genome["plain"]) == codes  # size and mtime still match
    assert gc.find_genome_codes(genome["plain"], verify=True) is None
    codes.path.write_bytes(b"\0" * 10)  # truncated: wrong size
    assert gc.find_genome_codes(genome["plain"]) is None


def test_bad_letter_raises_naming_file_and_position(tmp_path):
    fasta = tmp_path / "bad.fa"
    fasta.write_text(">chr1\nACGT\nAC*T\n")
    with pytest.raises(sq.SequenceError, match=r"bad.fa:chr1: invalid letter at position 6"):
        gc.build_genome_codes(fasta)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.fa", "bad.fa.fai"]  # nothing half


def test_read_only_folder_falls_back_to_cache_dir(genome, tmp_path, monkeypatch):
    fasta = genome["plain"]
    folder = fasta.parent
    sq.chrom_sizes(fasta)  # its .fai, as a read-only genome folder would have
    folder.chmod(0o555)
    try:
        if os.access(folder, os.W_OK):  # root ignores the mode: say the folder is read-only
            real = gc._writable
            monkeypatch.setattr(gc, "_writable", lambda f: f != folder and real(f))
        with pytest.raises(gc.GenomeCacheError, match=re.escape(f"{folder} is read-only")):
            gc.ensure_genome_codes(fasta)
        codes = gc.ensure_genome_codes(fasta, cache_dir=tmp_path / "cache")
        assert codes.path.parent == tmp_path / "cache"
        assert codes.path.name.startswith("g.fa.") and codes.path.suffix == ".codes"
        assert gc.find_genome_codes(fasta) is None  # not beside the FASTA ...
        assert gc.find_genome_codes(fasta, cache_dir=tmp_path / "cache") == codes  # ... there
        np.testing.assert_array_equal(codes.chromosome("chr1"), sq.read_chromosome(fasta, "chr1"))
    finally:
        folder.chmod(0o755)


def test_cache_of_another_fasta_is_refused(genome):
    codes = gc.ensure_genome_codes(genome["plain"])
    regions = pd.DataFrame({"chrom": ["chr1"], "start": [0], "end": [10]})
    with pytest.raises(ValueError, match=r"genome code cache .* is of"):
        sq.extract_sequences(genome["bgzip"], regions, cache=codes)
    with pytest.raises(sq.FastaError, match="does not exist"):
        sq.extract_sequences(genome["plain"].with_name("missing.fa"), regions)


# ------------------------------------------------------------------ prediction


def _tiny_model(path: Path, *, seq_len: int) -> Path:
    from chromtransfer_lib.models.network import build_pretrain_model

    net = build_pretrain_model(seq_len=seq_len, stem_filters=4, res1_filters=4, res2_filters=4,
                               top_filters=4, head_units=(8, 4), random_state=0)  # fmt: skip
    net.save(path)
    return path


def test_unsorted_and_sorted_beds_give_the_same_predictions_in_input_order(
    genome, tmp_path, decode_calls
):
    """Through ``predict_regions``: the same rows in file order whatever the BED's order, the
    genome decoded once for both runs (not once per chunk), and the same numbers as decoding
    the FASTA per chunk (``genome_cache=False``)."""
    from chromtransfer_lib.predict import predict_regions, read_predictions

    fasta = genome["plain"]
    model = _tiny_model(tmp_path / "m.keras", seq_len=60)
    rng = np.random.default_rng(3)
    chrom = rng.choice(["chr1", "chr2", "chrM"], 45, p=[0.6, 0.3, 0.1])
    size = np.array([len(genome["chroms"][c]) for c in chrom])
    start = rng.integers(0, size)
    end = np.minimum(start + rng.integers(1, 200, 45), size)  # some run off the ends
    bed = pd.DataFrame({"chrom": chrom, "start": start, "end": end, "name": [f"r{i}" for i in
                        range(45)]})  # fmt: skip
    sorted_bed = bed.sort_values(["chrom", "start"], kind="stable")
    assert not sorted_bed.index.equals(bed.index)
    kw = {"genome": fasta, "chunk_size": 7, "batch_size": 4}
    for name, table in (("unsorted", bed), ("sorted", sorted_bed)):
        table.to_csv(tmp_path / f"{name}.bed", sep="\t", header=False, index=False)
        predict_regions(model, regions_bed=tmp_path / f"{name}.bed",
                        out=tmp_path / f"{name}.tsv", **kw)  # fmt: skip
    assert decode_calls == ["chr1", "chr2", "chrM"]  # one build, then only the memory map
    unsorted = read_predictions(tmp_path / "unsorted.tsv")
    assert unsorted["name"].tolist() == bed["name"].tolist()  # input order
    in_sorted_order = read_predictions(tmp_path / "sorted.tsv")
    assert in_sorted_order["name"].tolist() == sorted_bed["name"].tolist()
    again = in_sorted_order.set_index("name").loc[bed["name"]].reset_index()
    pd.testing.assert_frame_equal(again[unsorted.columns], unsorted)
    predict_regions(model, regions_bed=tmp_path / "unsorted.bed", out=tmp_path / "fasta.tsv",
                    genome_cache=False, **kw)  # fmt: skip
    assert len(decode_calls) > 3 + 7  # per chunk, each chromosome it touches
    pd.testing.assert_frame_equal(read_predictions(tmp_path / "fasta.tsv"), unsorted)


def test_cli_predict_with_a_read_only_genome_folder_caches_in_chromtransfer_data(genome, tmp_path):
    """``chromtransfer predict`` on a genome in a read-only folder: the code cache goes to
    ``$CHROMTRANSFER_DATA/genome-codes`` and nothing is written beside the FASTA."""
    ro = genome["plain"].parent
    sq.chrom_sizes(genome["plain"])  # the .fai a read-only genome folder would have
    model = _tiny_model(tmp_path / "m.keras", seq_len=60)
    (tmp_path / "r.bed").write_text("chr1\t100\t300\ta\nchr2\t0\t50\tb\nchrM\t0\t5\tc\n")
    script = Path(sys.executable).with_name("chromtransfer")
    cli = [str(script)] if script.is_file() else [sys.executable, "-m", "chromtransfer_lib.cli"]
    argv = [*cli, "predict", "--model", str(model), "--genome", str(genome["plain"]), "--regions",
            str(tmp_path / "r.bed"), "--out", str(tmp_path / "p.tsv"), "--quiet"]  # fmt: skip
    if os.geteuid() == 0:  # root ignores permissions: make the folder a read-only mount
        if shutil.which("unshare") is None:
            pytest.skip("running as root without unshare: cannot make a read-only folder")
        mount = f"mount --bind -o ro {shlex.quote(str(ro))} {shlex.quote(str(ro))} && exec "
        argv = ["unshare", "-m", "sh", "-c", mount + shlex.join(argv)]
    else:
        ro.chmod(0o555)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CHROMTRANSFER_DATA": str(tmp_path / "d")}
    try:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env)
    finally:
        ro.chmod(0o755)
    if os.geteuid() == 0 and "mount" in res.stderr and res.returncode != 0:
        pytest.skip(f"cannot make a read-only mount here: {res.stderr.strip()}")
    assert res.returncode == 0, res.stderr[-2000:]
    assert sorted(p.name for p in ro.iterdir()) == ["g.fa", "g.fa.fai"]
    codes = gc.find_genome_codes(genome["plain"], cache_dir=tmp_path / "d" / "genome-codes")
    assert codes is not None and codes.path.parent == tmp_path / "d" / "genome-codes"
    from chromtransfer_lib.predict import read_predictions

    assert read_predictions(tmp_path / "p.tsv")["name"].tolist() == ["a", "b", "c"]


def test_predict_with_reverse_complement_averages_both_strands(genome, tmp_path):
    """``predict_regions(reverse_complement=True)``: each probability is the mean of the
    window's and its reverse complement's, and the provenance header says so."""
    from chromtransfer_lib.data.pipeline import predict_proba
    from chromtransfer_lib.genome.sequence import chrom_sizes, reverse_complement
    from chromtransfer_lib.models.network import load_model
    from chromtransfer_lib.predict import predict_regions, read_predictions
    from chromtransfer_lib.predict.windows import read_windows

    fasta = genome["plain"]
    model = _tiny_model(tmp_path / "m.keras", seq_len=60)
    bed = _random_regions({"chr1": len(genome["chroms"]["chr1"])}, 20, 80, seed=5)
    bed.to_csv(tmp_path / "r.bed", sep="\t", header=False, index=False)
    for name, rc in (("fwd", False), ("both", True)):
        predict_regions(model, genome=fasta, regions_bed=tmp_path / "r.bed",
                        out=tmp_path / f"{name}.tsv", reverse_complement=rc)  # fmt: skip
    both = read_predictions(tmp_path / "both.tsv")["probability"].to_numpy()
    fwd = read_predictions(tmp_path / "fwd.tsv")["probability"].to_numpy()
    _, codes = read_windows(fasta, bed, seq_len=60, sizes=chrom_sizes(fasta))
    net = load_model(model)
    rev = predict_proba(net, reverse_complement(codes))
    np.testing.assert_allclose(both, (fwd + rev) / 2, rtol=1e-4, atol=1e-5)  # TSV: 6 digits
    assert not np.allclose(both, fwd, atol=1e-4)
    header = (tmp_path / "both.tsv").read_text().splitlines()
    assert "# strands: both, probabilities averaged" in header
    assert "# strands: forward" in (tmp_path / "fwd.tsv").read_text().splitlines()


@pytest.mark.parametrize("length", [120, 125])  # last line full / partial
def test_fasta_without_a_final_line_end(tmp_path, length):
    """A FASTA whose last byte is a base (no line end) is decoded like one with it, through
    the code cache and directly."""
    import pyfaidx

    from chromtransfer_lib.genome.cache import ensure_genome_codes
    from chromtransfer_lib.genome.sequence import encode_sequences, read_chromosome

    rng = np.random.default_rng(length)
    seqs = {c: "".join(rng.choice(list("ACGTN"), length)) for c in ("chrA", "chrB")}
    text = "".join(f">{c}\n" + "\n".join(s[i : i + 60] for i in range(0, length, 60)) + "\n"
                   for c, s in seqs.items())  # fmt: skip
    fasta = tmp_path / "g.fa"
    fasta.write_text(text.rstrip("\n"))
    pyfaidx.Faidx(str(fasta))
    codes = ensure_genome_codes(fasta, cache_dir=tmp_path / "cache")
    for c, s in seqs.items():
        expected = encode_sequences([s])[0]
        np.testing.assert_array_equal(codes.chromosome(c), expected)
        np.testing.assert_array_equal(read_chromosome(fasta, c), expected)

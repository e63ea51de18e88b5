"""paperdata: the real inputs → the simulated world's layout, on tiny generated files."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pyfaidx
import pytest
from Bio import bgzf

from chromtransfer_lib.config import AUTHOR_SPELLING, CELL_LINES, UNIVERSAL_NEGATIVE
from chromtransfer_lib.data import paper as pdm
from chromtransfer_lib.genome.labels import read_label_file
from chromtransfer_lib.genome.regions import RegionError

GAP_TXT = (
    "585\tchr1\t0\t10000\t1\tN\t10000\ttelomere\tno\n"
    "1\tchr1\t207666\t257666\t5\tN\t50000\tcontig\tno\n"
    "585\tchr2\t0\t10000\t1\tN\t10000\ttelomere\tno\n"
    "73\tchrUn_KI270752v1\t100\t200\t2\tN\t100\tscaffold\tyes\n"
)


def _genome(rng: np.random.Generator) -> str:
    lines = []
    for chrom, n in (("chr1", 3000), ("chr2", 2000)):
        seq = "".join(rng.choice(list("ACGTN"), size=n, p=[0.29, 0.2, 0.2, 0.29, 0.02]))
        seq = seq[:500] + seq[500:900].lower() + seq[900:]  # soft-masked stretch
        lines.append(f">{chrom}\n" + "\n".join(seq[i : i + 60] for i in range(0, n, 60)))
    return "\n".join(lines) + "\n"


def _labels(rng: np.random.Generator, cell: str, n: int) -> list[tuple[str, str]]:
    author = AUTHOR_SPELLING[cell]
    # distinct regions within a file, drawn from a small grid so they recur across files
    grid = [(c, s) for c in ("chr1", "chr2", "chr3") for s in range(0, 5000, 100)]
    picks = rng.choice(len(grid), size=n, replace=False)
    kinds = [author, f"{author}_NEG", UNIVERSAL_NEGATIVE]
    labels = rng.permutation(kinds[:2] + list(rng.choice(kinds, size=n - 2)))  # both classes
    return [
        (f"{grid[i][0]}:{grid[i][1]}-{grid[i][1] + 600}", str(lab))
        for i, lab in zip(picks, labels, strict=True)
    ]


@pytest.fixture
def inputs(tmp_path):
    rng = np.random.default_rng(7)
    src = tmp_path / "cache"
    src.mkdir()
    genome_text = _genome(rng)
    with gzip.open(src / "hg38.fa.gz", "wt") as fh:  # plain gzip, as UCSC ships it
        fh.write(genome_text)
    (src / "rdhs.bed").write_text(
        "chr2\t300\t650\tEH38D0000003\t0\t.\n"
        "chr1\t100\t400\tEH38D0000001\t0\t.\n"
        "chr1\t1000\t1250\tEH38D0000002\t0\t.\n"
        "chrX\t10\t20\tEH38D0000004\t0\t.\n"
    )
    with gzip.open(src / "blacklist.bed.gz", "wt") as fh:
        fh.write("track name=blacklist\nchr1\t2000\t2500\nchr2\t50\t80\n")
    with gzip.open(src / "gap.txt.gz", "wt") as fh:
        fh.write(GAP_TXT)
    labels, rows = {}, {}
    for split, n in (("train", 40), ("test", 15)):
        labels[split] = {}
        for cell in CELL_LINES:
            path = src / f"{split}_{AUTHOR_SPELLING[cell]}.csv"
            rows[split, cell] = _labels(rng, cell, n)
            path.write_text("".join(f"{r},{lab}\n" for r, lab in rows[split, cell]))
            labels[split][cell] = path
    inp = pdm.PaperInputs(
        fasta=src / "hg38.fa.gz",
        rdhs=src / "rdhs.bed",
        blacklist=src / "blacklist.bed.gz",
        gaps=src / "gap.txt.gz",
        labels=labels,
    )
    return inp, genome_text, rows


def _read(path):
    return [line.split("\t") for line in path.read_text().splitlines()]


def test_prepare_paper_world(inputs, tmp_path):
    inp, genome_text, rows = inputs
    world = pdm.prepare_paper_world(inp, tmp_path / "world")
    assert world.genome_fasta.name == "genome.fa"
    assert world.genome_fasta.read_text() == genome_text  # soft-masking kept
    fa = pyfaidx.Fasta(str(world.genome_fasta))
    assert str(fa["chr1"][500:510]) == genome_text.split("\n")[9][20:30]  # 60-char lines
    assert _read(world.gaps_bed) == [
        ["chr1", "0", "10000", "telomere"],
        ["chr1", "207666", "257666", "contig"],
        ["chr2", "0", "10000", "telomere"],
        ["chrUn_KI270752v1", "100", "200", "scaffold"],
    ]
    assert _read(world.rdhs_bed)[0] == ["chr1", "100", "400", "EH38D0000001"]
    assert [r[3] for r in _read(world.rdhs_bed)] == [f"EH38D000000{i}" for i in (1, 2, 3, 4)]
    assert _read(world.blacklist_bed) == [["chr1", "2000", "2500"], ["chr2", "50", "80"]]
    # brute force: every region labelled <CELL> or <CELL>_NEG anywhere, once
    expected = sorted(
        {
            (r.split(":")[0], *map(int, r.split(":")[1].split("-")))
            for file_rows in rows.values()
            for r, lab in file_rows
            if lab != UNIVERSAL_NEGATIVE
        }
    )
    got = [(c, int(s), int(e)) for c, s, e, _ in _read(world.accessible_bed)]
    assert got == expected and world.counts["accessible_six_lines"] == len(expected)
    assert all(name == f"{c}:{s}-{e}" for c, s, e, name in _read(world.accessible_bed))
    for (split, cell), file_rows in rows.items():
        copied = world.labels_dir / split / f"{AUTHOR_SPELLING[cell]}.csv"
        assert copied.read_bytes() == inp.labels[split][cell].read_bytes()
        assert world.counts[f"labels/{split}/{cell}"] == len(file_rows)
    meta = json.loads((world.root / "paperdata.json").read_text())
    assert meta["counts"]["gaps"] == 4 and meta["counts"]["rdhs"] == 4
    assert not [p for p in world.root.rglob("*") if ".tmp-" in p.name]  # atomic writes


def test_chrom_filter(inputs, tmp_path):
    inp, _, _ = inputs
    world = pdm.prepare_paper_world(inp, tmp_path / "w", chroms=["chr1", "chr2"])
    assert {r[0] for r in _read(world.gaps_bed)} == {"chr1", "chr2"}
    assert {r[0] for r in _read(world.rdhs_bed)} == {"chr1", "chr2"}
    assert {r[0] for r in _read(world.accessible_bed)} <= {"chr1", "chr2"}


def test_genome_variants(tmp_path):
    text = ">chrA\nACGTNNacgt\nGGCC\n>chrB\nTTTT\n"
    plain = tmp_path / "plain.fa"
    plain.write_text(text)
    with bgzf.BgzfWriter(str(tmp_path / "bg.fa.gz"), "wb") as fh:
        fh.write(text.encode())
    with gzip.open(tmp_path / "gz.fa.gz", "wt") as fh:
        fh.write(text)
    assert [pdm.gzip_kind(tmp_path / f) for f in ("plain.fa", "bg.fa.gz", "gz.fa.gz")] == [
        "plain",
        "bgzip",
        "gzip",
    ]
    out = tmp_path / "out"
    target = pdm.prepare_genome(tmp_path / "bg.fa.gz", out)
    assert target.name == "genome.fa.gz" and target.is_symlink()
    assert str(pyfaidx.Fasta(str(target))["chrA"][2:9]) == "GTNNacg"
    target = pdm.prepare_genome(tmp_path / "gz.fa.gz", out)
    assert target.read_text() == text and not (out / "genome.fa.gz").exists()
    mtime = target.stat().st_mtime_ns
    assert pdm.prepare_genome(tmp_path / "gz.fa.gz", out).stat().st_mtime_ns == mtime  # stamp
    target = pdm.prepare_genome(plain, out)
    assert target.is_symlink() and target.read_text() == text


def test_bad_label_file_is_reported_with_file_and_line(inputs, tmp_path):
    inp, _, _ = inputs
    bad = inp.labels["train"]["K562"]
    bad.write_text(bad.read_text() + "chr1:100-700,HEPG2\n")  # another line's label
    n = len(bad.read_text().splitlines())
    with pytest.raises(ValueError, match=rf"K562\.csv:{n}: label 'HEPG2'"):
        pdm.prepare_paper_world(inp, tmp_path / "w")


def test_hepg2_uses_authors_spelling(tmp_path):
    path = tmp_path / "HEPG2.csv"
    path.write_text("chr1:0-600,HEPG2\nchr1:600-1200,HEPG2_NEG\nchr2:0-600,Negative\n")
    df = read_label_file(path, cell_line="HepG2")
    assert df["label"].tolist() == ["HEPG2", "HEPG2_NEG", "Negative"]
    union = pdm.accessible_union([df, df])
    assert union[["chrom", "start", "end"]].to_dict("list") == {
        "chrom": ["chr1", "chr1"],
        "start": [0, 600],
        "end": [600, 1200],
    }


def test_bad_gap_and_bed(inputs, tmp_path):
    gap = tmp_path / "gap.txt"
    gap.write_text(GAP_TXT + "chr1\t0\t10\tN\n")
    with pytest.raises(RegionError, match=r"gap.txt:5: expected the 9 columns \('bin', 'chrom'"):
        pdm.read_ucsc_gap(gap)
    inp, _, _ = inputs
    inp.rdhs.write_text("chr1\t0\t10\nchr1\tten\t20\n")
    with pytest.raises(RegionError, match=r"rdhs.bed:2: start 'ten' is not an integer"):
        pdm.prepare_paper_world(inp, tmp_path / "w")


def test_gap_table_is_read_by_the_one_bed_reader(tmp_path):
    gap = tmp_path / "gap.txt.gz"
    gap.write_bytes(gzip.compress(("#bin\tchrom\tchromStart\n" + GAP_TXT).encode()))
    got = pdm.read_ucsc_gap(gap)
    assert got.to_dict("list") == {
        "chrom": ["chr1", "chr1", "chr2", "chrUn_KI270752v1"],
        "start": [0, 207666, 0, 100],
        "end": [10000, 257666, 10000, 200],
        "type": ["telomere", "contig", "telomere", "scaffold"],
    }
    bed = tmp_path / "three.bed"
    bed.write_text("chr2\t5\t9\nchr1\t0\t4\n")  # no name column: the locus is the name
    rdhs = pdm._read_rdhs(bed)
    assert rdhs["name"].tolist() == ["chr2:5-9", "chr1:0-4"]


def test_paper_inputs_from_fetched_names(tmp_path):
    names = ["hg38-fasta", "encode-rdhs", "encode-blacklist", "ucsc-gap"] + [
        f"labels-{s}-{c}" for s in pdm.SPLITS for c in CELL_LINES
    ]
    paths = {n: tmp_path / n for n in names}
    inp = pdm.paper_inputs(paths)
    assert inp.labels["test"]["HepG2"] == tmp_path / "labels-test-HepG2"
    assert inp.gaps == tmp_path / "ucsc-gap"
    with pytest.raises(pdm.PaperDataError, match="ucsc-gap"):
        pdm.paper_inputs({k: v for k, v in paths.items() if k != "ucsc-gap"})
    # the shipped manifest provides exactly these names
    from chromtransfer_lib.data.manifest import load_manifest

    assert set(names) <= {e.name for e in load_manifest()}

"""Region readers, recentring, tiling and splits, checked against brute force."""

from __future__ import annotations

import gzip
import itertools

import numpy as np
import pandas as pd
import pytest

from chromtransfer_lib.genome import labels as lb
from chromtransfer_lib.genome import regions as rg
from chromtransfer_lib.genome import splits as sp
from chromtransfer_lib.genome.regions import RegionError

SIZES = {"chr1": 10_000, "chr2": 6_000}


def write(path, text: str, *, gz: bool = False, crlf: bool = False):
    data = text.replace("\n", "\r\n") if crlf else text
    path.write_bytes(gzip.compress(data.encode()) if gz else data.encode())
    return path


BED = """track name=test
browser position chr1:1-100
# a comment
chrom\tstart\tend\tname\tscore\tstrand
chr1\t10\t50\tr1\t0\t+
chr1\t100\t160\tr2\t0\t-

chr2\t5\t9\tr3\t1\t+
"""


@pytest.mark.parametrize(("gz", "crlf"), [(False, False), (True, False), (False, True)])
def test_read_bed_formats(tmp_path, gz, crlf):
    df = rg.read_bed(write(tmp_path / "a.bed", BED, gz=gz, crlf=crlf), chrom_sizes=SIZES)
    expected = pd.DataFrame(
        {
            "chrom": ["chr1", "chr1", "chr2"],
            "start": [10, 100, 5],
            "end": [50, 160, 9],
            "name": ["r1", "r2", "r3"],
            "score": ["0", "0", "1"],
            "strand": ["+", "-", "+"],
        }
    )
    pd.testing.assert_frame_equal(df, expected, check_dtype=False)
    assert df["start"].dtype == np.int64


def test_read_bed_space_separated_three_columns(tmp_path):
    df = rg.read_bed(write(tmp_path / "s.bed", "chr1 0 10\nchr2 3 4\n"))
    assert df.columns.tolist() == ["chrom", "start", "end"] and df["end"].tolist() == [10, 4]


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("chr1\t0\t10\nchr1\t5\n", r"b.bed:2: expected at least 3 columns"),
        ("chr1\t0\t10\nchr1\tfive\t10\n", r"b.bed:2: start 'five' is not an integer"),
        ("chr1\t0\t10\nchr1\t50\t40\n", r"b.bed:2: .*chr1:50-40 has end < start"),
        ("chr1\t0\t10\n\nchr1\t40\t40\n", r"b.bed:3: .*zero-length"),
        ("1\t0\t10\n", r"b.bed:1: unknown chromosome '1'.*naming differs"),
        ("chrX\t0\t10\n", r"unknown chromosome 'chrX'.*Known chromosomes: chr1, chr2"),
        ("chr2\t0\t10\nchr2\t5990\t6001\n", r"b.bed:2: end 6001 is past the end of chr2 \(6000"),
        (
            "chr1\t0\t10\nchr1\t0\t10\nchr2\t1\t2\nchr2\t1\t2\n",
            r"2 duplicate regions, first at .*b.bed:2",
        ),
        ("track name=x\n# nothing\n", r"b.bed: the file contains no regions"),
        ("", r"no regions"),
    ],
)
def test_read_bed_errors(tmp_path, text, pattern):
    with pytest.raises(RegionError, match=pattern):
        rg.read_bed(write(tmp_path / "b.bed", text), chrom_sizes=SIZES)


def test_read_bed_duplicates_can_be_dropped(tmp_path, caplog):
    df = rg.read_bed(
        write(tmp_path / "d.bed", "chr1\t0\t10\nchr1\t0\t10\nchr1\t5\t10\n"), on_duplicate="drop"
    )
    assert df["start"].tolist() == [0, 5]
    assert "1 duplicate regions" in caplog.text


LABELS = "chr1:100-700,HEPG2\nchr1:800-1400,HEPG2_NEG\nchr2:0-600,Negative\nchr1:2000-2600,HEPG2\n"


def test_read_label_file_authors_format(tmp_path):
    path = write(tmp_path / "HEPG2.csv", LABELS, crlf=True)
    df = lb.read_label_file(path, chrom_sizes=SIZES)  # cell line from the file name
    assert df.to_dict("list") == {
        "chrom": ["chr1", "chr1", "chr2", "chr1"],
        "start": [100, 800, 0, 2000],
        "end": [700, 1400, 600, 2600],
        "label": ["HEPG2", "HEPG2_NEG", "Negative", "HEPG2"],
        "y": [1, 0, 0, 1],
    }
    assert ((df["end"] - df["start"]) == 600).all()  # coordinates taken as written
    same = lb.read_label_file(write(tmp_path / "x.csv", LABELS), cell_line="HepG2")
    pd.testing.assert_frame_equal(df, same)


def test_read_label_file_errors(tmp_path):
    with pytest.raises(RegionError, match=r"K562.csv:1: label 'HEPG2' is not one of"):
        lb.read_label_file(write(tmp_path / "K562.csv", LABELS))
    with pytest.raises(RegionError, match=r"one.csv: the file has no negative rows"):
        lb.read_label_file(write(tmp_path / "one.csv", "chr1:0-600,K562\n"), cell_line="K562")
    with pytest.raises(RegionError, match=r"no positive rows"):
        lb.read_label_file(write(tmp_path / "neg.csv", "chr1:0-600,K562_NEG\n"), cell_line="K562")
    with pytest.raises(RegionError, match=r"m.csv:2: expected a row like"):
        lb.read_label_file(write(tmp_path / "m.csv", "chr1:0-600,K562\nchr1-0-600,K562\n"))
    with pytest.raises(RegionError, match=r"end 10600 is past the end of chr1"):
        lb.read_label_file(
            write(tmp_path / "p.csv", "chr1:10000-10600,K562\nchr1:0-600,K562_NEG\n"),
            chrom_sizes=SIZES,
        )
    with pytest.raises(RegionError, match="no regions"):
        lb.read_label_file(write(tmp_path / "e.csv", ""))


def test_read_label_file_user_line(tmp_path):
    df = lb.read_label_file(
        write(tmp_path / "mine.csv", "chr1:0-600,Liver\nchr1:600-1200,Negative\n")
    )
    assert df["y"].tolist() == [1, 0]


def test_recentre_brute_force():
    df = pd.DataFrame(
        {
            "chrom": ["chr1"] * 4,
            "start": [100, 100, 0, 7],
            "end": [700, 701, 3, 8],
            "name": list("abcd"),
        }
    )
    for width in (200, 201, 600, 1):
        out = rg.recentre(df, width=width)
        assert (out["end"] - out["start"] == width).all()
        for (_, r), (_, o) in zip(df.iterrows(), out.iterrows(), strict=True):
            mid = (r.start + r.end) // 2
            assert o.start == mid - width // 2 and o["name"] == r["name"]
    assert rg.recentre(df.iloc[:1], width=200)[["start", "end"]].to_numpy().tolist() == [[300, 500]]
    assert df["start"].tolist() == [100, 100, 0, 7]  # input unchanged
    assert rg.in_bounds(rg.recentre(df, width=600), SIZES).tolist() == [True, True, False, False]


def test_tile_genome_brute_force(tmp_path):
    rng = np.random.default_rng(0)
    sizes = {"chrA": 20_000, "chrB": 13_250}
    width, flank = 600, 300

    def random_set(n, lo, hi):
        c = rng.choice(list(sizes), size=n)
        s = np.array([rng.integers(0, sizes[x] - hi) for x in c])
        return pd.DataFrame({"chrom": c, "start": s, "end": s + rng.integers(lo, hi, size=n)})

    gaps, black, pos = random_set(3, 1, 900), random_set(3, 1, 400), random_set(8, 150, 350)
    res = sp.tile_genome(
        sizes, width=width, exclude={"gap": gaps, "blacklist": black}, positives=pos, flank=flank
    )

    def hits(c, a, b, df, pad=0):
        return any(r.chrom == c and a < r.end + pad and r.start - pad < b for r in df.itertuples())

    expected, n_total, counts = [], 0, {"gap": 0, "blacklist": 0, "flank": 0}
    for c, size in sizes.items():
        for a in range(0, size - width + 1, width):
            b, n_total = a + width, n_total + 1
            g, bl = hits(c, a, b, gaps), hits(c, a, b, black)
            # distance from window to a positive < flank (0 if they overlap)
            near = any(
                r.chrom == c and max(r.start - b, a - r.end, 0) < flank for r in pos.itertuples()
            )
            counts["gap"] += g
            counts["blacklist"] += bl
            counts["flank"] += near
            if not (g or bl or near):
                expected.append((c, a, b))
    got = list(res.windows.itertuples(index=False, name=None))
    assert got == expected
    assert res.n_total == n_total == 33 + 22
    assert list(res.dropped.values()) == [counts["gap"], counts["blacklist"], counts["flank"]]
    assert 0 < len(expected) < n_total


def test_gaps_from_fasta_brute_force(tmp_path):
    rng = np.random.default_rng(1)
    seqs = {
        "c1": "".join(rng.choice(list("ACGTNn"), size=500, p=[0.2, 0.2, 0.2, 0.2, 0.1, 0.1])),
        "c2": "NNNN" + "ACGT" * 10 + "NRN",
    }
    (tmp_path / "g.fa").write_text("".join(f">{k}\n{v}\n" for k, v in seqs.items()))
    got = rg.gaps_from_fasta(tmp_path / "g.fa", min_length=2, progress=False)
    expected = []
    for c, s in seqs.items():
        isn = [ch not in "ACGT" for ch in s]
        for k, grp in itertools.groupby(enumerate(isn), key=lambda t: t[1]):
            idx = [i for i, _ in grp]
            if k and len(idx) >= 2:
                expected.append((c, idx[0], idx[-1] + 1))
    assert list(got.itertuples(index=False, name=None)) == expected
    assert ("c2", 0, 4) in expected and ("c2", 44, 47) in expected


def test_mark_overlaps_brute_force():
    rng = np.random.default_rng(2)
    a = pd.DataFrame({"chrom": "c", "start": rng.integers(0, 500, 50)}).assign(
        end=lambda d: d.start + rng.integers(1, 40, 50)
    )
    b = pd.DataFrame({"chrom": "c", "start": rng.integers(0, 500, 20)}).assign(
        end=lambda d: d.start + rng.integers(1, 40, 20)
    )
    expected = [
        any(x.start < y.end and y.start < x.end for y in b.itertuples()) for x in a.itertuples()
    ]
    assert rg.mark_overlaps(a, b).tolist() == expected
    exact = rg.mark_overlaps(a, pd.concat([b, a.iloc[[3, 7]]]), exact=True)
    assert exact[[3, 7]].all()


def make_regions(seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for k, c in enumerate(["chr1", "chr2", "chr3", "chr4", "chr5", "chr6", "chr7", "chrX"]):
        n = 20 + 7 * k
        rows.append(
            pd.DataFrame({"chrom": c, "start": np.arange(n) * 1000, "y": rng.random(n) < 0.3})
        )
    return pd.concat(rows, ignore_index=True).assign(end=lambda d: d.start + 600)


def test_split_disjoint_complete_and_optimal():
    df = make_regions()
    out = sp.split_by_chromosome(df, test_chroms=("chr2", "chr3"), n_folds=3, random_state=1)
    assert len(out) == len(df) and out.index.equals(df.index)
    test = out["split"] == "test"
    assert set(out.loc[test, "chrom"]) == {"chr2", "chr3"} and (out.loc[test, "fold"] == -1).all()
    assert set(out.loc[~test, "fold"]) == {0, 1, 2}
    # each chromosome sits in exactly one fold: train/validation never share a chromosome
    assert out[~test].drop_duplicates(["chrom", "fold"]).chrom.is_unique
    # stratified: the class balance found equals the best of all 3^6 assignments (brute force)
    train = out[~test]
    chroms = sorted(train["chrom"].unique())
    counts = np.array(
        [[((train.chrom == c) & (train.y == v)).sum() for v in (False, True)] for c in chroms]
    )
    target = counts.sum(0) / 3

    def cost(a):
        per = np.stack([counts[np.array(a) == f].sum(0) for f in range(3)])
        return (((per - target) / target) ** 2).sum()

    best = min(cost(a) for a in itertools.product(range(3), repeat=len(chroms)) if len(set(a)) == 3)
    found = [train.loc[train.chrom == c, "fold"].iloc[0] for c in chroms]
    assert cost(found) == pytest.approx(best)


def test_split_seeded_and_region_folds():
    df = make_regions(1)
    a = sp.split_by_chromosome(df, random_state=5)
    pd.testing.assert_frame_equal(a, sp.split_by_chromosome(df, random_state=5))
    r = sp.split_by_chromosome(df, random_state=5, group="region")
    pd.testing.assert_frame_equal(r, sp.split_by_chromosome(df, random_state=5, group="region"))
    assert not r["fold"].equals(sp.split_by_chromosome(df, random_state=6, group="region")["fold"])
    train = r[r.split == "train"]
    for v in (False, True):  # stratified: class counts per fold differ by at most 1
        per = train[train.y == v].groupby("fold").size()
        assert per.max() - per.min() <= 1


def test_split_errors():
    df = make_regions()
    with pytest.raises(RegionError, match="naming differs"):
        sp.split_by_chromosome(df, test_chroms=("2", "3"))
    with pytest.raises(RegionError, match="cannot form 3 folds"):
        sp.split_by_chromosome(df[df.chrom.isin(["chr1", "chr2", "chr4"])], group="chromosome")
    few = sp.split_by_chromosome(df[df.chrom.isin(["chr1", "chr2", "chr4"])])  # auto → region
    assert set(few.loc[few.split == "train", "fold"]) == {0, 1, 2}
    assert (sp.split_by_chromosome(df, test_chroms=())["split"] == "train").all()

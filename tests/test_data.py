"""Dataset builders on a tiny generated world, checked against brute force."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from chromtransfer_lib.data import datasets as data
from chromtransfer_lib.genome.regions import RegionError
from chromtransfer_lib.genome.sequence import decode_sequences

CHROMS = [f"chr{i}" for i in range(1, 7)]
SIZE = 30_000


def _bed(path, df):
    df.to_csv(path, sep="\t", header=False, index=False)
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """6 × 30 kb chromosomes, an N gap on chr1/chr4, rDHSs, label files for HepG2 and K562."""
    d = tmp_path_factory.mktemp("world")
    rng = np.random.default_rng(0)
    genome = {c: rng.choice(list("ACGTacgt"), size=SIZE) for c in CHROMS}
    gaps = pd.DataFrame(
        {"chrom": ["chr1", "chr4"], "start": [4_600, 20_200], "end": [5_400, 20_800]}
    )
    for g in gaps.itertuples():
        genome[g.chrom][g.start : g.end] = "N"
    genome = {c: "".join(v) for c, v in genome.items()}
    with open(d / "genome.fa", "w") as fh:
        for c, s in genome.items():
            fh.write(f">{c}\n" + "\n".join(s[i : i + 70] for i in range(0, SIZE, 70)) + "\n")
    # rDHSs every 2 kb (150–350 bp), one inside the chr1 gap (all N → dropped)
    rows = []
    for c in CHROMS:
        for k, mid in enumerate(range(1_000, SIZE - 1_000, 2_000)):
            w = int(rng.integers(150, 350))
            rows.append((c, mid - w // 2, mid - w // 2 + w, f"{c}_r{k}", 0, "+"))
    rdhs = pd.DataFrame(rows, columns=["chrom", "start", "end", "name", "score", "strand"])
    # accessible in the six lines: every 4th rDHS, written as 600 bp windows
    acc = rdhs.iloc[::4, :3].copy()
    mid = (acc.start + acc.end) // 2
    acc = acc.assign(start=mid - 300, end=mid + 300)
    black = pd.DataFrame(
        {"chrom": ["chr5", "chr6"], "start": [10_000, 2_500], "end": [10_800, 2_600]}
    )
    paths = {
        "genome": d / "genome.fa",
        "rdhs": _bed(d / "rdhs.bed", rdhs),
        "accessible": _bed(d / "acc.bed", acc),
        "gaps": _bed(d / "gaps.bed", gaps),
        "blacklist": _bed(d / "black.bed", black),
    }

    # label files: HepG2 specific sites at 2 kb + 500 offsets, K562 at 2 kb + 1500
    def sites(offset, chroms):
        return [(c, m - 300, m + 300) for c in chroms for m in range(offset, SIZE - 700, 4_000)]

    train_c, test_c = ["chr1", "chr4", "chr5", "chr6"], ["chr2", "chr3"]
    universal = rdhs[~rdhs.index.isin(acc.index)]
    for split, chroms in (("train", train_c), ("test", test_c)):
        hep, k562 = sites(1_500, chroms), sites(3_500, chroms)
        neg = [
            (r.chrom, (r.start + r.end) // 2 - 300, (r.start + r.end) // 2 + 300)
            for r in universal[universal.chrom.isin(chroms)].iloc[::3].itertuples()
        ]
        for name, own, other in (("HEPG2", hep, k562), ("K562", k562, hep)):
            lines = [f"{c}:{s}-{e},{name}" for c, s, e in own]
            lines += [f"{c}:{s}-{e},{name}_NEG" for c, s, e in other[::2]]
            lines += [f"{c}:{s}-{e},Negative" for c, s, e in neg]
            if split == "train" and name == "HEPG2":
                lines.append("chr2:9000-9600,HEPG2_NEG")  # leaks into the test chromosomes
                lines.append("chr5:26600-27200,HEPG2_NEG")  # _NEG not positive anywhere
            if split == "train":  # the same region positive in two files: a conflict
                lines.append(f"chr6:28000-28600,{name}")
            (d / f"{split}_{name}.csv").write_text("\n".join(lines) + "\n")
            paths[f"{split}/{name}"] = d / f"{split}_{name}.csv"
    return {
        "paths": paths,
        "genome": genome,
        "rdhs": rdhs,
        "acc": acc,
        "gaps": gaps,
        "black": black,
        "out": d / "artifacts",
    }


@pytest.fixture(scope="module")
def pretrain(world):
    return data.build_pretraining_dataset(
        world["out"],
        _inputs(world),
        spec=data.DatasetSpec(seq_len=200, random_state=3),
        negatives=data.NegativeSampling(negatives_per_positive=1.0),
        region_width=600,
        progress=False,
    )


def _inputs(world, **change):
    p = world["paths"]
    files = {
        "genome": p["genome"],
        "rdhs_bed": p["rdhs"],
        "accessible_bed": p["accessible"],
        "gaps_bed": p["gaps"],
        "blacklist_bed": p["blacklist"],
    }
    return data.PretrainingInputs(**(files | change))


def codes_match_genome(ds, genome):
    seqs = decode_sequences(ds.codes)
    for s, r in zip(seqs, ds.regions.itertuples(), strict=True):
        assert s == genome[r.chrom][r.start : r.end].upper(), r


def test_pretraining_dataset(world, pretrain):
    ds = data.load_dataset(pretrain.path)
    assert isinstance(ds.codes, np.memmap) and ds.codes.shape == (len(ds), 200)
    assert pretrain.path.name == f"pretrain-{pretrain.key}" and not pretrain.reused
    codes_match_genome(ds, world["genome"])
    reg = ds.regions
    assert ((reg.end - reg.start) == 200).all() and (
        (reg.region_end - reg.region_start) == 600
    ).all()
    assert ((reg.start - reg.region_start) == 200).all()  # the central 200 bp
    # positives: every rDHS whose midpoint is not accessible, minus the one inside the gap
    rdhs, acc = world["rdhs"], world["acc"]
    mids = (rdhs.start + rdhs.end) // 2
    acc_mids = set(zip(acc.chrom, (acc.start + acc.end) // 2, strict=True))
    keep = np.array([(c, m) not in acc_mids for c, m in zip(rdhs.chrom, mids, strict=True)])
    in_gap = (rdhs.chrom == "chr1") & (mids > 4_600) & (mids < 5_400)
    expected = set(zip(rdhs.chrom[keep & ~in_gap], mids[keep & ~in_gap] - 300, strict=True))
    pos = reg[reg.y == 1]
    assert set(zip(pos.chrom, pos.region_start, strict=True)) == expected
    assert (pos.label == "rDHS").all() and pos["name"].str.startswith("chr").all()
    # negatives: 600 bp tiles, none near an rDHS, a gap or the blacklist (brute force)
    neg = reg[reg.y == 0]
    assert len(neg) == round(1.0 * (len(expected) + int((keep & in_gap).sum())))
    assert (neg.region_start % 600 == 0).all()
    for r in neg.itertuples():
        a, b = r.region_start, r.region_end
        for s in rdhs[rdhs.chrom == r.chrom].itertuples():
            assert max(s.start - b, a - s.end) >= 300
        for bad in (world["gaps"], world["black"]):
            assert not ((bad.chrom == r.chrom) & (bad.start < b) & (a < bad.end)).any()
    # splits and provenance
    assert set(reg.loc[reg.split == "test", "chrom"]) == {"chr2", "chr3"}
    assert reg[reg.split == "train"].drop_duplicates(["chrom", "fold"]).chrom.is_unique
    prov = ds.provenance
    assert prov["dropped"]["more than 10% N"] == int((keep & in_gap).sum()) == 1
    assert prov["dropped"]["rDHS accessible in one of the six cell lines"] == len(acc)
    assert prov["dropped"]["tile overlapping blacklist"] == 3
    assert prov["counts"]["total"] == len(reg)
    assert prov["inputs"]["genome"]["sha256"] == data.sha256_file(world["paths"]["genome"])
    assert prov["args"]["seq_len"] == 200 and "created" in prov
    part = ds.partition(0)
    assert np.intersect1d(part.train, part.valid).size == 0
    assert len(part.train) + len(part.valid) == len(ds.subset(split="train"))


def test_artifacts_reused_and_rekeyed(world, pretrain, tmp_path, caplog):
    p = world["paths"]
    kw = dict(spec=data.DatasetSpec(seq_len=200, random_state=3), progress=False)
    with caplog.at_level("INFO"):
        again = data.build_pretraining_dataset(world["out"], _inputs(world), **kw)
    assert again.reused and again.path == pretrain.path and "reusing" in caplog.text
    other = data.build_pretraining_dataset(
        world["out"], _inputs(world), spec=data.DatasetSpec(seq_len=200, random_state=4),
        progress=False,
    )  # fmt: skip
    assert other.key != pretrain.key and not other.reused
    # same content at another path → same key; changed content → new key
    moved = tmp_path / "rdhs_copy.bed"
    moved.write_bytes(p["rdhs"].read_bytes())
    assert data.build_pretraining_dataset(world["out"], _inputs(world, rdhs_bed=moved), **kw).reused
    moved.write_text(p["rdhs"].read_text().replace("chr6\t28", "chr6\t27", 1))
    rekeyed = data.build_pretraining_dataset(world["out"], _inputs(world, rdhs_bed=moved), **kw)
    assert rekeyed.key != pretrain.key
    assert not list(world["out"].glob(".*tmp*"))  # written atomically, nothing left behind


def test_gaps_from_fasta_when_no_gap_bed(world, tmp_path):
    p = world["paths"]
    inputs = data.PretrainingInputs(genome=p["genome"], rdhs_bed=p["rdhs"])
    info = data.build_pretraining_dataset(tmp_path, inputs, progress=False)
    ds = data.load_dataset(info.path, mmap=False)
    assert (
        ds.provenance["dropped"]["tile overlapping assembly gap"] == 2 + 2
    )  # two 600-800 bp gaps, each across two tiles
    codes_match_genome(ds, world["genome"])


def test_finetuning_dataset(world, pretrain, tmp_path):
    p = world["paths"]
    info = data.build_finetuning_dataset(
        tmp_path,
        genome=p["genome"],
        train_labels=p["train/HEPG2"],
        test_labels=p["test/HEPG2"],
        cell_line="HEPG2",
        spec=data.DatasetSpec(seq_len=600),
        pretraining=pretrain.path,
        progress=False,
    )
    assert info.path.name.startswith("finetune-HepG2-")
    ds = data.load_dataset(info.path)
    codes_match_genome(ds, world["genome"])
    reg = ds.regions
    assert (reg.y == (reg.label == "HEPG2")).all()
    assert set(reg.loc[reg.split == "test", "chrom"]) == {"chr2", "chr3"}
    assert not ((reg.split == "train") & reg.chrom.isin(["chr2", "chr3"])).any()
    assert ds.provenance["dropped"]["training-file region on a test chromosome"] == 1
    test_lines = p["test/HEPG2"].read_text().split()
    assert (reg.split == "test").sum() == len(test_lines)
    # with a pre-training set whose training split includes chr2/chr3, the overlap is reported
    pre = data.build_pretraining_dataset(
        tmp_path,
        _inputs(world, blacklist_bed=None),
        spec=data.DatasetSpec(seq_len=200, test_chroms=("chr4",)),
        progress=False,
    )
    leaky = data.build_finetuning_dataset(
        tmp_path,
        genome=p["genome"],
        train_labels=p["train/HEPG2"],
        test_labels=p["test/HEPG2"],
        cell_line="HepG2",
        spec=data.DatasetSpec(seq_len=200),
        pretraining=pre.path,
        progress=False,
    )
    warn = json.loads((leaky.path / "provenance.json").read_text())["warnings"]
    pre_train = data.load_dataset(pre.path).regions.query("split == 'train'")
    test = data.load_dataset(leaky.path).regions.query("split == 'test'")
    n_hit = sum(
        (
            (pre_train.chrom == r.chrom)
            & (pre_train.region_start < r.region_end)
            & (r.region_start < pre_train.region_end)
        ).any()
        for r in test.itertuples()
    )
    assert n_hit > 0
    assert any(w.startswith(f"{n_hit} of {len(test)} fine-tuning test regions") for w in warn)
    assert not data.load_dataset(info.path).provenance["warnings"]


def test_multiclass_dataset(world, tmp_path):
    p = world["paths"]
    info = data.build_multiclass_dataset(
        tmp_path,
        genome=p["genome"],
        train_labels={"HepG2": p["train/HEPG2"], "K562": p["train/K562"]},
        test_labels={"HepG2": p["test/HEPG2"], "K562": p["test/K562"]},
        spec=data.DatasetSpec(seq_len=200),
        progress=False,
    )
    ds = data.load_dataset(info.path)
    reg = ds.regions
    assert not reg.duplicated(["chrom", "start", "end"]).any()
    assert dict(enumerate(["HepG2", "K562", "Negative"])) == dict(
        reg[["y", "label"]].drop_duplicates().sort_values("y").to_numpy().tolist()
    )
    # brute force: every own-label row of either file is one row with its line's class
    expected = {}
    for line, name in (("HepG2", "HEPG2"), ("K562", "K562")):
        for split in ("train", "test"):
            for row in p[f"{split}/{name}"].read_text().split():
                loc, lab = row.split(",")
                c, se = loc.split(":")
                s, e = map(int, se.split("-"))
                if split == "train" and c in ("chr2", "chr3"):
                    continue
                cls = line if lab == name else ("Negative" if lab == "Negative" else None)
                if cls:
                    expected.setdefault((c, s, e), set()).add(cls)
    single = {k: v.pop() for k, v in expected.items() if len(v) == 1}
    got = dict(
        zip(zip(reg.chrom, reg.region_start, reg.region_end, strict=True), reg.label, strict=True)
    )
    assert got == single
    dropped = ds.provenance["dropped"]
    assert dropped["region with two classes in different files"] == 1
    assert dropped["_NEG region not a positive in any given file"] == 1
    codes_match_genome(ds, world["genome"])


def test_bad_inputs_name_the_file(world, tmp_path):
    p = world["paths"]
    bad = tmp_path / "HEPG2.csv"
    bad.write_text("chr1:0-600,HEPG2\nchr9:0-600,HEPG2_NEG\n")
    with pytest.raises(RegionError, match=r"HEPG2.csv:2: unknown chromosome 'chr9'"):
        data.build_finetuning_dataset(
            tmp_path,
            genome=p["genome"],
            train_labels=bad,
            test_labels=p["test/HEPG2"],
            cell_line="HepG2",
            progress=False,
        )
    assert not list(tmp_path.glob(".*tmp*")) and not list(tmp_path.glob("finetune-*"))


def test_check_leakage():
    df = pd.DataFrame(
        {"chrom": ["chr1", "chr2"], "start": [0, 5], "end": [10, 15], "split": ["train", "train"]}
    )
    with pytest.raises(data.LeakageError, match=r"1 training/validation regions .* chr2:5-15"):
        data.check_leakage(df, test_chroms=("chr2", "chr3"))
    data.check_leakage(df.assign(split=["train", "test"]), test_chroms=("chr2", "chr3"))


# ------------------------------------------------------------------ kills and partial files


def _finetune(world, out, **kw):
    p = world["paths"]
    return data.build_finetuning_dataset(
        out, genome=p["genome"], train_labels=p["train/HEPG2"], test_labels=p["test/HEPG2"],
        cell_line="HepG2", spec=data.DatasetSpec(seq_len=200), progress=False, **kw,
    )  # fmt: skip


def _leftovers(root):
    return sorted(p.name for p in root.iterdir() if p.name.startswith(".") and "tmp" in p.name)


def test_a_file_cut_short_is_rebuilt_not_reused(world, tmp_path):
    """regions.parquet cut short in a finished folder (a write in place killed half-way, an
    interrupted copy) makes the folder incomplete: the next call rebuilds it."""
    info = _finetune(world, tmp_path)
    before = data.load_dataset(info.path).regions
    parquet = info.path / "regions.parquet"
    parquet.write_bytes(parquet.read_bytes()[: parquet.stat().st_size // 2])
    assert not data.is_complete(info.path)
    with pytest.raises(FileNotFoundError, match="not a complete dataset folder"):
        data.load_dataset(info.path)
    again = _finetune(world, tmp_path)
    assert again.path == info.path and not again.reused
    pd.testing.assert_frame_equal(data.load_dataset(again.path).regions, before)


def test_an_exception_mid_build_leaves_nothing_to_reuse(world, tmp_path, monkeypatch):
    from chromtransfer_lib.data import steps

    real = steps.extract_sequences

    def extract_then_die(*args, **kwargs):
        real(*args, **kwargs)
        raise KeyboardInterrupt  # a signal in the middle of the build

    monkeypatch.setattr(steps, "extract_sequences", extract_then_die)
    with pytest.raises(KeyboardInterrupt):
        _finetune(world, tmp_path)
    assert list(tmp_path.glob("finetune-*")) == [] and _leftovers(tmp_path) == []
    monkeypatch.setattr(steps, "extract_sequences", real)
    assert not _finetune(world, tmp_path).reused


def test_a_killed_build_is_rebuilt_and_its_temporary_folder_removed(world, tmp_path):
    """SIGKILL after codes.npy is written: the next build does not reuse the half-made folder,
    and removes it (at the paper's size it holds gigabytes)."""
    import subprocess
    import sys

    p = world["paths"]
    script = f"""
import os, signal
from chromtransfer_lib.data import datasets as data, steps
real = steps.extract_sequences
def extract_then_die(*a, **k):
    real(*a, **k)
    os.kill(os.getpid(), signal.SIGKILL)
steps.extract_sequences = extract_then_die
data.build_finetuning_dataset(
    {str(tmp_path)!r}, genome={str(p["genome"])!r}, train_labels={str(p["train/HEPG2"])!r},
    test_labels={str(p["test/HEPG2"])!r}, cell_line="HepG2",
    spec=data.DatasetSpec(seq_len=200), progress=False)
"""
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert res.returncode == -9, res.stderr
    assert len(_leftovers(tmp_path)) == 1 and not list(tmp_path.glob("finetune-*"))
    info = _finetune(world, tmp_path)
    assert not info.reused and data.is_complete(info.path)
    assert _leftovers(tmp_path) == []

"""Tests for the simulated world (chromtransfer_lib.sim.world, genome_sim, plant).

The world is read back with the same readers used for real data (pyfaidx, regions.read_bed,
labels.read_label_file) and checked against what the ground truth says was planted, against
the JASPAR matrices, and against the paper's class proportions.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time

import numpy as np
import pandas as pd
import pyfaidx
import pytest

from chromtransfer_lib.config import AUTHOR_SPELLING, CELL_LINES, load_profile
from chromtransfer_lib.genome.jaspar import load_jaspar, resolve_motifs
from chromtransfer_lib.genome.labels import read_label_file
from chromtransfer_lib.genome.regions import read_bed
from chromtransfer_lib.genome.sequence import decode_sequences, read_chromosome
from chromtransfer_lib.sim import background as genome_sim
from chromtransfer_lib.sim import plant
from chromtransfer_lib.sim.plant import compensate_gc
from chromtransfer_lib.sim.world import (
    PAPER_NEGATIVES,
    PAPER_POSITIVES,
    SimulationError,
    World,
    class_sizes,
    negative_ratio,
    simulate_world,
)

COMP = str.maketrans("ACGT", "TGCA")


def tiny_spec(**changes):
    """The smoke world, smaller: 680 kb in 4 chromosomes, 320 regions."""
    spec = load_profile("smoke").simulation
    base = dict(
        chrom_lengths={"chr1": 200_000, "chr2": 160_000, "chr3": 160_000, "chr4": 160_000},
        n_pretrain_rdhs=100,
        n_specific_total=200,
        n_shared=20,
        gc_block=10_000,
        repeat_length=(300, 2000),
        universal_negative_fraction=0.1,
    )
    base.update(changes)
    return dataclasses.replace(spec, **base)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    return simulate_world(tmp_path_factory.mktemp("world"), spec=tiny_spec(), random_state=3)


@pytest.fixture(scope="module")
def truth(world):
    regions = pd.read_csv(world.region_truth, sep="\t", keep_default_na=False)
    sites = pd.read_csv(
        world.ground_truth, sep="\t", dtype={"rel_start": "Int64", "rel_end": "Int64"}
    )
    return regions, sites


@pytest.fixture(scope="module")
def genome(world):
    fa = pyfaidx.Fasta(str(world.genome), sequence_always_upper=False, rebuild=False)
    seqs = {name: str(fa[name][:]) for name in fa.keys()}
    fa.close()
    return seqs


def test_layout_and_manifest(world):
    for p in [
        world.genome,
        world.genome_fai,
        world.rdhs_bed,
        world.accessible_bed,
        world.gaps_bed,
        world.blacklist_bed,
        world.ground_truth,
        world.region_truth,
        world.motifs,
        world.manifest,
        *world.train_labels.values(),
        *world.test_labels.values(),
    ]:
        assert p.is_file(), p
    assert world.train_labels["HepG2"].name == "HEPG2.csv"
    manifest = json.loads(world.manifest.read_text())
    files = {
        p.relative_to(world.out_dir).as_posix()
        for p in world.out_dir.rglob("*")
        if p.is_file() and p != world.manifest
    }
    assert set(manifest["files"]) == files and len(files) == 21
    for rel, rec in manifest["files"].items():
        data = (world.out_dir / rel).read_bytes()
        assert rec == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    assert manifest["random_state"] == 3
    assert manifest["spec"]["n_specific_total"] == 200


def test_fai_equals_one_pyfaidx_builds(world, tmp_path):
    copy = tmp_path / "g.fa"
    copy.write_bytes(world.genome.read_bytes())
    pyfaidx.Faidx(str(copy)).close()  # builds g.fa.fai from scratch
    assert (tmp_path / "g.fa.fai").read_text() == world.genome_fai.read_text()
    codes = read_chromosome(world.genome, "chr2")  # the data layer's reader
    fa = pyfaidx.Fasta(str(world.genome))
    assert decode_sequences(codes[None, :])[0] == str(fa["chr2"][:]).upper()
    fa.close()
    lines = world.genome.read_text().splitlines()
    assert {len(x) for x in lines if not x.startswith(">")} <= set(range(1, 61))


def test_genome_composition_gaps_and_softmask(world, genome):
    spec = tiny_spec()
    assert {k: len(v) for k, v in genome.items()} == spec.chrom_lengths
    gaps = read_bed(world.gaps_bed, chrom_sizes=spec.chrom_lengths)
    assert set(gaps["name"]) == {"telomere", "contig"}
    for chrom, seq in genome.items():
        is_n = np.frombuffer(seq.encode(), dtype=np.uint8) == ord("N")
        in_gap = np.zeros(len(seq), dtype=bool)
        for r in gaps[gaps["chrom"] == chrom].itertuples():
            in_gap[r.start : r.end] = True
        np.testing.assert_array_equal(is_n, in_gap)  # N exactly at the gaps
        assert seq[:10_000] == "N" * 10_000  # telomere, as chr2 in hg38
    allseq = "".join(genome.values()).replace("N", "")
    assert abs(sum(c.islower() for c in allseq) / len(allseq) - spec.softmask_fraction) < 0.05
    upper = allseq.upper()
    gc = (upper.count("G") + upper.count("C")) / len(upper)
    assert abs(gc - spec.gc_mean) < 0.03
    for r in read_bed(world.blacklist_bed).itertuples():  # satellites: soft-masked
        assert genome[r.chrom][r.start : r.end].islower()


def test_background_cpg_depletion(world, genome, truth):
    regions, _ = truth
    seq = np.frombuffer(genome["chr1"].upper().encode(), dtype=np.uint8).copy()
    for r in regions[regions["chrom"] == "chr1"].itertuples():
        seq[r.start : r.end] = ord("N")  # regions carry CpG-rich sites: background only
    ok = seq != ord("N")
    cpg = np.sum((seq[:-1] == ord("C")) & (seq[1:] == ord("G")))
    expected = np.mean(seq[ok] == ord("C")) * np.mean(seq[ok] == ord("G")) * ok.sum()
    assert cpg / expected == pytest.approx(tiny_spec().cpg_obs_exp, abs=0.05)


def test_depletion_plan_hits_targets():
    rng = np.random.default_rng(0)
    for gc, r in [(0.35, 0.25), (0.41, 0.25), (0.5, 0.5)]:
        x, k = genome_sim.depletion_plan(gc, cpg_obs_exp=r)
        s = genome_sim.deplete_cpg(
            genome_sim.sample_iid(np.full(400_000, x), rng), keep=float(k), rng=rng
        )
        fc, fg = np.mean(s == 1), np.mean(s == 2)
        obs = np.mean((s[:-1] == 1) & (s[1:] == 2)) / (fc * fg)
        assert fc + fg == pytest.approx(gc, abs=0.005)
        assert obs == pytest.approx(r, abs=0.02)


def test_beds_read_and_describe_the_regions(world, truth):
    regions, _ = truth
    sizes = tiny_spec().chrom_lengths
    rdhs = read_bed(world.rdhs_bed, chrom_sizes=sizes)
    acc = read_bed(world.accessible_bed, chrom_sizes=sizes)
    assert len(rdhs) == 100 + 200 + 20 and list(rdhs.columns[3:]) == ["name", "score", "strand"]
    assert set(acc["name"]) == set(regions.loc[regions["region_class"] != "pretrain", "name"])
    shared = regions.loc[regions["region_class"] == "shared", "accessible_in"]
    assert set(shared.str.count(",")) <= {1, 2}  # 2-3 lines
    mid = (rdhs["start"] + rdhs["end"]) // 2
    np.testing.assert_array_equal(mid - 300, regions["start"])  # region = rDHS midpoint ± 300
    width = rdhs["end"] - rdhs["start"]
    assert width.between(150, 350).all()
    # regions never touch gaps or the blacklist, and never overlap each other
    blocked = pd.concat([read_bed(world.gaps_bed), read_bed(world.blacklist_bed)])
    for r in blocked.itertuples():
        same = regions[regions["chrom"] == r.chrom]
        assert not ((same["start"] < r.end) & (same["end"] > r.start)).any()
    for _, same in regions.groupby("chrom"):
        s = same.sort_values("start")
        assert (s["start"].to_numpy()[1:] >= s["end"].to_numpy()[:-1]).all()


def test_label_files_follow_the_paper(world, truth):
    regions, _ = truth
    spec = tiny_spec()
    by_key = regions.set_index(regions["chrom"] + ":" + regions["start"].astype(str))
    for split, files in (("train", world.train_labels), ("test", world.test_labels)):
        for line in CELL_LINES:
            own = AUTHOR_SPELLING[line]
            df = read_label_file(files[line])
            assert set(df["label"]) == {own, f"{own}_NEG", "Negative"}
            assert ((df["end"] - df["start"]) == 600).all()
            on_test = df["chrom"].isin(["chr2", "chr3"])
            assert on_test.all() if split == "test" else not on_test.any()
            info = by_key.loc[df["chrom"] + ":" + df["start"].astype(str)]
            lab = df["label"].to_numpy()
            assert (info["cell_line"].to_numpy()[lab == own] == line).all()
            neg = info[lab == f"{own}_NEG"]
            assert (neg["region_class"] == "specific").all() and (neg["cell_line"] != line).all()
            assert (info["region_class"].to_numpy()[lab == "Negative"] == "pretrain").all()
            # every specific positive of the line in this split is in the file, once
            expected = (regions["cell_line"] == line) & (regions["split"] == split)
            assert (lab == own).sum() == expected.sum()
            assert not df.duplicated(["chrom", "start"]).any()
            n_pos, n_neg = (lab == own).sum(), (lab != own).sum()
            assert n_neg == round(n_pos * negative_ratio(line, spec.neg_to_pos_ratio))
            assert (lab == "Negative").sum() == round(n_neg * spec.universal_negative_fraction)


def test_class_sizes_keep_paper_proportions():
    sizes = class_sizes(9000)
    assert sum(sizes.values()) == 9000
    total = sum(PAPER_POSITIVES.values())
    for line in CELL_LINES:
        assert abs(sizes[line] - 9000 * PAPER_POSITIVES[line] / total) < 1
    assert class_sizes(sum(PAPER_POSITIVES.values())) == PAPER_POSITIVES
    # the paper's own ratios; clipped into its stated 1:2.5-1:3.5 range by default
    assert negative_ratio("K562", (0, 100)) == pytest.approx(103995 / 36769)
    assert negative_ratio("A549", (2.5, 3.5)) == 3.5  # paper: 5.58
    assert negative_ratio("HepG2", (2.5, 3.5)) == 2.5  # paper: 1.76
    assert set(PAPER_NEGATIVES) == set(CELL_LINES)
    # line_scale grows the named line only; the others keep their paper counts
    scaled = class_sizes(9000, {"HepG2": 2.5})
    assert scaled["HepG2"] == round(2.5 * sizes["HepG2"])
    assert {c: scaled[c] for c in CELL_LINES if c != "HepG2"} == {
        c: sizes[c] for c in CELL_LINES if c != "HepG2"
    }
    assert class_sizes(9000, {}) == sizes


def _log_odds(seq: str, probs: np.ndarray) -> float:
    p = (probs + plant.LOG_ODDS_PSEUDO) / (1 + 4 * plant.LOG_ODDS_PSEUDO)
    return float(sum(np.log2(p["ACGT".index(b), j] / 0.25) for j, b in enumerate(seq)))


def test_planted_sites_are_where_the_truth_says(world, truth, genome):
    regions, sites = truth
    mats = {m.matrix_id: m for m in load_jaspar()}
    reg = regions.set_index("name")
    strong = sites["sharpness"] > 1
    for r in sites.itertuples():
        plus = genome[r.chrom][r.start : r.end].upper()
        site = plus if r.strand == "+" else plus.translate(COMP)[::-1]
        assert site == r.sequence  # extracted from the FASTA, read on the site's strand
        m = mats[r.matrix_id]
        assert m.name == r.tf and r.end - r.start == m.width
        assert _log_odds(site, m.probabilities()) == pytest.approx(r.log_odds, abs=2e-3)
        if r.region != ".":
            g = reg.loc[r.region]
            assert r.rel_start == r.start - g["start"] and r.rel_end == r.end - g["start"]
            assert 210 <= int(r.rel_start) and int(r.rel_end) <= 390  # central plant_window
    # strong sites look like their matrix: far above the same positions' background,
    # and better on their own strand than on the other one
    lo = sites.loc[strong, "log_odds"]
    assert lo.median() > 10
    other = [
        _log_odds(s.translate(COMP)[::-1], mats[i].probabilities())
        for s, i in zip(sites.loc[strong, "sequence"], sites.loc[strong, "matrix_id"], strict=True)
    ]
    assert np.mean(lo.to_numpy() > np.array(other)) > 0.9
    # no two sites overlap
    for _, s in sites.groupby("chrom"):
        s = s.sort_values("start")
        assert (s["start"].to_numpy()[1:] >= s["end"].to_numpy()[:-1]).all()


def test_sharpened_sampling_matches_its_distribution():
    """Per-column base frequencies of many sampled sites equal probs**s / sum (independent)."""
    (m,) = resolve_motifs(["MA0114.4"], load_jaspar())  # HNF4A
    rng = np.random.default_rng(1)
    n = 20_000
    for s in (1.0, 4.0):
        codes, _ = plant.sample_sites(
            np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool), np.full(n, s), [m], rng
        )
        x = np.stack(codes)
        freq = np.stack([(x == b).mean(axis=0) for b in range(4)])
        p = m.probabilities() ** s
        p /= p.sum(axis=0)
        np.testing.assert_allclose(freq, p, atol=0.015)
    codes, _ = plant.sample_sites(
        np.zeros(3, dtype=np.int64), np.array([False, True, True]), np.full(3, 1e6), [m], rng
    )
    consensus = np.array(["ACGT".index(b) for b in m.consensus])
    np.testing.assert_array_equal(codes[0], consensus)  # sharpness → ∞ gives the consensus
    np.testing.assert_array_equal(codes[1], 3 - consensus[::-1])  # minus strand: rev-comp


def test_who_carries_which_motifs(world, truth):
    regions, sites = truth
    spec = tiny_spec()
    motifs = pd.read_csv(world.motifs, sep="\t", keep_default_na=False)
    all_m = load_jaspar()
    drivers = {c: {m.matrix_id for m in resolve_motifs(spec.drivers[c], all_m)} for c in CELL_LINES}
    generic = {m.matrix_id for m in resolve_motifs(spec.generic_vocabulary, all_m)}
    decoys = {m.matrix_id for m in resolve_motifs(spec.decoy_vocabulary, all_m)}
    assert set(motifs.loc[motifs["role"] == "decoy", "matrix_id"]) == decoys
    assert set(motifs.loc[motifs["role"] == "generic", "matrix_id"]) == generic
    g = sites.merge(
        regions[["name", "grammar", "accessible_in"]], left_on="region", right_on="name", how="left"
    )
    for r in g.itertuples():
        if r.role == "driver" and r.region_class == "specific":
            assert r.matrix_id in drivers[r.grammar]
        elif r.role == "driver":  # shared: the union of its lines' drivers
            assert any(r.matrix_id in drivers[c] for c in r.accessible_in.split(","))
        elif r.role == "cross_driver":
            assert r.matrix_id not in drivers[r.grammar]
            assert any(r.matrix_id in d for d in drivers.values())
        elif r.role == "generic":
            assert r.matrix_id in generic
        elif r.role == "decoy":
            assert r.matrix_id in decoys
        elif r.role == "vocabulary":
            assert r.region_class == "pretrain" and r.matrix_id not in decoys
        elif r.role == "program":
            assert r.region_class == "pretrain" and r.matrix_id in drivers[r.grammar]
        else:
            assert r.role == "background" and r.region == "." and r.sharpness == 1
    per_region = sites[sites["role"] == "driver"].groupby("region").size()
    spec_regions = regions.loc[regions["region_class"] == "specific", "name"]
    assert per_region.reindex(spec_regions, fill_value=0).between(*spec.specific_sites).all()
    assert (sites["region"] == ".").sum() > 0
    weak = sites.loc[sites["region"] != ".", "sharpness"] == 1
    assert 0.03 < weak.mean() < 0.2  # weak_site_fraction 0.1


def test_label_noise_swaps_the_planted_grammar(tmp_path):
    spec = tiny_spec(label_noise=0.3)
    w = simulate_world(tmp_path, spec=spec, random_state=5)
    r = pd.read_csv(w.region_truth, sep="\t", keep_default_na=False)
    spec_r = r[r["region_class"] == "specific"]
    assert 0.2 < (spec_r["grammar"] != spec_r["cell_line"]).mean() < 0.4


def test_programs_give_pretraining_rdhss_a_lines_drivers(tmp_path):
    spec = tiny_spec(rdhs_program_fraction=0.5)
    w = simulate_world(tmp_path, spec=spec, random_state=5)
    r = pd.read_csv(w.region_truth, sep="\t", keep_default_na=False)
    sites = pd.read_csv(w.ground_truth, sep="\t", keep_default_na=False)
    pre = r[r["region_class"] == "pretrain"]
    assert 0.35 < (pre["grammar"] != "").mean() < 0.65
    assert set(pre["grammar"]) - {""} <= set(CELL_LINES)
    g = sites.merge(r[["name", "grammar"]], left_on="region", right_on="name")
    program = g[g["role"] == "program"]
    assert set(program["region"]) == set(pre.loc[pre["grammar"] != "", "name"])
    all_m = load_jaspar()
    drivers = {c: {m.matrix_id for m in resolve_motifs(spec.drivers[c], all_m)} for c in CELL_LINES}
    pairs = zip(program["matrix_id"], program["grammar"], strict=True)
    assert all(m in drivers[c] for m, c in pairs)
    # a program region is planted like a specific region of its line: no broad vocabulary
    assert not g[(g["role"] == "vocabulary") & g["region"].isin(program["region"])].size


def test_line_scale_enlarges_one_line_in_the_world(tmp_path):
    spec = tiny_spec(line_scale={"HepG2": 2.0}, neg_to_pos_ratio=(1.7, 3.5))
    w = simulate_world(tmp_path, spec=spec, random_state=5)
    r = pd.read_csv(w.region_truth, sep="\t", keep_default_na=False)
    counts = r.loc[r["region_class"] == "specific", "cell_line"].value_counts()
    assert counts.to_dict() == class_sizes(200, {"HepG2": 2.0})
    hepg2 = read_label_file(w.train_labels["HepG2"])["y"]
    in_train = (r["cell_line"] == "HepG2") & (r["split"] == "train")
    assert hepg2.sum() == in_train.sum()
    assert (hepg2 == 0).sum() == round(
        in_train.sum() * PAPER_NEGATIVES["HepG2"] / PAPER_POSITIVES["HepG2"]
    )
    with pytest.raises(SimulationError, match=r"line_scale names unknown cell lines \['HeLa'\]"):
        simulate_world(tmp_path / "x", spec=tiny_spec(line_scale={"HeLa": 2.0}), random_state=5)
    with pytest.raises(SimulationError, match="line_scale multipliers must be > 0"):
        simulate_world(tmp_path / "y", spec=tiny_spec(line_scale={"K562": 0}), random_state=5)


def test_determinism_and_seed_sensitivity(tmp_path, world):
    def hashes(w):
        return {k: v["sha256"] for k, v in json.loads(w.manifest.read_text())["files"].items()}

    again = simulate_world(tmp_path / "a", spec=tiny_spec(), random_state=3)
    assert hashes(again) == hashes(world)
    assert again.manifest.read_bytes() == world.manifest.read_bytes()
    other = simulate_world(tmp_path / "b", spec=tiny_spec(), random_state=4)
    differ = {k for k, v in hashes(other).items() if v != hashes(world)[k]}
    assert {"genome.fa", "rdhs.bed", "ground_truth.tsv", "labels/train/HEPG2.csv"} <= differ


def test_unknown_motif_names_fail_clearly(tmp_path):
    spec = tiny_spec(drivers={**tiny_spec().drivers, "HepG2": ("HNF4A", "HNF4Z")})
    with pytest.raises(SimulationError, match=r"simulation\.drivers\.HepG2.*'HNF4Z'.*HNF4A"):
        simulate_world(tmp_path, spec=spec, random_state=0)
    by_id = tiny_spec(drivers={**tiny_spec().drivers, "HepG2": ("MA1494.1", "foxa2")})
    w = simulate_world(tmp_path, spec=by_id, random_state=0)
    m = pd.read_csv(w.motifs, sep="\t", keep_default_na=False)
    assert set(m.loc[m["driver_of"] == "HepG2", "matrix_id"]) == {"MA1494.1", "MA0047.3"}


def test_bad_specs_fail_clearly(tmp_path):
    with pytest.raises(SimulationError, match="do not fit"):
        simulate_world(tmp_path, spec=tiny_spec(n_pretrain_rdhs=5000), random_state=0)
    with pytest.raises(SimulationError, match="test chromosomes"):
        simulate_world(tmp_path, spec=tiny_spec(), random_state=0, test_chroms=("chr9",))


def test_smoke_profile_is_fast(tmp_path):
    prof = load_profile("smoke")
    t0 = time.perf_counter()
    w = simulate_world(tmp_path, spec=prof.simulation, random_state=prof.seed)
    assert time.perf_counter() - t0 < 15
    assert read_label_file(w.test_labels["K562"])["y"].sum() > 0


def test_all_profiles_resolve_their_motifs():
    from chromtransfer_lib.sim.world import plan_motifs

    for name in ("smoke", "quick", "paper"):
        plan = plan_motifs(load_profile(name).simulation)
        assert all(len(plan.drivers[c]) >= 3 for c in CELL_LINES)


def test_gc_compensation_restores_window_gc():
    rng = np.random.default_rng(2)
    n, width = 2000, 180
    windows = genome_sim.sample_iid(np.full(n * width, 0.41), rng).reshape(n, width)
    site_mask = np.zeros((n, width), dtype=bool)
    site_mask[:, 40:120] = True
    windows[:, 40:120] = rng.choice([0, 3], size=(n, 80))  # AT-only sites (like HNF1A/FOXA)
    target = np.full(n, 0.41)
    for strength, expected in ((0.0, 0.41 * 100 / 180), (1.0, 0.41)):
        out = compensate_gc(
            windows, site_mask, target, strength=strength, cpg_obs_exp=0.25, rng=rng
        )
        np.testing.assert_array_equal(out[site_mask], windows[site_mask])  # sites untouched
        gc = ((out == 1) | (out == 2)).mean()
        assert gc == pytest.approx(expected, abs=0.01)


def test_planting_does_not_shift_central_gc(world, truth, genome):
    regions, _ = truth
    background = "".join(genome.values()).upper().replace("N", "")
    bg_gc = (background.count("G") + background.count("C")) / len(background)

    def central_gc(rows):
        seq = "".join(genome[r.chrom][r.start + 210 : r.start + 390].upper() for r in rows)
        return (seq.count("G") + seq.count("C")) / len(seq)

    for cls, rows in regions.groupby(
        regions["cell_line"].where(regions["cell_line"] != "", regions["region_class"])
    ):
        assert central_gc(rows.itertuples()) == pytest.approx(bg_gc, abs=0.03), cls


def test_a_kill_while_the_manifest_is_written_leaves_no_manifest(tmp_path, monkeypatch):
    """manifest.json marks a complete world (the book reuses a world that has one): a write cut
    off half-way must not leave a manifest behind."""
    from pathlib import Path

    real = Path.write_text

    def half_then_die(self, data, *args, **kwargs):
        if "manifest" in self.name:
            real(self, data[: len(data) // 2], *args, **kwargs)
            raise KeyboardInterrupt
        return real(self, data, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", half_then_die)
    with pytest.raises(KeyboardInterrupt):
        simulate_world(tmp_path / "w", spec=tiny_spec(), random_state=3)
    assert not (tmp_path / "w" / "manifest.json").exists()
    assert not [p for p in (tmp_path / "w").iterdir() if "manifest" in p.name]

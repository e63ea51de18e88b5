"""A deterministic, ENCODE-like simulated world: the book's offline default data.

:func:`simulate_world` writes, into one folder, the same files and formats as the paper's real
inputs, plus the truth about what was planted::

    genome.fa, genome.fa.fai        soft-masked FASTA with N gaps (see genome_sim)
    rdhs.bed                        every rDHS core (BED6); regions are its midpoint ± 300 bp
    accessible_six_lines.bed        rDHSs accessible in any of the six lines (specific + shared)
    gaps.bed, blacklist.bed         assembly gaps (telomere/contig), satellite blacklist (BED4)
    labels/{train,test}/<CELL>.csv  rows ``chrN:start-end,LABEL`` (authors' spelling: HEPG2)
    ground_truth.tsv                one row per planted site (genome + region coordinates)
    region_truth.tsv                one row per rDHS: class, lines, planted grammar, split
    motifs.tsv                      the matrices used and their roles
    manifest.json                   sha256 + size of every file, the seed and the spec

Region classes: *pretrain* rDHSs (accessible in none of the six lines) carry sites from the
broad vocabulary (generic factors + all drivers), except a ``rdhs_program_fraction`` of them
that carry one line's program (drawn like that line's specific rDHSs, role ``program``: the
compendium's regions of related cell types, which open through the same factors); *specific*
rDHSs (accessible in exactly one line) carry that line's drivers, some generic and a few
other-line sites; *shared* rDHSs (2-3 lines) carry the union of their lines' drivers. Every
region also gets decoy sites, and the background gets weak sites of any matrix. Specific rDHSs
are split over the lines in the paper's proportions (:func:`class_sizes`), each line's count
then multiplied by its ``line_scale`` (a larger bootstrap line is a recorded deviation).
Label files follow the paper: positives are a line's specific rDHSs; negatives are other lines'
specific rDHSs (``<CELL>_NEG``) and a few pre-training rDHSs (``Negative``), split by
chromosome (test = ``test_chroms``).

Regions are 0-based half-open (bioframe); ``chr1:100-700`` covers bases 100..699.
ARCHITECTURE.md, "sim".

``ground_truth.tsv`` columns: ``region`` (rDHS name, ``.`` for a background site),
``region_class`` (pretrain/specific/shared/background), ``tf``, ``matrix_id``, ``role``
(``vocabulary`` or ``program`` in pre-training rDHSs; ``driver``, ``cross_driver``,
``generic``, ``decoy`` in accessible rDHSs; ``background``), ``chrom, start, end`` (genome,
0-based half-open), ``strand``, ``rel_start, rel_end`` (from the 600-bp region's start; empty
for background), ``sharpness`` (1 = sampled from the matrix as-is), ``log_odds`` (log2 odds of
the site against a uniform background, matrix orientation) and ``sequence`` (the site read on
its own strand, i.e. in the matrix's orientation). ``region_truth.tsv`` columns: ``name, chrom,
start, end`` (the 600-bp region), ``core_start, core_end`` (the rDHS), ``region_class``,
``cell_line`` (specific only), ``accessible_in``, ``grammar`` (whose drivers were planted:
differs from ``cell_line`` for the ``label_noise`` fraction; a pre-training rDHS's program,
else empty), ``split``, ``n_sites``.

Measured here (2 CPU cores): the ``smoke`` world in ~0.5 s, the ``quick`` world (33 Mbp,
16,000 rDHSs, ~113,000 sites) in ~3-5 s.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from chromtransfer_lib import reported
from chromtransfer_lib.config import AUTHOR_SPELLING, CELL_LINES, SimulationConfig
from chromtransfer_lib.fileio import sha256_file, write_text_atomic
from chromtransfer_lib.genome.jaspar import (
    JasparMatrix,
    UnknownMotifError,
    load_jaspar,
    resolve_motifs,
)
from chromtransfer_lib.sim import background as genome_sim
from chromtransfer_lib.sim import regions as sr
from chromtransfer_lib.sim.regions import SimulationError

logger = logging.getLogger(__name__)

#: The paper's fine-tuning class sizes (Methods): positives and negatives per cell line.
PAPER_POSITIVES: dict[str, int] = reported.section("dataset_sizes")["positives"]
PAPER_NEGATIVES: dict[str, int] = reported.section("dataset_sizes")["negatives"]


@dataclass(frozen=True)
class World:
    """Paths of a simulated world (layout in the module docstring)."""

    out_dir: Path
    genome: Path
    genome_fai: Path
    rdhs_bed: Path
    accessible_bed: Path
    gaps_bed: Path
    blacklist_bed: Path
    train_labels: dict[str, Path]
    test_labels: dict[str, Path]
    ground_truth: Path
    region_truth: Path
    motifs: Path
    manifest: Path

    @classmethod
    def at(cls, out_dir: str | Path) -> World:
        """The paths of a world in ``out_dir`` (whether or not it has been written yet)."""
        d = Path(out_dir)
        labels = {
            s: {c: d / "labels" / s / f"{AUTHOR_SPELLING[c]}.csv" for c in CELL_LINES}
            for s in ("train", "test")
        }
        return cls(
            d,
            d / "genome.fa",
            d / "genome.fa.fai",
            d / "rdhs.bed",
            d / "accessible_six_lines.bed",
            d / "gaps.bed",
            d / "blacklist.bed",
            labels["train"],
            labels["test"],
            d / "ground_truth.tsv",
            d / "region_truth.tsv",
            d / "motifs.tsv",
            d / "manifest.json",
        )


@dataclass(frozen=True)
class MotifPlan:
    """The matrices a world uses and their roles (indices into ``matrices``)."""

    matrices: list[JasparMatrix]
    generic: np.ndarray
    decoy: np.ndarray
    drivers: dict[str, np.ndarray]

    def table(self) -> pd.DataFrame:
        """One row per matrix: ``matrix_id, name, role, driver_of, width, consensus``."""
        rows = []
        for i, m in enumerate(self.matrices):
            of = [c for c in CELL_LINES if i in self.drivers[c]]
            role = "driver" if of else ("generic" if i in self.generic else "decoy")
            rows.append((m.matrix_id, m.name, role, ",".join(of), m.width, m.consensus))
        cols = ["matrix_id", "name", "role", "driver_of", "width", "consensus"]
        return pd.DataFrame(rows, columns=cols)


def plan_motifs(spec: SimulationConfig) -> MotifPlan:
    """Resolve the spec's driver, generic and decoy names against JASPAR (offline)."""
    all_m = load_jaspar(release=spec.jaspar_release, collection="CORE", tax_group="vertebrates")
    used: list[JasparMatrix] = []

    def indices(names: Sequence[str], key: str) -> np.ndarray:
        try:
            found = resolve_motifs(names, all_m)
        except UnknownMotifError as err:
            raise SimulationError(f"simulation.{key}: {err}") from err
        out = []
        for m in found:
            if m not in used:
                used.append(m)
            out.append(used.index(m))
        return np.array(sorted(set(out)), dtype=np.int64)

    missing = [c for c in CELL_LINES if c not in spec.drivers]
    if missing:
        raise SimulationError(f"simulation.drivers: no driver list for {missing}")
    generic = indices(spec.generic_vocabulary, "generic_vocabulary")
    drivers = {c: indices(spec.drivers[c], f"drivers.{c}") for c in CELL_LINES}
    decoy = indices(spec.decoy_vocabulary, "decoy_vocabulary")
    clash = set(decoy) & (set(generic) | {i for v in drivers.values() for i in v})
    if clash:
        names = sorted(used[i].name for i in clash)
        raise SimulationError(f"simulation.decoy_vocabulary: {names} are also drivers/generic")
    return MotifPlan(used, generic, decoy, drivers)


def class_sizes(
    n_specific_total: int, line_scale: Mapping[str, float] | None = None
) -> dict[str, int]:
    """Specific positives per line in the paper's proportions (largest-remainder rounding).

    ``line_scale`` multiplies the named lines' counts afterwards (rounded), so the lines it
    does not name keep their paper-proportioned counts and the total grows.
    """
    total = sum(PAPER_POSITIVES.values())
    exact = np.array([PAPER_POSITIVES[c] * n_specific_total / total for c in CELL_LINES])
    n = np.floor(exact).astype(int)
    n[np.argsort(-(exact - n), kind="stable")[: n_specific_total - n.sum()]] += 1
    scale = line_scale or {}
    return {c: round(k * scale.get(c, 1.0)) for c, k in zip(CELL_LINES, n.tolist(), strict=True)}


def negative_ratio(cell_line: str, ratio_range: tuple[float, float]) -> float:
    """The paper's negatives per positive for a line, clipped into ``ratio_range``.

    The paper states 1:2.5-1:3.5, but its own counts give 1.76 (HepG2) and 5.58 (A549);
    a wide range (e.g. ``[0, 100]``) reproduces the counts exactly.
    """
    r = PAPER_NEGATIVES[cell_line] / PAPER_POSITIVES[cell_line]
    return float(np.clip(r, *ratio_range))


def check_spec(spec: SimulationConfig, *, test_chroms: Sequence[str]) -> None:
    """Raise :class:`SimulationError` naming the key for values no world can be built from."""
    problems = []
    bad = [c for c in test_chroms if c not in spec.chrom_lengths]
    if bad or len(set(test_chroms)) >= len(spec.chrom_lengths):
        problems.append(
            f"test chromosomes {list(test_chroms)} must be a proper subset of "
            f"simulation.chrom_lengths ({list(spec.chrom_lengths)})"
        )
    if spec.region_length % 2 or not 0 < spec.plant_window <= spec.region_length:
        problems.append("simulation.plant_window must lie in 1..region_length (an even number)")
    if not 0 < spec.core_width[0] <= spec.core_width[1] <= spec.region_length:
        problems.append("simulation.core_width must be increasing and at most region_length")
    if spec.sharpness <= 0:
        problems.append("simulation.sharpness must be > 0 (1 = sample the matrix as-is)")
    for key in (
        "softmask_fraction",
        "weak_site_fraction",
        "label_noise",
        "universal_negative_fraction",
        "cpg_obs_exp",
        "gc_mean",
        "gc_compensation",
        "rdhs_program_fraction",
    ):
        if not 0 <= getattr(spec, key) <= 1:
            problems.append(f"simulation.{key} must lie in [0, 1]")
    unknown = sorted(set(spec.line_scale) - set(CELL_LINES))
    if unknown:
        problems.append(f"simulation.line_scale names unknown cell lines {unknown}")
    if any(v <= 0 for v in spec.line_scale.values()):
        problems.append("simulation.line_scale multipliers must be > 0")
    for key in (
        "rdhs_sites",
        "specific_sites",
        "specific_generic_sites",
        "cross_driver_sites",
        "decoy_sites",
        "gap_length",
        "blacklist_length",
        "repeat_length",
        "neg_to_pos_ratio",
        "repeat_divergence",
    ):
        lo, hi = getattr(spec, key)
        if not 0 <= lo <= hi:
            problems.append(f"simulation.{key} must be a range [lo, hi] with 0 <= lo <= hi")
    if problems:
        raise SimulationError("; ".join(problems))


def simulate_world(
    out_dir: str | Path,
    *,
    spec: SimulationConfig,
    random_state: int,
    test_chroms: Sequence[str] = ("chr2", "chr3"),
) -> World:
    """Generate the simulated world into ``out_dir`` (created; existing files overwritten).

    Parameters
    ----------
    out_dir
        Output folder (layout in the module docstring).
    spec
        The profile's ``simulation`` section.
    random_state
        Seed; the same seed and spec give byte-identical files.
    test_chroms
        Chromosomes of the test label files (the authors': chr2 and chr3).

    Returns
    -------
    World
        Paths of every output file.

    Raises
    ------
    SimulationError
        Naming the spec key to change (unknown motif names, regions that do not fit, ...).
    """
    world = World.at(out_dir)
    check_spec(spec, test_chroms=test_chroms)
    motifs = plan_motifs(spec)
    s_lib, s_chroms, s_regions, s_sites, s_labels = np.random.SeedSequence(random_state).spawn(5)

    drafts = _draft_genome(spec, s_lib, s_chroms)

    rng_regions = np.random.default_rng(s_regions)
    sizes = class_sizes(spec.n_specific_total, spec.line_scale)
    regions = sr.assign_regions(
        sr.place_regions(drafts, spec=spec, n_specific=sum(sizes.values()), rng=rng_regions),
        spec=spec,
        sizes=sizes,
        test_chroms=test_chroms,
        rng=rng_regions,
    )
    sites, site_codes, log_odds = sr.plant_world(
        drafts, regions, motifs, spec=spec, rng=np.random.default_rng(s_sites)
    )

    world.out_dir.mkdir(parents=True, exist_ok=True)
    (world.out_dir / "labels").mkdir(exist_ok=True)
    genome_sim.write_fasta(world.genome, {c: (d.codes, d.mask) for c, d in drafts.items()})
    sr.write_tables(
        world, drafts, regions, motifs.table(), motifs.matrices, sites, site_codes, log_odds
    )
    ratios = {c: negative_ratio(c, spec.neg_to_pos_ratio) for c in CELL_LINES}
    counts = sr.write_labels(
        world, regions, ratios=ratios, spec=spec, rng=np.random.default_rng(s_labels)
    )
    counts["regions"] = regions["region_class"].value_counts().sort_index().to_dict()
    counts["sites"] = int(sites.region.size)
    _write_manifest(
        world, spec=spec, random_state=random_state, test_chroms=test_chroms, counts=counts
    )
    logger.info(
        "simulated world written to %s (%d regions, %d sites)",
        world.out_dir,
        len(regions),
        sites.region.size,
    )
    return world


def _draft_genome(
    spec: SimulationConfig, s_lib: np.random.SeedSequence, s_chroms: np.random.SeedSequence
) -> dict[str, genome_sim.ChromosomeDraft]:
    """The repeat library and every chromosome's background (one seed per chromosome)."""
    library = genome_sim.make_repeat_library(
        n_families=spec.repeat_families,
        length_range=spec.repeat_length,
        gc_mean=spec.gc_mean,
        cpg_obs_exp=spec.cpg_obs_exp,
        rng=np.random.default_rng(s_lib),
    )
    chrom_seeds = s_chroms.spawn(len(spec.chrom_lengths))
    return {
        chrom: genome_sim.simulate_chromosome(
            length, library=library, spec=spec, rng=np.random.default_rng(seed)
        )
        for (chrom, length), seed in zip(spec.chrom_lengths.items(), chrom_seeds, strict=True)
    }


def _write_manifest(
    world: World,
    *,
    spec: SimulationConfig,
    random_state: int,
    test_chroms: Sequence[str],
    counts: dict,
) -> None:
    """sha256 and size of every file in the world, with the seed, the spec and the counts."""
    paths = [
        world.genome,
        world.genome_fai,
        world.rdhs_bed,
        world.accessible_bed,
        world.gaps_bed,
        world.blacklist_bed,
        world.ground_truth,
        world.region_truth,
        world.motifs,
        *world.train_labels.values(),
        *world.test_labels.values(),
    ]
    files = {}
    for path in sorted(paths):
        rel = path.relative_to(world.out_dir).as_posix()
        files[rel] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    manifest = {
        "generator": "chromtransfer_lib.sim.world.simulate_world",
        "random_state": random_state,
        "test_chroms": list(test_chroms),
        "spec": json.loads(json.dumps(dataclasses.asdict(spec))),
        "counts": counts,
        "files": files,
    }
    # last, and atomically: the manifest's presence marks a complete world
    write_text_atomic(world.manifest, json.dumps(manifest, indent=2, sort_keys=True) + "\n")

"""Data stages: the profile's inputs (a simulated world or the paper's files) and the datasets."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from chromtransfer_lib.book.stages.context import RunContext
from chromtransfer_lib.config import CELL_LINES, Profile

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Inputs:
    """The files every data path starts from (simulated world, paper data or own data)."""

    root: Path
    genome: Path
    rdhs_bed: Path
    accessible_bed: Path
    gaps_bed: Path
    blacklist_bed: Path
    train_labels: dict[str, Path]
    test_labels: dict[str, Path]
    ground_truth: Path | None
    region_truth: Path | None
    motifs: Path | None


def world_folder(profile: Profile, run_dir: str | Path) -> Path:
    """Where a profile's inputs live in a run directory: ``world/simulated-<hash>`` (the hash
    of the simulation section and the seed) or ``world/paper``."""
    if profile.data.source == "simulated":
        key = profile.config_hash("simulation", "seed")
        return Path(run_dir) / "world" / f"simulated-{key}"
    return Path(run_dir) / "world" / "paper"


def ensure_world(ctx: RunContext) -> Inputs:
    """The profile's inputs: simulate the world (cached by its spec and seed) or prepare the
    paper's fetched files."""
    if ctx.profile.data.source == "simulated":
        return _simulated_world(ctx)
    return _paper_world(ctx)


def _simulated_world(ctx: RunContext) -> Inputs:
    from chromtransfer_lib.sim.world import World, simulate_world

    prof = ctx.profile
    out = world_folder(prof, ctx.run_dir)
    world = World.at(out)
    if world.manifest.is_file():
        log.info("reusing simulated world %s", out)
    else:
        world = simulate_world(
            out, spec=prof.simulation, random_state=prof.seed, test_chroms=prof.data.test_chroms
        )
    return Inputs(
        root=world.out_dir,
        genome=world.genome,
        rdhs_bed=world.rdhs_bed,
        accessible_bed=world.accessible_bed,
        gaps_bed=world.gaps_bed,
        blacklist_bed=world.blacklist_bed,
        train_labels=dict(world.train_labels),
        test_labels=dict(world.test_labels),
        ground_truth=world.ground_truth,
        region_truth=world.region_truth,
        motifs=world.motifs,
    )


def _paper_world(ctx: RunContext) -> Inputs:
    from chromtransfer_lib.config import AUTHOR_SPELLING
    from chromtransfer_lib.data import manifest
    from chromtransfer_lib.data import paper as paperdata

    paths = manifest.fetch("all", progress=ctx.progress)
    world = paperdata.prepare_paper_world(
        paperdata.paper_inputs(paths), world_folder(ctx.profile, ctx.run_dir)
    )
    labels = {
        split: {c: world.labels_dir / split / f"{AUTHOR_SPELLING[c]}.csv" for c in CELL_LINES}
        for split in ("train", "test")
    }
    return Inputs(
        root=world.root,
        genome=world.genome_fasta,
        rdhs_bed=world.rdhs_bed,
        accessible_bed=world.accessible_bed,
        gaps_bed=world.gaps_bed,
        blacklist_bed=world.blacklist_bed,
        train_labels=labels["train"],
        test_labels=labels["test"],
        ground_truth=None,
        region_truth=None,
        motifs=None,
    )


@dataclass(frozen=True)
class Datasets:
    """Loaded dataset artifacts (codes memory-mapped)."""

    pretrain: object
    finetune: dict[str, object]
    multiclass: object


def ensure_datasets(ctx: RunContext, inputs: Inputs) -> Datasets:
    """Build (or reuse) the pre-training, six fine-tuning and multiclass datasets."""
    from chromtransfer_lib.data import datasets as data

    prof, root = ctx.profile, ctx.run_dir / "datasets"
    spec = data.DatasetSpec.from_profile(prof.data, random_state=prof.seed)
    common = {"genome": inputs.genome, "spec": spec, "progress": ctx.progress}
    pre = data.build_pretraining_dataset(
        root,
        data.PretrainingInputs(
            genome=inputs.genome,
            rdhs_bed=inputs.rdhs_bed,
            accessible_bed=inputs.accessible_bed,
            gaps_bed=inputs.gaps_bed,
            blacklist_bed=inputs.blacklist_bed,
        ),
        spec=spec,
        negatives=data.NegativeSampling(
            negatives_per_positive=prof.data.pretrain_negatives_per_positive,
            flank=prof.data.flank_exclusion,
        ),
        progress=ctx.progress,
    )
    fine = {
        line: data.build_finetuning_dataset(
            root,
            train_labels=inputs.train_labels[line],
            test_labels=inputs.test_labels[line],
            cell_line=line,
            pretraining=pre.path,
            **common,
        )
        for line in CELL_LINES
    }
    multi = data.build_multiclass_dataset(
        root, train_labels=inputs.train_labels, test_labels=inputs.test_labels, **common
    )
    return Datasets(
        pretrain=data.load_dataset(pre.path),
        finetune={line: data.load_dataset(info.path) for line, info in fine.items()},
        multiclass=data.load_dataset(multi.path),
    )

"""The book's stages, from a profile to artifacts: the glue between chapters and the library.

Chapters call these functions with a :class:`RunContext` (a loaded profile and a run
directory). Each stage maps the profile onto the explicit arguments of library functions and
caches its output in the run directory, keyed by the configuration that produced it, so a
chapter re-run — or a later chapter — reuses what is already there and never a stale artifact.

Run-directory layout::

    runs/<profile>/
      world/<source>-<hash>/     simulated world (or the paper's inputs, prepared)
      datasets/                  pretrain-<hash>/, finetune-<hash>/, multiclass-<hash>/
      models/pretrain/fold<k>/   the pre-trained model(s)
      models/<kind>/<line>/fold<k>/  finetune, scratch (binary baseline); multiclass/fold<k>/
      bootstrap/<line>/          Table 1 grid units
      metrics/<chapter>.json     numbers quoted by the book and the ledger
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from chromtransfer_lib.config import CELL_LINES, Profile, load_profile

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunContext:
    """A loaded profile and the directory its artifacts live in."""

    profile: Profile
    run_dir: Path

    @classmethod
    def create(cls, profile: str | Path, run_dir: str | Path | None = None) -> RunContext:
        """Load ``profile`` and create ``run_dir`` (default ``runs/<profile name>``)."""
        prof = load_profile(profile)
        rd = Path(run_dir) if run_dir else Path("runs") / prof.name
        rd.mkdir(parents=True, exist_ok=True)
        return cls(prof, rd.resolve())

    @property
    def progress(self) -> bool:
        """Progress bars on long steps (off for the smoke profile's tiny steps)."""
        return self.profile.name != "smoke"


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


def ensure_world(ctx: RunContext) -> Inputs:
    """The profile's inputs: simulate the world (cached by its spec and seed) or prepare the
    paper's fetched files."""
    prof = ctx.profile
    if prof.data.source == "simulated":
        from chromtransfer_lib.simulate import World, simulate_world

        key = prof.config_hash("simulation", "seed")
        out = ctx.run_dir / "world" / f"simulated-{key}"
        world = World.at(out)
        if world.manifest.is_file():
            log.info("reusing simulated world %s", out)
        else:
            world = simulate_world(
                out,
                spec=prof.simulation,
                random_state=prof.seed,
                test_chroms=prof.data.test_chroms,
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
    from chromtransfer_lib import manifest, paperdata

    paths = manifest.fetch("all", progress=ctx.progress)
    world = paperdata.prepare_paper_world(
        paperdata.paper_inputs(paths), ctx.run_dir / "world" / "paper"
    )
    from chromtransfer_lib.config import AUTHOR_SPELLING

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
    from chromtransfer_lib import data

    prof, root = ctx.profile, ctx.run_dir / "datasets"
    common = {
        "genome": inputs.genome,
        "seq_len": prof.data.seq_len,
        "test_chroms": prof.data.test_chroms,
        "n_folds": prof.data.n_folds,
        "max_n_fraction": prof.data.max_n_fraction,
        "random_state": prof.seed,
        "progress": ctx.progress,
    }
    pre = data.build_pretraining_dataset(
        root,
        rdhs_bed=inputs.rdhs_bed,
        accessible_bed=inputs.accessible_bed,
        gaps_bed=inputs.gaps_bed,
        blacklist_bed=inputs.blacklist_bed,
        negatives_per_positive=prof.data.pretrain_negatives_per_positive,
        flank=prof.data.flank_exclusion,
        **common,
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

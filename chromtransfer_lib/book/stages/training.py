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
import time
from dataclasses import dataclass
from pathlib import Path

from chromtransfer_lib.config import CELL_LINES, ConfigError, Profile, load_profile
from chromtransfer_lib.models.parallel import Job

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunContext:
    """A loaded profile and the directory its artifacts live in."""

    profile: Profile
    run_dir: Path

    @classmethod
    def create(cls, profile: str | Path, run_dir: str | Path | None = None) -> RunContext:
        """Load ``profile`` and create ``run_dir`` (default ``runs/<profile name>``).

        These are the notebooks' papermill parameters, so their types are checked here with a
        message that says how to pass them.
        """
        checks = (("profile", profile, (str, Path)), ("run_dir", run_dir, (str, Path, type(None))))
        for name, value, kinds in checks:
            if not isinstance(value, kinds):
                what = "a profile name or a YAML path" if name == "profile" else "a folder"
                raise ConfigError(
                    f"notebook parameter {name!r} must be a string ({what}), got "
                    f"{type(value).__name__} {value!r}; pass e.g. -p profile quick "
                    "-p run_dir runs/quick"
                )
        prof = load_profile(profile)
        rd = Path(run_dir) if run_dir else Path("runs") / prof.name
        rd.mkdir(parents=True, exist_ok=True)
        return cls(prof, rd.resolve())

    @property
    def progress(self) -> bool:
        """Progress bars on long steps (off for the smoke profile's tiny steps)."""
        return self.profile.name != "smoke"


def start_chapter(profile: str | Path, run_dir: str | Path | None) -> RunContext:
    """Set up a chapter: its :class:`RunContext`, and logging fit for a rendered page.

    Library warnings (regions dropped, with counts) go to stdout so the book shows them — the
    book leaves stderr, where TensorFlow writes its start-up chatter, out of the pages — and
    TensorFlow's retracing notices (one compiled predictor per model is expected) are muted.
    """
    import sys

    root = logging.getLogger()
    if not any(getattr(h, "_chromtransfer", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler._chromtransfer = True
        root.addHandler(handler)
        root.setLevel(logging.WARNING)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    ctx = RunContext.create(profile, run_dir)
    print(f"profile: {ctx.profile.name} — {ctx.profile.description}")
    return ctx


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
        from chromtransfer_lib.sim.world import World, simulate_world

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
    from chromtransfer_lib.data import manifest
    from chromtransfer_lib.data import paper as paperdata

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
    from chromtransfer_lib.data import datasets as data

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


# --- models ---------------------------------------------------------------------------------

#: The model kinds of chapter 3, in the order figures show them.
MODEL_KINDS = ("finetune", "scratch")
KIND_LABELS = {"finetune": "ChromTransfer", "scratch": "binary baseline"}


def recipe(tc: object) -> object:
    """A profile section's :class:`~chromtransfer_lib.models.grids.Recipe` (``TrainConfig`` minus
    folds and precision)."""
    from chromtransfer_lib.models.grids import Recipe

    return Recipe(tc.learning_rate, tc.batch_size, tc.max_epochs, tc.patience, tc.monitor)


def network_kwargs(prof: Profile) -> dict:
    m = prof.model
    return {
        "seq_len": prof.data.seq_len,
        "stem_filters": m.stem_filters,
        "res1_filters": m.res1_filters,
        "res2_filters": m.res2_filters,
        "top_filters": m.top_filters,
        "dropout": m.dropout,
    }


def _model_dir(ctx: RunContext, name: str, *sections: str) -> Path:
    """``models/<name>-<hash>``: the hash covers everything that shapes the model."""
    key = ctx.profile.config_hash("seed", "simulation", "data", "model", *sections)
    return ctx.run_dir / "models" / f"{name}-{key}"


def _line_model_dir(ctx: RunContext, line: str, kind: str) -> Path:
    """Where a line's ChromTransfer (``finetune``) or baseline (``scratch``) folds live."""
    return _model_dir(ctx, f"{kind}-{line}", "pretrain", kind)


def _multiclass_dir(ctx: RunContext) -> Path:
    """Where the multiclass baseline's folds live."""
    return _model_dir(ctx, "multiclass", "multiclass")


def ensure_pretrained(ctx: RunContext, datasets: Datasets) -> object:
    """Pre-train on the rDHS-vs-background set, one model per configured CV fold.

    Returns the :class:`~chromtransfer_lib.models.grids.CVResult`; finished folds are reused.
    """
    from chromtransfer_lib.models.grids import cross_validate
    from chromtransfer_lib.models.network import build_pretrain_model

    prof = ctx.profile
    kw = network_kwargs(prof)

    def build(seed: int):
        return build_pretrain_model(
            head_units=prof.model.pretrain_head,
            mixed_precision=prof.pretrain.mixed_precision,
            random_state=seed,
            **kw,
        )

    ds = datasets.pretrain
    return cross_validate(
        build,
        recipe(prof.pretrain),
        codes=ds.codes,
        labels=ds.labels,
        folds=ds.regions["fold"].to_numpy(),
        out_dir=_model_dir(ctx, "pretrain", "pretrain"),
        random_state=prof.seed,
        fold_ids=prof.pretrain.folds,
        progress=ctx.progress,
    )


def pretrained_model(pretrain_cv: object) -> object:
    """The pre-trained model fine-tuning starts from: the first configured fold's."""
    return pretrain_cv.runs[0].model


def ensure_line_model(
    ctx: RunContext, datasets: Datasets, pretrain_cv: object, *, line: str, kind: str
) -> object:
    """Train (or reuse) one line's ChromTransfer (``finetune``) or binary baseline (``scratch``).

    ChromTransfer copies the pre-trained trunk and adds a new head, and trains every layer at
    the profile's fine-tuning learning rate; the baseline is the same architecture from random
    initialisation at the from-scratch recipe.
    """
    from chromtransfer_lib.models.grids import cross_validate

    prof = ctx.profile
    build = line_model_builder(ctx, pretrain_cv, kind=kind)
    tc = getattr(prof, kind)
    ds = datasets.finetune[line]
    return cross_validate(
        build,
        recipe(tc),
        codes=ds.codes,
        labels=ds.labels,
        folds=ds.regions["fold"].to_numpy(),
        out_dir=_line_model_dir(ctx, line, kind),
        random_state=prof.seed,
        fold_ids=tc.folds,
        progress=ctx.progress,
    )


def line_model_builder(ctx: RunContext, pretrain_cv: object, *, kind: str):
    """``seed → fresh model`` for ``kind`` ``finetune`` (ChromTransfer) or ``scratch``."""
    from chromtransfer_lib.models.network import build_binary_baseline, build_chromtransfer_model

    prof = ctx.profile
    if kind == "finetune":
        pre = pretrained_model(pretrain_cv)
        return lambda seed: build_chromtransfer_model(
            pre, head_units=prof.model.finetune_head, dropout=prof.model.dropout, random_state=seed
        )
    if kind == "scratch":
        kw = network_kwargs(prof)
        return lambda seed: build_binary_baseline(
            head_units=prof.model.finetune_head,
            mixed_precision=prof.scratch.mixed_precision,
            random_state=seed,
            **kw,
        )
    raise ValueError(f"unknown model kind {kind!r}; expected one of {MODEL_KINDS}")


@dataclass(frozen=True)
class MulticlassResult:
    """The multiclass baseline: the trained run, class names and test probabilities."""

    run: object
    classes: tuple[str, ...]
    test_rows: object
    test_proba: object
    auroc: object
    """One-vs-rest AUROC per class on the multiclass test set (DataFrame)."""


def ensure_multiclass(ctx: RunContext, datasets: Datasets) -> MulticlassResult:
    """Train (or reuse) the 7-way multiclass baseline on the concatenated fine-tuning sets."""
    import numpy as np

    from chromtransfer_lib.data.pipeline import predict_proba
    from chromtransfer_lib.evaluate import multiclass_ovr_auroc
    from chromtransfer_lib.models.network import build_multiclass_baseline
    from chromtransfer_lib.models.train import train_model

    prof, ds = ctx.profile, datasets.multiclass
    classes = tuple(ds.provenance["args"].get("classes") or (*CELL_LINES, "Negative"))
    folds = ds.regions["fold"].to_numpy()
    k = prof.multiclass.folds[0]
    train_rows, val_rows = np.flatnonzero((folds >= 0) & (folds != k)), np.flatnonzero(folds == k)
    model = build_multiclass_baseline(
        n_classes=len(classes),
        head_units=prof.model.finetune_head,
        mixed_precision=prof.multiclass.mixed_precision,
        random_state=prof.seed,
        **network_kwargs(prof),
    )
    tc = prof.multiclass
    run = train_model(
        model,
        train=(ds.codes, ds.labels, train_rows),
        val=(ds.codes, ds.labels, val_rows),
        out_dir=_multiclass_dir(ctx) / f"fold_{k}",
        learning_rate=tc.learning_rate,
        batch_size=tc.batch_size,
        max_epochs=tc.max_epochs,
        patience=tc.patience,
        monitor=tc.monitor,
        random_state=prof.seed,
        loss="sparse_categorical_crossentropy",
        progress=ctx.progress,
        extra_config={"fold": int(k), "classes": list(classes)},
    )
    test_rows = np.flatnonzero(folds == -1)
    proba = predict_proba(run.model, ds.codes, indices=test_rows)
    y = ds.labels[test_rows]
    auroc = multiclass_ovr_auroc(y, proba, list(classes))
    return MulticlassResult(run, classes, test_rows, proba, auroc)


def line_test_predictions(model: object, dataset: object) -> tuple:
    """``(y, p)`` of a binary model on a fine-tuning set's test rows (chr2 + chr3)."""
    from chromtransfer_lib.data.pipeline import predict_proba

    rows = dataset.subset(split="test")
    return dataset.labels[rows], predict_proba(model, dataset.codes, indices=rows)


def multiclass_on_line(multi: MulticlassResult, dataset: object, line: str) -> tuple:
    """``(y, p)``: the multiclass model's probability of ``line`` on that line's binary test set.

    Scoring every model on the same test rows keeps the comparison with the binary models fair
    (the multiclass test set has other class frequencies).
    """
    from chromtransfer_lib.data.pipeline import predict_proba

    rows = dataset.subset(split="test")
    proba = predict_proba(multi.run.model, dataset.codes, indices=rows)
    return dataset.labels[rows], proba[:, multi.classes.index(line)]


def ensure_bootstrap(
    ctx: RunContext,
    datasets: Datasets,
    pretrain_cv: object,
    *,
    shard: tuple[int, int] = (0, 1),
) -> object:
    """Run (or resume) the Table 1 grid: fractions × repetitions of one line's training data.

    Each unit fine-tunes the pre-trained model (and, if the profile says so, trains the
    binary baseline) on a stratified subsample and scores it on the full test set. Units are
    resumable folders, so a killed grid continues where it stopped, and ``shard=(i, n)`` runs
    every n-th unit for job arrays. Returns the finished units of this shard (DataFrame).
    """
    from chromtransfer_lib.models.grids import run_bootstrap

    prof = ctx.profile
    bc = prof.bootstrap
    kinds, limits = _bootstrap_kinds(bc)
    ds = datasets.finetune[bc.cell_line]
    part = ds.partition(prof.finetune.folds[0])
    return run_bootstrap(
        {k: line_model_builder(ctx, pretrain_cv, kind=k) for k in kinds},
        {k: recipe(getattr(prof, k)) for k in kinds},
        codes=ds.codes,
        labels=ds.labels,
        train_indices=part.train,
        val_indices=part.valid,
        test_indices=ds.subset(split="test"),
        fractions=bc.fractions,
        repetitions=bc.repetitions,
        out_dir=bootstrap_dir(ctx),
        random_state=prof.seed,
        shard=shard,
        min_steps=bc.min_steps,
        subsample_validation=bc.subsample_validation,
        kind_fractions=limits,
        progress=ctx.progress,
    )


def pending_jobs(ctx: RunContext, *, line_models: bool = True, bootstrap: bool = False) -> list:
    """Training jobs whose runs are not finished yet, largest first.

    ``line_models``: the six lines' ChromTransfer and binary baseline models and the multiclass
    baseline (chapter 3's models); ``bootstrap``: every unit of the Table 1 grid, one job each.
    """
    from chromtransfer_lib.models.grids import grid_units

    prof, jobs = ctx.profile, []
    if line_models:
        k = prof.multiclass.folds[0]
        multi = _multiclass_dir(ctx) / f"fold_{k}"
        if not ((multi / "metrics.json").is_file() and (multi / "model.keras").is_file()):
            jobs.append(Job("multiclass"))
        for kind in MODEL_KINDS:
            for line in CELL_LINES:
                root = _line_model_dir(ctx, line, kind)
                folds = getattr(prof, kind).folds
                if not all((root / f"fold_{f}" / "test_metrics.json").is_file() for f in folds):
                    jobs.append(Job("line", (("line", line), ("kind", kind))))
    if bootstrap:
        bc = prof.bootstrap
        kinds, limits = _bootstrap_kinds(bc)
        units = grid_units(
            kinds, bc.fractions, bc.repetitions, random_state=prof.seed, kind_fractions=limits
        )
        root = bootstrap_dir(ctx)
        order = sorted(range(len(units)), key=lambda i: -units[i].fraction)  # big subsets first
        for i in order:
            if not (units[i].folder(root) / "test_metrics.json").is_file():
                jobs.append(Job("bootstrap", (("shard", (i, len(units))),)))
    return jobs


def train_in_parallel(
    ctx: RunContext, datasets: Datasets, *, line_models: bool = True, bootstrap: bool = False
) -> list:
    """Train the pending jobs of :func:`pending_jobs` on the profile's worker processes.

    Pre-training (which every job starts from) runs first, here. Afterwards the chapter's
    ``ensure_*`` calls find every run finished and only load them. Returns ``(job, seconds)``
    per job trained (empty when everything was done already).
    """
    from chromtransfer_lib.models.parallel import resolve_workers, run_jobs

    ensure_pretrained(ctx, datasets)
    jobs = pending_jobs(ctx, line_models=line_models, bootstrap=bootstrap)
    if not jobs:
        return []
    workers = resolve_workers(ctx.profile.workers, len(jobs))
    done = run_jobs(run_job, ctx.profile, ctx.run_dir, jobs, workers=workers, progress=ctx.progress)
    total = sum(sec for _, sec in done)
    print(f"trained {len(done)} job(s) on {workers} process(es): {total / 60:.1f} process-minutes")
    return done


def run_job(profile: Profile, run_dir: str, job: Job) -> tuple[str, float]:
    """Worker side of :func:`train_in_parallel`: rebuild the context and run one job through
    the normal stages; returns ``(job description, seconds)``."""
    t0 = time.perf_counter()
    ctx = RunContext(profile, Path(run_dir))
    datasets = ensure_datasets(ctx, ensure_world(ctx))
    a = dict(job.args)
    if job.kind == "multiclass":
        ensure_multiclass(ctx, datasets)
    else:
        pre = ensure_pretrained(ctx, datasets)
        if job.kind == "line":
            ensure_line_model(ctx, datasets, pre, line=a["line"], kind=a["kind"])
        elif job.kind == "bootstrap":
            ensure_bootstrap(ctx, datasets, pre, shard=tuple(a["shard"]))
        else:
            raise ValueError(f"unknown job kind {job.kind!r}")
    return job.describe(), time.perf_counter() - t0


def _bootstrap_kinds(bc: object) -> tuple[tuple[str, ...], dict[str, tuple[float, ...]]]:
    """The grid's model kinds, and the fractions the from-scratch baseline is limited to."""
    if not bc.scratch_fractions:
        return ("finetune",), {}
    return ("finetune", "scratch"), {"scratch": tuple(bc.scratch_fractions)}


def bootstrap_dir(ctx: RunContext) -> Path:
    """Where the Table 1 grid's units live (for :func:`bootstrap.collect_units`)."""
    line = ctx.profile.bootstrap.cell_line
    return _model_dir(ctx, f"bootstrap-{line}", "pretrain", "finetune", "scratch", "bootstrap")

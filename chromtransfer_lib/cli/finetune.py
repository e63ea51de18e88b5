"""``chromtransfer finetune``: ChromTransfer on a user's BED + FASTA.

Thin argument parsing over :func:`chromtransfer_lib.models.own.finetune_own`: the profile gives the
recipe, options override it. See ARCHITECTURE.md for the layers.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from chromtransfer_lib.cli.common import (
    HelpFormatter,
    UsageError,
    add_profile_option,
    chroms,
    hash_cache,
    ints,
    pick,
)
from chromtransfer_lib.config import DEFAULT_PROFILE, MONITORS, load_profile

#: Options that shape the negatives sampled from the genome (only without --negatives/--labels).
GENOME_NEGATIVE_OPTIONS = ("gaps", "blacklist", "negatives_per_positive")


def recipe_summary(profile: str) -> str:
    """One line naming a profile's fine-tuning recipe (for ``--help`` and the run's log)."""
    prof = load_profile(profile)
    f, m = prof.finetune, prof.model
    return (
        f"{prof.name}: learning rate {f.learning_rate:g}, batch {f.batch_size}, at most "
        f"{f.max_epochs} epochs, early stopping on {f.monitor} (patience {f.patience}), folds "
        f"{','.join(map(str, f.folds))}, head {'-'.join(map(str, m.finetune_head))}, dropout "
        f"{m.dropout:g}, test chromosomes {','.join(prof.data.test_chroms)}"
    )


def _check_sources(args: argparse.Namespace) -> None:
    if args.labels is not None and args.negatives is not None:
        raise UsageError("--negatives goes with --positives: a label file holds its negatives")
    given = [
        f"--{k.replace('_', '-')}" for k in GENOME_NEGATIVE_OPTIONS if getattr(args, k) is not None
    ]
    if given and (args.labels is not None or args.negatives is not None):
        raise UsageError(
            f"{', '.join(given)} shape(s) the negatives sampled from the genome, which are used "
            "only with --positives and no --negatives"
        )


def network_options(prof: Any) -> dict[str, Any]:
    """A profile's input length and widths: the network of ``--from-scratch`` and ``pretrain``."""
    m = prof.model
    return {"seq_len": prof.data.seq_len, "stem_filters": m.stem_filters,
            "res1_filters": m.res1_filters, "res2_filters": m.res2_filters,
            "top_filters": m.top_filters}  # fmt: skip


def recipe_from(tc: Any, args: argparse.Namespace) -> Any:
    """A profile section's recipe (every key, as the book trains it) with the options given."""
    from chromtransfer_lib.models.train import Recipe

    return Recipe.from_config(tc)._replace(
        learning_rate=pick(args.learning_rate, tc.learning_rate),
        batch_size=pick(args.batch_size, tc.batch_size),
        max_epochs=pick(args.max_epochs, tc.max_epochs),
        patience=pick(args.patience, tc.patience),
        monitor=pick(args.monitor, tc.monitor),
        reverse_complement=args.reverse_complement,
    )


def _cmd_finetune(args: argparse.Namespace) -> int:
    from chromtransfer_lib.models.own import finetune_own

    _check_sources(args)
    if args.from_scratch and args.freeze_trunk:
        raise UsageError("--freeze-trunk needs --pretrained: a from-scratch baseline has no trunk")
    prof = load_profile(args.profile)
    tc, dc = (prof.scratch if args.from_scratch else prof.finetune), prof.data
    model = {"scratch_network": {**network_options(prof), "mixed_precision": tc.mixed_precision}}
    if not args.from_scratch:
        model = {"pretrained": args.pretrained}
    sampling = {} if args.negatives_per_positive is None else {
        "negatives_per_positive": args.negatives_per_positive}  # fmt: skip
    result = finetune_own(
        args.out, genome=args.genome, **model, positives_bed=args.positives,
        negatives_bed=args.negatives, labels=args.labels, cell_line=args.cell_line,
        gaps_bed=args.gaps, blacklist_bed=args.blacklist, **sampling,
        test_chroms=pick(args.test_chroms, dc.test_chroms), n_folds=dc.n_folds,
        fold_ids=pick(args.folds, tc.folds), flank=dc.flank_exclusion,
        max_n_fraction=dc.max_n_fraction, head_units=prof.model.finetune_head,
        dropout=prof.model.dropout, freeze_trunk=args.freeze_trunk,
        recipe=recipe_from(tc, args), random_state=pick(args.seed, prof.seed),
        hash_cache=hash_cache(), progress=not args.quiet,
    )  # fmt: skip
    print_result(result, summary="finetune.json")
    return 0


def print_result(result: Any, *, summary: str) -> None:
    """The dataset's counts, the test metrics per fold and where the model and summary are."""
    counts = result.dataset.counts["by_split_y"]
    print(f"dataset: {result.dataset.path} ({', '.join(f'{k}: {v}' for k, v in counts.items())})")
    cols = [c for c in ("fold", "auroc", "auprc", "f1_overall", "best_epoch")
            if c in result.per_fold]  # fmt: skip
    print("test-chromosome metrics per fold:")
    print(result.per_fold[cols].to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    print(f"model: {result.model_path}")
    print(f"provenance and metrics: {result.summary_path}")


def _description() -> str:
    return (
        "ChromTransfer on your data: copy the pre-trained trunk, add a new head and train every "
        "layer, exactly as the book does.\n\nData: positives from --positives (a BED) or --labels "
        "(a ChromTransfer label file, rows chrN:start-end,LABEL, which holds its negatives too). "
        "With --positives, negatives come from --negatives (a BED) or, when it is not given, "
        "from the genome: tiles of the model's input length on the positives' chromosomes that "
        "overlap no assembly gap (--gaps, else the FASTA's N runs), no --blacklist interval and "
        "lie at least the profile's data.flank_exclusion from every positive, "
        "--negatives-per-positive of them per positive. Regions on --test-chroms form the test "
        "set; the rest is split into cross-validation folds by chromosome. Sequences are the "
        "central L bp of each region, L being the pre-trained model's input length.\n\n"
        "Recipe: the --profile's model.{finetune_head, dropout}, finetune.{learning_rate, "
        "batch_size, max_epochs, patience, monitor, batchnorm_refresh, folds} and "
        "data.{test_chroms, n_folds, flank_exclusion, max_n_fraction}; options below override "
        "them. With --from-scratch instead of --pretrained, the same architecture is trained "
        "from random weights (the paper's binary baseline): the network's widths and input "
        "length come from the profile's model and data.seq_len, the recipe from its scratch "
        "section. Use the profile your "
        f"pre-trained model was trained with. The default, {recipe_summary(DEFAULT_PROFILE)}. "
        f"The paper's ({recipe_summary('paper')}) is --profile paper.\n\n"
        "Output folder: dataset/ (codes, regions, provenance), runs/fold_<k>/ (history.csv "
        "learning curve, model, test metrics), model.keras (the first fold's best model, for "
        "predict) and finetune.json (sha256 of the genome, inputs and models, package versions, "
        "counts, recipe, metrics). Re-running the same command resumes an interrupted run and "
        "reuses finished folds."
    )


def add_finetune(sub: argparse._SubParsersAction) -> None:
    """Register ``finetune`` on ``sub``."""
    p = sub.add_parser(
        "finetune",
        formatter_class=HelpFormatter,
        help="fine-tune a pre-trained model on your positives BED + genome FASTA",
        description=_description(),
        epilog="example:\n\n  chromtransfer finetune --genome hg38.fa --positives peaks.bed "
        "--pretrained pretrain/model.keras --profile paper --out my_model\n\n"
        "the binary baseline on the same data:\n\n  chromtransfer finetune --genome hg38.fa "
        "--positives peaks.bed --from-scratch --profile paper --out my_baseline",
    )
    p.add_argument("--genome", required=True, type=Path, help="genome FASTA (plain or bgzip)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--positives", type=Path, help="BED of positive regions (any width)")
    src.add_argument(
        "--labels", type=Path, help="ChromTransfer label file (rows chrN:start-end,LABEL)"
    )
    p.add_argument(
        "--negatives",
        type=Path,
        help="BED of negative regions (with --positives; default: sampled from the genome)",
    )
    p.add_argument("--cell-line", default=None, help="the label file's own label (default: guess)")
    start = p.add_mutually_exclusive_group(required=True)
    start.add_argument("--pretrained", type=Path, help="pre-trained .keras model")
    start.add_argument(
        "--from-scratch",
        action="store_true",
        help="train the binary baseline from random weights (the profile's scratch recipe)",
    )
    p.add_argument("--out", required=True, type=Path, help="output folder (its parent must exist)")
    add_profile_option(p, role="the recipe (see above)")
    _genome_negative_args(p)
    recipe_args(p)
    p.add_argument(
        "--freeze-trunk",
        action="store_true",
        help="train only the new head (the authors' alternative script; the paper trains all)",
    )
    p.add_argument("--seed", type=int, default=None, help="random seed (default: the profile's)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_finetune)


def _genome_negative_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("negatives sampled from the genome (--positives, no --negatives)")
    g.add_argument("--gaps", type=Path, default=None, help="BED of assembly gaps to avoid")
    g.add_argument("--blacklist", type=Path, default=None, help="BED of regions to avoid")
    g.add_argument(
        "--negatives-per-positive",
        type=float,
        default=None,
        help="genome negatives per positive (default 3.0; the paper's ratios are 1:2.5-1:3.5)",
    )


def recipe_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("recipe overrides (default: the profile's)")
    g.add_argument(
        "--test-chroms", type=chroms, default=None, help="comma-separated test chromosomes"
    )
    g.add_argument(
        "--folds", type=ints, default=None, help="comma-separated CV folds to train (e.g. 0,1,2)"
    )
    g.add_argument("--learning-rate", type=float, default=None, help="Adam learning rate")
    g.add_argument("--batch-size", type=int, default=None, help="training batch size")
    g.add_argument("--max-epochs", type=int, default=None, help="maximum number of epochs")
    g.add_argument("--patience", type=int, default=None, help="early-stopping patience (epochs)")
    g.add_argument(
        "--monitor",
        choices=tuple(MONITORS),
        default=None,
        help="what early stopping watches (default: the profile's)",
    )
    g.add_argument(
        "--reverse-complement",
        action="store_true",
        help="train on a seeded half of each epoch's sequences as their reverse complement, "
        "and score the test set averaging both strands (the paper is silent on strands: off)",
    )

"""``chromtransfer pretrain``: the paper's pre-training on a user's compendium BED + FASTA.

Thin argument parsing over :func:`chromtransfer_lib.models.own.pretrain_own`: the profile gives
the network and the recipe (its ``model``, ``data`` and ``pretrain`` sections, as the book
pre-trains), options override them. See ARCHITECTURE.md for the layers.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from chromtransfer_lib.cli.common import HelpFormatter, add_profile_option, hash_cache, pick
from chromtransfer_lib.cli.finetune import network_options, print_result, recipe_args, recipe_from
from chromtransfer_lib.config import load_profile


def _cmd_pretrain(args: argparse.Namespace) -> int:
    from chromtransfer_lib.models.multiworker import cluster_strategy
    from chromtransfer_lib.models.own import pretrain_own

    cluster_strategy()  # from TF_CONFIG, before TensorFlow runs anything (waits for the workers)
    prof = load_profile(args.profile)
    tc, dc = prof.pretrain, prof.data
    result = pretrain_own(
        args.out, genome=args.genome, regions_bed=args.regions, exclude_bed=args.exclude,
        gaps_bed=args.gaps, blacklist_bed=args.blacklist,
        network={**network_options(prof), "mixed_precision": tc.mixed_precision},
        head_units=prof.model.pretrain_head, dropout=prof.model.dropout,
        recipe=recipe_from(tc, args), test_chroms=pick(args.test_chroms, dc.test_chroms),
        n_folds=dc.n_folds, fold_ids=pick(args.folds, tc.folds),
        max_n_fraction=dc.max_n_fraction,
        negatives_per_positive=pick(args.negatives_per_positive,
                                    dc.pretrain_negatives_per_positive),
        flank=dc.flank_exclusion, region_width=args.region_width,
        random_state=pick(args.seed, prof.seed), hash_cache=hash_cache(),
        progress=not args.quiet,
    )  # fmt: skip
    print_result(result, summary="pretrain.json")
    return 0


def _description() -> str:
    return (
        "Pre-train the ChromTransfer network on your compendium of open chromatin, as the paper "
        "pre-trained on the ENCODE rDHSs: every region of --regions (accessible in any cell "
        "type; any width) is recentred to --region-width bp and is a positive; negatives are "
        "genome tiles of that width on the regions' chromosomes that overlap no assembly gap "
        "(--gaps, else the FASTA's N runs) and no --blacklist interval and lie at least the "
        "profile's data.flank_exclusion from every region, data.pretrain_negatives_per_positive "
        "of them per positive (the paper: 1). --exclude removes the regions whose midpoint lies "
        "within 2 bp of one of its regions (the paper removed the rDHSs accessible in the cell "
        "lines it fine-tuned on). Sequences are the central data.seq_len bp.\n\n"
        "Network and recipe: the --profile's model.{stem_filters, res1_filters, res2_filters, "
        "top_filters, pretrain_head, dropout}, data.{seq_len, test_chroms, n_folds, "
        "flank_exclusion, max_n_fraction} and pretrain.{learning_rate, batch_size, max_epochs, "
        "patience, monitor, batchnorm_refresh, folds, mixed_precision}; options below override "
        "the recipe. The paper's network and recipe are --profile paper (it needs a GPU at "
        "genome scale).\n\n"
        "Output folder: dataset/ (codes, regions, provenance), runs/fold_<k>/ (history.csv "
        "learning curve, model, test metrics), model.keras (the first fold's best model: give it "
        "to `chromtransfer finetune --pretrained`) and pretrain.json (sha256 of the genome, "
        "inputs and model, package versions, counts, recipe, metrics). Re-running the same "
        "command resumes an interrupted run and reuses finished folds.\n\n"
        "Across machines: set TF_CONFIG on each (TensorFlow's JSON naming every worker and this "
        "one's index) and run the same command on all; they train one model together "
        "(MultiWorkerMirroredStrategy; each global batch split between them). The chief (or "
        "worker 0) writes --out, worker i writes <out>.worker-<i>. Without dropout the model "
        "matches one machine's to round-off."
    )


def add_pretrain(sub: argparse._SubParsersAction) -> None:
    """Register ``pretrain`` on ``sub``."""
    p = sub.add_parser(
        "pretrain",
        formatter_class=HelpFormatter,
        help="pre-train the network on your open-chromatin compendium BED + genome FASTA",
        description=_description(),
        epilog="example:\n\n  chromtransfer pretrain --genome hg38.fa --regions rDHS.bed "
        "--gaps gap.bed --blacklist blacklist.bed --profile paper --out pretrain",
    )
    p.add_argument("--genome", required=True, type=Path, help="genome FASTA (plain or bgzip)")
    p.add_argument(
        "--regions", required=True, type=Path, help="BED of regions open in any cell type"
    )
    p.add_argument(
        "--exclude", type=Path, default=None, help="BED of regions whose matches are removed"
    )
    p.add_argument("--gaps", type=Path, default=None, help="BED of assembly gaps to avoid")
    p.add_argument("--blacklist", type=Path, default=None, help="BED of regions to avoid")
    p.add_argument("--out", required=True, type=Path, help="output folder (its parent must exist)")
    add_profile_option(p, role="the network and recipe (see above)")
    p.add_argument(
        "--region-width",
        type=int,
        default=600,
        help="width the regions are recentred to, and of the negative tiles (the paper: 600)",
    )
    p.add_argument(
        "--negatives-per-positive",
        type=float,
        default=None,
        help="genome negatives per positive (default: the profile's; the paper's is 1)",
    )
    recipe_args(p)
    p.add_argument("--seed", type=int, default=None, help="random seed (default: the profile's)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_pretrain)

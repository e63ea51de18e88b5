"""``chromtransfer predict | attribute | motifs``: a trained model on a user's regions.

Thin argument parsing over :mod:`chromtransfer_lib.predict`; the motif thresholds come from the
``--profile``'s ``interpret`` section, options override them. See ARCHITECTURE.md for the
layers.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from chromtransfer_lib.cli.common import (
    RECENTRE,
    HelpFormatter,
    UsageError,
    add_profile_option,
    fraction,
    genome_cache_dir,
    hash_cache,
    model_args,
    pick,
    positive,
    target_arg,
)
from chromtransfer_lib.config import DEFAULT_PROFILE, load_profile

# ------------------------------------------------------------------ predict


def _cmd_predict(args: argparse.Namespace) -> int:
    from chromtransfer_lib.predict import predict_regions

    s = predict_regions(
        args.model, genome=args.genome, regions_bed=args.regions, out=args.out,
        seq_len=args.seq_len, chunk_size=args.chunk_size, batch_size=args.batch_size,
        max_n_fraction=args.max_n_fraction, hash_cache=hash_cache(),
        genome_cache=not args.no_genome_cache, genome_cache_dir=genome_cache_dir(),
        reverse_complement=args.reverse_complement, progress=not args.quiet,
    )  # fmt: skip
    print(
        f"wrote {s.n_regions} predictions ({s.seq_len} bp windows; {s.n_masked} NA) to {s.out} "
        f"in {s.seconds:.1f} s ({s.n_regions / max(s.seconds, 1e-9):.0f} regions/s)"
    )
    return 0


def add_predict(sub: argparse._SubParsersAction) -> None:
    """Register ``predict`` on ``sub``."""
    p = sub.add_parser(
        "predict",
        formatter_class=HelpFormatter,
        help="predict accessibility of every region of a BED (streaming, any size)",
        description="Predict every region of a BED file with a trained model, streaming "
        "the file in chunks so memory stays flat for any number of regions.\n\n"
        + RECENTRE
        + "\n\nOutput: a TSV whose # lines record the provenance (sha256 of the model, the genome "
        "and the BED; package versions; git SHA), then the columns chrom, start, end, name (as "
        "in the BED; '.' if none), n_fraction (of the window) and probability (p_0, p_1, ... "
        "for a multi-class model), one row per BED line in file order. Windows with more N than "
        "--max-n-fraction get probability NA. The file is written under a temporary name and "
        "renamed when complete: an interrupted run leaves no partial output. Read it with "
        "pandas.read_csv(path, sep='\\t', comment='#').\n\n"
        "The genome is decoded once into a code cache (one byte per base: GENOME.codes beside "
        "the FASTA, or under $CHROMTRANSFER_DATA/genome-codes when that folder is read-only) "
        "and memory-mapped by this and later runs while the FASTA is unchanged, so an "
        "unsorted BED is as fast as a sorted one. Delete the .codes files at any time.",
        epilog="example:\n\n  chromtransfer predict --model my_model/model.keras --genome hg38.fa "
        "--regions candidates.bed.gz --out predictions.tsv",
    )
    model_args(p)
    p.add_argument("--out", required=True, type=Path, help="output TSV (its folder must exist)")
    p.add_argument(
        "--chunk-size", type=positive, default=50_000, help="regions held in memory (default 50000)"
    )
    p.add_argument("--batch-size", type=positive, default=512, help="regions per model call")
    p.add_argument(
        "--max-n-fraction",
        type=float,
        default=0.5,
        help="windows with a larger N fraction get probability NA (default 0.5)",
    )
    p.add_argument(
        "--reverse-complement",
        action="store_true",
        help="average each window's probability over both strands (the paper: forward only)",
    )
    p.add_argument(
        "--no-genome-cache",
        action="store_true",
        help="decode the FASTA for every chunk instead of writing/reading the code cache",
    )
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    p.set_defaults(func=_cmd_predict)


# ------------------------------------------------------------------ attribute


def _cmd_attribute(args: argparse.Namespace) -> int:
    from chromtransfer_lib.predict import attribute_regions

    a = attribute_regions(
        args.model, genome=args.genome, regions_bed=args.regions, out_dir=args.out,
        target=args.target, ism=args.ism, hypothetical=args.hypothetical, seq_len=args.seq_len,
        batch_size=args.batch_size, hash_cache=hash_cache(), progress=not args.quiet,
    )  # fmt: skip
    print(
        f"attributed the {args.target} of {len(a.regions)} regions ({a.codes.shape[1]} bp) "
        f"into {a.path}"
    )
    return 0


def add_attribute(sub: argparse._SubParsersAction) -> None:
    """Register ``attribute`` on ``sub``."""
    p = sub.add_parser(
        "attribute",
        formatter_class=HelpFormatter,
        help="per-base gradient x input (and ISM) of a model on regions of a BED",
        description="Per-base attribution of a model's prediction on each region: gradient x "
        "input (the gradient of the output at the observed base; positive = supports the "
        "prediction) and, with --ism, in-silico mutagenesis (the signed change of the "
        "alternative base with the largest effect; negative = the base supports a positive "
        "prediction; costs 3 L predictions per region). The output differentiated is the "
        "logit, the output neuron's pre-activation, as in the book (--target logit): the "
        "sigmoid saturates, so the probability's gradient (--target probability) in a region "
        "predicted at p = 0.999 is ~250x smaller than at p = 0.5 whatever its sequence, and "
        "pooled over regions it ranks sites by how uncertain their region is.\n\n"
        + RECENTRE
        + "\n\nOutput folder (must not exist; written atomically): regions.tsv (chrom, start, "
        "end, name, window_start, window_end, n_fraction, probability), codes.npy (uint8, "
        "A=0 C=1 G=2 T=3 N=4), grad_x_input.npy and ism_delta.npy (float32, regions x L), "
        "provenance.json (sha256 of model, genome and BED; versions; target). Meant for up to "
        "~10^5 regions (arrays are held in memory).",
        epilog="example:\n\n  chromtransfer attribute --model my_model/model.keras "
        "--genome hg38.fa --regions top_hits.bed --ism --out my_attributions",
    )
    model_args(p)
    p.add_argument("--out", required=True, type=Path, help="output folder (must not exist)")
    target_arg(p)
    p.add_argument("--ism", action="store_true", help="also in-silico mutagenesis (slower)")
    p.add_argument(
        "--hypothetical",
        action="store_true",
        help="also the hypothetical contributions of every base (hypothetical.npy), the input "
        "of `chromtransfer denovo`",
    )
    p.add_argument("--batch-size", type=positive, default=256, help="sequences per compiled call")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_attribute)


# ------------------------------------------------------------------ motifs


def motif_settings(args: argparse.Namespace) -> object:
    """:class:`chromtransfer_lib.predict.MotifSettings` from the profile and the options."""
    from chromtransfer_lib.predict import MotifSettings

    ip = load_profile(args.profile).interpret
    return MotifSettings(
        jaspar_release=pick(args.jaspar_release, ip.jaspar_release),
        p_value=pick(args.p_value, ip.p_value),
        min_sites=pick(args.min_sites, ip.min_sites),
        fdr=pick(args.fdr, ip.fdr),
        min_probability=args.min_probability,
        motifs=tuple(args.motifs) if args.motifs else None,
    )


def _cmd_motifs(args: argparse.Namespace) -> int:
    from chromtransfer_lib.predict import motif_report

    attribute, given = None, [x is not None for x in (args.model, args.genome, args.regions)]
    if not (all(given) if args.attributions is None else not any(given)):
        raise UsageError("give --attributions DIR, or --model, --genome and --regions")
    if args.attributions is None:
        attribute = {"model": args.model, "genome": args.genome, "regions_bed": args.regions,
                     "target": args.target, "ism": args.ism, "seq_len": args.seq_len}  # fmt: skip
    settings = motif_settings(args)
    result = motif_report(args.out, settings=settings, attributions=args.attributions,
                          attribute=attribute, hash_cache=hash_cache(),
                          progress=not args.quiet)  # fmt: skip
    sig = result.enrichment[result.enrichment["significant"]]
    n_tf = result.sites["tf"].nunique()
    print(f"{len(result.sites)} sites of {n_tf} TFs; {len(result.enrichment)} TF x score tests, "
          f"{len(sig)} at FDR < {settings.fdr:g}")  # fmt: skip
    if len(sig):
        print(sig[["score", "tf", "n_sites", "D_signed", "fdr"]].head(20).to_string(index=False))
    print(f"report: {args.out}")
    return 0


_MOTIFS_DESCRIPTION = (
    "The paper's motif analysis: JASPAR CORE vertebrate sites with exact p < --p-value on both "
    "strands inside the regions; each site scored by the max gradient x input (and the min ISM "
    "delta, when computed) over its bases; per TF with at least --min-sites sites, a two-sample "
    "Kolmogorov-Smirnov test against the non-overlapping sites of all other TFs (D signed by "
    "mean rank), Benjamini-Hochberg over TFs.\n\nThresholds and the JASPAR release: the "
    "--profile's interpret.{p_value, min_sites, fdr, jaspar_release}; options override them."
    "\n\nInput: an attribution folder (--attributions, from `chromtransfer attribute`) or a "
    "model and regions (--model, --genome, --regions; attribution is then computed).\n\nOutput "
    "folder (must not exist; written atomically): enrichment.tsv (score, tf, n_sites, "
    "n_background, D_signed, p_value, fdr, significant), sites.tsv (every site with region-"
    "relative and genome coordinates and its scores), unreachable.tsv (matrices that cannot "
    "reach the p-value), provenance.json."
)


def add_motifs(sub: argparse._SubParsersAction) -> None:
    """Register ``motifs`` on ``sub``."""
    p = sub.add_parser(
        "motifs",
        formatter_class=HelpFormatter,
        help="which TFs' predicted sites carry high attribution (JASPAR scan + KS test)",
        description=_MOTIFS_DESCRIPTION,
        epilog="example:\n\n  chromtransfer motifs --attributions my_attributions --out my_motifs",
    )
    p.add_argument("--attributions", type=Path, default=None, help="folder from attribute")
    model_args(p, required=False)
    target_arg(p)
    p.add_argument("--ism", action="store_true", help="with --model: also compute ISM")
    p.add_argument("--out", required=True, type=Path, help="output folder (must not exist)")
    add_profile_option(p, role="the thresholds and JASPAR release (interpret section)")
    p.add_argument(
        "--motifs", nargs="+", default=None, help="only these JASPAR names or matrix IDs"
    )
    ip = load_profile(DEFAULT_PROFILE).interpret
    ours = f"default: the profile's interpret.%s; {DEFAULT_PROFILE}: %s"
    p.add_argument(
        "--jaspar-release",
        default=None,
        help="JASPAR release, via pyjaspar (" + ours % ("jaspar_release", ip.jaspar_release) + ")",
    )
    p.add_argument(
        "--p-value",
        type=fraction,
        default=None,
        help="site threshold (" + ours % ("p_value", f"{ip.p_value:g}") + ")",
    )
    p.add_argument(
        "--min-sites",
        type=int,
        default=None,
        help="TFs tested need this many sites (" + ours % ("min_sites", ip.min_sites) + ")",
    )
    p.add_argument(
        "--fdr",
        type=fraction,
        default=None,
        help="BH level for 'significant' (" + ours % ("fdr", f"{ip.fdr:g}") + ")",
    )
    p.add_argument(
        "--min-probability",
        type=float,
        default=0.0,
        help="only regions predicted at least this (the paper: 0.5, positive predictions)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_motifs)

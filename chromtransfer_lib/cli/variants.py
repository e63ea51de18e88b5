"""``chromtransfer variants``: a trained model's effect of each allele of a VCF.

Thin argument parsing over :func:`chromtransfer_lib.predict.variants.score_variants`; the motif
threshold and the JASPAR release come from the ``--profile``'s ``interpret`` section (as for
``motifs``), options override them. See ARCHITECTURE.md for the layers.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from chromtransfer_lib.cli.common import (
    HelpFormatter,
    add_profile_option,
    fraction,
    genome_cache_dir,
    hash_cache,
    model_args,
    non_negative,
    pick,
    positive,
)
from chromtransfer_lib.config import DEFAULT_PROFILE, load_profile


def _cmd_variants(args: argparse.Namespace) -> int:
    from chromtransfer_lib.predict.variants import score_variants

    motifs, source, p_value = None, None, None
    if not args.no_motifs:
        from chromtransfer_lib.genome.jaspar import load_jaspar, resolve_motifs

        ip = load_profile(args.profile).interpret
        release = pick(args.jaspar_release, ip.jaspar_release)
        p_value = pick(args.p_value, ip.p_value)
        motifs = load_jaspar(release)
        motifs = resolve_motifs(args.motifs, motifs) if args.motifs else motifs
        source = f"{release} CORE vertebrates" + (" (" + ", ".join(args.motifs) + ")"
                                                  if args.motifs else "")  # fmt: skip
    s = score_variants(
        args.model, genome=args.genome, vcf=args.vcf, out=args.out, seq_len=args.seq_len,
        max_indel_length=args.max_indel_length, max_n_fraction=args.max_n_fraction,
        reverse_complement=args.reverse_complement, motifs=motifs,
        motif_p_value=p_value or 1e-5, motif_source=source,
        n_shuffles=args.n_shuffles, random_state=args.seed, strict=args.strict,
        chunk_size=args.chunk_size, batch_size=args.batch_size, hash_cache=hash_cache(),
        genome_cache=not args.no_genome_cache, genome_cache_dir=genome_cache_dir(),
        progress=not args.quiet,
    )  # fmt: skip
    skipped = ", ".join(f"{k} {v}" for k, v in s.skipped.items() if v) or "none"
    print(f"wrote {s.n_scored} alleles of {s.n_records} VCF records ({s.seq_len} bp windows) to "
          f"{s.out} in {s.seconds:.1f} s; skipped: {skipped}")  # fmt: skip
    return 0


_DESCRIPTION = (
    "Score the effect of every allele of a VCF (plain or bgzip) with a trained model: one row "
    "per ALT (multi-allelic rows are split), in VCF order.\n\n"
    "Windows (L = the model's input length, p = POS - 1, r and a = the lengths of REF and ALT "
    "as written, anchor base included): the ref window is the genome's [p + r//2 - L//2, +L), "
    "the REF allele recentred as `predict` recentres a region; the alt window is the ALT "
    "haplotype recentred on ALT: the L//2 - a//2 genome bases before p, ALT, then the genome "
    "bases after REF up to L. Bases beyond a chromosome end are N.\n\n"
    "Skipped, counted by reason (an error with --strict): CHROM not in the FASTA; REF not "
    "matching the genome (the message names the line, chrom:pos, expected and found); "
    "symbolic alleles (<DEL>, breakends, '*', '.'); variants longer than --max-indel-length "
    "(max(len(REF), len(ALT)) - 1 bp); windows with more N than --max-n-fraction.\n\n"
    "Output: a TSV whose # lines record the provenance (as `predict`), then chrom, pos, id, "
    "ref, alt, ref_prob, alt_prob, delta_logit (alt - ref, of the output neuron's "
    "pre-activation), log2_fold_change (of the probability), sites_created and "
    "sites_destroyed (JASPAR TFs with a site over the allele at p < --p-value in the alt "
    "window only, or the ref window only; ';'-separated, '.' if none, NA with --no-motifs) and "
    "p_value: (1 + #{shuffles with |delta_logit| >= observed}) / (1 + --n-shuffles), the "
    "shuffles preserving the dinucleotides of the windows' genome stretch with the variant put "
    "back at its centre (NA with --n-shuffles 0). Written under a temporary name, renamed when "
    "complete. Read it with pandas.read_csv(path, sep='\\t', comment='#')."
)


def add_variants(sub: argparse._SubParsersAction) -> None:
    """Register ``variants`` on ``sub``."""
    p = sub.add_parser(
        "variants",
        formatter_class=HelpFormatter,
        help="effect of each VCF allele on a model's prediction (delta logit, motifs, null)",
        description=_DESCRIPTION,
        epilog="example:\n\n  chromtransfer variants --model my_model/model.keras --genome "
        "hg38.fa --vcf my_variants.vcf.gz --out variant_effects.tsv",
    )
    model_args(p, regions=None, model_help="a .keras model (one sigmoid output)")
    p.add_argument("--vcf", required=True, type=Path, help="VCF (plain or bgzip)")
    p.add_argument("--out", required=True, type=Path, help="output TSV (its folder must exist)")
    p.add_argument(
        "--max-indel-length",
        type=non_negative,
        default=20,
        help="longest indel scored, in bp (default 20)",
    )
    p.add_argument(
        "--max-n-fraction",
        type=float,
        default=0.5,
        help="skip alleles whose ref or alt window has a larger N fraction (0.5)",
    )
    p.add_argument(
        "--reverse-complement",
        action="store_true",
        help="average each window's probability over both strands, as predict",
    )
    p.add_argument(
        "--n-shuffles",
        type=non_negative,
        default=100,
        help="dinucleotide shuffles per allele for p_value (default 100; 0: none)",
    )
    p.add_argument("--seed", type=non_negative, default=0, help="seed of the shuffles (0)")
    p.add_argument(
        "--strict",
        action="store_true",
        help="stop with an error at the first allele that cannot be scored",
    )
    add_profile_option(p, role="the motif p-value and JASPAR release (interpret section)")
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
    p.add_argument("--motifs", nargs="+", default=None, help="only these JASPAR names or IDs")
    p.add_argument("--no-motifs", action="store_true", help="no motif scan (sites columns NA)")
    p.add_argument(
        "--chunk-size",
        type=positive,
        default=10_000,
        help="VCF records held in memory (default 10000)",
    )
    p.add_argument(
        "--batch-size", type=positive, default=512, help="windows per model call (default 512)"
    )
    p.add_argument(
        "--no-genome-cache",
        action="store_true",
        help="decode the FASTA instead of writing/reading the code cache",
    )
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    p.set_defaults(func=_cmd_variants)

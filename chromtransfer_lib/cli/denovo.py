"""``chromtransfer denovo``: de novo motifs of an attribution folder (TF-MoDISco + TOMTOM).

Thin argument parsing over :func:`chromtransfer_lib.predict.denovo.denovo_report`; the JASPAR
release comes from the ``--profile``'s ``interpret`` section unless ``--jaspar-release`` is
given. See ARCHITECTURE.md for the layers.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from chromtransfer_lib.cli.common import (
    HelpFormatter,
    add_profile_option,
    fraction,
    hash_cache,
    pick,
    positive,
)
from chromtransfer_lib.config import load_profile


def _cmd_denovo(args: argparse.Namespace) -> int:
    from chromtransfer_lib.predict.denovo import denovo_report

    release = pick(args.jaspar_release, load_profile(args.profile).interpret.jaspar_release)
    r = denovo_report(
        args.attributions, args.out, jaspar_release=release, n_best=args.n_best,
        min_probability=args.min_probability, hash_cache=hash_cache(),
    )  # fmt: skip
    print(f"{len(r.patterns)} patterns in {r.seconds:.0f} s of TF-MoDISco")
    if len(r.matches):
        best = r.matches[r.matches["rank"] == 1]
        cols = ["pattern", "n_seqlets", "tf", "matrix_id", "q_value"]
        print(best[cols].to_string(index=False))
    print(f"report: {r.out}")
    return 0


def add_denovo(sub: argparse._SubParsersAction) -> None:
    """Register ``denovo`` on ``sub``."""
    p = sub.add_parser(
        "denovo",
        formatter_class=HelpFormatter,
        help="de novo motifs (TF-MoDISco) of an attribution folder, matched to JASPAR",
        description="De novo motif discovery beside the paper's known-motif test: TF-MoDISco "
        "(modisco-lite) finds recurring high-contribution patterns in the hypothetical "
        "contributions of `chromtransfer attribute --hypothetical`, with windows fitted to "
        "200-bp inputs (seqlet window 15 bp, flank 5, patterns trimmed to 20), and memelite's "
        "TOMTOM (no MEME installation) matches each pattern to the JASPAR CORE vertebrate "
        "matrices.\n\nOutput folder (must not exist; written atomically): patterns.tsv "
        "(pattern, sign, n_seqlets, width, consensus), matches.tsv (the --n-best matches of "
        "each pattern: matrix_id, tf, p_value, e_value, q_value, offset, strand), patterns.npz "
        "(each pattern's PPM and CWM), provenance.json.\n\nCost: TF-MoDISco grows steeply with "
        "the number of regions (~15 s for 500 x 200 bp, ~4 min for 2,000 on a 2-core CPU); "
        "the first run in an environment also compiles its numba kernels (a few minutes).",
        epilog="example:\n\n  chromtransfer attribute --model my_model/model.keras --genome "
        "hg38.fa --regions top.bed --hypothetical --out my_attributions\n  chromtransfer "
        "denovo --attributions my_attributions --out my_denovo",
    )
    p.add_argument("--attributions", required=True, type=Path,
                   help="folder of `chromtransfer attribute --hypothetical`")  # fmt: skip
    p.add_argument("--out", required=True, type=Path, help="output folder (must not exist)")
    add_profile_option(p, role="the JASPAR release (interpret section)")
    p.add_argument("--jaspar-release", default=None, help="override the profile's release")
    p.add_argument("--n-best", type=positive, default=3, help="JASPAR matches per pattern")
    p.add_argument(
        "--min-probability",
        type=fraction,
        default=None,
        help="only regions predicted at least this probability (default: every region)",
    )
    p.set_defaults(func=_cmd_denovo)

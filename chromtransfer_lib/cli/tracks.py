"""``chromtransfer tracks``: a model's predictions or attributions as bigWig genome-browser tracks.

Thin argument parsing over :func:`chromtransfer_lib.predict.tracks.prediction_track` and
:func:`~chromtransfer_lib.predict.tracks.attribution_track`, plus ``<out>.trackDb.txt``: how to
load the tracks in IGV or the UCSC browser (:func:`track_hint`). See ARCHITECTURE.md for the
layers.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from pathlib import Path

from chromtransfer_lib.cli.common import (
    HelpFormatter,
    UsageError,
    genome_cache_dir,
    hash_cache,
    model_args,
    positive,
    target_arg,
)
from chromtransfer_lib.fileio import write_text_atomic
from chromtransfer_lib.predict.tracks import (
    ATTRIBUTION_RULE,
    REGION_RULE,
    SKIP_RULE,
    TILE_RULE,
)

#: One line on loading a track (printed by the command; the README's line).
LOAD_HINT = (
    "IGV: File > Load from File (or drag the .bw in); UCSC: serve the .bw over https and add it "
    "as a custom track (`track type=bigWig bigDataUrl=https://...`) or a track hub"
)


def track_hint(tracks: Mapping[str, Path], what: str) -> str:
    """How to load ``tracks`` in IGV or the UCSC browser: ``#`` lines, then one track-hub
    ``trackDb.txt`` stanza per bigWig (``bigDataUrl`` relative to the trackDb file)."""
    lines = [
        f"# chromtransfer tracks: {what}; provenance in <file>.bw.provenance.json",
        "# IGV: File > Load from File... (or drag the .bw in); in a batch script: load FILE.bw",
        "# UCSC: put the .bw on a web server (https), then paste into My Data > Custom Tracks:",
        "#   track type=bigWig name=NAME bigDataUrl=https://YOUR.SERVER/FILE.bw visibility=full",
        "# Track hub: the stanzas below go into the assembly's trackDb.txt, beside the .bw files.",
        "# Chromosome names are the FASTA's: they must be the browser assembly's (chr1, ...).",
    ]
    for name, path in tracks.items():
        if name == "probability":
            scale = ["viewLimits 0:1", "autoScale off"]
        else:
            scale = ["autoScale on", "graphType bar", "color 200,40,40", "altColor 40,40,200"]
        stem = re.sub(r"[^A-Za-z0-9_]", "_", path.stem)
        lines += ["", f"track {stem}_{name}", f"bigDataUrl {path.name}", f"shortLabel {name}",
                  f"longLabel {what}: {name} ({path.name})", "type bigWig", "visibility full",
                  *scale, "maxHeightPixels 100:40:8"]  # fmt: skip
    return "\n".join(lines) + "\n"


def _cmd_tracks(args: argparse.Namespace) -> int:
    from chromtransfer_lib.predict.tracks import attribution_track, prediction_track

    predictions = args.what == "predictions"
    wrong = {"--regions": not predictions and args.regions is None,
             "--step": args.step is not None and not (predictions and args.regions is None),
             "--ism": args.ism and predictions, "--target": args.target and predictions,
             "--reverse-complement": args.reverse_complement and not predictions}  # fmt: skip
    if any(wrong.values()):
        raise UsageError(
            "--what attributions needs --regions BED; --step is for genome tiles (predictions "
            "without --regions); --ism and --target are for attributions, --reverse-complement "
            f"for predictions (check: {', '.join(k for k, v in wrong.items() if v)})"
        )
    common = {"genome": args.genome, "out": args.out, "seq_len": args.seq_len,
              "max_n_fraction": args.max_n_fraction, "chunk_size": args.chunk_size,
              "hash_cache": hash_cache(), "genome_cache": not args.no_genome_cache,
              "genome_cache_dir": genome_cache_dir(), "progress": not args.quiet}  # fmt: skip
    if predictions:
        s = prediction_track(args.model, regions_bed=args.regions, step=args.step,
                             batch_size=args.batch_size or 512,
                             reverse_complement=args.reverse_complement, **common)  # fmt: skip
        where = f"{args.regions}'s regions" if args.regions else f"tiles every {s.step} bp"
        what = f"probability on {where}"
    else:
        target = args.target or "logit"
        s = attribution_track(args.model, regions_bed=args.regions, target=target, ism=args.ism,
                              batch_size=args.batch_size or 256, **common)  # fmt: skip
        what = f"attribution of the {target} on {args.regions}'s regions"
    hint = write_text_atomic(args.out.with_name(args.out.name + ".trackDb.txt"),
                             track_hint(s.tracks, what))  # fmt: skip
    used = s.n_windows - s.n_skipped
    print(f"wrote {', '.join(map(str, s.tracks.values()))} ({what}; {s.seq_len} bp windows: "
          f"{used} used, {s.n_skipped} skipped for N) in {s.seconds:.1f} s")  # fmt: skip
    print(f"provenance: {s.provenance}; browser stanzas: {hint}")
    print(f"load: {LOAD_HINT}")
    return 0


def add_tracks(sub: argparse._SubParsersAction) -> None:
    """Register ``tracks`` on ``sub``."""
    p = sub.add_parser(
        "tracks",
        formatter_class=HelpFormatter,
        help="bigWig browser tracks of predictions (whole genome or a BED) or attributions",
        description="Write a model's predictions or per-base attributions as bigWig files for "
        "a genome browser.\n\n--what predictions (default): the probability on tiles of the "
        "whole genome, or with --regions on the regions of a BED. --what attributions: "
        "gradient x input of the logit (default, as `attribute`) or the probability "
        "(--target) on the windows of a BED's regions; with --ism also the ISM delta, into "
        "OUT.ism.bw (e.g. top.bw -> top.ism.bw).\n\nWhich value a base gets (the overlap "
        f"rules):\n\n{TILE_RULE}\n\n{REGION_RULE}\n\n{ATTRIBUTION_RULE}\n\n"
        + SKIP_RULE.replace("max_n_fraction", "--max-n-fraction")
        + "\n\nOutput: the bigWig (its header lists every FASTA chromosome in FASTA order with "
        "its length; written under a temporary name and renamed when complete), "
        "OUT.provenance.json beside it (sha256 of the model, genome and BED; versions; the "
        "rule; counts) and OUT.trackDb.txt (how to load it; track-hub stanzas). The genome "
        "is read through the code cache of `predict`.\n\nLoading: " + LOAD_HINT + ".",
        epilog="examples:\n\n  chromtransfer tracks --model my_model/model.keras --genome "
        "hg38.fa --out hepg2.bw\n\n  chromtransfer tracks --what attributions --model "
        "my_model/model.keras --genome hg38.fa --regions top_hits.bed --ism --out top_hits.bw",
    )
    p.add_argument(
        "--what",
        choices=("predictions", "attributions"),
        default="predictions",
        help="the probability (default) or per-base attributions (needs --regions)",
    )
    model_args(
        p,
        regions="BED of regions (plain or gzip); predictions without it tile the genome",
        regions_required=False,
    )
    p.add_argument("--out", required=True, type=Path, help="output bigWig (its folder must exist)")
    p.add_argument(
        "--step",
        type=positive,
        default=None,
        help="genome tiles: bp between tile starts, 1..L (default: L // 2, half the window)",
    )
    target_arg(p)
    p.set_defaults(target=None)  # "logit" unless given; an error with --what predictions
    p.add_argument("--ism", action="store_true", help="attributions: also ISM deltas (slower)")
    p.add_argument(
        "--max-n-fraction",
        type=float,
        default=0.5,
        help="skip windows with a larger N fraction (default 0.5; counted in the log)",
    )
    p.add_argument(
        "--reverse-complement",
        action="store_true",
        help="predictions: average each window's probability over both strands",
    )
    p.add_argument(
        "--chunk-size", type=positive, default=10_000, help="windows held in memory (10000)"
    )
    p.add_argument(
        "--batch-size",
        type=positive,
        default=None,
        help="windows per model call (default 512 for predictions, 256 for attributions)",
    )
    p.add_argument(
        "--no-genome-cache",
        action="store_true",
        help="decode the FASTA for every chunk instead of writing/reading the code cache",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_tracks)

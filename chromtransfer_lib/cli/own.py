"""``chromtransfer finetune | predict | attribute | motifs``: the tool on a user's own data.

Thin argument parsing over :mod:`chromtransfer_lib.models.own` (fine-tuning) and
:mod:`chromtransfer_lib.predict` (prediction, attribution, motifs); every handler returns an
exit code, and bad input raises ``ValueError``/``OSError`` subclasses that ``cli.main`` prints
as one line (exit 2). Heavy imports (TensorFlow) happen inside the handlers, so ``--help`` is
instant.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

from chromtransfer_lib.config import MONITORS

log = logging.getLogger("chromtransfer")


class _FMT(argparse.HelpFormatter):
    """Wraps each paragraph (blank-line separated) on its own; indented lines stay as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        parts = []
        for para in text.split("\n\n"):
            if para.startswith(" ") or "\n " in para:
                parts.append("\n".join(indent + line for line in para.splitlines()))
            else:
                parts.append(super()._fill_text(para, width, indent))
        return "\n\n".join(parts)


_RECENTRE = (
    "Regions of any width are recentred on their midpoint to the model's input length L "
    "(window start = (start + end) // 2 - L // 2); window bases beyond a chromosome end are N. "
    "BED files may be gzip-compressed and may hold track/browser/# lines, a header row and "
    "CRLF line ends; FASTA may be plain or bgzip (a .fai index is built beside it if missing). "
    "Lowercase (soft-masked) bases are read as upper case, IUPAC ambiguity letters as N."
)


def _hash_cache() -> Path | None:
    """sha256 cache in the data cache folder ($CHROMTRANSFER_DATA), if it can be written."""
    from chromtransfer_lib.data.manifest import resolve_cache_dir

    try:
        folder = resolve_cache_dir()
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return folder / "sha256-cache.json"


def _chroms(text: str) -> tuple[str, ...]:
    return tuple(c.strip() for c in text.split(",") if c.strip())


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(c) for c in text.split(",") if c.strip())
    except ValueError as err:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from err


# ------------------------------------------------------------------ finetune


def _cmd_finetune(args: argparse.Namespace) -> int:
    from chromtransfer_lib.config import load_profile
    from chromtransfer_lib.models.own import finetune_own

    prof = load_profile(args.profile)
    tc, dc = prof.finetune, prof.data
    pick = lambda value, default: default if value is None else value  # noqa: E731
    result = finetune_own(
        args.out,
        genome=args.genome,
        pretrained=args.pretrained,
        positives_bed=args.positives,
        negatives_bed=args.negatives,
        labels=args.labels,
        cell_line=args.cell_line,
        gaps_bed=args.gaps,
        blacklist_bed=args.blacklist,
        negatives_per_positive=args.negatives_per_positive,
        test_chroms=pick(args.test_chroms, dc.test_chroms),
        n_folds=dc.n_folds,
        fold_ids=pick(args.folds, tc.folds),
        flank=dc.flank_exclusion,
        max_n_fraction=dc.max_n_fraction,
        head_units=prof.model.finetune_head,
        dropout=prof.model.dropout,
        freeze_trunk=args.freeze_trunk,
        learning_rate=pick(args.learning_rate, tc.learning_rate),
        batch_size=pick(args.batch_size, tc.batch_size),
        max_epochs=pick(args.max_epochs, tc.max_epochs),
        patience=pick(args.patience, tc.patience),
        monitor=pick(args.monitor, tc.monitor),
        random_state=pick(args.seed, prof.seed),
        hash_cache=_hash_cache(),
        progress=not args.quiet,
    )
    counts = result.dataset.counts["by_split_y"]
    print(f"dataset: {result.dataset.path} ({', '.join(f'{k}: {v}' for k, v in counts.items())})")
    cols = [
        c for c in ("fold", "auroc", "auprc", "f1_overall", "best_epoch") if c in result.per_fold
    ]
    print("test-chromosome metrics per fold:")
    print(result.per_fold[cols].to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    print(f"model: {result.model_path}")
    print(f"provenance and metrics: {result.summary_path}")
    return 0


def _add_finetune(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "finetune",
        formatter_class=_FMT,
        help="fine-tune a pre-trained model on your positives BED + genome FASTA",
        description="ChromTransfer on your data: copy the pre-trained trunk, add a new head and "
        "train every layer, exactly as the book does.\n\nData: positives from --positives (a "
        "BED) or --labels (a ChromTransfer label file, rows chrN:start-end,LABEL). Negatives from "
        "--negatives, or, by default (--negatives-from-genome), genome tiles of the model's input "
        "length on the positives' chromosomes that overlap no assembly gap (--gaps, else the "
        "FASTA's N runs), no --blacklist interval and lie at least the profile's flank (300 bp) "
        "from every positive. Regions on --test-chroms form the test set; the rest is split into "
        "cross-validation folds by chromosome. Sequences are the central L bp of each region, L "
        "being the pre-trained model's input length.\n\nRecipe: the --profile's "
        "model.finetune_head, "
        "finetune.{learning_rate, batch_size, max_epochs, patience, monitor, folds} and "
        "data.{test_chroms, n_folds, flank_exclusion, max_n_fraction}; options below override "
        "them. Use the profile your pre-trained model was trained with.\n\nOutput folder: "
        "dataset/ (codes, regions, provenance), runs/fold_<k>/ (history.csv learning curve, "
        "model, test metrics), model.keras (the first fold's best model, for predict) and "
        "finetune.json (sha256 of the genome, inputs and models, package versions, counts, "
        "recipe, metrics). Re-running the same command resumes an interrupted run and reuses "
        "finished folds.",
        epilog="example:\n\n  chromtransfer finetune --genome hg38.fa --positives peaks.bed "
        "--pretrained pretrain/model.keras --profile paper --out my_model",
    )
    p.add_argument("--genome", required=True, type=Path, help="genome FASTA (plain or bgzip)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--positives", type=Path, help="BED of positive regions (any width)")
    src.add_argument(
        "--labels", type=Path, help="ChromTransfer label file (rows chrN:start-end,LABEL)"
    )
    neg = p.add_mutually_exclusive_group()
    neg.add_argument("--negatives", type=Path, help="BED of negative regions (with --positives)")
    neg.add_argument(
        "--negatives-from-genome",
        action="store_true",
        help="sample negatives from the genome (the default when --negatives is not given)",
    )
    p.add_argument("--cell-line", default=None, help="the label file's own label (default: guess)")
    p.add_argument("--pretrained", required=True, type=Path, help="pre-trained .keras model")
    p.add_argument("--out", required=True, type=Path, help="output folder (its parent must exist)")
    p.add_argument(
        "--profile",
        default="paper",
        help="smoke | quick | paper | path/to/profile.yaml: the recipe (default: paper)",
    )
    p.add_argument("--gaps", type=Path, default=None, help="BED of assembly gaps to avoid")
    p.add_argument("--blacklist", type=Path, default=None, help="BED of regions to avoid")
    p.add_argument(
        "--negatives-per-positive",
        type=float,
        default=3.0,
        help="genome negatives per positive (default 3.0; the paper's ratios are 1:2.5-1:3.5)",
    )
    p.add_argument(
        "--test-chroms", type=_chroms, default=None, help="comma-separated test chromosomes"
    )
    p.add_argument(
        "--folds", type=_ints, default=None, help="comma-separated CV folds to train (e.g. 0,1,2)"
    )
    p.add_argument("--learning-rate", type=float, default=None, help="Adam learning rate")
    p.add_argument("--batch-size", type=int, default=None, help="training batch size")
    p.add_argument("--max-epochs", type=int, default=None, help="maximum number of epochs")
    p.add_argument("--patience", type=int, default=None, help="early-stopping patience (epochs)")
    p.add_argument(
        "--monitor",
        choices=tuple(MONITORS),
        default=None,
        help="what early stopping watches (default: the profile's finetune.monitor)",
    )
    p.add_argument(
        "--freeze-trunk",
        action="store_true",
        help="train only the new head (the authors' alternative script; the paper trains all)",
    )
    p.add_argument("--seed", type=int, default=None, help="random seed (default: the profile's)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_finetune)


# ------------------------------------------------------------------ predict


def _cmd_predict(args: argparse.Namespace) -> int:
    from chromtransfer_lib.predict import predict_regions

    s = predict_regions(
        args.model,
        genome=args.genome,
        regions_bed=args.regions,
        out=args.out,
        seq_len=args.seq_len,
        chunk_size=args.chunk_size,
        batch_size=args.batch_size,
        max_n_fraction=args.max_n_fraction,
        hash_cache=_hash_cache(),
        progress=not args.quiet,
    )
    print(
        f"wrote {s.n_regions} predictions ({s.seq_len} bp windows; {s.n_masked} NA) to {s.out} "
        f"in {s.seconds:.1f} s ({s.n_regions / max(s.seconds, 1e-9):.0f} regions/s)"
    )
    return 0


def _model_args(p: argparse.ArgumentParser, *, required: bool = True) -> None:
    p.add_argument(
        "--model",
        required=required,
        type=Path,
        help="a .keras model (e.g. DIR/model.keras of finetune)",
    )
    p.add_argument("--genome", required=required, type=Path, help="genome FASTA (plain or bgzip)")
    p.add_argument("--regions", required=required, type=Path, help="BED of regions (plain or gzip)")
    p.add_argument(
        "--seq-len",
        type=int,
        default=None,
        help="fail unless the model takes this many bp (a guard for pipelines)",
    )


def _add_predict(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict",
        formatter_class=_FMT,
        help="predict accessibility of every region of a BED (streaming, any size)",
        description="Predict every region of a BED file with a trained model, streaming "
        "the file in chunks so memory stays flat for any number of regions.\n\n"
        + _RECENTRE
        + "\n\nOutput: a TSV whose # lines record the provenance (sha256 of the model, the genome "
        "and the BED; package versions; git SHA), then the columns chrom, start, end, name (as "
        "in the BED; '.' if none), n_fraction (of the window) and probability (p_0, p_1, ... "
        "for a multi-class model), one row per BED line in file order. Windows with more N than "
        "--max-n-fraction get probability NA. The file is written under a temporary name and "
        "renamed when complete: an interrupted run leaves no partial output. Read it with "
        "pandas.read_csv(path, sep='\\t', comment='#').",
        epilog="example:\n\n  chromtransfer predict --model my_model/model.keras --genome hg38.fa "
        "--regions candidates.bed.gz --out predictions.tsv",
    )
    _model_args(p)
    p.add_argument("--out", required=True, type=Path, help="output TSV (its folder must exist)")
    p.add_argument(
        "--chunk-size", type=int, default=50_000, help="regions held in memory (default 50000)"
    )
    p.add_argument("--batch-size", type=int, default=512, help="regions per model call")
    p.add_argument(
        "--max-n-fraction",
        type=float,
        default=0.5,
        help="windows with a larger N fraction get probability NA (default 0.5)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    p.set_defaults(func=_cmd_predict)


# ------------------------------------------------------------------ attribute and motifs


def _cmd_attribute(args: argparse.Namespace) -> int:
    from chromtransfer_lib.predict import attribute_regions

    a = attribute_regions(
        args.model,
        genome=args.genome,
        regions_bed=args.regions,
        out_dir=args.out,
        ism=args.ism,
        seq_len=args.seq_len,
        batch_size=args.batch_size,
        hash_cache=_hash_cache(),
        progress=not args.quiet,
    )
    print(f"attributed {len(a.regions)} regions ({a.codes.shape[1]} bp) into {a.path}")
    return 0


def _add_attribute(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "attribute",
        formatter_class=_FMT,
        help="per-base gradient x input (and ISM) of a model on regions of a BED",
        description="Per-base attribution of a model's prediction on each region: gradient x "
        "input (the gradient of the output at the observed base; positive = supports the "
        "prediction) and, with --ism, in-silico mutagenesis (the signed change of the "
        "alternative base with the largest effect; negative = the base supports a positive "
        "prediction; costs 3 L predictions per region).\n\n"
        + _RECENTRE
        + "\n\nOutput folder (must not exist; written atomically): regions.tsv (chrom, start, "
        "end, name, window_start, window_end, n_fraction, probability), codes.npy (uint8, "
        "A=0 C=1 G=2 T=3 N=4), grad_x_input.npy and ism_delta.npy (float32, regions x L), "
        "provenance.json (sha256 of model, genome and BED; versions). Meant for up to ~10^5 "
        "regions (arrays are held in memory).",
        epilog="example:\n\n  chromtransfer attribute --model my_model/model.keras "
        "--genome hg38.fa "
        "--regions top_hits.bed --ism --out my_attributions",
    )
    _model_args(p)
    p.add_argument("--out", required=True, type=Path, help="output folder (must not exist)")
    p.add_argument("--ism", action="store_true", help="also in-silico mutagenesis (slower)")
    p.add_argument("--batch-size", type=int, default=256, help="sequences per compiled call")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_attribute)


def _cmd_motifs(args: argparse.Namespace) -> int:
    from chromtransfer_lib.data.own import check_output, provenance
    from chromtransfer_lib.genome.jaspar import UnknownMotifError, load_jaspar, resolve_motifs
    from chromtransfer_lib.predict import (
        attribute_regions,
        load_attributions,
        motif_enrichment,
        write_motif_report,
    )

    if args.attributions is None and not (args.model and args.genome and args.regions):
        raise ValueError("give --attributions DIR, or --model, --genome and --regions")
    check_output(args.out, new_folder=True)
    matrices = load_jaspar(args.jaspar_release)
    if args.motifs:
        try:
            matrices = resolve_motifs(args.motifs, matrices)
        except UnknownMotifError as err:
            raise ValueError(err.args[0]) from err
    with tempfile.TemporaryDirectory(dir=args.out.parent, prefix=f".{args.out.name}.") as tmp:
        if args.attributions is not None:
            attr = load_attributions(args.attributions)
        else:
            attr = attribute_regions(
                args.model, genome=args.genome, regions_bed=args.regions,
                out_dir=Path(tmp) / "attributions", ism=args.ism, seq_len=args.seq_len,
                hash_cache=_hash_cache(), progress=not args.quiet,
            )  # fmt: skip
        result = motif_enrichment(
            attr, matrices, p_value=args.p_value, min_sites=args.min_sites, fdr=args.fdr,
            min_probability=args.min_probability,
        )  # fmt: skip
        prov = provenance(
            {}, attributions=attr.provenance, jaspar=args.jaspar_release,
            n_matrices=len(matrices), p_value=args.p_value, min_sites=args.min_sites,
            fdr=args.fdr, min_probability=args.min_probability,
        )  # fmt: skip
        out = write_motif_report(args.out, result, prov)
    sig = result.enrichment[result.enrichment["significant"]]
    n_tf = result.sites["tf"].nunique()
    print(f"{len(result.sites)} sites of {n_tf} TFs; {len(result.enrichment)} TF x score tests, "
          f"{len(sig)} at FDR < {args.fdr:g}")  # fmt: skip
    if len(sig):
        print(sig[["score", "tf", "n_sites", "D_signed", "fdr"]].head(20).to_string(index=False))
    print(f"report: {out}")
    return 0


def _add_motifs(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "motifs",
        formatter_class=_FMT,
        help="which TFs' predicted sites carry high attribution (JASPAR scan + KS test)",
        description="The paper's motif analysis: JASPAR CORE vertebrate sites with exact "
        "p < --p-value on both strands inside the regions; each site scored by the max gradient "
        "x input (and the min ISM delta, when computed) over its bases; per TF with at least "
        "--min-sites sites, a two-sample Kolmogorov-Smirnov test against the non-overlapping "
        "sites of all other TFs (D signed by mean rank), Benjamini-Hochberg over TFs.\n\nInput: "
        "an attribution folder (--attributions, from `chromtransfer attribute`) or a model and "
        "regions (--model, --genome, --regions; attribution is then computed).\n\nOutput folder "
        "(must not exist; written atomically): enrichment.tsv (score, tf, n_sites, "
        "n_background, D_signed, p_value, fdr, significant), sites.tsv (every site with region-"
        "relative and genome coordinates and its scores), unreachable.tsv (matrices that "
        "cannot reach the p-value), provenance.json.",
        epilog="example:\n\n  chromtransfer motifs --attributions my_attributions --out my_motifs",
    )
    p.add_argument("--attributions", type=Path, default=None, help="folder from attribute")
    _model_args(p, required=False)
    p.add_argument("--ism", action="store_true", help="with --model: also compute ISM")
    p.add_argument("--out", required=True, type=Path, help="output folder (must not exist)")
    p.add_argument(
        "--motifs", nargs="+", default=None, help="only these JASPAR names or matrix IDs"
    )
    p.add_argument("--jaspar-release", default="JASPAR2022", help="JASPAR release (pyjaspar)")
    p.add_argument("--p-value", type=float, default=1e-5, help="site threshold (default 1e-5)")
    p.add_argument("--min-sites", type=int, default=100, help="TFs tested need this many sites")
    p.add_argument("--fdr", type=float, default=1e-3, help="BH level for 'significant'")
    p.add_argument(
        "--min-probability",
        type=float,
        default=0.0,
        help="only regions predicted at least this (the paper: 0.5, positive predictions)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_motifs)


def add_own_data_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``finetune``, ``predict``, ``attribute`` and ``motifs`` on ``sub``."""
    for add in (_add_finetune, _add_predict, _add_attribute, _add_motifs):
        add(sub)

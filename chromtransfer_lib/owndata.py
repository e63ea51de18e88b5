"""A user's own data: fine-tune on a BED + FASTA, predict any number of regions, attribute, motifs.

The same code paths as the book (:mod:`.data` artifact machinery, :mod:`.model`,
:mod:`.bootstrap` cross-validation with resumable :mod:`.train` runs, :mod:`.tfdata` compiled
prediction, :mod:`.attribution`, :mod:`.motifs`, :mod:`.enrichment`), with inputs given as paths:

* :func:`build_own_dataset` — positives (a BED, or a ChromTransfer label file) against
  negatives from a BED or sampled from the genome: ``seq_len`` bp tiles on the positives'
  chromosomes that overlap no assembly gap (``gaps_bed`` or the FASTA's N runs), no blacklist
  interval and lie at least ``flank`` bp from every positive;
* :func:`finetune_own` — ChromTransfer from a pre-trained ``.keras`` model on that dataset;
* :func:`predict_regions` — streams a BED of any size in chunks (read → recentre → extract →
  predict → append to a temporary TSV → atomic rename), so memory does not grow with it;
* :func:`attribute_regions` and :func:`motif_enrichment` — gradient × input (and ISM) of a
  model on regions, and KS enrichment of JASPAR sites' attributions.

Regions of any width are recentred on their midpoint to the model's input length ``L``
(``start = (start + end) // 2 - L // 2``). Windows that run off a chromosome end are padded
with ``N``; regions themselves must lie on the chromosome. Every output is written to a
temporary name and renamed when complete, and carries its provenance: sha256 of the model,
the genome and the region file, package versions and the git SHA.
"""

from __future__ import annotations

import gzip
import io
import itertools
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import data as D
from .regions import (
    COLS,
    RegionError,
    gaps_from_fasta,
    mark_overlaps,
    read_bed,
    read_label_file,
    recentre,
    tile_genome,
    validate_regions,
)
from .sequence import (
    N_CODE,
    FastaError,
    chrom_sizes,
    extract_sequences,
    n_fraction,
    read_chromosome,
)

log = logging.getLogger(__name__)


# ------------------------------------------------------------------ inputs


def check_fasta_index(fasta: str | Path) -> None:
    """Fail early, and clearly, when a FASTA has no ``.fai`` and none can be written beside it."""
    fasta = Path(fasta)
    if not fasta.is_file():
        raise FastaError(f"FASTA file {fasta} does not exist")
    fai = fasta.with_name(fasta.name + ".fai")
    if not fai.is_file() and not os.access(fasta.parent, os.W_OK):
        raise FastaError(
            f"{fasta} has no index ({fai.name}) and its folder {fasta.parent} is read-only, so "
            f"the index cannot be built. Run `samtools faidx {fasta}` as someone who can write "
            "there, or link the FASTA into a writable folder (`ln -s` it) and pass that path."
        )


def iter_bed_chunks(
    path: str | Path,
    *,
    chunk_size: int = 50_000,
    chrom_sizes: Mapping[str, int] | None = None,
) -> Iterator[pd.DataFrame]:
    """Read a BED file (plain or gzip) in chunks of ``chunk_size`` regions, in file order.

    Accepts what :func:`.regions.read_bed` accepts (``track``/``browser``/``#`` lines, a header
    row, CRLF line ends, tab or whitespace separation) and gives the same file:line errors, but
    never holds more than one chunk. Duplicate regions are kept (each is one output row).

    Yields
    ------
    pandas.DataFrame
        ``chrom, start, end`` (int64) and ``name`` (``"."`` when the file has no 4th column).
    """
    path = Path(path)
    if not path.is_file():
        raise RegionError(f"{path}: file does not exist")
    with open(path, "rb") as fh:
        opener = gzip.open if fh.read(2) == b"\x1f\x8b" else open
    n_rows, first, tab = 0, True, True
    rows: list[str] = []
    lines: list[int] = []
    with opener(path, "rt", encoding="utf-8", errors="replace", newline=None) as fh:
        for no, raw in enumerate(fh, start=1):
            line = raw.rstrip("\n")
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            if first:  # a header row such as "chrom start end" (non-integer second column)
                first, tab = False, "\t" in line
                cols = line.split("\t") if tab else line.split()
                if len(cols) >= 3 and not cols[1].strip().lstrip("-").isdigit():
                    continue
            rows.append(line if tab else "\t".join(line.split()))
            lines.append(no)
            if len(rows) == chunk_size:
                yield _parse_bed_rows(path, rows, lines, chrom_sizes)
                n_rows += len(rows)
                rows, lines = [], []
    if rows:
        n_rows += len(rows)
        yield _parse_bed_rows(path, rows, lines, chrom_sizes)
    if n_rows == 0:
        raise RegionError(f"{path}: the file contains no regions")


def _parse_bed_rows(
    path: Path, rows: list[str], lines: list[int], sizes: Mapping[str, int] | None
) -> pd.DataFrame:
    """Rows of one chunk → validated ``chrom, start, end, name`` (messages name file:line)."""
    n_cols = max(3, max(r.count("\t") for r in rows) + 1)
    df = pd.read_csv(
        io.StringIO("\n".join(rows)), sep="\t", header=None, names=range(n_cols), dtype=str,
        usecols=range(min(n_cols, 4)), keep_default_na=False, na_values=[""],
    )  # fmt: skip
    line_no = np.asarray(lines)
    short = df[2].isna().to_numpy()
    if short.any():
        i = int(np.flatnonzero(short)[0])
        raise RegionError(f"{path}:{line_no[i]}: expected at least 3 columns, got {rows[i]!r}")
    out = pd.DataFrame({"chrom": df[0].str.strip()})
    for k, col in ((1, "start"), (2, "end")):
        num = pd.to_numeric(df[k].str.strip(), errors="coerce")
        bad = np.flatnonzero(num.isna().to_numpy() | (num % 1 != 0).to_numpy())
        if bad.size:
            i = int(bad[0])
            raise RegionError(f"{path}:{line_no[i]}: {col} {df[k].iloc[i]!r} is not an integer")
        out[col] = num.astype(np.int64)
    out["name"] = df[3].fillna(".").str.strip() if 3 in df else "."
    unique = ~out.duplicated(subset=COLS).to_numpy()  # duplicates are fine here: keep them
    validate_regions(out[unique], chrom_sizes=sizes, source=str(path), lines=line_no[unique])
    return out


def extract_windows(
    genome: str | Path, windows: pd.DataFrame, *, seq_len: int, sizes: Mapping[str, int]
) -> np.ndarray:
    """Codes ``(n, seq_len)`` of windows, ``N`` where a window runs off its chromosome.

    Windows are shifted inside their chromosome, extracted chromosome by chromosome with
    :func:`.sequence.extract_sequences`, and shifted back with ``N`` filling the overhang.
    """
    n, length = len(windows), int(seq_len)
    starts = windows["start"].to_numpy(np.int64)
    size = windows["chrom"].map(sizes).to_numpy(np.int64)
    codes = np.full((n, length), N_CODE, dtype=np.uint8)
    fits = np.flatnonzero(size >= length)
    shifted = np.clip(starts[fits], 0, size[fits] - length)
    sub = windows.iloc[fits][["chrom"]].assign(start=shifted, end=shifted + length)
    got = extract_sequences(genome, sub, length=length, progress=False)
    d = starts[fits] - shifted  # < 0 before the chromosome start, > 0 past its end
    codes[fits[d == 0]] = got[d == 0]
    moved = np.flatnonzero(d != 0)
    if moved.size:
        src = np.arange(length)[None, :] + d[moved, None]
        ok = (src >= 0) & (src < length)
        vals = np.take_along_axis(got[moved], np.clip(src, 0, length - 1), axis=1)
        codes[fits[moved]] = np.where(ok, vals, N_CODE)
    for i in np.flatnonzero(size < length):  # chromosomes shorter than a window
        chrom_codes = read_chromosome(genome, windows["chrom"].iloc[i])
        pos = starts[i] + np.arange(length)
        ok = (pos >= 0) & (pos < size[i])
        codes[i, ok] = chrom_codes[pos[ok]]
    return codes


# ------------------------------------------------------------------ provenance and atomic output


def package_versions() -> dict[str, str | None]:
    """Versions of this package and of the numerical stack (None if not installed)."""
    out = D._versions()
    for pkg in ("tensorflow", "keras", "scikit-learn", "pyjaspar"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def provenance(
    files: Mapping[str, str | Path | None], *, hash_cache: Path | None = None, **facts: Any
) -> dict[str, Any]:
    """``{name: {path, sha256}}`` of input files (cached by size + mtime), facts, versions, SHA."""
    return {
        "inputs": {
            k: {"path": str(Path(p).resolve()), "sha256": D.sha256_file(p, cache=hash_cache)}
            for k, p in files.items()
            if p is not None
        },
        **facts,
        "versions": package_versions(),
        "git_sha": D._git_sha(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _alive(pid: int) -> bool:
    """Whether process ``pid`` is running (a zombie is not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def _temp_for(out: Path) -> Path:
    """A hidden temporary name beside ``out``; those of dead (killed) processes are removed."""
    for old in out.parent.glob(f".{out.name}.*.tmp"):
        pid = old.name.rsplit(".", 2)[-2]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(old) if old.is_dir() else old.unlink(missing_ok=True)
    return out.with_name(f".{out.name}.{os.getpid()}.tmp")


def check_output(out: str | Path, *, new_folder: bool = False) -> None:
    """Raise a clear ``OSError`` unless ``out`` can be written (and, if asked, does not exist)."""
    out = Path(out)
    if not out.parent.is_dir():
        raise FileNotFoundError(f"output folder {out.parent} does not exist; create it first")
    if not os.access(out.parent, os.W_OK):
        raise PermissionError(f"output folder {out.parent} is not writable")
    if new_folder and out.exists():
        raise FileExistsError(f"{out} already exists; choose another output folder")


def _write_json(path: Path, obj: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=str))
    os.replace(tmp, path)


def header_lines(prov: Mapping[str, Any], title: str) -> str:
    """Provenance as ``# key: value`` lines (TSV outputs; ``pandas.read_csv(comment="#")``)."""
    out = [f"# {title}"]
    for k, v in prov["inputs"].items():
        out.append(f"# {k}: {v['path']} sha256={v['sha256']}")
    for k, v in prov.items():
        if k not in ("inputs", "versions"):
            out.append(f"# {k}: {v}")
    out.append("# versions: " + " ".join(f"{k}={v}" for k, v in prov["versions"].items()))
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------ prediction


@dataclass(frozen=True)
class PredictSummary:
    """What :func:`predict_regions` wrote."""

    out: Path
    n_regions: int
    n_masked: int  #: regions whose window has more than ``max_n_fraction`` N (probability NA)
    seq_len: int
    seconds: float


def predict_regions(
    model: str | Path,
    *,
    genome: str | Path,
    regions_bed: str | Path,
    out: str | Path,
    seq_len: int | None = None,
    chunk_size: int = 50_000,
    batch_size: int = 512,
    max_n_fraction: float = 0.5,
    hash_cache: Path | None = None,
    progress: bool = False,
) -> PredictSummary:
    """Predict every region of a BED file of any size; write a TSV with a provenance header.

    Parameters
    ----------
    model
        A ``.keras`` model saved by this library (loaded in safe mode).
    genome, regions_bed
        FASTA (plain or bgzip) and BED (plain or gzip; any widths: recentred to ``L``).
    out
        Output TSV (its folder must exist): ``#`` provenance lines, then columns ``chrom,
        start, end, name`` (as in the BED), ``n_fraction`` (of the window) and ``probability``
        (``p_0, p_1, …`` for a softmax model); rows in input order.
    seq_len
        If given, fail unless the model takes ``seq_len`` bp inputs.
    chunk_size, batch_size
        Regions held at a time (memory) and per model call.
    max_n_fraction
        Windows with more ``N`` than this get probability ``NA`` (counted and logged).
    hash_cache
        JSON file caching sha256 sums of big inputs by size and mtime.
    """
    t0, out = time.perf_counter(), Path(out)
    check_output(out)
    check_fasta_index(genome)
    sizes = chrom_sizes(genome)
    chunks = iter_bed_chunks(regions_bed, chunk_size=chunk_size, chrom_sizes=sizes)
    chunks = itertools.chain([next(chunks)], chunks)  # errors in the first chunk: before TF
    from .model import load_model
    from .tfdata import Predictor, predict_proba

    net = load_model(model, expected_seq_len=seq_len)
    length = int(net.inputs[0].shape[1])
    n_out = int(net.outputs[0].shape[-1])
    prov = provenance(
        {"model": model, "genome": genome, "regions": regions_bed}, hash_cache=hash_cache,
        seq_len=f"{length} (each region recentred on its midpoint; N beyond chromosome ends)",
        max_n_fraction=max_n_fraction,
    )  # fmt: skip
    predictor = Predictor(net)
    cols = ["probability"] if n_out == 1 else [f"p_{k}" for k in range(n_out)]
    tmp, n, n_masked = _temp_for(out), 0, 0
    try:
        with open(tmp, "w") as fh:
            fh.write(header_lines(prov, "chromtransfer predict"))
            for chunk in chunks:
                codes = extract_windows(genome, recentre(chunk, width=length), seq_len=length,
                                        sizes=sizes)  # fmt: skip
                frac = n_fraction(codes)
                p = predict_proba(predictor, codes, batch_size=batch_size).reshape(len(chunk), -1)
                masked = frac > max_n_fraction
                p[masked] = np.nan
                table = chunk.assign(n_fraction=frac.round(4), **dict(zip(cols, p.T, strict=True)))
                table.to_csv(fh, sep="\t", index=False, header=n == 0, float_format="%.6g",
                             na_rep="NA", lineterminator="\n")  # fmt: skip
                n, n_masked = n + len(chunk), n_masked + int(masked.sum())
                if progress:
                    log.info("predicted %d regions (%.0f/s)", n, n / (time.perf_counter() - t0))
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if n_masked:
        log.warning(
            "%d of %d regions have windows with more than %.0f%% N (assembly gaps or beyond a "
            "chromosome end); their probability is NA",
            n_masked, n, 100 * max_n_fraction,
        )  # fmt: skip
    return PredictSummary(out, n, n_masked, length, time.perf_counter() - t0)


def read_predictions(path: str | Path) -> pd.DataFrame:
    """A TSV written by :func:`predict_regions` (provenance lines skipped)."""
    return pd.read_csv(path, sep="\t", comment="#", keep_default_na=False, na_values=["NA"])


# ------------------------------------------------------------------ dataset and fine-tuning


def build_own_dataset(
    out_root: str | Path,
    *,
    genome: str | Path,
    seq_len: int,
    positives_bed: str | Path | None = None,
    negatives_bed: str | Path | None = None,
    labels: str | Path | None = None,
    cell_line: str | None = None,
    gaps_bed: str | Path | None = None,
    blacklist_bed: str | Path | None = None,
    negatives_per_positive: float = 3.0,
    test_chroms: Sequence[str] = ("chr2", "chr3"),
    n_folds: int = 3,
    flank: int = 300,
    max_n_fraction: float = 0.1,
    fold_group: str = "auto",
    random_state: int = 0,
    progress: bool = True,
) -> D.DatasetInfo:
    """A fine-tuning dataset artifact (:mod:`.data` layout) from a user's files.

    Give either ``positives_bed`` (plus ``negatives_bed``, or negatives sampled from the
    genome) or ``labels``, a ChromTransfer label file (rows ``chrN:start-end,LABEL``; both
    classes needed). Genome negatives: ``round(negatives_per_positive × positives)`` of the
    ``seq_len`` bp tiles of the positives' chromosomes that overlap no gap (``gaps_bed``, else
    the FASTA's N runs), no ``blacklist_bed`` interval and lie ``>= flank`` bp from every
    positive (seeded sample). BED negatives overlapping a positive are dropped (counted).
    Sequences are the central ``seq_len`` bp; windows off a chromosome or with more than
    ``max_n_fraction`` N are dropped (counted). ``split`` is ``test`` on ``test_chroms``; the
    rest gets ``n_folds`` folds (:func:`.regions.split_by_chromosome`). ``label`` is
    ``positive``/``negative``/``genome background`` (or the label file's), ``y`` 1/0.
    """
    if (positives_bed is None) == (labels is None):
        raise ValueError("give either positives_bed (a BED) or labels (a label file), not both")
    if labels is not None and negatives_bed is not None:
        raise ValueError("a label file already holds the negatives: do not also give negatives")
    paths = ("genome", "positives_bed", "negatives_bed", "labels", "gaps_bed", "blacklist_bed")
    args = {k: v for k, v in locals().items() if k not in ("out_root", "progress", "paths", *paths)}
    inputs = {k: v for k, v in locals().items() if k in paths}

    def make(tmp: Path, dropped: dict[str, int], warnings: list[str]) -> pd.DataFrame:
        sizes = chrom_sizes(genome)
        if labels is not None:
            df = read_label_file(
                labels, cell_line=cell_line, chrom_sizes=sizes, on_duplicate="drop"
            )
        else:
            pos = read_bed(positives_bed, chrom_sizes=sizes, on_duplicate="drop")
            pos = pos[COLS].assign(label="positive", y=1)
            if negatives_bed is not None:
                neg = read_bed(negatives_bed, chrom_sizes=sizes, on_duplicate="drop")
                neg = D._drop(
                    neg[COLS], mark_overlaps(neg, pos), "negative overlapping a positive", dropped
                )
                neg = neg.assign(label="negative", y=0)
            else:
                neg = _genome_negatives(pos, sizes, dropped, warnings)
            df = pd.concat([pos, neg], ignore_index=True)
        df = df.assign(
            name=df["chrom"] + ":" + df["start"].astype(str) + "-" + df["end"].astype(str)
        )
        df = D._write_codes(
            tmp,
            genome,
            df[[*COLS, "name", "label", "y"]],
            seq_len=seq_len,
            max_n_fraction=max_n_fraction,
            dropped=dropped,
            progress=progress,
        )
        df = df.assign(split=np.where(df["chrom"].isin(list(test_chroms)), "test", "train"))
        for split, part in df.groupby("split"):
            if part["y"].nunique() < 2:
                where = f"chromosomes {', '.join(test_chroms)}" if split == "test" else "others"
                only = "positives" if part["y"].iloc[0] else "negatives"
                raise RegionError(
                    f"the {split} set ({where}) has only {only} after filtering (dropped: "
                    f"{dropped or 'nothing'}); both classes are needed — choose --test-chroms "
                    "that hold positives, or give more regions"
                )
        if not (df["split"] == "test").any():
            raise RegionError(
                f"no region lies on the test chromosomes {list(test_chroms)} (chromosomes with "
                f"regions: {', '.join(df['chrom'].unique()[:8])}); choose others with --test-chroms"
            )
        return D._folds_and_checks(df, test_chroms=test_chroms, n_folds=n_folds,
                                   random_state=random_state, fold_group=fold_group,
                                   pretraining=None, warnings=warnings)  # fmt: skip

    def _genome_negatives(pos, sizes, dropped, warnings) -> pd.DataFrame:
        gaps = (read_bed(gaps_bed, chrom_sizes=sizes, on_duplicate="drop") if gaps_bed
                else gaps_from_fasta(genome, progress=progress))  # fmt: skip
        exclude = {"assembly gap": gaps}
        if blacklist_bed is not None:
            exclude["blacklist"] = read_bed(blacklist_bed, chrom_sizes=sizes, on_duplicate="drop")
        chroms = [c for c in sizes if c in set(pos["chrom"])]
        tiles = tile_genome(sizes, width=seq_len, exclude=exclude, positives=pos, flank=flank,
                            chroms=chroms)  # fmt: skip
        for reason, count in tiles.dropped.items():
            dropped[f"genome tile overlapping {reason}"] = count
        n_neg = round(negatives_per_positive * len(pos))
        if n_neg > len(tiles.windows):
            warnings.append(f"asked for {n_neg} negatives, only {len(tiles.windows)} tiles qualify")
            log.warning(warnings[-1])
            n_neg = len(tiles.windows)
        rng = np.random.default_rng(random_state)
        pick = np.sort(rng.choice(len(tiles.windows), size=n_neg, replace=False))
        return tiles.windows.iloc[pick].assign(label="genome background", y=0)

    return D._build(out_root, "own", args, inputs, make)


@dataclass(frozen=True)
class FinetuneResult:
    """A finished :func:`finetune_own`: the model to predict with, and how it scored."""

    out_dir: Path
    model_path: Path  #: ``out_dir/model.keras`` (the first trained fold's best model)
    dataset: D.DatasetInfo
    per_fold: pd.DataFrame  #: test metrics of each fold's model (chromosomes ``test_chroms``)
    summary_path: Path  #: ``out_dir/finetune.json``: provenance, counts, recipe, metrics


def finetune_own(
    out_dir: str | Path,
    *,
    genome: str | Path,
    pretrained: str | Path,
    fold_ids: Sequence[int] = (0,),
    head_units: Sequence[int] = (1024, 32),
    dropout: float = 0.1,
    freeze_trunk: bool = False,
    learning_rate: float = 5e-6,
    batch_size: int = 128,
    max_epochs: int = 100,
    patience: int = 10,
    random_state: int = 0,
    hash_cache: Path | None = None,
    progress: bool = True,
    **dataset_args: Any,
) -> FinetuneResult:
    """ChromTransfer on a user's data: pre-trained trunk + new head, trained as in the book.

    ``out_dir`` holds ``dataset/own-<key>/`` (:func:`build_own_dataset`, with
    ``dataset_args``), ``runs/fold_<k>/`` (resumable :func:`.train.train_model` runs via
    :func:`.bootstrap.cross_validate`), ``model.keras`` and ``finetune.json``. Re-running the
    same call resumes an interrupted run (exactly, on CPU) and reuses finished ones; if it fails
    before training starts in a folder it created, the folder is removed. The sequence length
    is the pre-trained model's input length.
    """
    from .bootstrap import Recipe, cross_validate
    from .model import build_chromtransfer_model, load_model

    out_dir = Path(out_dir)
    pre = load_model(pretrained)
    seq_len = int(pre.inputs[0].shape[1])
    n_folds = int(dataset_args.get("n_folds", 3))
    if bad := [k for k in fold_ids if not 0 <= k < n_folds]:
        raise ValueError(f"folds {bad} outside 0..{n_folds - 1}")
    check_fasta_index(genome)
    check_output(out_dir)
    created = not out_dir.exists()
    try:
        info = build_own_dataset(
            out_dir / "dataset",
            genome=genome,
            seq_len=seq_len,
            random_state=random_state,
            progress=progress,
            **dataset_args,
        )
        ds = D.load_dataset(info.path)
        folds = ds.regions["fold"].to_numpy()
        for k in fold_ids:
            if np.unique(ds.labels[folds == k]).size < 2:
                raise RegionError(
                    f"validation fold {k} holds one class only ({int((folds == k).sum())} "
                    "regions); give more regions or other folds"
                )
    except BaseException:
        if created:  # nothing trained yet: leave no partial output
            shutil.rmtree(out_dir, ignore_errors=True)
        raise

    def build(seed: int):
        return build_chromtransfer_model(pre, head_units=head_units, dropout=dropout,
                                         freeze_trunk=freeze_trunk, random_state=seed)  # fmt: skip

    recipe = Recipe(learning_rate, batch_size, max_epochs, patience)
    cv = cross_validate(build, recipe, codes=ds.codes, labels=ds.labels, folds=folds,
                        out_dir=out_dir / "runs", random_state=random_state, fold_ids=fold_ids,
                        progress=progress)  # fmt: skip
    model_path = out_dir / "model.keras"
    tmp = out_dir / f".model.keras.{os.getpid()}.tmp"
    shutil.copyfile(cv.runs[0].model_path, tmp)
    os.replace(tmp, model_path)
    files = {"genome": genome, "pretrained": pretrained, "model": model_path}
    files.update({k: dataset_args.get(k) for k in ("positives_bed", "negatives_bed", "labels")})
    summary = provenance(
        files, hash_cache=hash_cache, seq_len=seq_len, dataset=str(info.path),
        counts=info.counts, recipe=recipe._asdict(), head_units=list(head_units),
        freeze_trunk=freeze_trunk, random_state=random_state, folds=list(fold_ids),
        model_from_fold=int(fold_ids[0]), test_metrics=cv.per_fold.to_dict(orient="records"),
    )  # fmt: skip
    _write_json(out_dir / "finetune.json", summary)
    return FinetuneResult(out_dir, model_path, info, cv.per_fold, out_dir / "finetune.json")


# ------------------------------------------------------------------ attribution and motifs


@dataclass(frozen=True)
class Attributions:
    """An attribution folder (:func:`attribute_regions`), arrays in row order of ``regions``."""

    path: Path
    regions: (
        pd.DataFrame
    )  #: chrom, start, end, name, window_start, window_end, n_fraction, probability
    codes: np.ndarray  #: uint8 ``(n, L)``
    grad_x_input: np.ndarray  #: float32 ``(n, L)``
    ism_delta: np.ndarray | None  #: float32 ``(n, L)`` or None
    provenance: dict[str, Any]


_ATTR_FILES = ("regions.tsv", "codes.npy", "grad_x_input.npy", "provenance.json")


def attribute_regions(
    model: str | Path,
    *,
    genome: str | Path,
    regions_bed: str | Path,
    out_dir: str | Path,
    ism: bool = False,
    seq_len: int | None = None,
    batch_size: int = 256,
    hash_cache: Path | None = None,
    progress: bool = False,
) -> Attributions:
    """Gradient × input (and, with ``ism``, ISM deltas) of a model on every region of a BED.

    Writes the folder ``out_dir`` (must not exist; written under a temporary name, then
    renamed): ``regions.tsv`` (the regions, their recentred windows, N fraction and predicted
    probability), ``codes.npy``, ``grad_x_input.npy`` and ``ism_delta.npy`` (float32
    ``(n, L)``, see :mod:`.attribution`), ``provenance.json``. All arrays are held in memory:
    meant for up to ~10^5 regions (ISM costs ``3 L`` predictions per region).
    """
    out_dir = Path(out_dir)
    check_output(out_dir, new_folder=True)
    check_fasta_index(genome)
    sizes = chrom_sizes(genome)
    from .attribution import grad_x_input, in_silico_mutagenesis
    from .model import load_model
    from .tfdata import predict_proba

    net = load_model(model, expected_seq_len=seq_len)
    length = int(net.inputs[0].shape[1])
    regions = read_bed(regions_bed, chrom_sizes=sizes, on_duplicate="drop")
    regions = regions.assign(name=regions["name"] if "name" in regions else ".")[[*COLS, "name"]]
    win = recentre(regions, width=length)
    codes = extract_windows(genome, win, seq_len=length, sizes=sizes)
    table = regions.assign(window_start=win["start"], window_end=win["end"],
                           n_fraction=n_fraction(codes).round(4),
                           probability=predict_proba(net, codes, batch_size=512))  # fmt: skip
    arrays = {"codes": codes, "grad_x_input": grad_x_input(net, codes, batch_size=batch_size,
                                                           verbose=progress)}  # fmt: skip
    if ism:
        arrays["ism_delta"] = in_silico_mutagenesis(net, codes, batch_size=batch_size,
                                                    verbose=progress).delta  # fmt: skip
    prov = provenance({"model": model, "genome": genome, "regions": regions_bed},
                      hash_cache=hash_cache, seq_len=length, n_regions=len(table))  # fmt: skip
    tmp = _temp_for(out_dir)
    try:
        tmp.mkdir()
        table.to_csv(tmp / "regions.tsv", sep="\t", index=False, float_format="%.6g")
        for name, arr in arrays.items():
            np.save(tmp / f"{name}.npy", arr, allow_pickle=False)
        (tmp / "provenance.json").write_text(json.dumps(prov, indent=2))
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return load_attributions(out_dir)


def load_attributions(path: str | Path) -> Attributions:
    """Open a folder written by :func:`attribute_regions` (no pickle is ever loaded)."""
    path = Path(path)
    missing = [f for f in _ATTR_FILES if not (path / f).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{path} is not an attribution folder (missing {', '.join(missing)}); make one with "
            "`chromtransfer attribute`"
        )
    ism = path / "ism_delta.npy"
    return Attributions(
        path,
        pd.read_csv(path / "regions.tsv", sep="\t", keep_default_na=False, na_values=[""]),
        np.load(path / "codes.npy", allow_pickle=False),
        np.load(path / "grad_x_input.npy", allow_pickle=False),
        np.load(ism, allow_pickle=False) if ism.is_file() else None,
        json.loads((path / "provenance.json").read_text()),
    )


@dataclass(frozen=True)
class MotifResult:
    """Sites with their attribution scores, and the per-TF KS enrichment of each score."""

    sites: pd.DataFrame  #: scan hits + genome coordinates + grad_x_input (+ ism_delta)
    enrichment: pd.DataFrame  #: :func:`.enrichment.ks_enrichment` rows, with a ``score`` column
    unreachable: pd.DataFrame  #: matrices that cannot reach ``p_value``


def motif_enrichment(
    attributions: Attributions,
    matrices: Sequence[Any],
    *,
    p_value: float = 1e-5,
    min_sites: int = 100,
    fdr: float = 1e-3,
    min_probability: float = 0.0,
) -> MotifResult:
    """The paper's motif analysis on an attribution folder's regions.

    Sites with exact ``p < p_value`` on both strands (:func:`.motifs.scan_motifs`) in the
    regions predicted at ``>= min_probability``; each site scored by the max gradient × input
    (and min ISM delta) over its bases; per TF with ``>= min_sites`` sites a KS test against
    non-overlapping sites of other TFs, Benjamini–Hochberg at ``fdr``
    (:func:`.enrichment.ks_enrichment`).
    """
    from .enrichment import ks_enrichment, site_scores
    from .motifs import prepare_motifs, scan_motifs

    a = attributions
    rows = np.flatnonzero(a.regions["probability"].to_numpy(np.float64) >= min_probability)
    if rows.size == 0:
        raise ValueError(f"no region is predicted at probability >= {min_probability}")
    scan = scan_motifs(a.codes[rows], prepare_motifs(matrices, p_value=p_value))
    sites = site_scores(scan.hits, a.grad_x_input[rows], reduce="max", name="grad_x_input")
    scores = {"grad_x_input": sites}
    if a.ism_delta is not None:
        sites = site_scores(sites, a.ism_delta[rows], reduce="min", name="ism_delta")
        scores["ism_delta"] = sites
    tables = [
        ks_enrichment(sites, score_col=col, min_sites=min_sites, fdr=fdr).assign(score=col)
        for col in scores
    ]
    reg = a.regions.iloc[rows[sites["region"].to_numpy()]]
    sites = sites.assign(
        region=rows[sites["region"].to_numpy()],
        chrom=reg["chrom"].to_numpy(),
        genome_start=reg["window_start"].to_numpy() + sites["start"].to_numpy(),
        genome_end=reg["window_start"].to_numpy() + sites["end"].to_numpy(),
    )
    return MotifResult(sites, pd.concat(tables, ignore_index=True), scan.unreachable)


def write_motif_report(out_dir: str | Path, result: MotifResult, prov: dict[str, Any]) -> Path:
    """``enrichment.tsv``, ``sites.tsv``, ``unreachable.tsv``, ``provenance.json`` (atomic)."""
    out_dir = Path(out_dir)
    check_output(out_dir, new_folder=True)
    tmp = _temp_for(out_dir)
    try:
        tmp.mkdir()
        for name, df in (("enrichment", result.enrichment), ("sites", result.sites),
                         ("unreachable", result.unreachable)):  # fmt: skip
            df.to_csv(tmp / f"{name}.tsv", sep="\t", index=False, float_format="%.6g")
        (tmp / "provenance.json").write_text(json.dumps(prov, indent=2, default=str))
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir

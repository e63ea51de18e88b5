"""A user's own data: predict any number of regions, attribute, motifs.

The same code paths as the book (:mod:`.tfdata` compiled prediction, :mod:`.attribution`,
:mod:`.motifs`, :mod:`.enrichment`), with inputs given as paths:

* :func:`predict_regions` — streams a BED of any size in chunks (read → recentre → extract →
  predict → append to a temporary TSV → atomic rename), so memory does not grow with it;
* :func:`attribute_regions` and :func:`motif_enrichment` — gradient × input (and ISM) of a
  model on regions, and KS enrichment of JASPAR sites' attributions.

Regions of any width are recentred on their midpoint to the model's input length ``L``
(``start = (start + end) // 2 - L // 2``). Windows that run off a chromosome end are padded
with ``N``; regions themselves must lie on the chromosome. Every output is written to a
temporary name and renamed when complete, and carries its provenance
(:func:`.owndata.provenance`): sha256 of the model, the genome and the region file, package
versions and the git SHA.
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
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from chromtransfer_lib.data.own import (
    _temp_for,
    check_fasta_index,
    check_output,
    header_lines,
    provenance,
)
from chromtransfer_lib.genome.regions import COLS, RegionError, read_bed, recentre, validate_regions
from chromtransfer_lib.genome.sequence import (
    N_CODE,
    chrom_sizes,
    extract_sequences,
    n_fraction,
    read_chromosome,
)

log = logging.getLogger(__name__)


# ------------------------------------------------------------------ inputs


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
    from chromtransfer_lib.data.pipeline import Predictor, predict_proba
    from chromtransfer_lib.models.network import load_model

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
    from chromtransfer_lib.data.pipeline import predict_proba
    from chromtransfer_lib.interpret.attribution import grad_x_input, in_silico_mutagenesis
    from chromtransfer_lib.models.network import load_model

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
    from chromtransfer_lib.interpret.enrichment import ks_enrichment, site_scores
    from chromtransfer_lib.interpret.scan import prepare_motifs, scan_motifs

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

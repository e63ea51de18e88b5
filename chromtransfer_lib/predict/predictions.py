"""Predict every region of a BED file of any size into a TSV with a provenance header.

The BED is streamed in chunks (:func:`chromtransfer_lib.genome.regions.read_bed` with
``chunk_size``), each chunk recentred and extracted (:func:`.windows.read_windows`), predicted
with :func:`chromtransfer_lib.data.pipeline.predict_proba` and appended to a temporary file that
is renamed when complete. The genome is decoded once per FASTA (not once per chunk) into its
memory-mapped code cache (:func:`chromtransfer_lib.genome.cache.ensure_genome_codes`), so an
unsorted BED costs what a sorted one does. See ARCHITECTURE.md for the layers.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from chromtransfer_lib.data.own import (
    _temp_for,
    check_fasta_index,
    check_output,
    header_lines,
    provenance,
)
from chromtransfer_lib.genome.cache import GenomeCacheError, GenomeCodes, ensure_genome_codes
from chromtransfer_lib.genome.regions import COLS, read_bed
from chromtransfer_lib.genome.sequence import chrom_sizes, n_fraction
from chromtransfer_lib.predict.windows import read_windows

log = logging.getLogger(__name__)


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
    genome_cache: bool = True,
    genome_cache_dir: str | Path | None = None,
    reverse_complement: bool = False,
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
        (``p_0, p_1, …`` for a softmax model); one row per BED line, in file order.
    seq_len
        If given, fail unless the model takes ``seq_len`` bp inputs.
    chunk_size, batch_size
        Regions held at a time (memory) and per model call.
    max_n_fraction
        Windows with more ``N`` than this get probability ``NA`` (counted and logged).
    hash_cache
        JSON file caching sha256 sums of big inputs by size and mtime.
    genome_cache
        Read the genome from its memory-mapped code cache, built once (one byte per base,
        ``<genome>.codes`` beside the FASTA, or in ``genome_cache_dir`` when that folder is
        read-only) and reused by later runs while the FASTA is unchanged. ``False`` decodes the
        chromosomes of every chunk from the FASTA (slow for unsorted BEDs on big genomes). If
        the cache cannot be written anywhere, a warning says so and the FASTA is decoded.
    genome_cache_dir
        Where the code cache goes when the FASTA's folder is read-only.
    reverse_complement
        Each probability is the mean over both strands of the window (the paper is silent on
        strands; recorded in the provenance header).
    progress
        Log the progress (and show a bar while the code cache is built).
    """
    t0, out = time.perf_counter(), Path(out)
    check_output(out)
    check_fasta_index(genome)
    sizes = chrom_sizes(genome)
    chunks = read_bed(regions_bed, chrom_sizes=sizes, on_duplicate="keep", chunk_size=chunk_size)
    chunks = itertools.chain([next(chunks)], chunks)  # errors in the first chunk: before TF
    from chromtransfer_lib.data.pipeline import Predictor
    from chromtransfer_lib.models.network import load_model

    net = load_model(model, expected_seq_len=seq_len)
    codes = _genome_codes(genome, genome_cache, cache_dir=genome_cache_dir, progress=progress)
    length = int(net.inputs[0].shape[1])
    prov = provenance(
        {"model": model, "genome": genome, "regions": regions_bed}, hash_cache=hash_cache,
        seq_len=f"{length} (each region recentred on its midpoint; N beyond chromosome ends)",
        max_n_fraction=max_n_fraction,
        strands="both, probabilities averaged" if reverse_complement else "forward",
    )  # fmt: skip
    predictor = Predictor(net, reverse_complement=reverse_complement)
    tables = _predict_chunks(predictor, chunks, genome=genome, sizes=sizes, codes=codes,
                             batch_size=batch_size, max_n_fraction=max_n_fraction)  # fmt: skip
    n, n_masked = _write_tsv(out, header_lines(prov, "chromtransfer predict"), tables,
                             t0=t0 if progress else None)  # fmt: skip
    if n_masked:
        log.warning("%d of %d regions have windows with more than %.0f%% N (assembly gaps or "
                    "beyond a chromosome end); their probability is NA",
                    n_masked, n, 100 * max_n_fraction)  # fmt: skip
    return PredictSummary(out, n, n_masked, length, time.perf_counter() - t0)


def _genome_codes(
    genome: str | Path, enabled: bool, *, cache_dir: str | Path | None, progress: bool
) -> GenomeCodes | bool:
    """The genome's code cache (found or built once), or ``False`` to decode the FASTA."""
    if not enabled:
        return False
    try:
        return ensure_genome_codes(genome, cache_dir=cache_dir, progress=progress)
    except GenomeCacheError as err:
        log.warning("%s Decoding the FASTA for every chunk instead (slower, same results).", err)
        return False


def _predict_chunks(
    predictor: object,
    chunks: Iterator[pd.DataFrame],
    *,
    genome: str | Path,
    sizes: Mapping[str, int],
    codes: GenomeCodes | bool,
    batch_size: int,
    max_n_fraction: float,
) -> Iterator[tuple[pd.DataFrame, int]]:
    """Each chunk with ``n_fraction`` and the probability column(s), and its count of NA rows."""
    from chromtransfer_lib.data.pipeline import predict_proba

    n_out = int(predictor.model.outputs[0].shape[-1])
    cols = ["probability"] if n_out == 1 else [f"p_{k}" for k in range(n_out)]
    for chunk in chunks:
        table, windows = read_windows(genome, chunk, seq_len=predictor.seq_len, sizes=sizes,
                                      cache=codes)  # fmt: skip
        frac = n_fraction(windows)
        p = predict_proba(predictor, windows, batch_size=batch_size).reshape(len(chunk), -1)
        masked = frac > max_n_fraction
        p[masked] = np.nan
        table = table[[*COLS, "name"]].assign(n_fraction=frac.round(4),
                                              **dict(zip(cols, p.T, strict=True)))  # fmt: skip
        yield table, int(masked.sum())


def _write_tsv(
    out: Path, header: str, tables: Iterator[tuple[pd.DataFrame, int]], *, t0: float | None
) -> tuple[int, int]:
    """``header``, then each table (column names once), into a temporary file renamed to
    ``out`` when complete; ``(rows, rows with NA probability)``. Logs progress if ``t0``."""
    tmp, n, n_masked = _temp_for(out), 0, 0
    try:
        with open(tmp, "w") as fh:
            fh.write(header)
            for table, masked in tables:
                table.to_csv(fh, sep="\t", index=False, header=n == 0, float_format="%.6g",
                             na_rep="NA", lineterminator="\n")  # fmt: skip
                n, n_masked = n + len(table), n_masked + masked
                if t0 is not None:
                    log.info("predicted %d regions (%.0f/s)", n, n / (time.perf_counter() - t0))
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return n, n_masked


def read_predictions(path: str | Path) -> pd.DataFrame:
    """A TSV written by :func:`predict_regions` (provenance lines skipped)."""
    return pd.read_csv(path, sep="\t", comment="#", keep_default_na=False, na_values=["NA"])

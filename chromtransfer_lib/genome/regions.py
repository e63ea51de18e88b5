"""Genomic regions: reading, validating, recentring, overlaps, N runs.

Contract: a region table is a :class:`pandas.DataFrame` with ``chrom, start, end`` (0-based,
half-open, bioframe conventions) plus ``name``/``label``/``y``/``split``/``fold`` columns as
needed. Every function returns a new table; inputs are never modified.
Interval overlaps go through :mod:`bioframe`. Genome tiles and train/test/fold splits are in
:mod:`chromtransfer_lib.genome.splits`. ARCHITECTURE.md, "genome".

:func:`read_bed` is the one BED reader of the package: BED (plain or gzip; ``track``/
``browser``/``#`` lines, a header row and CRLF line ends are accepted; columns 4–6 are kept as
``name``, ``score``, ``strand`` when present), and BED-like tables with other columns
(``columns=``, e.g. UCSC's ``gap.txt``), whole or streamed in chunks (``chunk_size=``). The
ChromTransfer label files (``chrN:start-end,LABEL``) are read by
:mod:`chromtransfer_lib.genome.labels`.
"""

from __future__ import annotations

import gzip
import io
import itertools
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import bioframe
import numpy as np
import pandas as pd

from chromtransfer_lib.errors import InputError
from chromtransfer_lib.genome.sequence import N_CODE, chrom_hint, chrom_sizes, read_chromosome
from chromtransfer_lib.progress import progress_bar

log = logging.getLogger(__name__)

COLS = ["chrom", "start", "end"]


class RegionError(InputError, ValueError):
    """A region file or table is malformed: the message names the file, line and value."""


def open_text(path: Path):
    """``path`` opened as text (gzip or plain; universal newlines, bad bytes replaced)."""
    if not path.is_file():
        raise RegionError(f"{path}: file does not exist")
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    opener = gzip.open if gz else open
    return opener(path, "rt", encoding="utf-8", errors="replace", newline=None)


def _data_lines(fh: Iterable[str], start_col: int) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` of each data row of a BED-like file, in file order.

    Skips blank, ``#``, ``track`` and ``browser`` lines and a header row (a first data line
    whose ``start_col`` field is not an integer).
    """
    first = True
    for no, raw in enumerate(fh, start=1):
        line = raw.rstrip("\r\n")
        if not line.strip() or line.startswith(("#", "track", "browser")):
            continue
        if first:
            first = False
            fields = line.split("\t") if "\t" in line else line.split()
            if (
                len(fields) >= max(3, start_col + 1)
                and not fields[start_col].strip().lstrip("-").isdigit()
            ):
                continue
        yield no, line


def _table(path: Path, rows: list[str], lines: np.ndarray, columns: Sequence[str] | None):
    """The rows as strings, named: the given ``columns`` (exactly that many per row), else
    ``chrom, start, end`` and, when every row has them, ``name, score, strand``."""
    n_cols = max(3, max(r.count("\t") for r in rows) + 1)
    width = len(columns) if columns is not None else min(n_cols, 6)
    df = pd.read_csv(
        io.StringIO("\n".join(rows)),
        sep="\t",
        header=None,
        names=range(max(n_cols, width)),
        dtype=str,
        usecols=range(width),
        keep_default_na=False,
        na_values=[""],
    )
    if columns is not None:
        counts = np.array([r.count("\t") + 1 for r in rows])
        bad = np.flatnonzero(counts != len(columns))
        if bad.size:
            i = int(bad[0])
            raise RegionError(
                f"{path}:{lines[i]}: expected the {len(columns)} columns {tuple(columns)}, "
                f"found {counts[i]}"
            )
        return df.set_axis(list(columns), axis=1)
    short = df[2].isna().to_numpy()
    if short.any():
        i = int(np.flatnonzero(short)[0])
        raise RegionError(f"{path}:{lines[i]}: expected at least 3 columns, got {rows[i]!r}")
    width = next((k for k in range(3, df.shape[1]) if df[k].isna().any()), df.shape[1])
    return df.iloc[:, :width].set_axis([*COLS, "name", "score", "strand"][:width], axis=1)


def _parse_rows(
    path: Path, pairs: list[tuple[int, str]], columns: Sequence[str] | None, **validate
) -> pd.DataFrame:
    """Data rows ``(line number, line)`` of a BED-like file → a validated region table."""
    lines = np.array([no for no, _ in pairs])
    rows = [line for _, line in pairs]
    if "\t" not in rows[0]:  # whitespace-separated
        rows = ["\t".join(r.split()) for r in rows]
    df = _table(path, rows, lines, columns)
    df["chrom"] = df["chrom"].str.strip()
    for col in ("start", "end"):
        num = pd.to_numeric(df[col].str.strip(), errors="coerce")
        bad = np.flatnonzero(num.isna().to_numpy() | (num % 1 != 0).to_numpy())
        if bad.size:
            i = int(bad[0])
            raise RegionError(f"{path}:{lines[i]}: {col} {df[col].iloc[i]!r} is not an integer")
        df[col] = num.astype(np.int64)
    return validate_regions(df, source=str(path), lines=lines, **validate)


def read_bed(
    path: str | Path,
    *,
    chrom_sizes: Mapping[str, int] | None = None,
    on_duplicate: str = "error",
    columns: Sequence[str] | None = None,
    chunk_size: int | None = None,
) -> pd.DataFrame | Iterator[pd.DataFrame]:
    """Read a BED file (plain or gzip) into a region table, or stream it in chunks.

    Parameters
    ----------
    path
        BED file; at least three tab- (or whitespace-) separated columns.
    chrom_sizes
        If given, chromosomes and end coordinates are checked against it.
    on_duplicate
        ``"error"`` (default), ``"drop"`` (keep the first copy, log the count) or ``"keep"``.
    columns
        Names of every column of a BED-like table whose columns are not BED's (e.g. UCSC's
        ``gap.txt``: ``bin, chrom, start, end, …``); must include ``chrom, start, end``, and
        every row must have exactly this many columns. Default: BED's.
    chunk_size
        If given, return an iterator of tables of at most ``chunk_size`` regions in file order
        (as :func:`pandas.read_csv` does with ``chunksize``); only one chunk is held at a
        time, and duplicates are looked for within a chunk.

    Returns
    -------
    pandas.DataFrame
        ``chrom, start, end`` (int64) and, when present, ``name``, ``score``, ``strand``; with
        ``columns``, those columns in that order (strings except ``start, end``).

    Raises
    ------
    RegionError
        Naming the file, line and value: too few (or, with ``columns``, not exactly that many)
        columns, non-integer coordinates, negative or zero-length intervals, unknown
        chromosomes, ends past a chromosome, duplicates, or a file without regions.
    """
    path = Path(path)
    if columns is not None and not set(COLS) <= set(columns):
        raise ValueError(f"columns {tuple(columns)} must include {tuple(COLS)}")
    start_col = list(columns).index("start") if columns else 1
    kw = {"chrom_sizes": chrom_sizes, "on_duplicate": on_duplicate}
    if chunk_size is not None:
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive number of regions, got {chunk_size}")
        return _bed_chunks(path, chunk_size, start_col, columns, kw)
    with open_text(path) as fh:
        pairs = list(_data_lines(fh, start_col))
    if not pairs:
        raise RegionError(f"{path}: the file contains no regions")
    return _parse_rows(path, pairs, columns, **kw)


def _bed_chunks(
    path: Path, chunk_size: int, start_col: int, columns: Sequence[str] | None, kw: dict
) -> Iterator[pd.DataFrame]:
    """:func:`read_bed` with ``chunk_size``: the file is read line by line."""
    with open_text(path) as fh:
        rows = _data_lines(fh, start_col)
        n_chunks = 0
        while chunk := list(itertools.islice(rows, chunk_size)):
            n_chunks += 1
            yield _parse_rows(path, chunk, columns, **kw)
    if n_chunks == 0:
        raise RegionError(f"{path}: the file contains no regions")


def validate_regions(
    regions: pd.DataFrame,
    *,
    chrom_sizes: Mapping[str, int] | None = None,
    source: str = "regions",
    lines: np.ndarray | None = None,
    on_duplicate: str = "error",
) -> pd.DataFrame:
    """Check a region table; return it with a fresh index (duplicates dropped if asked).

    ``lines`` (1-based line numbers, one per row) makes messages name the file line;
    otherwise they name the row.
    """
    where = (
        (lambda i: f"{source}:{lines[i]}") if lines is not None else (lambda i: f"{source} row {i}")
    )
    s = regions["start"].to_numpy()
    e = regions["end"].to_numpy()
    for mask, what in (
        (s < 0, "has a negative start"),
        (e < s, "has end < start (a negative interval)"),
        (e == s, "is zero-length (start == end)"),
    ):
        if mask.any():
            i = int(np.flatnonzero(mask)[0])
            raise RegionError(
                f"{where(i)}: region {regions['chrom'].iloc[i]}:{s[i]}-{e[i]} {what} "
                f"({int(mask.sum())} such regions)"
            )
    if chrom_sizes is not None:
        known = regions["chrom"].isin(list(chrom_sizes)).to_numpy()
        if not known.all():
            i = int(np.flatnonzero(~known)[0])
            c = str(regions["chrom"].iloc[i])
            raise RegionError(
                f"{where(i)}: unknown chromosome {c!r} ({int((~known).sum())} regions)."
                + chrom_hint(c, chrom_sizes)
            )
        size = regions["chrom"].map(chrom_sizes).to_numpy()
        past = e > size
        if past.any():
            i = int(np.flatnonzero(past)[0])
            raise RegionError(
                f"{where(i)}: end {e[i]} is past the end of {regions['chrom'].iloc[i]} "
                f"({size[i]} bp; {int(past.sum())} such regions); is it the right assembly?"
            )
    dup = regions.duplicated(subset=COLS).to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        msg = (
            f"{source}: {int(dup.sum())} duplicate regions, first at {where(i)}: "
            f"{regions['chrom'].iloc[i]}:{s[i]}-{e[i]}"
        )
        if on_duplicate == "drop":
            log.warning("%s; dropped (the first copy is kept)", msg)
            regions = regions[~dup]
        elif on_duplicate != "keep":
            raise RegionError(msg + "; remove them or pass on_duplicate='drop'")
    return regions.reset_index(drop=True)


def recentre(regions: pd.DataFrame, *, width: int) -> pd.DataFrame:
    """Regions of ``width`` bp centred on each region's midpoint ``(start + end) // 2``.

    The new start is ``mid - width // 2``; windows may fall off a chromosome, check with
    :func:`in_bounds`. Other columns are kept.
    """
    out = regions.copy()
    mid = (out["start"].to_numpy(np.int64) + out["end"].to_numpy(np.int64)) // 2
    out["start"] = mid - width // 2
    out["end"] = out["start"] + width
    return out


def in_bounds(regions: pd.DataFrame, chrom_sizes: Mapping[str, int]) -> np.ndarray:
    """Boolean mask ``(n,)``: the region lies within ``[0, size)`` of a known chromosome."""
    size = regions["chrom"].map(chrom_sizes).to_numpy(dtype=float)
    return (regions["start"].to_numpy() >= 0) & (regions["end"].to_numpy() <= size)


def mark_overlaps(regions: pd.DataFrame, other: pd.DataFrame, *, exact: bool = False) -> np.ndarray:
    """Boolean mask ``(n,)``: the region overlaps (or, if ``exact``, equals) one in ``other``."""
    if exact:
        key = pd.MultiIndex.from_frame(other[COLS].astype({"start": np.int64, "end": np.int64}))
        return pd.MultiIndex.from_frame(regions[COLS]).isin(key)
    hit = np.zeros(len(regions), dtype=bool)
    if len(regions) and len(other):
        pairs = bioframe.overlap(
            regions[COLS].reset_index(drop=True),
            other[COLS].reset_index(drop=True),
            how="inner",
            return_index=True,
            return_input=False,
        )
        hit[pairs["index"].to_numpy(dtype=np.int64)] = True
    return hit


def gaps_from_fasta(
    fasta: str | Path, *, min_length: int = 1, progress: bool = True
) -> pd.DataFrame:
    """Runs of ``N`` (incl. IUPAC letters) of at least ``min_length`` bp, as a region table."""
    parts = []
    for chrom in progress_bar(chrom_sizes(fasta), enabled=progress, desc="N runs", unit="chrom"):
        isn = np.concatenate([[0], (read_chromosome(fasta, chrom) == N_CODE).view(np.int8), [0]])
        edges = np.diff(isn)
        s, e = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        keep = e - s >= min_length
        parts.append(pd.DataFrame({"chrom": chrom, "start": s[keep], "end": e[keep]}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLS)

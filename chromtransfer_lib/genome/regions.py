"""Genomic regions: reading, validating, recentring, tiling and splitting.

Contract (design.md §3): a region table is a :class:`pandas.DataFrame` with ``chrom, start,
end`` (0-based, half-open, bioframe conventions) plus ``name``/``label``/``y``/``split``/
``fold`` columns as needed. Every function returns a new table; inputs are never modified.
Interval overlaps go through :mod:`bioframe`.

Two input formats are read:

* BED (plain or gzip; ``track``/``browser``/``#`` lines, a header row and CRLF line ends are
  accepted; columns 4–6 are kept as ``name``, ``score``, ``strand`` when present);
* the ChromTransfer label files: rows ``chrN:start-end,LABEL`` without a header, where LABEL
  is the file's cell line (positive), ``<CELL>_NEG`` or ``Negative``. Coordinates are taken
  exactly as written (bedtools style: 0-based start, exclusive end; 600 bp = end - start).
"""

from __future__ import annotations

import gzip
import io
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import bioframe
import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold
from tqdm.auto import tqdm

from chromtransfer_lib.config import AUTHOR_SPELLING, CELL_LINES, UNIVERSAL_NEGATIVE
from chromtransfer_lib.errors import InputError
from chromtransfer_lib.genome.sequence import N_CODE, chrom_hint, chrom_sizes, read_chromosome

log = logging.getLogger(__name__)

COLS = ["chrom", "start", "end"]
_LABEL_ROW = re.compile(r"^\s*([^:,\s]+):(\d+)-(\d+)\s*,\s*([^,\s]+)\s*$")


class RegionError(InputError, ValueError):
    """A region file or table is malformed: the message names the file, line and value."""


def _open_text(path: Path):
    """``path`` opened as text (gzip or plain; universal newlines, bad bytes replaced)."""
    if not path.is_file():
        raise RegionError(f"{path}: file does not exist")
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    opener = gzip.open if gz else open
    return opener(path, "rt", encoding="utf-8", errors="replace", newline=None)


def _read_lines(path: Path) -> list[str]:
    with _open_text(path) as fh:
        return fh.read().splitlines()


def read_bed(
    path: str | Path,
    *,
    chrom_sizes: Mapping[str, int] | None = None,
    on_duplicate: str = "error",
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
    chunk_size
        If given, return an iterator of tables of at most ``chunk_size`` regions in file order
        (as :func:`pandas.read_csv` does with ``chunksize``); only one chunk is held at a
        time, and duplicates are looked for within a chunk.

    Returns
    -------
    pandas.DataFrame
        ``chrom, start, end`` (int64) and, when present, ``name``, ``score``, ``strand``.

    Raises
    ------
    RegionError
        Naming the file, line and value: too few columns, non-integer coordinates, negative
        or zero-length intervals, unknown chromosomes, ends past a chromosome, duplicates,
        or a file without regions.
    """
    path = Path(path)
    kw = {"chrom_sizes": chrom_sizes, "on_duplicate": on_duplicate}
    if chunk_size is not None:
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive number of regions, got {chunk_size}")
        return _bed_chunks(path, chunk_size, kw)
    text = _read_lines(path)
    keep = [i for i, line in enumerate(text) if _is_data(line)]
    if keep and _is_header(text[keep[0]]):
        keep = keep[1:]
    if not keep:
        raise RegionError(f"{path}: the file contains no regions")
    return _parse_bed(path, [text[i] for i in keep], np.asarray(keep) + 1, **kw)


def _is_data(line: str) -> bool:
    return bool(line.strip()) and not line.startswith(("#", "track", "browser"))


def _is_header(line: str) -> bool:
    """A header row such as ``chrom start end`` (non-integer second column)."""
    first = line.split("\t") if "\t" in line else line.split()
    return len(first) >= 3 and not first[1].strip().lstrip("-").isdigit()


def _bed_chunks(path: Path, chunk_size: int, kw: dict) -> Iterator[pd.DataFrame]:
    """:func:`read_bed` with ``chunk_size``: the file is read line by line."""
    rows: list[str] = []
    lines: list[int] = []
    n_rows, seen_data = 0, False
    with _open_text(path) as fh:
        for no, raw in enumerate(fh, start=1):
            line = raw.rstrip("\n")
            if not _is_data(line) or (not seen_data and _is_header(line)):
                seen_data = seen_data or _is_data(line)
                continue
            seen_data = True
            rows.append(line)
            lines.append(no)
            if len(rows) == chunk_size:
                yield _parse_bed(path, rows, np.asarray(lines), **kw)
                n_rows, rows, lines = n_rows + len(rows), [], []
    if rows:
        yield _parse_bed(path, rows, np.asarray(lines), **kw)
    elif n_rows == 0:
        raise RegionError(f"{path}: the file contains no regions")


def _parse_bed(
    path: Path,
    text: list[str],
    lines: np.ndarray,
    *,
    chrom_sizes: Mapping[str, int] | None,
    on_duplicate: str,
) -> pd.DataFrame:
    """Data lines of a BED (``lines``: their 1-based numbers) → a validated region table."""
    if "\t" in text[0]:
        rows = text
    else:  # whitespace-separated
        rows = ["\t".join(line.split()) for line in text]
    n_cols = max(3, max(r.count("\t") for r in rows) + 1)
    df = pd.read_csv(
        io.StringIO("\n".join(rows)),
        sep="\t",
        header=None,
        names=range(n_cols),
        dtype=str,
        usecols=range(min(n_cols, 6)),
        keep_default_na=False,
        na_values=[""],
    )
    short = df[2].isna().to_numpy()
    if short.any():
        i = int(np.flatnonzero(short)[0])
        raise RegionError(f"{path}:{lines[i]}: expected at least 3 columns, got {text[i]!r}")
    width = next((k for k in range(3, df.shape[1]) if df[k].isna().any()), df.shape[1])
    df = df.iloc[:, :width].set_axis([*COLS, "name", "score", "strand"][:width], axis=1)
    df["chrom"] = df["chrom"].str.strip()
    for col in ("start", "end"):
        num = pd.to_numeric(df[col].str.strip(), errors="coerce")
        bad = np.flatnonzero(num.isna().to_numpy() | (num % 1 != 0).to_numpy())
        if bad.size:
            i = int(bad[0])
            raise RegionError(f"{path}:{lines[i]}: {col} {df[col].iloc[i]!r} is not an integer")
        df[col] = num.astype(np.int64)
    return validate_regions(
        df,
        chrom_sizes=chrom_sizes,
        source=str(path),
        lines=lines,
        on_duplicate=on_duplicate,
    )


def canonical_cell_line(name: str) -> str:
    """``HEPG2``/``hepg2``/``HepG2`` → ``HepG2``; unknown names are returned unchanged."""
    for line in CELL_LINES:
        if name.lower() in (line.lower(), AUTHOR_SPELLING[line].lower()):
            return line
    return name


def read_label_file(
    path: str | Path,
    *,
    cell_line: str | None = None,
    chrom_sizes: Mapping[str, int] | None = None,
    on_duplicate: str = "error",
) -> pd.DataFrame:
    """Read a ChromTransfer label file (rows ``chrN:start-end,LABEL``).

    Parameters
    ----------
    path
        The label file (plain or gzip).
    cell_line
        The file's own line (either spelling, e.g. ``HepG2`` or ``HEPG2``). Defaults to the
        file name's stem if that is one of the six lines, else to the one label that is neither
        ``*_NEG`` nor ``Negative`` (a user's own data).
    chrom_sizes, on_duplicate
        As in :func:`read_bed`.

    Returns
    -------
    pandas.DataFrame
        ``chrom, start, end, label, y``; ``y`` is 1 for the line's own label, else 0.

    Raises
    ------
    RegionError
        On malformed rows, labels other than ``LINE``, ``LINE_NEG``, ``Negative``, a file with
        only one class, and every error of :func:`validate_regions`.
    """
    path = Path(path)
    recs, lines = [], []
    for no, line in enumerate(_read_lines(path), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        m = _LABEL_ROW.match(line)
        if m is None:
            raise RegionError(
                f"{path}:{no}: expected a row like 'chr1:25278297-25278897,K562', got {line!r}"
            )
        recs.append(m.groups())
        lines.append(no)
    if not recs:
        raise RegionError(f"{path}: the file contains no regions")
    df = pd.DataFrame(recs, columns=[*COLS, "label"])
    df[["start", "end"]] = df[["start", "end"]].astype(np.int64)
    labels = set(df["label"].unique())
    if cell_line is None:
        stem = canonical_cell_line(path.name.split(".")[0])
        own_labels = sorted(x for x in labels if x != UNIVERSAL_NEGATIVE and not x.endswith("_NEG"))
        if stem in CELL_LINES:
            cell_line = stem
        elif len(own_labels) == 1:
            cell_line = own_labels[0]
        else:
            raise RegionError(
                f"{path}: cannot tell the file's cell line (positive labels {own_labels}); "
                "pass cell_line="
            )
    own = AUTHOR_SPELLING.get(canonical_cell_line(cell_line), cell_line)
    allowed = {own, f"{own}_NEG", UNIVERSAL_NEGATIVE}
    bad = np.flatnonzero(~df["label"].isin(allowed).to_numpy())
    if bad.size:
        i = int(bad[0])
        raise RegionError(
            f"{path}:{lines[i]}: label {df['label'].iloc[i]!r} is not one of "
            f"{sorted(allowed)} ({bad.size} such rows); is this the {cell_line} file?"
        )
    df["y"] = (df["label"] == own).astype(np.int8)
    n_pos = int(df["y"].sum())
    if n_pos in (0, len(df)):
        which = "positive" if n_pos == 0 else "negative"
        raise RegionError(
            f"{path}: the file has no {which} rows (labels found: {sorted(labels)}); "
            "a labels file needs both classes"
        )
    return validate_regions(
        df,
        chrom_sizes=chrom_sizes,
        source=str(path),
        lines=np.array(lines),
        on_duplicate=on_duplicate,
    )


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
    for chrom in tqdm(chrom_sizes(fasta), desc="N runs", unit="chrom", disable=not progress):
        isn = np.concatenate([[0], (read_chromosome(fasta, chrom) == N_CODE).view(np.int8), [0]])
        edges = np.diff(isn)
        s, e = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        keep = e - s >= min_length
        parts.append(pd.DataFrame({"chrom": chrom, "start": s[keep], "end": e[keep]}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLS)


class Tiling(NamedTuple):
    """Result of :func:`tile_genome`."""

    windows: pd.DataFrame  #: kept windows, ``chrom, start, end``
    n_total: int  #: full-width windows before exclusion
    dropped: dict[str, int]  #: windows overlapping each exclusion (a window may hit several)


def tile_genome(
    chrom_sizes: Mapping[str, int],
    *,
    width: int = 600,
    exclude: Mapping[str, pd.DataFrame] | None = None,
    positives: pd.DataFrame | None = None,
    flank: int = 300,
    chroms: Sequence[str] | None = None,
) -> Tiling:
    """Non-overlapping ``width`` bp windows from position 0, minus excluded ones.

    A window is dropped if it overlaps any interval of ``exclude`` (e.g. ``{"gap": gaps,
    "blacklist": blacklist}``) or lies less than ``flank`` bp from a positive (it overlaps the
    positive widened by ``flank`` on both sides). The last, shorter window of each chromosome
    is dropped (bedtools makewindows would keep it).

    Parameters
    ----------
    chrom_sizes
        Chromosome lengths in bp.
    chroms
        Chromosomes to tile (default: all of ``chrom_sizes``).
    """
    sizes = pd.Series({c: chrom_sizes[c] for c in (chroms or chrom_sizes)}, dtype=np.int64)
    win = bioframe.binnify(sizes, width)
    win = win[(win["end"] - win["start"]) == width].reset_index(drop=True)
    sets = dict(exclude or {})
    if positives is not None:
        sets[f"positive ± {flank} bp"] = bioframe.expand(positives[COLS], pad=flank)
    drop = np.zeros(len(win), dtype=bool)
    dropped = {}
    for reason, df in sets.items():
        hit = mark_overlaps(win, df)
        dropped[reason] = int(hit.sum())
        drop |= hit
    log.info("tiling: %d windows of %d bp, dropped %s", len(win), width, dropped)
    return Tiling(win[~drop].reset_index(drop=True), len(win), dropped)


def _assign_folds(counts: np.ndarray, n_folds: int, rng: np.random.Generator) -> np.ndarray:
    """Whole groups → folds so that every class is split as evenly as possible.

    ``counts`` is ``(n_groups, n_classes)``. Cost: sum over folds and classes of the squared
    relative deviation from ``total / n_folds``. 32 seeded random greedy starts, each refined by
    single moves and swaps; the cheapest wins.
    """
    target = np.maximum(counts.sum(0) / n_folds, 1e-9)

    def cost(a: np.ndarray) -> float:
        per = np.stack([counts[a == f].sum(0) for f in range(n_folds)])
        return float((((per - target) / target) ** 2).sum())

    best, best_cost = None, np.inf
    for _ in range(32):
        a = np.full(len(counts), -1)
        for g in rng.permutation(len(counts)):
            empty = [f for f in range(n_folds) if not (a == f).any()]
            options = empty if len(empty) >= (a == -1).sum() else range(n_folds)
            a[g] = min(options, key=lambda f, g=g: cost(np.where(np.arange(len(a)) == g, f, a)))
        improved = True
        while improved:
            improved, c0 = False, cost(a)
            for g in range(len(a)):
                for f in range(n_folds):
                    b = a.copy()
                    b[g] = f
                    if (b == a[g]).any() and cost(b) < c0 - 1e-12:
                        a, c0, improved = b, cost(b), True
                for h in range(g + 1, len(a)):
                    b = a.copy()
                    b[g], b[h] = a[h], a[g]
                    if cost(b) < c0 - 1e-12:
                        a, c0, improved = b, cost(b), True
        if c0 < best_cost:
            best, best_cost = a, c0
    return best


def split_by_chromosome(
    regions: pd.DataFrame,
    *,
    test_chroms: Sequence[str] = ("chr2", "chr3"),
    n_folds: int = 3,
    random_state: int = 0,
    stratify: str | None = "y",
    group: str = "auto",
) -> pd.DataFrame:
    """Add ``split`` (``"test"``/``"train"``) and ``fold`` (``-1`` for test) columns.

    Regions on ``test_chroms`` form the test set; the rest is cut into ``n_folds``
    cross-validation folds (fold ``k`` is the validation set of partition ``k``, the other
    folds its training set). With ``group="chromosome"`` whole chromosomes are
    assigned to folds, so no chromosome is in both a training and a validation set, balancing
    the count of every ``stratify`` class across folds (seeded search, see
    :func:`_assign_folds`). With ``group="region"`` regions are assigned individually
    (scikit-learn ``StratifiedKFold``), for genomes with fewer chromosomes than folds.
    ``group="auto"`` (default) means by chromosome when there are at least ``n_folds``
    training chromosomes, else by region (with a logged warning).
    """
    out = regions.copy()
    test = out["chrom"].isin(list(test_chroms)).to_numpy()
    if len(test_chroms) and not test.any():
        c = str(test_chroms[0])
        raise RegionError(
            f"none of the test chromosomes {list(test_chroms)} holds a region."
            + chrom_hint(c, out["chrom"].unique())
            + " Pass test_chroms=() for no test set."
        )
    out["split"] = np.where(test, "test", "train")
    fold = np.full(len(out), -1, dtype=np.int64)
    train = out[~test]
    y = train[stratify].to_numpy() if stratify else np.zeros(len(train), dtype=int)
    classes, y_idx = np.unique(y, return_inverse=True)
    if group == "auto":
        n_chroms = train["chrom"].nunique()
        group = "chromosome" if n_chroms >= n_folds else "region"
        if group == "region":
            log.warning(
                "only %d training chromosomes for %d folds: folds are drawn by region, so a "
                "chromosome can be in both training and validation sets",
                n_chroms,
                n_folds,
            )
    if group == "chromosome":
        chroms, c_idx = np.unique(train["chrom"].to_numpy(dtype=str), return_inverse=True)
        if len(chroms) < n_folds:
            raise RegionError(
                f"{len(chroms)} training chromosomes cannot form {n_folds} folds; "
                "use group='region' or fewer folds"
            )
        counts = np.zeros((len(chroms), len(classes)))
        np.add.at(counts, (c_idx, y_idx), 1)
        fold[~test] = _assign_folds(counts, n_folds, np.random.default_rng(random_state))[c_idx]
    elif group == "region":
        kf = StratifiedKFold if stratify else KFold
        splitter = kf(n_splits=n_folds, shuffle=True, random_state=random_state)
        sub = np.empty(len(train), dtype=np.int64)
        for k, (_, val) in enumerate(splitter.split(np.zeros(len(train)), y_idx)):
            sub[val] = k
        fold[~test] = sub
    else:
        raise ValueError(f"group must be 'auto', 'chromosome' or 'region', got {group!r}")
    out["fold"] = fold
    return out

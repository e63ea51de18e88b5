"""The ChromTransfer label files: one region and its label per row, as the authors ship them.

Rows are ``chrN:start-end,LABEL`` without a header, where LABEL is the file's cell line
(positive; ``HEPG2`` in the authors' spelling), ``<CELL>_NEG`` or ``Negative``. Coordinates are
taken exactly as written (bedtools style: 0-based start, exclusive end; 600 bp = end - start).
The table returned is a region table (:mod:`chromtransfer_lib.genome.regions`), validated by
:func:`~chromtransfer_lib.genome.regions.validate_regions`. ARCHITECTURE.md, "genome".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from chromtransfer_lib.config import AUTHOR_SPELLING, CELL_LINES, UNIVERSAL_NEGATIVE
from chromtransfer_lib.genome.regions import COLS, RegionError, open_text, validate_regions

_LABEL_ROW = re.compile(r"^\s*([^:,\s]+):(\d+)-(\d+)\s*,\s*([^,\s]+)\s*$")


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
        As in :func:`chromtransfer_lib.genome.regions.read_bed`.

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
    df, lines = _label_rows(path)
    line = cell_line if cell_line is not None else _file_cell_line(path, df)
    own = AUTHOR_SPELLING.get(canonical_cell_line(line), line)
    allowed = {own, f"{own}_NEG", UNIVERSAL_NEGATIVE}
    bad = np.flatnonzero(~df["label"].isin(allowed).to_numpy())
    if bad.size:
        i = int(bad[0])
        raise RegionError(
            f"{path}:{lines[i]}: label {df['label'].iloc[i]!r} is not one of "
            f"{sorted(allowed)} ({bad.size} such rows); is this the {line} file?"
        )
    df["y"] = (df["label"] == own).astype(np.int8)
    n_pos = int(df["y"].sum())
    if n_pos in (0, len(df)):
        which = "positive" if n_pos == 0 else "negative"
        raise RegionError(
            f"{path}: the file has no {which} rows (labels found: "
            f"{sorted(set(df['label']))}); a labels file needs both classes"
        )
    return validate_regions(
        df, chrom_sizes=chrom_sizes, source=str(path), lines=lines, on_duplicate=on_duplicate
    )


def _label_rows(path: Path) -> tuple[pd.DataFrame, np.ndarray]:
    """``chrom, start, end, label`` of every row and the rows' 1-based line numbers."""
    recs, lines = [], []
    with open_text(path) as fh:
        for no, raw in enumerate(fh, start=1):
            line = raw.rstrip("\n")
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
    return df, np.array(lines)


def _file_cell_line(path: Path, df: pd.DataFrame) -> str:
    """The file's line when none is given: its name's stem if that is one of the six lines,
    else its one label that is neither ``*_NEG`` nor ``Negative``."""
    stem = canonical_cell_line(path.name.split(".")[0])
    if stem in CELL_LINES:
        return stem
    labels = set(df["label"].unique())
    own = sorted(x for x in labels if x != UNIVERSAL_NEGATIVE and not x.endswith("_NEG"))
    if len(own) == 1:
        return own[0]
    raise RegionError(
        f"{path}: cannot tell the file's cell line (positive labels {own}); pass cell_line="
    )

"""Model-length windows of a user's regions: recentred, read from the FASTA, ``N``-padded.

See ARCHITECTURE.md for the layers.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from chromtransfer_lib.genome.cache import GenomeCodes
from chromtransfer_lib.genome.regions import COLS, recentre
from chromtransfer_lib.genome.sequence import N_CODE, extract_sequences, read_chromosome


def extract_windows(
    genome: str | Path,
    windows: pd.DataFrame,
    *,
    seq_len: int,
    sizes: Mapping[str, int],
    cache: bool | GenomeCodes = True,
) -> np.ndarray:
    """Codes ``(n, seq_len)`` of windows, ``N`` where a window runs off its chromosome.

    Windows are shifted inside their chromosome, extracted chromosome by chromosome with
    :func:`chromtransfer_lib.genome.sequence.extract_sequences` (``cache`` as there: the
    genome's code cache if one exists, ``False`` to decode the FASTA, or a
    :class:`~chromtransfer_lib.genome.cache.GenomeCodes`), and shifted back with ``N`` filling
    the overhang.
    """
    n, length = len(windows), int(seq_len)
    starts = windows["start"].to_numpy(np.int64)
    size = windows["chrom"].map(sizes).to_numpy(np.int64)
    codes = np.full((n, length), N_CODE, dtype=np.uint8)
    fits = np.flatnonzero(size >= length)
    shifted = np.clip(starts[fits], 0, size[fits] - length)
    sub = windows.iloc[fits][["chrom"]].assign(start=shifted, end=shifted + length)
    got = extract_sequences(genome, sub, length=length, progress=False, cache=cache)
    d = starts[fits] - shifted  # < 0 before the chromosome start, > 0 past its end
    codes[fits[d == 0]] = got[d == 0]
    moved = np.flatnonzero(d != 0)
    if moved.size:
        src = np.arange(length)[None, :] + d[moved, None]
        ok = (src >= 0) & (src < length)
        vals = np.take_along_axis(got[moved], np.clip(src, 0, length - 1), axis=1)
        codes[fits[moved]] = np.where(ok, vals, N_CODE)
    for i in np.flatnonzero(size < length):  # chromosomes shorter than a window
        chrom = windows["chrom"].iloc[i]
        if isinstance(cache, GenomeCodes):
            chrom_codes = cache.chromosome(chrom)
        else:
            chrom_codes = read_chromosome(genome, chrom)
        pos = starts[i] + np.arange(length)
        ok = (pos >= 0) & (pos < size[i])
        codes[i, ok] = chrom_codes[pos[ok]]
    return codes


def read_windows(
    genome: str | Path,
    regions: pd.DataFrame,
    *,
    seq_len: int,
    sizes: Mapping[str, int],
    cache: bool | GenomeCodes = True,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Regions as ``chrom, start, end, name`` (``"."`` if unnamed), their recentred windows'
    ``window_start``/``window_end`` and the windows' codes ``(n, seq_len)`` (``cache`` as in
    :func:`extract_windows`)."""
    table = regions.assign(name=regions["name"] if "name" in regions else ".")[[*COLS, "name"]]
    win = recentre(table, width=seq_len)
    codes = extract_windows(genome, win, seq_len=seq_len, sizes=sizes, cache=cache)
    return table.assign(window_start=win["start"], window_end=win["end"]), codes

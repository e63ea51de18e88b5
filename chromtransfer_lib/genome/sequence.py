"""DNA sequences as integer codes and one-hot arrays — the one place that defines them.

Also reads them from FASTA (plain or bgzip, via pyfaidx): :func:`extract_sequences` loads each
chromosome once — from the genome's memory-mapped code cache (:mod:`.cache`) when there is one,
else decoded with :func:`read_chromosome` — and slices all its regions with NumPy.

Contract (ARCHITECTURE.md, "genome"):

* codes: ``uint8`` array of shape ``(n, L)`` with ``A=0, C=1, G=2, T=3, N=4``. Lowercase
  (soft-masked) letters are upper-cased; IUPAC ambiguity letters (R, Y, S, W, K, M, B, D, H, V)
  and ``N`` become ``N``. Anything else is an error naming the letter.
* one-hot: ``float32`` array of shape ``(n, L, 4)`` in A, C, G, T order; ``N`` is an all-zero row.

Store codes (1 byte per base), never one-hot for a whole set; one-hot on the fly with
:func:`one_hot` (NumPy) or :func:`one_hot_tensor` (inside a ``tf.data`` pipeline or a model).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyfaidx
from numpy.lib.stride_tricks import sliding_window_view

from chromtransfer_lib.errors import InputError
from chromtransfer_lib.progress import progress_bar

if TYPE_CHECKING:
    from chromtransfer_lib.genome.cache import GenomeCodes

ALPHABET = "ACGT"
N_CODE = 4

#: Letters accepted in input sequences besides ACGT: they all become N.
AMBIGUOUS_LETTERS = "NRYSWKMBDHV"

_LUT = np.full(256, 255, dtype=np.uint8)
for _i, _b in enumerate(ALPHABET):
    _LUT[ord(_b)] = _i
    _LUT[ord(_b.lower())] = _i
for _b in AMBIGUOUS_LETTERS:
    _LUT[ord(_b)] = N_CODE
    _LUT[ord(_b.lower())] = N_CODE

_DECODE = np.frombuffer(b"ACGTN", dtype=np.uint8)
_COMPLEMENT = np.array([3, 2, 1, 0, 4], dtype=np.uint8)
_EYE = np.vstack([np.eye(4, dtype=np.float32), np.zeros((1, 4), dtype=np.float32)])


class SequenceError(InputError, ValueError):
    """A sequence holds a letter that is not a nucleotide or IUPAC code."""


def encode_bytes(raw: bytes | bytearray | np.ndarray, *, where: str = "sequence") -> np.ndarray:
    """Encode raw ASCII bytes (one sequence or a whole chromosome) to codes.

    Parameters
    ----------
    raw
        ASCII letters, e.g. a chromosome read from a FASTA file.
    where
        Named in the error message (e.g. ``"genome.fa:chr1"``).

    Returns
    -------
    numpy.ndarray
        ``uint8`` codes of shape ``(len(raw),)``.
    """
    arr = np.frombuffer(raw, dtype=np.uint8) if not isinstance(raw, np.ndarray) else raw
    codes = _LUT[arr]
    bad = np.flatnonzero(codes == 255)
    if bad.size:
        pos = int(bad[0])
        letter = chr(int(arr[pos]))
        raise SequenceError(
            f"{where}: invalid letter {letter!r} at position {pos} "
            f"({bad.size} invalid letters in all); expected A, C, G, T or IUPAC codes"
        )
    return codes


def encode_sequences(seqs: list[str] | tuple[str, ...], *, length: int | None = None) -> np.ndarray:
    """Encode equal-length strings to a ``(n, L)`` code matrix.

    Parameters
    ----------
    seqs
        DNA strings; case is ignored.
    length
        Expected length ``L``; defaults to the length of the first sequence.

    Raises
    ------
    SequenceError
        On an invalid letter or a sequence of the wrong length (index named).
    """
    if length is None:
        length = len(seqs[0]) if seqs else 0
    out = np.empty((len(seqs), length), dtype=np.uint8)
    for i, s in enumerate(seqs):
        if len(s) != length:
            raise SequenceError(f"sequence {i} has length {len(s)}, expected {length}")
        out[i] = encode_bytes(s.encode("ascii", errors="replace"), where=f"sequence {i}")
    return out


def decode_sequences(codes: np.ndarray) -> list[str]:
    """Codes ``(n, L)`` (or ``(L,)``) back to upper-case strings."""
    codes = np.asarray(codes, dtype=np.uint8)
    if codes.ndim == 1:
        return [_DECODE[codes].tobytes().decode()]
    return [_DECODE[row].tobytes().decode() for row in codes]


def one_hot(codes: np.ndarray) -> np.ndarray:
    """Codes ``(..., L)`` → float32 one-hot ``(..., L, 4)``; ``N`` rows are all zero."""
    return _EYE[np.asarray(codes, dtype=np.uint8)]


def codes_from_one_hot(x: np.ndarray) -> np.ndarray:
    """Inverse of :func:`one_hot`: all-zero rows become ``N``."""
    x = np.asarray(x)
    codes = np.argmax(x, axis=-1).astype(np.uint8)
    codes[x.sum(axis=-1) == 0] = N_CODE
    return codes


def reverse_complement(codes: np.ndarray) -> np.ndarray:
    """Reverse complement of codes ``(..., L)`` (``N`` stays ``N``)."""
    return _COMPLEMENT[np.asarray(codes, dtype=np.uint8)][..., ::-1]


def n_fraction(codes: np.ndarray) -> np.ndarray:
    """Fraction of ``N`` per sequence, shape ``(n,)``."""
    return (np.asarray(codes) == N_CODE).mean(axis=-1)


def gc_fraction(codes: np.ndarray) -> np.ndarray:
    """GC fraction per sequence among non-N bases, shape ``(n,)`` (NaN if all N)."""
    codes = np.asarray(codes)
    gc = ((codes == 1) | (codes == 2)).sum(axis=-1)
    acgt = (codes < N_CODE).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(acgt > 0, gc / np.maximum(acgt, 1), np.nan)


def one_hot_tensor(codes):  # TensorFlow types: not annotated
    """TensorFlow version of :func:`one_hot` for ``tf.data`` maps and models.

    ``tf.one_hot`` with depth 4 maps code 4 (``N``) to an all-zero row, as the contract says.
    """
    import tensorflow as tf

    return tf.one_hot(tf.cast(codes, tf.int32), depth=4, dtype=tf.float32)


# --------------------------------------------------------------------------------------------
# FASTA access: a chromosome's codes are loaded once, all its regions are sliced with NumPy.
# --------------------------------------------------------------------------------------------


class FastaError(InputError, ValueError):
    """A FASTA file cannot be read, or a region does not fit its chromosomes."""


def chrom_hint(chrom: str, known: Iterable[str]) -> str:
    """A hint for a chromosome name missing from ``known`` (``chr1`` vs ``1``, case)."""
    known = list(known)
    alt = chrom[3:] if chrom.lower().startswith("chr") else f"chr{chrom}"
    if alt in known:
        return (
            f" The file uses {alt!r}: the chromosome naming differs ('chr1' vs '1'); "
            "rename the chromosomes in one of the files so they agree."
        )
    lower = {k.lower(): k for k in known}
    if chrom.lower() in lower:
        return f" Did you mean {lower[chrom.lower()]!r}? (names are case-sensitive)"
    shown = ", ".join(known[:8]) + (" …" if len(known) > 8 else "")
    return f" Known chromosomes: {shown}."


def open_fasta(path: str | Path) -> pyfaidx.Faidx:
    """Open a plain or bgzip-compressed FASTA with pyfaidx, building its ``.fai`` if missing.

    Raises
    ------
    FastaError
        If the file is missing, is gzip- but not bgzip-compressed, or has lines of unequal
        length inside a record (the message says how to fix it).
    """
    path = Path(path)
    if not path.is_file():
        raise FastaError(f"FASTA file {path} does not exist")
    try:
        return pyfaidx.Faidx(str(path), sequence_always_upper=False)
    except pyfaidx.UnsupportedCompressionFormat as err:
        raise FastaError(
            f"{path}: gzip-compressed FASTA must be bgzip-compressed to be indexed; run "
            f"`gunzip -c {path.name} | bgzip > {path.stem}.bgz.fa.gz` (bgzip is in htslib)"
        ) from err
    except pyfaidx.FastaIndexingError as err:
        raise FastaError(f"{path}: cannot index the FASTA: {err}") from err


def chrom_sizes(fasta: str | Path) -> dict[str, int]:
    """Chromosome lengths in bp, in FASTA order, from the ``.fai`` index."""
    fa = open_fasta(fasta)
    try:
        return {name: int(rec.rlen) for name, rec in fa.index.items()}
    finally:
        fa.close()


def _read_codes(fa: pyfaidx.Faidx, chrom: str) -> np.ndarray:
    rec = fa.index[chrom]
    where = f"{fa.filename}:{chrom}"
    if fa._bgzf:  # pyfaidx reads the bgzip blocks; we strip line ends and encode
        seq = fa.from_file(chrom, 1, rec.rlen) if rec.rlen else ""
        raw = np.frombuffer(seq.encode("ascii", errors="replace"), dtype=np.uint8)
        return encode_bytes(raw, where=where)
    out = np.empty(rec.rlen, dtype=np.uint8)
    if rec.rlen == 0:
        return out
    need = rec.bend - rec.offset
    avail = os.path.getsize(fa.filename) - rec.offset
    raw = np.memmap(fa.filename, dtype=np.uint8, mode="r", offset=rec.offset,
                    shape=(min(need, avail),))  # fmt: skip
    if raw.size < need:  # the file ends without a line end after its last bases
        raw = np.concatenate([raw, np.full(need - raw.size, ord("\n"), dtype=np.uint8)])
    n_full = rec.rlen // rec.lenc
    body = raw[: n_full * rec.lenb].reshape(n_full, rec.lenb)[:, : rec.lenc]
    lines = out[: n_full * rec.lenc].reshape(n_full, rec.lenc)
    for i in range(0, n_full, _LINES):  # in blocks: np.take casts its indices to intp (8x)
        np.take(_LUT, body[i : i + _LINES], out=lines[i : i + _LINES])
    tail = rec.rlen - n_full * rec.lenc
    np.take(_LUT, raw[n_full * rec.lenb : n_full * rec.lenb + tail], out=out[n_full * rec.lenc :])
    del raw
    bad = np.flatnonzero(out == 255)
    if bad.size:
        pos = int(bad[0])
        raise SequenceError(
            f"{where}: invalid letter at position {pos} ({bad.size} invalid letters in all); "
            "expected A, C, G, T or IUPAC codes"
        )
    return out


#: FASTA lines decoded per block by :func:`_read_codes` (~4 Mbp: bounded temporary memory).
_LINES = 1 << 16


def read_chromosome(fasta: str | Path, chrom: str) -> np.ndarray:
    """A whole chromosome as ``uint8`` codes of shape ``(length,)``.

    Plain FASTA is memory-mapped and decoded with one vectorised lookup; bgzip FASTA is read
    through pyfaidx. Lowercase becomes upper case, IUPAC letters become ``N`` (see module doc).
    """
    fa = open_fasta(fasta)
    try:
        if chrom not in fa.index:
            raise FastaError(f"{fasta}: no chromosome {chrom!r}." + chrom_hint(chrom, fa.index))
        return _read_codes(fa, chrom)
    finally:
        fa.close()


def extract_sequences(
    fasta: str | Path,
    regions: pd.DataFrame,
    *,
    length: int | None = None,
    out: np.ndarray | None = None,
    progress: bool = True,
    cache: bool | GenomeCodes = True,
) -> np.ndarray:
    """Codes of equal-length regions, chromosome by chromosome (plus strand).

    Each chromosome is read once — from the genome's code cache (:mod:`.cache`) when there is
    one, else decoded from the FASTA (:func:`read_chromosome`) — and all its regions are sliced
    with one NumPy gather; rows keep the order of ``regions``.

    Parameters
    ----------
    fasta
        Plain or bgzip-compressed FASTA (a ``.fai`` is built beside it if missing).
    regions
        DataFrame with ``chrom, start, end`` (0-based, half-open); all of length ``L``.
    length
        Expected ``L``; defaults to the length of the first region.
    out
        Optional ``uint8`` array of shape ``(n, L)`` to fill, e.g. a memory-mapped ``.npy``
        from :func:`numpy.lib.format.open_memmap`; it is returned.
    progress
        Show a progress bar over chromosomes (:mod:`chromtransfer_lib.progress`).
    cache
        ``True``: read the memory-mapped code cache beside the FASTA if a valid one exists
        (:func:`.cache.find_genome_codes`; never builds one), else decode the FASTA. ``False``:
        always decode the FASTA. A :class:`.cache.GenomeCodes` (from
        :func:`.cache.ensure_genome_codes`, e.g. built once for many calls): read that one.
        The codes are the same either way.

    Returns
    -------
    numpy.ndarray
        ``uint8`` codes of shape ``(n, L)``.

    Raises
    ------
    FastaError
        On an unknown chromosome (with a naming hint), a region past a chromosome's end or
        before 0, or regions of different lengths (the first offending row is named).
    """
    n = len(regions)
    starts = regions["start"].to_numpy(dtype=np.int64)
    lengths = regions["end"].to_numpy(dtype=np.int64) - starts
    if length is None:
        length = int(lengths[0]) if n else 0
    wrong = np.flatnonzero(lengths != length)
    if wrong.size:
        i = int(wrong[0])
        raise FastaError(
            f"region {i} ({_fmt(regions, i)}) is {lengths[i]} bp, expected {length}; "
            f"{wrong.size} regions differ — recentre them to one width first"
        )
    if out is None:
        out = np.empty((n, length), dtype=np.uint8)
    elif out.shape != (n, length) or out.dtype != np.uint8:
        raise ValueError(f"out has shape {out.shape} {out.dtype}, expected ({n}, {length}) uint8")
    if n == 0:
        return out
    from chromtransfer_lib.genome.cache import chromosome_reader  # it imports this module

    genome = chromosome_reader(fasta, cache)
    try:
        chrom_codes, chrom_names = pd.factorize(regions["chrom"], sort=False)
        missing = [c for c in chrom_names if c not in genome.sizes]
        if missing:
            raise FastaError(
                f"{fasta}: {len(missing)} chromosome(s) of the regions are not in the FASTA, "
                f"e.g. {missing[0]!r}." + chrom_hint(str(missing[0]), genome.sizes)
            )
        order = np.argsort(chrom_codes, kind="stable")
        bounds = np.searchsorted(chrom_codes[order], np.arange(len(chrom_names) + 1))
        bar = progress_bar(chrom_names, enabled=progress, desc="extract", unit="chrom")
        for k, chrom in enumerate(bar):
            idx = order[bounds[k] : bounds[k + 1]]
            size = genome.sizes[chrom]
            s = starts[idx]
            bad = np.flatnonzero((s < 0) | (s + length > size))
            if bad.size:
                i = int(idx[bad[0]])
                raise FastaError(
                    f"region {i} ({_fmt(regions, i)}) lies outside {chrom} (0–{size} bp in "
                    f"{fasta}); {bad.size} regions on {chrom} do"
                )
            windows = sliding_window_view(genome.read(chrom), length)
            for j in range(0, idx.size, _CHUNK):
                out[idx[j : j + _CHUNK]] = windows[s[j : j + _CHUNK]]
            del windows
    finally:
        genome.close()
    return out


_CHUNK = 1 << 17


def _fmt(regions: pd.DataFrame, i: int) -> str:
    row = regions.iloc[i]
    return f"{row['chrom']}:{row['start']}-{row['end']}"

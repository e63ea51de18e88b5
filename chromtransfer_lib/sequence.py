"""DNA sequences as integer codes and one-hot arrays — the one place that defines them.

Contract (design.md §3):

* codes: ``uint8`` array of shape ``(n, L)`` with ``A=0, C=1, G=2, T=3, N=4``. Lowercase
  (soft-masked) letters are upper-cased; IUPAC ambiguity letters (R, Y, S, W, K, M, B, D, H, V)
  and ``N`` become ``N``. Anything else is an error naming the letter.
* one-hot: ``float32`` array of shape ``(n, L, 4)`` in A, C, G, T order; ``N`` is an all-zero row.

Store codes (1 byte per base), never one-hot for a whole set; one-hot on the fly with
:func:`one_hot` (NumPy) or :func:`one_hot_tensor` (inside a ``tf.data`` pipeline or a model).
"""

from __future__ import annotations

import numpy as np

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


class SequenceError(ValueError):
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


def one_hot_tensor(codes):  # noqa: ANN001, ANN201 - TensorFlow types
    """TensorFlow version of :func:`one_hot` for ``tf.data`` maps and models.

    ``tf.one_hot`` with depth 4 maps code 4 (``N``) to an all-zero row, as the contract says.
    """
    import tensorflow as tf

    return tf.one_hot(tf.cast(codes, tf.int32), depth=4, dtype=tf.float32)

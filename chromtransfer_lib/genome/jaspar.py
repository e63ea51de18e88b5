"""JASPAR matrices, offline: the one loader every module uses (simulation, motif scanning).

``pyjaspar`` ships the JASPAR releases as a local SQLite file, so no network is needed.
JASPAR 2022 CORE vertebrates holds 841 matrices (ARCHITECTURE.md, "genome").

Names are not unique and not all upper case (``Spi1``, ``Nrf1`` and ``Yy1`` are mouse
matrices; ``CTCF`` has three matrices, ``HNF4A`` two). :func:`resolve_motifs` therefore
accepts a matrix ID (``MA0139.1``), a base ID (``MA0139``: the matrix's version in this release)
or a name matched case-insensitively; when a name has several matrices it picks, in order, the
one whose name matches with the same case, then the lowest base ID (the oldest, usually the
canonical profile, e.g. CTCF → MA0139.1). Give the matrix ID to choose another one.
"""

from __future__ import annotations

import difflib
import functools
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from chromtransfer_lib.errors import InputError

logger = logging.getLogger(__name__)

_BASES = "ACGT"


class UnknownMotifError(InputError, KeyError):
    """A requested motif name or matrix ID is not in the loaded JASPAR collection."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


@dataclass(frozen=True, eq=False)
class JasparMatrix:
    """One JASPAR position frequency matrix.

    Attributes
    ----------
    matrix_id
        Versioned JASPAR ID, e.g. ``"MA0139.1"``.
    name
        TF name as JASPAR spells it, e.g. ``"CTCF"``, ``"Spi1"``, ``"GATA1::TAL1"``.
    counts
        Read-only float64 array of shape ``(4, w)``: counts (or frequencies) in A, C, G, T order.
    """

    matrix_id: str
    name: str
    counts: np.ndarray

    @property
    def base_id(self) -> str:
        """The ID without its version, e.g. ``"MA0139"``."""
        return self.matrix_id.split(".")[0]

    @property
    def width(self) -> int:
        """Number of positions ``w``."""
        return int(self.counts.shape[1])

    def probabilities(self, *, pseudocount: float = 0.0) -> np.ndarray:
        """Column probabilities, shape ``(4, w)``, each column summing to 1.

        Parameters
        ----------
        pseudocount
            Added to every count before normalising (0 keeps JASPAR's zeros).
        """
        c = self.counts + pseudocount
        return c / c.sum(axis=0, keepdims=True)

    @property
    def consensus(self) -> str:
        """Most frequent base per column (ties go to A, C, G, T order)."""
        return "".join(_BASES[i] for i in self.counts.argmax(axis=0))


def _as_matrix(motif: object) -> JasparMatrix:
    counts = np.array([motif.counts[b] for b in _BASES], dtype=np.float64)
    counts.setflags(write=False)
    return JasparMatrix(matrix_id=str(motif.matrix_id), name=str(motif.name), counts=counts)


@functools.lru_cache(maxsize=8)
def _load_cached(
    release: str, collection: str, tax_group: tuple[str, ...]
) -> tuple[JasparMatrix, ...]:
    from pyjaspar import jaspardb  # imported lazily: it opens a SQLite file

    db = jaspardb(release=release)
    motifs = db.fetch_motifs(collection=collection, tax_group=list(tax_group))
    if not motifs:
        raise UnknownMotifError(
            f"pyjaspar returned no matrices for release={release!r}, "
            f"collection={collection!r}, tax_group={list(tax_group)!r}; check the spelling "
            "(e.g. release='JASPAR2022', collection='CORE', tax_group='vertebrates')"
        )
    matrices = tuple(sorted((_as_matrix(m) for m in motifs), key=lambda m: m.matrix_id))
    logger.debug("loaded %d %s %s matrices", len(matrices), release, collection)
    return matrices


def load_jaspar(
    release: str = "JASPAR2022",
    collection: str = "CORE",
    tax_group: str | Sequence[str] = "vertebrates",
) -> tuple[JasparMatrix, ...]:
    """All matrices of a JASPAR release/collection/taxonomic group, sorted by matrix ID.

    Read from ``pyjaspar``'s bundled database (offline) and cached per argument set.

    Parameters
    ----------
    release
        e.g. ``"JASPAR2022"`` (841 CORE vertebrate matrices).
    collection
        JASPAR collection, e.g. ``"CORE"``.
    tax_group
        One taxonomic group or several, e.g. ``"vertebrates"``.

    Returns
    -------
    tuple of JasparMatrix
        Immutable (the cache hands the same objects to every caller).
    """
    groups = (tax_group,) if isinstance(tax_group, str) else tuple(tax_group)
    return _load_cached(release, collection, groups)


def _pick(candidates: list[JasparMatrix], query: str) -> JasparMatrix:
    same_case = [m for m in candidates if m.name == query]
    pool = same_case or candidates
    chosen = min(
        pool, key=lambda m: (int(m.base_id[2:]) if m.base_id[2:].isdigit() else 0, m.matrix_id)
    )
    if len(candidates) > 1:
        logger.info(
            "motif name %r matches %s; using %s (give a matrix ID to choose another)",
            query,
            ", ".join(m.matrix_id for m in candidates),
            chosen.matrix_id,
        )
    return chosen


def resolve_motifs(
    names: Iterable[str], matrices: Sequence[JasparMatrix]
) -> tuple[JasparMatrix, ...]:
    """Look up motifs by matrix ID, base ID or case-insensitive name.

    Parameters
    ----------
    names
        Matrix IDs (``"MA0139.1"``), base IDs (``"MA0139"``) or TF names (``"spi1"``).
    matrices
        The collection to search, e.g. ``load_jaspar()``.

    Returns
    -------
    tuple of JasparMatrix
        One matrix per requested name, in the order given.

    Raises
    ------
    UnknownMotifError
        Naming every name that matches nothing, with close matches from the collection.
    """
    by_id = {m.matrix_id.upper(): m for m in matrices}
    by_base: dict[str, list[JasparMatrix]] = {}
    by_name: dict[str, list[JasparMatrix]] = {}
    for m in matrices:
        by_base.setdefault(m.base_id.upper(), []).append(m)
        by_name.setdefault(m.name.upper(), []).append(m)
    resolved: list[JasparMatrix] = []
    unknown: list[str] = []
    for name in names:
        key = str(name).strip().upper()
        if key in by_id:
            resolved.append(by_id[key])
        elif key in by_base:
            # the highest version of this base ID present in the collection
            resolved.append(max(by_base[key], key=lambda m: int(m.matrix_id.split(".")[1])))
        elif key in by_name:
            resolved.append(_pick(by_name[key], str(name).strip()))
        else:
            unknown.append(str(name))
    if unknown:
        vocabulary = sorted({m.name for m in matrices})
        upper = {v.upper(): v for v in vocabulary}
        hints = []
        for u in unknown:
            close = difflib.get_close_matches(u.upper(), list(upper), n=4, cutoff=0.6)
            hint = ", ".join(upper[c] for c in close) or "no close name"
            hints.append(f"{u!r} (close: {hint})")
        raise UnknownMotifError(
            f"{len(unknown)} motif name(s) not found among {len(matrices)} JASPAR matrices: "
            + "; ".join(hints)
            + ". Use a JASPAR name (any case) or a matrix ID such as 'MA0139.1'."
        )
    return tuple(resolved)

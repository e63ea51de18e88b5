"""A genome decoded once: every chromosome's codes in one flat, memory-mapped ``uint8`` file.

Prediction streams a BED in chunks; without this cache each chunk decodes every chromosome it
touches (:func:`.sequence.read_chromosome`), so an unsorted BED over a 3 Gb genome decodes the
genome once per chunk. :func:`ensure_genome_codes` decodes it once, with the same code
(:mod:`.sequence`, so a bad letter raises the same :class:`.sequence.SequenceError` naming
``file:chrom`` and the position), into

* ``<fasta>.codes``: one byte per base, the codes of :mod:`.sequence` (``A=0 … N=4``), the
  chromosomes one after another in FASTA order; read with :func:`numpy.memmap`, so pages come
  from the operating system's page cache and memory stays flat;
* ``<fasta>.codes.json``: the format and its version, each chromosome's offset and length, and
  the FASTA's size, mtime and sha256 plus the code file's sha256.

Both are written beside the FASTA when its folder is writable, else in ``cache_dir`` (the CLI
passes ``$CHROMTRANSFER_DATA/genome-codes``) under a name keyed by the FASTA's absolute path;
both through :func:`chromtransfer_lib.fileio.atomic_path`, so a killed build leaves nothing
half-written. A cache is valid while the FASTA's size and mtime are those recorded; when only
the mtime differs (a ``touch``, a copy without ``-p``) the FASTA's sha256 decides, and a match
keeps the cache.

Why hand-written: pyfaidx, pysam and pyfastx decode a FASTA per call, and the 2bit readers
(``py2bit``, ``twobitreader``) return a string per call, so none of them removes the per-chunk
decoding. GenVarLoader does keep a flat memory-mapped copy of a FASTA, but of its letters (not
these codes), written by a private method of a variant-loading package with a large native
stack. Written here, with NumPy alone, the cache adds no dependency and keeps the codes
contract in :mod:`.sequence`, where it is defined. See ARCHITECTURE.md for the layers.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chromtransfer_lib import fileio
from chromtransfer_lib.errors import InputError
from chromtransfer_lib.genome.sequence import FastaError, _read_codes, open_fasta
from chromtransfer_lib.progress import progress_bar

log = logging.getLogger(__name__)

FORMAT = "chromtransfer-genome-codes"
FORMAT_VERSION = 1
SUFFIX = ".codes"


class GenomeCacheError(InputError, OSError):
    """A genome code cache cannot be written: neither beside the FASTA nor in ``cache_dir``."""


@dataclass(frozen=True)
class GenomeCodes:
    """A valid genome code cache (see the module doc); its file is mapped on :meth:`open`."""

    fasta: Path  #: the FASTA it was decoded from (absolute)
    path: Path  #: the flat code file
    offsets: Mapping[str, int]  #: chromosome → first byte in :attr:`path`, in FASTA order
    sizes: Mapping[str, int]  #: chromosome → length in bp, in FASTA order

    @property
    def n_bases(self) -> int:
        """Bases in all chromosomes (the code file's size in bytes)."""
        return sum(self.sizes.values())

    def open(self) -> np.ndarray:
        """The whole genome's codes, read-only ``uint8`` of shape ``(n_bases,)``.

        A memory map: nothing is read until sliced, and pages come from the OS page cache. The
        map is released when the array and every view of it are deleted.
        """
        if self.n_bases == 0:
            return np.zeros(0, dtype=np.uint8)
        return np.memmap(self.path, dtype=np.uint8, mode="r", shape=(self.n_bases,))

    def chromosome(self, chrom: str, *, genome: np.ndarray | None = None) -> np.ndarray:
        """Read-only codes of one chromosome, shape ``(length,)``: a view of ``genome`` (an
        :meth:`open` array, reused across calls) or of a fresh map."""
        flat = self.open() if genome is None else genome
        start = self.offsets[chrom]
        return flat[start : start + self.sizes[chrom]]


def cache_locations(fasta: str | Path, *, cache_dir: str | Path | None = None) -> list[Path]:
    """Where the code file of ``fasta`` may live, in the order they are tried: beside the
    FASTA (``<fasta>.codes``), then in ``cache_dir`` if given (name keyed by the FASTA's
    absolute path, so two genomes called ``genome.fa`` do not collide)."""
    fasta = Path(fasta).absolute()
    out = [fasta.with_name(fasta.name + SUFFIX)]
    if cache_dir is not None:
        key = fileio.cache_key(str(fasta), length=12)
        out.append(Path(cache_dir).absolute() / f"{fasta.name}.{key}{SUFFIX}")
    return out


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def find_genome_codes(
    fasta: str | Path, *, cache_dir: str | Path | None = None, verify: bool = False
) -> GenomeCodes | None:
    """The valid code cache of ``fasta`` (see :func:`cache_locations`), or ``None``.

    Parameters
    ----------
    fasta
        The FASTA the cache was built from.
    cache_dir
        Also look here (where :func:`build_genome_codes` writes when the FASTA's folder is
        read-only).
    verify
        Also re-hash the code file against its recorded sha256 (seconds per Gb).
    """
    fasta = Path(fasta).absolute()
    for path in cache_locations(fasta, cache_dir=cache_dir):
        found = _load(path, fasta, verify=verify)
        if found is not None:
            return found
    return None


def _load(path: Path, fasta: Path, *, verify: bool) -> GenomeCodes | None:
    """The cache at ``path`` if its sidecar matches ``fasta`` and its size (and, with
    ``verify``, its sha256); a stale mtime alone is forgiven when the FASTA's sha256 matches."""
    try:
        meta = json.loads(_sidecar(path).read_text())
        stat, code_size = fasta.stat(), path.stat().st_size
    except (OSError, ValueError):
        return None
    if meta.get("format") != FORMAT or meta.get("version") != FORMAT_VERSION:
        return None
    chroms = meta.get("chroms", [])
    if stat.st_size != meta.get("fasta_size") or code_size != sum(c[2] for c in chroms):
        return None
    if stat.st_mtime_ns != meta.get("fasta_mtime_ns"):
        if fileio.sha256_file(fasta) != meta.get("fasta_sha256"):
            with contextlib.suppress(OSError):  # stale: later look-ups need not hash again
                _sidecar(path).unlink()
            return None
        log.info("%s: mtime changed, content did not (sha256); keeping its code cache", fasta)
        with contextlib.suppress(OSError):  # if read-only, the sha256 is checked again next time
            fileio.write_json_atomic(_sidecar(path), {**meta, "fasta_mtime_ns": stat.st_mtime_ns})
    if verify and fileio.sha256_file(path) != meta.get("codes_sha256"):
        log.warning("%s does not match its recorded sha256; it will be rebuilt", path)
        return None
    return GenomeCodes(
        fasta=fasta,
        path=path,
        offsets={name: int(offset) for name, offset, _ in chroms},
        sizes={name: int(length) for name, _, length in chroms},
    )


def build_genome_codes(
    fasta: str | Path, *, cache_dir: str | Path | None = None, progress: bool = False
) -> GenomeCodes:
    """Decode every chromosome of ``fasta`` once into a new code cache and return it.

    Written beside the FASTA if its folder is writable, else in ``cache_dir``; a previous
    cache at that place is replaced. Memory holds one chromosome's codes at a time.

    Raises
    ------
    GenomeCacheError
        If neither place can be written (the message says what to do).
    chromtransfer_lib.genome.sequence.SequenceError
        On a letter that is not a nucleotide or IUPAC code (file, chromosome and position).
    """
    fasta = Path(fasta).absolute()
    path = _writable_location(fasta, cache_dir=cache_dir)
    stat, t0 = fasta.stat(), time.perf_counter()
    fa = open_fasta(fasta)
    try:
        sizes = {name: int(rec.rlen) for name, rec in fa.index.items()}
        mbp = sum(sizes.values()) / 1e6
        log.info("decoding %s once into %s (%d chromosomes, %.1f Mbp; reused while the FASTA "
                 "is unchanged)", fasta.name, path, len(sizes), mbp)  # fmt: skip
        _sidecar(path).unlink(missing_ok=True)  # never pair an old sidecar with new codes
        digest, offsets, offset = hashlib.sha256(), {}, 0
        with fileio.atomic_path(path) as tmp, open(tmp, "wb") as fh:
            for chrom in progress_bar(sizes, enabled=progress, desc="genome codes", unit="chrom"):
                codes = _read_codes(fa, chrom)
                fh.write(codes.data)
                digest.update(codes.data)
                offsets[chrom], offset = offset, offset + codes.size
                del codes
    finally:
        fa.close()
    meta: dict[str, Any] = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "codes": "uint8, one byte per base: A=0 C=1 G=2 T=3 N=4 (IUPAC letters → N)",
        "fasta": str(fasta),
        "fasta_size": stat.st_size,
        "fasta_mtime_ns": stat.st_mtime_ns,
        "fasta_sha256": fileio.sha256_file(fasta),
        "codes_sha256": digest.hexdigest(),
        "chroms": [[name, offsets[name], sizes[name]] for name in sizes],
    }
    fileio.write_json_atomic(_sidecar(path), meta)
    log.info("genome code cache %s: %.1f Mbp in %.1f s", path, offset / 1e6,
             time.perf_counter() - t0)  # fmt: skip
    return GenomeCodes(fasta=fasta, path=path, offsets=offsets, sizes=sizes)


def ensure_genome_codes(
    fasta: str | Path, *, cache_dir: str | Path | None = None, progress: bool = False
) -> GenomeCodes:
    """The code cache of ``fasta``: a valid one if found, else built once
    (:func:`find_genome_codes`, then :func:`build_genome_codes`)."""
    found = find_genome_codes(fasta, cache_dir=cache_dir)
    if found is not None:
        log.debug("using the genome code cache %s", found.path)
        return found
    return build_genome_codes(fasta, cache_dir=cache_dir, progress=progress)


def _writable(folder: Path) -> bool:
    """``folder`` exists (created if need be) and this process may write in it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK)


def _writable_location(fasta: Path, *, cache_dir: str | Path | None) -> Path:
    if not fasta.is_file():
        open_fasta(fasta)  # raises FastaError naming the missing file
    for path in cache_locations(fasta, cache_dir=cache_dir):
        if _writable(path.parent):
            return path
    also = f"so is the cache folder {cache_dir}" if cache_dir else "no cache folder was given"
    raise GenomeCacheError(
        f"cannot write the genome code cache of {fasta}: its folder {fasta.parent} is read-only "
        f"and {also}. Pass a writable cache folder (the CLI uses $CHROMTRANSFER_DATA), or link "
        "the FASTA into a writable folder (`ln -s` it) and pass that path."
    )


class ChromosomeReader:
    """Sizes and codes of a genome's chromosomes for one batch of reads: from a code cache
    (one memory map, released by :meth:`close`) or decoded from the FASTA (one pyfaidx
    handle). :func:`chromtransfer_lib.genome.sequence.extract_sequences` reads through it."""

    def __init__(self, fasta: str | Path, codes: GenomeCodes | None):
        self.codes, self._fa, self._flat = codes, None, None
        if codes is None:
            self._fa = open_fasta(fasta)
            self.sizes = {name: int(rec.rlen) for name, rec in self._fa.index.items()}
        else:
            self.sizes = dict(codes.sizes)
            self._flat = codes.open()

    def read(self, chrom: str) -> np.ndarray:
        """Codes of ``chrom``, shape ``(length,)`` (read-only when from the cache)."""
        if self.codes is None:
            return _read_codes(self._fa, chrom)
        return self.codes.chromosome(chrom, genome=self._flat)

    def close(self) -> None:
        """Close the FASTA, or drop the map (unmapped once the caller's views are gone)."""
        if self._fa is not None:
            self._fa.close()
        self._flat = None


def chromosome_reader(fasta: str | Path, cache: bool | GenomeCodes) -> ChromosomeReader:
    """A :class:`ChromosomeReader` of ``fasta``: ``cache=True`` uses the valid cache beside the
    FASTA if there is one (never builds), ``False`` decodes, a :class:`GenomeCodes` is used
    (after checking that it belongs to ``fasta``)."""
    if not Path(fasta).is_file():
        raise FastaError(f"FASTA file {fasta} does not exist")
    if cache is True:
        return ChromosomeReader(fasta, find_genome_codes(fasta))
    if cache is False:
        return ChromosomeReader(fasta, None)
    if not os.path.samefile(cache.fasta, fasta):
        raise ValueError(f"the genome code cache {cache.path} is of {cache.fasta}, not {fasta}")
    return ChromosomeReader(fasta, cache)

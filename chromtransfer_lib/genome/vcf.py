"""VCF records for variant scoring: read with cyvcf2 in chunks, numbered by record and line, and
the alleles that cannot be scored counted by reason.

cyvcf2 (htslib) reads plain and bgzip-compressed VCFs; what this module adds is the bookkeeping
a person needs to find a bad row: record numbers turned into file line numbers (counted from the
``#`` lines of the file itself, since htslib's header adds lines of its own), and a counter that
logs the first few skipped alleles of each reason, counts the rest, or raises with ``strict``.
Used by :mod:`chromtransfer_lib.predict.variants`. See ARCHITECTURE.md for the layers.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from chromtransfer_lib.errors import InputError
from chromtransfer_lib.genome.regions import open_text

log = logging.getLogger(__name__)

#: Why an allele is not scored (see :mod:`chromtransfer_lib.predict.variants`).
SKIP_REASONS = ("not_in_genome", "ref_mismatch", "symbolic", "too_long", "too_many_n")
_LOGGED = 5  #: skipped alleles logged one by one per reason; the rest are only counted


class VariantError(InputError, ValueError):
    """A VCF cannot be read, or (with ``strict``) an allele cannot be scored."""


def header_line_count(vcf: Path) -> int:
    """Lines before the first record (``#`` lines), to turn record numbers into line numbers."""
    if not vcf.is_file():
        raise VariantError(f"VCF file {vcf} does not exist")
    n = 0
    with open_text(vcf) as fh:
        for line in fh:
            if not line.startswith("#"):
                break
            n += 1
    return n


def record_chunks(vcf: Path, *, chunk_size: int, header_n: int) -> Iterator[list[tuple]]:
    """Lists of ``(record number, CHROM, POS, ID, REF, [ALT, ...])``, opened now (errors here)."""
    from cyvcf2 import VCF

    try:
        reader = VCF(str(vcf), lazy=True)
    except OSError as err:
        raise VariantError(f"{vcf}: not a readable VCF (plain or bgzip-compressed): {err}") from err

    def chunks() -> Iterator[list[tuple]]:
        no, chunk, records = 0, [], iter(reader)
        try:
            while True:
                try:
                    v = next(records)
                except StopIteration:
                    break
                except Exception as err:  # htslib reports a malformed line as a bare Exception
                    raise VariantError(
                        f"{vcf}: record {no + 1} (line {header_n + no + 1}) cannot be parsed "
                        f"({err}); a VCF line needs 8 tab-separated fields and an integer POS"
                    ) from err
                no += 1
                chunk.append((no, v.CHROM, int(v.POS), v.ID or ".", v.REF, list(v.ALT)))
                if len(chunk) >= chunk_size:
                    yield chunk
                    chunk = []
            if chunk:
                yield chunk
        finally:
            reader.close()

    return chunks()


class SkipCounter:
    """Counts skipped alleles by reason; logs the first few; with ``strict`` raises."""

    def __init__(self, vcf: Path, header_n: int, *, strict: bool):
        self.vcf, self.header_n, self.strict = vcf, header_n, strict
        self.counts = dict.fromkeys(SKIP_REASONS, 0)

    def add(self, reason: str, rec: tuple, what: str, *, n: int = 1) -> None:
        no, chrom, pos = rec[:3]
        msg = f"{self.vcf}: record {no} (line {self.header_n + no}) {chrom}:{pos}: {what}"
        if self.strict:
            raise VariantError(f"{msg} [{reason}; strict: the first allele that cannot be "
                               "scored is an error, else it is skipped and counted]")  # fmt: skip
        if self.counts[reason] < _LOGGED:
            log.warning("skipped (%s): %s", reason, msg)
        self.counts[reason] += n

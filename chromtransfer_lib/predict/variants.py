"""Variant effects: how each VCF allele changes a model's prediction, its motif sites, a null.

:func:`score_variants` streams a VCF (plain or bgzip, read with cyvcf2) in chunks of records,
splits multi-allelic rows into one allele each, and writes a TSV with a provenance header like
``predict``'s (temporary name, renamed when complete).

**Windows** (``L`` = the model's input length; ``POS`` 1-based, ``p = POS - 1``; ``r``, ``a``
the lengths of REF and ALT, alleles as written, anchor base included):

* ref window: the genome's ``[p + r // 2 - L // 2, + L)``, i.e. the REF allele's span
  ``[p, p + r)`` recentred as ``predict`` recentres a region (an SNV sits at index ``L // 2``);
* alt window: the ALT haplotype (REF replaced by ALT) recentred the same way on the ALT allele:
  the ``L // 2 - a // 2`` genome bases before ``p``, then ALT, then the ``L - (L // 2 - a // 2)
  - a`` genome bases after the REF allele. A deletion therefore pulls flanking bases in on both
  sides, an insertion pushes them out, symmetrically, and both windows keep length ``L``.

Bases beyond a chromosome end are ``N``. A variant's length is ``max(r, a) - 1`` (the inserted
or deleted bases of an indel with its one anchor base; 0 for an SNV).

**Skipped alleles** (counted by reason, per would-be output row, in the log and
:attr:`VariantSummary.skipped`; with ``strict`` the first one raises :class:`VariantError`):
``not_in_genome`` (CHROM absent from the FASTA), ``ref_mismatch`` (REF differs from the genome,
or runs off it; the message names the file, record, line, ``chrom:pos``, expected and found),
``symbolic`` (``<DEL>``-style, breakends, ``*``, a missing ALT ``.``, anything but
A/C/G/T/N), ``too_long`` (length > ``max_indel_length``), ``too_many_n`` (ref or alt window with
an ``N`` fraction above ``max_n_fraction``).

**Scores.** The logit is the output neuron's pre-activation, predicted through the package's one
compiled prediction (:func:`chromtransfer_lib.data.pipeline.predict_proba`) of
:func:`chromtransfer_lib.interpret.attribution.target_model` ``(target="logit")``, rather than
``log(p / (1 - p))`` of a float32 probability: that saturates to ``p = 1`` beyond a logit of
about 17 and would need clipping, which sets every effect between saturated windows to 0. The
probability is ``sigmoid(logit)`` and the log2 fold change ``(log p_alt - log p_ref) / log 2``,
both from the logit in float64. With ``reverse_complement`` the probability is the mean of both
strands', as ``predict --reverse-complement``; the logit is that mean's, computed exactly:
``log(σ(z₊) + σ(z₋)) - log(σ(-z₊) + σ(-z₋))``.

**Motif sites**: the matrices' sites with exact ``p < motif_p_value``, both strands
(:func:`chromtransfer_lib.interpret.scan.scan_motifs`), that overlap the allele in its window;
a matrix is ``created`` if it has such a site in the alt window and none in the ref window,
``destroyed`` vice versa. Listed by TF name, ``;``-separated, ``.`` when none.

**Null**: per allele, ``n_shuffles`` dinucleotide shuffles (:mod:`chromtransfer_lib.genome.
shuffle`) of the genome stretch both windows are cut from (the ref window plus ``max(r, a) -
1`` bp each side), REF put back at the variant, both windows built as above; ``p_value = (1 +
#{null |Δlogit| >= observed}) / (1 + n_shuffles)``. Each allele's shuffles are seeded by
``(random_state, record number, ALT index)``: they do not depend on chunk or batch sizes.
See ARCHITECTURE.md for the layers.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from chromtransfer_lib.data.own import (
    _temp_for,
    check_fasta_index,
    check_output,
    header_lines,
    provenance,
)
from chromtransfer_lib.genome.cache import chromosome_reader
from chromtransfer_lib.genome.sequence import (
    N_CODE,
    chrom_hint,
    decode_sequences,
    encode_bytes,
    n_fraction,
    reverse_complement,
)
from chromtransfer_lib.genome.shuffle import dinucleotide_shuffle
from chromtransfer_lib.genome.vcf import (
    SkipCounter,
    VariantError,
    header_line_count,
    record_chunks,
)
from chromtransfer_lib.predict.predictions import _genome_codes
from chromtransfer_lib.progress import progress_bar

log = logging.getLogger(__name__)

#: Columns of the output TSV, one row per scored allele, in VCF order.
COLUMNS = ["chrom", "pos", "id", "ref", "alt", "ref_prob", "alt_prob", "delta_logit",
           "log2_fold_change", "sites_created", "sites_destroyed", "p_value"]  # fmt: skip
_SEQ = re.compile(r"[ACGTNacgtn]+")


@dataclass(frozen=True)
class VariantSummary:
    """What :func:`score_variants` wrote."""

    out: Path
    n_records: int  #: VCF data lines read
    n_scored: int  #: alleles scored (output rows)
    skipped: dict[str, int]  #: alleles skipped, by reason (every one of :data:`SKIP_REASONS`)
    seq_len: int
    seconds: float

    @property
    def n_skipped(self) -> int:
        """Alleles skipped in all."""
        return sum(self.skipped.values())


@dataclass(frozen=True)
class _Setup:
    predictor: Any
    seq_len: int
    batch_size: int
    reverse_complement: bool
    motif_set: Any
    max_allele: int
    n_shuffles: int
    random_state: int
    max_n_fraction: float


def score_variants(
    model: str | Path,
    *,
    genome: str | Path,
    vcf: str | Path,
    out: str | Path,
    seq_len: int | None = None,
    max_indel_length: int = 20,
    max_n_fraction: float = 0.5,
    reverse_complement: bool = False,
    motifs: Sequence[Any] | None = None,
    motif_p_value: float = 1e-5,
    motif_source: str | None = None,
    n_shuffles: int = 100,
    random_state: int = 0,
    strict: bool = False,
    chunk_size: int = 10_000,
    batch_size: int = 512,
    hash_cache: Path | None = None,
    genome_cache: bool = True,
    genome_cache_dir: str | Path | None = None,
    progress: bool = False,
) -> VariantSummary:
    """Score every allele of a VCF with a model; write a TSV with a provenance header.

    Parameters
    ----------
    model
        A ``.keras`` model of this library with one sigmoid output.
    genome, vcf
        FASTA (plain or bgzip) and VCF (plain or bgzip) of the same assembly.
    out
        Output TSV (its folder must exist): ``#`` provenance lines, then :data:`COLUMNS`, then
        one ``#`` line of counts (records read, alleles scored, alleles skipped by reason):
        they are known only once the stream has ended.
    seq_len
        If given, fail unless the model takes ``seq_len`` bp inputs.
    max_indel_length
        Longest variant scored, ``max(len(REF), len(ALT)) - 1`` bp (must be ``< L``).
    max_n_fraction
        Alleles whose ref or alt window has more ``N`` than this are skipped.
    reverse_complement
        Average each window's probability over both strands (as ``predict``).
    motifs
        Count matrices (``matrix_id``, ``name``, ``counts (4, w)``, e.g.
        :func:`chromtransfer_lib.genome.jaspar.load_jaspar`) whose sites are compared; ``None``
        writes ``NA`` in ``sites_created`` and ``sites_destroyed``.
    motif_p_value
        Sites are windows with exact ``p < motif_p_value`` (the book: ``interpret.p_value``).
    motif_source
        Where ``motifs`` come from (e.g. ``"JASPAR2022 CORE vertebrates"``; provenance only).
    n_shuffles, random_state
        Dinucleotide shuffles per allele for ``p_value`` (0: no null, ``p_value`` is ``NA``),
        and their seed.
    strict
        Raise :class:`VariantError` at the first allele that would be skipped.
    chunk_size, batch_size
        VCF records held at a time (memory) and windows per model call.
    hash_cache, genome_cache, genome_cache_dir, progress
        As in :func:`chromtransfer_lib.predict.predict_regions`.

    Returns
    -------
    VariantSummary
        Records read, alleles scored, alleles skipped by reason, ``L`` and the run time.
    """
    t0, out, vcf = time.perf_counter(), Path(out), Path(vcf)
    check_output(out)
    check_fasta_index(genome)
    if max_indel_length < 0 or n_shuffles < 0:
        raise ValueError("max_indel_length and n_shuffles must be >= 0")
    header_n = header_line_count(vcf)
    chunks = record_chunks(vcf, chunk_size=chunk_size, header_n=header_n)
    from chromtransfer_lib.data.pipeline import Predictor
    from chromtransfer_lib.interpret.attribution import target_model
    from chromtransfer_lib.interpret.scan import prepare_motifs
    from chromtransfer_lib.models.network import load_model

    net = load_model(model, expected_seq_len=seq_len)
    length = int(net.inputs[0].shape[1])
    if max_indel_length + 1 > length:
        raise VariantError(f"max_indel_length {max_indel_length} is too long for the model's "
                           f"{length} bp windows: give at most {length - 1}")  # fmt: skip
    setup = _Setup(
        Predictor(target_model(net, target="logit")), length, batch_size, reverse_complement,
        prepare_motifs(motifs, p_value=motif_p_value) if motifs else None,
        max_indel_length + 1, n_shuffles, random_state, max_n_fraction,
    )  # fmt: skip
    prov = provenance(
        {"model": model, "genome": genome, "vcf": vcf}, hash_cache=hash_cache,
        seq_len=f"{length} (ref: the REF allele recentred; alt: the ALT haplotype recentred on "
                "ALT; N beyond chromosome ends)",
        max_indel_length=max_indel_length, max_n_fraction=max_n_fraction,
        strands="both, probabilities averaged" if reverse_complement else "forward",
        motifs=f"{motif_source or 'given'}: {len(motifs)} matrices, sites with p < "
               f"{motif_p_value:g}" if motifs else "none",
        null=f"{n_shuffles} dinucleotide shuffles per allele, random_state={random_state}"
             if n_shuffles else "none",
    )  # fmt: skip
    codes = _genome_codes(genome, genome_cache, cache_dir=genome_cache_dir, progress=progress)
    skips = SkipCounter(vcf, header_n, strict=strict)
    reader = chromosome_reader(genome, codes)
    chromosome = functools.lru_cache(maxsize=1)(reader.read)  # a sorted VCF reads each once
    counts = {"records": 0, "scored": 0}
    bar = progress_bar(total=None, enabled=progress, desc="variants", unit="record")

    def tables() -> Iterator[pd.DataFrame]:
        for chunk in chunks:
            table = _score_chunk(chunk, setup, chromosome, reader.sizes, skips)
            counts["records"] += len(chunk)
            counts["scored"] += len(table)
            bar.update(len(chunk))
            if progress:
                rate = counts["records"] / (time.perf_counter() - t0)
                log.info("scored %d alleles of %d records (%.0f records/s)", counts["scored"],
                         counts["records"], rate)  # fmt: skip
            yield table

    def footer() -> str:
        skipped = ", ".join(f"{k}={v}" for k, v in skips.counts.items())
        return (f"# counts: {counts['records']} records read, {counts['scored']} alleles scored, "
                f"{sum(skips.counts.values())} alleles skipped ({skipped})\n")  # fmt: skip

    try:
        _write_tsv(out, header_lines(prov, "chromtransfer variants"), tables(), footer)
    finally:
        bar.close()
        reader.close()
    if sum(skips.counts.values()):
        log.warning("skipped %d alleles: %s", sum(skips.counts.values()),
                    ", ".join(f"{k}={v}" for k, v in skips.counts.items() if v))  # fmt: skip
    return VariantSummary(out, counts["records"], counts["scored"], dict(skips.counts), length,
                          time.perf_counter() - t0)  # fmt: skip


# ------------------------------------------------------------------ reading the VCF


# ------------------------------------------------------------------ windows and scores


def _allele_windows(
    context: np.ndarray, *, ref_len: int, alt: np.ndarray, seq_len: int
) -> tuple[np.ndarray, np.ndarray]:
    """Ref and alt windows ``(m, L)`` from contexts ``(m, L + 2 pad)`` that start ``pad`` bp
    before the ref window (the module doc's construction; the caller picks ``pad``)."""
    pad, half, a = (context.shape[1] - seq_len) // 2, seq_len // 2, len(alt)
    v = pad + half - ref_len // 2  # first REF base
    left = half - a // 2
    right = seq_len - left - a
    alt_w = np.concatenate([context[:, v - left : v], np.broadcast_to(alt, (len(context), a)),
                            context[:, v + ref_len : v + ref_len + right]], axis=1)  # fmt: skip
    return context[:, pad : pad + seq_len], alt_w


def _context(codes: np.ndarray, start: int, length: int) -> np.ndarray:
    """``codes[start : start + length]``, ``N`` where it runs off the chromosome."""
    out = np.full(length, N_CODE, dtype=np.uint8)
    lo, hi = max(start, 0), min(start + length, codes.size)
    if hi > lo:
        out[lo - start : hi - start] = codes[lo:hi]
    return out


def _score_chunk(
    chunk: list[tuple], s: _Setup, chromosome: Any, sizes: dict[str, int], skips: SkipCounter
) -> pd.DataFrame:
    """One output row per scorable allele of ``chunk`` (skips counted in ``skips``)."""
    rows, ref_w, alt_w, items, length = [], [], [], [], s.seq_len
    for rec in chunk:
        no, chrom, pos, vid, ref, alts = rec
        n_alt = max(len(alts), 1)
        if chrom not in sizes:
            skips.add("not_in_genome", rec, f"no chromosome {chrom!r} in the genome."
                      + chrom_hint(chrom, sizes), n=n_alt)  # fmt: skip
            continue
        codes, p, r = chromosome(chrom), pos - 1, len(ref)
        found = decode_sequences(codes[max(p, 0) : p + r])[0] if p < codes.size else ""
        if not _SEQ.fullmatch(ref) or p < 0 or found != ref.upper():
            skips.add("ref_mismatch", rec, f"REF does not match the genome: expected (VCF REF) "
                      f"{ref!r}, found {found!r} in the FASTA ({chrom} has {codes.size} bp); "
                      "are the VCF and the FASTA of the same assembly?", n=n_alt)  # fmt: skip
            continue
        if not alts:
            skips.add("symbolic", rec, "ALT '.' (no alternate allele)")
        ref_codes = encode_bytes(ref.encode())
        for j, alt in enumerate(alts):
            what = f"{ref}>{alt}"
            if not _SEQ.fullmatch(alt):
                skips.add("symbolic", rec, f"{what}: ALT is not a sequence (symbolic allele, "
                          "breakend or '*')")  # fmt: skip
                continue
            if max(r, len(alt)) - 1 > s.max_allele - 1:
                skips.add("too_long", rec, f"{what}: {max(r, len(alt)) - 1} bp is longer "
                          f"than the maximum indel length {s.max_allele - 1}")  # fmt: skip
                continue
            pad = max(r, len(alt)) - 1
            ctx = _context(codes, p + r // 2 - length // 2 - pad, length + 2 * pad)
            alt_codes = encode_bytes(alt.encode())
            rw, aw = _allele_windows(ctx[None], ref_len=r, alt=alt_codes, seq_len=length)
            frac = max(n_fraction(rw)[0], n_fraction(aw)[0])
            if frac > s.max_n_fraction:
                skips.add("too_many_n", rec, f"{what}: {100 * frac:.0f}% of a window is N "
                          f"(more than {100 * s.max_n_fraction:.0f}%)")  # fmt: skip
                continue
            rows.append((chrom, pos, vid, ref, alt))
            ref_w.append(rw[0])
            alt_w.append(aw[0])
            items.append((ctx, ref_codes, alt_codes, (s.random_state, no, j)))
    table = pd.DataFrame(rows, columns=COLUMNS[:5])
    if not rows:
        return table.reindex(columns=COLUMNS)
    ref_w, alt_w = np.stack(ref_w), np.stack(alt_w)
    z = _logits(s, np.concatenate([ref_w, alt_w]))
    z_ref, z_alt = z[: len(rows)], z[len(rows) :]
    created = destroyed = None
    if s.motif_set is not None:
        lens = np.array([[len(it[1]), len(it[2])] for it in items])
        created, destroyed = _site_changes(s, ref_w, alt_w, lens)
    null = _null_p_values(s, items, np.abs(z_alt - z_ref)) if s.n_shuffles else np.nan
    return table.assign(
        ref_prob=np.exp(-np.logaddexp(0, -z_ref)), alt_prob=np.exp(-np.logaddexp(0, -z_alt)),
        delta_logit=z_alt - z_ref,
        log2_fold_change=(np.logaddexp(0, -z_ref) - np.logaddexp(0, -z_alt)) / np.log(2),
        sites_created=created, sites_destroyed=destroyed, p_value=null,
    )  # fmt: skip


def _logits(s: _Setup, codes: np.ndarray) -> np.ndarray:
    """float64 logits ``(m,)``; with reverse complement, the logit of both strands' mean
    probability (exact: ``log(σ(z₊) + σ(z₋)) - log(σ(-z₊) + σ(-z₋))``)."""
    from chromtransfer_lib.data.pipeline import predict_proba

    z = predict_proba(s.predictor, codes, batch_size=s.batch_size).astype(np.float64)
    if not s.reverse_complement:
        return z
    rc = np.ascontiguousarray(reverse_complement(codes))
    zr = predict_proba(s.predictor, rc, batch_size=s.batch_size).astype(np.float64)
    log_p = np.logaddexp(-np.logaddexp(0, -z), -np.logaddexp(0, -zr))
    log_q = np.logaddexp(-np.logaddexp(0, z), -np.logaddexp(0, zr))
    return log_p - log_q


def _site_changes(
    s: _Setup, ref_w: np.ndarray, alt_w: np.ndarray, lens: np.ndarray
) -> tuple[list[str], list[str]]:
    """TF names with a site over the allele in the alt window only (created), and in the ref
    window only (destroyed); ``lens`` is ``(m, 2)``: REF and ALT lengths."""
    from chromtransfer_lib.interpret.scan import scan_motifs

    ms, half = s.motif_set, s.seq_len // 2
    w = max(m.shape[0] for m in ms.scores)
    lo, hi = max(0, half - s.max_allele // 2 - w), min(s.seq_len, half + s.max_allele + w)
    found = []
    for windows, n in ((ref_w, lens[:, 0]), (alt_w, lens[:, 1])):
        hits = scan_motifs(windows[:, lo:hi], ms).hits  # every site over an allele lies inside
        row = hits["region"].to_numpy()
        start = half - n // 2 - lo  # the allele in the scanned slice
        over = (hits["start"].to_numpy() < (start + n)[row]) & (hits["end"].to_numpy() > start[row])
        sets: list[set[str]] = [set() for _ in range(len(windows))]
        for i, matrix in zip(row[over], hits["matrix_id"].to_numpy()[over], strict=True):
            sets[i].add(matrix)
        found.append(sets)
    name = dict(zip(ms.matrix_ids, ms.names, strict=True))

    def names(ids: set[str]) -> str:
        return ";".join(sorted({name[i] for i in ids})) or "."

    return ([names(a - r) for r, a in zip(*found, strict=True)],
            [names(r - a) for r, a in zip(*found, strict=True)])  # fmt: skip


def _null_p_values(s: _Setup, items: list[tuple], observed: np.ndarray) -> np.ndarray:
    """Empirical p-values of ``|Δlogit|`` against dinucleotide-shuffled contexts (module doc),
    predicted in blocks of about ``8 × batch_size`` windows."""
    n, half = s.n_shuffles, s.seq_len // 2
    per = max(1, 8 * s.batch_size // (2 * n))
    out = np.empty(len(items))
    for a in range(0, len(items), per):
        refs, alts = [], []
        for ctx, ref_codes, alt_codes, seed in items[a : a + per]:
            shuffled = dinucleotide_shuffle(ctx, n_shuffles=n, random_state=list(seed))
            v = (ctx.size - s.seq_len) // 2 + half - ref_codes.size // 2
            shuffled[:, v : v + ref_codes.size] = ref_codes  # the variant back at the centre
            rw, aw = _allele_windows(shuffled, ref_len=ref_codes.size, alt=alt_codes,
                                     seq_len=s.seq_len)  # fmt: skip
            refs.append(rw)
            alts.append(aw)
        m = len(refs)
        z = _logits(s, np.concatenate(refs + alts))
        null = np.abs(z[m * n :] - z[: m * n]).reshape(m, n)
        out[a : a + m] = (1 + (null >= observed[a : a + m, None]).sum(axis=1)) / (1 + n)
    return out


# ------------------------------------------------------------------ output


def _write_tsv(
    out: Path, header: str, tables: Iterator[pd.DataFrame], footer: Callable[[], str]
) -> None:
    """``header``, then each table (column names once), then ``footer()``, into a temporary
    file renamed to ``out`` when complete (an interrupted run leaves nothing)."""
    tmp, first = _temp_for(out), True
    try:
        with open(tmp, "w") as fh:
            fh.write(header)
            for table in tables:
                table.to_csv(fh, sep="\t", index=False, header=first, float_format="%.6g",
                             na_rep="NA", lineterminator="\n")  # fmt: skip
                first = False
            if first:
                fh.write("\t".join(COLUMNS) + "\n")
            fh.write(footer())
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_variant_scores(path: str | Path) -> pd.DataFrame:
    """A TSV written by :func:`score_variants` (provenance lines skipped; ``NA`` → NaN)."""
    return pd.read_csv(path, sep="\t", comment="#", keep_default_na=False, na_values=["NA"],
                       dtype={"chrom": str, "id": str, "ref": str, "alt": str,
                              "sites_created": str, "sites_destroyed": str})  # fmt: skip

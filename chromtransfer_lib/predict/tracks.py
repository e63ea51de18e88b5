"""Genome-browser tracks: a model's predictions and per-base attributions as bigWig files.

* :func:`prediction_track` — the probability over tiles of the whole genome, or over the
  regions of a BED (recentred windows, as :func:`.predictions.predict_regions`);
* :func:`attribution_track` — gradient × input (and ISM deltas) of the windows of a BED's
  regions (:mod:`chromtransfer_lib.interpret.attribution`, logit or probability).

A base gets one value, by the rules :data:`TILE_RULE`, :data:`REGION_RULE` and
:data:`ATTRIBUTION_RULE` (also in ``chromtransfer tracks --help`` and each file's provenance);
windows with more ``N`` than ``max_n_fraction`` are skipped (:data:`SKIP_RULE`). The header
lists every FASTA chromosome in FASTA order with its FASTA length; entries are added sorted, one
chromosome at a time, a chunk of windows at a time, so memory does not grow with the genome.
Each bigWig is written under a temporary name and renamed when complete, with
``<out>.provenance.json`` beside it (bigWig has no comment header;
:func:`chromtransfer_lib.data.own.provenance`). ``chromtransfer tracks`` adds how to load it in
IGV or the UCSC browser. See ARCHITECTURE.md for the layers.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from chromtransfer_lib.data.own import _temp_for, check_fasta_index, check_output, provenance
from chromtransfer_lib.errors import InputError
from chromtransfer_lib.fileio import write_json_atomic
from chromtransfer_lib.genome.regions import read_bed, recentre
from chromtransfer_lib.genome.sequence import chrom_sizes, n_fraction
from chromtransfer_lib.predict.predictions import _genome_codes
from chromtransfer_lib.predict.windows import extract_windows
from chromtransfer_lib.progress import progress_bar

log = logging.getLogger(__name__)

TILE_RULE = (
    "Genome tiles: windows of the model's length L every step bp (default L // 2) from each "
    "chromosome's start (a last partial window is dropped). A base gets the probability of the "
    "tile, among the kept tiles that contain it, whose centre (tile start + L // 2) is nearest; "
    "ties go to the left tile. Inside a run of tiles that is each tile's central step bp; the "
    "first and last tile of a run also cover their outer flanks."
)
REGION_RULE = (
    "BED regions: each region's window (L bp recentred on its midpoint, as predict does) gives "
    "one probability, written over the region's own bases [start, end); where regions "
    "overlap, a base gets the maximum of their probabilities."
)
ATTRIBUTION_RULE = (
    "Attributions: each region's window (L bp recentred on its midpoint, clipped to the "
    "chromosome; one per distinct window) gives a value to each of its bases; where windows "
    "overlap, a base gets the value of the window whose centre is nearest (ties: the left one)."
)
SKIP_RULE = (
    "Windows with more N than max_n_fraction are skipped (counted in the log); a base that no "
    "kept window gives a value has none in the track, and ISM deltas have none at N bases."
)


class TrackError(InputError, ValueError):
    """Options of a track that do not fit the model (e.g. a step longer than its window)."""


@dataclass(frozen=True)
class TrackSummary:
    """What :func:`prediction_track` or :func:`attribution_track` wrote."""

    tracks: dict[str, Path]  #: ``probability``, or ``grad_x_input`` (+ ``ism_delta``) → bigWig
    provenance: Path  #: ``<out>.provenance.json``
    n_windows: int  #: windows considered (tiles, regions, or distinct attribution windows)
    n_skipped: int  #: of them, skipped for more than ``max_n_fraction`` N
    n_bases: int  #: bases with a value in the first track
    seq_len: int
    step: int | None  #: tile step (``None`` for BED regions)
    seconds: float


# ------------------------------------------------------------------ overlap rules (pure)


def nearest_centre_spans(
    starts: np.ndarray, *, length: int, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """The bases ``[lo, hi)`` each window gives its values to, by the nearest-centre rule.

    Parameters
    ----------
    starts
        ``(n,)`` distinct window starts on one chromosome, sorted; windows are ``length`` bp,
        centred at ``start + length // 2``.
    size
        The chromosome's length: spans are clipped to ``[0, size)``.

    Returns
    -------
    lo, hi
        ``(n,)`` int64: among the windows containing a base, the one whose centre is nearest
        gets it (ties: the left one); every base inside some window gets exactly one.
    """
    s = np.asarray(starts, dtype=np.int64)
    e, c = s + length, s + length // 2
    lo, hi = s.copy(), e.copy()
    if len(s) > 1:
        overlap = s[1:] < e[:-1]
        cut = np.minimum(np.maximum((c[:-1] + c[1:]) // 2 + 1, s[1:]), e[:-1])
        hi[:-1] = np.where(overlap, cut, e[:-1])
        lo[1:] = np.where(overlap, cut, s[1:])
    return np.clip(lo, 0, size), np.clip(hi, 0, size)


def max_over_overlaps(
    starts: np.ndarray, ends: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Disjoint segments where each base has the maximum value of the intervals covering it.

    Parameters
    ----------
    starts, ends, values
        ``(n,)`` intervals ``[start, end)`` of one chromosome, in any order, and their values.

    Returns
    -------
    starts, ends, values
        Sorted, non-overlapping segments (int64, int64, float64); adjacent segments of equal
        value are merged, bases covered by no interval are absent. A sweep over the interval
        ends with a max-heap: ``O(n log n)``, memory ``O(n)``.
    """
    order = np.argsort(starts, kind="stable")
    s, e, v = (np.asarray(a)[order].tolist() for a in (starts, ends, values))
    edges = np.unique(np.concatenate([s, e])).tolist() if s else []
    heap: list[tuple[float, int]] = []
    out_s, out_e, out_v, i = [], [], [], 0
    for a, b in itertools.pairwise(edges):
        while i < len(s) and s[i] == a:
            heapq.heappush(heap, (-v[i], e[i]))
            i += 1
        while heap and heap[0][1] <= a:
            heapq.heappop(heap)
        if not heap:
            continue
        if out_e and out_e[-1] == a and out_v[-1] == -heap[0][0]:
            out_e[-1] = b
        else:
            out_s.append(a), out_e.append(b), out_v.append(-heap[0][0])
    return (np.array(out_s, dtype=np.int64), np.array(out_e, dtype=np.int64),
            np.array(out_v, dtype=np.float64))  # fmt: skip


# ------------------------------------------------------------------ bigWig writing


@contextlib.contextmanager
def _open_tracks(paths: Sequence[Path], sizes: Mapping[str, int]) -> Iterator[list]:
    """bigWig writers of ``paths`` under temporary names (header: ``sizes`` in their order),
    renamed when the block succeeds, removed when it fails."""
    import pyBigWig

    tmps, handles = [_temp_for(p) for p in paths], []
    try:
        for tmp in tmps:
            handles.append(pyBigWig.open(str(tmp), "w"))
            handles[-1].addHeader([(c, int(n)) for c, n in sizes.items()])
        yield handles
        while handles:
            handles.pop(0).close()
        for tmp, path in zip(tmps, paths, strict=True):
            os.replace(tmp, path)
    except BaseException:
        for bw in handles:
            bw.close()
        for tmp in tmps:
            tmp.unlink(missing_ok=True)
        raise


def _add_intervals(bw, chrom: str, starts: np.ndarray, ends: np.ndarray, values: np.ndarray):
    """Sorted disjoint intervals with one value each (bedGraph-like entries)."""
    if len(starts):
        ends, values = np.asarray(ends, np.int64), np.asarray(values, np.float64)
        bw.addEntries([chrom] * len(starts), np.asarray(starts, np.int64), ends=ends, values=values)


def _add_bases(bw, chrom: str, positions: np.ndarray, values: np.ndarray) -> int:
    """Per-base values at increasing ``positions`` as fixed-step runs (NaN skipped); the count."""
    ok = ~np.isnan(values)
    pos, val = positions[ok], values[ok].astype(np.float64)
    breaks = np.flatnonzero(np.diff(pos) != 1) + 1
    for p, v in zip(np.split(pos, breaks), np.split(val, breaks), strict=True):
        if len(p):
            bw.addEntries(chrom, int(p[0]), values=v, span=1, step=1)
    return len(pos)


# ------------------------------------------------------------------ shared set-up


def _windows(genome, chrom, starts: np.ndarray, *, length: int, sizes, codes) -> np.ndarray:
    """Codes ``(n, length)`` of windows starting at ``starts`` on ``chrom`` (a name, or one per
    window), ``N`` off the chromosome ends."""
    table = pd.DataFrame({"chrom": chrom, "start": starts, "end": starts + length})
    return extract_windows(genome, table, seq_len=length, sizes=sizes, cache=codes)


def _bed_table(regions_bed, sizes: Mapping[str, int], chunk_size: int) -> pd.DataFrame:
    """Every BED line as ``chrom`` (categorical, FASTA order), ``start``, ``end``, sorted by
    chromosome (FASTA order) then position: about 17 bytes per region."""
    kind = pd.CategoricalDtype(list(sizes), ordered=True)
    parts = [chunk[["chrom", "start", "end"]].astype({"chrom": kind})
             for chunk in read_bed(regions_bed, chrom_sizes=sizes, on_duplicate="keep",
                                   chunk_size=chunk_size)]  # fmt: skip
    table = pd.concat(parts, ignore_index=True)
    return table.sort_values(["chrom", "start", "end"], kind="stable", ignore_index=True)


def _per_chrom(table: pd.DataFrame, sizes: Mapping[str, int]) -> Iterator[tuple[str, slice]]:
    """``(chrom, rows)`` of a sorted :func:`_bed_table`, in FASTA order."""
    bounds = np.searchsorted(table["chrom"].cat.codes.to_numpy(), np.arange(len(sizes) + 1))
    for k, chrom in enumerate(sizes):
        yield chrom, slice(int(bounds[k]), int(bounds[k + 1]))


def _finish(
    out: Path, tracks: dict[str, Path], prov: dict, *, what: str, counts: tuple[int, int, int],
    seq_len: int, step: int | None, t0: float,
) -> TrackSummary:  # fmt: skip
    """Provenance beside ``out``; the skip count logged; the summary."""
    n_windows, n_skipped, n_bases = counts
    prov = {**prov, "n_windows": n_windows, "n_skipped_for_n": n_skipped, "n_bases": n_bases,
            "tracks": {k: p.name for k, p in tracks.items()}}  # fmt: skip
    meta = write_json_atomic(out.with_name(out.name + ".provenance.json"), prov)
    if n_skipped:
        log.warning("%d of %d windows have more than %.0f%% N (assembly gaps or beyond a "
                    "chromosome end) and were skipped: no value in the track there", n_skipped,
                    n_windows, 100 * prov["max_n_fraction"])  # fmt: skip
    paths = ", ".join(map(str, tracks.values()))
    log.info("wrote %s (%s): %d bases with a value from %d windows", paths, what, n_bases,
             n_windows - n_skipped)  # fmt: skip
    return TrackSummary(tracks, meta, n_windows, n_skipped, n_bases, seq_len, step,
                        time.perf_counter() - t0)  # fmt: skip


# ------------------------------------------------------------------ predictions


def prediction_track(
    model: str | Path,
    *,
    genome: str | Path,
    out: str | Path,
    regions_bed: str | Path | None = None,
    step: int | None = None,
    seq_len: int | None = None,
    max_n_fraction: float = 0.5,
    chunk_size: int = 10_000,
    batch_size: int = 512,
    reverse_complement: bool = False,
    hash_cache: Path | None = None,
    genome_cache: bool = True,
    genome_cache_dir: str | Path | None = None,
    progress: bool = False,
) -> TrackSummary:
    """A bigWig of a model's probability over tiles of the whole genome or over a BED's regions.

    Parameters
    ----------
    model, genome
        A ``.keras`` model saved by this library; FASTA (plain or bgzip).
    out
        The bigWig (its folder must exist); ``<out>.provenance.json`` is written beside it.
    regions_bed
        ``None``: tile the genome (:data:`TILE_RULE`); a BED: its regions (:data:`REGION_RULE`).
    step
        Tile step in bp, ``1 <= step <= L`` (default ``L // 2``); tiles only.
    seq_len
        If given, fail unless the model takes ``seq_len`` bp.
    max_n_fraction
        Windows with more ``N`` are skipped and counted (:data:`SKIP_RULE`).
    chunk_size, batch_size
        Windows held at a time; windows per model call.
    reverse_complement
        Each probability is the mean over both strands (as in ``predict``).
    hash_cache, genome_cache, genome_cache_dir, progress
        As in :func:`chromtransfer_lib.predict.predict_regions`; ``progress`` draws a bar.
    """
    t0, out = time.perf_counter(), Path(out)
    check_output(out)
    check_fasta_index(genome)
    sizes = chrom_sizes(genome)
    if regions_bed is not None and step is not None:
        raise TrackError("step applies to genome tiles only; leave it out with a BED of regions")
    table = None if regions_bed is None else _bed_table(regions_bed, sizes, chunk_size)
    from chromtransfer_lib.data.pipeline import Predictor, predict_proba
    from chromtransfer_lib.models.network import load_model

    net = load_model(model, expected_seq_len=seq_len)
    length = int(net.inputs[0].shape[1])
    if table is None:
        step = length // 2 if step is None else int(step)
        if not 1 <= step <= length:
            raise TrackError(f"step must be between 1 and the model's window ({length} bp), "
                             f"got {step}")  # fmt: skip
    codes = _genome_codes(genome, genome_cache, cache_dir=genome_cache_dir, progress=progress)
    predictor = Predictor(net, reverse_complement=reverse_complement)
    if table is None:
        total = sum(max(0, (n - length) // step + 1) for n in sizes.values())
    else:
        total, rows = len(table), dict(_per_chrom(table, sizes))
    bar = progress_bar(total=total, enabled=progress, desc="track", unit="window")

    def predict(chrom: str, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Which windows are kept, and their probabilities (output 0, as attribute does)."""
        keep, p = np.zeros(len(starts), dtype=bool), [np.zeros(0, np.float32)]
        for a in range(0, len(starts), chunk_size):
            win = _windows(genome, chrom, starts[a : a + chunk_size], length=length,
                           sizes=sizes, codes=codes)  # fmt: skip
            ok = n_fraction(win) <= max_n_fraction
            keep[a : a + len(win)] = ok
            got = predict_proba(predictor, win, indices=np.flatnonzero(ok), batch_size=batch_size)
            p.append(got if got.ndim == 1 else got[:, 0])
            bar.update(len(win))
        return keep, np.concatenate(p)

    n_skipped = n_bases = 0
    with _open_tracks([out], sizes) as (bw,):
        for chrom, size in sizes.items():
            if table is None:
                starts = np.arange(0, size - length + 1, step, dtype=np.int64)
                keep, p = predict(chrom, starts)
                lo, hi = nearest_centre_spans(starts[keep], length=length, size=size)
            else:
                part = table.iloc[rows[chrom]]
                keep, p = predict(chrom, recentre(part, width=length)["start"].to_numpy())
                lo, hi, p = max_over_overlaps(part["start"].to_numpy()[keep],
                                              part["end"].to_numpy()[keep], p)  # fmt: skip
            _add_intervals(bw, chrom, lo, hi, p)
            n_skipped, n_bases = n_skipped + int((~keep).sum()), n_bases + int((hi - lo).sum())
        bar.close()
        prov = provenance(
            {"model": model, "genome": genome, "regions": regions_bed}, hash_cache=hash_cache,
            what="probability (output 0)", seq_len=length, step=step,
            rule=TILE_RULE if table is None else REGION_RULE, skip_rule=SKIP_RULE,
            max_n_fraction=max_n_fraction,
            strands="both, probabilities averaged" if reverse_complement else "forward",
        )  # fmt: skip
        summary = _finish(out, {"probability": out}, prov, what="probability", seq_len=length,
                          counts=(total, n_skipped, n_bases), step=step, t0=t0)  # fmt: skip
    return summary


# ------------------------------------------------------------------ attributions


def ism_path(out: str | Path) -> Path:
    """Where :func:`attribution_track` writes the ISM deltas: ``x.bw`` → ``x.ism.bw``."""
    out = Path(out)
    return out.with_name(f"{out.stem}.ism{out.suffix}" if out.suffix else f"{out.name}.ism")


def attribution_track(
    model: str | Path,
    *,
    genome: str | Path,
    regions_bed: str | Path,
    out: str | Path,
    target: str = "logit",
    ism: bool = False,
    seq_len: int | None = None,
    max_n_fraction: float = 0.5,
    chunk_size: int = 10_000,
    batch_size: int = 256,
    hash_cache: Path | None = None,
    genome_cache: bool = True,
    genome_cache_dir: str | Path | None = None,
    progress: bool = False,
) -> TrackSummary:
    """bigWigs of per-base gradient × input (and ISM deltas) of the windows of a BED's regions.

    Parameters
    ----------
    out
        The gradient × input bigWig; with ``ism``, the ISM deltas go to :func:`ism_path`.
        Overlapping windows: :data:`ATTRIBUTION_RULE`; skipped windows: :data:`SKIP_RULE`.
    target
        What is differentiated (and what ISM changes): ``"logit"`` (default, as in the book)
        or ``"probability"`` (:func:`chromtransfer_lib.interpret.attribution.target_model`).
    ism
        Also in-silico mutagenesis (``3 L`` predictions per window).
    chunk_size, batch_size
        Windows attributed at a time (memory: about ``chunk_size × L × 16`` bytes); sequences
        per gradient call (ISM runs its own batches of mutants).

    Other parameters are those of :func:`prediction_track`.
    """
    t0, out = time.perf_counter(), Path(out)
    check_output(out)
    check_fasta_index(genome)
    sizes = chrom_sizes(genome)
    table = _bed_table(regions_bed, sizes, chunk_size)
    from chromtransfer_lib.interpret.attribution import (
        grad_x_input,
        in_silico_mutagenesis,
        target_model,
    )
    from chromtransfer_lib.models.network import load_model

    net = load_model(model, expected_seq_len=seq_len)
    attributed = target_model(net, target=target)
    length = int(net.inputs[0].shape[1])
    codes = _genome_codes(genome, genome_cache, cache_dir=genome_cache_dir, progress=progress)
    windows = recentre(table, width=length).sort_values(["chrom", "start"], kind="stable")
    windows = windows.drop_duplicates(["chrom", "start"], ignore_index=True)
    keep = np.ones(len(windows), dtype=bool)
    lo, hi = np.zeros((2, len(windows)), dtype=np.int64)
    for chrom, rows in _per_chrom(windows, sizes):  # which windows are kept, and their spans
        starts = windows["start"].to_numpy()[rows]
        for a in range(0, len(starts), chunk_size):
            win = _windows(genome, chrom, starts[a : a + chunk_size], length=length,
                           sizes=sizes, codes=codes)  # fmt: skip
            keep[rows.start + a : rows.start + a + len(win)] = n_fraction(win) <= max_n_fraction
        k = rows.start + np.flatnonzero(keep[rows])
        lo[k], hi[k] = nearest_centre_spans(starts[keep[rows]], length=length, size=sizes[chrom])
    kept = windows[keep].assign(lo=lo[keep], hi=hi[keep]).reset_index(drop=True)
    tracks = {"grad_x_input": out, **({"ism_delta": ism_path(out)} if ism else {})}
    n_skipped, n_bases, rel, names = int((~keep).sum()), 0, np.arange(length), list(sizes)
    bar = progress_bar(total=len(kept), enabled=progress, desc="attribution", unit="window")
    with _open_tracks(list(tracks.values()), sizes) as handles:
        for a in range(0, len(kept), chunk_size):  # chunks across chromosomes: few compilations
            part = kept.iloc[a : a + chunk_size]
            s, lo_, hi_ = (part[k].to_numpy() for k in ("start", "lo", "hi"))
            win = _windows(genome, part["chrom"].astype(str).to_numpy(), s, length=length,
                           sizes=sizes, codes=codes)  # fmt: skip
            values = [grad_x_input(attributed, win, batch_size=batch_size)]
            if ism:
                values.append(in_silico_mutagenesis(attributed, win).delta)  # mutants: own batch
            row, col = np.nonzero((rel >= (lo_ - s)[:, None]) & (rel < (hi_ - s)[:, None]))
            chrom_of = part["chrom"].cat.codes.to_numpy()[row]
            for c in np.unique(chrom_of):  # sorted: FASTA order
                at = chrom_of == c
                written = [_add_bases(bw, names[c], s[row[at]] + col[at], v[row[at], col[at]])
                           for bw, v in zip(handles, values, strict=True)]  # fmt: skip
                n_bases += written[0]
            bar.update(len(part))
        bar.close()
        prov = provenance(
            {"model": model, "genome": genome, "regions": regions_bed}, hash_cache=hash_cache,
            what="grad_x_input" + (" and ism_delta" if ism else ""), target=target,
            seq_len=length, rule=ATTRIBUTION_RULE, skip_rule=SKIP_RULE,
            max_n_fraction=max_n_fraction, n_regions=len(table),
        )  # fmt: skip
        counts = (len(windows), n_skipped, n_bases)
        summary = _finish(out, tracks, prov, what=f"attribution of the {target}", step=None,
                          counts=counts, seq_len=length, t0=t0)  # fmt: skip
    return summary

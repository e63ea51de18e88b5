"""The background genome of the simulated world: composition, repeats, gaps, blacklist, FASTA.

Used by :mod:`chromtransfer_lib.sim.world`; every function is vectorised with NumPy (no Python
loop over bases). Codes follow :mod:`chromtransfer_lib.genome.sequence` (A=0 C=1 G=2 T=3 N=4).

The composition model, per chromosome:

1. **Isochore-like GC variation**: the chromosome is cut into blocks of ``gc_block`` bp, each
   with its own GC fraction drawn from N(``gc_mean``, ``gc_sd``) (clipped to 0.2–0.7).
2. **Interspersed repeats**: a fraction ``softmask_fraction`` of the sequence is covered by
   diverged copies (fragments, either orientation) of a few random repeat families, and is
   soft-masked (lower case), as RepeatMasker does for real assemblies.
3. **Blacklist**: satellite-like tandem arrays (a 171-bp monomer, like alpha satellite), also
   soft-masked; these are the regions an ENCODE-style blacklist removes.
4. **CpG depletion**: CpGs are mutated to TpG or CpA (deamination of methyl-C) so that the CpG
   observed/expected ratio is ``cpg_obs_exp`` (human: ~0.2-0.25); the GC sampled before
   depletion is raised so that the final GC matches the block's target
   (:func:`depletion_plan`).
5. **Assembly gaps**: runs of ``N`` (upper case), including telomere gaps at both ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chromtransfer_lib.config import SimulationConfig

N_CODE = 4
_UPPER = np.frombuffer(b"ACGTN", dtype=np.uint8)
SATELLITE_UNIT = 171


@dataclass(frozen=True)
class RepeatLibrary:
    """Consensus sequences of the repeat families, concatenated.

    Attributes
    ----------
    pool
        ``uint8`` codes of all consensus sequences back to back, shape ``(sum of lengths,)``.
    offsets, lengths
        ``int64`` arrays of shape ``(n_families,)``: where each family starts in ``pool``.
    satellite
        ``uint8`` codes of the satellite monomer, shape ``(171,)``.
    """

    pool: np.ndarray
    offsets: np.ndarray
    lengths: np.ndarray
    satellite: np.ndarray


@dataclass(frozen=True)
class ChromosomeDraft:
    """One simulated chromosome before regulatory regions are planted.

    Attributes
    ----------
    codes
        ``uint8`` codes, shape ``(length,)``.
    mask
        ``bool``, shape ``(length,)``: True where soft-masked (written lower case).
    gaps
        ``int64`` array ``(n, 2)`` of half-open ``[start, end)`` N runs, sorted.
    gap_types
        ``telomere`` or ``contig`` per gap.
    blacklist
        ``int64`` array ``(m, 2)`` of blacklisted intervals, sorted.
    """

    codes: np.ndarray
    mask: np.ndarray
    gaps: np.ndarray
    gap_types: tuple[str, ...]
    blacklist: np.ndarray


def depletion_plan(gc: np.ndarray | float, *, cpg_obs_exp: float) -> tuple[np.ndarray, np.ndarray]:
    """GC to sample, and the CpG keep probability, for a final GC ``gc`` and CpG o/e ratio.

    An i.i.d. sequence of GC fraction ``x`` has CpG frequency ``(x/2)**2``; keeping each CpG
    with probability ``k`` and otherwise removing one of its G/C gives GC
    ``g = x - (1 - k) x**2 / 4`` and CpG observed/expected ``r = k x**2 / g**2``. Solving for
    ``x`` and ``k``: ``x = 2 (1 - sqrt(1 - g + r g**2 / 4))`` and ``k = r g**2 / x**2``.

    Returns
    -------
    tuple of numpy.ndarray
        ``(x, k)``, each of the shape of ``gc``.
    """
    g = np.asarray(gc, dtype=np.float64)
    x = 2.0 * (1.0 - np.sqrt(1.0 - g + cpg_obs_exp * g**2 / 4.0))
    k = np.clip(cpg_obs_exp * g**2 / np.maximum(x, 1e-12) ** 2, 0.0, 1.0)
    return x, k


def sample_iid(gc: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Bases drawn independently, with P(C) = P(G) = gc/2 per position.

    Parameters
    ----------
    gc
        GC fraction per position, shape ``(L,)``.

    Returns
    -------
    numpy.ndarray
        ``uint8`` codes, shape ``(L,)``.
    """
    u = rng.random(gc.shape[0], dtype=np.float32)
    g = gc.astype(np.float32)
    out = np.full(gc.shape[0], 3, dtype=np.uint8)  # T
    out[u < (1.0 + g) / 2] = 0  # A
    out[u < g] = 2  # G
    out[u < g / 2] = 1  # C
    return out


def deplete_cpg(
    codes: np.ndarray, *, keep: np.ndarray | float, rng: np.random.Generator
) -> np.ndarray:
    """Mutate each CpG to TpG or CpA with probability ``1 - keep``; returns a new array.

    ``keep`` is a probability, or one per position (shape ``codes.shape``; the C's is used).
    Adjacent CpGs (``CGCG``) never share a base, so the mutations cannot conflict, and the
    mutations create no new CpG.
    """
    out = codes.copy()
    idx = np.flatnonzero((codes[:-1] == 1) & (codes[1:] == 2))
    k = keep[idx] if isinstance(keep, np.ndarray) else keep
    hit = idx[rng.random(idx.size) >= k]
    to_tpg = rng.random(hit.size) < 0.5
    out[hit[to_tpg]] = 3  # C -> T
    out[hit[~to_tpg] + 1] = 0  # G -> A
    return out


def make_repeat_library(
    *,
    n_families: int,
    length_range: tuple[int, int],
    gc_mean: float,
    cpg_obs_exp: float,
    rng: np.random.Generator,
) -> RepeatLibrary:
    """Random consensus sequences for ``n_families`` repeat families and one satellite monomer.

    Family GC fractions are drawn from N(``gc_mean``, 0.08) (clipped to 0.25-0.65) and raised
    for the later CpG depletion (:func:`depletion_plan`), like the background.
    """
    lengths = rng.integers(length_range[0], length_range[1] + 1, size=n_families)
    gcs = np.clip(rng.normal(gc_mean, 0.08, size=n_families), 0.25, 0.65)
    gcs = depletion_plan(gcs, cpg_obs_exp=cpg_obs_exp)[0]
    pool = sample_iid(np.repeat(gcs, lengths), rng)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    satellite = sample_iid(np.full(SATELLITE_UNIT, 0.38), rng)
    return RepeatLibrary(pool, offsets, lengths.astype(np.int64), satellite)


def place_intervals(
    lengths: np.ndarray, lo: int, hi: int, rng: np.random.Generator, *, spacing: int = 0
) -> np.ndarray:
    """Uniformly random non-overlapping placement of intervals, in the given order.

    Draws sorted uniform offsets for the free space and adds the preceding lengths (the
    "random gaps" construction), so intervals never overlap and keep at least ``spacing`` bp
    between them.

    Returns
    -------
    numpy.ndarray
        ``int64`` starts, shape ``lengths.shape``; ``ValueError`` if they cannot fit.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    need = int(lengths.sum()) + spacing * max(len(lengths) - 1, 0)
    free = (hi - lo) - need
    if free < 0:
        raise ValueError(
            f"cannot fit {len(lengths)} intervals ({need} bp) into {hi - lo} bp; "
            "lower the counts/lengths or lengthen the chromosomes in the profile"
        )
    u = np.sort(rng.integers(0, free + 1, size=len(lengths)))
    before = np.concatenate([[0], np.cumsum(lengths + spacing)[:-1]]).astype(np.int64)
    return lo + u + before


def _fill_copies(
    codes: np.ndarray,
    starts: np.ndarray,
    src_starts: np.ndarray,
    lengths: np.ndarray,
    minus: np.ndarray,
    divergence: np.ndarray,
    pool: np.ndarray,
    rng: np.random.Generator,
) -> None:
    """Write (possibly reverse-complemented, mutated) copies of ``pool`` slices into ``codes``."""
    total = int(lengths.sum())
    if total == 0:
        return
    excl = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    j = np.arange(total) - np.repeat(excl, lengths)
    rev = np.repeat(minus, lengths)
    src = np.repeat(src_starts, lengths) + np.where(rev, np.repeat(lengths - 1, lengths) - j, j)
    vals = pool[src % pool.size]
    vals = np.where(rev, 3 - vals, vals).astype(np.uint8)
    mutate = rng.random(total) < np.repeat(divergence, lengths)
    vals[mutate] = (vals[mutate] + rng.integers(1, 4, size=int(mutate.sum()))).astype(np.uint8) % 4
    codes[np.repeat(starts, lengths) + j] = vals


def simulate_chromosome(
    length: int, *, library: RepeatLibrary, spec: SimulationConfig, rng: np.random.Generator
) -> ChromosomeDraft:
    """Background sequence, soft-mask, gaps and blacklist of one chromosome (module docstring).

    ``spec`` is the profile's ``simulation`` section: its GC (``gc_mean``, ``gc_sd``,
    ``gc_block``, ``cpg_obs_exp``), repeat (``softmask_fraction``, ``repeat_divergence``) and
    gap/blacklist (``telomere_length``, ``gap_*``, ``blacklist_*``) settings are used.
    """
    n_blocks = -(-length // spec.gc_block)
    block_gc = np.clip(rng.normal(spec.gc_mean, spec.gc_sd, size=n_blocks), 0.2, 0.7)
    pre_gc, cpg_keep = depletion_plan(block_gc, cpg_obs_exp=spec.cpg_obs_exp)
    codes = sample_iid(np.repeat(pre_gc, spec.gc_block)[:length], rng)
    mask = np.zeros(length, dtype=bool)
    _add_repeats(codes, mask, library, spec, rng)
    gaps, types, bl = _add_gaps_and_blacklist(codes, mask, library, spec, rng, cpg_keep)
    return ChromosomeDraft(codes, mask, gaps, types, bl)


def _add_repeats(
    codes: np.ndarray,
    mask: np.ndarray,
    library: RepeatLibrary,
    spec: SimulationConfig,
    rng: np.random.Generator,
) -> None:
    """Interspersed repeats (fragments of family consensus sequences), soft-masked, in place."""
    length = codes.size
    fam_len = library.lengths
    mean_copy = float(fam_len.mean()) * 0.6
    k = int(np.ceil(spec.softmask_fraction * length / mean_copy * 1.3)) + 1
    fam = rng.integers(0, fam_len.size, size=k)
    frag = np.maximum(np.minimum(50, fam_len[fam]), (rng.uniform(0.2, 1.0, k) * fam_len[fam]))
    frag = frag.astype(np.int64)
    keep = np.cumsum(frag) <= spec.softmask_fraction * length
    fam, frag = fam[keep], frag[keep]
    if frag.size:
        starts = place_intervals(frag, 0, length, rng)
        src = library.offsets[fam] + rng.integers(0, fam_len[fam] - frag + 1)
        minus = rng.random(frag.size) < 0.5
        lo, hi = spec.repeat_divergence
        div = rng.uniform(lo, hi, frag.size)
        _fill_copies(codes, starts, src, frag, minus, div, library.pool, rng)
        mask[
            np.repeat(starts, frag)
            + np.arange(frag.sum())
            - np.repeat(np.cumsum(frag) - frag, frag)
        ] = True


def _add_gaps_and_blacklist(
    codes: np.ndarray,
    mask: np.ndarray,
    library: RepeatLibrary,
    spec: SimulationConfig,
    rng: np.random.Generator,
    cpg_keep: np.ndarray,
) -> tuple[np.ndarray, tuple[str, ...], np.ndarray]:
    """Assembly gaps and blacklisted satellites, placed together so they never overlap, then
    CpG depletion; returns the gaps ``(n, 2)``, their types and the blacklist ``(m, 2)``."""
    length, telomere = codes.size, spec.telomere_length
    n_gap = spec.gap_count_per_chrom
    lens = np.concatenate(
        [
            rng.integers(spec.gap_length[0], spec.gap_length[1] + 1, size=n_gap),
            rng.integers(
                spec.blacklist_length[0],
                spec.blacklist_length[1] + 1,
                size=spec.blacklist_count_per_chrom,
            ),
        ]
    ).astype(np.int64)
    is_gap = np.arange(lens.size) < n_gap
    order = rng.permutation(lens.size)
    starts = np.empty(lens.size, dtype=np.int64)
    starts[order] = place_intervals(lens[order], telomere, length - telomere, rng, spacing=1000)
    bl = np.column_stack([starts[~is_gap], starts[~is_gap] + lens[~is_gap]])
    bl = bl[np.argsort(bl[:, 0])]
    if len(bl):
        unit_phase = rng.integers(0, SATELLITE_UNIT, size=len(bl))
        div = rng.uniform(0.01, 0.05, size=len(bl))
        no_minus = np.zeros(len(bl), dtype=bool)
        _fill_copies(codes, bl[:, 0], unit_phase, bl[:, 1] - bl[:, 0], no_minus, div,
                     library.satellite, rng)  # fmt: skip
        for s, e in bl:
            mask[s:e] = True
    codes[:] = deplete_cpg(codes, keep=np.repeat(cpg_keep, spec.gc_block)[:length], rng=rng)

    inner = np.column_stack([starts[is_gap], starts[is_gap] + lens[is_gap]])
    gaps = [(0, telomere)] if telomere else []
    gaps += sorted(map(tuple, inner.tolist()))
    types = ["telomere"] * bool(telomere) + ["contig"] * len(inner)
    if telomere:
        gaps.append((length - telomere, length))
        types.append("telomere")
    gaps_arr = np.array(gaps, dtype=np.int64).reshape(-1, 2)
    for s, e in gaps_arr:
        codes[s:e] = N_CODE
        mask[s:e] = False
    return gaps_arr, tuple(types), bl.astype(np.int64)


def write_fasta(
    path: Path, chromosomes: dict[str, tuple[np.ndarray, np.ndarray]], *, line_width: int = 60
) -> Path:
    """Write codes + soft-mask as FASTA with fixed-width lines, and its ``.fai`` index.

    Parameters
    ----------
    chromosomes
        ``name -> (codes, mask)``, written in the given order; masked bases in lower case.

    Returns
    -------
    pathlib.Path
        Path of the ``.fai`` file (``path`` + ``.fai``, samtools format).
    """
    fai_rows = []
    offset = 0
    with open(path, "wb") as fh:
        for name, (codes, mask) in chromosomes.items():
            header = f">{name}\n".encode()
            fh.write(header)
            offset += len(header)
            letters = _UPPER[codes]
            letters[mask] += 32
            n = letters.size
            full = n // line_width
            body = np.empty((full, line_width + 1), dtype=np.uint8)
            body[:, :line_width] = letters[: full * line_width].reshape(full, line_width)
            body[:, line_width] = 10
            tail = letters[full * line_width :]
            blob = body.tobytes() + (tail.tobytes() + b"\n" if tail.size else b"")
            fh.write(blob)
            fai_rows.append(f"{name}\t{n}\t{offset}\t{line_width}\t{line_width + 1}\n")
            offset += len(blob)
    fai = Path(str(path) + ".fai")
    fai.write_text("".join(fai_rows))
    return fai

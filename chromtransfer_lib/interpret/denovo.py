"""De novo motifs: TF-MoDISco patterns from hypothetical contributions, matched to JASPAR.

Which library does what:

* **Hypothetical contributions** (:func:`hypothetical_contributions`, TensorFlow): the gradient
  of the model's output with respect to each of the four channels at every position, centred
  on its mean over the channels (the usual input of TF-MoDISco); × one-hot it is the
  contribution of the observed base. Compiled like
  :func:`chromtransfer_lib.interpret.attribution.grad_x_input` (uint8 codes, one-hot in the
  graph, last batch padded).
* **Seqlets and patterns** (:func:`discover_motifs`): ``modiscolite.tfmodisco.TFMoDISco``
  (modisco-lite) finds windows of high contribution (seqlets), clusters them (Leiden) and
  aggregates each cluster into a pattern: its PPM (mean one-hot) and its CWM
  (contribution-weighted matrix, mean contribution). Positive and negative metaclusters are
  the seqlets whose summed contribution is positive or negative. Patterns are trimmed for
  reporting like modisco's report: the span where ``sum |CWM|`` reaches 0.3 of its maximum.
* **JASPAR matches** (:func:`match_jaspar`): ``memelite.tomtom`` (TOMTOM in numba; no MEME
  binary), trimmed PPM against every JASPAR probability matrix, both strands.

Window sizes for 200-bp inputs. modisco-lite's defaults (sliding window 21, flank 10, patterns
trimmed to 30 and padded by 10) assume ~1-kb ChromBPNet-style inputs: a 41-bp seqlet with
±20-bp suppression leaves at most four or five seqlets per 200-bp sequence and lets flanks
dominate motifs of 6–15 bp (GATA 11, HNF4A 13, CTCF 19). Here: a 15-bp sliding window (the
width of most JASPAR cores), flank 5 (25-bp seqlets, ±12-bp suppression, up to ~8 seqlets per
sequence; flank must be ≥ 1), patterns trimmed to the best-supported 20 bp and padded by 5
(30-bp patterns). For a few hundred sequences the counts are lowered too: a metacluster needs
more than 50 seqlets (not 100), a pattern 20 seqlets (modisco's ``final_min_cluster_size``),
trimming keeps columns supported by 20 seqlets (not 30). ``max_seqlets_per_metacluster`` is
2,000 (not 20,000): modisco keeps the first seqlets in input order, so shuffle the sequences
if they are sorted. ``target_seqlet_fdr`` stays 0.2; the 3 % floor of passing windows means
even noise yields seqlets, which the final support and information filters then drop.
10 Leiden runs (not 50): 500 sequences take ~15 s on two CPUs (50 runs: several times that).

Determinism: modisco-lite takes no seed; it seeds itself (``RandomState(1234)`` for its null
and subsamples, Leiden seeds ``1..n_leiden_runs``), so equal inputs give equal patterns (the
same bits in a spawned process and in this one, run after run).
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from chromtransfer_lib.genome.sequence import N_CODE, one_hot_tensor
from chromtransfer_lib.interpret.attribution import _batches, _check_codes, _pad

logger = logging.getLogger(__name__)

_BASES = "ACGT"
#: The metaclusters as modisco names them, and their sign.
METACLUSTERS = {"pos_patterns": 1, "neg_patterns": -1}
#: Columns of :func:`match_jaspar`'s table.
MATCH_COLUMNS = (
    "pattern sign n_seqlets rank matrix_id tf p_value e_value q_value offset overlap strand"
).split()


def hypothetical_contributions(
    model,
    codes: np.ndarray,
    *,
    batch_size: int = 256,
    output_index: int = 0,
    mean_centre: bool = True,
    verbose: bool = False,
) -> np.ndarray:
    """Per-base, per-channel gradient of the model's output: TF-MoDISco's hypothetical scores.

    Parameters
    ----------
    model
        Keras model, one-hot ``(n, L, 4)`` → ``(n, k)`` (e.g. from
        :func:`~chromtransfer_lib.interpret.attribution.target_model`).
    codes
        uint8 codes ``(n, L)``.
    batch_size
        Sequences per compiled call.
    output_index
        Output column to attribute.
    mean_centre
        Subtract the mean over the four channels at each position. Then
        ``(h * one_hot).sum(-1) == grad_x_input - gradient.mean(-1)``; without it,
        ``(h * one_hot).sum(-1) == grad_x_input``.
    verbose
        Show a progress bar.

    Returns
    -------
    numpy.ndarray
        float32 ``(n, L, 4)``; 0 at ``N`` positions. Contributions are ``h * one_hot``.
    """
    import tensorflow as tf

    codes = _check_codes(codes)

    @tf.function(reduce_retracing=True)
    def step(block):
        x = one_hot_tensor(block)
        with tf.GradientTape() as tape:
            tape.watch(x)
            # samples are independent in inference mode, so d(sum)/dx_i = d y_i / d x_i
            y = tf.reduce_sum(model(x, training=False)[:, output_index])
        g = tape.gradient(y, x)
        if mean_centre:
            g = g - tf.reduce_mean(g, axis=-1, keepdims=True)
        return g

    out = np.empty((*codes.shape, 4), dtype=np.float32)
    for a in _batches(codes.shape[0], batch_size, desc="hypothetical", verbose=verbose):
        block = codes[a : a + batch_size]
        out[a : a + len(block)] = step(_pad(block, batch_size)).numpy()[: len(block)]
    out[codes == N_CODE] = 0.0
    return out


@dataclass(frozen=True)
class Pattern:
    """One TF-MoDISco pattern, trimmed; matrices are position-major ``(w, 4)`` (A, C, G, T).

    Attributes
    ----------
    pattern_id
        modisco's name, e.g. ``"pos_patterns.pattern_0"`` (patterns numbered by decreasing
        number of seqlets within a metacluster).
    sign
        +1 (positive metacluster) or -1.
    n_seqlets
        Seqlets aggregated into the pattern.
    ppm
        float64 ``(w, 4)``: base frequencies of the seqlets (columns sum to 1).
    cwm
        float64 ``(w, 4)``: mean contribution per base (contribution-weighted matrix).
    hypothetical_cwm
        float64 ``(w, 4)``: mean hypothetical contribution.
    seqlets
        One row per seqlet: ``example_idx``, ``start``, ``end`` (untrimmed, 0-based
        half-open positions in the input sequence) and ``is_revcomp``.
    """

    pattern_id: str
    sign: int
    n_seqlets: int
    ppm: np.ndarray
    cwm: np.ndarray
    hypothetical_cwm: np.ndarray
    seqlets: pd.DataFrame

    @property
    def consensus(self) -> str:
        """Most frequent base per column of the PPM."""
        return "".join(_BASES[i] for i in self.ppm.argmax(axis=1))


@dataclass(frozen=True)
class MotifDiscovery:
    """The patterns of one TF-MoDISco run (:func:`discover_motifs`).

    Attributes
    ----------
    patterns
        Positive patterns first, each metacluster by decreasing number of seqlets; empty when
        modisco found none.
    seconds
        Wall time of the modisco call.
    """

    patterns: tuple[Pattern, ...]
    seconds: float

    def table(self) -> pd.DataFrame:
        """One row per pattern: pattern, sign, n_seqlets, width, consensus."""
        rows = [
            (p.pattern_id, p.sign, p.n_seqlets, p.ppm.shape[0], p.consensus) for p in self.patterns
        ]
        return pd.DataFrame(rows, columns=["pattern", "sign", "n_seqlets", "width", "consensus"])


def _trim_span(cwm: np.ndarray, threshold: float) -> slice:
    score = np.abs(cwm).sum(axis=1)
    keep = np.flatnonzero(score >= threshold * score.max())
    return slice(int(keep[0]), int(keep[-1]) + 1) if keep.size else slice(0, len(score))


def _as_pattern(raw, *, pattern_id: str, sign: int, trim_threshold: float) -> Pattern:
    cwm = np.asarray(raw.contrib_scores, dtype=np.float64)
    span = _trim_span(cwm, trim_threshold)
    seqlets = pd.DataFrame(
        [(s.example_idx, s.start, s.end, bool(s.is_revcomp)) for s in raw.seqlets],
        columns=["example_idx", "start", "end", "is_revcomp"],
    )
    return Pattern(
        pattern_id=pattern_id,
        sign=sign,
        n_seqlets=len(raw.seqlets),
        ppm=np.asarray(raw.sequence, dtype=np.float64)[span].copy(),
        cwm=cwm[span].copy(),
        hypothetical_cwm=np.asarray(raw.hypothetical_contribs, dtype=np.float64)[span].copy(),
        seqlets=seqlets,
    )


def _modisco_patterns(
    hyp: np.ndarray, oh: np.ndarray, settings: dict, trim_threshold: float
) -> tuple[tuple[Pattern, ...], float]:
    """TFMoDISco on float32 arrays and its patterns as :class:`Pattern` objects; wall time."""
    from modiscolite.tfmodisco import TFMoDISco

    start = time.perf_counter()
    found = TFMoDISco(one_hot=oh, hypothetical_contribs=hyp, verbose=False, **settings)
    patterns = tuple(
        _as_pattern(raw, pattern_id=f"{name}.pattern_{i}", sign=sign, trim_threshold=trim_threshold)
        for (name, sign), group in zip(METACLUSTERS.items(), found, strict=True)
        for i, raw in enumerate(group or [])
    )
    return patterns, time.perf_counter() - start


def discover_motifs(
    hypothetical: np.ndarray,
    one_hot: np.ndarray,
    *,
    sliding_window_size: int = 15,
    flank_size: int = 5,
    trim_to_window_size: int = 20,
    initial_flank_to_add: int = 5,
    target_seqlet_fdr: float = 0.2,
    max_seqlets_per_metacluster: int = 2000,
    min_metacluster_size: int = 50,
    final_min_cluster_size: int = 20,
    min_num_to_trim_to: int = 20,
    n_leiden_runs: int = 10,
    trim_threshold: float = 0.3,
    in_subprocess: bool = True,
) -> MotifDiscovery:
    """TF-MoDISco (modisco-lite) on hypothetical contributions, defaults fitted to 200 bp.

    Parameters
    ----------
    hypothetical
        ``(n, L, 4)`` hypothetical contributions (:func:`hypothetical_contributions`).
    one_hot
        ``(n, L, 4)`` one-hot sequences (all-zero rows at ``N``).
    sliding_window_size, flank_size, trim_to_window_size, initial_flank_to_add
        Seqlet window, seqlet flank (≥ 1), pattern trimming width and its padding, in bp
        (module docstring).
    target_seqlet_fdr, max_seqlets_per_metacluster, min_metacluster_size
        Seqlet threshold's FDR; seqlets kept per metacluster (the first in input order); a
        metacluster is clustered only with more seqlets than this.
    final_min_cluster_size, min_num_to_trim_to
        Seqlets a pattern needs; support a column needs to survive trimming.
    n_leiden_runs
        Leiden clusterings (seeds ``1..n``) of which modisco keeps the best.
    trim_threshold
        Reported matrices are trimmed to where ``sum |CWM|`` ≥ this fraction of its maximum.
    in_subprocess
        Run modisco in a spawned process (the default; in-process inside a daemon worker).
        modisco-lite forks, and loads its compiled numba kernels from the cache, only in a
        process whose one thread is the main thread; any other Python thread (tqdm's monitor,
        started by the first progress bar, even a disabled one) makes it recompile every
        kernel (~70 s more on two CPUs), and forking a process that runs TensorFlow is unsafe.
        The result is the same either way. As with every spawned process, a script that
        calls this needs the ``if __name__ == "__main__":`` guard (notebooks do not).

    Returns
    -------
    MotifDiscovery
        The trimmed patterns (none, logged, when modisco finds none or there is no signal).
    """
    hyp = np.ascontiguousarray(hypothetical, dtype=np.float32)
    oh = np.ascontiguousarray(one_hot, dtype=np.float32)
    if hyp.ndim != 3 or hyp.shape[2] != 4 or hyp.shape != oh.shape:
        raise ValueError(f"hypothetical {hyp.shape} and one_hot {oh.shape} must both be (n, L, 4)")
    if flank_size < 1 or hyp.shape[1] < sliding_window_size + 2 * flank_size:
        raise ValueError(
            f"need flank_size >= 1 and L >= sliding_window_size + 2 * flank_size, got L = "
            f"{hyp.shape[1]}, window {sliding_window_size}, flank {flank_size}"
        )
    if not np.isfinite(hyp).all():
        raise ValueError("hypothetical contributions hold NaN or inf")
    if hyp.shape[0] == 0 or np.ptp((hyp * oh).sum(axis=2)) == 0:
        logger.info("no contribution signal in %d sequences: no patterns", hyp.shape[0])
        return MotifDiscovery(patterns=(), seconds=0.0)
    settings = {
        "sliding_window_size": sliding_window_size,
        "flank_size": flank_size,
        "min_metacluster_size": min_metacluster_size,
        "max_seqlets_per_metacluster": max_seqlets_per_metacluster,
        "target_seqlet_fdr": target_seqlet_fdr,
        "n_leiden_runs": n_leiden_runs,
        "min_num_to_trim_to": min_num_to_trim_to,
        "trim_to_window_size": trim_to_window_size,
        "initial_flank_to_add": initial_flank_to_add,
        "final_flank_to_add": 0,
        "final_min_cluster_size": final_min_cluster_size,
    }
    if in_subprocess and not multiprocessing.current_process().daemon:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            job = pool.submit(_modisco_patterns, hyp, oh, settings, trim_threshold)
            patterns, seconds = job.result()
    else:
        patterns, seconds = _modisco_patterns(hyp, oh, settings, trim_threshold)
    n_pos = sum(p.sign > 0 for p in patterns)
    logger.info(
        "TF-MoDISco: %d positive and %d negative patterns from %d sequences (%.1f s)",
        *(n_pos, len(patterns) - n_pos, hyp.shape[0], seconds),
    )
    return MotifDiscovery(patterns=patterns, seconds=seconds)


def match_jaspar(
    patterns: Sequence[Pattern] | Mapping[str, np.ndarray],
    matrices: Sequence[object],
    *,
    n_best: int = 3,
) -> pd.DataFrame:
    """The best JASPAR matches of each pattern's trimmed PPM by TOMTOM (memelite).

    Parameters
    ----------
    patterns
        :class:`Pattern` objects (``MotifDiscovery.patterns``), or name → PPM ``(w, 4)``.
    matrices
        Target :class:`~chromtransfer_lib.genome.jaspar.JasparMatrix` objects, e.g.
        ``load_jaspar()`` (TOMTOM's background is built from every target's columns, so pass
        a whole collection; memelite warns under 25 targets).
    n_best
        Matches kept per pattern.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`MATCH_COLUMNS`, ``rank`` 1 = best (smallest p-value) per pattern.
        ``p_value`` is TOMTOM's, both strands combined; ``e_value`` = p × number of targets
        (MEME's definition); ``q_value`` is Benjamini–Hochberg over the pattern's p-values
        against all targets. ``offset``, ``overlap`` and ``strand`` are memelite's
        (``strand`` 1: the target's reverse complement aligns).
    """
    from memelite import tomtom

    from chromtransfer_lib.interpret.enrichment import benjamini_hochberg

    if isinstance(patterns, Mapping):
        queries = [(str(k), 0, 0, np.asarray(v, dtype=np.float64)) for k, v in patterns.items()]
    else:
        queries = [(p.pattern_id, p.sign, p.n_seqlets, p.ppm) for p in patterns]
    if not queries:
        return pd.DataFrame(columns=MATCH_COLUMNS)
    targets = [np.ascontiguousarray(m.probabilities(), dtype=np.float64) for m in matrices]
    # (4, w) float64 C-ordered queries and targets: one compiled layout (memelite compiles
    # `_tomtom` once per layout and caches it)
    q_mats = [np.ascontiguousarray(ppm.T, dtype=np.float64) for _, _, _, ppm in queries]
    p, _, offsets, overlaps, strands = tomtom(q_mats, targets)
    tables = []
    for i, (name, sign, n_seqlets, _) in enumerate(queries):
        best = np.argsort(p[i], kind="stable")[:n_best]
        columns = {"pattern": name, "sign": sign, "n_seqlets": n_seqlets}
        columns |= {"rank": np.arange(1, len(best) + 1)}
        columns |= {"matrix_id": [matrices[j].matrix_id for j in best]}
        columns |= {"tf": [matrices[j].name for j in best], "p_value": p[i, best]}
        columns |= {"e_value": p[i, best] * len(targets)}
        columns |= {"q_value": benjamini_hochberg(p[i])[best]}
        for key, values in (("offset", offsets), ("overlap", overlaps), ("strand", strands)):
            columns[key] = values[i, best].astype(int)
        tables.append(pd.DataFrame(columns))
    return pd.concat(tables, ignore_index=True)[MATCH_COLUMNS]


def _components(tf: str) -> set[str]:
    """Upper-case name and, for a JASPAR dimer such as ``GATA1::TAL1``, its members."""
    name = str(tf).upper()
    return {name, *name.split("::")}


def match_clusters(
    matches: pd.DataFrame,
    drivers: Sequence[str],
    matrices: Sequence[object],
    *,
    threshold: float | None = None,
) -> pd.Series:
    """Look-alike cluster of every driver and matched TF
    (:func:`chromtransfer_lib.interpret.clusters.tf_clusters` over just these names).

    Returns
    -------
    pandas.Series
        Cluster id indexed by upper-case TF name, for :func:`driver_recovery`'s ``clusters``.
    """
    from chromtransfer_lib.interpret.clusters import THRESHOLD, tf_clusters

    tf_ids: dict[str, set[str]] = {}
    wanted = {str(d).upper() for d in drivers}
    for m in matrices:
        if m.name.upper() in wanted:
            tf_ids.setdefault(m.name.upper(), set()).add(m.matrix_id)
    for tf, matrix_id in zip(matches["tf"], matches["matrix_id"], strict=True):
        tf_ids.setdefault(str(tf).upper(), set()).add(matrix_id)
    return tf_clusters(tf_ids, matrices, threshold=THRESHOLD if threshold is None else threshold)


@dataclass(frozen=True)
class DriverRecovery:
    """How many driver TFs the top patterns' best matches recover (:func:`driver_recovery`).

    Attributes
    ----------
    n_drivers, n_found, n_found_by_name
        Drivers; drivers found by name or look-alike cluster; by name alone.
    table
        One row per driver: driver, found, by_name, pattern (the first top pattern that
        recovers it, else empty), tf (that pattern's matching TF).
    """

    n_drivers: int
    n_found: int
    n_found_by_name: int
    table: pd.DataFrame


def driver_recovery(
    matches: pd.DataFrame,
    drivers: Sequence[str],
    *,
    top_patterns: int = 5,
    ranks: int = 1,
    sign: int = 1,
    clusters: Mapping[str, int] | pd.Series | None = None,
) -> DriverRecovery:
    """Drivers among the matches of the ``top_patterns`` largest patterns of one sign.

    Parameters
    ----------
    matches
        :func:`match_jaspar`'s table.
    drivers
        TF names, matched case-insensitively to JASPAR names (a dimer ``A::B`` matches ``A``
        and ``B``).
    top_patterns
        Patterns considered, by decreasing number of seqlets.
    ranks
        Matches considered per pattern (1: the best match only).
    sign
        Metacluster considered (+1: positive contributions).
    clusters
        Upper-case TF name → look-alike cluster (:func:`match_clusters`); a driver is also
        found when a match shares its cluster. ``None``: names only.
    """
    sel = matches[(matches["sign"] == sign) & (matches["rank"] <= ranks)]
    sizes = sel.drop_duplicates("pattern").sort_values("n_seqlets", ascending=False, kind="stable")
    chosen = {p: i for i, p in enumerate(sizes["pattern"].head(top_patterns))}
    top = sel[sel["pattern"].isin(chosen)]
    top = top.assign(_order=top["pattern"].map(chosen)).sort_values(["_order", "rank"])
    lookup = {} if clusters is None else {str(k).upper(): v for k, v in dict(clusters).items()}
    rows = []
    for driver in drivers:
        key = str(driver).upper()
        cluster = lookup.get(key)
        first, by_name = ("", ""), False
        for pattern, tf in zip(top["pattern"], top["tf"], strict=True):
            name_hit = key in _components(tf)
            cluster_hit = cluster is not None and any(
                lookup.get(c) == cluster for c in _components(tf)
            )
            by_name = by_name or name_hit
            if (name_hit or cluster_hit) and not first[0]:
                first = (pattern, tf)
        rows.append((driver, bool(first[0]), by_name, *first))
    table = pd.DataFrame(rows, columns=["driver", "found", "by_name", "pattern", "tf"])
    return DriverRecovery(
        n_drivers=len(table),
        n_found=int(table["found"].sum()),
        n_found_by_name=int(table["by_name"].sum()),
        table=table,
    )

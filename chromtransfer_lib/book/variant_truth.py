"""Variant effects where the truth is known: SNVs that break, create or avoid planted driver sites.

On the simulated world every planted site is known (:func:`.interpret_truth.planted_in_windows`),
so single-base variants can be *designed* with a known effect on the line's grammar
(:func:`design_variants`): ``breaks_driver`` (a planted driver site loses its best base),
``neutral`` (far from every planted site, no driver site made or lost) and ``creates_driver``
(a new site of a driver matrix). :func:`score_designed` scores them with a model's logit as
``chromtransfer variants`` does (:mod:`chromtransfer_lib.predict.variants`),
:func:`separation_table` measures how well ``|Δlogit|`` separates the kinds per model,
:func:`example_variants` picks rows to draw and :func:`variant_tracks_data` gives their before /
after gradient × input for :func:`.plots_tracks.draw_attribution_tracks`. Pure functions: models,
codes and tables in, tables out (ARCHITECTURE.md, book layer).

Sites are the exact-p scanner's (:func:`chromtransfer_lib.interpret.scan.scan_motifs`, both
strands) at the profile's ``p_value``, restricted to the line's driver matrices. A driver matrix
*has a site over* a variant when one of its hits overlaps the variant's base; it is *created*
when it has one in the alt window and none in the ref window, *destroyed* vice versa (the
CLI's ``sites_created`` / ``sites_destroyed``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from chromtransfer_lib.evaluate import auroc
from chromtransfer_lib.genome.sequence import N_CODE
from chromtransfer_lib.interpret.pvalues import reverse_complement_matrix
from chromtransfer_lib.interpret.scan import CountMatrix, MotifSet, prepare_motifs, scan_motifs

log = logging.getLogger(__name__)

#: Bumped when :func:`design_variants` changes what it designs (cached designs are keyed by it).
DESIGN_VERSION = 2
#: The designed kinds, in table order.
KINDS = ("breaks_driver", "neutral", "creates_driver")
#: Columns of :func:`design_variants` (``site_*``: the site broken or created, NA for neutral;
#: ``site_before`` / ``site_after``: the scanner's site over the variant in the ref / alt window).
VARIANT_COLUMNS = ["window", "pos", "ref", "alt", "kind", "tf", "matrix_id", "site_start",
                   "site_end", "site_strand", "site_before", "site_after"]  # fmt: skip
#: Columns :func:`score_designed` adds (float64 logits of the output neuron).
SCORE_COLUMNS = ["ref_logit", "alt_logit", "delta_logit", "abs_delta"]
_NEG = -(10**12)  # the score of N in a matrix row: a window with N is never a site


def design_variants(
    codes: np.ndarray,
    planted: pd.DataFrame,
    drivers: Mapping[str, str | None],
    matrices: Sequence[CountMatrix],
    *,
    p_value: float,
    per_window: int = 2,
    margin: int = 10,
    random_state: int,
) -> pd.DataFrame:
    """SNVs of known kind in the windows that carry a planted driver site of the line.

    Windows: the rows of ``codes`` with at least one planted site of role ``driver`` whose
    matrix is one of ``drivers``. In each, up to ``per_window`` variants of each kind:

    * ``breaks_driver``: inside a planted driver site that the scanner finds (a hit of its
      matrix at exactly its ``[start, end)``, either strand). The site's columns are ranked by
      the drop of its score (the matrix on the planted strand) when the observed base becomes
      the column's lowest-scoring base, largest first (the most informative base of the site);
      the variant is the first in that order after which no driver matrix has a site over the
      variant (the site is lost, and so is any look-alike driver's site on the same bases; none
      is created). ``per_window`` such sites per window are drawn at random (one variant each).
    * ``neutral``: a base at least ``margin`` bp from every planted site of any role (distance
      0 inside a site), changed to a random other base, with no site of any driver matrix over
      it before or after (so none is created or destroyed, and it is inside no scanned driver
      site); positions drawn at random, in order, until ``per_window`` pass.
    * ``creates_driver``: a base inside no planted site (any role) and its alternative such
      that a driver matrix is created and none destroyed, with a created site that overlaps no
      planted site (a new site, not an extension of a planted one). Every ``3 L`` SNV of the
      window is tried at once with the driver matrices' integer scores (the scanner's own, so
      exactly its hits); up to ``8 per_window + 8`` drawn at random are checked with the
      scanner, and the first ``per_window`` that pass are kept. ``tf`` / ``matrix_id`` /
      ``site_*`` name the first such created site's matrix in ``drivers`` order.

    Parameters
    ----------
    codes
        uint8 codes ``(n, L)`` of the analysed windows.
    planted
        Planted sites in window coordinates (:func:`.interpret_truth.planted_in_windows`):
        region (row of ``codes``), tf, matrix_id, role, strand, start, end.
    drivers
        The line's driver name → matrix ID (:func:`.interpret_truth.line_drivers`; ``None``
        IDs are left out).
    matrices
        Count matrices holding every driver ID (e.g. :func:`~chromtransfer_lib.genome.jaspar.
        load_jaspar`).
    p_value
        The scanner's threshold (the profile's ``interpret.p_value``).
    per_window, margin
        Variants of each kind per window; distance of a neutral variant from planted sites.
    random_state
        Seed of every draw.

    Returns
    -------
    pandas.DataFrame
        :data:`VARIANT_COLUMNS`, one row per SNV, sorted by window, pos, alt; ``ref``, ``alt``
        are codes 0-3, ``pos`` a window coordinate; ``tf``, ``matrix_id`` ``.`` for neutral.
    """
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    ids = [i for i in dict.fromkeys(drivers.values()) if i]
    by_id = {m.matrix_id: m for m in matrices}
    if missing := [i for i in ids if i not in by_id]:
        raise ValueError(f"driver matrices {missing} are not among the {len(by_id)} matrices")
    ms = prepare_motifs([by_id[i] for i in ids], p_value=p_value) if ids else None
    if ms is None or not ms.matrix_ids:
        log.warning("none of the %d driver matrices can reach p < %g: no variant designed",
                    len(ids), p_value)  # fmt: skip
        return pd.DataFrame(columns=VARIANT_COLUMNS)
    mine = planted[(planted["role"] == "driver") & planted["matrix_id"].isin(ms.matrix_ids)]
    mine = mine[mine["region"].between(0, len(codes) - 1)]
    windows = np.unique(mine["region"].to_numpy(np.int64))
    rng = np.random.default_rng(random_state)
    parts = [
        _breaks(codes, mine, ms, per_window, rng),
        _neutral(codes, planted, windows, ms, per_window, margin, rng),
        _creates(codes, planted, windows, ms, per_window, rng),
    ]
    if not any(len(p) for p in parts):
        return pd.DataFrame(columns=VARIANT_COLUMNS)
    out = pd.concat([p for p in parts if len(p)], ignore_index=True)
    for col in ("site_start", "site_end"):
        out[col] = out[col].astype("Int64")
    out = out.sort_values(["window", "pos", "alt"], kind="stable").reset_index(drop=True)
    log.info("designed %s", out["kind"].value_counts().reindex(KINDS, fill_value=0).to_dict())
    return out[VARIANT_COLUMNS]


def _over(codes, windows, pos, alt, ms) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Driver hits over each variant ``i`` (column ``variant``) in its ref and alt window,
    window coordinates; scanned on the ``2 w - 1`` bases around it (all a hit over it spans)."""
    span, length = max(m.shape[0] for m in ms.scores), codes.shape[1]
    idx = pos[:, None] + np.arange(1 - span, span)[None, :]
    inside = (idx >= 0) & (idx < length)
    ref = np.where(inside, codes[windows[:, None], np.clip(idx, 0, length - 1)], N_CODE)
    ref = ref.astype(np.uint8)
    alt_w = ref.copy()
    alt_w[:, span - 1] = alt
    out = []
    for sl in (ref, alt_w):
        hits = scan_motifs(sl, ms).hits
        hits = hits[(hits["start"] <= span - 1) & (hits["end"] > span - 1)]
        shift = pos[hits["region"].to_numpy()] - span + 1
        out.append(hits.assign(variant=hits["region"], start=hits["start"] + shift,
                               end=hits["end"] + shift))  # fmt: skip
    return out[0], out[1]


def _matrix_sets(hits: pd.DataFrame, n: int) -> list[set[str]]:
    sets: list[set[str]] = [set() for _ in range(n)]
    for i, m in zip(hits["variant"].to_numpy(), hits["matrix_id"].to_numpy(), strict=True):
        sets[i].add(m)
    return sets


def _rows(kind, windows, pos, codes, alt, tf, mid, site, before, after) -> pd.DataFrame:
    start, end, strand = site
    return pd.DataFrame({
        "window": windows, "pos": pos, "ref": codes[windows, pos].astype(np.int64),
        "alt": np.asarray(alt, np.int64), "kind": kind, "tf": tf, "matrix_id": mid,
        "site_start": start, "site_end": end, "site_strand": strand,
        "site_before": before, "site_after": after,
    })  # fmt: skip


def _breaks(codes, sites, ms, per_window, rng) -> pd.DataFrame:
    """One ``breaks_driver`` variant per chosen planted driver site (:func:`design_variants`)."""
    k_of = {m: k for k, m in enumerate(ms.matrix_ids)}
    cand = []  # (site, rank, window, pos, alt)
    for s, site in enumerate(sites.itertuples(index=False)):
        m = ms.scores[k_of[site.matrix_id]]
        m = m if site.strand == "+" else reverse_complement_matrix(m)
        x = codes[site.region, site.start : site.end]
        if x.size != m.shape[0] or (x == N_CODE).any():
            continue
        drop = m[np.arange(x.size), x] - m.min(axis=1)
        for rank, j in enumerate(np.argsort(-drop, kind="stable")):
            if drop[j] > 0:
                cand.append((s, rank, site.region, site.start + j, int(np.argmin(m[j]))))
    if not cand:
        return pd.DataFrame()
    c = pd.DataFrame(cand, columns=["site", "rank", "window", "pos", "alt"])
    w, p, a = (c[k].to_numpy(np.int64) for k in ("window", "pos", "alt"))
    ref_h, alt_h = _over(codes, w, p, a, ms)
    alt_m = _matrix_sets(alt_h, len(c))
    mid = sites["matrix_id"].to_numpy()[c["site"]]
    st, en = sites["start"].to_numpy()[c["site"]], sites["end"].to_numpy()[c["site"]]
    exact = set(zip(ref_h["variant"], ref_h["matrix_id"], ref_h["start"], ref_h["end"],
                    strict=True))  # fmt: skip
    found = np.array([(i, mid[i], st[i], en[i]) in exact for i in range(len(c))], bool)
    ok = found & np.array([not m for m in alt_m], bool)
    best = c[ok].drop_duplicates("site", keep="first")  # ranks are in order within a site
    log.info("planted driver sites: %d, found by the scanner: %d, lost by one SNV: %d",
             len(sites), c["site"][found].nunique(), len(best))  # fmt: skip
    chosen = []
    for _, group in best.groupby("window", sort=True):
        take = rng.permutation(len(group))[:per_window]
        chosen.append(group.iloc[np.sort(take)])
    if not chosen:
        return pd.DataFrame()
    b = pd.concat(chosen)
    site = sites.iloc[b["site"].to_numpy()]
    return _rows("breaks_driver", b["window"].to_numpy(np.int64), b["pos"].to_numpy(np.int64),
                 codes, b["alt"], site["tf"].to_numpy(), site["matrix_id"].to_numpy(),
                 (site["start"].to_numpy(), site["end"].to_numpy(), site["strand"].to_numpy()),
                 True, False)  # fmt: skip


def _distance(length: int, sites: pd.DataFrame) -> np.ndarray:
    """Distance ``(L,)`` of every base from the nearest of ``sites`` (0 inside one)."""
    pos, out = np.arange(length), np.full(length, np.iinfo(np.int64).max)
    for start, end in zip(sites["start"].to_numpy(), sites["end"].to_numpy(), strict=True):
        d = np.maximum(np.maximum(start - pos, pos - end + 1), 0)
        out = np.minimum(out, d)
    return out


def _first_passing(cand: pd.DataFrame, ok: np.ndarray, per_window: int) -> pd.DataFrame:
    kept = cand[ok]
    return kept[kept.groupby("window").cumcount() < per_window]


def _neutral(codes, planted, windows, ms, per_window, margin, rng) -> pd.DataFrame:
    """``neutral`` variants (:func:`design_variants`): drawn positions, checked by the scanner."""
    by_window = dict(tuple(planted.groupby("region")))
    cand = []
    for w in windows:
        x = codes[w]
        far = _distance(x.size, by_window.get(w, planted.iloc[:0])) >= margin
        eligible = np.flatnonzero(far & (x != N_CODE))
        for p in rng.permutation(eligible)[: 4 * per_window + 4]:
            cand.append((w, p, (int(x[p]) + int(rng.integers(1, 4))) % 4))
    if not cand:
        return pd.DataFrame()
    c = pd.DataFrame(cand, columns=["window", "pos", "alt"])
    w, p, a = (c[k].to_numpy(np.int64) for k in ("window", "pos", "alt"))
    ref_h, alt_h = _over(codes, w, p, a, ms)
    touched = np.zeros(len(c), bool)
    touched[np.r_[ref_h["variant"].to_numpy(), alt_h["variant"].to_numpy()].astype(np.int64)] = 1
    n = _first_passing(c, ~touched, per_window)
    return _rows("neutral", n["window"].to_numpy(np.int64), n["pos"].to_numpy(np.int64), codes,
                 n["alt"], ".", ".", (pd.NA, pd.NA, "."), False, False)  # fmt: skip


def _creating_snvs(x: np.ndarray, ms: MotifSet) -> np.ndarray:
    """bool ``(m, L, 4)``: matrix ``k`` has a site over base ``p`` after ``x[p] → b`` and none
    before (every SNV of one window at once, the scanner's integer scores, both strands)."""
    length, out = x.size, np.zeros((len(ms.scores), x.size, 4), bool)
    for k, fwd in enumerate(ms.scores):
        before, after = np.zeros(length, bool), np.zeros((length, 4), bool)
        for m in (fwd, reverse_complement_matrix(fwd)):
            w = m.shape[0]
            if w > length:
                continue
            m5 = np.concatenate([m, np.full((w, 1), _NEG)], axis=1)  # column 4: N
            starts = np.arange(length - w + 1)
            cols = x[starts[:, None] + np.arange(w)[None, :]]  # (s, w)
            part = m5[np.arange(w)[None, :], cols]
            total = part.sum(axis=1)
            hit = total >= ms.thresholds[k]
            new = total[:, None, None] - part[:, :, None] + m5[None, :, :4] >= ms.thresholds[k]
            s, j, b = np.nonzero(new)
            after[s + j, b] = True
            for j in range(w):
                before[starts[hit] + j] = True
        out[k] = after & ~before[:, None]
    out[:, np.arange(length), np.minimum(x, 3)] = False  # no change, or N
    out[:, x == N_CODE] = False
    return out


def _creates(codes, planted, windows, ms, per_window, rng) -> pd.DataFrame:
    """``creates_driver`` variants (:func:`design_variants`)."""
    by_window = dict(tuple(planted.groupby("region")))
    cand = []
    for w in windows:
        made = _creating_snvs(codes[w], ms).any(axis=0)
        made[_distance(codes.shape[1], by_window.get(w, planted.iloc[:0])) == 0] = False
        p, b = np.nonzero(made)
        for i in rng.permutation(p.size)[: 8 * per_window + 8]:
            cand.append((w, p[i], b[i]))
    if not cand:
        return pd.DataFrame()
    c = pd.DataFrame(cand, columns=["window", "pos", "alt"])
    w, p, a = (c[k].to_numpy(np.int64) for k in ("window", "pos", "alt"))
    ref_h, alt_h = _over(codes, w, p, a, ms)
    ref_m, alt_m = _matrix_sets(ref_h, len(c)), _matrix_sets(alt_h, len(c))
    ok = np.array([bool(alt_m[i] - ref_m[i]) and ref_m[i] <= alt_m[i] for i in range(len(c))])
    if (~ok).any():
        log.warning("%d of %d candidate creating SNVs not confirmed by the scanner (no new "
                    "driver site, or one lost as well)", (~ok).sum(), ok.size)  # fmt: skip
    new = _new_sites(alt_h, ref_m, alt_m, w, by_window, planted)
    clear = np.array([i in new for i in range(len(c))], bool)
    if (ok & ~clear).any():
        log.info("%d of %d confirmed creating SNVs left out: every new site overlaps a planted "
                 "site", (ok & ~clear).sum(), ok.sum())  # fmt: skip
    c = c.assign(variant=np.arange(len(c)))
    kept = _first_passing(c, ok & clear, per_window)
    order = {m: k for k, m in enumerate(ms.matrix_ids)}
    name = dict(zip(ms.matrix_ids, ms.names, strict=True))
    mids, sites = [], []
    for i in kept["variant"]:
        h = new[i].sort_values("matrix_id", key=lambda m: m.map(order), kind="stable").iloc[0]
        mids.append(h["matrix_id"])
        sites.append((h["start"], h["end"], h["strand"]))
    start, end, strand = (list(v) for v in zip(*sites, strict=True)) if sites else ([], [], [])
    return _rows("creates_driver", kept["window"].to_numpy(np.int64),
                 kept["pos"].to_numpy(np.int64), codes, kept["alt"], [name[m] for m in mids],
                 mids, (start, end, strand), False, True)  # fmt: skip


def _new_sites(alt_h, ref_m, alt_m, windows, by_window, planted) -> dict[int, pd.DataFrame]:
    """Candidate ``i`` → its created driver hits (matrices in the alt window's set, not the
    ref's) that overlap no planted site of its window, for the candidates that have one."""
    out = {}
    for i, hits in alt_h.groupby("variant", sort=True):
        made = hits[hits["matrix_id"].isin(alt_m[i] - ref_m[i])]
        mine = by_window.get(windows[i], planted.iloc[:0])
        lo, hi = mine["start"].to_numpy(), mine["end"].to_numpy()
        free = [
            not ((lo < e) & (hi > s)).any()
            for s, e in zip(made["start"].to_numpy(), made["end"].to_numpy(), strict=True)
        ]
        if any(free):
            out[int(i)] = made[np.asarray(free, bool)]
    return out


def _alt_windows(codes: np.ndarray, variants: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    w = variants["window"].to_numpy(np.int64)
    ref = np.ascontiguousarray(codes[w], dtype=np.uint8)
    alt = ref.copy()
    alt[np.arange(len(w)), variants["pos"].to_numpy(np.int64)] = variants["alt"].to_numpy()
    return ref, alt


def score_designed(
    model, codes: np.ndarray, variants: pd.DataFrame, *, batch_size: int = 512
) -> pd.DataFrame:
    """``variants`` with the model's logit of the ref and alt windows (:data:`SCORE_COLUMNS`).

    The logit is the output neuron's pre-activation
    (:func:`~chromtransfer_lib.interpret.attribution.target_model` ``(target="logit")``) through
    :func:`~chromtransfer_lib.data.pipeline.predict_proba`, as ``chromtransfer variants``; ref
    and alt windows go through one call, ``batch_size`` windows at a time. ``delta_logit`` is
    alt − ref (float64), ``abs_delta`` its absolute value.
    """
    from chromtransfer_lib.data.pipeline import predict_proba
    from chromtransfer_lib.interpret.attribution import target_model

    ref, alt = _alt_windows(codes, variants)
    if not len(ref):
        return variants.assign(**{c: np.zeros(0) for c in SCORE_COLUMNS})
    z = predict_proba(target_model(model, target="logit"), np.concatenate([ref, alt]),
                      batch_size=batch_size).astype(np.float64)  # fmt: skip
    z_ref, z_alt = z[: len(ref)], z[len(ref) :]
    return variants.assign(ref_logit=z_ref, alt_logit=z_alt, delta_logit=z_alt - z_ref,
                           abs_delta=np.abs(z_alt - z_ref))  # fmt: skip


def separation_table(scored_by_model: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """How well ``|Δlogit|`` separates each effect kind from ``neutral``, per model.

    One row per model label and comparison (``breaks_driver``, ``creates_driver``, each against
    ``neutral``): ``n_kind``, ``n_neutral``, ``auroc`` (of ``abs_delta``, the kind as positive
    class; NaN when a class is empty), ``median_abs_delta_kind``, ``median_abs_delta_neutral``,
    ``share_expected_sign`` (``delta_logit < 0`` for breaks, ``> 0`` for creates).
    """
    rows = []
    for label, t in scored_by_model.items():
        neutral = t.loc[t["kind"] == "neutral", "abs_delta"].to_numpy(float)
        for kind, sign in (("breaks_driver", -1.0), ("creates_driver", 1.0)):
            mine = t[t["kind"] == kind]
            x = mine["abs_delta"].to_numpy(float)
            y = np.r_[np.ones(x.size), np.zeros(neutral.size)]
            rows.append({
                "model": label, "comparison": f"{kind} vs neutral",
                "n_kind": x.size, "n_neutral": neutral.size, "auroc": auroc(y, np.r_[x, neutral]),
                "median_abs_delta_kind": np.median(x) if x.size else np.nan,
                "median_abs_delta_neutral": np.median(neutral) if neutral.size else np.nan,
                "share_expected_sign": float((sign * mine["delta_logit"] > 0).mean())
                if len(mine) else np.nan,
            })  # fmt: skip
    return pd.DataFrame(rows)


def example_variants(scored: pd.DataFrame, *, n: int = 2) -> pd.DataFrame:
    """Rows to draw: per kind, the ``n`` largest ``abs_delta`` of ``breaks_driver`` and
    ``creates_driver``, and the ``n`` ``neutral`` closest to the neutral median (typical ones),
    in :data:`KINDS` order."""
    parts = []
    for kind in KINDS:
        t = scored[scored["kind"] == kind]
        if kind == "neutral":
            key = (t["abs_delta"] - t["abs_delta"].median()).abs()
            parts.append(t.loc[key.sort_values(kind="stable").index[:n]])
        else:
            parts.append(t.sort_values("abs_delta", ascending=False, kind="stable").head(n))
    return pd.concat(parts)


@dataclass(frozen=True)
class VariantTracks:
    """Before / after gradient × input of one variant (``(L,)`` arrays, window coordinates).

    ``sites``: the variant's broken or created site (``start, end, tf``) and the variant itself
    (one base, ``tf`` = ``REF>ALT``), for shading; ``planted``: the window's planted sites.
    """

    variant: pd.Series
    ref_codes: np.ndarray
    alt_codes: np.ndarray
    ref_gxi: np.ndarray
    alt_gxi: np.ndarray
    sites: pd.DataFrame
    planted: pd.DataFrame | None

    def panels(self) -> list[dict]:
        """Keyword arguments of :func:`.plots_tracks.draw_attribution_tracks` (or
        :func:`.plots_tracks.plot_attribution_tracks`): the ref panel, then the alt panel."""
        v, bases = self.variant, "ACGT"
        return [
            {"codes": c, "tracks": {f"{lab} {bases[int(v[lab.lower()])]}": g},
             "sites": self.sites, "planted": self.planted}
            for lab, c, g in (("REF", self.ref_codes, self.ref_gxi),
                              ("ALT", self.alt_codes, self.alt_gxi))
        ]  # fmt: skip


def variant_tracks_data(
    model,
    codes: np.ndarray,
    variants: pd.DataFrame,
    *,
    planted: pd.DataFrame | None = None,
    batch_size: int = 64,
) -> list[VariantTracks]:
    """Gradient × input of the model's logit on the ref and alt window of each variant row.

    Parameters
    ----------
    model
        A binary Keras model (sigmoid output); its logit is attributed
        (:func:`~chromtransfer_lib.interpret.attribution.grad_x_input` of ``target_model``).
    codes
        uint8 ``(n, L)`` windows the variants' ``window`` indexes.
    variants
        Rows of :func:`design_variants` (e.g. :func:`example_variants`).
    planted
        Planted sites in window coordinates, to draw below the tracks (optional).
    batch_size
        Windows per compiled call.

    Returns
    -------
    list of VariantTracks
        One per row, in order.
    """
    from chromtransfer_lib.interpret.attribution import grad_x_input, target_model

    ref, alt = _alt_windows(codes, variants)
    if not len(ref):
        return []
    g = grad_x_input(target_model(model, target="logit"), np.concatenate([ref, alt]),
                     batch_size=batch_size)  # fmt: skip
    out = []
    for i, (_, v) in enumerate(variants.iterrows()):
        label = f"{'ACGT'[int(v['ref'])]}>{'ACGT'[int(v['alt'])]}"
        rows = [(int(v["pos"]), int(v["pos"]) + 1, label)]
        if v["kind"] != "neutral":
            rows.insert(0, (int(v["site_start"]), int(v["site_end"]), v["tf"]))
        mine = None if planted is None else planted[planted["region"] == v["window"]]
        sites = pd.DataFrame(rows, columns=["start", "end", "tf"])
        out.append(VariantTracks(v, ref[i], alt[i], g[i], g[len(ref) + i], sites, mine))
    return out

"""Glue for the interpretation chapters (6 and 7): analysed regions, cached arrays, tidy tables.

The stage functions (``ensure_*``) take a :class:`~chromtransfer_lib.stages.RunContext`, map
its profile onto the explicit arguments of :mod:`.attribution`, :mod:`.motifs` and
:mod:`.enrichment`, and cache what is expensive under ``<run_dir>/interpret/``, keyed by the
content of the model files and the analysed sequences, so chapter 7 reuses chapter 6's work
and a retrained model is never paired with stale attributions::

    interpret/regions-<key>/     codes.npy, regions.parquet, selection.tsv
    interpret/gxi-<model>-<regions>.npz    gradient x input (n, L) and probabilities (n,)
    interpret/scan-<regions>-<p>.parquet   motif hits (+ .unreachable.tsv)
    interpret/ism-<model>-<regions>-<rows>.npz

The analysed regions (:class:`RegionSet`) follow the paper: the positive predictions
(``p >= 0.5``, training and test rows) of each line's fine-tuned model, capped at
``interpret.max_regions`` by a seeded subsample; their union serves the HepG2 − K562
comparison. Every model is attributed on the whole union; analyses pick rows with
:meth:`RegionSet.rows`. The pure functions below (selection, driver matching, rankings, ground
truth in window coordinates) are what the tests check.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from .enrichment import non_overlapping_background, site_scores

log = logging.getLogger(__name__)

#: Short model keys (metric names) → labels in figures and tables.
MODEL_LABELS: dict[str, str] = {
    "HepG2": "HepG2 ChromTransfer",
    "K562": "K562 ChromTransfer",
    "pretrained": "pre-trained",
    "scratch_HepG2": "HepG2 binary baseline",
}


# --- which regions ----------------------------------------------------------------------------


class Selection(NamedTuple):
    """Rows chosen for attribution, and how."""

    rows: np.ndarray  #: sorted row indices
    n_positive: int  #: rows with ``p >= threshold`` before the cap
    fallback: bool  #: no positive prediction: the best-scoring labelled positives were used


def select_positive_predictions(
    proba: np.ndarray,
    labels: np.ndarray,
    *,
    threshold: float = 0.5,
    max_regions: int,
    random_state: int,
) -> Selection:
    """Positive predictions (``proba >= threshold``), a seeded subsample of ``max_regions``.

    When a model predicts nothing positive (an untrained model), the ``max_regions`` labelled
    positives with the highest probabilities are used instead and ``fallback`` is set, so the
    chapters still show something and say so.
    """
    proba, labels = np.asarray(proba), np.asarray(labels)
    rows = np.flatnonzero(proba >= threshold)
    n_positive, fallback = rows.size, rows.size == 0
    if fallback:
        pos = np.flatnonzero(labels == 1)
        rows = pos[np.argsort(-proba[pos], kind="stable")[:max_regions]]
    elif rows.size > max_regions:
        rows = np.random.default_rng(random_state).choice(rows, max_regions, replace=False)
    return Selection(np.sort(rows), int(n_positive), bool(fallback))


def union_regions(
    tables: Mapping[str, pd.DataFrame], codes: Mapping[str, np.ndarray]
) -> tuple[pd.DataFrame, np.ndarray]:
    """Union of per-line region tables (deduplicated on ``chrom, start, end``) and their codes.

    Returns the union table (``chrom, start, end, region_start, region_end, name, split``,
    ``in_<line>`` flags and ``y_<line>`` labels, NaN where the row was not selected for that
    line) and its codes ``(n, L)``, in first-seen order.
    """
    keys = ["chrom", "start", "end"]
    base = ["chrom", "start", "end", "region_start", "region_end", "name", "split"]
    parts = []
    for line, tab in tables.items():
        part = tab[base].reset_index(drop=True).copy()
        part["_line"], part["_y"], part["_i"] = line, tab["y"].to_numpy(float), np.arange(len(tab))
        parts.append(part)
    if not parts:
        return pd.DataFrame(columns=base), np.zeros((0, 0), np.uint8)
    long = pd.concat(parts, ignore_index=True)
    union = long.drop_duplicates(keys, keep="first").reset_index(drop=True)
    pos = long.merge(union[keys].reset_index(names="_u"), on=keys)["_u"].to_numpy()
    out = union[base].copy()
    for line in tables:
        sel = (long["_line"] == line).to_numpy()
        out[f"in_{line}"] = np.isin(np.arange(len(out)), pos[sel])
        y = np.full(len(out), np.nan)
        y[pos[sel]] = long.loc[sel, "_y"].to_numpy()
        out[f"y_{line}"] = y
    first = union[["_line", "_i"]].to_numpy()
    seq = np.stack([codes[line][i] for line, i in first]) if len(first) else None
    return out, np.ascontiguousarray(seq, dtype=np.uint8)


@dataclass(frozen=True)
class RegionSet:
    """The analysed regions: codes ``(n, L)`` uint8, their table, a content key, the selection."""

    codes: np.ndarray
    regions: pd.DataFrame
    key: str
    selection: pd.DataFrame

    def rows(self, line: str | None = None) -> np.ndarray:
        """Rows selected for ``line`` (all rows when ``None``)."""
        if line is None:
            return np.arange(len(self.regions))
        return np.flatnonzero(self.regions[f"in_{line}"].to_numpy(bool))


# --- cache --------------------------------------------------------------------------------------


def _digest(*parts: object) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else repr(p).encode())
    return h.hexdigest()[:16]


def file_key(path: str | Path) -> str:
    """Content hash of a file (a saved model): a retrained model gets a new key."""
    return _digest(Path(path).read_bytes())


def _cache_dir(ctx: object) -> Path:
    out = Path(ctx.run_dir) / "interpret"
    out.mkdir(parents=True, exist_ok=True)
    return out


# --- stages -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InterpretModels:
    """Trained models by key (:data:`MODEL_LABELS`) and their saved files."""

    models: dict[str, object]
    paths: dict[str, Path]

    def table(self, root: Path) -> pd.DataFrame:
        """Model key, label and saved file (relative to ``root`` when inside it)."""
        rows = []
        for key, path in self.paths.items():
            rel = path.relative_to(root) if path.is_relative_to(root) else path
            rows.append({"key": key, "model": MODEL_LABELS.get(key, key), "file": str(rel)})
        return pd.DataFrame(rows)


def ensure_models(
    ctx: object, datasets: object, *, lines: Sequence[str] = ("HepG2", "K562")
) -> InterpretModels:
    """The fine-tuned models of ``lines``, the pre-trained model and the HepG2 binary baseline
    (trained through :mod:`.stages` if chapters 2–3 have not run)."""
    from . import stages

    pre_cv = stages.ensure_pretrained(ctx, datasets)
    runs = {"pretrained": pre_cv.runs[0]}
    for line in lines:
        runs[line] = stages.ensure_line_model(ctx, datasets, pre_cv, line=line, kind="finetune")
        runs[line] = runs[line].runs[0]
    cv = stages.ensure_line_model(ctx, datasets, pre_cv, line="HepG2", kind="scratch")
    runs["scratch_HepG2"] = cv.runs[0]
    return InterpretModels(
        {k: r.model for k, r in runs.items()}, {k: Path(r.model_path) for k, r in runs.items()}
    )


def ensure_region_set(
    ctx: object,
    datasets: object,
    models: InterpretModels,
    *,
    lines: Sequence[str] = ("HepG2", "K562"),
) -> RegionSet:
    """Each line's positive predictions by its fine-tuned model (cached), and their union."""
    from .attribution import predict_proba

    cfg, seed = ctx.profile.interpret, ctx.profile.seed
    key = _digest(
        [file_key(models.paths[line]) for line in lines],
        [str(datasets.finetune[line].path.name) for line in lines],
        cfg.max_regions,
        seed,
    )
    folder = _cache_dir(ctx) / f"regions-{key}"
    if (folder / "regions.parquet").is_file():
        return RegionSet(
            np.load(folder / "codes.npy"),
            pd.read_parquet(folder / "regions.parquet"),
            key,
            pd.read_csv(folder / "selection.tsv", sep="\t"),
        )
    tables, codes, summary = {}, {}, []
    for line in lines:
        ds = datasets.finetune[line]
        proba = predict_proba(models.models[line], np.asarray(ds.codes))
        sel = select_positive_predictions(
            proba, ds.labels, max_regions=cfg.max_regions, random_state=seed
        )
        tables[line], codes[line] = ds.regions.iloc[sel.rows], np.asarray(ds.codes[sel.rows])
        summary.append(
            {
                "cell_line": line,
                "rows (train + test)": len(ds),
                "labelled positive": int((ds.labels == 1).sum()),
                "predicted positive": sel.n_positive,
                "analysed": len(sel.rows),
                "fallback": sel.fallback,
            }
        )
    table, seq = union_regions(tables, codes)
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "codes.npy", seq)
    selection = pd.DataFrame(summary)
    selection.to_csv(folder / "selection.tsv", sep="\t", index=False)
    table.to_parquet(folder / "regions.parquet")  # last: its presence marks a complete folder
    return RegionSet(seq, table, key, selection)


def logit_model(model: object) -> object:
    """The model up to the pre-activation of its sigmoid output neuron (the logit).

    A new Keras model sharing every layer of ``model`` but the last, which is replaced by a
    linear copy with the same weights, so ``sigmoid(logit_model(x)) == model(x)``.
    """
    import keras

    out = model.layers[-1]
    if getattr(getattr(out, "activation", None), "__name__", "") != "sigmoid":
        raise ValueError(
            f"{model.name}: the last layer {out.name!r} is not a sigmoid Dense layer; logits are "
            "defined for the binary models only (use the probability for the multiclass model)"
        )
    linear = keras.layers.Dense(out.units, activation=None, dtype="float32", name="logit")
    logit = linear(out.input)
    linear.set_weights(out.get_weights())
    return keras.Model(model.inputs, logit, name=f"{model.name}_logit")


#: What gradient × input differentiates: the output neuron's pre-activation, or the probability.
TARGETS = ("logit", "probability")


def ensure_attributions(
    ctx: object,
    models: InterpretModels,
    regions: RegionSet,
    *,
    target: str = "logit",
    only: Sequence[str] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Gradient × input ``(n, L)`` and probabilities ``(n,)`` of each model on every region.

    Parameters
    ----------
    target
        ``"logit"`` (default): the gradient of the output neuron's pre-activation. The sigmoid
        saturates, so the gradient of the probability of a region predicted at p = 0.999 is
        ~250× smaller than at p = 0.5 whatever its sequence; pooled over regions, probability
        gradients rank sites by how *uncertain* their region is. ``"probability"``: the
        gradient of p itself (shown for comparison).
    only
        Model keys to attribute (default all).
    """
    from .attribution import grad_x_input, predict_proba

    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    gxi, proba = {}, {}
    for name in only or list(models.models):
        model = models.models[name]
        key = f"{target}-{file_key(models.paths[name])}-{regions.key}"
        path = _cache_dir(ctx) / f"gxi-{key}.npz"
        if not path.is_file():
            attributed = logit_model(model) if target == "logit" else model
            g = grad_x_input(attributed, regions.codes, verbose=ctx.progress)
            p = predict_proba(model, regions.codes)
            np.savez(path.with_suffix(".tmp.npz"), gxi=g, proba=p)
            path.with_suffix(".tmp.npz").replace(path)
        with np.load(path) as f:
            gxi[name], proba[name] = f["gxi"], f["proba"]
    return gxi, proba


def saturation_table(
    gxi_logit: np.ndarray, gxi_probability: np.ndarray, proba: np.ndarray, rows: np.ndarray
) -> pd.DataFrame:
    """Median per-region max |gradient × input| by predicted-probability bin, for both targets.

    Shows why logits are attributed: probability gradients shrink as p approaches 1.
    """
    bins = [0.0, 0.5, 0.9, 0.99, 0.999, 1.0]
    p = proba[rows]
    frame = pd.DataFrame(
        {
            "probability bin": pd.cut(p, bins, include_lowest=True),
            "logit target": np.abs(gxi_logit[rows]).max(axis=1),
            "probability target": np.abs(gxi_probability[rows]).max(axis=1),
        }
    )
    out = frame.groupby("probability bin", observed=True).agg(
        regions=("logit target", "size"),
        logit=("logit target", "median"),
        probability=("probability target", "median"),
    )
    return out.rename(
        columns={
            "logit": "median max |g×i|, logit",
            "probability": "median max |g×i|, probability",
        }
    )


class Scan(NamedTuple):
    """Motif hits on the analysed regions and the matrices that cannot reach the threshold."""

    hits: pd.DataFrame
    unreachable: pd.DataFrame
    n_matrices: int


def ensure_scan(ctx: object, regions: RegionSet, *, release: str = "JASPAR2022") -> Scan:
    """Scan every CORE vertebrate matrix of ``release`` at ``interpret.p_value`` (cached)."""
    from .jaspar import load_jaspar
    from .motifs import prepare_motifs, scan_motifs

    p = ctx.profile.interpret.p_value
    path = _cache_dir(ctx) / f"scan-{regions.key}-{_digest(release, p)}.parquet"
    unreach = path.with_suffix(".unreachable.tsv")
    matrices = load_jaspar(release=release, collection="CORE", tax_group="vertebrates")
    if not path.is_file():
        scan = scan_motifs(regions.codes, prepare_motifs(matrices, p_value=p))
        scan.unreachable.to_csv(unreach, sep="\t", index=False)
        scan.hits.to_parquet(path)
    return Scan(pd.read_parquet(path), pd.read_csv(unreach, sep="\t"), len(matrices))


def ensure_ism(
    ctx: object,
    models: InterpretModels,
    regions: RegionSet,
    *,
    model: str,
    rows: np.ndarray,
    target: str = "logit",
) -> np.ndarray:
    """ISM deltas ``(len(rows), L)`` of ``model`` on ``rows`` of the region set (cached).

    ``target="logit"`` (default) measures the change of the output neuron's pre-activation, on
    the same scale as :func:`ensure_attributions`; ``"probability"`` is the paper's delta.
    """
    from .attribution import in_silico_mutagenesis

    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    rows = np.asarray(rows, dtype=np.int64)
    key = f"{target}-{file_key(models.paths[model])}-{regions.key}-{_digest(rows.tobytes())}"
    path = _cache_dir(ctx) / f"ism-{key}.npz"
    if not path.is_file():
        net = models.models[model]
        net = logit_model(net) if target == "logit" else net
        res = in_silico_mutagenesis(net, regions.codes[rows], verbose=ctx.progress)
        np.savez(path.with_suffix(".tmp.npz"), delta=res.delta)
        path.with_suffix(".tmp.npz").replace(path)
    with np.load(path) as f:
        return f["delta"]


def pick_rows(
    regions: RegionSet,
    proba: np.ndarray,
    *,
    line: str,
    n: int,
    true_positive: bool = True,
    random_state: int | None = None,
) -> np.ndarray:
    """``n`` rows of ``line``'s set, labelled positive (and predicted positive when any is).

    With ``random_state`` a seeded sample (ISM, as the paper's true positives); without, the
    rows with the highest probabilities (example tracks).
    """
    rows = regions.rows(line)
    if true_positive:
        rows = rows[regions.regions[f"y_{line}"].to_numpy()[rows] == 1]
        if (proba[rows] >= 0.5).any():
            rows = rows[proba[rows] >= 0.5]
    if random_state is None:
        return rows[np.argsort(-proba[rows], kind="stable")[:n]]
    if rows.size > n:
        rows = np.random.default_rng(random_state).choice(rows, n, replace=False)
    return np.sort(rows)


# --- site tables --------------------------------------------------------------------------------


def scored_sites(hits: pd.DataFrame, attributions: np.ndarray, rows: np.ndarray) -> pd.DataFrame:
    """Hits in ``rows`` with ``site_score`` = max gradient × input over the site's bases."""
    return site_scores(hits[hits["region"].isin(rows)], attributions).reset_index(drop=True)


def ism_site_table(
    hits: pd.DataFrame, gxi: np.ndarray, ism_delta: np.ndarray, rows: np.ndarray
) -> pd.DataFrame:
    """Sites in the ISM ``rows``: ``gxi_max``, ``ism_min`` and ``ism_importance = -ism_min``."""
    rows = np.asarray(rows)
    sub = hits[hits["region"].isin(rows)].copy()
    local = sub.assign(region=np.searchsorted(rows, sub["region"].to_numpy()))
    out = site_scores(local, gxi[rows], name="gxi_max")
    out["ism_min"] = site_scores(local, ism_delta, reduce="min", name="m")["m"].to_numpy()
    out["ism_importance"] = -out["ism_min"]
    out["region"] = sub["region"].to_numpy()
    return out.reset_index(drop=True)


def agreement_factors(names: Sequence[str]) -> list[str]:
    """The Fig S3 factors present: CEBPA, HNF4A and a FOS/JUN heterodimer (first such name)."""
    names = list(dict.fromkeys(names))
    upper = {n.upper(): n for n in names}
    found = [upper[t] for t in ("CEBPA", "HNF4A") if t in upper]
    fosjun = [n for n in names if "::" in n and "FOS" in n.upper() and "JUN" in n.upper()]
    return found + sorted(fosjun)[:1]


def ecdf_frame(
    sites: Mapping[str, pd.DataFrame], tfs: Sequence[str], *, score_col: str = "site_score"
) -> pd.DataFrame:
    """Long table for ECDFs: per model and highlighted TF, its sites vs non-overlapping others.

    Columns: model, panel (the TF), group (the TF's name or ``"other TFs"``), score. TFs are
    matched case-insensitively; a TF without sites is left out.
    """
    parts = []
    for model, tab in sites.items():
        upper = tab["tf"].str.upper().to_numpy()
        for tf in tfs:
            members = upper == tf.upper()
            if not members.any():
                continue
            bg = non_overlapping_background(tab, members)
            for group, mask in ((tf, members), ("other TFs", bg)):
                parts.append(
                    pd.DataFrame(
                        {"model": model, "panel": tf, "group": group, "score": tab[score_col][mask]}
                    )
                )
    cols = ["model", "panel", "group", "score"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)


# --- rankings and the planted drivers -----------------------------------------------------------


def top_tfs(ks: pd.DataFrame, *, by: str = "tf", positive_only: bool = False) -> list[str]:
    """Significant TFs by descending signed D (only those with ``D > 0`` if ``positive_only``)."""
    sig = ks[ks["significant"].astype(bool)]
    if positive_only:
        sig = sig[sig["D_signed"] > 0]
    return sig.sort_values("D_signed", ascending=False, kind="stable")[by].tolist()


def _matches(name: str, driver: str, ids: Mapping[str, set], driver_id: str | None) -> bool:
    return name.upper() == driver.upper() or (driver_id is not None and driver_id in ids[name])


def driver_ranks(
    ks: pd.DataFrame,
    drivers: Sequence[str],
    *,
    driver_ids: Mapping[str, str] | None = None,
    tf_ids: Mapping[str, set[str]] | None = None,
    by: str = "tf",
) -> pd.DataFrame:
    """Where each planted driver lands in a KS ranking.

    Parameters
    ----------
    ks
        :func:`~chromtransfer_lib.enrichment.ks_enrichment` table (tf, D_signed, fdr,
        significant).
    drivers
        Driver names as the profile spells them (``"SPI1"`` matches JASPAR's ``"Spi1"``).
    driver_ids
        Optional driver name → JASPAR matrix ID; a TF whose matrices include it matches too.
    tf_ids
        TF name → the matrix IDs behind it (from the hits), needed for ID matching.

    Returns
    -------
    pandas.DataFrame
        driver, tf (the matched name, or NaN), rank (1 = highest signed D among the tested TFs;
        NaN when not tested), n_tested, D_signed, fdr, significant, top_rank (position among
        the significant TFs with D > 0, NaN if not there).
    """
    ranked = ks.sort_values("D_signed", ascending=False, kind="stable").reset_index(drop=True)
    top = top_tfs(ranked, by=by, positive_only=True)
    ids = {n: set((tf_ids or {}).get(n, ())) for n in ranked[by]}
    rows = []
    for d in drivers:
        did = (driver_ids or {}).get(d)
        hit = [i for i, n in enumerate(ranked[by]) if _matches(n, d, ids, did)]
        row = {"driver": d, "tf": np.nan, "rank": np.nan, "n_tested": len(ranked)}
        row |= {"D_signed": np.nan, "fdr": np.nan, "significant": False, "top_rank": np.nan}
        if hit:
            r = ranked.iloc[hit[0]]
            row |= {"tf": r[by], "rank": hit[0] + 1, "D_signed": r["D_signed"], "fdr": r["fdr"]}
            row |= {"significant": bool(r["significant"])}
            row["top_rank"] = top.index(r[by]) + 1 if r[by] in top else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def drivers_in_top(ranks: pd.DataFrame, *, n: int = 5) -> int:
    """Drivers among the ``n`` best significant TFs with D > 0 (from :func:`driver_ranks`)."""
    return int((ranks["top_rank"] <= n).sum())


def tf_matrix_ids(hits: pd.DataFrame) -> dict[str, set[str]]:
    """TF name → the matrix IDs of its hits."""
    return {tf: set(g) for tf, g in hits.groupby("tf")["matrix_id"]}


def line_drivers(
    motif_roles: pd.DataFrame | None, drivers: Mapping[str, Sequence[str]], line: str
) -> dict[str, str | None]:
    """Driver name → matrix ID for ``line`` (IDs from the world's ``motifs.tsv`` when given)."""
    ids: dict[str, str | None] = {d: None for d in drivers.get(line, ())}
    if motif_roles is not None and len(ids):
        mine = motif_roles[motif_roles["driver_of"] == line]
        for d in ids:
            same = mine[mine["name"].str.upper() == d.upper()]
            ids[d] = same["matrix_id"].iloc[0] if len(same) else None
    return ids


def planted_in_windows(truth: pd.DataFrame, regions: pd.DataFrame) -> pd.DataFrame:
    """Planted sites in the coordinates of the analysed windows.

    A site belongs to every window that contains all of its bases (genome coordinates; usually
    only its own region's window, but overlapping regions share sites, and background sites can
    fall in a window too).

    Parameters
    ----------
    truth
        The world's ``ground_truth.tsv``: region (rDHS name, ``.`` for background), chrom,
        start, end (genome, 0-based half-open), rel_start, rel_end (from the 600-bp region's
        start), tf, matrix_id, role, region_class, strand.
    regions
        Analysed windows: chrom, start, end (the stored input window). Row ``i`` is attribution
        row ``i``. (The 600-bp region starts ``(600 - L) // 2`` bases before the window; a
        site's window coordinate is ``rel_start - (start - region_start)``, the same number.)

    Returns
    -------
    pandas.DataFrame
        One row per (site, window): region (row of ``regions``), rdhs, tf, matrix_id, role,
        region_class, strand, start, end (0-based, half-open, window-relative).
    """
    t = truth.rename(columns={"region": "rdhs"}).reset_index(drop=True)
    placed = t[t["rel_start"].notna()]
    n_starts = (placed["start"] - placed["rel_start"]).groupby(placed["rdhs"]).nunique()
    if (n_starts > 1).any():
        bad = n_starts[n_starts > 1].index[0]
        raise ValueError(
            f"ground truth: sites of {bad} disagree on the region start (start - rel_start); "
            "is this a ground_truth.tsv written by chromtransfer_lib.simulate?"
        )
    pairs = []
    win = regions.reset_index(drop=True)
    for chrom, w in win.groupby("chrom", sort=False):
        sites = t[t["chrom"] == chrom]
        order = np.argsort(w["start"].to_numpy(), kind="stable")
        w_start, w_end = w["start"].to_numpy()[order], w["end"].to_numpy()[order]
        w_row = w.index.to_numpy()[order]
        longest = int((w_end - w_start).max())
        s_start, s_end = sites["start"].to_numpy(), sites["end"].to_numpy()
        lo = np.searchsorted(w_start, s_end - longest, side="left")
        hi = np.searchsorted(w_start, s_start, side="right")  # windows starting at or before
        n = np.maximum(hi - lo, 0)
        site_i = np.repeat(np.arange(len(sites)), n)
        cand = np.repeat(lo - np.cumsum(n) + n, n) + np.arange(n.sum())
        keep = w_end[cand] >= s_end[site_i]
        site_i, cand = site_i[keep], cand[keep]
        pairs.append(
            sites.iloc[site_i].assign(
                region=w_row[cand],
                start=s_start[site_i] - w_start[cand],
                end=s_end[site_i] - w_start[cand],
            )
        )
    cols = ["region", "rdhs", "tf", "matrix_id", "role", "region_class", "strand", "start", "end"]
    if not pairs:
        return pd.DataFrame(columns=cols)
    out = pd.concat(pairs, ignore_index=True)[cols]
    return out.sort_values(["region", "start"], kind="stable").reset_index(drop=True)


def ranking_long(tables: Mapping[str, pd.DataFrame], *, by: str = "tf") -> pd.DataFrame:
    """KS tables of several analyses stacked with their ``rank`` (1 = highest signed D)."""
    parts = [
        t.sort_values("D_signed", ascending=False, kind="stable").assign(
            analysis=name, rank=np.arange(1, len(t) + 1)
        )
        for name, t in tables.items()
    ]
    cols = ["analysis", "rank", by, "n_sites", "D_signed", "fdr", "significant"]
    return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)


def d_versus(
    ks_a: pd.DataFrame, ks_b: pd.DataFrame, ks_diff: pd.DataFrame, *, by: str = "tf"
) -> pd.DataFrame:
    """Fig 3G table: per TF tested in both, ``D_a``, ``D_b`` and the D of the per-site
    difference ``a - b`` (NaN where not tested), with ``significant_diff``."""
    a = ks_a[[by, "D_signed"]].rename(columns={"D_signed": "D_a"})
    b = ks_b[[by, "D_signed"]].rename(columns={"D_signed": "D_b"})
    d = ks_diff[[by, "D_signed", "significant"]].rename(
        columns={"D_signed": "D_diff", "significant": "significant_diff"}
    )
    out = a.merge(b, on=by).merge(d, on=by, how="left")
    out["significant_diff"] = out["significant_diff"].fillna(False).astype(bool)
    return out.sort_values("D_diff", ascending=False, kind="stable").reset_index(drop=True)


def driver_sentence(
    ranks: pd.DataFrame, ks: pd.DataFrame, *, model: str, line: str, fdr: float, n: int = 5
) -> str:
    """One sentence on how a model's KS ranking treats ``line``'s planted drivers."""
    n_sig = int(ks["significant"].sum()) if len(ks) else 0
    if not len(ks):
        return f"No TF had enough predicted sites to be tested for the {model} model."
    if n_sig == 0:
        return (
            f"For the {model} model no TF passes FDR < {fdr:g} among the {len(ks)} tested, so its "
            f"ranking is no evidence either way about the {line} drivers."
        )
    k, best = drivers_in_top(ranks, n=n), ranks.dropna(subset=["rank"]).sort_values("rank")
    found = ", ".join(ranks.loc[ranks["top_rank"] <= n, "tf"].astype(str)) or "none"
    text = (
        f"For the {model} model, {n_sig} of {len(ks)} tested TFs pass FDR < {fdr:g}; "
        f"{k} of the {len(ranks)} planted {line} drivers {'is' if k == 1 else 'are'} among its "
        f"top {n} ({found})"
    )
    if len(best):
        b = best.iloc[0]
        text += f", and the best-ranked driver, {b['tf']}, is #{int(b['rank'])} by signed D"
    return text + "."


def window_name(regions: RegionSet, row: int) -> str:
    """``chrom:start-end`` of the model's input window of a row (genome coordinates)."""
    r = regions.regions.iloc[row]
    return f"{r['chrom']}:{r['start']:,}-{r['end']:,}"


def track_sites(sites: pd.DataFrame, row: int, *, n: int = 5) -> pd.DataFrame:
    """The ``n`` best-scoring, mutually non-overlapping sites of one region (track labels)."""
    part = sites[sites["region"] == row].sort_values("site_score", ascending=False)
    chosen: list[int] = []
    taken = np.zeros(int(part["end"].max()) + 1 if len(part) else 0, dtype=bool)
    for i, s in zip(part.index, part.itertuples(), strict=True):
        if len(chosen) == n:
            break
        if not taken[s.start : s.end].any():
            chosen.append(i)
            taken[s.start : s.end] = True
    return part.loc[chosen].sort_values("start")


# --- chapter 7: the analyses ------------------------------------------------------------------

#: Single-model analyses: key → (model, region rows (a line's set, or None for the union), label).
ANALYSES: dict[str, tuple[str, str | None, str]] = {
    "HepG2": ("HepG2", "HepG2", "HepG2 ChromTransfer"),
    "pretrained@HepG2": ("pretrained", "HepG2", "pre-trained (HepG2 regions)"),
    "scratch_HepG2": ("scratch_HepG2", "HepG2", "HepG2 binary baseline"),
    "K562": ("K562", "K562", "K562 ChromTransfer"),
    "pretrained@K562": ("pretrained", "K562", "pre-trained (K562 regions)"),
    "pretrained": ("pretrained", None, "pre-trained (all regions)"),
    "HepG2@union": ("HepG2", None, "HepG2 ChromTransfer (all regions)"),
    "K562@union": ("K562", None, "K562 ChromTransfer (all regions)"),
}
#: Per-site differences ``a − b`` (the sites of both on the same regions): key → (a, b, label).
DIFFERENCES: dict[str, tuple[str, str, str]] = {
    "HepG2-pretrained": ("HepG2", "pretrained@HepG2", "HepG2 ChromTransfer − pre-trained"),
    "K562-pretrained": ("K562", "pretrained@K562", "K562 ChromTransfer − pre-trained"),
    "HepG2-K562": ("HepG2@union", "K562@union", "HepG2 − K562 (union of positives)"),
}


@dataclass(frozen=True)
class Enrichment:
    """Scored sites and KS tables of every analysis in :data:`ANALYSES` and :data:`DIFFERENCES`."""

    sites: dict[str, pd.DataFrame]
    ks: dict[str, pd.DataFrame]

    @staticmethod
    def label(key: str) -> str:
        """Display label of an analysis key."""
        return {**ANALYSES, **DIFFERENCES}[key][-1]


def run_enrichment(
    hits: pd.DataFrame,
    gxi: Mapping[str, np.ndarray],
    regions: RegionSet,
    *,
    min_sites: int,
    fdr: float,
) -> Enrichment:
    """Site scores (max gradient × input) and per-TF KS tests for every analysis."""
    from .enrichment import compare_models, ks_enrichment

    specs = {k: (m, line) for k, (m, line, _) in ANALYSES.items()}
    sites = {k: scored_sites(hits, gxi[m], regions.rows(line)) for k, (m, line) in specs.items()}
    for key, (a, b, _) in DIFFERENCES.items():
        sites[key] = compare_models(sites[a], sites[b], name="site_score")
    ks = {
        k: ks_enrichment(sites[k], min_sites=min_sites, fdr=fdr) for k in (*ANALYSES, *DIFFERENCES)
    }
    return Enrichment(sites, ks)


def width_bias(ks: pd.DataFrame, hits: pd.DataFrame) -> float:
    """Spearman correlation between a TF's signed D and its median site width (bp).

    Close to +1 means long motifs win by chance (the max over more bases), as for under-trained
    models (design.md §8).
    """
    from scipy import stats

    width = (hits["end"] - hits["start"]).groupby(hits["tf"]).median()
    w = ks["tf"].map(width).to_numpy(float)
    if len(ks) < 3 or np.ptp(w) == 0:
        return float("nan")
    return float(stats.spearmanr(ks["D_signed"], w)[0])


def enrichment_overview(enr: Enrichment, hits: pd.DataFrame, *, n: int = 5) -> pd.DataFrame:
    """One row per analysis: sites, TFs tested, significant, top ``n`` TFs, ρ(D, width)."""
    rows = []
    for key, ks in enr.ks.items():
        rows.append(
            {
                "analysis": Enrichment.label(key),
                "sites": len(enr.sites[key]),
                "TFs tested": len(ks),
                "significant": int(ks["significant"].sum()),
                f"top {n} (significant, D > 0)": ", ".join(top_tfs(ks, positive_only=True)[:n]),
                "ρ(D, motif width)": round(width_bias(ks, hits), 2),
            }
        )
    return pd.DataFrame(rows)


#: Which analyses each line's planted drivers are looked up in; the last, a control, is the
#: other line's model on the union of both lines' regions (so the drivers' sites are there).
DRIVER_ANALYSES = {
    "HepG2": ("HepG2", "pretrained@HepG2", "scratch_HepG2", "K562@union"),
    "K562": ("K562", "pretrained@K562", "HepG2@union"),
}


def analysis_role(key: str, line: str) -> str:
    """What an analysis is relative to ``line``: ChromTransfer, binary baseline, pre-trained, or
    the other line's ChromTransfer (a control)."""
    if key == line:
        return "ChromTransfer"
    if key.startswith("scratch_"):
        return "binary baseline"
    if key.startswith("pretrained"):
        return "pre-trained"
    return "other line's ChromTransfer (all regions)"


def driver_rank_table(
    enr: Enrichment, drivers: Mapping[str, Mapping[str, str | None]], tf_ids: Mapping[str, set]
) -> pd.DataFrame:
    """Rank of every planted driver of each line in the analyses of :data:`DRIVER_ANALYSES`.

    ``drivers`` maps a line to driver name → matrix ID (:func:`line_drivers`).
    """
    parts = []
    for line, keys in DRIVER_ANALYSES.items():
        for key in keys:
            r = driver_ranks(
                enr.ks[key], list(drivers[line]), driver_ids=drivers[line], tf_ids=tf_ids
            )
            parts.append(
                r.assign(
                    line=line,
                    analysis=key,
                    model=Enrichment.label(key),
                    role=analysis_role(key, line),
                )
            )
    return pd.concat(parts, ignore_index=True)


def recovery_tables(
    enr: Enrichment,
    planted: pd.DataFrame,
    regions: RegionSet,
    drivers: Mapping[str, Mapping[str, str | None]],
    *,
    quantile: float = 0.9,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Planted driver sites found by the scan and carrying high attribution, per analysis.

    Returns an overview (line, model, planted driver sites, share scanned, share high) and the
    per-driver shares (line, model, tf, n_planted, frac_scanned, frac_high).
    """
    from .enrichment import planted_recovery

    overview, per_tf = [], []
    for line, keys in DRIVER_ANALYSES.items():
        ids = {i for i in drivers[line].values() if i}
        mine = planted[
            (planted["role"] == "driver")
            & planted["matrix_id"].isin(ids)
            & planted["region"].isin(regions.rows(line))
        ]
        for key in keys[:-1]:  # the cross-line control is scored on other regions
            rec = planted_recovery(mine, enr.sites[key], quantile=quantile)
            label = Enrichment.label(key)
            overview.append(
                {
                    "line": line,
                    "analysis": key,
                    "model": label,
                    "planted driver sites": len(mine),
                    "share scanned": rec.frac_scanned,
                    "share with high attribution": rec.frac_high,
                }
            )
            per_tf.append(rec.per_tf.assign(line=line, model=label, role=analysis_role(key, line)))
    return pd.DataFrame(overview), pd.concat(per_tf, ignore_index=True)


# --- chapter 6: overview and metrics -----------------------------------------------------------


def model_overview(
    gxi: Mapping[str, np.ndarray], proba: Mapping[str, np.ndarray], regions: RegionSet
) -> pd.DataFrame:
    """Per model: mean probability on each line's analysed regions and mean |gradient × input|."""
    lines = [c[3:] for c in regions.regions.columns if c.startswith("in_")]
    rows = []
    for m in gxi:
        row = {"model": MODEL_LABELS.get(m, m)}
        row |= {f"mean p, {ln} regions": float(proba[m][regions.rows(ln)].mean()) for ln in lines}
        row["mean |gradient × input|"] = float(np.abs(gxi[m]).mean())
        rows.append(row)
    return pd.DataFrame(rows).set_index("model")


def attribution_metrics(
    regions: RegionSet,
    agreement: pd.DataFrame,
    factors: Sequence[str],
    *,
    n_ism_regions: int,
    n_ism_sites: int,
    n_hits: int,
    line: str = "HepG2",
) -> dict[str, object]:
    """Chapter 6's metrics: selection counts, ISM agreement overall and per factor."""
    stats = agreement.set_index(agreement.columns[0])
    get = lambda tf, col: stats[col].get(tf, np.nan)  # noqa: E731
    out: dict[str, object] = {
        f"attribution.{line}.site_spearman_gxi_vs_ism": get("(all)", "spearman_r"),
        f"attribution.{line}.site_pearson_gxi_vs_ism": get("(all)", "pearson_r"),
        f"attribution.{line}.ism_regions": n_ism_regions,
        f"attribution.{line}.ism_sites": n_ism_sites,
        "attribution.union_regions": len(regions.regions),
        "attribution.scan_sites": n_hits,
    }
    out |= {
        f"attribution.{line}.site_spearman_gxi_vs_ism.{tf}": get(tf, "spearman_r") for tf in factors
    }
    for r in regions.selection.to_dict("records"):
        key = f"attribution.{r['cell_line']}"
        out |= {f"{key}.positive_predictions": r["predicted positive"]}
        out |= {f"{key}.analysed": r["analysed"], f"{key}.fallback": bool(r["fallback"])}
    return out


def world_drivers(
    motif_roles: pd.DataFrame | None,
    drivers: Mapping[str, Sequence[str]],
    lines: Sequence[str] = ("HepG2", "K562"),
) -> dict[str, dict[str, str | None]]:
    """Line → driver name → matrix ID (:func:`line_drivers` for each of ``lines``)."""
    return {line: line_drivers(motif_roles, drivers, line) for line in lines}


def analysis_driver_names(drivers: Mapping[str, Mapping[str, object]]) -> dict[str, set[str]]:
    """Analysis label → upper-case names of the drivers of the line its regions belong to."""
    out = {}
    for key, spec in {**ANALYSES, **DIFFERENCES}.items():
        line = next((ln for ln in drivers if ln in key), None)
        out[spec[-1]] = {d.upper() for d in drivers.get(line, {})}
    return out


def enrichment_metrics(
    enr: Enrichment,
    ranks: pd.DataFrame,
    scan: Scan,
    *,
    recovery: pd.DataFrame | None = None,
    n: int = 5,
) -> dict[str, object]:
    """Chapter 7's metrics: top TFs, driver ranks and top-``n`` counts, scan and recovery.

    Keys: ``enrichment.<model>.top_tfs`` (significant TFs by descending signed D),
    ``enrichment.<model>.driver_ranks`` / ``drivers_in_top5`` for a model's own line, and
    ``enrichment.<model>.<line>_driver_ranks`` / ``<line>_drivers_in_top5`` otherwise (the
    pre-trained model on each line's regions, the other line's model as a control).
    """
    out: dict[str, object] = {
        "enrichment.scan.n_matrices": scan.n_matrices,
        "enrichment.scan.n_unreachable": len(scan.unreachable),
        "enrichment.scan.n_sites": len(scan.hits),
    }
    for key, ks in enr.ks.items():
        name = key.replace("@", "_").replace("-", "_minus_")
        if key == "pretrained":
            name = "pretrained"
        out[f"enrichment.{name}.top_tfs"] = top_tfs(ks)
        out[f"enrichment.{name}.n_tested"] = len(ks)
        out[f"enrichment.{name}.n_significant"] = int(ks["significant"].sum())
        out[f"enrichment.{name}.width_bias_spearman"] = width_bias(ks, scan.hits)
    for (line, key), g in ranks.groupby(["line", "analysis"], sort=False):
        model = key.split("@")[0]
        prefix = "" if key in (line, f"scratch_{line}") else f"{line}_"
        out[f"enrichment.{model}.{prefix}driver_ranks"] = {
            d: (None if pd.isna(r) else int(r)) for d, r in zip(g["driver"], g["rank"], strict=True)
        }
        out[f"enrichment.{model}.{prefix}drivers_in_top{n}"] = drivers_in_top(g, n=n)
    for r in [] if recovery is None else recovery.to_dict("records"):
        key = f"enrichment.recovery.{r['line']}.{r['analysis']}"
        out[f"{key}.frac_scanned"] = r["share scanned"]
        out[f"{key}.frac_high"] = r["share with high attribution"]
    return out


# --- sentences for the prose (glued) ------------------------------------------------------------


def selection_sentence(selection: pd.DataFrame, *, max_regions: int) -> str:
    """How the analysed regions were chosen, including any fallback."""
    parts = []
    for r in selection.to_dict("records"):
        if r["fallback"]:
            parts.append(
                f"the {r['cell_line']} model predicted no region positive, so the "
                f"{r['analysed']} labelled positives it scored highest stand in"
            )
        else:
            parts.append(
                f"the {r['cell_line']} model predicted {r['predicted positive']} of "
                f"{r['rows (train + test)']} regions positive and {r['analysed']} were analysed"
            )
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + f" (at most {max_regions} per line)."


def agreement_sentence(agreement: pd.DataFrame, *, n_regions: int) -> str:
    """Overall gradient × input vs ISM agreement in words, conditional on its strength."""
    row = agreement[agreement.iloc[:, 0] == "(all)"]
    if not len(row):
        return "Too few sites fell in the ISM regions to correlate the two scores."
    rho, r, n = row["spearman_r"].iloc[0], row["pearson_r"].iloc[0], int(row["n"].iloc[0])
    verdict = (
        "they agree well, as in the paper's Fig S3"
        if rho >= 0.5
        else "they agree only moderately"
        if rho >= 0.2
        else "they barely agree, unlike in the paper (expected when the model has learnt little)"
    )
    return (
        f"Over {n} predicted sites in {n_regions} regions, site max gradient × input and the "
        f"negated site min ISM delta correlate with Spearman ρ = {rho:.2f} (Pearson r = {r:.2f}): "
        f"{verdict}."
    )


def comparison_sentence(ranks: pd.DataFrame, *, line: str, n: int = 5) -> str:
    """Fine-tuned vs pre-trained and baseline on ``line``'s drivers, plus the cross-line control
    (:func:`driver_rank_table` rows)."""
    mine = ranks[ranks["line"] == line]
    counts = {m: int((g["top_rank"] <= n).sum()) for m, g in mine.groupby("analysis", sort=False)}
    total, own = int((mine["analysis"] == line).sum()), counts.get(line, 0)
    *others, control = DRIVER_ANALYSES[line][1:]
    against = " and ".join(
        f"{counts.get(k, 0)} for the {Enrichment.label(k)}" for k in others if k in counts
    )
    if own == 0:
        verdict = "none of the planted drivers reaches the fine-tuned model's top in this run"
    elif own > max((counts.get(k, 0) for k in others), default=0):
        verdict = "fine-tuning moved the planted drivers up, as the paper found for HNF4A and CEBPA"
    else:
        verdict = "fine-tuning did not move the planted drivers above the other models here"
    return (
        f"Among the top {n} significant TFs, {own} of the {total} planted {line} drivers "
        f"appear for the {Enrichment.label(line)} model, against {against}; the control, "
        f"{Enrichment.label(control)}, has {counts.get(control, 0)}. In short, {verdict}."
    )


def ranking_sentences(
    enr: Enrichment, ranks: pd.DataFrame, *, fdr: float, lines: Sequence[str] = ("HepG2", "K562")
) -> dict[str, str]:
    """``sentence_<line>`` (:func:`driver_sentence`) and ``comparison_<line>``
    (:func:`comparison_sentence`) for each line, ready to glue."""
    out = {}
    for line in lines:
        own = ranks[ranks["analysis"] == line]
        label = Enrichment.label(line)
        out[f"sentence_{line}"] = driver_sentence(
            own, enr.ks[line], model=label, line=line, fdr=fdr
        )
        out[f"comparison_{line}"] = comparison_sentence(ranks, line=line)
    return out

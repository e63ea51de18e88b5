"""Glue for the interpretation chapters (6 and 7): analysed regions, cached arrays, site tables.

The stage functions (``ensure_*``) take a :class:`~chromtransfer_lib.book.stages.RunContext`, map
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
:meth:`RegionSet.rows`. The pure functions below (selection, union, row picking, site tables)
are what the tests check; the tables, rankings, ground truth in window coordinates and sentences
built from these results live in :mod:`.interpret_tables`.
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

from chromtransfer_lib.interpret.attribution import TARGETS, logit_model
from chromtransfer_lib.interpret.enrichment import site_scores

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
    from chromtransfer_lib.book import stages

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
    from chromtransfer_lib.interpret.attribution import predict_proba

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
    from chromtransfer_lib.interpret.attribution import grad_x_input, predict_proba

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
    from chromtransfer_lib.genome.jaspar import load_jaspar
    from chromtransfer_lib.interpret.scan import prepare_motifs, scan_motifs

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
    from chromtransfer_lib.interpret.attribution import in_silico_mutagenesis

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
    from chromtransfer_lib.interpret.enrichment import compare_models, ks_enrichment

    specs = {k: (m, line) for k, (m, line, _) in ANALYSES.items()}
    sites = {k: scored_sites(hits, gxi[m], regions.rows(line)) for k, (m, line) in specs.items()}
    for key, (a, b, _) in DIFFERENCES.items():
        sites[key] = compare_models(sites[a], sites[b], name="site_score")
    ks = {
        k: ks_enrichment(sites[k], min_sites=min_sites, fdr=fdr) for k in (*ANALYSES, *DIFFERENCES)
    }
    return Enrichment(sites, ks)

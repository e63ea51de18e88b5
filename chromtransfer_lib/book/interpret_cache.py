"""Cached stages of the interpretation chapters (6 and 7): models, analysed regions, arrays.

Each ``ensure_*`` takes a :class:`~chromtransfer_lib.book.stages.RunContext`, maps its profile
onto the explicit arguments of :mod:`chromtransfer_lib.interpret` and caches what is expensive
under ``<run_dir>/interpret/``, keyed (:func:`~chromtransfer_lib.fileio.cache_key`) by the
content of the model files and the analysed sequences, so chapter 7 reuses chapter 6's work and
a retrained model is never paired with stale attributions. Every entry is written through
:func:`~chromtransfer_lib.fileio.atomic_path`: a killed run never leaves a partial entry that a
later run would read as complete::

    interpret/regions-<key>/     codes.npy, regions.parquet, selection.tsv
    interpret/gxi-<target>-<model>-<regions>.npz   gradient x input (n, L), probabilities (n,)
    interpret/scan-<regions>-<key>/                hits.parquet, unreachable.tsv
    interpret/ism-<target>-<method>-<model>-<regions>-<rows>.npz

The chapters call the bundles of :mod:`.interpretation`, which call these (ARCHITECTURE.md,
book layer).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from chromtransfer_lib.book import stages
from chromtransfer_lib.book.interpret_regions import (
    MODEL_LABELS,
    RegionSet,
    select_positive_predictions,
    union_regions,
)
from chromtransfer_lib.fileio import atomic_path, cache_key, sha256_file
from chromtransfer_lib.interpret.attribution import target_model

# --- cache --------------------------------------------------------------------------------------


def file_key(path: str | Path) -> str:
    """Content hash of a file (a saved model): a retrained model gets a new key."""
    return sha256_file(path)[:16]


def _cache_dir(ctx: stages.RunContext) -> Path:
    out = Path(ctx.run_dir) / "interpret"
    out.mkdir(parents=True, exist_ok=True)
    return out


# --- models and regions ---------------------------------------------------------------------


@dataclass(frozen=True)
class InterpretModels:
    """Trained models by key (:data:`.interpret_regions.MODEL_LABELS`) and their saved files."""

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
    ctx: stages.RunContext, datasets: stages.Datasets, *, lines: Sequence[str] = ("HepG2", "K562")
) -> InterpretModels:
    """The fine-tuned models of ``lines``, the pre-trained model and the HepG2 binary baseline
    (trained through :mod:`.stages` if chapters 2–3 have not run)."""
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


def _select_line(model: object, ds: object, *, line: str, max_regions: int, seed: int):
    """One line's positive predictions: its region rows, their codes and a summary row."""
    from chromtransfer_lib.data.pipeline import predict_proba

    proba = predict_proba(model, np.asarray(ds.codes))
    sel = select_positive_predictions(proba, ds.labels, max_regions=max_regions, random_state=seed)
    summary = {
        "cell_line": line,
        "rows (train + test)": len(ds),
        "labelled positive": int((ds.labels == 1).sum()),
        "predicted positive": sel.n_positive,
        "analysed": len(sel.rows),
        "fallback": sel.fallback,
    }
    return ds.regions.iloc[sel.rows], np.asarray(ds.codes[sel.rows]), summary


def ensure_region_set(
    ctx: stages.RunContext,
    datasets: stages.Datasets,
    models: InterpretModels,
    *,
    lines: Sequence[str] = ("HepG2", "K562"),
) -> RegionSet:
    """Each line's positive predictions by its fine-tuned model (cached), and their union."""
    cfg, seed = ctx.profile.interpret, ctx.profile.seed
    key = cache_key(
        {
            "models": [file_key(models.paths[line]) for line in lines],
            "datasets": [str(datasets.finetune[line].path.name) for line in lines],
            "max_regions": cfg.max_regions,
            "seed": seed,
        }
    )
    folder = _cache_dir(ctx) / f"regions-{key}"
    if not folder.is_dir():
        tables, codes, summary = {}, {}, []
        for line in lines:
            tables[line], codes[line], row = _select_line(
                models.models[line],
                datasets.finetune[line],
                line=line,
                max_regions=cfg.max_regions,
                seed=seed,
            )
            summary.append(row)
        table, seq = union_regions(tables, codes)
        with atomic_path(folder) as tmp:
            tmp.mkdir()
            np.save(tmp / "codes.npy", seq)
            pd.DataFrame(summary).to_csv(tmp / "selection.tsv", sep="\t", index=False)
            table.to_parquet(tmp / "regions.parquet")
    return RegionSet(
        np.load(folder / "codes.npy"),
        pd.read_parquet(folder / "regions.parquet"),
        key,
        pd.read_csv(folder / "selection.tsv", sep="\t"),
    )


# --- attributions, scan, ISM --------------------------------------------------------------------


def ensure_attributions(
    ctx: stages.RunContext,
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
    from chromtransfer_lib.data.pipeline import predict_proba
    from chromtransfer_lib.interpret.attribution import grad_x_input

    gxi, proba = {}, {}
    for name in only or list(models.models):
        model = models.models[name]
        key = f"{target}-{file_key(models.paths[name])}-{regions.key}"
        path = _cache_dir(ctx) / f"gxi-{key}.npz"
        if not path.is_file():
            attributed = target_model(model, target=target)
            g = grad_x_input(attributed, regions.codes, verbose=ctx.progress)
            p = predict_proba(model, regions.codes)
            with atomic_path(path) as tmp:
                np.savez(tmp, gxi=g, proba=p)
        with np.load(path) as f:
            gxi[name], proba[name] = f["gxi"], f["proba"]
    return gxi, proba


class Scan(NamedTuple):
    """Motif hits on the analysed regions and the matrices that cannot reach the threshold."""

    hits: pd.DataFrame
    unreachable: pd.DataFrame
    n_matrices: int


def ensure_scan(ctx: stages.RunContext, regions: RegionSet) -> Scan:
    """Scan every CORE vertebrate matrix of the profile's ``interpret.jaspar_release`` at
    ``interpret.p_value`` (cached)."""
    from chromtransfer_lib.genome.jaspar import load_jaspar
    from chromtransfer_lib.interpret.scan import prepare_motifs, scan_motifs

    p = ctx.profile.interpret.p_value
    release = ctx.profile.interpret.jaspar_release
    key = cache_key({"release": release, "p_value": p})
    folder = _cache_dir(ctx) / f"scan-{regions.key}-{key}"
    matrices = load_jaspar(release=release, collection="CORE", tax_group="vertebrates")
    if not folder.is_dir():
        scan = scan_motifs(regions.codes, prepare_motifs(matrices, p_value=p))
        with atomic_path(folder) as tmp:
            tmp.mkdir()
            scan.unreachable.to_csv(tmp / "unreachable.tsv", sep="\t", index=False)
            scan.hits.to_parquet(tmp / "hits.parquet")
    return Scan(
        pd.read_parquet(folder / "hits.parquet"),
        pd.read_csv(folder / "unreachable.tsv", sep="\t"),
        len(matrices),
    )


def ensure_ism(
    ctx: stages.RunContext,
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
    from chromtransfer_lib.interpret.attribution import in_silico_mutagenesis, ism_method

    rows = np.asarray(rows, dtype=np.int64)
    net = target_model(models.models[model], target=target)
    method = ism_method(net)  # windowed or whole-mutant ISM: equal up to rounding, keyed apart
    key = (
        f"{target}-{method}-{file_key(models.paths[model])}-{regions.key}-"
        f"{cache_key(rows.tolist())}"
    )
    path = _cache_dir(ctx) / f"ism-{key}.npz"
    if not path.is_file():
        res = in_silico_mutagenesis(net, regions.codes[rows], method=method, verbose=ctx.progress)
        with atomic_path(path) as tmp:
            np.savez(tmp, delta=res.delta)
    with np.load(path) as f:
        return f["delta"]

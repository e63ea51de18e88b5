"""What chapter 8 (variant effects) calls: designed SNVs of known effect, scored by each line's
fine-tuned model and by the pre-trained model, with tables, figures and glued numbers.

* :func:`ensure_variants` → :class:`VariantEffects` (cached under ``<run_dir>/interpret/``):
  per line, the SNVs of :func:`.variant_truth.design_variants` in the line's analysed windows
  (chapter 6's positive predictions that carry a planted driver site), each scored by the line's
  fine-tuned model and the pre-trained model (:func:`.variant_truth.score_designed`, the logit
  ``chromtransfer variants`` reports), and their separation (:func:`.variant_truth.
  separation_table`);
* :func:`delta_figure`, :func:`tracks_figure`: the |Δlogit| of every kind, and before / after
  attribution tracks of a few variants;
* :func:`variant_numbers`, :func:`variant_metrics`: the numbers the chapter glues and saves.

The truth the design needs (planted sites) exists only in the simulated world: on real data
:attr:`VariantEffects.available` is ``False`` and every table is empty. Scoring a VCF of real
variants is the CLI's job (``chromtransfer variants``). ARCHITECTURE.md, book layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from chromtransfer_lib.book import stages
from chromtransfer_lib.book.interpret_cache import file_key
from chromtransfer_lib.book.interpret_regions import MODEL_LABELS
from chromtransfer_lib.book.interpretation import Attribution
from chromtransfer_lib.book.variant_truth import (
    DESIGN_VERSION,
    KINDS,
    design_variants,
    example_variants,
    score_designed,
    separation_table,
    variant_tracks_data,
)
from chromtransfer_lib.fileio import atomic_path, cache_key

#: The two models every line's variants are scored with (keys of the interpreted models;
#: ``"line"`` stands for the line's own fine-tuned model).
SCORED = ("line", "pretrained")


@dataclass(frozen=True)
class VariantEffects:
    """Designed variants per line and their scores.

    ``scored[line][key]`` is the design of ``line`` with :data:`.variant_truth.SCORE_COLUMNS` of
    model ``key`` (the line itself for its fine-tuned model, ``"pretrained"``); ``separation``
    stacks :func:`.variant_truth.separation_table` per line (column ``line``, ``model`` the
    model's label). ``per_window`` and ``margin`` are the design's.
    """

    lines: tuple[str, ...]
    scored: dict[str, dict[str, pd.DataFrame]]
    separation: pd.DataFrame
    n_windows: dict[str, int]
    per_window: int
    margin: int

    @property
    def available(self) -> bool:
        """Whether variants could be designed (the world's planted sites are known)."""
        return any(len(t) for by_model in self.scored.values() for t in by_model.values())

    def counts(self) -> pd.DataFrame:
        """Designed variants per line and kind, and the windows they lie in."""
        rows = []
        for line in self.lines:
            t = self.scored[line].get(line, pd.DataFrame(columns=["kind"]))
            n = t["kind"].value_counts().reindex(KINDS, fill_value=0)
            rows.append({"line": line, "windows": self.n_windows[line], **n.to_dict()})
        return pd.DataFrame(rows)


def _model_key(line: str, key: str) -> str:
    return line if key == "line" else key


def _design_key(att: Attribution, line: str, per_window: int, margin: int) -> str:
    cfg = att.config
    return cache_key({
        "regions": att.regions.key, "line": line, "drivers": att.drivers.get(line, {}),
        "p_value": cfg.p_value, "release": cfg.jaspar_release, "per_window": per_window,
        "margin": margin, "seed": att.seed, "design": DESIGN_VERSION,
    })  # fmt: skip


def line_windows(att: Attribution, line: str) -> pd.DataFrame:
    """Planted sites (window coordinates) of the windows ``line``'s model predicted positive."""
    return att.planted[att.planted["region"].isin(att.regions.rows(line))]


def design_line(
    att: Attribution, line: str, *, per_window: int = 2, margin: int = 10
) -> pd.DataFrame:
    """:func:`.variant_truth.design_variants` in ``line``'s analysed windows, with its drivers,
    the profile's scan threshold and JASPAR release, seeded by the profile's seed (not cached:
    :func:`ensure_variants` caches the chapter's design)."""
    from chromtransfer_lib.genome.jaspar import load_jaspar

    drivers = {k: v for k, v in att.drivers.get(line, {}).items() if v}
    matrices = load_jaspar(release=att.config.jaspar_release, collection="CORE",
                           tax_group="vertebrates")  # fmt: skip
    return design_variants(
        att.regions.codes, line_windows(att, line), drivers, matrices,
        p_value=att.config.p_value, per_window=per_window, margin=margin,
        random_state=att.seed,
    )  # fmt: skip


def ensure_variants(
    ctx: stages.RunContext,
    att: Attribution,
    *,
    lines: Sequence[str] = ("HepG2", "K562"),
    per_window: int = 2,
    margin: int = 10,
) -> VariantEffects:
    """Design, score and compare the variants of every line (cached per line and model).

    The design is keyed by the analysed regions, the line's drivers, the scan threshold, the
    JASPAR release, ``per_window``, ``margin`` and the seed; each model's scores additionally by
    the content of its saved file, so a retrained model is never paired with stale scores.
    """
    scored: dict[str, dict[str, pd.DataFrame]] = {}
    n_windows, parts = {}, []
    folder = Path(ctx.run_dir) / "interpret"
    folder.mkdir(parents=True, exist_ok=True)
    for line in lines:
        scored[line] = {}
        if att.planted is None:
            n_windows[line] = 0
            continue
        key = _design_key(att, line, per_window, margin)
        path = folder / f"variants-{line}-{key}.parquet"
        if not path.is_file():
            with atomic_path(path) as tmp:
                design_line(att, line, per_window=per_window, margin=margin).to_parquet(tmp)
        design = pd.read_parquet(path)
        mine = line_windows(att, line)
        ids = {i for i in att.drivers.get(line, {}).values() if i}
        n_windows[line] = int(mine.loc[(mine["role"] == "driver") & mine["matrix_id"].isin(ids),
                                       "region"].nunique())  # fmt: skip
        for k in SCORED:
            model = _model_key(line, k)
            spath = (
                folder / f"variant-scores-{file_key(att.models.paths[model])}-{line}-{key}.parquet"
            )
            if not spath.is_file():
                with atomic_path(spath) as tmp:
                    score_designed(att.models.models[model], att.regions.codes,
                                   design).to_parquet(tmp)  # fmt: skip
            scored[line][model] = pd.read_parquet(spath)
        labelled = {MODEL_LABELS.get(m, m): t for m, t in scored[line].items()}
        parts.append(separation_table(labelled).assign(line=line))
    sep = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if len(sep):
        sep = sep[["line", *[c for c in sep.columns if c != "line"]]]
    return VariantEffects(tuple(lines), scored, sep, n_windows, per_window, margin)


def score_line(att: Attribution, eff: VariantEffects, *, line: str, model: str) -> pd.DataFrame:
    """``line``'s designed variants scored by another interpreted model (e.g.
    ``"scratch_HepG2"``), not cached, and their separation (:func:`.variant_truth.
    separation_table`, one row per comparison)."""
    design = eff.scored[line][line]
    t = score_designed(att.models.models[model], att.regions.codes, design)
    return separation_table({MODEL_LABELS.get(model, model): t}).assign(line=line)


# --- tables and figures -------------------------------------------------------------------------


def separation_view(eff: VariantEffects) -> pd.DataFrame:
    """The separation table with rounded figures, for display."""
    if not len(eff.separation):
        return eff.separation
    digits = {"auroc": 3, "median_abs_delta_kind": 3, "median_abs_delta_neutral": 3}
    return eff.separation.round(digits | {"share_expected_sign": 2})


def delta_figure(eff: VariantEffects):
    """|Δlogit| of every designed variant by kind, per line and model (plotnine; ``None`` when
    nothing was designed)."""
    import plotnine as p9

    from chromtransfer_lib.book import plots

    frames = [
        t.assign(line=line, model=MODEL_LABELS.get(m, m).replace(f"{line} ", ""))
        for line, by_model in eff.scored.items() for m, t in by_model.items() if len(t)
    ]  # fmt: skip
    if not frames:
        return None
    d = pd.concat(frames, ignore_index=True)
    d["kind"] = pd.Categorical(d["kind"], categories=list(KINDS))
    return (
        p9.ggplot(d, p9.aes("kind", "abs_delta", fill="model"))
        + p9.geom_boxplot(outlier_size=0.6, position=p9.position_dodge(width=0.8), width=0.7)
        + p9.facet_wrap("~line")
        + p9.scale_y_sqrt()
        + p9.labs(x="designed variant", y="|Δlogit| (square-root scale)", fill="model")
        + plots.theme_book()
        + p9.theme(figure_size=(9, 3.6), axis_text_x=p9.element_text(rotation=15))
    )


def tracks_figure(att: Attribution, eff: VariantEffects, *, line: str, n: int = 1):
    """Before / after gradient × input of the fine-tuned model for the ``n`` most affected
    variants that break and that create a driver site, and ``n`` typical neutral ones
    (:func:`.variant_truth.example_variants`); each variant is a REF and an ALT panel."""
    from chromtransfer_lib.book.interpret_figures import stacked_tracks

    t = eff.scored.get(line, {}).get(line)
    if t is None or not len(t):
        return None
    examples = example_variants(t, n=n)
    tracks = variant_tracks_data(att.models.models[line], att.regions.codes, examples,
                                 planted=att.planted)  # fmt: skip
    panels = []
    for tr in tracks:
        v = tr.variant
        verb = {"breaks_driver": "breaks", "creates_driver": "creates"}.get(v["kind"])
        what = f"{verb} a {v['tf']} site" if verb else "neutral"
        ref_p, alt_p = tr.panels()
        both = np.r_[tr.ref_gxi, tr.alt_gxi]
        ref_p["limits"] = alt_p["limits"] = (float(both.min()), float(both.max()))
        where = f"{att.regions.window_name(int(v['window']))} base {int(v['pos'])}"
        logits = f"logit {v['ref_logit']:.2f} → {v['alt_logit']:.2f}"
        ref_p["title"] = f"{line}, {where} — {what}: {logits}"
        panels += [ref_p, alt_p]
    return stacked_tracks(panels)


# --- numbers ------------------------------------------------------------------------------------


def _sep(eff: VariantEffects, line: str, model: str, kind: str, col: str) -> float:
    s = eff.separation
    if not len(s):
        return float("nan")
    row = s[(s["line"] == line) & (s["model"] == MODEL_LABELS.get(model, model))
            & (s["comparison"] == f"{kind} vs neutral")]  # fmt: skip
    return float(row[col].iloc[0]) if len(row) else float("nan")


def fmt(x: float, digits: int = 3) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:.{digits}f}"


def variant_numbers(eff: VariantEffects) -> dict[str, object]:
    """Glue name → value: per line, designed counts by kind and windows, and per model
    (``ft`` fine-tuned, ``pre`` pre-trained) AUROC, median |Δlogit| and share with the
    expected sign for breaking and creating variants."""
    out: dict[str, object] = {"var_per_window": eff.per_window, "var_margin": eff.margin}
    counts = eff.counts().set_index("line") if eff.lines else pd.DataFrame()
    for line in eff.lines:
        out[f"var_windows_{line}"] = int(counts.loc[line, "windows"])
        for kind in KINDS:
            out[f"var_n_{kind}_{line}"] = int(counts.loc[line, kind])
        for tag, model in (("ft", line), ("pre", "pretrained")):
            for kind, short in (("breaks_driver", "breaks"), ("creates_driver", "creates")):
                out[f"var_auroc_{short}_{tag}_{line}"] = fmt(_sep(eff, line, model, kind, "auroc"))
                out[f"var_sign_{short}_{tag}_{line}"] = fmt(
                    100 * _sep(eff, line, model, kind, "share_expected_sign"), 0
                )
                out[f"var_median_{short}_{tag}_{line}"] = fmt(
                    _sep(eff, line, model, kind, "median_abs_delta_kind"), 2
                )
            out[f"var_median_neutral_{tag}_{line}"] = fmt(
                _sep(eff, line, model, "breaks_driver", "median_abs_delta_neutral"), 2
            )
    return out


def variant_metrics(eff: VariantEffects) -> dict[str, object]:
    """Chapter 8's saved metrics: ``variants.<line>.<model key>.<kind>.auroc`` (and
    ``.share_expected_sign``), and the designed counts."""
    out: dict[str, object] = {}
    counts = eff.counts().set_index("line")
    for line in eff.lines:
        for kind, n in counts.loc[line].items():
            out[f"variants.{line}.n_{kind}"] = int(n)
        for model in (line, "pretrained"):
            tag = "finetuned" if model == line else model
            for kind in ("breaks_driver", "creates_driver"):
                for col in ("auroc", "share_expected_sign"):
                    out[f"variants.{line}.{tag}.{kind}.{col}"] = _sep(eff, line, model, kind, col)
    return out

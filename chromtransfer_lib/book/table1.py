"""Chapter 5: Table 1 and Fig 2E — how little data fine-tuning needs.

:func:`ensure_grid` trains (or reuses) the subsampling grid and the full-data models through
the stage graph (:mod:`.stages`); every other function turns the finished grid into one table,
one figure or the chapter's numbers. The paper's Table 1 comes from ``paper_results.yaml``
(:func:`.ledger.paper_table_1`), the data-efficiency criterion from ``claims.yaml``
(:mod:`.claims`). See ARCHITECTURE.md ("chapters read like the paper").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from chromtransfer_lib.book import claims, paper, stages
from chromtransfer_lib.book.ledger import paper_table_1
from chromtransfer_lib.config import Profile
from chromtransfer_lib.evaluate import auroc

#: The metrics Table 1 and the chapter's saved results cover.
METRICS = ("f1_pos", "f1_neg", "f1_overall", "auroc", "auprc")


@dataclass(frozen=True)
class Grid:
    """The finished Table 1 grid of one run.

    Attributes
    ----------
    profile
        The run's profile (its ``bootstrap`` section defines the grid).
    units
        One row per finished unit (``kind, fraction, repetition, n_train`` and test metrics).
    full
        The same columns for the full-data models (fraction 1, the fold ensemble's metrics).
    n_valid
        Size of the validation fold the units validate on (or subsample).
    pretrained_auroc
        The pre-trained model's test AUROC on the line without fine-tuning (what the smallest
        fraction must beat, ``claims.yaml`` ``retention_5pct``).
    """

    profile: Profile
    units: pd.DataFrame
    full: pd.DataFrame
    n_valid: int
    pretrained_auroc: float

    @property
    def all_units(self) -> pd.DataFrame:
        """The units and the full-data rows together, with a ``model`` label."""
        out = pd.concat([self.units, self.full], ignore_index=True)
        out["model"] = out["kind"].map(stages.KIND_LABELS)
        return out


def ensure_grid(ctx: stages.RunContext) -> Grid:
    """Train (or reuse) what Table 1 needs — pre-training, the grid's units side by side, the
    line's full-data ChromTransfer and baseline — and collect the finished units."""
    from chromtransfer_lib.models.grids import collect_units

    prof = ctx.profile
    line = prof.bootstrap.cell_line
    datasets = stages.ensure_datasets(ctx, stages.ensure_world(ctx))
    pre = stages.ensure_pretrained(ctx, datasets)
    stages.train_in_parallel(ctx, datasets, bootstrap=True)  # the grid's units side by side
    full = {
        kind: stages.ensure_line_model(ctx, datasets, pre, line=line, kind=kind)
        for kind in stages.MODEL_KINDS
    }
    stages.ensure_bootstrap(ctx, datasets, pre)
    part = datasets.finetune[line].partition(prof.finetune.folds[0])
    rows = [
        {
            "kind": k,
            "fraction": 1.0,
            "repetition": 0,
            "n_train": int(part.train.size),
            **{m: float(full[k].ensemble[m]) for m in METRICS},
        }
        for k in stages.MODEL_KINDS
    ]
    units = collect_units(stages.bootstrap_dir(ctx))
    y, p = stages.line_test_predictions(stages.pretrained_model(pre), datasets.finetune[line])
    return Grid(prof, units, pd.DataFrame(rows), int(part.valid.size), auroc(y, p))


def grid_table(grid: Grid) -> pd.DataFrame:
    """Repetitions and mean training-set size of every model × fraction of the grid."""
    units = grid.units.assign(model=grid.units["kind"].map(stages.KIND_LABELS))
    return (
        units.groupby(["model", "fraction"])["n_train"]
        .agg(["count", "mean"])
        .rename(columns={"count": "repetitions", "mean": "training sequences"})
    )


def _summary(grid: Grid) -> pd.DataFrame:
    from chromtransfer_lib.models.grids import bootstrap_table

    table = bootstrap_table(grid.all_units)
    table["model"] = table["kind"].map(stages.KIND_LABELS)
    return table


def table_1(grid: Grid) -> pd.DataFrame:
    """This run's Table 1: per model and fraction, the runs, mean training-set size, and mean
    and sd of the per-class and overall F1 (threshold 0.5) and of the AUROC, to 3 decimals."""
    table = _summary(grid)  # sorted by kind and fraction, like the groupby below
    n_train = grid.all_units.groupby(["kind", "fraction"], sort=True)["n_train"].mean()
    table["training sequences"] = n_train.to_numpy()
    cols = ["model", "fraction", "n_runs", "training sequences"]
    for m in ("f1_neg", "f1_pos", "f1_overall", "auroc"):
        cols += [f"{m}_mean", f"{m}_sd"]
    return table[cols].round(3)


def paper_bootstraps() -> int:
    """Repetitions per fraction of the paper's Table 1."""
    return int(paper.section("table_1")["bootstraps"])


def paper_table() -> pd.DataFrame:
    """The paper's Table 1 (HepG2, ChromTransfer) as it reports it, one row per fraction."""
    return paper_table_1().reset_index().rename(columns={"n_train": "training sequences"})


def fig2e(grid: Grid):
    """Fig 2E and the baseline on the same subsets: overall F1 and AUROC against the share of
    the training data (mean ± sd over repetitions, every unit as a point), plotnine."""
    import plotnine as p9

    from chromtransfer_lib.book.plots import MODEL_COLOURS, theme_book

    long = grid.all_units.melt(
        id_vars=["model", "fraction", "repetition"],
        value_vars=["f1_overall", "auroc"],
        var_name="metric",
        value_name="value",
    )
    long["metric"] = long["metric"].map(
        {"f1_overall": "overall F1 (threshold 0.5)", "auroc": "AUROC"}
    )
    summary = long.groupby(["model", "fraction", "metric"], as_index=False)["value"].agg(
        ["mean", "std"]
    )
    summary["std"] = summary["std"].fillna(0.0)
    bc = grid.profile.bootstrap
    return (
        p9.ggplot(summary, p9.aes("fraction", "mean", colour="model"))
        + p9.geom_line(size=1)
        + p9.geom_point(size=2)
        + p9.geom_errorbar(p9.aes(ymin="mean - std", ymax="mean + std"), width=0.04)
        + p9.geom_jitter(
            p9.aes("fraction", "value", colour="model"),
            data=long,
            alpha=0.3,
            width=0,
            height=0,
            size=1,
        )
        + p9.facet_wrap("~metric", scales="free_y")
        + p9.scale_x_log10(
            breaks=sorted({*bc.fractions, 1.0}), labels=lambda xs: [f"{x:.0%}" for x in xs]
        )
        + p9.scale_colour_manual(MODEL_COLOURS)
        + p9.labs(
            x=f"share of the {bc.cell_line} training data",
            y="test set",
            colour="",
            title=f"{bc.cell_line}: performance against training-set size (mean ± sd)",
        )
        + theme_book()
        + p9.theme(figure_size=(10, 4), legend_position="bottom")
    )


def retention(grid: Grid) -> pd.DataFrame:
    """Per fraction (rows) and model (columns): the share of the full-data model's AUROC gain
    over chance (AUROC − 0.5) that the mean AUROC at that fraction keeps."""
    units = grid.all_units
    auroc = units.pivot_table(index="fraction", columns="kind", values="auroc", aggfunc="mean")
    return ((auroc - 0.5) / (auroc.loc[1.0] - 0.5)).rename(columns=stages.KIND_LABELS)


def _at(table: pd.DataFrame, frac: float, col: str) -> float:
    if frac in table.index and col in table.columns:
        return float(table.loc[frac, col])
    return float("nan")


def facts(grid: Grid) -> dict[str, Any]:
    """The numbers chapter 5's prose quotes, by glue name: the grid's shape and validation,
    and at the data-efficiency criterion's fraction (``claims.yaml``, ``retention_5pct``) the
    training-set sizes here and in the paper, both models' retention; ChromTransfer's AUROC at
    the smallest fraction beside the pre-trained model's and the full-data baseline's; and the
    criterion."""
    bc = grid.profile.bootstrap
    claim = claims.claim("retention_5pct")
    frac = claim.params["fraction"]
    ret = retention(grid)
    ft, sc = _at(ret, frac, "ChromTransfer"), _at(ret, frac, "binary baseline")
    n_train = grid.units[grid.units["fraction"] == frac]["n_train"].mean()
    paper_n = float(paper_table_1().loc[frac, "n_train"])
    smallest = min(bc.fractions)
    tuned = grid.units[grid.units["kind"] == "finetune"]
    smallest_ft = tuned["fraction"].min() if len(tuned) else float("nan")
    ft_smallest = float(tuned.loc[tuned["fraction"] == smallest_ft, "auroc"].mean())
    full = grid.full.set_index("kind")["auroc"]
    baseline_full = float(full.get("scratch", float("nan")))
    stats = {
        "retention": ft,
        "baseline": sc,
        "smallest_over_pretrained": ft_smallest - grid.pretrained_auroc,
        "smallest_vs_baseline": ft_smallest - baseline_full,
    }
    reported = paper_table_1()
    f1, subsets = reported["f1_overall_mean"], reported.index[reported.index < 1.0]
    out = {
        "paper_reps": paper_bootstraps(),
        "paper_lowest": float(subsets.min()),
        "paper_highest": float(subsets.max()),
        "paper_drop": float(f1.loc[1.0] - f1.loc[frac]),
        "line": bc.cell_line,
        "n_units": len(grid.units),
        "fractions": ", ".join(f"{f:.0%}" for f in bc.fractions),
        "scratch_fractions": ", ".join(f"{f:.0%}" for f in bc.scratch_fractions) or "—",
        "reps": bc.repetitions,
        "subsample_validation": bool(bc.subsample_validation),
        "n_valid": grid.n_valid,
        "smallest": float(smallest),
        "n_valid_smallest": round(smallest * grid.n_valid),
        "min_steps": bc.min_steps,
        "goal_fraction": float(frac),
        "goal_n_train": float(n_train),
        "goal_paper_n_train": paper_n,
        "goal_size_ratio": paper_n / n_train if n_train > 0 else float("nan"),
        "goal_retention_ft": ft,
        "goal_retention_scratch": sc,
        "goal_retention": claim.threshold("retention"),
        "goal_baseline": claim.threshold("baseline"),
        "smallest_ft_fraction": float(smallest_ft),
        "smallest_auroc_ft": ft_smallest,
        "smallest_pretrained_auroc": grid.pretrained_auroc,
        "smallest_baseline_full_auroc": baseline_full,
        "goal_smallest_gap": -claim.threshold("smallest_vs_baseline"),
        "goal_outcome": claim.outcome(stats),
    }
    # numpy scalars glue as "np.float64(...)", which a glue role's format spec cannot read
    return {k: v.item() if isinstance(v, np.generic) else v for k, v in out.items()}


def metrics(grid: Grid) -> dict[str, float]:
    """The chapter's results for :func:`.results.save_metrics`: per fraction and kind, mean and
    sd of each metric, the mean training-set size and the AUROC retention."""
    out: dict[str, float] = {}
    for (kind, frac), row in _summary(grid).set_index(["kind", "fraction"]).iterrows():
        for m in ("f1_overall", "f1_pos", "f1_neg", "auroc"):
            out[f"bootstrap.{frac:g}.{kind}.{m}_mean"] = float(row[f"{m}_mean"])
            out[f"bootstrap.{frac:g}.{kind}.{m}_sd"] = float(row[f"{m}_sd"])
    for (kind, frac), n in grid.all_units.groupby(["kind", "fraction"])["n_train"].mean().items():
        out[f"bootstrap.{frac:g}.{kind}.n_train_mean"] = float(n)
    keys = {label: kind for kind, label in stages.KIND_LABELS.items()}
    ret = retention(grid)
    for label in ret.columns:
        for frac, val in ret[label].items():
            if np.isfinite(val):  # the baseline runs only at some fractions
                out[f"bootstrap.{frac:g}.{keys[label]}.auroc_retention"] = float(val)
    return out

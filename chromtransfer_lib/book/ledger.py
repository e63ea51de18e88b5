"""The reproduction ledger: every reported result of the paper next to this run's value.

Paper values: ``paper_results.yaml`` (:mod:`chromtransfer_lib.reported`); each claim's rule
(statistics, comparison, threshold, also used by the calibration runner): ``data/claims.yaml``
(:mod:`.claims`); this run's values: only the metrics the chapters saved (:mod:`.results`).
See ARCHITECTURE.md ("one of each"). Each claim gets a status:

* ``reproduced`` — the paper's claim holds in this run (by its rule);
* ``differs`` — it does not;
* ``not applicable at this scale`` — the profile cannot test it (a stage the profile skips,
  or a claim that did not hold on every recorded seed of the profile: :mod:`.claim_support`);
* ``not run`` — the chapter that computes it has not been run.

Choices (places where we had to decide something the paper leaves open, or deviate from it)
are listed with status ``choice`` and their reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from chromtransfer_lib.book import claims as claim_rules
from chromtransfer_lib.book import paper
from chromtransfer_lib.book.claims import Claim
from chromtransfer_lib.config import CELL_LINES, Profile
from chromtransfer_lib.fileio import atomic_path
from chromtransfer_lib.interpret.clusters import THRESHOLD as CLUSTER_THRESHOLD

LEDGER_COLUMNS = ["result", "paper_value", "this_run", "profile", "status", "note"]

#: The statuses of claims, in the order figures and counts show them.
STATUSES = ("reproduced", "differs", "not applicable at this scale", "not run")

Metrics = dict[str, Any]


@dataclass(frozen=True)
class Evidence:
    """What a run shows for one claim: the statistics its rule reads, and how the ledger shows
    them (``shown``); ``applicable=False`` when the profile cannot test the claim."""

    stats: Mapping[str, float]
    shown: str = ""
    note: str = ""
    applicable: bool = True


def _get(m: Metrics, *keys: str) -> list[Any] | None:
    vals = [m.get(k) for k in keys]
    return None if any(v is None for v in vals) else vals


def _fmt(x: float) -> str:
    return f"{x:.2f}"


def _range(m: Metrics, prefix: str, metric: str) -> list[float] | None:
    vals = [m.get(f"{prefix}.{c}.{metric}") for c in CELL_LINES]
    return None if any(v is None for v in vals) else [float(v) for v in vals]


def _pretrain_auroc(m: Metrics, _c: Claim) -> Evidence | None:
    v = _get(m, "pretrain.test.auroc", "pretrain.test.auprc")
    if v is None:
        return None
    return Evidence({"auroc": v[0]}, f"AUROC {_fmt(v[0])}, AUPRC {_fmt(v[1])}")


def _finetuned_auroc(m: Metrics, _c: Claim) -> Evidence | None:
    v = _range(m, "finetune", "test.auroc")
    if v is None:
        return None
    return Evidence({"lowest": min(v)}, f"{_fmt(min(v))}–{_fmt(max(v))}")


def _beats(m: Metrics, c: Claim) -> Evidence | None:
    metric, other = c.params["metric"], c.params["other"]
    ft, base = _range(m, "finetune", metric), _range(m, other, metric)
    if ft is None or base is None:
        return None
    gains = np.array(ft) - np.array(base)
    won = int((gains > 0).sum())
    return Evidence(
        {"lines_won": won, "mean_gain": float(gains.mean()), "lowest_other": float(min(base))},
        f"wins on {won}/{len(gains)} lines, mean gain {gains.mean():+.2f} "
        f"({gains.min():+.2f} to {gains.max():+.2f}); lowest {other} {_fmt(min(base))}",
    )


def _pretrained_weak(m: Metrics, _c: Claim) -> Evidence | None:
    pre = _range(m, "pretrained_only", "test.f1_overall")
    ft = _range(m, "finetune", "test.f1_overall")
    if pre is None or ft is None:
        return None
    won = int((np.array(ft) > np.array(pre)).sum())
    shown = f"{_fmt(min(pre))}–{_fmt(max(pre))} (fine-tuned better on {won}/{len(ft)})"
    return Evidence({"lines_improved": won}, shown)


def _k562_jump(m: Metrics, c: Claim) -> Evidence | None:
    line = c.params["line"]
    v = _get(m, f"pretrained_only.{line}.test.f1_overall", f"finetune.{line}.test.f1_overall")
    if v is None:
        return None
    return Evidence({"gain": v[1] - v[0]}, f"{_fmt(v[0])} → {_fmt(v[1])}")


def _calibration(m: Metrics, _c: Claim) -> Evidence | None:
    ft, base = _range(m, "finetune", "test.ece"), _range(m, "scratch", "test.ece")
    if ft is None or base is None:
        return None
    better = int((np.array(ft) < np.array(base)).sum())
    return Evidence(
        {"lines_better": better},
        f"mean ECE {np.mean(ft):.3f} (ChromTransfer) vs {np.mean(base):.3f} (baseline); "
        f"better on {better}/{len(ft)}",
    )


def _overfitting(m: Metrics, c: Claim) -> Evidence | None:
    line = c.params["line"]
    v = _get(m, f"overfit.{line}.finetune.gap", f"overfit.{line}.scratch.gap")
    if v is None:
        return None
    return Evidence(
        {"gap_margin": v[1] - v[0]},
        f"val − train loss at the best epoch: {v[0]:+.3f} (ChromTransfer) vs {v[1]:+.3f} "
        "(baseline)",
    )


def paper_table_1() -> pd.DataFrame:
    """The paper's Table 1 (``paper_results.yaml``, section ``table_1``), indexed by fraction:
    ``n_train`` and the mean and sd of the per-class and overall F1."""
    return pd.DataFrame(paper.section("table_1")["rows"]).set_index("fraction")


def _bootstrap(m: Metrics, c: Claim) -> Evidence | None:
    frac, full = c.params["fraction"], "bootstrap.1.finetune.f1_overall_mean"
    if full not in m:
        return None
    table = paper_table_1()["f1_overall_mean"]
    note = f"paper drop at {frac:.0%}: {table.loc[1.0] - table.loc[frac]:.2f}"
    v = _get(m, f"bootstrap.{frac:g}.finetune.f1_overall_mean", full)
    if v is None:
        return Evidence({}, note=f"{frac:.0%} is not in this profile's grid", applicable=False)
    drop = v[1] - v[0]
    return Evidence({"drop": drop}, f"{_fmt(v[0])} (100 %: {_fmt(v[1])}, drop {drop:.2f})", note)


def _first_rank(items: list, hit: Callable[[Any], bool]) -> float:
    return next((float(i) for i, x in enumerate(items, 1) if hit(x)), float("nan"))


def _drivers_top(m: Metrics, c: Claim) -> Evidence | None:
    line, family = c.params["line"], c.params["family"]
    top = m.get(f"enrichment.{line}.top_tfs")
    if top is None:
        return None

    def is_family(tf: str) -> bool:
        return tf.upper().startswith(family)

    clusters = m.get(f"enrichment.{line}.top_clusters") or []
    cluster_rank = _first_rank(clusters, lambda members: any(map(is_family, members)))
    where = f"; {family}* in look-alike cluster #{cluster_rank:.0f}" if cluster_rank > 0 else ""
    return Evidence(
        {"tf_rank": _first_rank(top, is_family), "cluster_rank": cluster_rank},
        f"top 10: {', '.join(top[:10])}{where}",
    )


def _ism_agreement(m: Metrics, c: Claim) -> Evidence | None:
    v = m.get(f"attribution.{c.params['line']}.site_spearman_gxi_vs_ism")
    if v is None:
        return None
    return Evidence(
        {"spearman": v}, f"Spearman ρ = {v:.2f} (site max grad×input vs −min ISM delta)"
    )


#: claim key → (chapter that computes it, how its statistics are read from the metrics).
MEASURES: dict[str, tuple[str, Callable[[Metrics, Claim], Evidence | None]]] = {
    "pretrain_auroc": ("02", _pretrain_auroc),
    "finetuned_auroc": ("03", _finetuned_auroc),
    "transfer_f1": ("03", _beats),
    "transfer_auroc": ("03", _beats),
    "multiclass_auroc": ("03", _beats),
    "pretrained_weak": ("03", _pretrained_weak),
    "k562_jump": ("03", _k562_jump),
    "overfitting": ("04", _overfitting),
    "calibration_ece": ("04", _calibration),
    "bootstrap_5pct": ("05", _bootstrap),
    "bootstrap_1pct": ("05", _bootstrap),
    "drivers_hepg2_cebp": ("07", _drivers_top),
    "drivers_hepg2_hnf4": ("07", _drivers_top),
    "drivers_k562_gata": ("07", _drivers_top),
    "ism_agreement": ("06", _ism_agreement),
}


def _paper_value(c: Claim) -> str:
    if "fraction" in c.params and c.key.startswith("bootstrap"):
        row = paper_table_1().loc[c.params["fraction"]]
        return f"{row['f1_overall_mean']:.2f} (sd {row['f1_overall_sd']:.2f})"
    return paper.paper_text(str(paper.section("ledger")[c.key]))


def judge(claim: Claim, metrics: Metrics) -> tuple[str, str, str]:
    """``(this run's value as shown, status, note)`` of one claim for a run's metrics."""
    chapter, measure = MEASURES[claim.key]
    ev = measure(metrics, claim)
    if ev is None:
        return "", "not run", f"chapter {chapter}"
    if not ev.applicable:
        return ev.shown, "not applicable at this scale", ev.note
    status = "reproduced" if claim.holds(ev.stats) else "differs"
    note = f"rule: {claim.rule()}" + (f"; {ev.note}" if ev.note else "")
    return ev.shown, status, note


#: Methodological choices that are the same in every profile.
FIXED_CHOICES: tuple[tuple[str, str], ...] = (
    (
        "Fine-tuning recipe",
        "The paper's: the whole network is trained at a small learning rate with a new "
        "head; the authors' repository also has a frozen-trunk script, not used here.",
    ),
    (
        "Motif sites",
        "Predicted by scanning the analysed regions (exact p < 1e-5 under a uniform "
        "background), instead of the JASPAR 2022 genome-wide track the authors imported.",
    ),
    (
        "KS tests",
        "scipy.stats.ks_2samp (exact/asymptotic as SciPy chooses) instead of R's ks.test; "
        "Benjamini–Hochberg as in R's p.adjust.",
    ),
    (
        "Network wiring",
        "The Methods' description is ambiguous; the reading with the first triple of identity "
        "blocks concatenated and the second chained reproduces the 655,777 parameters of the "
        "paper-width network (checked by a test), with he_normal initialisation. The authors' "
        "code also applies an L2 penalty of 1e-4 that the paper does not mention; not used.",
    ),
    (
        "Cross-validation and test predictions",
        "Whole chromosomes are assigned to the 3 folds (balanced per class); test metrics "
        "use the mean prediction of the trained partition models (the fold ensemble).",
    ),
    (
        "Multiclass baseline comparison",
        "The multiclass model's probability for a line is scored on that line's binary test "
        "set, so every model is compared on the same rows (its own one-vs-rest AUROC on the "
        "multiclass test set is shown too).",
    ),
    (
        "Bootstrap validation data",
        "Set by the profile (bootstrap.subsample_validation): subsample the validation fold "
        "with the training data (the paper subsampled all non-test data; the paper profile) or "
        "validate on the whole fold (quick, whose 5 % subsets are too small to early-stop "
        "on). The binary baseline is trained on the same subsets at the profile's "
        "bootstrap.scratch_fractions, beyond the paper.",
    ),
    (
        "Planted drivers in the top TFs",
        "Counted per look-alike cluster of JASPAR matrices (column-wise Pearson correlation of "
        f"aligned matrices, both strands, average linkage at similarity {CLUSTER_THRESHOLD:g}): "
        "a driver is in "
        "the top 5 when it is significant with D > 0 and its cluster is among the 5 best "
        "clusters. The paper reads its rankings by family too (CEBPs, GATA factors, PAR "
        "bZIPs); per-matrix ranks are reported beside them.",
    ),
    (
        "Early stopping",
        "The paper gives patiences but not what early stopping watched; Keras' default, the "
        "validation loss, is used unless a profile's <section>.monitor says val_auroc (binary "
        "models only). The best epoch's weights are restored.",
    ),
    (
        "Pre-training exclusions with the paper's data",
        "rDHSs accessible in any of the six lines are approximated by the regions of the "
        "authors' label files (positives and _NEG rows), which list only line-specific "
        "rDHSs; rDHSs open in several lines cannot be identified from these files.",
    ),
    (
        "Overall F1",
        "Support-weighted mean of the positive- and negative-class F1 at threshold 0.5, "
        "which matches the paper's Table 1 'overall'.",
    ),
)


def build_ledger(
    metrics: Metrics, profile: Profile, *, support: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The ledger table (columns :data:`LEDGER_COLUMNS`) for one run.

    ``support`` (:func:`.claim_support.support_table` of the profile's configuration): a claim
    that it does not mark as supported — not reproduced on every recorded seed of this
    profile — is "not applicable at this scale", with this run's own verdict and the seed
    count in its note."""
    rows = []
    supported = {} if support is None else {r.claim: r for r in support.itertuples()}
    for claim in claim_rules.ledger_claims():
        this_run, status, note = judge(claim, metrics)
        if profile.name == "smoke" and status != "not run":
            status, note = "not applicable at this scale", "the smoke profile makes no claims"
        rec = supported.get(claim.key)
        if rec is not None and not rec.supported and status in ("reproduced", "differs"):
            note = (
                f"not supported at this profile's scale: reproduced on {rec.reproduced} of "
                f"{rec.seeds} recorded seeds; this run: {status}; {note}"
            )
            status = "not applicable at this scale"
        rows.append((claim.result, _paper_value(claim), this_run, status, note))
    rows += [(f"Choice: {what}", "", "", "choice", why) for what, why in FIXED_CHOICES]
    rows += [("Deviation of this profile", "", "", "choice", d) for d in profile.deviations]
    table = pd.DataFrame(rows, columns=["result", "paper_value", "this_run", "status", "note"])
    return table.assign(profile=profile.name)[LEDGER_COLUMNS]


def write_ledger(table: pd.DataFrame, run_dir: Path) -> Path:
    """Write ``ledger.csv`` into the run directory (atomically) and return its path."""
    path = Path(run_dir) / "ledger.csv"
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
    return path


def ensure_ledger(ctx: Any, *, support: pd.DataFrame | None = None) -> pd.DataFrame:
    """Chapter 9's ledger: built from the metrics saved in ``ctx.run_dir`` (a
    :class:`~chromtransfer_lib.book.stages.RunContext`), with the profile's ``support`` table
    if any (:func:`build_ledger`), and written there as ``ledger.csv``."""
    from chromtransfer_lib.book.results import load_metrics

    table = build_ledger(load_metrics(ctx.run_dir), ctx.profile, support=support)
    write_ledger(table, ctx.run_dir)
    return table


def status_counts(table: pd.DataFrame) -> dict[str, int]:
    """Claims per status (``n_reproduced``, ``n_differs``, ``n_not_applicable``, ``n_not_run``)
    and ``n_claims``, for the chapter's prose."""
    claims = table[table["status"] != "choice"]
    counts = claims["status"].value_counts()
    names = ("n_reproduced", "n_differs", "n_not_applicable", "n_not_run")
    out = {name: int(counts.get(s, 0)) for name, s in zip(names, STATUSES, strict=True)}
    return {"n_claims": len(claims), **out}


_STATUS_COLOURS = {
    "reproduced": "#d8f0d8",
    "differs": "#f8d8d0",
    "not applicable at this scale": "#eeeeee",
    "not run": "#fff3c4",
}

#: Figure colours of the statuses (Okabe–Ito where they mean the same as the cells' tints).
STATUS_FILL = {
    "reproduced": "#009E73",
    "differs": "#D55E00",
    "not applicable at this scale": "#BBBBBB",
    "not run": "#F0E442",
}


def status_style(status: str) -> str:
    """CSS for a status cell in the rendered ledger."""
    colour = _STATUS_COLOURS.get(status)
    return f"background-color: {colour}" if colour else ""


def claims_view(table: pd.DataFrame):
    """The reported results (every row but the choices), styled by status, without the index."""
    claims = table[table["status"] != "choice"].drop(columns=["profile"])
    return claims.style.hide(axis="index").map(status_style, subset=["status"])


def choices_view(table: pd.DataFrame):
    """The choices and deviations (result and reason), without the index."""
    return table[table["status"] == "choice"][["result", "note"]].style.hide(axis="index")


def status_figure(table: pd.DataFrame):
    """One bar per reported result, coloured by its status (plotnine)."""
    import plotnine as p9

    from chromtransfer_lib.book.plots import theme_book

    claims = table[table["status"] != "choice"]
    data = claims.assign(
        status=pd.Categorical(claims["status"], categories=list(STATUSES)),
        result=pd.Categorical(claims["result"], categories=list(claims["result"])[::-1]),
    )
    profile = ", ".join(dict.fromkeys(table["profile"]))
    return (
        p9.ggplot(data, p9.aes("result", fill="status"))
        + p9.geom_bar(width=0.7)
        + p9.coord_flip()
        + p9.scale_fill_manual(STATUS_FILL, drop=False)
        + p9.labs(x="", y="", fill="", title=f"The paper's results at profile {profile}")
        + theme_book()
        + p9.theme(
            axis_text_x=p9.element_blank(),
            axis_ticks_major_x=p9.element_blank(),
            figure_size=(9, 5),
            legend_position="bottom",
        )
    )

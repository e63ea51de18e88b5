"""The reproduction ledger: every reported result of the paper next to this run's value.

Paper values are facts quoted from the paper (Results, Table 1); this run's values come only
from the metrics the chapters saved (:mod:`chromtransfer_lib.book.results`). Each row states a claim
and a rule that decides its status:

* ``reproduced`` — the paper's claim holds in this run (by the stated rule);
* ``differs`` — it does not;
* ``not applicable at this scale`` — the profile cannot test it (e.g. absolute values on a
  simulated world, or a stage the profile skips);
* ``not run`` — the chapter that computes it has not been run.

Choices (places where we had to decide something the paper leaves open, or deviate from it)
are listed with status ``choice`` and their reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from chromtransfer_lib.config import CELL_LINES, Profile
from chromtransfer_lib.interpret.clusters import THRESHOLD as CLUSTER_THRESHOLD

LEDGER_COLUMNS = ["result", "paper_value", "this_run", "profile", "status", "note"]

Metrics = dict[str, Any]


@dataclass(frozen=True)
class Claim:
    """One reported result and how to check it against a run's metrics."""

    result: str
    paper_value: str
    check: Callable[[Metrics], tuple[str, str, str]]
    """metrics → (this_run as text, status, note)."""


def _get(m: Metrics, *keys: str) -> list[Any] | None:
    vals = [m.get(k) for k in keys]
    return None if any(v is None for v in vals) else vals


def _fmt(x: float) -> str:
    return f"{x:.2f}"


def _pretrain_auroc(m: Metrics) -> tuple[str, str, str]:
    v = _get(m, "pretrain.test.auroc", "pretrain.test.auprc")
    if v is None:
        return "", "not run", "chapter 02"
    ok = v[0] >= 0.85
    return (
        f"AUROC {_fmt(v[0])}, AUPRC {_fmt(v[1])}",
        "reproduced" if ok else "differs",
        "rule: test AUROC ≥ 0.85 (a strong open-vs-closed classifier)",
    )


def _range(m: Metrics, prefix: str, metric: str) -> list[float] | None:
    vals = [m.get(f"{prefix}.{c}.{metric}") for c in CELL_LINES]
    return None if any(v is None for v in vals) else [float(v) for v in vals]


def _finetuned_auroc(m: Metrics) -> tuple[str, str, str]:
    v = _range(m, "finetune", "test.auroc")
    if v is None:
        return "", "not run", "chapter 03"
    ok = min(v) >= 0.75
    return (
        f"{_fmt(min(v))}–{_fmt(max(v))}",
        "reproduced" if ok else "differs",
        "rule: every line's fine-tuned test AUROC ≥ 0.75",
    )


def _beats(metric: str, other: str) -> Callable[[Metrics], tuple[str, str, str]]:
    def check(m: Metrics) -> tuple[str, str, str]:
        ft, base = _range(m, "finetune", metric), _range(m, other, metric)
        if ft is None or base is None:
            return "", "not run", "chapter 03"
        gains = np.array(ft) - np.array(base)
        won = int((gains > 0).sum())
        ok = won >= 5 and gains.mean() > 0
        return (
            f"wins on {won}/6 lines, mean gain {gains.mean():+.2f} "
            f"({gains.min():+.2f} to {gains.max():+.2f})",
            "reproduced" if ok else "differs",
            f"rule: ChromTransfer ahead on ≥ 5 of 6 lines in {metric}, mean gain > 0",
        )

    return check


def _pretrained_weak(m: Metrics) -> tuple[str, str, str]:
    pre = _range(m, "pretrained_only", "test.f1_overall")
    ft = _range(m, "finetune", "test.f1_overall")
    if pre is None or ft is None:
        return "", "not run", "chapter 03"
    won = int((np.array(ft) > np.array(pre)).sum())
    return (
        f"{_fmt(min(pre))}–{_fmt(max(pre))} (fine-tuned better on {won}/6)",
        "reproduced" if won >= 5 else "differs",
        "rule: fine-tuning improves the pre-trained model's overall F1 on ≥ 5 of 6 lines",
    )


def _k562_jump(m: Metrics) -> tuple[str, str, str]:
    v = _get(m, "pretrained_only.K562.test.f1_overall", "finetune.K562.test.f1_overall")
    if v is None:
        return "", "not run", "chapter 03"
    return (
        f"{_fmt(v[0])} → {_fmt(v[1])}",
        "reproduced" if v[1] - v[0] > 0.1 else "differs",
        "rule: fine-tuning raises K562 overall F1 by more than 0.1",
    )


def _calibration(m: Metrics) -> tuple[str, str, str]:
    ft, base = _range(m, "finetune", "test.ece"), _range(m, "scratch", "test.ece")
    if ft is None or base is None:
        return "", "not run", "chapter 04"
    better = int((np.array(ft) < np.array(base)).sum())
    return (
        f"mean ECE {np.mean(ft):.3f} (ChromTransfer) vs {np.mean(base):.3f} (baseline); "
        f"better on {better}/6",
        "reproduced" if better >= 4 else "differs",
        "ECE is not in the paper (it shows curves only); rule: lower ECE on ≥ 4 of 6 lines",
    )


def _overfitting(m: Metrics) -> tuple[str, str, str]:
    v = _get(m, "overfit.HepG2.finetune.gap", "overfit.HepG2.scratch.gap")
    if v is None:
        return "", "not run", "chapter 04"
    return (
        f"val − train loss at the best epoch: {v[0]:+.3f} (ChromTransfer) vs {v[1]:+.3f} "
        "(baseline)",
        "reproduced" if v[0] < v[1] else "differs",
        "rule: the fine-tuned model's generalisation gap is smaller than the baseline's",
    )


def _bootstrap(frac: float, paper: float) -> Callable[[Metrics], tuple[str, str, str]]:
    def check(m: Metrics) -> tuple[str, str, str]:
        full = "bootstrap.1.finetune.f1_overall_mean"
        if full not in m:
            return "", "not run", "chapter 05"
        v = _get(m, f"bootstrap.{frac:g}.finetune.f1_overall_mean", full)
        if v is None:
            return "", "not applicable at this scale", f"{frac:.0%} is not in this profile's grid"
        drop = v[1] - v[0]
        return (
            f"{_fmt(v[0])} (100 %: {_fmt(v[1])}, drop {drop:.2f})",
            "reproduced" if drop <= 0.1 else "differs",
            f"paper drop at {frac:.0%}: {0.79 - paper:.2f}; rule: drop ≤ 0.10",
        )

    return check


def _drivers_top(line: str, family: str) -> Callable[[Metrics], tuple[str, str, str]]:
    def check(m: Metrics) -> tuple[str, str, str]:
        top = m.get(f"enrichment.{line}.top_tfs")
        if top is None:
            return "", "not run", "chapter 07"
        hit = [t for t in top[:10] if t.upper().startswith(family)]
        clusters = m.get(f"enrichment.{line}.top_clusters") or []
        rank = next(
            (
                i
                for i, c in enumerate(clusters[:5], 1)
                if any(t.upper().startswith(family) for t in c)
            ),
            None,
        )
        where = f"; {family}* in look-alike cluster #{rank}" if rank else ""
        return (
            f"top 10: {', '.join(top[:10])}{where}",
            "reproduced" if hit or rank else "differs",
            f"rule: a {family}* factor among the top 10 TFs, or in one of the top 5 look-alike "
            "clusters, by signed KS D (FDR < 0.001)",
        )

    return check


def _ism_agreement(m: Metrics) -> tuple[str, str, str]:
    v = m.get("attribution.HepG2.site_spearman_gxi_vs_ism")
    if v is None:
        return "", "not run", "chapter 06"
    return (
        f"Spearman ρ = {v:.2f} (site max grad×input vs −min ISM delta)",
        "reproduced" if v >= 0.5 else "differs",
        "rule: ρ ≥ 0.5",
    )


CLAIMS: tuple[Claim, ...] = (
    Claim("Pre-trained model, test set (Fig 1D–E)", "AUROC 0.94, AUPRC 0.90", _pretrain_auroc),
    Claim("Fine-tuned test AUROC across the six lines (Fig 1F)", "0.79–0.89", _finetuned_auroc),
    Claim(
        "ChromTransfer vs binary baseline, overall F1 (Fig 1H, Table S1)",
        "better on 6/6, mean +0.13 (+0.05 K562 to +0.27 MCF7)",
        _beats("test.f1_overall", "scratch"),
    ),
    Claim(
        "ChromTransfer vs binary baseline, test AUROC (Fig 1F–G, Table S2)",
        "better on 6/6",
        _beats("test.auroc", "scratch"),
    ),
    Claim(
        "ChromTransfer vs multiclass baseline, one-vs-rest AUROC (Table S3)",
        "mean +0.15",
        _beats("test.auroc", "multiclass"),
    ),
    Claim(
        "Pre-trained model without fine-tuning, overall F1 (Table S1)",
        "0.24–0.49",
        _pretrained_weak,
    ),
    Claim("K562 overall F1, pre-trained → fine-tuned", "0.24 → 0.86", _k562_jump),
    Claim(
        "Learning curves: baseline over-fits, ChromTransfer does not (Fig 2A–B)",
        "qualitative",
        _overfitting,
    ),
    Claim(
        "Calibration on the test set (Fig 2C–D)",
        "baseline poorly calibrated, ChromTransfer well calibrated",
        _calibration,
    ),
    Claim(
        "HepG2 fine-tuned on 5 % of the data, overall F1 (Table 1)",
        "0.74 (sd 0.01)",
        _bootstrap(0.05, 0.74),
    ),
    Claim(
        "HepG2 fine-tuned on 1 % of the data, overall F1 (Table 1)",
        "0.67 (sd 0.12)",
        _bootstrap(0.01, 0.67),
    ),
    Claim(
        "HepG2 model: CEBP sites among the most important (Fig S4)",
        "CEBPs top-ranked",
        _drivers_top("HepG2", "CEBP"),
    ),
    Claim(
        "HepG2 model: HNF4 sites important (Fig 3D, 3G)",
        "HNF4A high",
        _drivers_top("HepG2", "HNF4"),
    ),
    Claim(
        "K562 model: GATA sites among the most important (Fig S4)",
        "GATA top-ranked",
        _drivers_top("K562", "GATA"),
    ),
    Claim("ISM agrees with gradient × input (Fig S3)", "large agreement", _ism_agreement),
)

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


def build_ledger(metrics: Metrics, profile: Profile) -> pd.DataFrame:
    """The ledger table (columns :data:`LEDGER_COLUMNS`) for one run."""
    rows = []
    for claim in CLAIMS:
        this_run, status, note = claim.check(metrics)
        if profile.name == "smoke" and status not in ("not run",):
            status, note = "not applicable at this scale", "the smoke profile makes no claims"
        rows.append(
            {
                "result": claim.result,
                "paper_value": claim.paper_value,
                "this_run": this_run,
                "profile": profile.name,
                "status": status,
                "note": note,
            }
        )
    for what, why in FIXED_CHOICES:
        rows.append(
            {
                "result": f"Choice: {what}",
                "paper_value": "",
                "this_run": "",
                "profile": profile.name,
                "status": "choice",
                "note": why,
            }
        )
    for dev in profile.deviations:
        rows.append(
            {
                "result": "Deviation of this profile",
                "paper_value": "",
                "this_run": "",
                "profile": profile.name,
                "status": "choice",
                "note": dev,
            }
        )
    return pd.DataFrame(rows, columns=LEDGER_COLUMNS)


def write_ledger(table: pd.DataFrame, run_dir: Path) -> Path:
    """Write ``ledger.csv`` into the run directory (atomically) and return its path."""
    path = Path(run_dir) / "ledger.csv"
    tmp = path.with_suffix(".csv.tmp")
    table.to_csv(tmp, index=False)
    tmp.replace(path)
    return path


_STATUS_COLOURS = {
    "reproduced": "background-color: #d8f0d8",
    "differs": "background-color: #f8d8d0",
    "not applicable at this scale": "background-color: #eeeeee",
    "not run": "background-color: #fff3c4",
}


def status_style(status: str) -> str:
    """CSS for a status cell in the rendered ledger."""
    return _STATUS_COLOURS.get(status, "")

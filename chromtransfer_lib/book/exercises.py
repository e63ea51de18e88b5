"""The numbers the chapters' exercise solutions quote, one function per chapter.

Each chapter's exercises ask a learner to change one profile key or one argument; where a
solution states what comes out, the chapter computes it here, with the very call the exercise
asks for (or, for a profile key, the cheap part of it: what a derived profile would train, how
large its network is), and glues it, so no solution quotes a typed number. Nothing here trains
a model or writes to the run directory: profile changes go through
:meth:`.stages.RunContext.derive` and :func:`.stages.pending_jobs`, which only look.

Keys start with ``ex_``; values are plain numbers and names (ARCHITECTURE.md, book layer).
"""

from __future__ import annotations

from pathlib import Path

from chromtransfer_lib import evaluate
from chromtransfer_lib.book import gallery, ledger, report, results, stages, tables
from chromtransfer_lib.book.interpret_analyses import Enrichment
from chromtransfer_lib.book.interpret_tables import driver_counts
from chromtransfer_lib.book.interpretation import Attribution
from chromtransfer_lib.book.variant_chapter import VariantEffects
from chromtransfer_lib.config import load_profile


def _driver_logos(run: report.Run, per_line: int) -> int:
    """How many logos ``figures.driver_logos(run, per_line=...)`` draws."""
    motifs = report.world_motifs(run)
    if motifs is None:
        return 0
    drivers = motifs[motifs["role"] == "driver"]
    return sum(
        min(per_line, int((drivers["driver_of"] == line).sum()))
        for line in run.profile.simulation.drivers
    )


def data_answers(run: report.Run) -> dict[str, object]:
    """Chapter 1: logos drawn at ``per_line=5`` and 2; the pre-training negatives per positive."""
    return {
        "ex_driver_logos_5": _driver_logos(run, 5),
        "ex_driver_logos_2": _driver_logos(run, 2),
        "ex_neg_per_pos": float(run.profile.data.pretrain_negatives_per_positive),
    }


def _parameters(run: report.Run) -> tuple[int, int]:
    """Trunk and head parameters of a run's pre-training network."""
    net = tables.network(run).groupby("part")["parameters"].sum()
    return int(net.get("trunk", 0)), int(net.get("head", 0))


def pretraining_answers(run: report.Run) -> dict[str, object]:
    """Chapter 2: the network's parameters with twice the stem filters; the epoch cap."""
    stem = run.profile.model.stem_filters
    wide = report.Run(run.ctx.derive({"model.stem_filters": 2 * stem}))
    (trunk, head), (trunk2, head2) = _parameters(run), _parameters(wide)
    return {
        "ex_stem_filters": stem,
        "ex_stem_filters_2x": 2 * stem,
        "ex_trunk_params": trunk,
        "ex_head_params": head,
        "ex_trunk_params_2x": trunk2,
        "ex_head_params_2x": head2,
        "ex_pretrain_max_epochs": run.profile.pretrain.max_epochs,
    }


def _hepg2_chromtransfer(run: report.Run) -> report.Prediction:
    return next(
        p for p in report.ensemble_predictions(run, line="HepG2") if p.model == "ChromTransfer"
    )


def finetuning_answers(run: report.Run) -> dict[str, object]:
    """Chapter 3: what training ChromTransfer on every partition would add; HepG2's
    ChromTransfer recall and precision at thresholds 0.5 and 0.3."""
    all_folds = list(range(run.profile.data.n_folds))
    wider = run.ctx.derive({"finetune.folds": all_folds})
    pending = stages.pending_jobs(wider)
    kinds = sorted({dict(j.args).get("kind", j.kind) for j in pending})
    pred = _hepg2_chromtransfer(run)
    at = {t: evaluate.binary_metrics(pred.y, pred.p, threshold=t) for t in (0.5, 0.3)}
    return {
        "ex_finetune_folds": ", ".join(map(str, run.profile.finetune.folds)),
        "ex_all_folds": ", ".join(map(str, all_folds)),
        "ex_n_folds": len(all_folds),
        "ex_pending_all_folds": len(pending),
        "ex_pending_all_folds_kinds": ", ".join(kinds) or "none",
        "ex_recall_05": at[0.5]["recall"],
        "ex_recall_03": at[0.3]["recall"],
        "ex_precision_05": at[0.5]["precision"],
        "ex_precision_03": at[0.3]["precision"],
    }


def overfitting_answers(run: report.Run) -> dict[str, object]:
    """Chapter 4: K562's mean generalisation gaps; HepG2's test ECE with 5 bins."""
    gaps = report.line_gaps(run)
    out: dict[str, object] = {
        "ex_gap_ft_K562": float(gaps[("finetune", "K562")]),
        "ex_gap_bl_K562": float(gaps[("scratch", "K562")]),
    }
    for pred in report.ensemble_predictions(run, line="HepG2"):
        key = "ft" if pred.model == "ChromTransfer" else "bl"
        out[f"ex_ece5_{key}"] = evaluate.expected_calibration_error(pred.y, pred.p, n_bins=5)
        out[f"ex_ece10_{key}"] = evaluate.expected_calibration_error(pred.y, pred.p, n_bins=10)
        out["ex_n_test_HepG2"] = int(pred.y.size)
    return out


def bootstrap_answers(ctx: stages.RunContext) -> dict[str, object]:
    """Chapter 5: the grid with three times the repetitions, and how much of it is pending."""
    reps = ctx.profile.bootstrap.repetitions
    more = ctx.derive({"bootstrap.repetitions": 3 * reps})
    units = stages.bootstrap_grid(more).units(stages.bootstrap_kinds(more.profile.bootstrap))
    return {
        "ex_reps": reps,
        "ex_reps_3x": 3 * reps,
        "ex_units_3x": len(units),
        "ex_pending_3x": len(stages.pending_jobs(more, line_models=False, bootstrap=True)),
    }


def attribution_answers(att: Attribution) -> dict[str, object]:
    """Chapter 6: matrices that cannot reach a ten times looser scan threshold."""
    loose = 10 * att.config.p_value
    best = att.scan.unreachable["best_p"]
    return {
        "ex_p_value_loose": f"{loose:g}",
        "ex_unreachable_loose": int((best >= loose).sum()),
        "ex_unreachable": len(best),
    }


def enrichment_answers(att: Attribution, enr: Enrichment) -> dict[str, object]:
    """Chapter 7: HepG2 drivers in the top 10 (and 5) of the HepG2 model; significant TFs at
    FDR 0.05."""
    label = Enrichment.label("HepG2")
    out: dict[str, object] = {}
    for n in (5, 10):
        table = driver_counts(att, enr, n=n)
        row = table[(table["line"] == "HepG2") & (table["model"] == label)]
        out[f"ex_top{n}_HepG2"] = int(row[f"in top {n}"].iloc[0]) if len(row) else 0
    out["ex_significant_fdr05_HepG2"] = int((enr.ks["HepG2"]["fdr"] < 0.05).sum())
    return out


def ledger_answers(ctx: stages.RunContext) -> dict[str, object]:
    """Chapter 9: the ledger of a run with no saved metrics, and this run's metrics judged as
    the ``paper`` profile's."""
    empty = ledger.status_counts(ledger.build_ledger({}, ctx.profile))
    as_paper = ledger.build_ledger(results.load_metrics(ctx.run_dir), load_profile("paper"))
    counts = ledger.status_counts(as_paper)
    return {
        "ex_empty_not_run": empty["n_not_run"],
        "ex_empty_claims": empty["n_claims"],
        **{f"ex_paper_{k.removeprefix('n_')}": v for k, v in counts.items()},
    }


def gallery_answers(root: Path, ctx: stages.RunContext) -> dict[str, object]:
    """Chapter 10: figures at one per chapter; this profile's slowest chapter with and without
    ``current``."""
    figures = gallery.chapter_figures(root / "book" / "chapters", per_chapter=1)
    name = ctx.profile.name
    out: dict[str, object] = {
        "ex_figures_1": len(figures),
        "ex_chapters_1": int(figures["chapter"].nunique()),
    }
    for key, current in (("with", (name, ctx.run_dir)), ("without", None)):
        times = gallery.measured_times(root / "runs", current=current).set_index("profile")
        slowest = times["slowest chapter"].get(name, "not run here")
        out[f"ex_slowest_{key}"] = str(slowest)
    return out


def calibration_answers(ctx: stages.RunContext) -> dict[str, object]:
    """Chapter 11: what stopping ChromTransfer on validation AUROC would train in this run
    directory, against what this run's own profile still has to train."""
    derived = ctx.derive({"finetune.monitor": "val_auroc"})
    return {
        "ex_monitor": ctx.profile.finetune.monitor,
        "ex_pending_auroc": len(stages.pending_jobs(derived)),
        "ex_pending_now": len(stages.pending_jobs(ctx)),
    }


__all__ = [
    "attribution_answers", "bootstrap_answers", "calibration_answers", "data_answers",
    "enrichment_answers", "finetuning_answers", "gallery_answers", "ledger_answers",
    "overfitting_answers", "pretraining_answers",
]  # fmt: skip


def variant_answers(att: Attribution, eff: VariantEffects) -> dict[str, object]:
    """Chapter 8: the HepG2 binary baseline's separation of breaking from neutral variants, and
    the HepG2 design at four variants per window."""
    from chromtransfer_lib.book import variant_chapter

    out: dict[str, object] = {"ex_auroc_scratch": "n/a", "ex_sign_scratch": "n/a"}
    if "HepG2" in eff.lines and len(eff.scored["HepG2"].get("HepG2", ())):
        sep = variant_chapter.score_line(att, eff, line="HepG2", model="scratch_HepG2")
        row = sep[sep["comparison"] == "breaks_driver vs neutral"].iloc[0]
        out["ex_auroc_scratch"] = variant_chapter.fmt(row["auroc"])
        out["ex_sign_scratch"] = variant_chapter.fmt(100 * row["share_expected_sign"], 0)
    n = {k: 0 for k in ("breaks_driver", "neutral", "creates_driver")}
    if eff.available and "HepG2" in eff.lines:
        design = variant_chapter.design_line(att, "HepG2", per_window=4, margin=eff.margin)
        n |= design["kind"].value_counts().to_dict()
    out |= {"ex_n_breaks_4": n["breaks_driver"], "ex_n_neutral_4": n["neutral"],
            "ex_n_creates_4": n["creates_driver"]}  # fmt: skip
    return out

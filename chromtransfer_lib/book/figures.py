"""The figures of chapters 1-4, one function each, named after the paper's figure they redraw.

Every function takes the chapter's :class:`~chromtransfer_lib.book.report.Run` and returns a
plotnine plot (or a closed matplotlib figure for sequence logos, which displays once), or
``None`` where the run lacks what the figure shows. Colours and theme come from :mod:`.plots`.
See ARCHITECTURE.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotnine as p9

from chromtransfer_lib.book import plots, report, stages, tables
from chromtransfer_lib.book.report import MODEL_ORDER, Run
from chromtransfer_lib.config import CELL_LINES

#: Colours of the training and validation curves.
SET_COLOURS = {"training": "#0072B2", "validation": "#D55E00"}

_LINE_SCALE = {"values": plots.CELL_LINE_COLOURS, "breaks": list(plots.CELL_LINE_COLOURS)}


def _closed(fig):
    """Close a matplotlib figure so a notebook shows it once (as the cell's value)."""
    import matplotlib.pyplot as plt

    plt.close(fig)
    return fig


# --- chapter 1: data ------------------------------------------------------------------------


def jaspar_logos(tfs: Sequence[str], *, ncols: int = 2):
    """Logos of the named TFs' JASPAR 2022 CORE vertebrate matrices (matplotlib figure)."""
    from chromtransfer_lib.genome.jaspar import load_jaspar, resolve_motifs

    matrices = resolve_motifs(tfs, load_jaspar(**report.JASPAR))
    return _closed(plots.plot_logo_grid(matrices, ncols=ncols, pseudocount=0.1))


def jaspar_widths(highlight: Sequence[str]) -> p9.ggplot:
    """Width against information content of every matrix, the ``highlight`` TFs labelled."""
    from chromtransfer_lib.genome.jaspar import load_jaspar, resolve_motifs

    cat = tables.jaspar_catalogue()
    ids = {m.matrix_id for m in resolve_motifs(highlight, load_jaspar(**report.JASPAR))}
    marked = cat[cat["matrix_id"].isin(ids)]
    return (
        p9.ggplot(cat, p9.aes("width", "information_bits"))
        + p9.geom_jitter(colour="#9e9e9e", alpha=0.5, width=0.25, height=0, random_state=0)
        + p9.geom_point(data=marked, colour="#D55E00", size=3)
        + p9.geom_label(p9.aes(label="tf"), data=marked, ha="left", nudge_x=0.6, size=8)
        + p9.labs(
            x="matrix width (bp)",
            y="information content (bits)",
            title="JASPAR 2022 CORE vertebrates",
        )
        + plots.theme_book()
    )


def driver_logos(run: Run, *, per_line: int = 2):
    """Logos of the first ``per_line`` drivers of each line (simulated world only)."""
    from chromtransfer_lib.genome.jaspar import load_jaspar, resolve_motifs

    motifs = report.world_motifs(run)
    if motifs is None:
        return None
    drivers = motifs[motifs["role"] == "driver"]
    ids = [
        mid
        for line in run.profile.simulation.drivers
        for mid in drivers.loc[drivers["driver_of"] == line, "matrix_id"].head(per_line)
    ]
    matrices = resolve_motifs(ids, load_jaspar(**report.JASPAR))
    line_of = drivers.set_index("matrix_id")["driver_of"]
    titles = [f"{line_of[m.matrix_id]}: {m.name}" for m in matrices]
    return _closed(plots.plot_logo_grid(matrices, ncols=4, titles=titles, pseudocount=0.1))


def _split_sizes(run: Run) -> pd.DataFrame:
    rows = []
    for line in CELL_LINES:
        reg = run.need("datasets").finetune[line].regions
        for (split, y), n in reg.groupby(["split", "y"]).size().items():
            label = "positive" if y == 1 else "negative"
            rows.append({"cell_line": line, "split": split, "class": label, "n": int(n)})
    return pd.DataFrame(rows)


def dataset_sizes(run: Run) -> p9.ggplot:
    """Fine-tuning sequences per line, split and class (stacked bars)."""
    return (
        p9.ggplot(_split_sizes(run), p9.aes("cell_line", "n", fill="class"))
        + p9.geom_col(position="stack")
        + p9.facet_wrap("~split", scales="free_y")
        + p9.scale_fill_manual({"positive": "#0072B2", "negative": "#BBBBBB"})
        + p9.labs(x="", y="sequences", title="Fine-tuning sets per split and class")
        + plots.theme_book()
        + p9.theme(axis_text_x=p9.element_text(rotation=45, ha="right"))
    )


def _gc_by_group(run: Run) -> pd.DataFrame:
    import numpy as np

    from chromtransfer_lib.genome.sequence import gc_fraction

    ds = run.need("datasets")
    pre, parts = ds.pretrain, []
    for label, cls in (("rDHS (pre-training +)", 1), ("background (pre-training −)", 0)):
        gc = gc_fraction(np.asarray(pre.codes[np.flatnonzero(pre.labels == cls)]))
        parts.append(pd.DataFrame({"group": label, "gc": gc}))
    for line in CELL_LINES:
        d = ds.finetune[line]
        gc = gc_fraction(np.asarray(d.codes[np.flatnonzero(d.labels == 1)]))
        parts.append(pd.DataFrame({"group": f"{line} +", "gc": gc}))
    out = pd.concat(parts, ignore_index=True)
    out["group"] = pd.Categorical(out["group"], categories=list(dict.fromkeys(out["group"])))
    return out


def gc_content(run: Run) -> p9.ggplot:
    """GC content of pre-training positives and negatives and of each line's positives."""
    return (
        p9.ggplot(_gc_by_group(run), p9.aes("group", "gc"))
        + p9.geom_boxplot(outlier_alpha=0.2, fill="#56B4E9")
        + p9.coord_flip()
        + p9.labs(x="", y="GC fraction", title="GC content per group")
        + plots.theme_book()
    )


# --- chapter 2: pre-training ----------------------------------------------------------------


def pretraining_learning_curves(run: Run) -> p9.ggplot:
    """Training and validation loss per epoch of every pre-training partition."""
    curves = report.learning_curves({"pre-trained": run.need("pretrain").histories})
    return (
        p9.ggplot(curves, p9.aes("epoch", "loss", colour="set"))
        + p9.geom_line(size=1)
        + p9.geom_point()
        + p9.facet_wrap("~partition")
        + p9.scale_colour_manual(SET_COLOURS)
        + p9.labs(y="binary cross-entropy", colour="", title="Pre-training learning curves")
        + plots.theme_book()
    )


def _pretraining_curves(run: Run) -> tuple[pd.DataFrame, pd.DataFrame]:
    roc, prc = report.curve_tables(run.pretraining_predictions)
    for t in (roc, prc):
        t["set"] = t["model"] + " (" + t["label"].str.extract(r"\((.*)\)")[0] + ")"
    return roc, prc


def fig1d(run: Run) -> p9.ggplot:
    """Fig 1D: ROC of the pre-trained model on training, validation and test data."""
    return (
        p9.ggplot(_pretraining_curves(run)[0], p9.aes("fpr", "tpr", colour="set"))
        + p9.geom_abline(linetype="dashed", colour="#999999")
        + p9.geom_path(size=1)
        + p9.coord_equal()
        + p9.labs(
            x="false positive rate",
            y="true positive rate",
            colour="AUROC",
            title="Pre-trained model: ROC",
        )
        + plots.theme_book()
        + p9.theme(figure_size=(5.5, 4))
    )


def fig1e(run: Run) -> p9.ggplot:
    """Fig 1E: precision-recall curves of the pre-trained model on the same rows."""
    return (
        p9.ggplot(_pretraining_curves(run)[1], p9.aes("recall", "precision", colour="set"))
        + p9.geom_path(size=1)
        + p9.coord_equal()
        + p9.labs(colour="AUPRC", title="Pre-trained model: precision–recall")
        + plots.theme_book()
        + p9.theme(figure_size=(5.5, 4))
    )


# --- chapter 3: fine-tuning -----------------------------------------------------------------


def fig1fg(run: Run) -> p9.ggplot:
    """Fig 1F-G: test ROC curves of ChromTransfer (F) and the binary baseline (G) per line."""
    roc, _ = report.curve_tables(report.ensemble_predictions(run))
    roc["model"] = pd.Categorical(roc["model"], categories=list(MODEL_ORDER[:2]))
    return (
        p9.ggplot(roc, p9.aes("fpr", "tpr", colour="cell_line"))
        + p9.geom_abline(linetype="dashed", colour="#999999")
        + p9.geom_path(size=0.9)
        + p9.facet_wrap("~model")
        + p9.scale_colour_manual(**_LINE_SCALE)
        + p9.coord_equal()
        + p9.labs(
            x="false positive rate", y="true positive rate", colour="", title="Test-set ROC curves"
        )
        + plots.theme_book()
        + p9.theme(figure_size=(8, 4))
    )


def fig1h(run: Run) -> p9.ggplot:
    """Fig 1H: test F1 at 0.5 (overall, open, closed) of ChromTransfer and the binary baseline."""
    classes = {"f1_overall": "overall", "f1_pos": "positive (open)", "f1_neg": "negative (closed)"}
    scores = run.scores[run.scores["model"].isin(MODEL_ORDER[:2])]
    f1 = scores.melt(
        id_vars=["model", "cell_line"], value_vars=list(classes), var_name="class", value_name="F1"
    )
    f1["class"] = pd.Categorical(f1["class"].map(classes), categories=list(classes.values()))
    f1["model"] = f1["model"].cat.remove_unused_categories()
    return (
        p9.ggplot(f1, p9.aes("cell_line", "F1", fill="model"))
        + p9.geom_col(position=p9.position_dodge(width=0.8), width=0.75)
        + p9.facet_wrap("~class", ncol=3)
        + p9.scale_fill_manual(plots.MODEL_COLOURS)
        + p9.labs(x="", fill="", title="Test-set F1 at threshold 0.5")
        + plots.theme_book()
        + p9.theme(
            figure_size=(10, 3.8),
            axis_text_x=p9.element_text(rotation=45, ha="right"),
            legend_position="bottom",
        )
    )


# --- chapter 4: over-fitting and calibration ------------------------------------------------


def fig2ab(run: Run, *, line: str = "HepG2") -> p9.ggplot:
    """Fig 2A-B: training and validation loss of ``line``'s binary baseline (A) and
    ChromTransfer (B), every partition."""
    models = run.need("line_models")
    curves = report.learning_curves(
        {label: models[(kind, line)].histories for kind, label in stages.KIND_LABELS.items()}
    )
    curves["model"] = pd.Categorical(curves["model"], categories=list(stages.KIND_LABELS.values()))
    return (
        p9.ggplot(curves, p9.aes("epoch", "loss", colour="set", linetype="partition"))
        + p9.geom_line(size=0.9)
        + p9.geom_point(size=1.2)
        + p9.facet_wrap("~model", scales="free_y")
        + p9.scale_colour_manual(SET_COLOURS)
        + p9.labs(
            y="binary cross-entropy",
            colour="",
            linetype="",
            title=f"{line}: training and validation loss",
        )
        + plots.theme_book()
        + p9.theme(figure_size=(9, 3.8))
    )


def _calibration_bins(run: Run) -> pd.DataFrame:
    calib = report.calibration_tables(report.ensemble_predictions(run))
    calib["model"] = pd.Categorical(calib["model"], categories=list(stages.KIND_LABELS.values()))
    return calib[calib["count"] > 0]


def fig2cd(run: Run) -> p9.ggplot:
    """Fig 2C-D: test-set calibration curves (10 bins) of both models for every line."""
    return (
        p9.ggplot(_calibration_bins(run), p9.aes("mean_pred", "frac_pos", colour="cell_line"))
        + p9.geom_abline(linetype="dashed", colour="#999999")
        + p9.geom_line(size=0.9)
        + p9.geom_point(p9.aes(size="count"), alpha=0.7)
        + p9.facet_wrap("~model")
        + p9.scale_colour_manual(**_LINE_SCALE)
        + p9.scale_size_area(max_size=5)
        + p9.coord_equal(xlim=(0, 1), ylim=(0, 1))
        + p9.labs(
            x="mean predicted probability",
            y="observed fraction of positives",
            colour="",
            size="sequences",
            title="Test-set calibration",
        )
        + plots.theme_book()
        + p9.theme(figure_size=(9, 4.2))
    )


def figs2(run: Run) -> p9.ggplot:
    """Supplementary Fig S2: test sequences per probability bin, line and model."""
    return (
        p9.ggplot(_calibration_bins(run), p9.aes("factor(bin)", "cell_line", fill="count"))
        + p9.geom_tile(colour="white")
        + p9.geom_text(p9.aes(label="count"), size=7)
        + p9.facet_wrap("~model")
        + p9.scale_fill_gradient(low="#f0f0f0", high="#0072B2", trans="log10")
        + p9.labs(x="probability bin (0 = [0, 0.1) … 9 = [0.9, 1])", y="", fill="sequences")
        + plots.theme_book()
        + p9.theme(figure_size=(10, 3.5))
    )

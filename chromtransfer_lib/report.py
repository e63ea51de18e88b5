"""Tidy tables the chapters show: dataset sizes beside the paper's, composition, what was planted.

Each function takes loaded artifacts and returns a DataFrame ready for display or plotnine; no
function here trains or writes anything.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from chromtransfer_lib.config import CELL_LINES
from chromtransfer_lib.sequence import gc_fraction


def dataset_sizes(finetune: Mapping[str, object]) -> pd.DataFrame:
    """Rows per cell line × split × class (positive/negative) of the fine-tuning sets."""
    rows = []
    for line in CELL_LINES:
        reg = finetune[line].regions
        for (split, y), n in reg.groupby(["split", "y"]).size().items():
            rows.append(
                {
                    "cell_line": line,
                    "split": split,
                    "class": "positive" if y == 1 else "negative",
                    "n": int(n),
                }
            )
    return pd.DataFrame(rows)


def sizes_vs_paper(
    finetune: Mapping[str, object],
    *,
    paper_positives: Mapping[str, int],
    paper_negatives: Mapping[str, int],
) -> pd.DataFrame:
    """Per line: the paper's positives/negatives and ratio beside this run's (train + test)."""
    rows = []
    for line in CELL_LINES:
        y = finetune[line].labels
        pos, neg = int((y == 1).sum()), int((y == 0).sum())
        rows.append(
            {
                "cell line": line,
                "paper positives": paper_positives[line],
                "paper negatives": paper_negatives[line],
                "paper neg:pos": round(paper_negatives[line] / paper_positives[line], 2),
                "this run positives": pos,
                "this run negatives": neg,
                "this run neg:pos": round(neg / max(pos, 1), 2),
                "share of positives (paper)": round(
                    paper_positives[line] / sum(paper_positives.values()), 3
                ),
                "share of positives (this run)": np.nan,
            }
        )
    df = pd.DataFrame(rows)
    total = df["this run positives"].sum()
    df["share of positives (this run)"] = (df["this run positives"] / max(total, 1)).round(3)
    return df


def gc_by_group(pretrain: object, finetune: Mapping[str, object]) -> pd.DataFrame:
    """GC fraction of every sequence, labelled by group, for composition plots.

    Groups: pre-training positives (rDHS) and negatives (genome background), and each line's
    fine-tuning positives.
    """
    parts = []
    y = pretrain.labels
    for label, mask in (("rDHS (pre-training +)", y == 1), ("background (pre-training −)", y == 0)):
        gc = gc_fraction(np.asarray(pretrain.codes[np.flatnonzero(mask)]))
        parts.append(pd.DataFrame({"group": label, "gc": gc}))
    for line in CELL_LINES:
        ds = finetune[line]
        gc = gc_fraction(np.asarray(ds.codes[np.flatnonzero(ds.labels == 1)]))
        parts.append(pd.DataFrame({"group": f"{line} +", "gc": gc}))
    out = pd.concat(parts, ignore_index=True)
    out["group"] = pd.Categorical(out["group"], categories=list(dict.fromkeys(out["group"])))
    return out


def planted_summary(ground_truth: pd.DataFrame) -> pd.DataFrame:
    """Planted sites per region class × role (the simulated world's ground truth)."""
    tab = ground_truth.groupby(["region_class", "role"]).size().rename("sites").reset_index()
    per_region = (
        ground_truth[ground_truth["region"] != "."].groupby(["region_class", "region"]).size()
    )
    mean = per_region.groupby("region_class").mean().rename("mean sites per region")
    return tab.merge(mean.round(1).reset_index(), on="region_class", how="left")


def drivers_table(motifs: pd.DataFrame) -> pd.DataFrame:
    """The driver matrices of each line (from the world's ``motifs.tsv``)."""
    d = motifs[motifs["role"] == "driver"].copy()
    return (
        d.groupby("driver_of")
        .agg(drivers=("name", ", ".join), matrix_ids=("matrix_id", ", ".join))
        .reindex(CELL_LINES)
        .reset_index()
        .rename(columns={"driver_of": "cell line"})
    )

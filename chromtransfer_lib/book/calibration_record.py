"""The calibration record, read for the book: tables and numbers of chapters 9 and 11.

The record is what the calibration runner (:mod:`.calibration`) and the three probes wrote —
``experiments/calibration_grid.yaml`` and ``experiments/calibration/{runs,calibration,
retention_probe,width_probe,transfer_probe}.csv``. Every function here reads it and trains
nothing; criteria are decided again by the rules of ``claims.yaml`` (:mod:`.claims`), so the
appendix's counts follow the rules the ledger uses. Conclusions are the chapters' to write,
around the numbers of :func:`facts` (ARCHITECTURE.md, "chapters read like the paper").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from chromtransfer_lib.book import claims
from chromtransfer_lib.book.calibration import CALIBRATION_COLUMNS, configuration_id, criteria
from chromtransfer_lib.book.ledger import paper_table_1
from chromtransfer_lib.config import CELL_LINES, load_profile

#: A line model below this test AUROC counts as a weak (failed) line in :func:`setting_comparison`.
WEAK_AUROC = 0.85


@dataclass(frozen=True)
class Record:
    """The calibration record; a table that was not recorded is an empty frame."""

    grid: dict
    runs: pd.DataFrame
    chosen: pd.DataFrame
    probe: pd.DataFrame
    widths: pd.DataFrame
    world: pd.DataFrame = field(default_factory=pd.DataFrame)
    """``transfer_probe.csv``: world settings probed before any book run (one row per line)."""


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path) if path.is_file() else pd.DataFrame()


def load_record(root: Path) -> Record:
    """The record under a repository root (``experiments/``)."""
    folder = Path(root) / "experiments"
    grid_path = folder / "calibration_grid.yaml"
    grid = yaml.safe_load(grid_path.read_text()) if grid_path.is_file() else {"settings": {}}
    calib = folder / "calibration"
    return Record(
        grid=grid,
        runs=_csv(calib / "runs.csv"),
        chosen=_csv(calib / "calibration.csv"),
        probe=_csv(calib / "retention_probe.csv"),
        widths=_csv(calib / "width_probe.csv"),
        world=_csv(calib / "transfer_probe.csv"),
    )


def finished(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs that finished (status ``ok``)."""
    return runs[runs["status"] == "ok"] if len(runs) else runs


def criteria_by_run(runs: pd.DataFrame) -> pd.DataFrame:
    """``setting, seed`` and whether each run meets each criterion (``ok:<claim>``), decided
    by today's rules from the recorded values."""
    keys = [f"ok:{c.key}" for c in claims.criteria()]
    if runs.empty:
        return pd.DataFrame(columns=["setting", "seed", *keys])
    ok = pd.DataFrame([criteria(row) for row in runs.to_dict("records")], index=runs.index)
    return pd.concat([runs[["setting", "seed"]], ok.add_prefix("ok:")[keys]], axis=1)


def chosen_setting(runs: pd.DataFrame, chosen: pd.DataFrame) -> str | None:
    """The setting whose finished rows ``calibration.csv`` copied, or None when no single
    setting matches.

    Rows are paired on ``seed`` (an exact key) within each setting; a setting matches when
    every chosen row has a partner whose recorded values agree with it to 1e-9 (a CSV round
    trip can change a float's last digit, so floats are compared, never joined on).
    """
    if chosen.empty or runs.empty or "seed" not in chosen:
        return None
    cols = [c for c in CALIBRATION_COLUMNS if c != "seed" and c in chosen and c in runs]
    hits = []
    for name, rows in finished(runs).groupby("setting", sort=False):
        by_seed = rows.drop_duplicates("seed", keep="last").set_index("seed")
        if not set(chosen["seed"]) <= set(by_seed.index):
            continue
        mine = by_seed.loc[chosen["seed"], cols].to_numpy(float)
        if np.allclose(mine, chosen[cols].to_numpy(float), rtol=1e-9, atol=0, equal_nan=True):
            hits.append(name)
    return hits[0] if len(hits) == 1 else None


def per_seed_criteria(record: Record) -> pd.DataFrame:
    """The chosen setting's finished runs, one row per seed: the recorded values of
    ``calibration.csv`` and whether each criterion holds (``ok:<claim>``). Empty without a
    record."""
    setting = chosen_setting(record.runs, record.chosen)
    if setting is None:
        return pd.DataFrame()
    rows = finished(record.runs)
    rows = rows[(rows["setting"] == setting) & rows["seed"].isin(record.chosen["seed"])]
    rows = rows.drop_duplicates("seed", keep="last")
    ok = criteria_by_run(rows).drop(columns=["setting"])
    table = rows[list(CALIBRATION_COLUMNS)].merge(ok, on="seed", how="left", validate="1:1")
    return table.sort_values("seed").reset_index(drop=True)


def criteria_counts(runs: pd.DataFrame, *, settings: Sequence[str]) -> pd.DataFrame:
    """Per setting (rows), how many of its finished runs meet each criterion (columns by
    claim), and ``runs``: how many finished."""
    ok = criteria_by_run(finished(runs))
    ok.columns = [c.removeprefix("ok:") for c in ok.columns]
    keys = [c.key for c in claims.criteria()]
    table = ok.groupby("setting")[keys].sum().astype(int)
    table.insert(0, "runs", ok.groupby("setting").size())
    return table.reindex([s for s in settings if s in table.index])


def settings_table(record: Record) -> pd.DataFrame:
    """Every setting of the grid with its overrides of the base profile."""
    rows = [
        {"setting": k, "overrides": ", ".join(f"{a}={b}" for a, b in v.items()) or "—"}
        for k, v in record.grid.get("settings", {}).items()
    ]
    return pd.DataFrame(rows, columns=["setting", "overrides"])


def runs_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Every recorded run: setting, seed, status, the calibration columns and the per-matrix
    driver counts, rounded to 3 decimals."""
    if runs.empty:
        return runs
    shown = ["setting", "seed", "status", "config_id"]
    shown += [c for c in CALIBRATION_COLUMNS if c != "seed"]
    shown += [c for c in runs.columns if c.endswith("_matrices")]
    return runs[[c for c in shown if c in runs]].round(3)


def setting_comparison(runs: pd.DataFrame, settings: Sequence[str]) -> pd.DataFrame:
    """Per setting, means over its finished seeds: test AUROC of ChromTransfer and of the
    baseline (mean and lowest over the six lines), weak lines per run (test AUROC below
    :data:`WEAK_AUROC`), lines won, mean gain, 5 % retention and book minutes."""
    rows = []
    for name in settings:
        r = finished(runs)
        r = r[r["setting"] == name] if len(r) else r
        if r.empty:
            continue
        ft = r[[f"ft_auroc_{c}" for c in CELL_LINES]].to_numpy(float)
        sc = r[[f"scratch_auroc_{c}" for c in CELL_LINES]].to_numpy(float)
        rows.append({
            "setting": name,
            "seeds": len(r),
            "ChromTransfer AUROC (mean of lines)": ft.mean(),
            "baseline AUROC (mean of lines)": sc.mean(),
            "ChromTransfer AUROC (lowest line)": ft.min(axis=1).mean(),
            "baseline AUROC (lowest line)": sc.min(axis=1).mean(),
            "weak ChromTransfer lines": (ft < WEAK_AUROC).sum(axis=1).mean(),
            "weak baseline lines": (sc < WEAK_AUROC).sum(axis=1).mean(),
            "lines won": r["lines_won"].mean(),
            "mean AUROC gain": r["mean_auroc_gain"].mean(),
            "5 % retention": r["ft_retention_5pct"].mean(),
            "book minutes": r["book_minutes"].mean(),
        })  # fmt: skip
    return pd.DataFrame(rows).set_index("setting") if rows else pd.DataFrame()


def size_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Training-set sizes of the 5 % and 100 % HepG2 models per recorded run (empty when the
    runs did not record them)."""
    cols = ["setting", "seed", "n_train_5pct", "n_train_100pct"]
    return runs[cols] if set(cols) <= set(runs.columns) else pd.DataFrame(columns=cols)


def probe_table(probe: pd.DataFrame) -> pd.DataFrame:
    """One row per probe variant (in recorded order): subset size, repetitions, mean test AUROC
    and mean retention of the full-data model's AUROC gain over 0.5 (empty without a probe)."""
    if probe.empty:
        return pd.DataFrame()
    g = probe.groupby("variant", sort=False)
    out = g.agg(
        model=("kind", "first"),
        fraction=("fraction", "first"),
        validation=("validation", "first"),
        learning_rate=("learning_rate", "first"),
        min_steps=("min_steps", "first"),
        n_train=("n_train", "mean"),
        repetitions=("repetition", "count"),
        test_auroc=("test_auroc", "mean"),
        retention=("retention", "mean"),
    )
    out["model"] = out["model"].map({"finetune": "ChromTransfer", "scratch": "binary baseline"})
    lr = out["learning_rate"]
    return out.round(3).assign(learning_rate=lr)


#: The width probe's columns, in the order the appendix shows them.
WIDTH_COLUMNS = (
    "variant", "n_params", "step_time_vs_quick", "pretrain_test_auroc",
    "linear_probe_auroc_5%", "linear_probe_auroc_100%", "finetune_100pct_auroc",
    "finetune_5pct_auroc", "retention_5pct",
)  # fmt: skip


def width_table(widths: pd.DataFrame) -> pd.DataFrame:
    """The width probe, one row per trunk variant (empty without a probe)."""
    if widths.empty:
        return pd.DataFrame()
    return widths[[c for c in WIDTH_COLUMNS if c in widths]].set_index("variant").round(3)


# --- the numbers the appendix's prose quotes -------------------------------------------------

#: Short names of :func:`setting_comparison`'s columns in :func:`facts` keys.
_SHORT = {
    "seeds": "seeds",
    "ChromTransfer AUROC (mean of lines)": "ft_mean",
    "baseline AUROC (mean of lines)": "base_mean",
    "ChromTransfer AUROC (lowest line)": "ft_lowest",
    "baseline AUROC (lowest line)": "base_lowest",
    "weak ChromTransfer lines": "ft_weak",
    "weak baseline lines": "base_weak",
    "lines won": "won",
    "mean AUROC gain": "gain",
    "5 % retention": "retention",
    "book minutes": "minutes",
}


def _setting_facts(runs: pd.DataFrame, settings: Sequence[str]) -> dict[str, float | int]:
    comp = setting_comparison(runs, settings)
    counts = criteria_counts(runs, settings=settings) if len(runs) else pd.DataFrame()
    out: dict[str, float | int] = {}
    for name in settings:
        for col, short in _SHORT.items():
            out[f"{name}_{short}"] = float(comp.loc[name, col]) if name in comp.index else np.nan
        has = name in counts.index
        out[f"{name}_runs"] = int(counts.loc[name, "runs"]) if has else 0
        for c in claims.criteria():
            out[f"{name}_met_{c.key}"] = int(counts.loc[name, c.key]) if has else 0
    return out


def _chosen_facts(record: Record) -> dict[str, float | int | str]:
    setting = chosen_setting(record.runs, record.chosen)
    per = per_seed_criteria(record)
    out: dict[str, float | int | str] = {"chosen": setting or "—", "chosen_seeds": len(per)}
    out |= _chosen_identity(record, setting)
    for c in claims.criteria():
        out[f"chosen_met_{c.key}"] = int(per[f"ok:{c.key}"].sum()) if len(per) else 0
        for t in c.tests:
            out[f"goal_{c.key}_{t.statistic}"] = t.threshold
    runs = finished(record.runs)
    by_matrix = runs[runs["hepg2_drivers_in_top5"].isna()]["setting"] if len(runs) else []
    out["settings_counted_by_matrix"] = ", ".join(dict.fromkeys(by_matrix)) or "—"
    frac = claims.claim("retention_5pct").params["fraction"]
    out["paper_n_train_5pct"] = int(paper_table_1().loc[frac, "n_train"])
    return out


def _chosen_identity(record: Record, setting: str | None) -> dict[str, int]:
    """How many of the chosen setting's rows were run at today's ``quick`` (their recorded
    ``config_id`` equals today's at their seed: :func:`.calibration.configuration_id`), at
    another configuration, or before ids were recorded."""
    out = {"chosen_at_quick": 0, "chosen_at_other": 0, "chosen_unidentified": 0}
    if setting is None or record.chosen.empty:
        return out
    runs = finished(record.runs)
    rows = runs[runs["setting"] == setting].drop_duplicates("seed", keep="last")
    ids = rows.set_index("seed")["config_id"] if "config_id" in rows else pd.Series(dtype=object)
    quick = load_profile("quick")
    for seed in record.chosen["seed"].astype(int):
        got = ids.get(seed, np.nan)
        if not isinstance(got, str):
            out["chosen_unidentified"] += 1
        elif got == configuration_id(dataclasses.replace(quick, seed=seed)):
            out["chosen_at_quick"] += 1
        else:
            out["chosen_at_other"] += 1
    return out


def _probe_facts(probe: pd.DataFrame, *, goal: float) -> dict[str, float | int | str]:
    """Numbers of the retention probe: ChromTransfer variants at the criterion's fraction, the
    validation and baseline variants, the first fraction reaching ``goal``, the linear probe."""
    out: dict[str, float | int | str] = dict.fromkeys(
        ("n5", "best_retention", "best_auroc", "val_subsampled", "val_whole", "first_fraction",
         "first_n", "baseline_retention", "baseline_full_auroc", "linear_auroc", "full_auroc"),
        np.nan,
    )  # fmt: skip
    out |= {"best_variant": "—", "n_variants": 0, "n_reached": 0}
    if probe.empty:
        return {f"probe_{k}": v for k, v in out.items()}
    t = probe_table(probe)
    frac = claims.claim("retention_5pct").params["fraction"]
    tuned = t[(t["model"] == "ChromTransfer") & ~t.index.str.startswith("linear probe")]
    five = tuned[tuned["fraction"] == frac]
    if len(five):
        best = five["retention"].idxmax()
        out |= {"n5": float(five["n_train"].iloc[0]), "best_variant": best}
        out |= {
            "best_retention": five.loc[best, "retention"],
            "best_auroc": five.loc[best, "test_auroc"],
        }
        out |= {"n_variants": len(five), "n_reached": int((five["retention"] >= goal).sum())}
    for key, variant in (("val_subsampled", "validation subsampled"), ("val_whole", "as quick")):
        out[key] = t.loc[variant, "retention"] if variant in t.index else np.nan
    enough = tuned[tuned["retention"] >= goal].sort_values("fraction")
    if len(enough):
        out |= {"first_fraction": enough["fraction"].iloc[0], "first_n": enough["n_train"].iloc[0]}
    base = probe[probe["variant"] == "baseline, as quick"]
    if len(base):
        out["baseline_retention"] = base["retention"].mean()
        out["baseline_full_auroc"] = base["full_data_test_auroc"].iloc[0]
    linear = t[t.index.str.startswith("linear probe") & (t["fraction"] == 1.0)]
    if len(linear):
        out["linear_auroc"] = linear["test_auroc"].iloc[0]
    ft_rows = probe[probe["kind"] == "finetune"]
    if len(ft_rows):
        out["full_auroc"] = ft_rows["full_data_test_auroc"].iloc[0]
    return {
        f"probe_{k}": (float(v) if isinstance(v, float | np.floating) else v)
        for k, v in out.items()
    }


def _width_facts(widths: pd.DataFrame, *, goal: float) -> dict[str, float | int | str]:
    quick = load_profile("quick")  # the appendix is about quick, whichever profile renders it
    sim = quick.simulation
    broad = set(sim.generic_vocabulary) | {d for ds in sim.drivers.values() for d in ds}
    out: dict[str, float | int | str] = {
        "n_broad": len(broad),
        "n_channels": quick.model.top_filters,
    }
    if widths.empty:
        return out | {"width_n": 0, "width_n_reached": 0, "width_best_variant": "—"}
    best = widths.loc[widths["retention_5pct"].idxmax()]
    linear = widths["linear_probe_auroc_100%"]
    return out | {
        "width_n": len(widths),
        "width_n_reached": int((widths["retention_5pct"] >= goal).sum()),
        "width_quick_retention": float(widths["retention_5pct"].iloc[0]),
        "width_best_variant": str(best["variant"]),
        "width_best_retention": float(best["retention_5pct"]),
        "width_best_step_time": float(best["step_time_vs_quick"]),
        "width_linear_lowest": float(linear.min()),
        "width_linear_highest": float(linear.max()),
    }


#: The world probe's columns for the line whose models it trained, as the appendix shows them.
WORLD_COLUMNS = {
    "pretrain_auroc": "pre-trained AUROC",
    "probe_auroc_100%": "linear probe, 100 %",
    "finetune_auroc_100%": "ChromTransfer, 100 %",
    "scratch_auroc_100%": "baseline, 100 %",
    "scratch_best_epoch_100%": "baseline's kept epoch",
    "finetune_auroc_5%": "ChromTransfer, 5 %",
    "scratch_auroc_5%": "baseline, 5 %",
    "finetune_retention_5%": "ChromTransfer retention, 5 %",
    "scratch_retention_5%": "baseline retention, 5 %",
    "finetune_auroc_1%": "ChromTransfer, 1 %",
    "pretrained_line_auroc": "pre-trained model on the line",
    "n_train": "training sequences, 100 %",
}


def world_table(world: pd.DataFrame) -> pd.DataFrame:
    """One row per probed world setting × seed × line whose models the probe trained (or one
    row with an empty line where it trained none): the pre-trained model, the mean over the six
    lines of the linear probe's test AUROC, and the trained line's test AUROCs (empty without a
    probe). A retention is left empty where its model's full-data AUROC is below the
    collapsed-baseline threshold of ``transfer_auroc`` (a share of a gain near 0 means nothing)."""
    if world.empty:
        return pd.DataFrame()
    world = world.copy()
    collapsed = claims.claim("transfer_auroc").threshold("lowest_other")
    for kind in ("finetune", "scratch"):
        if f"{kind}_retention_5%" in world:
            low = world[f"{kind}_auroc_100%"] < collapsed
            world.loc[low, f"{kind}_retention_5%"] = np.nan
    keys = ["setting", "seed"]
    out = world.groupby(keys, sort=False).agg(
        pretrain_auroc=("pretrain_auroc", "first"),
        probe_mean=("probe_auroc_100%", "mean"),
    )
    out = out.reset_index()
    if "finetune_auroc_100%" in world:
        trained = world.dropna(subset=["finetune_auroc_100%"])
        cols = [c for c in WORLD_COLUMNS if c in trained and c != "pretrain_auroc"]
        out = out.merge(trained[[*keys, "line", *cols]], on=keys, how="left")
    else:
        out["line"] = np.nan
    out["line"] = out["line"].fillna("")
    names = {**WORLD_COLUMNS, "probe_mean": "linear probe, 100 % (mean of 6 lines)"}
    return out.set_index([*keys, "line"]).rename(columns=names).round(3)


def _world_facts(world: pd.DataFrame) -> dict[str, float | int | str]:
    """``world_<setting>_<stat>`` (pre-trained model, mean linear probe) and
    ``world_<setting>_<line>_<stat>`` (a trained line) for each probed setting's first seed."""
    table = world_table(world)
    if table.empty:
        return {"world_n_settings": 0}
    first_seed = table.reset_index().groupby("setting")["seed"].first()
    out: dict[str, float | int | str] = {"world_n_settings": len(first_seed)}
    short = {v: k for k, v in WORLD_COLUMNS.items()} | {
        "linear probe, 100 % (mean of 6 lines)": "probe_mean"
    }
    for (setting, seed, line), row in table.iterrows():
        if seed != first_seed[setting]:
            continue
        for col, value in row.items():
            if col not in short or pd.isna(value):
                continue
            stat = short[col].replace("%", "pct").replace("auroc_", "")
            per_setting = short[col] in ("pretrain_auroc", "probe_mean")
            out[f"world_{setting}_{stat}" if per_setting else f"world_{setting}_{line}_{stat}"] = (
                float(value)
            )
    return out


def facts(record: Record) -> dict[str, float | int | str]:
    """Every number the calibration appendix quotes, by glue name: per setting of the grid
    (``<setting>_<stat>``, ``<setting>_met_<claim>``), the chosen setting (``chosen``,
    ``chosen_met_<claim>``) and the criteria's thresholds (``goal_<claim>_<statistic>``), the
    retention probe (``probe_*``), the width probe (``width_*``) and the quick trunk's size."""
    goal = claims.claim("retention_5pct").threshold("retention")
    settings = list(record.grid.get("settings", {}))
    return {
        "n_runs": len(record.runs),
        "weak_auroc": WEAK_AUROC,
        **_setting_facts(record.runs, settings),
        **_chosen_facts(record),
        **_probe_facts(record.probe, goal=goal),
        **_width_facts(record.widths, goal=goal),
        **_world_facts(record.world),
    }

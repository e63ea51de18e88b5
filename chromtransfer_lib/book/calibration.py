"""Calibrating the default world and the ``quick`` profile (issue: make the default show the
paper's three results).

The runner executes the real book — every chapter, through :func:`book.run_book`, without the
HTML — for each setting × seed, and turns the metrics the chapters saved into one table row.
A setting is a set of dotted-key overrides of a base profile (``{"finetune.learning_rate":
1e-3, "simulation.sharpness": 3.0}``); the derived profile is written as YAML next to its run,
so any row can be re-run by hand with ``chromtransfer book --profile <that yaml>``.

Rows are appended to ``runs.csv`` as each run finishes; a row already present is not run
again, and a failed one is retried (the runner is resumable, and so is each book run
underneath it, so a retry only redoes what had not finished).
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from chromtransfer_lib.config import CELL_LINES, ConfigError, load_profile, profile_path

log = logging.getLogger(__name__)

#: Columns of ``calibration.csv`` (one row per seed of the chosen profile).
CALIBRATION_COLUMNS = (
    "seed",
    "pretrain_auroc",
    "lines_won",
    "mean_auroc_gain",
    "ft_retention_5pct",
    "scratch_retention_5pct",
    "hepg2_drivers_in_top5",
    "k562_drivers_in_top5",
    "hepg2_drivers_in_top5_pretrained",
    "k562_drivers_in_top5_pretrained",
    "book_minutes",
)


class OverrideError(ConfigError, KeyError):
    """A calibration grid overrides a profile key that does not exist."""


def apply_overrides(raw: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of a profile mapping with dotted-key overrides applied.

    Raises
    ------
    OverrideError
        A ``KeyError``: a dotted key does not exist in the profile (typos must not pass
        silently).
    """
    out = copy.deepcopy(dict(raw))
    for dotted, value in overrides.items():
        node = out
        parts = dotted.split(".")
        for part in parts[:-1]:
            if part not in node or not isinstance(node[part], dict):
                raise OverrideError(f"override {dotted!r}: no section {part!r} in the profile")
            node = node[part]
        if parts[-1] not in node:
            raise OverrideError(f"override {dotted!r}: no key {parts[-1]!r} in the profile")
        node[parts[-1]] = value
    return out


def derive_profile(
    base: str, overrides: Mapping[str, Any], *, seed: int, name: str, out_path: Path
) -> Path:
    """Write the base profile with ``overrides`` and ``seed`` applied to ``out_path``; validate
    it by loading it."""
    raw = yaml.safe_load(profile_path(base).read_text())
    derived = apply_overrides(raw, {**overrides, "seed": seed})
    derived["name"] = name
    derived["description"] = f"{base} with {json.dumps(dict(overrides), sort_keys=True)}"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(yaml.safe_dump(derived, sort_keys=False, allow_unicode=True))
    load_profile(out_path)
    return out_path


def _drivers_in_top5(metrics: Mapping[str, Any], key: str) -> float:
    v = metrics.get(key)
    return float(v) if v is not None else np.nan


def summarise_run(metrics: Mapping[str, Any], timings: pd.DataFrame | None) -> dict[str, Any]:
    """One calibration row from a book run's merged metrics and chapter timings."""
    ft = np.array([metrics.get(f"finetune.{c}.test.auroc", np.nan) for c in CELL_LINES], float)
    sc = np.array([metrics.get(f"scratch.{c}.test.auroc", np.nan) for c in CELL_LINES], float)
    gain = ft - sc
    row = {
        "pretrain_auroc": metrics.get("pretrain.test.auroc", np.nan),
        "lines_won": int(np.sum(gain > 0)) if np.isfinite(gain).all() else np.nan,
        "mean_auroc_gain": float(np.mean(gain)) if np.isfinite(gain).all() else np.nan,
        "ft_retention_5pct": metrics.get("bootstrap.0.05.finetune.auroc_retention", np.nan),
        "scratch_retention_5pct": metrics.get("bootstrap.0.05.scratch.auroc_retention", np.nan),
        "book_minutes": float(timings["seconds"].sum() / 60) if timings is not None else np.nan,
        "n_train_5pct": metrics.get("bootstrap.0.05.finetune.n_train_mean", np.nan),
        "n_train_100pct": metrics.get("bootstrap.1.finetune.n_train_mean", np.nan),
    }
    # Criterion 4 counts drivers by look-alike cluster (chapter 7); per matrix for the record.
    for line in ("HepG2", "K562"):
        for model, prefix, suffix in ((line, "", ""), ("pretrained", f"{line}_", "_pretrained")):
            key = f"enrichment.{model}.{prefix}drivers_in_top5"
            row[f"{line.lower()}_drivers_in_top5{suffix}"] = _drivers_in_top5(
                metrics, f"{key}_clusters"
            )
            row[f"{line.lower()}_drivers_in_top5{suffix}_matrices"] = _drivers_in_top5(metrics, key)
    for c in CELL_LINES:
        row[f"ft_auroc_{c}"] = metrics.get(f"finetune.{c}.test.auroc", np.nan)
        row[f"scratch_auroc_{c}"] = metrics.get(f"scratch.{c}.test.auroc", np.nan)
    return row


def criteria(row: Mapping[str, Any]) -> dict[str, bool]:
    """The issue's five criteria for the ``quick`` profile, evaluated on one row."""

    def ge(key: str, x: float) -> bool:
        v = row.get(key)
        return v is not None and np.isfinite(v) and v >= x

    return {
        "pretrain_auroc>=0.90": ge("pretrain_auroc", 0.90),
        "won>=5_and_gain>=0.05": ge("lines_won", 5) and ge("mean_auroc_gain", 0.05),
        "ft_retention_5pct>=0.8_and_scratch_clearly_less": ge("ft_retention_5pct", 0.8)
        and np.isfinite(row.get("scratch_retention_5pct", np.nan))
        and row["scratch_retention_5pct"] <= row["ft_retention_5pct"] - 0.1,
        "drivers_top5_ft>=2_and_lower_pretrained": ge("hepg2_drivers_in_top5", 2)
        and ge("k562_drivers_in_top5", 2)
        and row.get("hepg2_drivers_in_top5_pretrained", 99) < row["hepg2_drivers_in_top5"]
        and row.get("k562_drivers_in_top5_pretrained", 99) < row["k562_drivers_in_top5"],
        "book_minutes<=20": row.get("book_minutes", np.inf) <= 20,
    }


def run_calibration(
    settings: Mapping[str, Mapping[str, Any]],
    *,
    seeds: Sequence[int],
    out_dir: Path,
    base: str = "quick",
    chapters: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Run the book for every setting × seed; append rows to ``out_dir/runs.csv``.

    Parameters
    ----------
    settings
        ``name → overrides`` of the base profile.
    seeds
        Seeds (the profile's ``seed``: world, splits and training).
    chapters
        Chapters to run (default all but the ledger's rendering, which adds nothing).
    """
    from chromtransfer_lib.book.results import load_metrics
    from chromtransfer_lib.book.runner import run_book

    out_dir = Path(out_dir)
    table_path = out_dir / "runs.csv"
    done = pd.read_csv(table_path) if table_path.is_file() else pd.DataFrame()
    for name, overrides in settings.items():
        for seed in seeds:
            earlier, attempts = 0.0, 0
            if not done.empty:
                same = (done["setting"] == name) & (done["seed"] == seed)
                if (same & (done["status"] == "ok")).any():
                    log.info("skip %s seed %s: already in %s", name, seed, table_path)
                    continue
                earlier = float(done.loc[same, "wall_minutes"].sum())
                attempts = int(same.sum())
                done = done[~same]  # a failed run is retried (its finished chapters are reused)
            run_dir = out_dir / name / f"seed{seed}"
            prof_path = derive_profile(
                base, overrides, seed=seed, name=f"{base}", out_path=run_dir / "profile.yaml"
            )
            t0 = time.perf_counter()
            status = "ok"
            try:
                run_book(
                    profile=str(prof_path),
                    run_dir=run_dir,
                    chapters=list(chapters or []),
                    html=False,
                    progress=False,
                    notebooks_dir=run_dir / "notebooks",
                )
            except Exception as err:  # a failed setting is a row too, with its error
                status = f"failed: {type(err).__name__}: {str(err)[:200]}"
                log.exception("setting %s seed %s failed", name, seed)
            timings_path = run_dir / "book_timings.csv"
            timings = pd.read_csv(timings_path) if timings_path.is_file() else None
            row = {
                "setting": name,
                "seed": seed,
                "overrides": json.dumps(dict(overrides), sort_keys=True),
                "status": status,
                "wall_minutes": (time.perf_counter() - t0) / 60,
                **summarise_run(load_metrics(run_dir), timings),
                "attempts": attempts + 1,
            }
            row["wall_minutes"] += earlier  # all attempts of this setting and seed
            if attempts:
                # A retry re-executes finished chapters from their caches, so the chapter
                # timings no longer measure the computation: count every attempt's wall time
                # instead (an upper bound of one clean run).
                row["book_minutes"] = row["wall_minutes"]
            row.update({f"ok:{k}": v for k, v in criteria(row).items()})
            done = pd.concat([done, pd.DataFrame([row])], ignore_index=True)
            tmp = table_path.with_suffix(".csv.tmp")
            done.to_csv(tmp, index=False)
            tmp.replace(table_path)
    return done


def calibration_table(runs: pd.DataFrame, *, setting: str) -> pd.DataFrame:
    """``calibration.csv``: the chosen setting's rows, one per seed, in the issue's columns."""
    rows = runs[runs["setting"] == setting]
    return rows[list(CALIBRATION_COLUMNS)].sort_values("seed").reset_index(drop=True)


# --- the retention probe (experiments/retention_probe.py) -------------------------------------


def append_row(path: Path, row: Mapping[str, Any]) -> None:
    """Append one row to a CSV table that several probe processes write: under a lock file,
    read, append, write a temporary file and rename it over the table."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        now = pd.read_csv(path) if path.is_file() else pd.DataFrame()
        merged = pd.concat([now, pd.DataFrame([dict(row)])], ignore_index=True)
        merged.to_csv(path.with_suffix(".tmp"), index=False)
        path.with_suffix(".tmp").replace(path)


def probe_table(probe: pd.DataFrame) -> pd.DataFrame:
    """One row per probe variant (in recorded order): subset size, repetitions, mean test AUROC
    and mean retention of the full-data model's AUROC gain over 0.5."""
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


def probe_sentence(probe: pd.DataFrame, *, goal: float = 0.8) -> str:
    """What the probe shows, from its rows (empty when there are none)."""
    if probe.empty:
        return ""
    t = probe_table(probe)
    parts = []
    five = t[(t["fraction"] == 0.05) & (t["model"] == "ChromTransfer") & (t["repetitions"] > 0)]
    five = five[~five.index.str.startswith("linear probe")]
    if len(five):
        best = five["retention"].idxmax()
        parts.append(
            f"At 5 % ({five['n_train'].iloc[0]:.0f} sequences), the best variant was "
            f"'{best}' with retention {five.loc[best, 'retention']:.2f} (test AUROC "
            f"{five.loc[best, 'test_auroc']:.3f}); none of the variants reached {goal:.2f}."
            if five["retention"].max() < goal
            else f"At 5 %, '{best}' reached retention {five.loc[best, 'retention']:.2f}."
        )
    if {"as quick", "validation subsampled"} <= set(t.index):
        a, b = t.loc["validation subsampled"], t.loc["as quick"]
        parts.append(
            f"Early stopping on a subsampled validation set gave retention {a['retention']:.2f}, "
            f"on the whole validation fold {b['retention']:.2f}."
        )
    ft = t[(t["model"] == "ChromTransfer") & ~t.index.str.startswith("linear probe")]
    enough = ft[ft["retention"] >= goal].sort_values("fraction")
    if len(enough):
        r = enough.iloc[0]
        parts.append(
            f"Retention {goal:.2f} was first reached at {r['fraction']:.0%} of the data "
            f"({r['n_train']:.0f} sequences)."
        )
    if "baseline, as quick" in t.index:
        text = f"The baseline kept {t.loc['baseline, as quick', 'retention']:.2f} at 5 %"
        if "full_data_test_auroc" in probe:
            full = probe.loc[probe["variant"] == "baseline, as quick", "full_data_test_auroc"]
            text += f" of the gain of its full-data model (test AUROC {full.iloc[0]:.3f})"
        parts.append(text + ".")
    lin = t[t.index.str.startswith("linear probe")]
    if len(lin):
        full = lin[lin["fraction"] == 1.0]
        if len(full):
            auroc = full["test_auroc"].iloc[0]
            text = f"A linear probe on the pre-trained features reached test AUROC {auroc:.3f}"
            if auroc < 0.75:
                text += (
                    " with all the training data: the pooled pre-trained representation does not "
                    "by itself separate HepG2-specific regions, so fine-tuning must re-learn the "
                    "upper layers, and that takes more than a few dozen examples"
                )
            parts.append(text + ".")
    return " ".join(parts)


# --- settings side by side, and the trunk-width probe (experiments/width_probe.py) -----------


#: A line model below this test AUROC counts as a weak (failed) line in :func:`setting_comparison`.
WEAK_AUROC = 0.85


def setting_comparison(runs: pd.DataFrame, settings: Sequence[str]) -> pd.DataFrame:
    """Per setting, means over its finished seeds: test AUROC of ChromTransfer and of the
    baseline (mean and lowest over the six lines), weak lines per run (test AUROC below
    :data:`WEAK_AUROC`), lines won, mean gain and 5 % retention."""
    rows = []
    for name in settings:
        r = runs[(runs["setting"] == name) & (runs["status"] == "ok")]
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
        })  # fmt: skip
    return pd.DataFrame(rows).set_index("setting") if rows else pd.DataFrame()


def monitor_sentence(
    runs: pd.DataFrame, *, loss_setting: str = "paper_patience", auroc_setting: str = "auroc_stop"
) -> str:
    """What stopping on validation AUROC instead of loss changed, from the recorded runs."""
    t = setting_comparison(runs, [loss_setting, auroc_setting])
    if len(t) < 2:
        return ""
    a, b = t.loc[loss_setting], t.loc[auroc_setting]
    return (
        f"Stopping on validation AUROC ({b['seeds']:.0f} seeds) raised the lowest baseline "
        f"line's AUROC from {a['baseline AUROC (lowest line)']:.3f} to "
        f"{b['baseline AUROC (lowest line)']:.3f} and the lowest ChromTransfer line's from "
        f"{a['ChromTransfer AUROC (lowest line)']:.3f} to "
        f"{b['ChromTransfer AUROC (lowest line)']:.3f} (means over seeds), and the weak lines "
        f"(test AUROC < {WEAK_AUROC:g}) per run from {a['weak baseline lines']:.1f} to "
        f"{b['weak baseline lines']:.1f} (baseline) and {a['weak ChromTransfer lines']:.1f} to "
        f"{b['weak ChromTransfer lines']:.1f} (ChromTransfer); the mean AUROC gain "
        f"of ChromTransfer went from {a['mean AUROC gain']:+.3f} to {b['mean AUROC gain']:+.3f}, "
        f"with {b['lines won']:.1f} of 6 lines won on average ({a['lines won']:.1f} before)."
    )


#: The width probe's columns, in the order the appendix shows them.
WIDTH_COLUMNS = (
    "variant", "n_params", "step_time_vs_quick", "pretrain_test_auroc",
    "linear_probe_auroc_5%", "linear_probe_auroc_100%", "finetune_100pct_auroc",
    "finetune_5pct_auroc", "retention_5pct",
)  # fmt: skip


def width_table(probe: pd.DataFrame) -> pd.DataFrame:
    """The width probe, one row per trunk variant."""
    return probe[[c for c in WIDTH_COLUMNS if c in probe]].set_index("variant").round(3)


def width_sentence(probe: pd.DataFrame, *, goal: float = 0.8) -> str:
    """The best 5 % retention among the widths, and what its network costs per step."""
    if probe.empty:
        return ""
    base = probe.iloc[0]
    best = probe.loc[probe["retention_5pct"].idxmax()]
    text = (
        f"The network of `quick` kept {base['retention_5pct']:.2f} of its full-data AUROC gain "
        f"at 5 % here; the best variant, '{best['variant']}', kept "
        f"{best['retention_5pct']:.2f} at {best['step_time_vs_quick']:.2f}x the time per "
        "training step"
    )
    return text + (f", short of {goal:.2f}." if best["retention_5pct"] < goal else ".")


def chosen_setting(runs: pd.DataFrame, chosen: pd.DataFrame) -> str | None:
    """The setting whose recorded rows ``calibration.csv`` copied (matched on seed, book
    minutes and pre-training AUROC), or None when no single setting matches every row."""
    keys = ["seed", "book_minutes", "pretrain_auroc"]
    if chosen.empty or not set(keys) <= set(runs) or not set(keys) <= set(chosen):
        return None
    hits = chosen[keys].round(6).merge(runs[[*keys, "setting"]].round(6), on=keys, how="left")
    names = set(hits["setting"].dropna())
    return names.pop() if len(names) == 1 and hits["setting"].notna().all() else None


def criteria_sentence(runs: pd.DataFrame, setting: str) -> str:
    """How many of a setting's finished seeds meet each criterion, in the criteria's order."""
    r = runs[(runs["setting"] == setting) & (runs["status"] == "ok")]
    ok_cols = [c for c in runs.columns if c.startswith("ok:")]
    if r.empty or not ok_cols:
        return ""
    counts = ", ".join(
        f"criterion {i} in {int(r[c].astype(bool).sum())} of {len(r)}"
        for i, c in enumerate(ok_cols, start=1)
    )
    return f"Setting `{setting}` meets {counts} seeds."

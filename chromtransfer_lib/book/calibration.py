"""Calibrating the default world and the ``quick`` profile (issue: make the default show the
paper's three results).

The runner executes the real book — every chapter, through :func:`book.run_book`, without the
HTML — for each setting × seed, and turns the metrics the chapters saved into one table row.
A setting is a set of dotted-key overrides of a base profile (``{"finetune.learning_rate":
1e-3, "simulation.sharpness": 3.0}``); the derived profile is written as YAML next to its run,
so any row can be re-run by hand with ``chromtransfer book --profile <that yaml>``.

Rows are appended to ``runs.csv`` as each run finishes; a row already present is not run
again, and a failed one is retried (the runner is resumable, and so is each book run
underneath it, so a retry only redoes what had not finished). Each row records, as
``ok:<claim>``, whether it meets the criteria of ``claims.yaml`` (:func:`.claims.criteria`),
decided by the rules the ledger uses for the same claims. Chapters read the record through
:mod:`.calibration_record`. See ARCHITECTURE.md ("one of each").
"""

from __future__ import annotations

import copy
import json
import logging
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from chromtransfer_lib.book import claim_support, claims
from chromtransfer_lib.config import CELL_LINES, ConfigError, Profile, load_profile, profile_path
from chromtransfer_lib.fileio import atomic_path

log = logging.getLogger(__name__)

#: A bootstrap unit's mean test AUROC in a run's metrics (group 1: the fraction).
_FT_AUROC = re.compile(r"bootstrap\.([0-9.]+)\.finetune\.auroc_mean")

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


def _value(row: Mapping[str, Any], key: str) -> float:
    v = row.get(key)
    try:
        return float(v) if v is not None else np.nan
    except (TypeError, ValueError):
        return np.nan


def summarise_run(metrics: Mapping[str, Any], timings: pd.DataFrame | None) -> dict[str, Any]:
    """One calibration row from a book run's merged metrics and chapter timings."""
    ft = np.array([metrics.get(f"finetune.{c}.test.auroc", np.nan) for c in CELL_LINES], float)
    sc = np.array([metrics.get(f"scratch.{c}.test.auroc", np.nan) for c in CELL_LINES], float)
    gain = ft - sc
    data_claim = claims.claim("retention_5pct")
    frac, line = f"bootstrap.{data_claim.params['fraction']:g}", data_claim.params["line"]
    # ChromTransfer's bootstrap units at the grid's smallest fraction (criterion 3's second half)
    grid = {float(m[1]): k for k in metrics if (m := _FT_AUROC.fullmatch(k)) and float(m[1]) < 1}
    smallest = min(grid, default=np.nan)
    row = {
        "pretrain_auroc": metrics.get("pretrain.test.auroc", np.nan),
        "lines_won": int(np.sum(gain > 0)) if np.isfinite(gain).all() else np.nan,
        "mean_auroc_gain": float(np.mean(gain)) if np.isfinite(gain).all() else np.nan,
        "ft_retention_5pct": metrics.get(f"{frac}.finetune.auroc_retention", np.nan),
        "scratch_retention_5pct": metrics.get(f"{frac}.scratch.auroc_retention", np.nan),
        "book_minutes": float(timings["seconds"].sum() / 60) if timings is not None else np.nan,
        "n_train_5pct": metrics.get(f"{frac}.finetune.n_train_mean", np.nan),
        "n_train_100pct": metrics.get("bootstrap.1.finetune.n_train_mean", np.nan),
        "smallest_fraction": smallest,
        "ft_auroc_smallest": metrics[grid[smallest]] if grid else np.nan,
        f"pretrained_auroc_{line}": metrics.get(f"pretrained_only.{line}.test.auroc", np.nan),
    }
    # Criterion 4 counts drivers by look-alike cluster (chapter 7); per matrix for the record.
    for line in claims.claim("drivers_top5").params["lines"]:
        for model, prefix, suffix in ((line, "", ""), ("pretrained", f"{line}_", "_pretrained")):
            key = f"enrichment.{model}.{prefix}drivers_in_top5"
            row[f"{line.lower()}_drivers_in_top5{suffix}"] = _value(metrics, f"{key}_clusters")
            row[f"{line.lower()}_drivers_in_top5{suffix}_matrices"] = _value(metrics, key)
    for c in CELL_LINES:
        row[f"ft_auroc_{c}"] = metrics.get(f"finetune.{c}.test.auroc", np.nan)
        row[f"scratch_auroc_{c}"] = metrics.get(f"scratch.{c}.test.auroc", np.nan)
    return row


def criterion_statistics(row: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """The statistics each calibration criterion (:func:`.claims.criteria`) reads from one
    row, keyed by claim (missing values are NaN, and fail their tests)."""
    ft, sc = _value(row, "ft_retention_5pct"), _value(row, "scratch_retention_5pct")
    line = claims.claim("retention_5pct").params["line"]
    smallest = _value(row, "ft_auroc_smallest")
    lines = [line.lower() for line in claims.claim("drivers_top5").params["lines"]]
    tuned = np.array([_value(row, f"{line}_drivers_in_top5") for line in lines])
    pre = np.array([_value(row, f"{line}_drivers_in_top5_pretrained") for line in lines])
    return {
        "pretrain_auroc": {"auroc": _value(row, "pretrain_auroc")},
        "transfer_auroc": {
            "lines_won": _value(row, "lines_won"),
            "mean_gain": _value(row, "mean_auroc_gain"),
            "lowest_other": float(np.min([_value(row, f"scratch_auroc_{c}") for c in CELL_LINES])),
        },
        "retention_5pct": {
            "retention": ft,
            "baseline": sc,
            "smallest_over_pretrained": smallest - _value(row, f"pretrained_auroc_{line}"),
            "smallest_vs_baseline": smallest - _value(row, f"scratch_auroc_{line}"),
        },
        "drivers_top5": {"fewest": np.min(tuned), "pretrained_margin": np.min(tuned - pre)},
        "book_minutes": {"minutes": _value(row, "book_minutes")},
    }


def configuration_id(profile: Profile) -> str:
    """What a calibration row was run at: the hash of every profile section except its
    ``name`` and ``description`` (which a derived profile rewrites), seed included. A row whose
    id equals today's ``quick`` at the row's seed was run at today's ``quick``; a changed
    value of ``quick`` changes the id (keys of :data:`.config.HASH_NEUTRAL` at their neutral
    value do not)."""
    return profile.config_hash(*(k for k in profile.to_dict() if k not in ("name", "description")))


def criteria(row: Mapping[str, Any]) -> dict[str, bool]:
    """Whether one row meets each criterion of the ``quick`` profile, keyed by claim (the
    rules of ``claims.yaml``: the ledger decides its shared claims by the same ones)."""
    stats = criterion_statistics(row)
    return {c.key: c.holds(stats[c.key]) for c in claims.criteria()}


def _book_row(
    name: str,
    overrides: Mapping[str, Any],
    *,
    seed: int,
    out_dir: Path,
    base: str,
    chapters: Sequence[str] | None,
) -> dict[str, Any]:
    """Run the book once at ``base`` with ``overrides`` and ``seed``; its table row (without
    the attempts bookkeeping)."""
    from chromtransfer_lib.book.results import load_metrics
    from chromtransfer_lib.book.runner import run_book

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
    metrics = load_metrics(run_dir)
    if status == "ok":  # every ledger claim of the run, for the claims a scale supports
        verdicts = claim_support.judge_run(metrics, load_profile(prof_path), seed=seed)
        claim_support.record_run(out_dir / claim_support.RECORD_NAME, verdicts)
    return {
        "setting": name,
        "seed": seed,
        "overrides": json.dumps(dict(overrides), sort_keys=True),
        "status": status,
        "config_id": configuration_id(load_profile(prof_path)),
        "wall_minutes": (time.perf_counter() - t0) / 60,
        **summarise_run(metrics, timings),
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

    Each row carries ``ok:<claim>`` for every criterion of :func:`.claims.criteria`; every
    ledger claim of each successful run is also judged into ``out_dir/claim_support.csv``
    (:mod:`.claim_support`).

    Parameters
    ----------
    settings
        ``name → overrides`` of the base profile.
    seeds
        Seeds (the profile's ``seed``: world, splits and training).
    chapters
        Chapters to run (default all but the ledger's rendering, which adds nothing).
    """
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
            row = _book_row(
                name, overrides, seed=seed, out_dir=out_dir, base=base, chapters=chapters
            )
            row["attempts"] = attempts + 1
            row["wall_minutes"] += earlier  # all attempts of this setting and seed
            if attempts:
                # A retry re-executes finished chapters from their caches, so the chapter
                # timings no longer measure the computation: count every attempt's wall time
                # instead (an upper bound of one clean run).
                row["book_minutes"] = row["wall_minutes"]
            row.update({f"ok:{k}": v for k, v in criteria(row).items()})
            done = pd.concat([done, pd.DataFrame([row])], ignore_index=True)
            with atomic_path(table_path) as tmp:
                done.to_csv(tmp, index=False)
    return done


def calibration_table(runs: pd.DataFrame, *, setting: str) -> pd.DataFrame:
    """``calibration.csv``: the chosen setting's rows, one per seed, in the issue's columns."""
    rows = runs[runs["setting"] == setting]
    return rows[list(CALIBRATION_COLUMNS)].sort_values("seed").reset_index(drop=True)


def append_row(path: Path, row: Mapping[str, Any]) -> None:
    """Append one row to a CSV table that several probe processes write: under a lock file,
    read, append, write a temporary file and rename it over the table."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        now = pd.read_csv(path) if path.is_file() else pd.DataFrame()
        merged = pd.concat([now, pd.DataFrame([dict(row)])], ignore_index=True)
        with atomic_path(path) as tmp:
            merged.to_csv(tmp, index=False)

"""Which of the ledger's claims a profile's scale supports, decided from runs on several seeds.

A small profile (one that runs the whole book in a workshop slot) cannot support every claim
of the paper: a claim that holds on one seed of a small world and not on the next was never a
result of that scale. Which claims it supports is not typed anywhere. The calibration runner
(:func:`.calibration.run_calibration`) judges every ledger claim of every run it makes with the
ledger's own rules (:func:`.ledger.judge`) and appends one row per run × claim to
``claim_support.csv`` in its output folder (``experiments/claims/<profile>/`` for a profile's
record: :func:`record_dir`); :func:`support_table` reads those rows back for a profile's
configuration (its :func:`support_id`: every section but the name, the description and the
seed), and a claim is **supported** when it was reproduced on every recorded seed, with at
least :data:`MIN_SEEDS` of them. The ledger (:func:`.ledger.build_ledger`) then marks a claim
that the record does not support as "not applicable at this scale", keeping this run's own
verdict in the note, so a learner sees both.

No record of a profile's configuration (a profile never calibrated, or changed since) means no
support table: every claim is judged on this run alone, as for ``quick``. This module returns
tables and numbers; the chapters write the sentences.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from chromtransfer_lib.book import claims as claim_rules
from chromtransfer_lib.book.ledger import judge
from chromtransfer_lib.config import Profile
from chromtransfer_lib.fileio import atomic_path

#: The record's file name, in a profile's claim folder (:func:`record_dir`).
RECORD_NAME = "claim_support.csv"
#: Columns of the record: one row per run (profile configuration × seed) × ledger claim.
RECORD_COLUMNS = ["profile", "support_id", "seed", "claim", "status", "this_run"]
#: Fewest recorded seeds on which a claim must have held to count as supported.
MIN_SEEDS = 3
#: Columns of :func:`support_table`.
SUPPORT_COLUMNS = ["claim", "result", "seeds", "reproduced", "differs", "other", "supported"]


def support_id(profile: Profile) -> str:
    """The configuration a record row was run at: the hash of every profile section except
    ``name``, ``description`` and ``seed`` (the seeds of one configuration share it)."""
    keys = [k for k in profile.to_dict() if k not in ("name", "description", "seed")]
    return profile.config_hash(*keys)


def judge_run(metrics: Mapping[str, Any], profile: Profile, *, seed: int) -> pd.DataFrame:
    """One record row per ledger claim for a run's saved metrics, judged by the ledger's rules
    (columns :data:`RECORD_COLUMNS`)."""
    rows = []
    for claim in claim_rules.ledger_claims():
        shown, status, _note = judge(claim, metrics)
        rows.append((profile.name, support_id(profile), int(seed), claim.key, status, shown))
    return pd.DataFrame(rows, columns=RECORD_COLUMNS)


def record_run(path: Path, rows: pd.DataFrame) -> Path:
    """Write ``rows`` (of :func:`judge_run`) into the record at ``path``, replacing the rows of
    the same configuration and seed (a re-run replaces its earlier verdicts); atomic."""
    path = Path(path)
    old = pd.read_csv(path) if path.is_file() else pd.DataFrame(columns=RECORD_COLUMNS)
    same = old["support_id"].isin(rows["support_id"]) & old["seed"].isin(rows["seed"])
    table = pd.concat([old[~same], rows], ignore_index=True)
    table = table.sort_values(["profile", "support_id", "seed"], kind="stable")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
    return path


def support_table(record: pd.DataFrame, profile: Profile) -> pd.DataFrame | None:
    """Per ledger claim: seeds recorded at ``profile``'s configuration, how many reproduced it,
    how many differed, how many were neither (not applicable, not run), and whether it is
    supported (reproduced on every seed, at least :data:`MIN_SEEDS`). None when the record has
    no row of this configuration."""
    if record is None or record.empty:
        return None
    mine = record[record["support_id"] == support_id(profile)]
    if mine.empty:
        return None
    rows = []
    for claim in claim_rules.ledger_claims():
        got = mine.loc[mine["claim"] == claim.key, "status"]
        n, ok = int(got.size), int((got == "reproduced").sum())
        bad = int((got == "differs").sum())
        supported = n >= MIN_SEEDS and ok == n
        rows.append((claim.key, claim.result, n, ok, bad, n - ok - bad, supported))
    return pd.DataFrame(rows, columns=SUPPORT_COLUMNS)


def record_dir(root: Path, profile_name: str) -> Path:
    """``<repository>/experiments/claims/<profile>``: where the calibration runner writes a
    profile's claim record (``out_dir`` of ``experiments/<profile>_grid.yaml``) and where the
    ledger chapter reads it; the run folders below it are not committed."""
    return Path(root) / "experiments" / "claims" / profile_name


def load_support(root: Path, profile: Profile) -> pd.DataFrame | None:
    """:func:`support_table` of ``profile``'s record under the repository ``root`` (None
    without one)."""
    path = record_dir(root, profile.name) / RECORD_NAME
    return support_table(pd.read_csv(path), profile) if path.is_file() else None


def support_view(support: pd.DataFrame | None) -> pd.DataFrame:
    """The support table for display, numbered from 1 (empty, with its columns, when there is
    no record of the profile's configuration)."""
    table = pd.DataFrame(columns=SUPPORT_COLUMNS) if support is None else support.copy()
    table.index = pd.RangeIndex(1, len(table) + 1)
    return table


def support_counts(support: pd.DataFrame | None) -> dict[str, int]:
    """``n_supported`` claims and ``n_support_seeds`` (the fewest seeds recorded for a claim;
    0 without a record), for the chapter's sentences."""
    if support is None or support.empty:
        return {"n_supported": 0, "n_support_seeds": 0}
    return {
        "n_supported": int(support["supported"].sum()),
        "n_support_seeds": int(support["seeds"].min()),
    }

"""One rule per claim, read from the packaged ``data/claims.yaml``.

A :class:`Claim` names what a run measures (its statistics), the tests that decide it (a
statistic, a comparison, a threshold) and where in the paper the claim stands. The
reproduction ledger (chapter 9), the calibration runner and its appendix (chapter 11) and
chapter 5 decide a claim only through :meth:`Claim.holds`, so one claim has one rule and a
threshold is typed once (ARCHITECTURE.md, "one of each"). This module returns booleans,
numbers and tables; the chapters write the sentences around them.
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import pandas as pd
import yaml

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}
_SYMBOLS = {">=": "≥", ">": ">", "<=": "≤", "<": "<"}

#: What a chapter may say about a claim: met, not met, or not computable (a statistic is missing).
OUTCOMES: dict[bool | None, str] = {True: "met", False: "not met", None: "not computable"}


def _finite(value: Any) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class Test:
    """``statistic op threshold``, e.g. ``auroc >= 0.90``."""

    statistic: str
    op: str
    threshold: float

    def holds(self, value: Any) -> bool:
        """Whether ``value`` passes; a missing or non-finite value does not."""
        return _finite(value) and _OPS[self.op](float(value), self.threshold)


@dataclass(frozen=True)
class Claim:
    """One claim: its ledger wording, its place in the paper and its rule.

    Attributes
    ----------
    key
        The claim's name in ``claims.yaml``.
    result
        The claim as the ledger names it.
    where
        Where in the paper the claim stands.
    statistics
        ``name → description`` of what a run measures for this claim.
    tests
        The comparisons that decide it.
    combine
        ``"all"`` (every test must hold) or ``"any"``.
    params
        Fixed arguments (a cell line, a fraction of the training data, a family of factors).
    """

    key: str
    result: str
    where: str
    statistics: Mapping[str, str]
    tests: tuple[Test, ...]
    combine: str = "all"
    params: Mapping[str, Any] = field(default_factory=dict)

    def holds(self, stats: Mapping[str, Any]) -> bool:
        """Whether the claim holds for a run's statistics (a missing statistic fails its test)."""
        passed = (t.holds(stats.get(t.statistic)) for t in self.tests)
        return any(passed) if self.combine == "any" else all(passed)

    def outcome(self, stats: Mapping[str, Any] | None) -> str:
        """:data:`OUTCOMES` label: ``not computable`` when ``stats`` is None or a statistic
        that decides the claim is missing, else ``met``/``not met``."""
        if stats is None:
            return OUTCOMES[None]
        values = [stats.get(t.statistic) for t in self.tests]
        computable = any if self.combine == "any" else all
        if not computable(_finite(v) for v in values):
            return OUTCOMES[None]
        return OUTCOMES[self.holds(stats)]

    def threshold(self, statistic: str) -> float:
        """The threshold of the test on ``statistic``."""
        for t in self.tests:
            if t.statistic == statistic:
                return t.threshold
        raise KeyError(f"claim {self.key!r} has no test on {statistic!r}")

    def rule(self) -> str:
        """The rule as a formula over the statistics' descriptions (for tables)."""
        joiner = " or " if self.combine == "any" else " and "
        return joiner.join(
            f"{self.statistics[t.statistic]} {_SYMBOLS[t.op]} {t.threshold:g}" for t in self.tests
        )


def _parse(key: str, raw: Mapping[str, Any]) -> Claim:
    tests = tuple(Test(t["statistic"], t["op"], float(t["threshold"])) for t in raw["tests"])
    stats = dict(raw["statistics"])
    for t in tests:
        if t.op not in _OPS or t.statistic not in stats:
            raise ValueError(f"claims.yaml: claim {key!r} has a bad test {t}")
    combine = raw.get("combine", "all")
    if combine not in ("all", "any"):
        raise ValueError(f"claims.yaml: claim {key!r}: combine must be 'all' or 'any'")
    return Claim(
        key=key,
        result=str(raw["result"]),
        where=str(raw["where"]),
        statistics=stats,
        tests=tests,
        combine=combine,
        params=dict(raw.get("params") or {}),
    )


@functools.cache
def _load() -> tuple[dict[str, Claim], tuple[str, ...], tuple[str, ...]]:
    text = (resources.files("chromtransfer_lib.book") / "data" / "claims.yaml").read_text()
    raw = yaml.safe_load(text)
    claims = {key: _parse(key, spec) for key, spec in raw["claims"].items()}
    for group in ("ledger", "criteria"):
        missing = set(raw[group]) - set(claims)
        if missing:
            raise ValueError(f"claims.yaml: {group} names unknown claim(s) {sorted(missing)}")
    return claims, tuple(raw["ledger"]), tuple(raw["criteria"])


def claim(key: str) -> Claim:
    """One claim by its key, with a clear error for a misspelt one."""
    claims = _load()[0]
    if key not in claims:
        raise KeyError(f"claims.yaml has no claim {key!r}; claims: {sorted(claims)}")
    return claims[key]


def ledger_claims() -> tuple[Claim, ...]:
    """The reproduction ledger's claims, in its order."""
    return tuple(claim(k) for k in _load()[1])


def criteria() -> tuple[Claim, ...]:
    """The criteria the ``quick`` profile was calibrated against, in their order (1-5)."""
    return tuple(claim(k) for k in _load()[2])


def rules_table(claims: tuple[Claim, ...]) -> pd.DataFrame:
    """One row per claim, numbered from 1: key, the claim, its rule and where in the paper it
    stands."""
    rows = [
        {"claim": c.key, "result": c.result, "rule": c.rule(), "where": c.where} for c in claims
    ]
    return pd.DataFrame(rows, index=pd.RangeIndex(1, len(rows) + 1))

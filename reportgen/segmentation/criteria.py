"""Absolute criteria a segment must meet to carry a persona's name.

Signatures (z-scores against the portfolio) say how a segment differs from the rest; they cannot
say that a segment *is* what the name claims: any merged group of active customers looks like
Frequent Spenders against a portfolio of inactive ones. So each persona of the playbook also lists
criteria on the segment's own numbers, one per line, in the form::

    <statistic> <FEATURE> <>= or <=> <number>[x]

- ``mean`` / ``median``: the segment's mean or median of the feature (a contract column or a
  derived ratio such as ``UTILISATION``);
- ``share``: the share of the segment's customers with a value above zero (e.g. ``share
  CASH_ADVANCE >= 0.8``: at least 80% took a cash advance);
- a trailing ``x`` makes the number a multiple of the same statistic over the whole portfolio
  (``median BALANCE >= 1.5x``: the segment's median balance is at least 1.5 times the portfolio's).

:func:`check_criteria` evaluates every persona's criteria on every segment once, on all customers,
one feature column at a time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from reportgen.data.contract import FEATURES, RATIOS
from reportgen.data.features import median, ratio_column
from reportgen.report.formatting import format_count, format_number

if TYPE_CHECKING:
    import pandas as pd

_PATTERN = re.compile(r"^\s*(mean|median|share)\s+([A-Z_]+)\s*(>=|<=)\s*([0-9]*\.?[0-9]+)\s*(x?)\s*$")
STAT_WORDS = {"mean": "mean", "median": "median", "share": "share with any"}


@dataclass(frozen=True)
class Criterion:
    """One parsed criterion."""

    stat: str
    feature: str
    op: str
    value: float
    relative: bool
    text: str


@dataclass(frozen=True)
class Check:
    """A criterion evaluated on one segment: its value, the threshold it was held to, the verdict."""

    text: str
    feature: str
    stat: str
    value: float
    threshold: float
    op: str
    passed: bool

    def describe(self, label: str) -> str:
        """E.g. 'median balance / credit limit 0.63 (needs >= 0.50)'."""
        return f"{STAT_WORDS[self.stat]} {label} {_num(self.value)} (needs {self.op} {_num(self.threshold)})"


def parse_criterion(text: str) -> Criterion:
    """Parse one criterion; ValueError with the expected form when it does not parse."""
    match = _PATTERN.match(str(text))
    if match is None or match.group(2) not in (*FEATURES, *RATIOS):
        raise ValueError(
            f"criterion {text!r} is not '<mean|median|share> <FEATURE> <>=|<=> <number>[x]' "
            f"with FEATURE one of {', '.join((*FEATURES, *RATIOS))}"
        )
    stat, feature, op, value, rel = match.groups()
    return Criterion(stat, feature, op, float(value), rel == "x", " ".join(str(text).split()))


def check_criteria(
    features: pd.DataFrame, labels: np.ndarray, k: int, criteria: dict[str, tuple[Criterion, ...]],
    profiles=None,
) -> dict[str, list[tuple[Check, ...]]]:
    """For each persona key, one tuple of checks per segment ``0..k-1``.

    With ``profiles`` (:class:`~reportgen.segmentation.profiles.Profiles` of these ``labels``),
    the statistics of profile features are read from them: the same numbers the profile table
    shows, with no second pass over the customers (at ten million customers, seconds)."""
    labels = np.asarray(labels, dtype=np.intp)
    columns: dict[str, np.ndarray] = {}
    out: dict[str, list[tuple[Check, ...]]] = {}
    members: list[np.ndarray] = []
    for key, items in criteria.items():
        per_segment: list[list[Check]] = [[] for _ in range(k)]
        for c in items:
            if profiles is not None and profiles.covers(c.feature):
                stat = lambda segment, c=c: profiles.stat(c.stat, c.feature, segment)  # noqa: E731
            else:
                if c.feature not in columns:
                    columns[c.feature] = _column(features, c.feature)
                members = members or [np.flatnonzero(labels == s) for s in range(k)]
                values = columns[c.feature]
                stat = lambda segment, c=c, values=values: _stat(  # noqa: E731
                    values if segment is None else values[members[segment]], c.stat)
            threshold = c.value * stat(None) if c.relative else c.value
            for s in range(k):
                v = stat(s)
                passed = bool(np.isfinite(v) and (v >= threshold if c.op == ">=" else v <= threshold))
                per_segment[s].append(Check(c.text, c.feature, c.stat, float(v), float(threshold), c.op, passed))
        out[key] = [tuple(checks) for checks in per_segment]
    return out


def _column(features: pd.DataFrame, name: str) -> np.ndarray:
    if name in RATIOS:
        return ratio_column(features, name)
    return features[name].to_numpy(dtype="float64")


def _stat(values: np.ndarray, stat: str) -> float:
    if len(values) == 0:
        return float("nan")
    if stat == "mean":
        return float(values.mean())
    if stat == "median":
        return median(values)
    return float(np.count_nonzero(values > 0) / len(values))


def _num(value: float) -> str:
    if abs(value) >= 100:
        return format_count(value)  # the report's locale: 1,642 or 1.642
    return format_number(value, 2)

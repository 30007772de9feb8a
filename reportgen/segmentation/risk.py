"""Credit risk by the numbers, whatever a segment is called.

Four measures, each computed on every segment's own customers:

- **utilisation**: the median of balance / credit limit (higher is riskier);
- **payments / minimum**: the median of payments / minimum payments (lower is riskier);
- **full payment**: the mean share of months paid in full (lower is riskier);
- **cash advances**: the share of customers who took one (higher is riskier).

A segment is flagged as a credit risk for each measure on which it is the portfolio's worst
segment *and* beyond a plain line (utilisation at least 0.5, payments at most 2x the minimum, full
payment in at most 10% of months, at least half taking cash advances), so a portfolio of careful
customers has no "riskiest" segment flagged for nothing. A persona name never adds or removes a flag.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from reportgen.report.formatting import format_number, format_share

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Measure:
    """One risk measure: how it is computed, which way is risky, and the line it must cross."""

    label: str  # "{value}" is the segment's value, written by ``show`` in the report's locale
    higher_is_risky: bool
    line: float
    show: Callable[[float], str] = lambda v: format_number(v, 2)


MEASURES: dict[str, Measure] = {
    "utilisation": Measure("highest utilisation (median balance / limit {value})", True, 0.5),
    "payment_ratio": Measure("lowest payments relative to the minimum (median {value}x)", False, 2.0),
    "full_payment": Measure("lowest full-payment share ({value} of months paid in full)", False, 0.10,
                            lambda v: format_share(v, 0)),
    "cash_advance": Measure("heaviest cash-advance use ({value} took a cash advance)", True, 0.5,
                            lambda v: format_share(v, 0)),
}


def measure_risk(features: pd.DataFrame, labels: np.ndarray, k: int, profiles=None) -> dict[str, np.ndarray]:
    """Each measure's value per segment ``0..k-1`` (NaN for an empty segment), read from the
    segments' :class:`~reportgen.segmentation.profiles.Profiles` of these labels (computed here
    when not given): the medians of utilisation and payments / minimum, the mean full-payment
    share and the share of customers with a cash advance."""
    from reportgen.segmentation.personas import PROFILE_FEATURES
    from reportgen.segmentation.profiles import describe_segments

    profiles = profiles if profiles is not None else describe_segments(features, labels, k)
    column = {name: j for j, name in enumerate(PROFILE_FEATURES)}
    sizes = np.asarray(profiles.sizes, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        cash = np.where(sizes > 0, profiles.positives[:, column["CASH_ADVANCE"]] / sizes, np.nan)
    return {
        "utilisation": profiles.medians[:, column["UTILISATION"]].copy(),
        "payment_ratio": profiles.medians[:, column["PAYMENT_RATIO"]].copy(),
        "full_payment": profiles.means[:, column["PRC_FULL_PAYMENT"]].copy(),
        "cash_advance": cash,
    }


def flag_risks(features: pd.DataFrame, labels: np.ndarray, k: int, profiles=None) -> tuple[tuple[str, ...], ...]:
    """Per segment, the reasons it is flagged as a credit risk (empty: not flagged); ``profiles``:
    see :func:`measure_risk`."""
    values = measure_risk(features, labels, k, profiles)
    flags: list[list[str]] = [[] for _ in range(k)]
    for name, measure in MEASURES.items():
        v = values[name]
        if not np.isfinite(v).any():
            continue
        worst = int(np.nanargmax(v) if measure.higher_is_risky else np.nanargmin(v))
        beyond = v[worst] >= measure.line if measure.higher_is_risky else v[worst] <= measure.line
        if beyond:
            flags[worst].append(measure.label.format(value=measure.show(v[worst])))
    return tuple(tuple(f) for f in flags)

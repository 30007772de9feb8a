"""Segment profiles: what each segment looks like against the whole portfolio.

A profile holds, per segment and per profile feature (the 17 columns and the derived ratios),
the mean and median in the data's own units and a z-score: the segment's mean of the
standardised feature (amounts, counts and ratios log1p-transformed first), so 0 is the
portfolio average. Z-scores drive persona naming and the profile heat table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from reportgen.contract import RATIOS, SKEWED
from reportgen.features import derive_ratios
from reportgen.personas import PROFILE_FEATURES


@dataclass(frozen=True)
class Profiles:
    """Per-segment statistics; arrays are (segments x PROFILE_FEATURES)."""

    sizes: np.ndarray
    means: np.ndarray
    medians: np.ndarray
    sums: np.ndarray
    z: np.ndarray
    portfolio_means: np.ndarray
    portfolio_medians: np.ndarray
    portfolio_sums: np.ndarray


def profile_frame(features: pd.DataFrame) -> pd.DataFrame:
    """The 17 features plus the derived ratios, one row per customer."""
    return pd.concat([features.reset_index(drop=True), derive_ratios(features).reset_index(drop=True)], axis=1)


def describe_segments(features: pd.DataFrame, labels: np.ndarray, k: int) -> Profiles:
    """Compute every segment's profile for segment ids ``0..k-1`` in ``labels``."""
    frame = profile_frame(features)[list(PROFILE_FEATURES)]
    values = frame.to_numpy(dtype="float64")
    logged = values.copy()
    for i, name in enumerate(PROFILE_FEATURES):
        if name in SKEWED or name in RATIOS:
            np.log1p(np.maximum(logged[:, i], 0), out=logged[:, i])
    std = logged.std(axis=0)
    std[std == 0] = 1.0
    standard = (logged - logged.mean(axis=0)) / std
    grouped = pd.DataFrame(values, columns=PROFILE_FEATURES).groupby(labels)
    z = pd.DataFrame(standard, columns=PROFILE_FEATURES).groupby(labels).mean()
    index = pd.RangeIndex(k)
    return Profiles(
        sizes=np.bincount(labels, minlength=k),
        means=grouped.mean().reindex(index).to_numpy(),
        medians=grouped.median().reindex(index).to_numpy(),
        sums=grouped.sum().reindex(index).to_numpy(),
        z=z.reindex(index).fillna(0).to_numpy(),
        portfolio_means=values.mean(axis=0),
        portfolio_medians=np.median(values, axis=0),
        portfolio_sums=values.sum(axis=0),
    )

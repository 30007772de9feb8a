"""From clean customer columns to the matrix K-Means sees, and the derived ratios.

The amounts are heavily right-skewed: a few customers hold 20-50x the median. Scaling raw
amounts makes K-Means spend its clusters on those whales (on the reference file, raw
StandardScaler gives a segment of a few dozen customers). ``log1p`` on every amount and count,
then standard scaling, gives segments of useful size; frequencies (already 0..1) and tenure are
scaled as they are. The transform and the scaler are plain numbers saved in ``model.json``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from reportgen.contract import RATIOS, SKEWED

TRANSFORM_NAME = "log1p"
TRANSFORM_DESCRIPTION = (
    "log1p on amounts and transaction counts (they are heavily right-skewed), frequencies and "
    "tenure as they are; then every feature standardised to mean 0 and variance 1"
)


@dataclass(frozen=True)
class Scaler:
    """The fitted transform: which columns get log1p, and each column's mean and scale after it."""

    columns: tuple[str, ...]
    log_columns: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]

    def transform(self, features: pd.DataFrame) -> np.ndarray:
        """Return the transformed, standardised matrix (rows = customers) as float64."""
        matrix = apply_log(features, self.columns, self.log_columns)
        return (matrix - np.asarray(self.mean)) / np.asarray(self.scale)

    def to_dict(self) -> dict:
        """Plain JSON-ready form."""
        return {
            "name": TRANSFORM_NAME,
            "columns": list(self.columns),
            "log_columns": list(self.log_columns),
            "mean": list(self.mean),
            "scale": list(self.scale),
        }

    @classmethod
    def from_dict(cls, data: dict) -> Scaler:
        """Inverse of :meth:`to_dict`."""
        return cls(
            columns=tuple(data["columns"]),
            log_columns=tuple(data["log_columns"]),
            mean=tuple(float(v) for v in data["mean"]),
            scale=tuple(float(v) for v in data["scale"]),
        )


def apply_log(features: pd.DataFrame, columns, log_columns) -> np.ndarray:
    """The columns as a float64 matrix with ``log1p`` applied to ``log_columns``."""
    matrix = features[list(columns)].to_numpy(dtype="float64", copy=True)
    for i, name in enumerate(columns):
        if name in log_columns:
            np.log1p(matrix[:, i], out=matrix[:, i])
    return matrix


def fit_scaler(features: pd.DataFrame, columns: tuple[str, ...]) -> Scaler:
    """Learn the per-column mean and scale after the log transform."""
    log_columns = tuple(c for c in columns if c in SKEWED)
    matrix = apply_log(features, columns, log_columns)
    mean = matrix.mean(axis=0)
    scale = matrix.std(axis=0)
    scale[scale == 0] = 1.0  # a constant column carries no information; keep it at 0
    return Scaler(columns, log_columns, tuple(map(float, mean)), tuple(map(float, scale)))


def derive_ratios(features: pd.DataFrame) -> pd.DataFrame:
    """The playbook's derived ratios per customer; a zero denominator gives 0."""
    out = {}
    for name, (num, den, _label) in RATIOS.items():
        numerator = features[num].to_numpy(dtype="float64")
        denominator = sum(features[d].to_numpy(dtype="float64") for d in den.split("+"))
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), 0.0)
        out[name] = ratio
    return pd.DataFrame(out, index=features.index)

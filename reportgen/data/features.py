"""From clean customer columns to the matrix K-Means sees, and the derived ratios.

The amounts are heavily right-skewed: a few customers hold 20-50x the median. Scaling raw
amounts makes K-Means spend its clusters on those whales (on the reference file, raw
StandardScaler gives a segment of a few dozen customers). ``log1p`` on every amount and count,
then standard scaling, gives segments of useful size; frequencies (already 0..1) and tenure are
scaled as they are. The transform and the scaler are plain numbers saved in ``model.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from reportgen.data.contract import RATIOS, SKEWED

if TYPE_CHECKING:  # imported where used: the render lanes load this module without pandas
    import pandas as pd

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
        """Return the transformed, standardised matrix (rows = customers).

        The matrix is float32 when the feature columns are (as :func:`validate_extract` gives
        them), else float64. Each column is computed in float64 and written once, so memory is
        the matrix plus one float64 column."""
        columns = list(self.columns)
        dtype = matrix_dtype(features, columns)
        out = np.empty((len(features), len(columns)), dtype=dtype)
        for i, name in enumerate(columns):
            values = _log_column(features, name, name in self.log_columns)
            values -= self.mean[i]
            values /= self.scale[i]
            out[:, i] = values
        return out

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


def matrix_dtype(features: pd.DataFrame, columns) -> type:
    """float32 when every column is float32 (memory-lean), else float64."""
    return np.float32 if all(features[c].dtype == np.float32 for c in columns) else np.float64


def _log_column(features: pd.DataFrame, name: str, log: bool) -> np.ndarray:
    """One column as a fresh float64 array, ``log1p`` applied when ``log``."""
    values = features[name].to_numpy(dtype="float64", copy=True)
    if log:
        np.log1p(values, out=values)
    return values


def apply_log(features: pd.DataFrame, columns, log_columns) -> np.ndarray:
    """The columns as a float64 matrix with ``log1p`` applied to ``log_columns``."""
    matrix = features[list(columns)].to_numpy(dtype="float64", copy=True)
    for i, name in enumerate(columns):
        if name in log_columns:
            np.log1p(matrix[:, i], out=matrix[:, i])
    return matrix


def fit_scaler(features: pd.DataFrame, columns: tuple[str, ...]) -> Scaler:
    """Learn the per-column mean and scale after the log transform (one column at a time)."""
    log_columns = tuple(c for c in columns if c in SKEWED)
    mean, scale = [], []
    for name in columns:
        values = _log_column(features, name, name in log_columns)
        mean.append(float(values.mean()))
        std = float(values.std())
        scale.append(std if std != 0 else 1.0)  # a constant column carries no information; keep it at 0
    return Scaler(columns, log_columns, tuple(mean), tuple(scale))


def fit_and_transform(features: pd.DataFrame, columns: tuple[str, ...]) -> tuple[Scaler, np.ndarray]:
    """:func:`fit_scaler` and its :meth:`Scaler.transform` in one pass over the columns (each
    column is widened and log-transformed once, not twice); the same scaler and matrix."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    log_columns = tuple(c for c in columns if c in SKEWED)
    out = np.empty((len(features), len(columns)), dtype=matrix_dtype(features, list(columns)))
    mean, scale = [0.0] * len(columns), [1.0] * len(columns)
    local = threading.local()

    def column(i: int, name: str) -> None:
        # each thread widens its columns into the same two buffers (fresh memory is zeroed by the
        # kernel first: at 10M customers that cost more than the arithmetic)
        if not hasattr(local, "buffers"):  # this thread's first column
            local.buffers = (np.empty(len(features)), np.empty(len(features)))
        values, scratch = local.buffers
        widen_into(features, name, values, scratch)
        if name in log_columns:
            np.log1p(values, out=values)
        mean[i], std = mean_and_std(values, scratch)
        scale[i] = std if std != 0 else 1.0
        values -= mean[i]
        values /= scale[i]
        out[:, i] = values

    # columns are independent and NumPy releases the GIL in these passes: two at a time use both
    # cores; every figure is computed exactly as one at a time would compute it
    with ThreadPoolExecutor(max_workers=2) as pool:
        for done in [pool.submit(column, i, name) for i, name in enumerate(columns)]:
            done.result()
    return Scaler(columns, log_columns, tuple(mean), tuple(scale)), out


def mean_and_std(values: np.ndarray, scratch: np.ndarray) -> tuple[float, float]:
    """``values.mean()`` and ``values.std()``, bit for bit (the same two passes and pairwise sums),
    with the deviations computed in ``scratch`` (float64, as long as ``values``) instead of new
    arrays. ``values`` are left as they are unless ``scratch`` is ``values`` itself."""
    mean = np.add.reduce(values) / len(values)
    deviations = np.subtract(values, mean, out=scratch)
    variance = np.add.reduce(np.multiply(deviations, deviations, out=deviations)) / len(values)
    return float(mean), float(np.sqrt(variance))


def widen_into(features: pd.DataFrame, name: str, out: np.ndarray, scratch: np.ndarray) -> np.ndarray:
    """Column or derived ratio ``name`` as float64 in ``out`` (the numbers of
    ``features[name].to_numpy(dtype="float64")``; a ratio with a zero denominator is 0), using
    ``scratch`` (float64, same length) for a ratio's denominator: buffers a thread can reuse
    column after column instead of fresh arrays. Returns ``out``."""
    if name not in RATIOS:
        np.copyto(out, features[name].to_numpy(), casting="unsafe")
        return out
    numerator, denominator, _label = RATIOS[name]
    parts = denominator.split("+")
    np.copyto(scratch, features[parts[0]].to_numpy(), casting="unsafe")
    for extra in parts[1:]:
        scratch += features[extra].to_numpy()
    positive = scratch > 0
    scratch[~positive] = 1.0
    np.divide(features[numerator].to_numpy(), scratch, out=out)
    out[~positive] = 0.0
    return out


def derive_ratios(features: pd.DataFrame) -> pd.DataFrame:
    """The playbook's derived ratios per customer (float64); a zero denominator gives 0."""
    import pandas as pd

    return pd.DataFrame({name: ratio_column(features, name) for name in RATIOS}, index=features.index)


def ratio_column(features: pd.DataFrame, name: str) -> np.ndarray:
    """One derived ratio as a new float64 array; a zero denominator gives 0."""
    return widen_into(features, name, np.empty(len(features)), np.empty(len(features)))


def median(values: np.ndarray) -> float:
    """The median, the two middle values averaged in float64 (as pandas does), by partition:
    linear time. NaN for no values."""
    n = len(values)
    if n == 0:
        return float("nan")
    low, high = (n - 1) // 2, n // 2
    part = np.partition(values, (low, high))
    return (float(part[low]) + float(part[high])) / 2

"""Keeping segments stable from month to month, and saying what moved.

- :func:`reference_distribution` records a month's distribution of key features: the share of
  customers at zero in a bin of its own (a quarter of customers buy nothing, half take no cash:
  decile bins would merge them into the first bin and hide a rise in non-buyers), then decile
  edges of the positive values; :func:`population_shift` compares a later month against it with
  the population stability index (PSI < 0.1 stable, 0.1-0.25 moderate, > 0.25 significant shift).
  Drift is measured against the model's fit month and against last month.
- :func:`centroid_shift` measures how far each segment's centre has moved from the saved
  centroid (in the model's scaled space, in standard deviations).
- :func:`match_refit` matches the clusters of a fresh fit to last month's by an optimal
  assignment on centroid distance (both mapped into last month's scaled space), so names and
  colours do not shuffle, and names splits, merges, vanished and emerged segments.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from reportgen.data.contract import RATIOS
from reportgen.data.features import Scaler, ratio_column
from reportgen.segmentation.ranks import TOP_BIN, WIDTH, ZERO_BIN, order_statistics, value_bins

KEY_FEATURES = (
    "BALANCE", "PURCHASES", "PAYMENTS", "CREDIT_LIMIT", "CASH_ADVANCE",
    "PURCHASES_FREQUENCY", "PRC_FULL_PAYMENT", "UTILISATION",
)
PSI_LEVELS = ((0.1, "stable"), (0.25, "moderate shift"), (float("inf"), "significant shift"))
MATCH_DISTANCE = 2.0  # beyond this many standard deviations a "match" is a different segment
_EPS = 1e-4


def reference_distribution(features: pd.DataFrame) -> dict:
    """Zero share, decile edges of the positive values and bin shares of the key features
    (plain JSON-ready dict).

    The deciles are NumPy's (``np.quantile``, linear interpolation, of the positive values in
    float64), found by radix selection (:mod:`reportgen.segmentation.ranks`) on the column as
    the data hold it: one histogram, then only the values in the bins holding the two ranks
    around each decile are gathered and partitioned, and the bin shares follow from the ranks,
    without a pass per edge."""
    local = threading.local()

    def describe(name: str) -> dict:
        values = features[name].to_numpy() if name not in RATIOS else ratio_column(features, name)
        if values.dtype not in (np.float32, np.float64):
            values = values.astype(np.float64)
        if not hasattr(local, "bins") or len(local.bins) != len(values):  # this thread's buffers, reused
            local.bins, local.narrow = np.empty(len(values), dtype=np.int64), np.empty(len(values), dtype=np.float32)
        bins, single = value_bins(values, local.bins, local.narrow)
        histogram = np.bincount(bins, minlength=WIDTH)
        at_most_zero = int(histogram[: ZERO_BIN + 1].sum())
        positives = int(histogram[ZERO_BIN + 1 : TOP_BIN + 1].sum())
        edges, counts = np.array([]), np.array([positives])
        if positives:
            low, high, gamma = _quantile_indexes(positives, _DECILES)
            ranks = sorted(set(low.tolist()) | set(high.tolist()))
            below: dict = {}
            found = order_statistics(values, bins, single, 1, [(0, 0, histogram, [at_most_zero + r for r in ranks])], below)
            value = dict(zip(ranks, found[0]))
            smaller = dict(zip(ranks, below[0]))  # values below each, the non-positive ones included
            a = np.array([value[r] for r in low])
            b = np.array([value[r] for r in high])
            decile = _lerp(a, b, gamma)
            # positives below each decile: all up to its lower neighbour when it is above it (no
            # value lies between two neighbours), else those below that neighbour
            under = [r + 1 if d > x else smaller[r] - at_most_zero for d, x, r in zip(decile, a, low)]
            edges = np.unique(decile)
            # a NaN edge (between two infinities) sorts above every value, as searchsorted puts it
            counts = np.diff([0, *(under[int(np.flatnonzero(decile == e)[0])] if e == e else positives for e in edges),
                              positives])
        counts = counts.copy()
        counts[-1] += len(values) - positives - at_most_zero  # a NaN lands in the top bin
        shares = np.concatenate([[at_most_zero], counts]) / max(len(values), 1)
        return {"zero_bin": True, "edges": edges.tolist(), "shares": shares.tolist()}

    with ThreadPoolExecutor(max_workers=2) as pool:  # independent columns, GIL released: both cores
        return dict(zip(KEY_FEATURES, pool.map(describe, KEY_FEATURES)))


_DECILES = np.linspace(0.1, 0.9, 9)


def _quantile_indexes(n: int, quantiles: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ranks below and above each quantile's virtual index among ``n`` sorted values, and the
    interpolation weight, as ``np.quantile``'s linear method computes them (NumPy 2)."""
    virtual = (n - 1) * quantiles
    previous = np.floor(virtual)
    following = previous + 1
    above = virtual >= n - 1
    previous[above], following[above] = -1, -1
    previous, following = previous.astype(np.intp), following.astype(np.intp)
    gamma = np.asanyarray(virtual - previous, dtype=virtual.dtype)
    return np.where(previous < 0, n - 1, previous), np.where(following < 0, n - 1, following), gamma


def _lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``np.quantile``'s interpolation between neighbours ``a`` and ``b`` (NumPy 2)."""
    diff = b - a
    result = np.add(a, diff * t)
    np.subtract(b, diff * (1 - t), out=result, where=t >= 0.5)
    return result


def _shares(values: np.ndarray, edges: np.ndarray, zero_bin: bool = False) -> np.ndarray:
    """Shares of ``values`` per bin: [at or below zero,] then the bins the edges cut."""
    if not zero_bin:
        counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
        return counts / max(len(values), 1)
    zero = values <= 0
    counts = np.bincount(np.searchsorted(edges, values[~zero], side="right"), minlength=len(edges) + 1)
    return np.concatenate([[np.count_nonzero(zero)], counts]) / max(len(values), 1)


def _key_column(features: pd.DataFrame, name: str) -> np.ndarray:
    """One key feature (a contract column or a derived ratio) as float64, without building the
    whole profile frame (a copy of every column)."""
    if name in RATIOS:
        return ratio_column(features, name)
    return features[name].to_numpy(dtype="float64")


def psi_level(psi: float) -> str:
    """'stable', 'moderate shift' or 'significant shift'."""
    return next(label for limit, label in PSI_LEVELS if psi < limit)


def population_shift(reference: dict, features: pd.DataFrame) -> dict[str, float]:
    """PSI of each key feature between the reference month and ``features``."""
    out = {}
    for name, ref in reference.items():
        expected = np.asarray(ref["shares"]) + _EPS
        values = _key_column(features, name)
        actual = _shares(values, np.asarray(ref["edges"]), bool(ref.get("zero_bin"))) + _EPS
        out[name] = float(np.sum((actual - expected) * np.log(actual / expected)))
    return out


def zero_share_shift(reference: dict, features: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """For each key feature with a zero bin: (share at zero in the reference month, share now).
    PSI weighs a zero bin like any other, so 25% -> 39% of customers buying nothing scores
    only about 0.09 ("stable"); the change in the share itself is reported beside it."""
    out = {}
    for name, ref in reference.items():
        if ref.get("zero_bin"):
            now = float(np.mean(_key_column(features, name) <= 0))
            out[name] = (float(ref["shares"][0]), now)
    return out


def centroid_shift(centroids: np.ndarray, matrix: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Distance between each saved centroid and the mean of the customers now assigned to it."""
    shifts = np.full(len(centroids), np.nan)
    for i in range(len(centroids)):
        members = matrix[labels == i]
        if len(members):
            shifts[i] = float(np.linalg.norm(members.mean(axis=0) - centroids[i]))
    return shifts


def to_scaled_space(centroids: np.ndarray, source: Scaler, target: Scaler) -> np.ndarray:
    """Map centroids from one scaler's space into another's (same columns, same log transform)."""
    raw = centroids * np.asarray(source.scale) + np.asarray(source.mean)
    return (raw - np.asarray(target.mean)) / np.asarray(target.scale)


@dataclass(frozen=True)
class RefitMatch:
    """How a fresh fit's clusters relate to last month's segments (distances in last month's
    scaled space)."""

    matched: dict[int, int]  # new cluster -> previous segment index
    distances: dict[int, float]
    dist: np.ndarray


def match_refit(new_centroids: np.ndarray, new_scaler: Scaler, old_centroids: np.ndarray, old_scaler: Scaler) -> RefitMatch:
    """Optimal one-to-one matching of new clusters to previous segments on centroid distance."""
    mapped = to_scaled_space(new_centroids, new_scaler, old_scaler)
    dist = np.linalg.norm(mapped[:, None, :] - old_centroids[None, :, :], axis=2)
    rows, cols = linear_sum_assignment(dist)
    matched = {int(r): int(c) for r, c in zip(rows, cols) if dist[r, c] <= MATCH_DISTANCE}
    return RefitMatch(matched, {n: float(dist[n, o]) for n, o in matched.items()}, dist)


def describe_changes(match: RefitMatch, old_names: list[str], new_names: list[str]) -> tuple[str, ...]:
    """Splits, merges, vanished and emerged segments, in words (``new_names`` are final names)."""
    dist = match.dist
    n_new, n_old = dist.shape
    nearest_old, nearest_new = dist.argmin(axis=1), dist.argmin(axis=0)
    events = []
    for old in range(n_old):
        children = [n for n in range(n_new) if nearest_old[n] == old]
        if len(children) > 1:
            events.append(f"{old_names[old]} split into {_join([new_names[n] for n in children])}.")
    for new in range(n_new):
        parents = [o for o in range(n_old) if nearest_new[o] == new]
        if len(parents) > 1:
            events.append(f"{_join([old_names[o] for o in parents])} merged into {new_names[new]}.")
    for old in range(n_old):
        if old not in match.matched.values():
            events.append(f"{old_names[old]} vanished: no segment of the new fit is close to it.")
    for new in range(n_new):
        if new not in match.matched:
            events.append(f"{new_names[new]} emerged: a segment with no close match last month.")
    return tuple(events)


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]

"""Segment profiles: what each segment looks like against the whole portfolio.

A profile holds, per segment and per profile feature (the 17 columns and the derived ratios),
the mean and median in the data's own units and a z-score: the segment's mean of the
standardised feature (amounts, counts and ratios log1p-transformed first), so 0 is the
portfolio average. Z-scores drive persona naming and the profile heat table.

Everything is computed on all customers, one feature column at a time, in float64: sums per
segment with ``np.bincount`` (linear, deterministic order), the z-score from the segment means of
the log-transformed column (the mean of standardised values is the standardised mean), exact
medians from one histogram per segment (:func:`segment_medians`: linear, no sort). Memory is a few float64 columns per
thread, never a customers x features float64 matrix; each thread writes its columns into the
same buffers column after column (fresh memory must be zeroed by the kernel first, which on
this project's machine cost more than the arithmetic).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from reportgen.data.contract import RATIOS, SKEWED
from reportgen.data.features import derive_ratios, mean_and_std, ratio_column, widen_into
from reportgen.segmentation.personas import PROFILE_FEATURES
from reportgen.segmentation.ranks import BIN_BITS, TOP_BIN, WIDTH, ZERO_BIN, order_statistics, value_bins

if TYPE_CHECKING:  # imported where used: the render lanes load this module without pandas
    import pandas as pd


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
    positives: np.ndarray  # customers with a value above 0

    @staticmethod
    def covers(feature: str) -> bool:
        """Whether ``feature`` is profiled (so :meth:`stat` gives its figures)."""
        return feature in PROFILE_FEATURES

    def stat(self, stat: str, feature: str, segment: int | None = None) -> float:
        """A criterion's statistic (``mean``, ``median`` or ``share``: the share of customers with
        a value above 0) of ``feature`` in ``segment``, or in the whole portfolio when ``None``:
        the same figures the profile table shows, so a name's numbers match the profile's."""
        j = PROFILE_FEATURES.index(feature)
        if stat == "share":
            count = self.positives[:, j].sum() if segment is None else self.positives[segment, j]
            n = self.sizes.sum() if segment is None else self.sizes[segment]
            return float(count / n) if n else float("nan")
        per_segment, portfolio = {"mean": (self.means, self.portfolio_means),
                                  "median": (self.medians, self.portfolio_medians)}[stat]
        return float(portfolio[j] if segment is None else per_segment[segment, j])


def profile_frame(features: pd.DataFrame) -> pd.DataFrame:
    """The 17 features plus the derived ratios, one row per customer."""
    import pandas as pd

    return pd.concat([features.reset_index(drop=True), derive_ratios(features).reset_index(drop=True)], axis=1)


def describe_segments(features: pd.DataFrame, labels: np.ndarray, k: int) -> Profiles:
    """Compute every segment's profile for segment ids ``0..k-1`` in ``labels``.

    One pass per column: the column is widened to float64 once for the sums and z-scores; the
    exact medians, per segment and of the portfolio, come from one histogram of the column per
    segment (:func:`segment_medians`)."""
    labels = np.asarray(labels, dtype=np.intp)
    sizes = np.bincount(labels, minlength=k)
    binned = labels << BIN_BITS  # each segment's histogram bins come after the one before's
    shape = (k, len(PROFILE_FEATURES))
    sums, z, medians = np.zeros(shape), np.zeros(shape), np.full(shape, np.nan)
    positives = np.zeros(shape, dtype=np.int64)
    portfolio_sums, portfolio_medians = np.zeros(shape[1]), np.zeros(shape[1])

    local = threading.local()

    def profile(j: int, name: str) -> None:
        if not hasattr(local, "work"):  # this thread's first column
            local.work = _Buffers(len(labels))
        work = local.work
        values = work.column(features, name)
        sums[:, j] = np.bincount(labels, weights=values, minlength=k)
        portfolio_sums[j] = values.sum()
        z[:, j] = _segment_z(values, labels, sizes, name, scratch=work.scratch)
        # the medians in the column's own type (float32 columns: half the memory traffic; the
        # median of the widened values is the same number), the scratch buffer holding the bins
        own = values if name in RATIOS else features[name].to_numpy()
        medians[:, j], portfolio_medians[j], positives[:, j] = segment_medians(
            own, binned, sizes, work.scratch.view(np.int64), work.narrow)

    # Columns are independent and NumPy releases the GIL in these loops: two at a time use
    # both cores (the render lanes are idle while the segments are profiled). Each figure is
    # computed exactly as one at a time would compute it.
    with ThreadPoolExecutor(max_workers=2) as pool:
        for future in [pool.submit(profile, j, name) for j, name in enumerate(PROFILE_FEATURES)]:
            future.result()
    empty = sizes == 0
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / sizes[:, None]
    means[empty], sums[empty], z[empty] = np.nan, np.nan, 0.0
    n = max(len(labels), 1)
    return Profiles(
        sizes=sizes,
        means=means,
        medians=medians,
        sums=sums,
        z=z,
        portfolio_means=portfolio_sums / n,
        portfolio_medians=portfolio_medians,
        portfolio_sums=portfolio_sums,
        positives=positives,
    )


def reorder_profiles(profiles: Profiles, order) -> Profiles:
    """The same profiles with segment ``order[i]`` as segment ``i`` (after segments are renumbered;
    every per-segment figure is the same number as a recomputation would give)."""
    order = np.asarray(order, dtype=np.intp)
    return replace(
        profiles, sizes=profiles.sizes[order], means=profiles.means[order], medians=profiles.medians[order],
        sums=profiles.sums[order], z=profiles.z[order],
        positives=profiles.positives[order],
    )


def segment_z(features: pd.DataFrame, labels: np.ndarray, k: int) -> np.ndarray:
    """Only the z-scores of :func:`describe_segments` (what persona naming needs): no medians."""
    labels = np.asarray(labels, dtype=np.intp)
    sizes = np.bincount(labels, minlength=k)
    z = np.zeros((k, len(PROFILE_FEATURES)))
    for j, name in enumerate(PROFILE_FEATURES):
        z[:, j] = _segment_z(_profile_column(features, name), labels, sizes, name)
    z[sizes == 0] = 0.0
    return z


def _profile_column(features: pd.DataFrame, name: str) -> np.ndarray:
    if name in RATIOS:
        return ratio_column(features, name)
    return features[name].to_numpy(dtype="float64")


def _segment_z(
    values: np.ndarray, labels: np.ndarray, sizes: np.ndarray, name: str, scratch: np.ndarray | None = None,
) -> np.ndarray:
    """Each segment's mean of the standardised (log1p first for skewed columns) values.

    The log and the deviations are computed in ``scratch`` (float64, as long as ``values``; a new
    array when not given), which is overwritten; ``values`` are left as they are. The figures are
    those of ``values.mean()`` and ``values.std()``, bit for bit (the same two passes with the
    same pairwise sums)."""
    if scratch is None:
        scratch = np.empty(len(values))
    if name in SKEWED or name in RATIOS:
        values = np.log1p(np.maximum(values, 0, out=scratch), out=scratch)
        scratch = None  # the log is in it; the deviations overwrite the log below
    with np.errstate(invalid="ignore", divide="ignore"):
        segment_means = np.bincount(labels, weights=values, minlength=len(sizes)) / sizes
    mean, std = mean_and_std(values, values if scratch is None else scratch)
    std = std if std != 0 else 1.0
    return np.where(sizes > 0, (segment_means - mean) / std, 0.0)


class _Buffers:
    """One profiling thread's float64 columns and its float32 column, reused column after column."""

    def __init__(self, n: int):
        self.values = np.empty(n)
        self.scratch = np.empty(n)
        self.narrow = np.empty(n, dtype=np.float32)

    def column(self, features: pd.DataFrame, name: str) -> np.ndarray:
        """The profile column ``name`` as float64 in :attr:`values` (what :func:`_profile_column` gives)."""
        return widen_into(features, name, self.values, self.scratch)


def segment_medians(values: np.ndarray, binned: np.ndarray, sizes: np.ndarray, bins: np.ndarray | None = None,
                    narrow: np.ndarray | None = None) -> tuple[np.ndarray, float, np.ndarray]:
    """Exact medians of ``values`` per segment and over all, and each segment's count of values
    above 0: ``(medians, portfolio median, positives)``. ``binned`` is each value's segment id
    shifted left by :data:`~reportgen.segmentation.ranks.BIN_BITS`; ``sizes`` the segments'
    sizes. A median is the two middle values averaged in float64, as
    :func:`~reportgen.data.features.median` gives (NaN for an empty segment); NaN values are not
    expected (clean features have none).

    Radix selection (:mod:`reportgen.segmentation.ranks`): one ``bincount`` gives every segment's
    histogram, the portfolio's is their sum, and only the values in the bins holding the middle
    ranks are gathered and partitioned; no segment is sorted or gathered. ``bins`` (int64) and
    ``narrow`` (float32), as long as ``values``, are buffers to reuse (new arrays when not given)."""
    n, k = len(values), len(sizes)
    bins, single = value_bins(values, bins, narrow)
    bins += binned
    histogram = np.bincount(bins, minlength=k * WIDTH).reshape(k, WIDTH)
    positives = histogram[:, ZERO_BIN + 1:TOP_BIN + 1].sum(axis=1)  # above +0.0, at most +inf
    middle = lambda total: [(total - 1) // 2, total // 2]  # noqa: E731
    requests = [(int(s), int(s), histogram[s], middle(int(sizes[s]))) for s in np.flatnonzero(sizes)]
    if n:
        requests.append((None, None, histogram.sum(axis=0), middle(n)))
    found = order_statistics(values, bins, single, k, requests)
    medians = np.full(k, np.nan)
    for s, (low, high) in found.items():
        if s is not None:
            medians[s] = (low + high) / 2
    portfolio = (found[None][0] + found[None][1]) / 2 if None in found else float("nan")
    return medians, portfolio, positives

"""Exact order statistics of millions of values in linear time, by radix selection.

Each value falls into one of :data:`WIDTH` bins (2**18) in the order of the values
(:func:`value_bins`), so one ``bincount`` gives a histogram (per segment, with the segment's id
shifted into the bin number) and the bin holding any rank is known from its running count. Only
the values in the few bins that hold the wanted ranks are then gathered and partitioned
(:func:`order_statistics`). A float32 value's bin is its sign, exponent and first 7 mantissa bits,
doubled, plus one unless the other 16 bits are 0: the "round" values (0, 1, 12, 0.5, 2500...)
each have a bin of their own, so a statistic that is such a value (a median of 0, or 12 months of
tenure) needs no gathering at all. float64 values are binned by their float32 rounding, which
keeps their order. Used for the segments' medians and the drift reference's deciles.
"""

from __future__ import annotations

import numpy as np

BIN_BITS = 18
WIDTH = 1 << BIN_BITS
ZERO_BIN = 0x10000  # +0.0's bin: negatives below, positives above
TOP_BIN = 0x1FF00  # +inf's (and the largest floats'); NaN is above


def value_bins(values: np.ndarray, bins: np.ndarray | None = None,
               narrow: np.ndarray | None = None) -> tuple[np.ndarray, bool]:
    """Each value's bin (int64, in ``bins`` when given) and whether a bin of these values holds a
    single value when it is a "one value" bin (float32 values: see :func:`one_value`).
    ``narrow`` (float32, as long as ``values``) is a buffer to reuse."""
    n = len(values)
    bins = np.empty(n, dtype=np.int64) if bins is None else bins
    narrow = np.empty(n, dtype=np.float32) if narrow is None else narrow
    single = values.dtype == np.float32
    if single:
        raw = values.view(np.uint32)
    else:  # float64: binned by the float32 rounding, a tiny positive kept above +0.0's bin
        with np.errstate(over="ignore"):
            np.copyto(narrow, values, casting="same_kind")
        narrow[(narrow == 0) & (values > 0)] = np.float32(1e-45)
        raw = narrow.view(np.uint32)
    np.right_shift(raw, 16, out=bins)
    bins <<= 1
    if single:  # the low bits' test in the spare buffer (the float64 path holds its pattern there)
        low = np.bitwise_and(raw, 0xFFFF, out=narrow.view(np.uint32))
    else:
        low = raw & 0xFFFF
    bins += low != 0
    bins += ZERO_BIN
    negative = raw >= 0x80000000
    if negative.any():  # the sign bit put them at 0x20000 and above: mirrored below 0x10000, so
        bins[negative] = 0x2FFFF - bins[negative]  # the larger the magnitude, the lower the bin
    return bins, single


def one_value(b: int, single: bool) -> bool:
    """Whether bin ``b`` holds one value only: +0.0's, or a float32 bin of one bit pattern."""
    return b == ZERO_BIN or (single and b % 2 == (0 if b >= ZERO_BIN else 1))


def bin_value(b: int) -> float:
    """The value of a one-value bin (:func:`one_value`)."""
    pattern = (b - ZERO_BIN) >> 1 if b >= ZERO_BIN else (0x1FFFF - b) >> 1  # the top 16 bits
    return float(np.uint32(pattern << 16).view(np.float32))


def order_statistics(values: np.ndarray, bins: np.ndarray, single: bool, groups: int,
                     requests: list[tuple[object, int | None, np.ndarray, list[int]]],
                     below: dict | None = None) -> dict:
    """``{key: [value at each rank]}`` for ``requests`` of ``(key, group, histogram, ranks)``:
    ``group`` is a group's number (its values' bins are ``group * WIDTH + bin``), or ``None`` for
    all ``groups`` together; ``histogram`` (``WIDTH`` counts) is that group's (or their sum);
    ranks count from 0 in ascending order. ``bins`` as :func:`value_bins` gives them, plus the
    group offsets. ``below``, when given, receives ``{key: [count of the group's values strictly
    below each value found]}``."""
    picks = []  # (key, group, rank within the bin, bin, values in the bins before it)
    for key, group, histogram, ranks in requests:
        cumulative = np.cumsum(histogram)
        for rank in ranks:
            b = int(np.searchsorted(cumulative, rank, side="right"))
            before = int(cumulative[b - 1]) if b else 0
            picks.append((key, group, rank - before, b, before))
    wanted = np.zeros(groups * WIDTH, dtype=bool)
    for _key, group, _rank, b, _before in picks:
        if not one_value(b, single):
            wanted[(group * WIDTH + b) if group is not None else (np.arange(groups) * WIDTH + b)] = True
    at = np.flatnonzero(wanted[bins]) if wanted.any() else np.zeros(0, dtype=np.intp)
    found, found_bins = values[at], bins[at]
    chosen: dict = {}
    out: dict = {}
    for key, group, rank, b, before in picks:
        if one_value(b, single):
            value, smaller = bin_value(b), 0
        else:
            if (group, b) not in chosen:
                chosen[(group, b)] = (found[found_bins == group * WIDTH + b] if group is not None
                                      else found[(found_bins & (WIDTH - 1)) == b])
            part = chosen[(group, b)]
            part.partition(rank)
            value = float(part[rank])
            smaller = int(np.count_nonzero(part[:rank] < part[rank])) if below is not None else 0
        out.setdefault(key, []).append(value)
        if below is not None:
            below.setdefault(key, []).append(before + smaller)
    return out

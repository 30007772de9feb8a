"""Validating an extract against the contract, once, at the boundary.

Every check is vectorised (numpy on the numbers, pyarrow compute on text), one column at a time,
so memory stays at one float32 copy of the features plus a column's worth of temporaries. A
failed check raises :class:`~reportgen.errors.InputError` with one line naming the file, the
column, the check and up to five row numbers, never the values (they are personal data).
Expected gaps (``MINIMUM_PAYMENTS``, ``CREDIT_LIMIT``) are imputed with the column median and
counted so the report can state them.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from reportgen.data.contract import BY_NAME, FEATURES, FREQUENCIES, ID_COLUMN, IMPUTABLE, TENURE_RANGE
from reportgen.data.extract import EMPTY_MARKERS, Extract
from reportgen.data.features import median as column_median
from reportgen.errors import InputError

_EMPTY_MARKERS = set(EMPTY_MARKERS)
_MARKER_LENGTH = max(map(len, EMPTY_MARKERS))
_MAX_ROWS_NAMED = 5
_FINGERPRINT_BLOCK = 1 << 16  # strings per block of id fingerprints (512 kB per temporary)
MIN_CUSTOMERS_PER_SEGMENT = 10
# Frequencies are shares in 0..1. The reference extract has a few slightly above 1 (months with a
# cash advance counted over a short tenure, up to 9/6 = 1.5): those are capped at 1 and counted;
# anything beyond is an error.
FREQUENCY_CAP_LIMIT = 1.5
FEATURE_DTYPE = np.float32

# The checks, as the error messages name them (shared with the Spark engine).
EMPTY_ID = "empty customer id"
DUPLICATE_ID = "duplicate customer id"
BOOLEAN = "true/false values where numbers are expected"
TEXT = "text where a number is expected"
GAP = "empty value (blank, NA, NaN, NULL or None; only MINIMUM_PAYMENTS and CREDIT_LIMIT may be empty)"
# float32 holds up to about 3.4e38: a larger number reads as infinite, so the two are one check.
INFINITE = "infinite value, or a number too large for a 32-bit float (beyond 3.4e38)"
#: No credit-card figure comes near this; beyond it sums and KPIs print absurd figures.
MAX_FIGURE = 1e15
TOO_LARGE = f"number too large for an amount or count (over {MAX_FIGURE:.0e})"
NEGATIVE = "negative value (amounts and counts must be >= 0)"
OUTSIDE_FREQUENCY = "frequency outside 0..1"
BAD_TENURE = f"tenure not a whole number of months in {TENURE_RANGE[0]}..{TENURE_RANGE[1]}"


@dataclass(frozen=True)
class CleanData:
    """Validated customers: ids as text, the 17 features as float32 with gaps imputed.

    float32 holds 7 significant digits (cents up to $167,772), plenty to segment and profile;
    sums for KPIs should be accumulated in float64 (``np.sum(..., dtype=np.float64)``).
    ``impute_values`` are the medians computed in float64.
    """

    ids: pd.Series
    features: pd.DataFrame
    imputed: dict[str, int]
    impute_values: dict[str, float]
    capped: dict[str, int]


def validate_extract(extract: Extract, *, min_customers: int) -> CleanData:
    """Check ``extract`` against the contract and return clean, imputed data."""
    frame = extract.frame
    ids = _check_ids(extract, frame[ID_COLUMN])
    columns = {name: _to_number(extract, frame[name], name) for name in FEATURES}
    _check_gaps(extract, columns)
    _check_ranges(extract, columns)
    capped = _cap_frequencies(columns)
    imputed, values = _impute(columns)
    _check_enough(extract, columns, min_customers)
    # one float32 block per column, no copy: consolidating them into one block copied 680 MB at
    # 10M customers (fresh memory, about a second), and every reader takes a column at a time
    features = pd.DataFrame(columns, copy=False)
    return CleanData(ids=ids, features=features, imputed=imputed, impute_values=values, capped=capped)


def describe_rows(first_row: int, positions, total: int) -> str:
    """``rows 5, 19`` / ``row 9`` / ``rows 2, 3, 4, 5, 6 and 40 more`` from 0-based positions."""
    shown = ", ".join(str(int(p) + first_row) for p in list(positions)[:_MAX_ROWS_NAMED])
    more = f" and {total - _MAX_ROWS_NAMED} more" if total > _MAX_ROWS_NAMED else ""
    noun = "row" if total == 1 else "rows"
    return f"{noun} {shown}{more}"


def _rows(extract: Extract, mask: np.ndarray | pd.Series) -> str:
    positions = np.flatnonzero(np.asarray(mask))
    return describe_rows(extract.first_row, positions[:_MAX_ROWS_NAMED], len(positions))


def _fail(extract: Extract, column: str, check: str, mask) -> None:
    raise InputError(f"{extract.path}: column {column}: {check} in {_rows(extract, mask)}")


def _is_text(series: pd.Series) -> bool:
    return series.dtype == object or pd.api.types.is_string_dtype(series)


def _arrow_text(series: pd.Series) -> pa.ChunkedArray | None:
    """The column as Arrow strings, or None when it holds something else (e.g. mixed objects)."""
    try:
        array = pa.array(series, from_pandas=True)
    except (pa.ArrowException, TypeError, ValueError):
        return None
    if isinstance(array, pa.Array):
        array = pa.chunked_array([array])
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return None
    return array


def _empty_text(array: pa.ChunkedArray) -> tuple[np.ndarray, pa.ChunkedArray]:
    """(empty-cell mask, stripped text) of a text column; markers compare case-insensitively."""
    stripped = pc.utf8_trim_whitespace(array)
    empty = np.asarray(pc.is_null(array).to_numpy(zero_copy_only=False), dtype=bool)
    # only cells of at most 4 characters can be markers: lower-case just those
    short = np.flatnonzero(pc.fill_null(pc.less_equal(pc.utf8_length(stripped), _MARKER_LENGTH), False).to_numpy(
        zero_copy_only=False
    ))
    if len(short):
        lowered = pc.utf8_lower(stripped.take(pa.array(short)))
        marker = pc.fill_null(pc.is_in(lowered, value_set=pa.array(sorted(_EMPTY_MARKERS))), False)
        empty[short] |= np.asarray(marker.to_numpy(zero_copy_only=False), dtype=bool)
    return empty, stripped


def _is_empty(series: pd.Series) -> np.ndarray:
    if _is_text(series):
        array = _arrow_text(series)
        if array is not None:
            return _empty_text(array)[0]
        return np.asarray(series.isna() | series.astype(str).str.strip().str.lower().isin(_EMPTY_MARKERS))
    return np.asarray(series.isna())


def _check_ids(extract: Extract, series: pd.Series) -> pd.Series:
    array = _arrow_text(series) if _is_text(series) else None
    if array is not None:
        empty, stripped = _empty_text(array)
        if empty.any():
            _fail(extract, ID_COLUMN, EMPTY_ID, empty)
        ids = pd.Series(stripped.to_pandas(), name=series.name).reset_index(drop=True)
    else:
        empty = _is_empty(series)
        if empty.any():
            _fail(extract, ID_COLUMN, EMPTY_ID, empty)
        ids = series.astype(str).str.strip()
        if pd.api.types.is_float_dtype(series):
            ids = ids.str.removesuffix(".0")
        ids = ids.reset_index(drop=True)
        stripped = pa.chunked_array([pa.array(ids.astype(str), from_pandas=True)])
    if _may_repeat(stripped):
        dup = ids.duplicated(keep=False)
        if dup.any():
            _fail(extract, ID_COLUMN, DUPLICATE_ID, dup)
    return ids


def _may_repeat(array: pa.ChunkedArray, block: int = _FINGERPRINT_BLOCK) -> bool:
    """False when all strings are distinct; True when some may repeat (then checked exactly).

    A hash table over 10 million strings takes seconds; a 64-bit fingerprint of each string,
    built eight bytes at a time in numpy from Arrow's byte buffer and then sorted, takes a
    fraction of that. The fingerprints are built ``block`` strings at a time, two blocks at once
    on two threads: each block's temporaries are a few MB that the allocator hands out again,
    where whole-column temporaries (80 MB each at 10M) were fresh memory every time, which the
    kernel must zero first (it was most of this check's time)."""
    array = array.combine_chunks().cast(pa.large_string())
    if len(array) < 2:
        return False
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[array.offset : array.offset + len(array) + 1]
    data = array.buffers()[2]
    data = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
    padded = np.concatenate([data, np.zeros(8, np.uint8)])
    words = np.ndarray((len(padded) - 7,), dtype="<u8", buffer=padded, strides=(1,))  # every 8-byte window
    starts, lengths = offsets[:-1], np.diff(offsets)
    longest = int(lengths.max())

    def fingerprints(part: slice) -> np.ndarray:
        at_start, length = starts[part], lengths[part]
        fingerprint = length.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        with np.errstate(over="ignore"):
            for at in range(0, longest, 8):
                word = words[np.minimum(at_start + at, len(words) - 1)]
                bits = (np.clip(length - at, 0, 8) * 8).astype(np.uint64)
                word &= np.where(bits == 64, np.uint64(2**64 - 1), (np.uint64(1) << (bits % np.uint64(64))) - np.uint64(1))
                fingerprint = (fingerprint ^ word) * np.uint64(0x100000001B3)
                fingerprint ^= fingerprint >> np.uint64(29)
        return fingerprint

    fingerprint = np.empty(len(starts), dtype=np.uint64)

    def fill(start: int) -> None:
        part = slice(start, min(start + block, len(starts)))
        fingerprint[part] = fingerprints(part)

    def repeats(part: np.ndarray) -> bool:
        part.sort()
        return bool((part[1:] == part[:-1]).any())

    with ThreadPoolExecutor(max_workers=2) as pool:  # numpy releases the GIL: both cores
        for done in [pool.submit(fill, start) for start in range(0, len(starts), block)]:
            done.result()
        # equal fingerprints share their top bit: the two halves are sorted apart, one per core
        high = fingerprint >= np.uint64(1 << 63)
        return any(pool.map(repeats, (fingerprint[~high], fingerprint[high])))


def _to_number(extract: Extract, series: pd.Series, name: str) -> np.ndarray:
    """The column as float32 (empty cells NaN); text that is not a number is an error."""
    if pd.api.types.is_bool_dtype(series):
        _fail(extract, name, BOOLEAN, np.ones(len(series), bool))
    if pd.api.types.is_numeric_dtype(series):
        with np.errstate(over="ignore"):  # beyond float32's range reads as infinite
            return series.to_numpy(dtype=FEATURE_DTYPE, na_value=np.nan)
    array = _arrow_text(series) if _is_text(series) else None
    if array is not None:
        empty, stripped = _empty_text(array)
        text = pc.if_else(pa.chunked_array([pa.array(empty)]), pa.scalar(None, pa.string()), stripped)
        try:
            numbers = pc.cast(pc.replace_substring(text, ",", ""), pa.float64())
        except pa.ArrowInvalid:
            pass  # some cell is not a number for Arrow: let pandas name the rows below
        else:
            values = numbers.to_numpy()
            if not np.isnan(values[~empty]).any():  # Arrow reads "-nan" as a number; pandas does not
                with np.errstate(over="ignore"):
                    return values.astype(FEATURE_DTYPE)
    return _to_number_pandas(extract, series, name)


def _to_number_pandas(extract: Extract, series: pd.Series, name: str) -> np.ndarray:
    empty = pd.Series(_is_empty(series), index=series.index)
    text = series.where(~empty, None).astype(str).str.strip().str.replace(",", "", regex=False)
    numbers = pd.to_numeric(text.where(~empty, None), errors="coerce")
    bad = numbers.isna() & ~empty
    if bad.any():
        _fail(extract, name, TEXT, bad)
    with np.errstate(over="ignore"):
        return numbers.to_numpy(dtype=FEATURE_DTYPE, na_value=np.nan)


def _check_gaps(extract: Extract, columns: dict[str, np.ndarray]) -> None:
    for name in FEATURES:
        gaps = np.isnan(columns[name])
        if gaps.all():
            raise InputError(all_empty_message(extract.path, name))
        if name not in IMPUTABLE and gaps.any():
            _fail(extract, name, GAP, gaps)


def _check_ranges(extract: Extract, columns: dict[str, np.ndarray]) -> None:
    for name in FEATURES:
        col = columns[name]
        kind = BY_NAME[name].kind
        infinite = np.isinf(col)
        if infinite.any():
            _fail(extract, name, INFINITE, infinite)
        if kind in ("amount", "count"):
            with np.errstate(invalid="ignore"):
                huge = np.abs(col) > MAX_FIGURE
            if huge.any():
                _fail(extract, name, TOO_LARGE, huge)
        with np.errstate(invalid="ignore"):
            if kind in ("amount", "count"):
                negative = col < 0
                if negative.any():
                    _fail(extract, name, NEGATIVE, negative)
            elif kind == "frequency":
                outside = (col < 0) | (col > FREQUENCY_CAP_LIMIT)
                if outside.any():
                    _fail(extract, name, OUTSIDE_FREQUENCY, outside)
            elif kind == "tenure":
                low, high = TENURE_RANGE
                outside = (col < low) | (col > high) | (np.round(col) != col)
                if outside.any():
                    _fail(extract, name, BAD_TENURE, outside)


def _cap_frequencies(columns: dict[str, np.ndarray]) -> dict[str, int]:
    counts = {}
    for name in FREQUENCIES:
        with np.errstate(invalid="ignore"):
            over = columns[name] > 1
        if over.any():
            counts[name] = int(over.sum())
            columns[name] = np.minimum(columns[name], FEATURE_DTYPE(1.0))
    return counts


def _impute(columns: dict[str, np.ndarray]) -> tuple[dict[str, int], dict[str, float]]:
    counts: dict[str, int] = {}
    values: dict[str, float] = {}
    for name in IMPUTABLE:
        col = columns[name]
        gaps = np.isnan(col)
        median = column_median(col[~gaps])
        values[name] = median
        counts[name] = int(gaps.sum())
        if counts[name]:
            columns[name] = np.where(gaps, FEATURE_DTYPE(median), col)
    return counts, values


def _check_enough(extract: Extract, columns: dict[str, np.ndarray], min_customers: int) -> None:
    n = len(next(iter(columns.values())))
    if n < min_customers:
        raise InputError(too_few_message(extract.path, n, min_customers))
    # customers are all identical exactly when every column is constant (no gaps remain)
    if all(col.min() == col.max() for col in columns.values()):
        raise InputError(identical_message(extract.path, n))


def all_empty_message(path, column: str) -> str:
    """The error for a column without a single value."""
    return f"{path}: column {column}: every value is empty"


def too_few_message(path, n: int, min_customers: int) -> str:
    """The error for an extract with fewer customers than the largest k tried needs."""
    return (
        f"{path}: {n} customers is too few to segment (need at least {min_customers}, "
        f"{MIN_CUSTOMERS_PER_SEGMENT} per segment for the largest k tried)"
    )


def identical_message(path, n: int) -> str:
    """The error for an extract whose customers all look the same."""
    return f"{path}: all {n} customers have identical behaviour; there is nothing to segment"

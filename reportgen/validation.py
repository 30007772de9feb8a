"""Validating an extract against the contract, once, at the boundary.

Every check is vectorised. A failed check raises :class:`~reportgen.errors.InputError` with one
line naming the file, the column, the check and up to five row numbers, never the values (they
are personal data). Expected gaps (``MINIMUM_PAYMENTS``, ``CREDIT_LIMIT``) are imputed with the
column median and counted so the report can state them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from reportgen.contract import BY_NAME, FEATURES, FREQUENCIES, ID_COLUMN, IMPUTABLE, TENURE_RANGE
from reportgen.errors import InputError
from reportgen.extract import Extract

_EMPTY_MARKERS = {"", "na", "nan", "null", "none", "n/a", "#n/a"}
_MAX_ROWS_NAMED = 5
MIN_CUSTOMERS_PER_SEGMENT = 10
# Frequencies are shares in 0..1. The reference extract has a few slightly above 1 (months with a
# cash advance counted over a short tenure, up to 9/6 = 1.5): those are capped at 1 and counted;
# anything beyond is an error.
FREQUENCY_CAP_LIMIT = 1.5


@dataclass(frozen=True)
class CleanData:
    """Validated customers: ids as text, the 17 features as float64 with gaps imputed."""

    ids: pd.Series
    features: pd.DataFrame
    imputed: dict[str, int]
    impute_values: dict[str, float]
    capped: dict[str, int]


def validate_extract(extract: Extract, *, min_customers: int) -> CleanData:
    """Check ``extract`` against the contract and return clean, imputed data."""
    frame = extract.frame
    ids = _check_ids(extract, frame[ID_COLUMN])
    features = pd.DataFrame({name: _to_number(extract, frame[name], name) for name in FEATURES})
    _check_gaps(extract, features)
    _check_ranges(extract, features)
    capped = _cap_frequencies(features)
    imputed, values = _impute(features)
    _check_enough(extract, features, min_customers)
    return CleanData(ids=ids, features=features, imputed=imputed, impute_values=values, capped=capped)


def _rows(extract: Extract, mask: np.ndarray | pd.Series) -> str:
    positions = np.flatnonzero(np.asarray(mask))
    shown = ", ".join(str(p + extract.first_row) for p in positions[:_MAX_ROWS_NAMED])
    more = f" and {len(positions) - _MAX_ROWS_NAMED} more" if len(positions) > _MAX_ROWS_NAMED else ""
    noun = "row" if len(positions) == 1 else "rows"
    return f"{noun} {shown}{more}"


def _fail(extract: Extract, column: str, check: str, mask) -> None:
    raise InputError(f"{extract.path}: column {column}: {check} in {_rows(extract, mask)}")


def _is_empty(series: pd.Series) -> pd.Series:
    if series.dtype == object or pd.api.types.is_string_dtype(series):
        return series.isna() | series.astype(str).str.strip().str.lower().isin(_EMPTY_MARKERS)
    return series.isna()


def _check_ids(extract: Extract, series: pd.Series) -> pd.Series:
    empty = _is_empty(series)
    if empty.any():
        _fail(extract, ID_COLUMN, "empty customer id", empty)
    ids = series.astype(str).str.strip()
    if pd.api.types.is_float_dtype(series):
        ids = ids.str.removesuffix(".0")
    dup = ids.duplicated(keep=False)
    if dup.any():
        _fail(extract, ID_COLUMN, "duplicate customer id", dup)
    return ids.reset_index(drop=True)


def _to_number(extract: Extract, series: pd.Series, name: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(series):
        _fail(extract, name, "true/false values where numbers are expected", np.ones(len(series), bool))
    if pd.api.types.is_numeric_dtype(series):
        return series.astype("float64")
    empty = _is_empty(series)
    text = series.where(~empty, None).astype(str).str.strip().str.replace(",", "", regex=False)
    numbers = pd.to_numeric(text.where(~empty, None), errors="coerce")
    bad = numbers.isna() & ~empty
    if bad.any():
        _fail(extract, name, "text where a number is expected", bad)
    return numbers.astype("float64")


def _check_gaps(extract: Extract, features: pd.DataFrame) -> None:
    for name in FEATURES:
        col = features[name]
        if col.isna().all():
            raise InputError(f"{extract.path}: column {name}: every value is empty")
        if name not in IMPUTABLE and col.isna().any():
            _fail(extract, name, "empty value (only MINIMUM_PAYMENTS and CREDIT_LIMIT may be empty)", col.isna())


def _check_ranges(extract: Extract, features: pd.DataFrame) -> None:
    for name in FEATURES:
        col = features[name].to_numpy()
        kind = BY_NAME[name].kind
        infinite = np.isinf(col)
        if infinite.any():
            _fail(extract, name, "infinite value", infinite)
        with np.errstate(invalid="ignore"):
            if kind in ("amount", "count"):
                negative = col < 0
                if negative.any():
                    _fail(extract, name, "negative value (amounts and counts must be >= 0)", negative)
            elif kind == "frequency":
                outside = (col < 0) | (col > FREQUENCY_CAP_LIMIT)
                if outside.any():
                    _fail(extract, name, "frequency outside 0..1", outside)
            elif kind == "tenure":
                low, high = TENURE_RANGE
                outside = (col < low) | (col > high) | (np.round(col) != col)
                if outside.any():
                    _fail(extract, name, f"tenure not a whole number of months in {low}..{high}", outside)


def _cap_frequencies(features: pd.DataFrame) -> dict[str, int]:
    counts = {}
    for name in FREQUENCIES:
        over = features[name] > 1
        if over.any():
            counts[name] = int(over.sum())
            features[name] = features[name].clip(upper=1.0)
    return counts


def _impute(features: pd.DataFrame) -> tuple[dict[str, int], dict[str, float]]:
    counts: dict[str, int] = {}
    values: dict[str, float] = {}
    for name in IMPUTABLE:
        gaps = int(features[name].isna().sum())
        median = float(features[name].median())
        values[name] = median
        counts[name] = gaps
        if gaps:
            features[name] = features[name].fillna(median)
    return counts, values


def _check_enough(extract: Extract, features: pd.DataFrame, min_customers: int) -> None:
    n = len(features)
    if n < min_customers:
        raise InputError(
            f"{extract.path}: {n} customers is too few to segment (need at least {min_customers}, "
            f"{MIN_CUSTOMERS_PER_SEGMENT} per segment for the largest k tried)"
        )
    distinct = len(features.drop_duplicates())
    if distinct < 2:
        raise InputError(f"{extract.path}: all {n} customers have identical behaviour; there is nothing to segment")

"""The dashboard's data: the aggregate cube (segment x tenure x limit band x utilisation band) that
makes its tiles exact for any filter, and the fixed-size customer sample behind its distributions.
"""

from __future__ import annotations

import numpy as np

from reportgen.report.formatting import band_label
from reportgen.report.model import (
    CUBE_MEASURES,
    LIMIT_BANDS,
    SAMPLE_COLUMNS,
    SAMPLE_SIZE,
    UTILISATION_BANDS,
    Cube,
    CustomerSample,
)
from reportgen.segmentation.profiles import profile_frame


def _band(values: np.ndarray, bands) -> np.ndarray:
    edges = [low for low, _high, _label in bands[1:]]
    return np.searchsorted(np.asarray(edges), values, side="right")


def build_cube(features, labels, fields=None) -> Cube:
    """Aggregate customers into (segment, tenure, limit band, utilisation band) cells.

    Each customer's cell is one integer (the four coordinates in mixed radix, so cells sort as
    the dimensions do); a ``bincount`` per measure sums the cells in one pass each. ``fields``:
    the customer fields of :func:`~reportgen.report.actions.values_of` for these customers (the
    report's, kept for the rest of it; new ones when not given)."""
    if fields is None:
        from reportgen.segmentation.actions import CustomerFields

        fields = CustomerFields(features)
    limit, util = fields["CREDIT_LIMIT"], fields["UTILISATION"]  # utilisation: 0 without a limit
    segment = np.asarray(labels, dtype=np.int64)
    tenure = features["TENURE"].to_numpy().astype(np.int64)
    low = int(tenure.min()) if len(tenure) else 0
    radix = (int(segment.max()) + 1 if len(segment) else 1, int(tenure.max()) - low + 1 if len(tenure) else 1,
             len(LIMIT_BANDS), len(UTILISATION_BANDS))
    cell = ((segment * radix[1] + (tenure - low)) * radix[2] + _band(limit, LIMIT_BANDS)) * radix[3]
    cell += _band(util, UTILISATION_BANDS)
    size = int(np.prod(radix))
    customers = np.bincount(cell, minlength=size)
    present = np.flatnonzero(customers)
    sums = [np.bincount(cell, weights=fields[m], minlength=size)[present] for m in CUBE_MEASURES[1:-1]]
    cash_users = np.bincount(cell[features["CASH_ADVANCE"].to_numpy() > 0], minlength=size)[present]
    coordinates = np.unravel_index(present, radix)
    rows = tuple(
        (int(s) + 1, int(t) + low, int(b), int(u), int(n), *(_round(v, 10) for v in measures), int(c))
        for s, t, b, u, n, *measures, c in zip(*(a.tolist() for a in coordinates), customers[present].tolist(),
                                               *(m.tolist() for m in sums), cash_users.tolist())
    )
    dims = ("segment", "tenure", "limit_band", "utilisation_band")
    # The labels people read, in the report's locale (the BI extracts keep LIMIT_BANDS' fixed labels: data)
    limits = tuple(band_label(start, end, "money") for start, end, _label in LIMIT_BANDS)
    utilisations = tuple(band_label(start, end, "share") for start, end, _label in UTILISATION_BANDS)
    return Cube(dims, CUBE_MEASURES, limits, utilisations, rows)


def mask_id(customer_id: str) -> str:
    """Hide most of an id, keeping its first and last two characters: ``C10001 -> C•••01``."""
    text = str(customer_id)
    return text[:1] + "•••" + text[-2:] if len(text) > 4 else "•••"


def _customer_sample(result, show_ids: bool) -> CustomerSample:
    n = len(result.labels)
    rng = np.random.default_rng(result.settings.segmentation.seed)
    idx = np.sort(rng.choice(n, size=min(SAMPLE_SIZE, n), replace=False))
    frame = profile_frame(result.clean.features.iloc[idx])
    ids = result.clean.ids.iloc[idx].astype(str)
    return CustomerSample(
        columns=SAMPLE_COLUMNS,
        ids=tuple(ids if show_ids else ids.map(mask_id)),
        segment=tuple(int(s) + 1 for s in result.labels[idx]),
        values=tuple(map(tuple, _round_array(frame[list(SAMPLE_COLUMNS)].to_numpy(dtype="float64")).tolist())),
        total_customers=n,
        ids_masked=not show_ids,
    )


def _round(value: float, digits: int = 6) -> float:
    """Round to ``digits`` significant digits so the JSON is stable and compact."""
    value = float(value)
    if value == 0 or not np.isfinite(value):
        return value
    return float(f"{value:.{digits}g}")


def _round_array(values: np.ndarray, digits: int = 6) -> np.ndarray:
    """:func:`_round` of every element, vectorised (the customer sample holds 85,000 values):
    the same results, element for element; values that fall near a rounding tie after scaling
    are rounded one by one, as :func:`_round` rounds them."""
    out = np.array(values, dtype=np.float64)
    pick = np.isfinite(out) & (out != 0)
    x = out[pick]
    shift = digits - 1 - np.floor(np.log10(np.abs(x))).astype(int)
    # Multiply or divide by an exact power of ten, so the division is correctly rounded.
    up = shift >= 0
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = np.where(up, x * 10.0 ** np.where(up, shift, 0), x / 10.0 ** np.where(up, 0, -shift))
        rounded = np.round(scaled)
        result = np.where(up, rounded / 10.0 ** np.where(up, shift, 0), rounded * 10.0 ** np.where(up, 0, -shift))
        # Near-ties and extremes (sub-normal numbers) are rounded one by one.
        slow = ~np.isfinite(result) | (np.abs(np.abs(scaled - np.trunc(scaled)) - 0.5) < 1e-6)
    result[slow] = [_round(v, digits) for v in x[slow]]
    out[pick] = result
    return out

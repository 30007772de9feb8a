"""The dashboard's data: the aggregate cube (segment x tenure x limit band x utilisation band) that
makes its tiles exact for any filter, and the fixed-size customer sample behind its distributions.
"""

from __future__ import annotations

import numpy as np

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


def build_cube(features, labels) -> Cube:
    """Aggregate customers into (segment, tenure, limit band, utilisation band) cells."""
    limit = features["CREDIT_LIMIT"].to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        util = np.where(limit > 0, features["BALANCE"].to_numpy(dtype="float64") / np.where(limit > 0, limit, 1), 0.0)
    import pandas as pd

    frame = pd.DataFrame(
        {
            "segment": labels + 1,
            "tenure": features["TENURE"].to_numpy().astype(int),
            "limit_band": _band(limit, LIMIT_BANDS),
            "utilisation_band": _band(util, UTILISATION_BANDS),
            "customers": 1,
            **{m: features[m].to_numpy(dtype="float64") for m in CUBE_MEASURES[1:-1]},
            "cash_advance_users": (features["CASH_ADVANCE"].to_numpy() > 0).astype(int),
        }
    )
    dims = ("segment", "tenure", "limit_band", "utilisation_band")
    grouped = frame.groupby(list(dims), sort=True)[list(CUBE_MEASURES)].sum().reset_index()
    rows = tuple(
        tuple(int(v) if i < len(dims) + 1 or i == len(grouped.columns) - 1 else _round(v, 10) for i, v in enumerate(r))
        for r in grouped.itertuples(index=False)
    )
    return Cube(dims, CUBE_MEASURES, tuple(b[2] for b in LIMIT_BANDS), tuple(b[2] for b in UTILISATION_BANDS), rows)


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

"""Synthetic credit-card customer extracts with planted behaviours.

The project never ships the real ``CC GENERAL.csv``; it ships customers drawn here instead. Each
customer belongs to one of five planted behaviours (:data:`BEHAVIOURS`) and carries persistent latent
traits (standard-normal scores, one per trait in :data:`_TRAITS`). A month of data turns the traits
into the 17 contract columns through per-behaviour location/scale parameters, so the behaviours are
recoverable by K-Means on log1p-transformed, standard-scaled features, and a customer who keeps a
behaviour keeps similar numbers from month to month. The parameters keep the five behaviours distinct
enough that the pipeline's own k rule (:mod:`reportgen.segmentation.selection`) picks k = 5 on the bundled sample
and the persona playbook names each segment after the behaviour most of its customers were planted
with.

The behaviours:

- **High Balance Holders**: large balances (about 60% of high limits) updated every month; few
  purchases (one-off, in one or two months a year); pay a good part of the balance (about twice the
  minimum); little or no cash advance.
- **Frequent Spenders**: many one-off AND instalment purchases nearly every month, the highest limits,
  pay in full most often, almost never take cash.
- **Balanced Users**: buy mostly in instalments most months, few one-off purchases, moderate balances,
  steady payments, no cash advance as a rule.
- **Dormant Users**: low balances rarely updated, no purchases as a rule, no cash advance.
- **Revolvers**: sit near their limit, pay less than the minimum and far less than the balance, never
  pay in full, take cash advances often and buy a little.

Months: every month each customer's traits are blurred with small fresh noise
(``rho * z + sqrt(1 - rho**2) * noise``, which keeps them standard normal) and about 7% of the
customers drift to another behaviour along plausible paths (:data:`_DRIFT`). There is no churn: every
month holds the same customers (same ``CUST_ID`` values, same order).

The columns keep the internal consistency of the real file: ``PURCHASES`` is one-off plus instalment
purchases; an amount is zero exactly when its transaction count and frequency are; frequencies are
whole months out of 12; ``MINIMUM_PAYMENTS`` is empty for about 3.5% of rows (all rows without
payments plus a few others) and ``CREDIT_LIMIT`` for one row in 5,000 at most.

Everything is deterministic by ``seed`` (``numpy.random.default_rng``) and vectorised.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from statistics import NormalDist

import numpy as np
import pandas as pd

from reportgen.data.contract import FEATURES, ID_COLUMN
from reportgen.errors import InputError

BEHAVIOURS: tuple[str, ...] = (
    "High Balance Holders",
    "Frequent Spenders",
    "Balanced Users",
    "Dormant Users",
    "Revolvers",
)
DEFAULT_MIX: tuple[float, ...] = (0.18, 0.20, 0.24, 0.22, 0.16)

_FIRST_ID = 10001
_RHO = 0.95  # month-to-month persistence of the latent traits
_LN = np.log

# Per trait, the (location, scale) of its latent score for each behaviour, in BEHAVIOURS order:
#   High Balance, Frequent Spenders, Balanced, Dormant, Revolvers.
# "log" traits are exp(location + scale * z); "logit" traits are sigmoid(location + scale * z).
# A behaviour either clearly has an activity or clearly lacks it (e.g. Dormant Users almost never buy,
# High Balance Holders almost always buy a little and almost never take cash, Balanced Users rarely buy
# one-off): a behaviour split half and half between zero and non-zero amounts makes K-Means split it
# in two (log1p puts $0 far from $50), and the k rule then prefers 3 or 6 segments over the planted 5.
_TRAITS: dict[str, tuple[tuple[float, float], ...]] = {
    "limit": ((_LN(7000), 0.7), (_LN(9000), 0.55), (_LN(3500), 0.5), (_LN(2500), 0.6), (_LN(3000), 0.5)),
    "utilisation": ((0.4, 0.5), (-2.1, 0.8), (-1.1, 0.6), (-4.0, 1.2), (2.6, 0.6)),
    "balance_freq": ((4.5, 1.0), (3.5, 1.0), (3.0, 1.0), (-0.6, 0.7), (4.5, 1.0)),
    "purchase_freq": ((-2.2, 0.4), (3.5, 1.0), (1.0, 0.7), (-4.5, 0.8), (-1.0, 1.0)),
    "oneoff_share": ((2.5, 0.5), (1.5, 1.0), (-3.2, 1.0), (0.0, 1.0), (0.0, 1.0)),
    "instal_share": ((-3.0, 0.5), (1.0, 1.0), (3.5, 1.0), (0.0, 1.0), (0.0, 1.0)),
    "oneoff_amount": ((_LN(120), 0.8), (_LN(220), 0.8), (_LN(60), 0.7), (_LN(40), 0.7), (_LN(60), 0.7)),
    "instal_amount": ((_LN(80), 0.8), (_LN(110), 0.8), (_LN(70), 0.7), (_LN(30), 0.7), (_LN(50), 0.7)),
    "purchase_trx": ((_LN(0.3), 0.6), (_LN(3.0), 0.5), (_LN(0.6), 0.5), (_LN(0.3), 0.5), (_LN(0.5), 0.6)),
    "cash_freq": ((-4.5, 1.0), (-5.0, 1.0), (-4.0, 1.0), (-4.5, 1.0), (0.2, 0.7)),
    "cash_amount": ((_LN(350), 0.8), (_LN(150), 0.8), (_LN(150), 0.8), (_LN(100), 0.8), (_LN(550), 0.7)),
    "cash_trx": ((_LN(0.6), 0.5), (_LN(0.3), 0.5), (_LN(0.3), 0.5), (_LN(0.3), 0.5), (_LN(1.2), 0.5)),
    "min_rate": ((_LN(0.25), 0.5), (_LN(0.25), 0.5), (_LN(0.3), 0.5), (_LN(1.0), 0.5), (_LN(0.35), 0.4)),
    "pay_multiple": ((_LN(2.0), 0.5), (_LN(1.1), 0.4), (_LN(1.2), 0.4), (_LN(1.5), 0.6), (_LN(0.6), 0.3)),
    "full_payment": ((-1.2, 1.3), (0.5, 1.0), (-2.0, 1.3), (-1.0, 1.5), (-7.0, 0.5)),
    "no_payment": ((0.0, 1.0),) * 5,  # compared with _NO_PAYMENT thresholds, not transformed
}
_TRAIT_ROW: dict[str, int] = {name: i for i, name in enumerate(_TRAITS)}
_LOC: dict[str, np.ndarray] = {k: np.array([p[0] for p in v]) for k, v in _TRAITS.items()}
_SCALE: dict[str, np.ndarray] = {k: np.array([p[1] for p in v]) for k, v in _TRAITS.items()}

# Share of customers of each behaviour with no payments at all in a month (their MINIMUM_PAYMENTS is
# empty, as in the real file), turned into thresholds on the "no_payment" latent score.
_NO_PAYMENT = np.array([NormalDist().inv_cdf(p) for p in (0.01, 0.005, 0.01, 0.08, 0.03)])
# Whether purchases and cash advances count towards a behaviour's payments (Revolvers pay a share of
# the minimum only).
_PAY_ON_SPEND = np.array([1.0, 1.0, 1.0, 1.0, 0.0])
_EXTRA_MISSING_MINIMUM = 0.008  # rows with payments but no recorded minimum payment
_TENURE_VALUES = np.arange(6, 13)
_TENURE_SHARES = np.array([0.023, 0.021, 0.022, 0.020, 0.026, 0.041, 0.847])

# Monthly drift: from behaviour -> {to behaviour: probability}.
_DRIFT: dict[str, dict[str, float]] = {
    "Frequent Spenders": {"Balanced Users": 0.05, "Dormant Users": 0.02},
    "Balanced Users": {"Revolvers": 0.035, "Frequent Spenders": 0.035},
    "Dormant Users": {"Balanced Users": 0.07},
    "Revolvers": {"High Balance Holders": 0.04, "Dormant Users": 0.03},
    "High Balance Holders": {"Revolvers": 0.07},
}


def _transition_cumulative() -> np.ndarray:
    """Return the cumulative monthly transition matrix (rows: from, columns: to) built from _DRIFT."""
    index = {name: i for i, name in enumerate(BEHAVIOURS)}
    matrix = np.zeros((len(BEHAVIOURS), len(BEHAVIOURS)))
    for source, targets in _DRIFT.items():
        for target, probability in targets.items():
            matrix[index[source], index[target]] = probability
    matrix[np.diag_indices_from(matrix)] = 1.0 - matrix.sum(axis=1)
    return np.cumsum(matrix, axis=1)


_CUMULATIVE_DRIFT = _transition_cumulative()


def _check_count(value: object, name: str) -> int:
    """Return ``value`` as an int >= 1 or raise InputError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InputError(f"{name} must be a whole number >= 1, got {value!r}")
    return int(value)


def _mix_shares(mix: Mapping[str, float] | Sequence[float] | None) -> np.ndarray:
    """Return the behaviour shares as a probability vector in BEHAVIOURS order.

    ``mix`` is None (the default mix), a sequence of five shares, or a mapping behaviour -> share
    (missing behaviours get 0). Shares are normalised to sum to 1.
    """
    if mix is None:
        mix = DEFAULT_MIX
    if isinstance(mix, Mapping):
        unknown = set(mix) - set(BEHAVIOURS)
        if unknown:
            raise InputError(f"unknown behaviour in mix: {sorted(unknown)[0]!r}")
        mix = [mix.get(name, 0.0) for name in BEHAVIOURS]
    try:
        shares = np.asarray(mix, dtype=float)
    except (TypeError, ValueError):
        raise InputError("mix must give non-negative numeric shares") from None
    if shares.shape != (len(BEHAVIOURS),) or not np.all(np.isfinite(shares)) or np.any(shares < 0):
        raise InputError(f"mix must give {len(BEHAVIOURS)} non-negative shares")
    if shares.sum() <= 0:
        raise InputError("mix shares must not all be zero")
    return shares / shares.sum()


def _customer_ids(n: int, id_offset: int) -> np.ndarray:
    """Return ids "C10001", "C10002", ... (shifted by ``id_offset``) as an object array."""
    first = _FIRST_ID + id_offset
    return np.array([f"C{number}" for number in range(first, first + n)], dtype=object)


def _initial_codes(n: int, shares: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return behaviour codes with counts matching ``shares`` (largest remainder), shuffled."""
    exact = shares * n
    counts = np.floor(exact).astype(np.int64)
    remainder_order = np.argsort(-(exact - counts), kind="stable")
    counts[remainder_order[: n - counts.sum()]] += 1
    codes = np.repeat(np.arange(len(BEHAVIOURS), dtype=np.int8), counts)
    return rng.permutation(codes)


def _drift(codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return next month's behaviour codes: each customer moves along _DRIFT with its probabilities."""
    draw = rng.random(codes.size)
    cumulative = _CUMULATIVE_DRIFT[codes]
    moved = (draw[:, None] >= cumulative).sum(axis=1)
    return np.minimum(moved, len(BEHAVIOURS) - 1).astype(np.int8)


def _blur(latent: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return this month's trait scores: persistent scores plus small noise, still standard normal."""
    month = rng.standard_normal(latent.shape, dtype=np.float32)
    month *= np.float32(np.sqrt(1.0 - _RHO**2))
    month += np.float32(_RHO) * latent
    return month


def _score(trait: str, codes: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Return location + scale * z for ``trait``, with each customer's behaviour parameters."""
    return _LOC[trait][codes] + _SCALE[trait][codes] * z[_TRAIT_ROW[trait]]


def _lognormal(trait: str, codes: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Return exp of the trait score (a positive, right-skewed amount or rate)."""
    return np.exp(_score(trait, codes, z))


def _share(trait: str, codes: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Return the logistic of the trait score (a share in (0, 1))."""
    return 1.0 / (1.0 + np.exp(-_score(trait, codes, z)))


def _months_of(share: np.ndarray, out_of: np.ndarray | int = 12) -> np.ndarray:
    """Return the whole number of months (0..out_of) closest to ``share * out_of``."""
    return np.rint(share * out_of).astype(np.int64)


def _frequency(months: np.ndarray) -> np.ndarray:
    """Return months out of 12 as a frequency rounded to 6 decimals like the real file."""
    return np.round(months / 12.0, 6)


def _purchases(codes: np.ndarray, z: np.ndarray) -> dict[str, np.ndarray]:
    """Return the purchase columns: amounts, frequencies and transactions, mutually consistent."""
    active = _months_of(_share("purchase_freq", codes, z))
    oneoff_months = _months_of(_share("oneoff_share", codes, z), active)
    instal_months = _months_of(_share("instal_share", codes, z), active)
    neither = (active > 0) & (oneoff_months == 0) & (instal_months == 0)
    prefer_oneoff = _LOC["oneoff_share"][codes] >= _LOC["instal_share"][codes]
    oneoff_months[neither & prefer_oneoff] = 1
    instal_months[neither & ~prefer_oneoff] = 1
    oneoff = np.maximum(np.round(oneoff_months * _lognormal("oneoff_amount", codes, z), 2), 0.01)
    instal = np.maximum(np.round(instal_months * _lognormal("instal_amount", codes, z), 2), 0.01)
    oneoff[oneoff_months == 0] = 0.0
    instal[instal_months == 0] = 0.0
    extra_trx = np.rint(active * _lognormal("purchase_trx", codes, z)).astype(np.int64)
    return {
        "PURCHASES": np.round(oneoff + instal, 6),
        "ONEOFF_PURCHASES": oneoff,
        "INSTALLMENTS_PURCHASES": instal,
        "PURCHASES_FREQUENCY": _frequency(active),
        "ONEOFF_PURCHASES_FREQUENCY": _frequency(oneoff_months),
        "PURCHASES_INSTALLMENTS_FREQUENCY": _frequency(instal_months),
        "PURCHASES_TRX": active + extra_trx,
    }


def _cash_advances(codes: np.ndarray, z: np.ndarray) -> dict[str, np.ndarray]:
    """Return the cash-advance columns: zero amount exactly when there are no cash months."""
    active = _months_of(_share("cash_freq", codes, z))
    amount = np.round(active * _lognormal("cash_amount", codes, z), 6)
    amount[active == 0] = 0.0
    extra_trx = np.rint(active * _lognormal("cash_trx", codes, z)).astype(np.int64)
    return {
        "CASH_ADVANCE": np.maximum(amount, np.where(active > 0, 0.01, 0.0)),
        "CASH_ADVANCE_FREQUENCY": _frequency(active),
        "CASH_ADVANCE_TRX": active + extra_trx,
    }


def _balances(codes: np.ndarray, z: np.ndarray) -> dict[str, np.ndarray]:
    """Return credit limit (multiples of $50), balance (limit x utilisation) and balance frequency."""
    limit = np.maximum(np.rint(_lognormal("limit", codes, z) / 50.0) * 50.0, 50.0)
    balance = np.round(limit * _share("utilisation", codes, z), 6)
    return {
        "BALANCE": balance,
        "BALANCE_FREQUENCY": _frequency(_months_of(_share("balance_freq", codes, z))),
        "CREDIT_LIMIT": limit,
    }


def _payments(
    codes: np.ndarray, z: np.ndarray, balance: np.ndarray, spend: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Return payments, minimum payments (empty when nothing was paid) and the full-payment share.

    Minimum payments follow the balance; payments cover the minimum plus the month's spending times a
    behaviour multiple (Revolvers pay only part of the minimum).
    """
    minimum = 20.0 + balance * _lognormal("min_rate", codes, z)
    payments = _lognormal("pay_multiple", codes, z) * (minimum + _PAY_ON_SPEND[codes] * spend)
    unpaid = z[_TRAIT_ROW["no_payment"]] < _NO_PAYMENT[codes]
    payments[unpaid] = 0.0
    full_months = _months_of(_share("full_payment", codes, z))
    full_months[unpaid] = 0
    minimum[unpaid | (rng.random(codes.size) < _EXTRA_MISSING_MINIMUM)] = np.nan
    return {
        "PAYMENTS": np.round(payments, 6),
        "MINIMUM_PAYMENTS": np.round(minimum, 6),
        "PRC_FULL_PAYMENT": _frequency(full_months),
    }


def _missing_limit_rows(n: int, rng: np.random.Generator) -> np.ndarray:
    """Return the rows whose credit limit is left empty: one per 5,000 customers, none below 2,000."""
    count = max(1, n // 5000) if n >= 2000 else 0
    return rng.choice(n, size=count, replace=False)


def _month_columns(codes: np.ndarray, z: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Return one month's behaviour columns (all FEATURES but TENURE) from this month's trait scores."""
    columns = _balances(codes, z)
    columns.update(_purchases(codes, z))
    columns.update(_cash_advances(codes, z))
    spend = columns["PURCHASES"] + columns["CASH_ADVANCE"]
    columns.update(_payments(codes, z, columns["BALANCE"], spend, rng))
    columns["CREDIT_LIMIT"][_missing_limit_rows(codes.size, rng)] = np.nan
    return columns


def _frame(ids: np.ndarray, columns: dict[str, np.ndarray], tenure: np.ndarray) -> pd.DataFrame:
    """Return CUST_ID followed by the contract FEATURES in contract order.

    The month's own column arrays are used without copying; ids and tenure, shared by all months, are
    copied so that editing one month's frame never changes another.
    """
    columns["TENURE"] = tenure.copy()
    data = {ID_COLUMN: ids.copy(), **{name: columns.pop(name) for name in FEATURES}}
    return pd.DataFrame(data, copy=False)


def _iter_months(
    n: int, months: int, seed: int, mix: Mapping[str, float] | Sequence[float] | None, id_offset: int
) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """Yield (frame, labels) month by month, so writers hold one month in memory at a time."""
    n = _check_count(n, "customers")
    months = _check_count(months, "months")
    shares = _mix_shares(mix)
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((len(_TRAITS), n), dtype=np.float32)
    tenure = rng.choice(_TENURE_VALUES, size=n, p=_TENURE_SHARES / _TENURE_SHARES.sum())
    codes = _initial_codes(n, shares, rng)
    ids = _customer_ids(n, id_offset)
    names = np.array(BEHAVIOURS, dtype=object)
    for month in range(months):
        if month:
            codes = _drift(codes, rng)
        columns = _month_columns(codes, _blur(latent, rng), rng)
        yield _frame(ids, columns, tenure), names[codes]


def generate_customers(
    n: int,
    seed: int,
    *,
    mix: Mapping[str, float] | Sequence[float] | None = None,
    id_offset: int = 0,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Return ``n`` synthetic customers and the planted behaviour of each.

    The frame has ``CUST_ID`` ("C10001", ... shifted by ``id_offset``) followed by the 17 contract
    FEATURES; the labels are an object array of names from :data:`BEHAVIOURS`. ``mix`` gives the
    behaviour shares (five shares or a mapping name -> share; default :data:`DEFAULT_MIX`). It is the
    first month of :func:`generate_months` with the same seed. Raises InputError for bad arguments.
    """
    return next(_iter_months(n, 1, seed, mix, id_offset))


def generate_months(
    n: int,
    months: int,
    seed: int,
    *,
    mix: Mapping[str, float] | Sequence[float] | None = None,
) -> list[tuple[pd.DataFrame, np.ndarray]]:
    """Return one (frame, labels) per month for the same ``n`` customers.

    Every month holds the same ``CUST_ID`` values in the same order (no churn). From the second month
    on about 7% of customers drift to another behaviour along plausible paths, and all values are
    redrawn with small noise around each customer's persistent traits. Raises InputError for bad
    arguments.
    """
    return list(_iter_months(n, months, seed, mix, 0))



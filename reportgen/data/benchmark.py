"""A hard synthetic benchmark for choosing k, naming and monthly migration.

:mod:`reportgen.data.synth` makes clean demo data (silhouette about 0.5); real card portfolios are
harder, and a rule tuned on clean blobs fails on them. Here every customer has one of five planted
personas (:data:`PERSONAS`), and the data carry what the real ``CC GENERAL.csv`` shows:

- **skew**: amounts and limits are lognormal;
- **zero-inflation**: whether a customer buys, takes cash or ever pays in full is a coin flip per
  persona, so many customers have exact zeros (about a quarter buy nothing, over half take no cash,
  two thirds never pay in full — as in the real file);
- **overlap**: a customer's four behaviour blocks (balance, purchases, cash advances, payments) each
  follow another persona with probability ``borrow`` (0 easy, 5% moderate, 10% realistic);
- **unequal sizes**: from 6% to 44% of customers per persona in the realistic variant.

Calibration against the real file (8,950 customers; 5,000 benchmark customers, seed 1; the
pipeline's log1p + scaling; silhouettes on 3,000 customers):

- real file: no purchase 0.23, no cash advance 0.52, never paid in full 0.66; K-Means
  silhouettes 0.23-0.24;
- easy: 0.23, 0.59, 0.71; planted partition's silhouette 0.34; K-Means 0.25-0.38;
- moderate: 0.22, 0.60, 0.70; planted 0.22; K-Means 0.23-0.32;
- realistic: 0.20, 0.60, 0.70; planted 0.15; K-Means 0.19-0.28.

Customers without one-off purchases (0.28-0.30) and without instalments (0.25-0.29) are fewer than
in the real file (0.48, 0.44). On every variant the silhouette is highest at k = 3 or 4, below the
planted 5, so silhouette-first selection merges personas here as it would on real data.

:func:`generate_benchmark` gives one month; :func:`benchmark_months` gives months in which a known
set of customers changes persona (their numbers are redrawn) while everyone else keeps exactly the
same numbers, so reported migration can be compared with the truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from reportgen.data.contract import FEATURES, ID_COLUMN

PERSONAS: tuple[str, ...] = ("High Balance Holders", "Frequent Spenders", "Balanced Users", "Dormant Users", "Revolvers")
_HB, _FS, _BU, _DU, _RV = range(5)
_LN = np.log

# Per persona (PERSONAS order), per block: (location, scale) of a latent normal, or a probability.
_BALANCE = {  # credit limit (log $), utilisation (logit), balance frequency (logit)
    "limit": ((_LN(9000), 0.45), (_LN(7000), 0.5), (_LN(3000), 0.5), (_LN(2500), 0.6), (_LN(3000), 0.5)),
    "util": ((0.3, 0.7), (-2.0, 0.9), (-1.2, 0.9), (-3.5, 1.2), (1.8, 0.8)),
    "bfreq": ((4.0, 1.0), (2.5, 1.2), (2.0, 1.2), (-0.8, 1.0), (4.0, 1.0)),
}
_PURCHASES = {  # any purchase (p), months (logit), one-off / instalment share of months (logit), $ per month, trx per month
    "p": (0.6, 0.99, 0.95, 0.3, 0.9),
    "freq": ((-1.8, 0.8), (2.5, 1.0), (0.6, 0.9), (-2.5, 0.8), (0.3, 1.0)),
    "one": ((1.0, 1.0), (1.0, 1.2), (-1.5, 1.2), (0.0, 1.2), (0.0, 1.2)),
    "ins": ((-1.0, 1.0), (0.8, 1.2), (2.5, 1.0), (0.0, 1.2), (0.0, 1.2)),
    "amount": ((_LN(150), 0.8), (_LN(250), 0.7), (_LN(80), 0.7), (_LN(60), 0.8), (_LN(80), 0.8)),
    "trx": ((_LN(1.0), 0.4), (_LN(3.5), 0.5), (_LN(1.5), 0.4), (_LN(1.0), 0.3), (_LN(1.2), 0.4)),
}
_CASH = {  # any cash advance (p), months (logit), $ per month, trx per month
    "p": (0.5, 0.2, 0.4, 0.25, 0.92),
    "freq": ((-2.0, 0.8), (-2.5, 0.8), (-2.5, 0.8), (-2.8, 0.8), (-0.3, 0.8)),
    "amount": ((_LN(500), 0.8), (_LN(200), 0.8), (_LN(150), 0.8), (_LN(150), 0.8), (_LN(500), 0.7)),
    "trx": ((_LN(1.5), 0.4), (_LN(1.2), 0.3), (_LN(1.2), 0.3), (_LN(1.2), 0.3), (_LN(2.0), 0.4)),
}
_PAYMENTS = {  # minimum as a rate of the balance (log), payments / minimum (log), any full payment (p), months (logit), no payment (p)
    "min_rate": ((_LN(0.25), 0.4), (_LN(0.30), 0.4), (_LN(0.30), 0.4), (_LN(0.8), 0.5), (_LN(0.25), 0.4)),
    "multiple": ((_LN(2.0), 0.5), (_LN(5.0), 0.6), (_LN(3.0), 0.5), (_LN(2.0), 0.7), (_LN(1.05), 0.25)),
    "p_full": (0.15, 0.5, 0.35, 0.3, 0.03),
    "full": ((-1.5, 1.0), (0.0, 1.2), (-0.8, 1.0), (-0.5, 1.2), (-2.5, 0.8)),
    "none": (0.01, 0.005, 0.01, 0.08, 0.02),
}
_BLOCKS = ("balance", "purchases", "cash", "payments")


@dataclass(frozen=True)
class Variant:
    """How hard a benchmark is: block borrowing, spread of every within-persona scale, persona shares."""

    borrow: float
    spread: float
    mix: tuple[float, ...]


VARIANTS: dict[str, Variant] = {
    "easy": Variant(0.0, 0.7, (0.12, 0.20, 0.30, 0.22, 0.16)),
    "moderate": Variant(0.05, 0.9, (0.08, 0.17, 0.38, 0.22, 0.15)),
    "realistic": Variant(0.10, 1.0, (0.06, 0.16, 0.44, 0.20, 0.14)),
}


@dataclass(frozen=True)
class _State:
    """What fixes a month's numbers: persona per customer and per block, latent draws."""

    codes: np.ndarray
    blocks: dict[str, np.ndarray]
    z: np.ndarray
    u: np.ndarray


def generate_benchmark(n: int, variant: str = "moderate", seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """``n`` customers of a benchmark ``variant`` (see :data:`VARIANTS`) and each one's planted persona."""
    frame, state = _first_month(n, VARIANTS[variant], np.random.default_rng(seed))
    return frame, _names(state.codes)


def benchmark_months(
    n: int, movers: tuple[float, ...], variant: str = "moderate", seed: int = 0,
    towards: tuple[str | None, ...] | None = None,
) -> list[tuple[pd.DataFrame, np.ndarray, np.ndarray]]:
    """One month, then one more per entry of ``movers``: (frame, planted personas, moved mask).

    In month ``m`` a share ``movers[m-1]`` of the customers (chosen at random) changes persona:
    its blocks and latent draws are redrawn for the new persona, so its numbers change; every other
    customer keeps exactly last month's numbers. ``towards[m-1]``, when given and not None, sends
    that month's movers to that persona (a directed shift, e.g. customers starting to revolve;
    customers already there stay) instead of a random other persona."""
    spec, rng = VARIANTS[variant], np.random.default_rng(seed)
    frame, state = _first_month(n, spec, rng)
    months = [(frame, _names(state.codes), np.zeros(n, dtype=bool))]
    for m, share in enumerate(movers):
        target_name = towards[m] if towards else None
        moved = np.zeros(n, dtype=bool)
        moved[rng.choice(n, size=int(round(share * n)), replace=False)] = True
        codes = state.codes.copy()
        if target_name is None:
            codes[moved] = (codes[moved] + rng.integers(1, len(PERSONAS), size=moved.sum())) % len(PERSONAS)
        else:
            target = PERSONAS.index(target_name)
            moved &= codes != target
            codes[moved] = target
        fresh = _draw_state(codes, spec, rng)
        state = _State(
            codes,
            {b: np.where(moved, fresh.blocks[b], state.blocks[b]) for b in _BLOCKS},
            np.where(moved, fresh.z, state.z),
            np.where(moved, fresh.u, state.u),
        )
        months.append((_columns(state, spec), _names(codes), moved))
    return months


def _first_month(n: int, spec: Variant, rng: np.random.Generator) -> tuple[pd.DataFrame, _State]:
    counts = np.floor(np.asarray(spec.mix) * n).astype(int)
    counts[np.argmax(counts)] += n - counts.sum()
    codes = rng.permutation(np.repeat(np.arange(len(PERSONAS)), counts))
    state = _draw_state(codes, spec, rng)
    return _columns(state, spec), state


def _draw_state(codes: np.ndarray, spec: Variant, rng: np.random.Generator) -> _State:
    n = len(codes)
    blocks = {}
    for block in _BLOCKS:
        donor = (codes + rng.integers(1, len(PERSONAS), size=n)) % len(PERSONAS)
        blocks[block] = np.where(rng.random(n) < spec.borrow, donor, codes)
    return _State(codes, blocks, rng.standard_normal((17, n)), rng.random((6, n)))


def _names(codes: np.ndarray) -> np.ndarray:
    return np.array(PERSONAS, dtype=object)[codes]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _latent(table: dict, key: str, codes: np.ndarray, z: np.ndarray, spread: float) -> np.ndarray:
    loc = np.array([p[0] for p in table[key]])[codes]
    scale = np.array([p[1] for p in table[key]])[codes] * spread
    return loc + scale * z


def _months(active: np.ndarray, share: np.ndarray) -> np.ndarray:
    """Whole months out of 12 (at least one for an active customer)."""
    return np.where(active, np.maximum(1, np.rint(12 * share)), 0).astype(np.int64)


def _columns(state: _State, spec: Variant) -> pd.DataFrame:
    z, u, s = state.z, state.u, spec.spread
    out: dict[str, np.ndarray] = {}
    c = state.blocks["balance"]
    limit = np.maximum(np.rint(np.exp(_latent(_BALANCE, "limit", c, z[0], s)) / 50) * 50, 300.0)
    out["CREDIT_LIMIT"] = limit
    out["BALANCE"] = np.round(limit * _sigmoid(_latent(_BALANCE, "util", c, z[1], s)), 2)
    out["BALANCE_FREQUENCY"] = np.round(np.rint(12 * _sigmoid(_latent(_BALANCE, "bfreq", c, z[2], s))) / 12, 6)

    c = state.blocks["purchases"]
    months = _months(u[0] < np.asarray(_PURCHASES["p"])[c], _sigmoid(_latent(_PURCHASES, "freq", c, z[3], s)))
    one_m = np.rint(months * _sigmoid(_latent(_PURCHASES, "one", c, z[4], s))).astype(np.int64)
    ins_m = np.rint(months * _sigmoid(_latent(_PURCHASES, "ins", c, z[5], s))).astype(np.int64)
    neither = (months > 0) & (one_m == 0) & (ins_m == 0)  # an active month is one kind or the other
    one_m[neither & (z[6] > 0)] = 1
    ins_m[neither & (z[6] <= 0)] = 1
    ticket = np.exp(_latent(_PURCHASES, "amount", c, z[7], s))
    one = np.round(one_m * ticket * np.exp(0.4 * z[8]), 2)
    ins = np.round(ins_m * ticket * np.exp(0.4 * z[9]), 2)
    trx = np.rint(months * np.exp(_latent(_PURCHASES, "trx", c, z[10], s))).astype(np.int64)
    out.update(
        PURCHASES=np.round(one + ins, 2), ONEOFF_PURCHASES=one, INSTALLMENTS_PURCHASES=ins,
        PURCHASES_FREQUENCY=np.round(months / 12, 6), ONEOFF_PURCHASES_FREQUENCY=np.round(one_m / 12, 6),
        PURCHASES_INSTALLMENTS_FREQUENCY=np.round(ins_m / 12, 6),
        PURCHASES_TRX=np.where(months > 0, np.maximum(trx, months), 0),
    )

    c = state.blocks["cash"]
    cash_m = _months(u[1] < np.asarray(_CASH["p"])[c], _sigmoid(_latent(_CASH, "freq", c, z[11], s)))
    cash_trx = np.rint(cash_m * np.exp(_latent(_CASH, "trx", c, z[13], s))).astype(np.int64)
    out.update(
        CASH_ADVANCE=np.round(cash_m * np.exp(_latent(_CASH, "amount", c, z[12], s)), 2),
        CASH_ADVANCE_FREQUENCY=np.round(cash_m / 12, 6),
        CASH_ADVANCE_TRX=np.where(cash_m > 0, np.maximum(cash_trx, cash_m), 0),
    )

    c = state.blocks["payments"]
    minimum = 20 + out["BALANCE"] * np.exp(_latent(_PAYMENTS, "min_rate", c, z[14], s))
    multiple = np.exp(_latent(_PAYMENTS, "multiple", c, z[15], s))
    spend = out["PURCHASES"] + out["CASH_ADVANCE"]
    payments = multiple * minimum + np.where(multiple > 1.5, 0.4, 0.05) * spend  # revolvers pay little of new spend
    unpaid = u[2] < np.asarray(_PAYMENTS["none"])[c]
    payments[unpaid] = 0.0
    full = (u[3] < np.asarray(_PAYMENTS["p_full"])[c]) & ~unpaid
    full_m = _months(full, _sigmoid(_latent(_PAYMENTS, "full", c, z[16], s)))
    minimum = np.round(minimum, 2)
    minimum[unpaid | (u[4] < 0.01)] = np.nan  # as in the real file: empty where nothing was paid, and a few more
    out.update(PAYMENTS=np.round(payments, 2), MINIMUM_PAYMENTS=minimum, PRC_FULL_PAYMENT=np.round(full_m / 12, 6))
    out["TENURE"] = np.where(u[5] < 0.85, 12, 6 + np.floor(u[5] * 40).astype(np.int64) % 6)
    n = len(state.codes)
    ids = np.array([f"C{10001 + i}" for i in range(n)], dtype=object)
    return pd.DataFrame({ID_COLUMN: ids, **{name: out[name] for name in FEATURES}})

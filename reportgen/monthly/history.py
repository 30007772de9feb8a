"""The history store: every monthly build recorded in an embedded DuckDB database.

Tables (one row set per month; rebuilding a month replaces that month's rows in one
transaction):

- ``runs``: month, built_at, input file name and sha256, mode (fit / refit / score), the month
  the model was fitted, model version (sha256 of ``model.json``), k, silhouette, stability,
  customers, versions, the model file itself (JSON), the reference distribution of the key
  features in the model's fit month (JSON, for population-shift measures) and the month's filter
  cube with segment names (JSON, for the dashboard's month filter);
- ``assignments``: month, customer id, segment id, segment name, and the customer's balance,
  purchases and cash advance that month (FLOAT, 4 bytes: next month values the customers who
  moved with what they had, e.g. the spend of Frequent Spenders who went dormant; NULL in
  months recorded before these columns existed);
- ``segment_kpis``: month, segment id, name, persona key, colour, and the segment's KPIs;
- ``campaign_members``: month, segment name, action key and text, KPI, customer id and whether
  the customer was held out as control (the month's per-action target lists).

The send ledger of :mod:`reportgen.monthly.ledger` lives in the same file. Connections are short-lived
so another process can use the database between runs.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from reportgen.errors import HistoryError

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    month VARCHAR PRIMARY KEY, built_at VARCHAR, input_name VARCHAR, input_sha256 VARCHAR,
    mode VARCHAR, model_month VARCHAR, model_version VARCHAR, k INTEGER, silhouette DOUBLE,
    stability DOUBLE, customers BIGINT, versions VARCHAR, model_json VARCHAR, reference_json VARCHAR,
    cube_json VARCHAR
);
CREATE TABLE IF NOT EXISTS assignments (month VARCHAR, cust_id VARCHAR, segment INTEGER, name VARCHAR);
ALTER TABLE assignments ADD COLUMN IF NOT EXISTS balance FLOAT;
ALTER TABLE assignments ADD COLUMN IF NOT EXISTS purchases FLOAT;
ALTER TABLE assignments ADD COLUMN IF NOT EXISTS cash_advance FLOAT;
CREATE TABLE IF NOT EXISTS segment_kpis (
    month VARCHAR, segment INTEGER, name VARCHAR, persona_key VARCHAR, color VARCHAR, customers BIGINT,
    share DOUBLE, balance DOUBLE, purchases DOUBLE, payments DOUBLE, utilisation DOUBLE,
    avg_balance DOUBLE, avg_purchases DOUBLE, full_payment DOUBLE
);
CREATE TABLE IF NOT EXISTS campaign_members (
    month VARCHAR, segment VARCHAR, action VARCHAR, text VARCHAR, kpi VARCHAR, cust_id VARCHAR, control BOOLEAN
);
"""


@dataclass(frozen=True)
class PastRun:
    """What the store knows of an earlier month."""

    month: str
    mode: str
    model_month: str
    model_json: str
    reference: dict


def load_history_engine() -> None:
    """Import DuckDB now (a build does it while its renderers work, not after them)."""
    import duckdb  # noqa: F401


@contextmanager
def connect(path: Path, *, read_only: bool = False):
    """A short-lived DuckDB connection with the schema in place."""
    import duckdb

    path = Path(path)
    if read_only and not path.exists():
        raise HistoryError(f"{path}: no history database yet; run `reportgen build` first")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(path), read_only=read_only)
    except (duckdb.Error, OSError) as exc:
        raise HistoryError(f"{path}: cannot open the history database ({exc})") from None
    try:
        if not read_only:
            con.execute(SCHEMA)
        yield con
    except duckdb.Error as exc:
        raise HistoryError(f"{path}: history database error ({exc})") from None
    finally:
        con.close()


def record_run(path: Path, *, run: dict, assignments, segments: pd.DataFrame,
               campaigns=None) -> None:
    """Replace ``run['month']``'s records with these, atomically."""
    with recording(path, run=run, assignments=assignments, segments=segments, campaigns=campaigns) as commit:
        commit()


@contextmanager
def recording(path: Path, *, run: dict, assignments, segments: pd.DataFrame,
              campaigns=None):
    """Write ``run['month']``'s records (replacing that month's) in a transaction and yield the
    function that commits it; leaving the block without calling it rolls everything back.

    A build writes the records, moves its files into place and then commits, so a database that
    is locked, corrupt or on a full disk fails the build before any file reaches its final name.
    ``assignments`` (month, cust_id, segment, name and, when given, :data:`AMOUNT_COLUMNS`) and
    ``campaigns`` (the campaign members) are DataFrames or Arrow tables (DuckDB scans either)."""
    month = run["month"]
    with connect(path) as con:
        # rows of a month are never read back in insertion order (every query orders or groups),
        # so DuckDB may insert millions of assignments in parallel, without keeping their order
        con.execute("SET preserve_insertion_order = false")
        con.execute("BEGIN TRANSACTION")
        for table in ("runs", "assignments", "segment_kpis", "campaign_members"):
            con.execute(f"DELETE FROM {table} WHERE month = ?", [month])
        columns = list(run)
        con.execute(
            f"INSERT INTO runs ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            [run[c] for c in columns],
        )
        con.register("new_assignments", assignments)
        given = set(assignments.column_names if hasattr(assignments, "column_names") else assignments.columns)
        amounts = ", ".join(c if c in given else f"NULL AS {c}" for c in AMOUNT_COLUMNS)
        con.execute(f"INSERT INTO assignments (month, cust_id, segment, name, {', '.join(AMOUNT_COLUMNS)}) "
                    f"SELECT month, cust_id, segment, name, {amounts} FROM new_assignments")
        con.register("new_segments", segments)
        con.execute(f"INSERT INTO segment_kpis SELECT {', '.join(SEGMENT_COLUMNS)} FROM new_segments")
        if campaigns is not None and len(campaigns):
            con.register("new_campaigns", campaigns)
            con.execute("INSERT INTO campaign_members SELECT month, segment, action, text, kpi, cust_id, control "
                        "FROM new_campaigns")
        yield lambda: con.execute("COMMIT")


#: The amounts stored with every customer's assignment (as FLOAT) and summed over the movers.
AMOUNT_COLUMNS = ("balance", "purchases", "cash_advance")

SEGMENT_COLUMNS = (
    "month", "segment", "name", "persona_key", "color", "customers", "share", "balance", "purchases",
    "payments", "utilisation", "avg_balance", "avg_purchases", "full_payment",
)


def previous_run(path: Path, month: str) -> PastRun | None:
    """The latest recorded month before ``month``, or ``None``."""
    if not Path(path).exists():
        return None
    with connect(path) as con:
        row = con.execute(
            "SELECT month, mode, model_month, model_json, reference_json FROM runs WHERE month < ? "
            "ORDER BY month DESC LIMIT 1",
            [month],
        ).fetchone()
    if row is None:
        return None
    return PastRun(row[0], row[1], row[2], row[3], json.loads(row[4] or "{}"))


def load_trend(path: Path, month: str, months: int) -> pd.DataFrame:
    """Segment KPIs of the last ``months`` recorded months up to and including ``month``."""
    with connect(path) as con:
        return con.execute(
            "SELECT * FROM segment_kpis WHERE month IN (SELECT month FROM runs WHERE month <= ? "
            "ORDER BY month DESC LIMIT ?) ORDER BY month, segment",
            [month, months],
        ).df()


def load_migration(path: Path, month_from: str, current) -> pd.DataFrame:
    """Customers per (segment name in ``month_from``, segment name now) for customers in both,
    with the sums of their current amounts (:data:`AMOUNT_COLUMNS` that ``current`` has) and of
    their amounts in ``month_from`` (``balance_before``, ``purchases_before``,
    ``cash_advance_before``; NaN when that month was recorded without them).

    ``current`` has columns ``cust_id`` and ``name`` (this month's assignments, not yet stored; a
    DataFrame or an Arrow table)."""
    names = current.column_names if hasattr(current, "column_names") else list(current.columns)
    sums = "".join(f", sum(b.{c}) AS {c}" for c in AMOUNT_COLUMNS if c in names)
    # float32 amounts summed in double precision: a segment's total keeps its cents
    sums += "".join(f", sum(CAST(a.{c} AS DOUBLE)) AS {c}_before" for c in AMOUNT_COLUMNS)
    with connect(path) as con:
        con.register("current_assignments", current)
        return con.execute(
            f"SELECT a.name AS name_from, b.name AS name_to, count(*) AS customers{sums} "
            "FROM assignments a JOIN current_assignments b ON a.cust_id = b.cust_id "
            "WHERE a.month = ? GROUP BY 1, 2 ORDER BY 1, 2",
            [month_from],
        ).df()


def load_campaigns(path: Path, month: str) -> pd.DataFrame:
    """The per-action target-list members recorded for ``month`` (empty when none)."""
    with connect(path) as con:
        return con.execute(
            "SELECT month, segment, action, text, kpi, cust_id, control FROM campaign_members WHERE month = ?",
            [month],
        ).df()


def load_cubes(path: Path, months: list[str]) -> dict[str, dict]:
    """The stored filter cubes of ``months`` (month -> {"names": [...], "rows": [...]})."""
    if not months:
        return {}
    with connect(path) as con:
        rows = con.execute(
            f"SELECT month, cube_json FROM runs WHERE month IN ({', '.join('?' * len(months))})", months
        ).fetchall()
    return {month: json.loads(text) for month, text in rows if text}


def recorded_months(path: Path) -> list[str]:
    """Every recorded month, oldest first."""
    if not Path(path).exists():
        return []
    with connect(path) as con:
        return [r[0] for r in con.execute("SELECT month FROM runs ORDER BY month").fetchall()]


def assignments_table(ids, labels, names: list[str], month: str | None = None, amounts: dict | None = None):
    """Every customer's id, segment (``labels`` + 1) and segment name (``names[label]``) as an
    Arrow table, with the month first when given and the ``amounts`` (column name -> array) last;
    built without a Python object per customer: names and the month are dictionary columns over
    the labels, which DuckDB reads as text."""
    import pyarrow as pa

    labels = np.asarray(labels, dtype=np.int32)
    columns = {
        "cust_id": pa.array(ids.astype(str)),
        "segment": pa.array(labels + 1),
        "name": pa.DictionaryArray.from_arrays(pa.array(labels), pa.array(list(names))),
    }
    if month is not None:
        zeros = pa.array(np.zeros(len(labels), dtype=np.int8))
        columns = {"month": pa.DictionaryArray.from_arrays(zeros, pa.array([month])), **columns}
    columns.update({name: pa.array(values) for name, values in (amounts or {}).items()})
    return pa.table(columns)

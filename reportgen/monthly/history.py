"""The history store: every monthly build recorded in an embedded DuckDB database.

Tables (one row set per month; rebuilding a month replaces that month's rows in all of them in one
transaction):

- ``runs``: month, built_at, input file name and sha256, mode (fit / refit / score), the month
  the model was fitted, model version (sha256 of ``model.json``), k, silhouette, stability,
  customers, versions, the model file itself (JSON), the reference distribution of the key
  features in the model's fit month (JSON, for population-shift measures) and the month's filter
  cube with segment names (JSON, for the dashboard's month filter);
- ``assignments``: month, customer id, segment id, segment name, the customer's balance,
  purchases and cash advance that month (FLOAT, 4 bytes: next month values the customers who
  moved with what they had, e.g. the spend of Frequent Spenders who went dormant; NULL in
  months recorded before these columns existed) and ``extract_row``, the customer's 0-based row
  in the month's extract (NULL in months recorded before it existed). In databases created by
  DuckDB 2 or later the ids are compressed with zstd: DuckDB writes ten million of them in a
  third of the CPU time of its default for unique texts (0.9 against 2.7 CPU-seconds here),
  and they take 64 MB instead of 43;
- ``segment_kpis``: month, segment id, name, persona key, colour, and the segment's KPIs;
- ``campaign_actions``: one row per action of the month's per-action target lists: an
  ``action_id`` unique in the database, month, segment name, action key and text, KPI;
- ``campaign_rows``: the lists' members, one row per customer and action: ``action_id``, the
  customer's ``extract_row`` (its row in that month's ``assignments``) and whether the customer
  was held out as control. :func:`load_campaigns` joins the three back into one table with the
  customer ids. A member costs 9 bytes before compression instead of its id and five texts.

Databases written before ``campaign_actions`` existed keep their months' members in
``campaign_members`` (month, segment name, action key and text, KPI, customer id, control);
:func:`load_campaigns` reads those months from it, new months go to the new tables, and rebuilding
such a month removes its old rows. New databases have no ``campaign_members`` table.

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
CREATE TABLE IF NOT EXISTS assignments (
    month VARCHAR, cust_id VARCHAR{id_storage}, segment INTEGER, name VARCHAR
);
ALTER TABLE assignments ADD COLUMN IF NOT EXISTS balance FLOAT;
ALTER TABLE assignments ADD COLUMN IF NOT EXISTS purchases FLOAT;
ALTER TABLE assignments ADD COLUMN IF NOT EXISTS cash_advance FLOAT;
ALTER TABLE assignments ADD COLUMN IF NOT EXISTS extract_row INTEGER;
CREATE TABLE IF NOT EXISTS segment_kpis (
    month VARCHAR, segment INTEGER, name VARCHAR, persona_key VARCHAR, color VARCHAR, customers BIGINT,
    share DOUBLE, balance DOUBLE, purchases DOUBLE, payments DOUBLE, utilisation DOUBLE,
    avg_balance DOUBLE, avg_purchases DOUBLE, full_payment DOUBLE
);
CREATE TABLE IF NOT EXISTS campaign_actions (
    action_id INTEGER, month VARCHAR, segment VARCHAR, action VARCHAR, text VARCHAR, kpi VARCHAR
);
CREATE TABLE IF NOT EXISTS campaign_rows (action_id INTEGER, extract_row INTEGER, control BOOLEAN);
"""

#: The table of the campaign members of months recorded before ``campaign_actions`` existed.
LEGACY_MEMBERS = "campaign_members"

#: What :func:`load_campaigns` returns: one row per customer and action.
MEMBER_COLUMNS = ("month", "segment", "action", "text", "kpi", "cust_id", "control")

#: The per-action columns of :attr:`CampaignRecord.actions`.
ACTION_COLUMNS = ("segment", "action", "text", "kpi")


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
            con.execute(SCHEMA.replace("{id_storage}", _id_storage(duckdb.__version__)))
        yield con
    except duckdb.Error as exc:
        raise HistoryError(f"{path}: history database error ({exc})") from None
    finally:
        con.close()


def _id_storage(version: str) -> str:
    """How a new database stores the customer ids: zstd where DuckDB writes new files in its 2.0
    format (DuckDB 2 and later), else DuckDB's default (older formats store zstd's column
    uncompressed, three times the size of their default)."""
    return " USING COMPRESSION zstd" if int(version.split(".")[0]) >= 2 else ""


def discard_unused(path: Path) -> None:
    """Remove the database at ``path`` (and its write-ahead log) if it holds no run: what a build
    that created it and then failed leaves (the schema only), so a failed first build leaves the
    output folder as it found it. A database that holds a run, or that another process has open,
    is left alone."""
    import duckdb

    try:
        with duckdb.connect(str(path), read_only=True) as con:
            if con.execute("SELECT count(*) FROM runs").fetchone()[0]:
                return
    except (duckdb.Error, OSError):
        return
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)


def record_run(path: Path, *, run: dict, assignments, segments: pd.DataFrame,
               campaigns=None) -> None:
    """Replace ``run['month']``'s records with these, atomically."""
    with recording(path, run=run, assignments=assignments, segments=segments, campaigns=campaigns) as commit:
        commit()


@contextmanager
def recording(path: Path, *, run: dict, assignments, segments: pd.DataFrame,
              campaigns: CampaignRecord | None = None):
    """Write ``run['month']``'s records (replacing that month's) in a transaction and yield the
    function that commits it; leaving the block without calling it rolls everything back.

    A build writes the records, moves its files into place and then commits, so a database that
    is locked, corrupt or on a full disk fails the build before any file reaches its final name.
    ``assignments`` (month, cust_id, segment, name and, when given, :data:`AMOUNT_COLUMNS`; one
    row per customer in extract order, numbered here as ``extract_row``) is a DataFrame or an
    Arrow table (DuckDB scans either); ``campaigns`` the month's per-action target lists."""
    month = run["month"]
    with connect(path) as con:
        # rows of a month are never read back in insertion order (every query orders or groups),
        # so DuckDB may insert millions of assignments in parallel, without keeping their order
        con.execute("SET preserve_insertion_order = false")
        con.execute("BEGIN TRANSACTION")
        _delete_month(con, month)
        columns = list(run)
        con.execute(
            f"INSERT INTO runs ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            [run[c] for c in columns],
        )
        con.register("new_assignments", _numbered(assignments))
        given = set(assignments.column_names if hasattr(assignments, "column_names") else assignments.columns)
        amounts = ", ".join(c if c in given else f"NULL AS {c}" for c in AMOUNT_COLUMNS)
        con.execute(f"INSERT INTO assignments (month, cust_id, segment, name, {', '.join(AMOUNT_COLUMNS)}, extract_row) "
                    f"SELECT month, cust_id, segment, name, {amounts}, extract_row FROM new_assignments")
        con.register("new_segments", segments)
        con.execute(f"INSERT INTO segment_kpis SELECT {', '.join(SEGMENT_COLUMNS)} FROM new_segments")
        if campaigns is not None and len(campaigns):
            _insert_campaigns(con, month, campaigns)
        yield lambda: con.execute("COMMIT")


@dataclass(frozen=True)
class CampaignRecord:
    """A month's per-action target lists as the history records them: ``actions``, one row per
    action (:data:`ACTION_COLUMNS`: segment name, action key, text, KPI) whose position is its
    members' ``action_id``, and ``members``, an Arrow table of ``action_id`` (int16),
    ``extract_row`` (int32: the customer's row in the month's extract, as in the assignments)
    and ``control`` (bool: held out)."""

    actions: pd.DataFrame
    members: object  # pyarrow.Table

    def __len__(self) -> int:
        return self.members.num_rows

    @classmethod
    def of(cls, actions, eligible, control) -> CampaignRecord:
        """The record of ``actions`` ((segment, action key, text, KPI) each), with each one's
        ``eligible`` positions in the extract and their ``control`` flags."""
        import pyarrow as pa

        actions = pd.DataFrame(list(actions), columns=list(ACTION_COLUMNS))
        if len(actions) > np.iinfo(np.int16).max:
            raise ValueError(f"{len(actions)} actions in one month; at most {np.iinfo(np.int16).max} are recorded")
        sizes = [len(rows) for rows in eligible]
        members = pa.table({
            "action_id": np.repeat(np.arange(len(sizes), dtype=np.int16), sizes),
            "extract_row": np.concatenate([np.asarray(rows, dtype=np.int32) for rows in eligible] or [np.zeros(0, np.int32)]),
            "control": np.concatenate([np.asarray(flags, dtype=bool) for flags in control] or [np.zeros(0, bool)]),
        })
        return cls(actions, members)


def _numbered(assignments):
    """``assignments`` with ``extract_row`` (0, 1, ...) when they have none."""
    if hasattr(assignments, "column_names"):
        if "extract_row" in assignments.column_names:
            return assignments
        return assignments.append_column("extract_row", _arange(assignments.num_rows))
    if "extract_row" in assignments.columns:
        return assignments
    return assignments.assign(extract_row=np.arange(len(assignments), dtype=np.int32))


def _arange(n: int):
    import pyarrow as pa

    return pa.array(np.arange(n, dtype=np.int32))


def _delete_month(con, month: str) -> None:
    """Remove ``month``'s rows from every table (the members first: they are found by their actions)."""
    con.execute("DELETE FROM campaign_rows WHERE action_id IN (SELECT action_id FROM campaign_actions WHERE month = ?)",
                [month])
    for table in ("runs", "assignments", "segment_kpis", "campaign_actions", *_legacy_tables(con)):
        con.execute(f"DELETE FROM {table} WHERE month = ?", [month])


def _insert_campaigns(con, month: str, campaigns: CampaignRecord) -> None:
    """Store the month's actions under new database-wide ids, and their members as references."""
    [(first,)] = con.execute("SELECT coalesce(max(action_id) + 1, 0) FROM campaign_actions").fetchall()
    con.register("new_actions", campaigns.actions.assign(action_id=np.arange(len(campaigns.actions))))
    con.execute("INSERT INTO campaign_actions SELECT action_id + $first, $month, segment, action, text, kpi "
                "FROM new_actions", {"first": first, "month": month})
    con.register("new_members", campaigns.members)
    con.execute("INSERT INTO campaign_rows SELECT action_id + $first, extract_row, control FROM new_members",
                {"first": first})


def _legacy_tables(con) -> tuple[str, ...]:
    """``(LEGACY_MEMBERS,)`` in a database written before ``campaign_actions`` existed, else ``()``."""
    [(found,)] = con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                             "AND schema_name = 'main' AND table_name = ?", [LEGACY_MEMBERS]).fetchall()
    return (LEGACY_MEMBERS,) if found else ()


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
    """The per-action target-list members recorded for ``month`` (:data:`MEMBER_COLUMNS`; empty
    when none), one row per customer and action, in no particular order.

    Read through Arrow: for ten million customers' 20M members, DuckDB's own DataFrame took about
    30 CPU-seconds, Arrow and ``to_pandas`` 6-9 (the same frame; most of it is writing 2.8 GB of
    repeated texts and ids). Putting the frame together in Arrow instead of joining in DuckDB
    took as long."""
    query = ("SELECT a.month, a.segment, a.action, a.text, a.kpi, s.cust_id, r.control "
             "FROM campaign_actions a JOIN campaign_rows r ON r.action_id = a.action_id "
             "JOIN assignments s ON s.extract_row = r.extract_row AND s.month = a.month "
             "WHERE a.month = $month AND s.month = $month")
    with connect(path) as con:
        for table in _legacy_tables(con):
            query += f" UNION ALL SELECT {', '.join(MEMBER_COLUMNS)} FROM {table} WHERE month = $month"
        return con.sql(query, params={"month": month}).to_arrow_table().to_pandas()


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

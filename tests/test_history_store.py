"""The history's storage of the campaign members: compact rows, old databases, rebuilds."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from reportgen.monthly.history import (
    MEMBER_COLUMNS,
    SEGMENT_COLUMNS,
    CampaignRecord,
    assignments_table,
    connect,
    load_campaigns,
    load_migration,
    record_run,
    recorded_months,
    recording,
)

NAMES = ["Dormant Users", "Revolvers", "Frequent Spenders"]

#: The schema of the tables as written before ``campaign_actions`` existed (without the ledger).
OLD_SCHEMA = """
CREATE TABLE runs (
    month VARCHAR PRIMARY KEY, built_at VARCHAR, input_name VARCHAR, input_sha256 VARCHAR,
    mode VARCHAR, model_month VARCHAR, model_version VARCHAR, k INTEGER, silhouette DOUBLE,
    stability DOUBLE, customers BIGINT, versions VARCHAR, model_json VARCHAR, reference_json VARCHAR,
    cube_json VARCHAR
);
CREATE TABLE assignments (month VARCHAR, cust_id VARCHAR, segment INTEGER, name VARCHAR);
ALTER TABLE assignments ADD COLUMN IF NOT EXISTS balance FLOAT;
ALTER TABLE assignments ADD COLUMN IF NOT EXISTS purchases FLOAT;
ALTER TABLE assignments ADD COLUMN IF NOT EXISTS cash_advance FLOAT;
CREATE TABLE segment_kpis (
    month VARCHAR, segment INTEGER, name VARCHAR, persona_key VARCHAR, color VARCHAR, customers BIGINT,
    share DOUBLE, balance DOUBLE, purchases DOUBLE, payments DOUBLE, utilisation DOUBLE,
    avg_balance DOUBLE, avg_purchases DOUBLE, full_payment DOUBLE
);
CREATE TABLE campaign_members (
    month VARCHAR, segment VARCHAR, action VARCHAR, text VARCHAR, kpi VARCHAR, cust_id VARCHAR, control BOOLEAN
);
"""

#: How load_campaigns read the members before ``campaign_actions`` existed.
OLD_LOAD = "SELECT month, segment, action, text, kpi, cust_id, control FROM campaign_members WHERE month = ?"


def month_data(month: str, n: int, seed: int):
    """(assignments table, campaign record, the members as rows of MEMBER_COLUMNS) of a toy month."""
    rng = np.random.default_rng(seed)
    ids = pd.Series([f"C{10001 + i}" for i in rng.permutation(n + 20)[:n]])
    labels = rng.integers(0, len(NAMES), n)
    amounts = {c: rng.random(n).astype(np.float32) for c in ("balance", "purchases", "cash_advance")}
    actions = [(NAMES[0], "win-back", "Win back with a targeted offer", "any-purchase"),
               (NAMES[1], "cash-to-instalment", "Move cash advances to an instalment plan", "no-cash-advance"),
               (NAMES[1], "limit-review", "Review limits", "no-cash-advance")]
    eligible = [np.flatnonzero(labels == 0), np.flatnonzero(labels == 1), np.flatnonzero(labels == 1)[::2]]
    control = [rng.random(len(rows)) < 0.2 for rows in eligible]
    members = [
        (month, segment, key, text, kpi, ids[row], bool(flag))
        for (segment, key, text, kpi), rows, flags in zip(actions, eligible, control)
        for row, flag in zip(rows, flags)
    ]
    table = assignments_table(ids, labels, NAMES, month, amounts)
    return table, CampaignRecord.of(actions, eligible, control), members


def segments_of(month: str) -> pd.DataFrame:
    frame = pd.DataFrame([{"month": month, "segment": i + 1, "name": name} for i, name in enumerate(NAMES)])
    return frame.reindex(columns=list(SEGMENT_COLUMNS))


def record(db, month: str, assignments, campaigns) -> None:
    record_run(db, run={"month": month, "mode": "fit"}, assignments=assignments, segments=segments_of(month),
               campaigns=campaigns)


def ordered(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["action", "cust_id"]).reset_index(drop=True)


def old_database(path, month: str, assignments, members) -> None:
    """A database written by the old schema, holding ``month``."""
    with duckdb.connect(str(path)) as con:
        con.execute(OLD_SCHEMA)
        con.execute("INSERT INTO runs (month, mode) VALUES (?, 'fit')", [month])
        old = assignments.drop_columns(["extract_row"]) if "extract_row" in assignments.column_names else assignments
        con.register("new_assignments", old)
        con.execute("INSERT INTO assignments SELECT month, cust_id, segment, name, balance, purchases, cash_advance "
                    "FROM new_assignments")
        con.register("old_members", pd.DataFrame(members, columns=list(MEMBER_COLUMNS)))
        con.execute("INSERT INTO campaign_members SELECT * FROM old_members")


def test_load_campaigns_returns_the_recorded_members_as_the_old_schema_did(tmp_path):
    """The members come back with their ids and texts, and as the same DataFrame (columns, dtypes,
    values) that reading the old table gave."""
    table, campaigns, members = month_data("2026-03", 400, seed=1)
    record(tmp_path / "new.duckdb", "2026-03", table, campaigns)
    loaded = load_campaigns(tmp_path / "new.duckdb", "2026-03")
    assert tuple(loaded.columns) == MEMBER_COLUMNS and len(loaded) == len(members) == len(campaigns)
    old_database(tmp_path / "old.duckdb", "2026-03", table, members)
    with duckdb.connect(str(tmp_path / "old.duckdb")) as con:
        before = con.execute(OLD_LOAD, ["2026-03"]).df()
    pd.testing.assert_frame_equal(ordered(loaded), ordered(before))
    assert sorted(map(tuple, loaded.itertuples(index=False))) == sorted(members)
    assert load_campaigns(tmp_path / "new.duckdb", "2026-02").empty


def test_members_are_stored_as_rows_not_ids(tmp_path):
    table, campaigns, members = month_data("2026-03", 300, seed=2)
    db = tmp_path / "history.duckdb"
    record(db, "2026-03", table, campaigns)
    with connect(db) as con:
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                                 "WHERE table_name = 'campaign_rows'").fetchall())
        actions = con.execute("SELECT action_id, month, action FROM campaign_actions ORDER BY 1").fetchall()
        rows = con.execute("SELECT count(*) FROM campaign_rows").fetchone()[0]
        numbered = con.execute("SELECT min(extract_row), max(extract_row), count(DISTINCT extract_row) "
                               "FROM assignments").fetchone()
    assert "campaign_members" not in tables  # a new database has no table for the old layout
    assert types == {"action_id": "INTEGER", "extract_row": "INTEGER", "control": "BOOLEAN"}
    assert actions == [(0, "2026-03", "win-back"), (1, "2026-03", "cash-to-instalment"), (2, "2026-03", "limit-review")]
    assert rows == len(members) and numbered == (0, 299, 300)


def test_rebuilding_a_month_replaces_its_members_only(tmp_path):
    db = tmp_path / "history.duckdb"
    first, first_campaigns, _ = month_data("2026-03", 300, seed=3)
    second, second_campaigns, second_members = month_data("2026-04", 250, seed=4)
    again, again_campaigns, again_members = month_data("2026-03", 200, seed=5)
    record(db, "2026-03", first, first_campaigns)
    record(db, "2026-04", second, second_campaigns)
    record(db, "2026-03", again, again_campaigns)
    assert sorted(map(tuple, load_campaigns(db, "2026-03").itertuples(index=False))) == sorted(again_members)
    assert sorted(map(tuple, load_campaigns(db, "2026-04").itertuples(index=False))) == sorted(second_members)
    with connect(db) as con:
        assert con.execute("SELECT count(*) FROM campaign_rows").fetchone()[0] == len(again_members) + len(second_members)
        assert con.execute("SELECT count(*) FROM campaign_actions").fetchone()[0] == 6
        assert con.execute("SELECT count(*) FROM assignments WHERE month = '2026-03'").fetchone()[0] == 200
    # a month rebuilt without members keeps none
    record(db, "2026-03", again, CampaignRecord.of([], [], []))
    assert load_campaigns(db, "2026-03").empty and len(load_campaigns(db, "2026-04")) == len(second_members)


def test_a_recording_left_without_commit_keeps_the_months_members(tmp_path):
    db = tmp_path / "history.duckdb"
    table, campaigns, members = month_data("2026-03", 300, seed=6)
    record(db, "2026-03", table, campaigns)
    other, other_campaigns, _ = month_data("2026-03", 100, seed=7)
    with pytest.raises(RuntimeError):
        with recording(db, run={"month": "2026-03"}, assignments=other, segments=segments_of("2026-03"),
                       campaigns=other_campaigns):
            raise RuntimeError("the files could not be moved into place")
    assert sorted(map(tuple, load_campaigns(db, "2026-03").itertuples(index=False))) == sorted(members)


def test_an_old_database_keeps_its_months_and_records_new_ones(tmp_path):
    """A history written by the old schema (members with their ids and texts, assignments without
    rows): its month still loads, a new month is recorded into it in the new tables, migration
    joins the two, and rebuilding the old month moves its members to the new tables."""
    db = tmp_path / "history.duckdb"
    old, _old_campaigns, old_members = month_data("2026-01", 300, seed=8)
    old_database(db, "2026-01", old, old_members)
    new, new_campaigns, new_members = month_data("2026-02", 300, seed=9)
    record(db, "2026-02", new, new_campaigns)
    assert recorded_months(db) == ["2026-01", "2026-02"]
    assert sorted(map(tuple, load_campaigns(db, "2026-01").itertuples(index=False))) == sorted(old_members)
    assert sorted(map(tuple, load_campaigns(db, "2026-02").itertuples(index=False))) == sorted(new_members)
    with connect(db) as con:
        assert con.execute("SELECT count(*) FROM campaign_members WHERE month = '2026-02'").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM assignments WHERE extract_row IS NULL").fetchone()[0] == 300
        both = con.execute("SELECT count(*) FROM assignments a JOIN assignments b USING (cust_id) "
                           "WHERE a.month = '2026-01' AND b.month = '2026-02'").fetchone()[0]
    migration = load_migration(db, "2026-01", new.drop_columns(["segment"]))
    assert migration["customers"].sum() == both > 0
    rebuilt, rebuilt_campaigns, rebuilt_members = month_data("2026-01", 280, seed=10)
    record(db, "2026-01", rebuilt, rebuilt_campaigns)
    assert sorted(map(tuple, load_campaigns(db, "2026-01").itertuples(index=False))) == sorted(rebuilt_members)
    with connect(db) as con:
        assert con.execute("SELECT count(*) FROM campaign_members").fetchone()[0] == 0


def test_ids_are_stored_with_zstd_where_duckdb_writes_its_2_0_format(tmp_path):
    from reportgen.monthly.history import _id_storage

    assert _id_storage("2.0.1") == " USING COMPRESSION zstd" and _id_storage("1.4.2") == ""
    db = tmp_path / "history.duckdb"
    table, campaigns, _ = month_data("2026-03", 3000, seed=11)
    record(db, "2026-03", table, campaigns)
    with connect(db) as con:
        con.execute("CHECKPOINT")
        methods = {r[0] for r in con.execute("SELECT DISTINCT compression FROM pragma_storage_info('assignments') "
                                             "WHERE column_name = 'cust_id' AND segment_type = 'VARCHAR'").fetchall()}
    if int(duckdb.__version__.split(".")[0]) >= 2:
        assert methods == {"ZSTD"}
    else:  # DuckDB's own choice
        assert "ZSTD" not in methods

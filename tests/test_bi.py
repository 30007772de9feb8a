"""BI extracts: schema in both formats, counts that match the model, formula-safe CSV, atomic writes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from reportgen.config import load_settings
from reportgen.errors import ConfigError, ReportgenError
from reportgen.monthly.bi import BI_FORMATS, BI_SCHEMA, SCHEMA_FILE, build_bi_tables, write_bi_extracts
from reportgen.report.formatting import format_count, format_money, format_share
from reportgen.report.model import LIMIT_BANDS

HOSTILE_ID = '=HYPERLINK("http://x","y")'


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    """The bundled sample with a formula as the first customer's id, analysed with k = 4."""
    from reportgen.api import SAMPLE_DATA, analyse

    frame = pd.read_csv(SAMPLE_DATA, dtype=str, keep_default_na=False)
    frame.loc[0, "CUST_ID"] = HOSTILE_ID
    path = tmp_path_factory.mktemp("bi-input") / "extract.csv"
    frame.to_csv(path, index=False)
    return analyse(path, settings=load_settings(k=4), month="2026-11")


@pytest.fixture(scope="module")
def written(analysed, tmp_path_factory):
    """Both formats written into their own folders: fmt -> (folder, paths)."""
    result, model = analysed
    out = {}
    for fmt in BI_FORMATS:
        folder = tmp_path_factory.mktemp(f"bi-{fmt}")
        out[fmt] = (folder, write_bi_extracts(result, model, folder, fmt))
    return out


def read(folder, table: str, fmt: str) -> pd.DataFrame:
    if fmt == "parquet":
        return pd.read_parquet(folder / f"{table}.parquet")
    return pd.read_csv(folder / f"{table}.csv", dtype={"CUST_ID": str, "segment": str} if table == "kpis" else {"CUST_ID": str}, keep_default_na=False)


@pytest.mark.parametrize("fmt", BI_FORMATS)
def test_every_table_and_column_of_the_schema_is_written(written, fmt):
    folder, paths = written[fmt]
    assert [p.name for p in paths] == [f"{t}.{fmt}" for t in BI_SCHEMA] + [SCHEMA_FILE]
    for table, columns in BI_SCHEMA.items():
        assert list(read(folder, table, fmt).columns) == list(columns), table


def test_parquet_types_follow_the_schema_even_for_empty_tables(written):
    folder, _paths = written["parquet"]
    kinds = {"string": "string", "int64": "int64", "float64": "double"}
    for table, columns in BI_SCHEMA.items():
        schema = pq.read_schema(folder / f"{table}.parquet")
        assert {f.name: str(f.type) for f in schema} == {c: kinds[k] for c, (k, _m) in columns.items()}, table
    assert pq.read_metadata(folder / "migration.parquet").num_rows == 0  # no history yet


def test_schema_file_documents_every_column(written):
    folder, _paths = written["csv"]
    tree = json.loads((folder / SCHEMA_FILE).read_text(encoding="utf-8"))
    assert set(tree) == set(BI_SCHEMA)
    for table, columns in tree.items():
        assert [c["name"] for c in columns] == list(BI_SCHEMA[table])
        assert all(c["type"] in ("string", "int64", "float64") and c["description"] for c in columns)


@pytest.mark.parametrize("fmt", BI_FORMATS)
def test_counts_match_the_model(written, analysed, fmt):
    result, model = analysed
    folder, _paths = written[fmt]
    customers = read(folder, "customers", fmt)
    assert len(customers) == model.facts.customers
    sizes = customers.groupby("segment").size()
    assert {int(k): int(v) for k, v in sizes.items()} == {s.id: s.customers for s in model.segments}
    personas = customers.groupby("persona").size()
    assert {k: int(v) for k, v in personas.items()} == {s.name: s.customers for s in model.segments}
    # Bands follow the cube: the same number of customers per credit-limit band.
    cube = np.asarray(model.cube.rows, dtype=float)
    for index, (_low, _high, label) in enumerate(LIMIT_BANDS):
        assert int((customers["limit_band"] == label).sum()) == int(cube[cube[:, 2] == index, 4].sum())
    profiles = read(folder, "segment_profiles", fmt)
    assert len(profiles) == sum(len(s.profile) for s in model.segments)
    assert migration_rows(folder, fmt) == 0


def migration_rows(folder, fmt) -> int:
    return len(read(folder, "migration", fmt))


@pytest.mark.parametrize("fmt", BI_FORMATS)
def test_kpis_agree_with_the_report_displays(written, analysed, fmt):
    """Formatted like the report, every KPI value shows exactly the report's display."""
    _result, model = analysed
    kpis = read(written[fmt][0], "kpis", fmt)
    assert set(kpis["month"]) == {"2026-11"}
    shown = {(str(r.segment), r.kpi): r.value for r in kpis.itertuples()}
    expected = {("all", k.key): k.display for k in model.kpis}
    expected.update({(str(s.id), k.key): k.display for s in model.segments for k in s.kpis})
    formats = {"customers": format_count, "balance": lambda v: format_money(v, compact=True),
               "purchases": lambda v: format_money(v, compact=True), "payments": lambda v: format_money(v, compact=True),
               "utilisation": format_share, "full_payment": format_share, "cash_advance_users": format_share}
    assert set(shown) == set(expected)
    for key, display in expected.items():
        assert formats.get(key[1], format_money)(shown[key]) == display, key


def test_formula_in_an_id_is_inert_in_csv_and_intact_in_parquet(written):
    csv_ids = read(written["csv"][0], "customers", "csv")["CUST_ID"]
    assert csv_ids.iloc[0] == "'" + HOSTILE_ID
    assert not any(str(v).startswith(("=", "+", "-", "@")) for v in csv_ids)
    parquet_ids = read(written["parquet"][0], "customers", "parquet")["CUST_ID"]
    assert parquet_ids.iloc[0] == HOSTILE_ID  # typed data: nothing there runs as a formula


def test_written_atomically_without_temporary_files(written):
    for fmt, (folder, paths) in written.items():
        assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in paths)
        assert not any(p.name.startswith(".") or p.suffix == ".tmp" for p in folder.iterdir())


def test_a_failed_write_leaves_the_previous_extract(analysed, tmp_path, monkeypatch):
    result, model = analysed
    first = write_bi_extracts(result, model, tmp_path, "csv")
    before = {p.name: p.read_bytes() for p in first}
    import reportgen.monthly.outputs as outputs

    calls = {"n": 0}
    real_replace = outputs.os.replace

    def failing_replace(src, dst):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(outputs.os, "replace", failing_replace)
    with pytest.raises(ReportgenError):
        write_bi_extracts(result, model, tmp_path, "csv")
    assert {p.name: p.read_bytes() for p in first} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(before)


def test_migration_rows_come_from_the_model_history(analysed):
    import dataclasses

    from reportgen.report.model import History, Migration

    result, model = analysed
    names = tuple(s.name for s in model.segments)
    counts = tuple(tuple(10 if i == j else i + j for j in range(len(names))) for i in range(len(names)))
    migration = Migration("2026-10", "2026-11", names, names, counts, 0, 0, (), ())
    history = History(("2026-10", "2026-11"), (), (0, 0), migration)
    table = build_bi_tables(result, dataclasses.replace(model, history=history))["migration"]
    assert len(table) == len(names) ** 2
    assert int(table["customers"].sum()) == sum(map(sum, counts))
    assert set(table["month_from"]) == {"2026-10"} and set(table["persona_to"]) == set(names)


def test_unknown_format_lists_the_valid_ones(analysed, tmp_path):
    result, model = analysed
    with pytest.raises(ConfigError, match="parquet, csv"):
        write_bi_extracts(result, model, tmp_path, "xlsx")
    assert not any(tmp_path.iterdir())


def test_actions_and_profile_indices_agree_with_the_csv_the_workbook_and_the_report(written, analysed):
    """One row per action in the BI extract, recommendations.csv and the workbook, with the same
    counts and money; the profiles carry the report's index (100 = portfolio)."""
    import io

    import openpyxl

    from reportgen.monthly.targets import build_target_files
    from reportgen.monthly.workbook import build_workbook

    result, model = analysed
    folder, _paths = written["parquet"]
    actions = read(folder, "actions", "parquet")
    csv = pd.read_csv(io.BytesIO(build_target_files(result, model)["recommendations.csv"]), keep_default_na=False)
    sheet = openpyxl.load_workbook(io.BytesIO(build_workbook(result, model)))["Recommendations"]
    header = [c.value for c in sheet[1]]
    book = pd.DataFrame([dict(zip(header, r)) for r in sheet.iter_rows(min_row=2, values_only=True)])
    assert len(actions) == len(csv) == len(book) == len(model.actions)
    assert list(actions["action"]) == list(csv["Action key"]) == list(book["Action key"]) == [a.key for a in model.actions]
    assert list(actions["eligible"]) == list(csv["Eligible customers"]) == list(book["Eligible customers"])
    assert list(actions["control"]) == list(csv["Control customers"]) == [a.control for a in model.actions]
    assert np.allclose(actions["balance"], csv["Balance at month end"]) and np.allclose(actions["balance"],
                                                                                         book["Balance at month end"])
    assert list(actions["target_list"]) == list(csv["Target list"]) == list(book["Target list"])
    profiles = read(folder, "segment_profiles", "parquet")
    first = model.segments[0].profile[0]
    row = profiles[(profiles["segment"] == model.segments[0].id) & (profiles["feature"] == first.feature)].iloc[0]
    assert row["index"] == pytest.approx(first.index) if first.index is not None else np.isnan(row["index"])

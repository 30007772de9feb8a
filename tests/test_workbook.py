"""The Excel workbook of target lists and recommendations (``--format xlsx``), read back with openpyxl."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import replace

import openpyxl
import pytest

from reportgen.monthly.targets import RECOMMENDATION_COLUMNS, TARGET_COLUMNS, target_lists
from reportgen.monthly.workbook import MAX_SHEET_ROWS, _sheet_name, build_workbook

HOSTILE = ('=HYPERLINK("http://x","y")', "+1-555-0100", "@SUM(A1:A9)", "-2+3", "\tC10005", "\rC10006")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture(scope="module")
def run():
    from reportgen.api import analyse

    return analyse(month="2026-11")


@pytest.fixture(scope="module")
def book(run):
    return openpyxl.load_workbook(io.BytesIO(build_workbook(*run)))


def test_one_sheet_of_recommendations_and_one_per_segment(run, book):
    _result, model = run
    assert book.sheetnames == ["Recommendations", *[s.name[:31] for s in model.segments]]
    recommendations = book["Recommendations"]
    header = [c.value for c in recommendations[1]]
    assert header == [*RECOMMENDATION_COLUMNS, "Segment sheet"]  # one row per action, as recommendations.csv
    rows = [dict(zip(header, r)) for r in recommendations.iter_rows(min_row=2, values_only=True)]
    assert [(r["Segment"], r["Action key"]) for r in rows] == [(a.segment, a.key) for a in model.actions]
    assert [r["Eligible customers"] for r in rows] == [a.eligible for a in model.actions]  # numbers, not text
    assert [r["Balance at month end"] for r in rows] == [pytest.approx(a.balance) for a in model.actions]
    assert all(r["Target list"].endswith(f"--{a.key}.csv") for r, a in zip(rows, model.actions))
    assert [r["Segment sheet"] for r in rows] == [a.segment[:31] for a in model.actions]


def test_target_sheets_hold_every_customer_with_typed_values(run, book):
    result, model = run
    lists = target_lists(result, model)
    total = 0
    for segment in model.segments:
        sheet = book[segment.name[:31]]
        assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref
        assert [c.value for c in sheet[1]] == list(TARGET_COLUMNS) and sheet["A1"].font.b
        expected = lists[segment.id]
        rows = list(sheet.iter_rows(min_row=2, values_only=True))
        assert len(rows) == len(expected)
        total += len(rows)
        first = dict(zip(TARGET_COLUMNS, rows[0]))
        assert first["CUST_ID"] == expected["CUST_ID"].iloc[0]
        assert first["BALANCE"] == pytest.approx(expected["BALANCE"].iloc[0]) and isinstance(first["BALANCE"], float)
        assert first["TENURE"] == expected["TENURE"].iloc[0]
        assert sheet["E2"].number_format == "$#,##0.00"  # BALANCE: an amount, in the report's currency
        assert sheet["K2"].number_format == "0.0%"  # UTILISATION: a share, kept as the value 0..1
    assert total == len(result.labels)


def test_no_cell_starts_a_formula(run):
    result, model = run
    ids = result.clean.ids.astype(str).copy()
    for position, value in enumerate(HOSTILE):
        ids.iloc[position] = value
    first = model.segments[0]
    segments = (replace(first, name="=cmd|' /C calc'!A0", actions=("-10% off", "Call them")),) + model.segments[1:]
    actions = (replace(model.actions[0], text="-10% off"),) + model.actions[1:]
    data = build_workbook(replace(result, clean=replace(result.clean, ids=ids)),
                          replace(model, segments=segments, actions=actions))
    book = openpyxl.load_workbook(io.BytesIO(data))
    cells = [c for sheet in book.worksheets for row in sheet.iter_rows() for c in row if c.value is not None]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    assert not [c.value for c in cells if isinstance(c.value, str) and c.value.startswith(FORMULA_STARTS)]
    values = {c.value for c in cells}
    # kept, as inert text (as in the CSV lists); a carriage return is stored as OOXML's escape
    # _x000D_, which Excel shows as the character and openpyxl returns as it is
    assert {"'" + v.replace("\r", "_x000D_") for v in HOSTILE} <= values
    assert "'-10% off" in values and "'=cmd|' /C calc'!A0" in values


def test_sheet_names_are_valid_and_unique():
    used = {"recommendations"}
    names = [_sheet_name(n, used) for n in ("Recommendations", "A/B: [test]?", "x" * 40, "x" * 40, "'quoted'")]
    assert names == ["Recommendations (2)", "A B   test", "x" * 31, "x" * 27 + " (2)", "quoted"]
    assert MAX_SHEET_ROWS == 2**20


def test_build_writes_the_workbook(tmp_path):
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1764547200"}
    out = subprocess.run(
        [sys.executable, "-m", "reportgen", "build", "--format", "xlsx", "--out", str(tmp_path), "--month", "2026-11"],
        capture_output=True, text=True, env=env,
    )
    assert out.returncode == 0, out.stderr
    path = tmp_path / "2026-11" / "segment-targets-2026-11.xlsx"
    assert f"wrote {path}" in out.stdout
    assert not (tmp_path / "2026-11" / "segment-report-2026-11.pdf").exists()
    assert openpyxl.load_workbook(path).sheetnames[0] == "Recommendations"


def test_the_same_month_gives_the_same_workbook_bytes(run):
    """A rebuild of a month (SOURCE_DATE_EPOCH or the model's own run time) writes an identical file:
    the workbook's creation time is the run's, not the clock's."""
    import time

    first = build_workbook(*run)
    time.sleep(1.1)  # the properties store whole seconds
    assert build_workbook(*run) == first
    created = openpyxl.load_workbook(io.BytesIO(first)).properties.created
    assert created.isoformat()[:19] == run[1].facts.generated_at[:19]

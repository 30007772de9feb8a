"""Marketing target lists and recommendations, built from a real run on the bundled sample."""

from __future__ import annotations

import csv
import io
from dataclasses import replace

import pandas as pd
import pyarrow.parquet as pq
import pytest

from reportgen.monthly.targets import (
    RECOMMENDATION_COLUMNS,
    TARGET_COLUMNS,
    build_target_files,
    target_stems,
    write_target_files,
)

HOSTILE_IDS = {
    0: '=HYPERLINK("http://x","y")',
    1: "+1-555-0100",
    2: "@SUM(A1:A9)",
    3: "-2+3",
    4: "\tC10005",
}


@pytest.fixture(scope="module")
def run():
    from reportgen.api import analyse

    return analyse(month="2026-11")


@pytest.fixture(scope="module")
def files(run):
    return build_target_files(*run)


def read_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def test_one_csv_and_one_parquet_per_persona_and_the_recommendations(run, files):
    _result, model = run
    keys = [s.persona_key for s in model.segments]
    assert all(keys), "the sample fits every persona"
    expected = {f"targets-{k}.{ext}" for k in keys for ext in ("csv", "parquet")} | {"recommendations.csv"}
    assert set(files) == expected


def test_columns_are_as_documented(files):
    for name, data in files.items():
        if name.startswith("targets-") and name.endswith(".csv"):
            header = next(csv.reader(io.StringIO(data.decode("utf-8"))))
            assert tuple(header) == TARGET_COLUMNS
        elif name.endswith(".parquet"):
            assert tuple(pq.read_schema(io.BytesIO(data)).names) == TARGET_COLUMNS
    header = next(csv.reader(io.StringIO(files["recommendations.csv"].decode("utf-8"))))
    assert tuple(header) == RECOMMENDATION_COLUMNS
    assert TARGET_COLUMNS[:3] == ("CUST_ID", "segment", "persona")
    assert {"BALANCE", "PURCHASES", "PAYMENTS", "CREDIT_LIMIT", "UTILISATION", "PRC_FULL_PAYMENT", "TENURE"} <= set(TARGET_COLUMNS)


def test_every_customer_appears_exactly_once(run, files):
    result, model = run
    ids = result.clean.ids.astype(str)
    for ext, read in (("csv", lambda b: pd.read_csv(io.BytesIO(b), dtype={"CUST_ID": str})), ("parquet", lambda b: pd.read_parquet(io.BytesIO(b)))):
        frames = {name: read(data) for name, data in files.items() if name.startswith("targets-") and name.endswith(ext)}
        listed = pd.concat(frames.values())["CUST_ID"]
        assert len(listed) == len(ids) and listed.is_unique
        assert set(listed) == set(ids)
        for segment in model.segments:
            frame = frames[f"targets-{segment.persona_key}.{ext}"]
            assert len(frame) == segment.customers
            assert set(frame["segment"]) == {segment.id} and set(frame["persona"]) == {segment.name}


def test_values_match_the_customers(run, files):
    result, model = run
    frame = pd.read_parquet(io.BytesIO(files[f"targets-{model.segments[0].persona_key}.parquet"]))
    features = result.clean.features.copy()
    features.index = result.clean.ids.astype(str)
    row = frame.iloc[0]
    source = features.loc[row["CUST_ID"]]
    assert row["BALANCE"] == round(float(source["BALANCE"]), 2)
    assert row["TENURE"] == int(source["TENURE"])
    expected = float(source["BALANCE"]) / float(source["CREDIT_LIMIT"]) if source["CREDIT_LIMIT"] > 0 else 0.0
    assert row["UTILISATION"] == pytest.approx(expected, abs=5e-5)


def test_text_cells_are_neutralised_against_formula_injection(run):
    result, model = run
    ids = result.clean.ids.astype(str).copy()
    for position, value in HOSTILE_IDS.items():
        ids.iloc[position] = value
    evil = replace(result, clean=replace(result.clean, ids=ids))
    first = model.segments[0]
    segments = (replace(first, name="=cmd|' /C calc'!A0", actions=("-10% off", "Call them")),) + model.segments[1:]
    actions = (replace(model.actions[0], segment="=cmd|' /C calc'!A0", text="-10% off"),) + model.actions[1:]
    files = build_target_files(evil, replace(model, segments=segments, actions=actions))

    rows = [r for name, data in files.items() if name.endswith(".csv") and name.startswith("targets-") for r in read_csv(data)]
    by_id = {r["CUST_ID"]: r for r in rows}
    for value in HOSTILE_IDS.values():
        assert "'" + value in by_id, value  # inert text in a spreadsheet
        assert value not in by_id
    assert {r["persona"] for r in rows if r["segment"] == str(first.id)} == {"'=cmd|' /C calc'!A0"}
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows for cell in r.values())

    recommendations = read_csv(files["recommendations.csv"])
    assert recommendations[0]["Segment"] == "'=cmd|' /C calc'!A0"
    assert recommendations[0]["Action"] == "'-10% off"

    # Parquet is typed and never evaluated: it keeps the exact ids campaign tools join on
    parquet = pd.concat(pd.read_parquet(io.BytesIO(d)) for n, d in files.items() if n.endswith(".parquet"))
    assert set(HOSTILE_IDS.values()) <= set(parquet["CUST_ID"])


def test_recommendations_one_row_per_action_with_its_own_target_list(run, files):
    _result, model = run
    rows = read_csv(files["recommendations.csv"])
    assert len(rows) == len(model.actions) > len(model.segments)
    for row, action in zip(rows, model.actions):
        assert (row["Segment"], row["Action key"], row["Action"]) == (action.segment, action.key, action.text)
        assert row["Who is eligible"] == action.rule
        assert int(row["Eligible customers"]) == action.eligible and int(row["Control customers"]) == action.control
        assert int(row["Customers to contact"]) == action.eligible - action.control
        assert float(row["Balance at month end"]) == pytest.approx(action.balance)
        assert float(row["Purchases over period"]) == pytest.approx(action.purchases)
        assert float(row["Cash advance over period"]) == pytest.approx(action.cash_advance)
        assert int(row["Period (months)"]) == model.facts.period_months
        assert (row["KPI"], row["Channel"], row["Priority"]) == (action.kpi_label, action.channel, action.priority)
        assert row["Target list"].endswith(f"--{action.key}.csv")


def test_every_recommendation_names_a_target_list_the_build_writes(run, tmp_path):
    from reportgen.monthly.campaigns import build_action_files

    result, model = run
    lists = build_action_files(result, model)
    rows = read_csv(build_target_files(result, model)["recommendations.csv"])
    assert {r["Target list"] for r in rows} == set(lists)
    for row in rows:  # the list holds the eligible customers, the control group flagged
        listed = read_csv(lists[row["Target list"]])
        assert len(listed) == int(row["Eligible customers"])
        assert sum(r["group"] == "control" for r in listed) == int(row["Control customers"])


def test_same_run_same_bytes(run, files):
    assert build_target_files(*run) == files


def test_write_target_files_writes_into_targets(run, tmp_path):
    paths = write_target_files(*run, tmp_path / "2026-11")
    assert {p.parent for p in paths} == {tmp_path / "2026-11" / "targets"}
    assert (tmp_path / "2026-11" / "targets" / "recommendations.csv").is_file()


def test_file_stems_are_safe_and_unique():
    stems = target_stems([(1, "Revolvers", "revolvers"), (2, "Low Spend / High Limit", None), (3, "Low spend: high limit", None), (4, "", None), (5, "../x", "../etc")])
    assert stems == {
        1: "targets-revolvers",
        2: "targets-low-spend-high-limit",
        3: "targets-low-spend-high-limit-3",
        4: "targets-segment-4",
        5: "targets-etc",
    }


def test_formula_check_reads_slices_chunks_and_large_strings():
    """The vectorised formula check reads cells' first bytes from the Arrow buffers: it must
    respect a slice's offset, every chunk, 64-bit offsets, nulls and empty cells."""
    import pyarrow as pa

    from reportgen.monthly.outputs import neutralised_text

    cells = ["=a", "b", None, "", "-1", "+x", "@y", "\tz", "\rq", "ok", "é=", "'=x"]
    expected = ["'=a", "b", None, "", "'-1", "'+x", "'@y", "'\tz", "'\rq", "ok", "é=", "'=x"]
    array = pa.array(cells)
    assert neutralised_text(array).to_pylist() == expected
    assert neutralised_text(array.cast(pa.large_string())).to_pylist() == expected
    assert neutralised_text(array.slice(3, 5)).to_pylist() == expected[3:8]
    assert neutralised_text(array.slice(9, 3)) is not None and neutralised_text(array.slice(9, 3)).to_pylist() == cells[9:]
    chunked = pa.chunked_array([array.slice(0, 2), array.slice(9, 3), array.slice(4, 2)])
    assert neutralised_text(chunked).to_pylist() == expected[0:2] + expected[9:12] + expected[4:6]
    safe = pa.array(["C1", "C2", None])
    assert neutralised_text(safe) is safe  # nothing to change: the column itself, no copy


def test_a_build_writes_the_same_bytes_as_the_encoders(tmp_path):
    """A build writes the target lists straight into their files on the writer threads; the
    in-memory encoders (``build_target_files``, ``build_action_files``: the API and the tests)
    give the same bytes, file for file, so both paths are one contract."""
    from reportgen.api import build
    from reportgen.monthly.campaigns import build_action_files

    outcome = build(formats="html", out=tmp_path, month="2026-11")
    written = {p.name: p.read_bytes() for p in (tmp_path / "2026-11" / "targets").iterdir()}
    expected = {**build_target_files(outcome.result, outcome.model), **build_action_files(outcome.result, outcome.model)}
    assert set(written) == set(expected) and len(written) > 20
    assert [name for name in sorted(written) if written[name] != expected[name]] == []


def test_an_action_list_neutralises_its_ids_and_a_formula_like_action_key():
    """An action's list: CUST_ID, segment, action and group, every text cell a spreadsheet would
    run as a formula prefixed with an apostrophe (the ids, and an action key from a user's
    playbook), the control customers flagged."""
    from types import SimpleNamespace

    import numpy as np

    from reportgen.monthly.campaigns import ACTION_COLUMNS, _action_table
    from reportgen.monthly.targets import GroupedColumns, target_csv

    features = pd.DataFrame({name: np.ones(5, dtype=np.float32) for name in (
        "BALANCE", "PURCHASES", "PAYMENTS", "MINIMUM_PAYMENTS", "CREDIT_LIMIT", "CASH_ADVANCE",
        "PURCHASES_FREQUENCY", "PRC_FULL_PAYMENT", "TENURE")})
    ids = pd.Series([HOSTILE_IDS[i] for i in range(5)])
    result = SimpleNamespace(labels=np.array([1, 0, 1, 1, 0]), clean=SimpleNamespace(features=features, ids=ids))
    model = SimpleNamespace(segments=[SimpleNamespace(id=1), SimpleNamespace(id=2)])
    group = SimpleNamespace(segment=1, eligible=np.array([0, 3]), control=np.array([False, True]),
                            spec=SimpleNamespace(key="=cmd|' /C calc'!A0"))
    text = target_csv(_action_table(GroupedColumns.of(result, 2), model, group)).decode("utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == ACTION_COLUMNS == ("CUST_ID", "segment", "action", "group")
    assert rows[1:] == [
        ["'" + HOSTILE_IDS[0], "2", "'=cmd|' /C calc'!A0", "target"],
        ["'" + HOSTILE_IDS[3], "2", "'=cmd|' /C calc'!A0", "control"],
    ]

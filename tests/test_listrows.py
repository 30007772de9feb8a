"""Per-action target lists cut from the segment lists' CSV rows give the bytes polars would write."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from reportgen.monthly import listrows
from reportgen.monthly.campaigns import build_action_files, write_action_files, write_target_lists
from reportgen.monthly.outputs import StagedFiles
from reportgen.monthly.targets import GroupedColumns, encode_target_files, write_segment_lists
from reportgen.report.actions import action_groups

AWKWARD_IDS = {
    0: '=HYPERLINK("http://x","y")',  # neutralised and quoted
    1: 'say "hi", then go',  # quotes and a comma: quoted, quotes doubled
    2: "Müller-Lüdenscheidt ÿ",  # not ASCII
    3: "-2+3",
    5: "",  # empty
}


@pytest.fixture(scope="module")
def run():
    from reportgen.api import analyse

    return analyse(month="2026-11")


def with_ids(result, replacements: dict[int, str]):
    ids = result.clean.ids.astype(str).copy()
    for position, value in replacements.items():
        ids.iloc[position] = value
    return replace(result, clean=replace(result.clean, ids=ids))


def written_action_lists(result, model, folder) -> dict[str, bytes]:
    """The per-action lists as a build writes them: cut from the segment lists' rows."""
    with StagedFiles() as staged:
        grouped = GroupedColumns.of(result, len(model.segments))
        rows = write_segment_lists(result, model, staged, folder, grouped)
        write_action_files(result, model, staged, folder, grouped, rows)
        written = staged.commit()
    return {p.name: p.read_bytes() for p in written if "--" in p.name}


def test_rows_cut_from_the_segment_lists_equal_the_formatted_lists(run, tmp_path, monkeypatch):
    result, model = run
    first = model.segments[0]
    segments = (replace(first, name='Big "spenders", north'),) + model.segments[1:]
    model = replace(model, segments=segments)
    result = with_ids(result, AWKWARD_IDS)
    expected = build_action_files(result, model)
    assert len(expected) >= 10

    cut = []
    real = listrows.write_rows
    monkeypatch.setattr("reportgen.monthly.campaigns.write_rows", lambda *a: cut.append(real(*a)) or cut[-1])
    monkeypatch.setattr(listrows, "BLOCK", 300)  # a few rows per block, and rows longer than a block
    written = written_action_lists(result, model, tmp_path / "small-blocks")
    assert cut and all(cut)  # every list was cut from rows, none formatted again
    assert written.keys() == expected.keys()
    assert [name for name in written if written[name] != expected[name]] == []
    some = next(iter(written.values())).decode("utf-8").splitlines()
    assert some[0].endswith(",action,group") and some[1].endswith((",target", ",control"))

    monkeypatch.setattr(listrows, "BLOCK", 16 << 20)  # the whole segment in one block
    assert written_action_lists(result, model, tmp_path / "one-block") == expected

    # as a build writes them: segment and action lists as jobs for the same two threads, each
    # action's list cut from its segment's CSV as soon as that is written
    cut.clear()
    with StagedFiles() as staged:
        write_target_lists(result, model, staged, tmp_path / "pipelined")
        written = {p.name: p.read_bytes() for p in staged.commit()}
    assert cut and all(cut)
    assert {name: data for name, data in written.items() if "--" in name} == expected
    segment_files = dict(encode_target_files(result, model))
    assert {name: written[name] for name in segment_files if name in written} == {
        name: data for name, data in segment_files.items() if name in written}
    assert {name for name in segment_files if name not in written} == {"recommendations.csv"}


def test_an_id_with_a_line_break_falls_back_to_formatting(run, tmp_path):
    result, model = run
    labels = np.asarray(result.labels)
    # a customer of an action's list, so the fallback has a row to get right
    group = next(g for g in action_groups(result, model.facts.month) if g.listed)
    position = int(group.eligible[0])
    result = with_ids(result, {position: "C1\nC2"})
    expected = build_action_files(result, model)
    written = written_action_lists(result, model, tmp_path)
    assert written == expected
    assert any(b'"C1\nC2"' in data for data in written.values())
    assert labels[position] == group.segment


def test_segment_rows_know_a_file_with_more_lines_than_rows(tmp_path):
    path = tmp_path / "list.csv"
    path.write_bytes(b"a,b\n1,2\n3,4\n")
    assert listrows.SegmentRows(path, 2).ends().tolist() == [3, 7, 11]
    assert listrows.SegmentRows(path, 1).ends() is None
    path.write_bytes(b'a,b\n"1\n",2\n')
    assert listrows.SegmentRows(path, 1).ends() is None

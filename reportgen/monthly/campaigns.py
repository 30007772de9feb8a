"""Per-action target lists with their control groups, and their record for next month's report.

``targets/targets-<persona>--<action>.csv``: one row per customer eligible for the action (the
playbook's rule), in extract order, with the target columns of :mod:`reportgen.monthly.targets`
and two more: ``action`` (the action's key) and ``group`` — ``target`` for customers to contact,
``control`` for the seeded random share held out (``[actions] control_share``, default 10%) so
next month's report can measure the action. Campaign tools must not contact the ``control`` rows.

The same membership is recorded in the history database (:func:`campaign_members`), and next
month's report compares treated and control customers on the action's KPI (read back with
:func:`reportgen.monthly.history.load_campaigns`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa

from reportgen.monthly.history import CampaignRecord
from reportgen.monthly.listrows import SegmentRows, appended_cells, write_rows
from reportgen.monthly.targets import (
    TARGET_COLUMNS,
    GroupedColumns,
    encoded_in_order,
    repeat_text,
    segment_list_jobs,
    target_csv,
    target_stems,
    write_target_csv,
)
from reportgen.render.formats import action_file_name
from reportgen.report.actions import action_groups

ACTION_COLUMNS: tuple[str, ...] = (*TARGET_COLUMNS, "action", "group")


def build_action_files(result, model, grouped: GroupedColumns | None = None) -> dict[str, bytes]:
    """The bytes of every action's target list (actions with eligible customers), by file name."""
    return dict(encode_action_files(result, model, grouped))


def encode_action_files(result, model, grouped: GroupedColumns | None = None) -> Iterator[tuple[str, bytes]]:
    """:func:`build_action_files` one file at a time (a build writes them straight to disk with
    :func:`write_target_lists`)."""
    grouped = grouped or GroupedColumns.of(result, len(model.segments))
    listed = _listed_groups(result, model)

    def encode(item) -> bytes:
        return target_csv(_action_table(grouped, model, item[1]))

    for (name, _group), data in zip(listed, encoded_in_order(encode, listed)):
        yield name, data


def write_action_files(result, model, staged, folder: Path, grouped: GroupedColumns | None = None,
                       segment_rows: dict | None = None) -> None:
    """Write every action's target list into temporary files of the ``staged`` set in ``folder``,
    two lists at a time on threads.

    With the segment lists' rows (``segment_rows``, from
    :func:`~reportgen.monthly.targets.write_segment_lists`), each list is cut from its segment's
    CSV rows (:mod:`reportgen.monthly.listrows`: the numbers are formatted once per customer, not
    once per action); otherwise, or when a segment's rows are not one line each, the eligible
    customers' rows are gathered from the ``grouped`` columns (gathered here unless the caller has
    them) and written by polars. Both give the same bytes."""
    jobs = action_list_jobs(result, model, staged, folder, grouped, segment_rows)
    for _ in encoded_in_order(lambda job: job[1](), jobs):
        pass


def action_list_jobs(result, model, staged, folder: Path, grouped: GroupedColumns | None = None,
                     segment_rows: dict | None = None) -> list[tuple[int, Callable[[], None]]]:
    """The files of :func:`write_action_files`, reserved in ``staged`` now and written when their
    jobs are called: ``[(segment index, write the list)]``. A job cutting from a segment's rows
    reads that segment's CSV, so it runs after the CSV is written."""
    grouped = grouped or GroupedColumns.of(result, len(model.segments))
    jobs = []
    for name, group in _listed_groups(result, model):
        path = staged.reserve(folder, name)
        rows = (segment_rows or {}).get(group.segment)

        def write(path=path, group=group, rows=rows) -> None:
            staged.fill(path, lambda target: _write_action_csv(grouped, model, group, target, rows))

        jobs.append((group.segment, write))
    return jobs


def write_target_lists(result, model, staged, folder: Path, grouped: GroupedColumns | None = None) -> None:
    """Write the segment lists (:func:`~reportgen.monthly.targets.write_segment_lists`) and the
    actions' lists (:func:`write_action_files`, cut from the segments' rows) into temporary files
    of ``staged`` in ``folder``: every file is a job for the same two threads, the segments' CSV
    files first, and an action's list starts as soon as its segment's CSV is written, so neither
    thread waits for the other to finish a stage (at 10M a segment's CSV takes seconds)."""
    grouped = grouped or GroupedColumns.of(result, len(model.segments))
    segment_jobs, rows = segment_list_jobs(result, model, staged, folder, grouped)
    action_jobs = action_list_jobs(result, model, staged, folder, grouped, rows)

    def after(written: Future, job) -> None:
        written.result()  # an action's list reads its segment's CSV file
        job()

    # the pool takes jobs in the order submitted: every CSV job has started before any action
    # job can wait for one, so a waiting thread always waits for a running job
    with ThreadPoolExecutor(max_workers=2) as pool:
        written = [pool.submit(write_csv) for write_csv, _ in segment_jobs]
        later = []
        for index, (_write_csv, write_parquet) in enumerate(segment_jobs):
            later.append(pool.submit(write_parquet))
            later += [pool.submit(after, written[index], job) for segment, job in action_jobs if segment == index]
        for future in written + later:
            future.result()


def _write_action_csv(grouped: GroupedColumns, model, group, target: str, rows: SegmentRows | None) -> None:
    if rows is not None:
        cells = appended_cells({"action": [group.spec.key] * 2, "group": ["target", "control"]}, write_target_csv)
        if cells is not None:
            local = grouped.rank[group.eligible] - grouped.bounds[group.segment]
            header = ",".join(ACTION_COLUMNS).encode("utf-8")
            if write_rows(rows, local, group.control.astype(np.int8), cells, header, target):
                return
    write_target_csv(_action_table(grouped, model, group), target)


def _listed_groups(result, model) -> list:
    """(file name, action group) of every action with eligible customers, in the groups' order."""
    stems = target_stems((s.id, s.name, s.persona_key) for s in model.segments)
    return [(action_file_name(stems[model.segments[g.segment].id], g.spec.key), g)
            for g in action_groups(result, model.facts.month) if g.listed]


def _action_table(grouped: GroupedColumns, model, group) -> pa.Table:
    """An action's target list: its eligible customers' target columns, the action and the group."""
    segment = model.segments[group.segment]
    table = grouped.customers(group.eligible, segment)
    table = table.append_column("action", repeat_text(group.spec.key, len(group.eligible)))
    flags = pa.DictionaryArray.from_arrays(pa.array(group.control.astype(np.int8)), pa.array(["target", "control"]))
    return table.append_column("group", flags.cast(pa.string())).select(list(ACTION_COLUMNS))


def campaign_members(result, model) -> CampaignRecord:
    """Every customer of every recommended action with a KPI, with its control flag: the history's
    record of the month's lists (see :class:`~reportgen.monthly.history.CampaignRecord`), the
    customers as their rows in the extract (no Python object per customer)."""
    groups = [g for g in action_groups(result, model.facts.month) if g.listed and g.spec.kpi]
    return CampaignRecord.of(
        [(model.segments[g.segment].name, g.spec.key, g.spec.text, g.spec.kpi) for g in groups],
        [g.eligible for g in groups], [g.control for g in groups],
    )

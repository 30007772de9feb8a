"""Per-action target lists with their control groups, and their record for next month's report.

``targets/targets-<persona>--<action>.csv``: one row per customer eligible for the action (the
playbook's rule), in extract order, with :data:`ACTION_COLUMNS`: who (``CUST_ID`` and
``segment``, 1..k as in the report and the segment's list), ``action`` (the action's key) and
``group`` — ``target`` for customers to contact, ``control`` for the seeded
random share held out (``[actions] control_share``, default 10%) so next month's report can
measure the action. Campaign tools must not contact the ``control`` rows.

The customers' figures are not repeated here: they are in the segment's list
(``targets-<persona>.csv``/``.parquet``), one join on ``CUST_ID`` away. A customer is eligible
for up to three of their segment's actions, so repeating the figures in every action's list made
those lists two thirds of all the bytes a build writes (2.3 of 3.6 GB at ten million customers).

The same membership is recorded in the history database (:func:`campaign_members`), and next
month's report compares treated and control customers on the action's KPI (read back with
:func:`reportgen.monthly.history.load_campaigns`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa

from reportgen.data.contract import ID_COLUMN
from reportgen.monthly.history import CampaignRecord
from reportgen.monthly.outputs import neutralise_formula
from reportgen.monthly.targets import (
    GroupedColumns,
    encoded_in_order,
    segment_list_jobs,
    target_csv,
    target_stems,
    write_target_csv,
)
from reportgen.render.formats import action_file_name
from reportgen.report.actions import action_groups

ACTION_COLUMNS: tuple[str, ...] = (ID_COLUMN, "segment", "action", "group")


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


def action_list_jobs(result, model, staged, folder: Path,
                     grouped: GroupedColumns | None = None) -> list[tuple[int, Callable[[], None]]]:
    """The files of :func:`build_action_files`, reserved in ``staged`` now (in the groups' order)
    and written when their jobs are called: ``[(segment index, write the list)]``."""
    grouped = grouped or GroupedColumns.of(result, len(model.segments))
    jobs = []
    for name, group in _listed_groups(result, model):
        path = staged.reserve(folder, name)

        def write(path=path, group=group) -> None:
            staged.fill(path, lambda target: write_target_csv(_action_table(grouped, model, group), target))

        jobs.append((group.segment, write))
    return jobs


def write_target_lists(result, model, staged, folder: Path, grouped: GroupedColumns | None = None) -> None:
    """Write the segment lists (CSV and Parquet, the files of
    :func:`~reportgen.monthly.targets.encode_target_files` but ``recommendations.csv``) and the
    actions' lists (:func:`build_action_files`) into temporary files of ``staged`` in ``folder``,
    each file a job for the same two threads (polars and pyarrow release the GIL and write
    straight to the file), segment by segment: a segment's CSV, its Parquet, then its actions."""
    grouped = grouped or GroupedColumns.of(result, len(model.segments))
    segment_jobs = segment_list_jobs(result, model, staged, folder, grouped)
    action_jobs = action_list_jobs(result, model, staged, folder, grouped)
    jobs = [job for index, pair in enumerate(segment_jobs)
            for job in (*pair, *(write for segment, write in action_jobs if segment == index))]
    with ThreadPoolExecutor(max_workers=2) as pool:
        for future in [pool.submit(job) for job in jobs]:
            future.result()


def _listed_groups(result, model) -> list:
    """(file name, action group) of every action with eligible customers, in the groups' order."""
    stems = target_stems((s.id, s.name, s.persona_key) for s in model.segments)
    return [(action_file_name(stems[model.segments[g.segment].id], g.spec.key), g)
            for g in action_groups(result, model.facts.month) if g.listed]


def _action_table(grouped: GroupedColumns, model, group) -> pa.Table:
    """An action's target list (:data:`ACTION_COLUMNS`): its eligible customers' ids and segment,
    the action and the group. The action and the group are dictionary columns (a byte per
    customer; the CSV writer spells out their texts), neutralised here since only plain text
    columns are neutralised on writing."""
    n = len(group.eligible)
    return pa.table({
        ID_COLUMN: grouped.ids(group.eligible),
        "segment": pa.array(np.full(n, model.segments[group.segment].id, dtype=np.int32)),
        "action": pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int8)),
                                                 pa.array([neutralise_formula(group.spec.key)])),
        "group": pa.DictionaryArray.from_arrays(pa.array(group.control.astype(np.int8)), pa.array(["target", "control"])),
    })


def campaign_members(result, model) -> CampaignRecord:
    """Every customer of every recommended action with a KPI, with its control flag: the history's
    record of the month's lists (see :class:`~reportgen.monthly.history.CampaignRecord`), the
    customers as their rows in the extract (no Python object per customer)."""
    groups = [g for g in action_groups(result, model.facts.month) if g.listed and g.spec.kpi]
    return CampaignRecord.of(
        [(model.segments[g.segment].name, g.spec.key, g.spec.text, g.spec.kpi) for g in groups],
        [g.eligible for g in groups], [g.control for g in groups],
    )

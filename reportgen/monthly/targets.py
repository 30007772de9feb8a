"""Marketing target lists: one file per persona with the customers to reach, and the playbook.

Written by the caller into ``OUT/MONTH/targets/`` (see :func:`write_target_files`); the names and
columns are a contract that campaign tools import:

==============================  =============================================================
``targets-<persona>.csv``       one row per customer of the segment, in extract order, with
``targets-<persona>.parquet``   :data:`TARGET_COLUMNS`. ``<persona>`` is the playbook key
                                (``targets-revolvers.csv``) or, for a segment that fits no
                                persona, a slug of its descriptive name.
``recommendations.csv``         one row per sized action: :data:`RECOMMENDATION_COLUMNS` (who is
                                eligible, eligible and control customers, the balance at the
                                month's end and the purchases and cash advance over the
                                extract's period, KPI, channel, priority, the action's own
                                target list ``targets-<persona>--<action>.csv``).
==============================  =============================================================

Target columns: ``CUST_ID``, ``segment`` (1..k, as in the report), ``persona`` (the segment's
name), ``persona_key`` (empty when the segment fits no persona), the amounts ``BALANCE``,
``PURCHASES``, ``PAYMENTS``, ``MINIMUM_PAYMENTS``, ``CREDIT_LIMIT``, ``CASH_ADVANCE`` (rounded
to cents), ``UTILISATION`` (balance / credit limit, 0 without a limit; 4 decimals), the shares
``PURCHASES_FREQUENCY`` and ``PRC_FULL_PAYMENT`` (6 decimals, as in the extract) and ``TENURE``
(months).

Every customer appears in exactly one list. CSV text cells are neutralised against spreadsheet
formula injection (``=HYPERLINK(...)`` becomes ``'=HYPERLINK(...)``). The Parquet files keep the
exact ids and names: Parquet is typed and never evaluated as a formula, and campaign tools join
on the exact customer id.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from reportgen.data.contract import ID_COLUMN
from reportgen.data.features import widen_into
from reportgen.monthly.exports import export_array
from reportgen.monthly.outputs import csv_bytes, neutralised_text, write_set
from reportgen.render.formats import action_file_name, target_stems  # the build, the mailer and the dashboard agree

TARGETS_FOLDER = "targets"
RECOMMENDATIONS_FILE = "recommendations.csv"

_MONEY = ("BALANCE", "PURCHASES", "PAYMENTS", "MINIMUM_PAYMENTS", "CREDIT_LIMIT", "CASH_ADVANCE")
_SHARES = ("PURCHASES_FREQUENCY", "PRC_FULL_PAYMENT")
TARGET_COLUMNS: tuple[str, ...] = (
    ID_COLUMN, "segment", "persona", "persona_key", *_MONEY, "UTILISATION", *_SHARES, "TENURE",
)
RECOMMENDATION_COLUMNS: tuple[str, ...] = (
    "Segment", "Action key", "Action", "Who is eligible", "Eligible customers", "Control customers",
    "Customers to contact", "Balance at month end", "Purchases over period", "Cash advance over period",
    "Period (months)", "Money at stake", "KPI", "Channel", "Priority", "Target list",
)

_SCHEMA = pa.schema(
    [
        pa.field(ID_COLUMN, pa.string(), nullable=False),
        pa.field("segment", pa.int32(), nullable=False),
        pa.field("persona", pa.string(), nullable=False),
        pa.field("persona_key", pa.string()),
        *(pa.field(name, pa.float64(), nullable=False) for name in (*_MONEY, "UTILISATION", *_SHARES)),
        pa.field("TENURE", pa.int32(), nullable=False),
    ]
)

_FEW_VALUES = ["segment", "persona", "persona_key", "TENURE"]


def build_target_files(result, model) -> dict[str, bytes]:
    """The bytes of every target file and ``recommendations.csv``, keyed by file name.

    ``result`` is the :class:`~reportgen.segmentation.pipeline.SegmentationResult` (its ``labels`` are 0-based
    indexes into ``model.segments``); ``model`` the :class:`~reportgen.report.model.ReportModel`."""
    return dict(encode_target_files(result, model))


def encode_target_files(result, model, grouped: GroupedColumns | None = None) -> Iterator[tuple[str, bytes]]:
    """:func:`build_target_files` one file at a time, in the same order, so a caller that writes
    each file as it comes holds at most two segments' bytes (a million customers' lists are
    hundreds of megabytes). A build writes the same files straight to disk
    (:func:`~reportgen.monthly.campaigns.write_target_lists`, with the actions' lists)."""
    stems = target_stems((s.id, s.name, s.persona_key) for s in model.segments)
    grouped = grouped or GroupedColumns.of(result, len(model.segments))

    def encode(index: int) -> tuple[bytes, bytes]:
        segment = model.segments[index]
        table = grouped.segment(index, segment)
        return target_csv(table), _parquet(table, segment.persona_key)

    for segment, (csv, parquet) in zip(model.segments, encoded_in_order(encode, range(len(model.segments)))):
        stem = stems[segment.id]
        yield f"{stem}.csv", csv
        yield f"{stem}.parquet", parquet
    yield RECOMMENDATIONS_FILE, recommendations_csv(model)


def segment_list_jobs(result, model, staged, folder: Path, grouped: GroupedColumns | None = None) -> list:
    """The segment lists (CSV and Parquet, the files of :func:`encode_target_files` but
    ``recommendations.csv``), reserved in ``staged`` now (in segment order) and written when their
    jobs are called: ``[(write CSV, write Parquet) by segment index]``.

    Columnar: the customer columns are gathered once into segment order (:class:`GroupedColumns`,
    gathered here unless the caller has them); each segment's list is a zero-copy slice of them,
    written by polars and pyarrow straight to its file."""
    stems = target_stems((s.id, s.name, s.persona_key) for s in model.segments)
    grouped = grouped or GroupedColumns.of(result, len(model.segments))
    jobs = []
    for index, segment in enumerate(model.segments):
        csv_path = staged.reserve(folder, f"{stems[segment.id]}.csv")
        parquet_path = staged.reserve(folder, f"{stems[segment.id]}.parquet")

        def write_csv(index=index, segment=segment, path=csv_path) -> None:
            staged.fill(path, lambda target: write_target_csv(grouped.segment(index, segment), target))

        def write_parquet(index=index, segment=segment, path=parquet_path) -> None:
            staged.fill(path, lambda target: _write_parquet(grouped.segment(index, segment), segment.persona_key, target))

        jobs.append((write_csv, write_parquet))
    return jobs


def recommendations_csv(model) -> bytes:
    """``recommendations.csv``: :func:`recommendations_table` as CSV."""
    return csv_bytes(recommendations_table(model))


def encoded_in_order(encode, items) -> Iterator:
    """``encode(item)`` of every item, in order, computed two at a time on threads (pyarrow's
    writers release the GIL) and never more than two ahead of the consumer (bounded memory)."""
    items = list(items)
    with ThreadPoolExecutor(max_workers=2) as pool:
        pending = [pool.submit(encode, item) for item in items[:2]]
        for index in range(len(items)):
            done = pending.pop(0).result()
            if index + 2 < len(items):
                pending.append(pool.submit(encode, items[index + 2]))
            yield done


def target_lists(result, model) -> dict[int, pd.DataFrame]:
    """Each segment's target list (:data:`TARGET_COLUMNS`, extract order), by segment id, in the
    model's segment order."""
    grouped = GroupedColumns.of(result, len(model.segments))
    return {s.id: grouped.segment(i, s).to_pandas() for i, s in enumerate(model.segments)}


@dataclass(frozen=True)
class GroupedColumns:
    """The customer-level target columns of every customer as Arrow arrays, grouped by segment
    (extract order within each): ids, the rounded amounts and shares, utilisation, tenure.

    Gathered once per build (a stable sort of the labels, linear); a segment's list is a zero-copy
    slice, and an action's list a gather of its eligible customers' rows."""

    columns: dict[str, pa.Array]
    bounds: np.ndarray  # segment i's rows are bounds[i]:bounds[i + 1]
    rank: np.ndarray  # the row of each customer (extract position) in the grouped columns

    @classmethod
    def of(cls, result, k: int) -> GroupedColumns:
        """Gather the target columns of ``result``'s customers into the order of its ``k`` segments."""
        labels = np.asarray(result.labels)
        order = np.argsort(labels.astype(np.uint8 if k <= 256 else np.int64), kind="stable")
        features = result.clean.features
        ids = pa.array(result.clean.ids.astype(str))
        columns = {ID_COLUMN: ids.take(pa.array(order))}
        # Each kept column is the only new array: the gather and the widening go through two
        # buffers reused column after column, and the rounding happens in place (fresh memory is
        # what costs most here, and each temporary of a 10M-row column would be fresh).
        n = len(order)
        raw, wide = np.empty(n, dtype=np.float32), np.empty(n)
        for name in (*_MONEY, *_SHARES, "TENURE"):
            column = features[name].to_numpy()
            gathered = np.take(column, order, out=raw if column.dtype == np.float32 else np.empty(n, column.dtype))
            if name == "TENURE":  # whole months, as export_array rounds them
                np.copyto(wide, gathered, casting="unsafe")
                columns[name] = pa.array(np.rint(wide, out=wide).astype(np.int32))
                continue
            kept = np.empty(n)
            np.copyto(kept, gathered, casting="unsafe")
            columns[name] = pa.array(export_array(kept, name, out=kept))
        kept = np.empty(n)  # the ratio's denominator, then the kept column
        utilisation = widen_into(features, "UTILISATION", wide, kept)
        columns["UTILISATION"] = pa.array(np.round(np.take(utilisation, order, out=kept), 4, out=kept))
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        bounds = np.concatenate(([0], np.cumsum(np.bincount(labels, minlength=k))))
        return cls(columns, bounds, rank)

    def segment(self, index: int, segment) -> pa.Table:
        """Segment ``index``'s target list (:data:`TARGET_COLUMNS`; ``segment`` is its model entry)."""
        start, stop = int(self.bounds[index]), int(self.bounds[index + 1])
        return self._table({name: array.slice(start, stop - start) for name, array in self.columns.items()}, segment)

    def ids(self, positions: np.ndarray) -> pa.Array:
        """The ids of the customers at ``positions`` (extract positions)."""
        return self.columns[ID_COLUMN].take(pa.array(self.rank[np.asarray(positions)]))

    @staticmethod
    def _table(part: dict[str, pa.Array], segment) -> pa.Table:
        n = len(part[ID_COLUMN])
        constants = {
            "segment": pa.array(np.full(n, segment.id, dtype=np.int32)),
            "persona": repeat_text(segment.name, n),
            "persona_key": repeat_text(segment.persona_key, n),
        }
        return pa.table({name: constants[name] if name in constants else part[name] for name in TARGET_COLUMNS})


def repeat_text(text: str | None, n: int) -> pa.Array:
    """``n`` copies of one string (or nulls) as a plain string array, built from a dictionary."""
    if text is None:
        return pa.nulls(n, pa.string())
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int8)), pa.array([text])).cast(pa.string())


def target_csv(table: pa.Table) -> bytes:
    """A target list as CSV bytes (:func:`write_target_csv`)."""
    buffer = io.BytesIO()
    write_target_csv(table, buffer)
    return buffer.getvalue()


def write_target_csv(table: pa.Table, target) -> None:
    """Write a target list as CSV to ``target`` (a path or a binary file): every text column
    neutralised against formula injection, as :func:`~reportgen.monthly.outputs.csv_bytes`
    writes a DataFrame.

    Written by polars' CSV writer, about 2.7 times pyarrow's speed per core on the float columns
    that dominate these lists (ten million customers' lists are tens of millions of rows): fields
    are quoted only where needed, numbers in their shortest round-trip form (``1.0``, ``12.5``,
    ``1e-6``), nulls empty."""
    import polars as pl

    safe = pa.table({name: neutralised_text(table[name]) if _is_text(table[name].type) else table[name]
                     for name in table.column_names})
    pl.from_arrow(safe, rechunk=False).write_csv(target, quote_style="necessary")


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def write_target_files(result, model, month_dir: Path) -> list[Path]:
    """Write the target files into ``month_dir/targets/`` (all or nothing); return the paths.

    Target lists an earlier build of the month left for segments that no longer exist are
    removed once the new set is in place, so marketing never picks up a stale list."""
    folder = Path(month_dir) / TARGETS_FOLDER
    written = write_set(folder, build_target_files(result, model))
    remove_stale_targets(folder, written)
    return written


def remove_stale_targets(folder: Path, written: Iterable[Path]) -> None:
    """Delete the target lists in ``folder`` that are not among the ``written`` ones."""
    for stale in set(Path(folder).glob("targets-*")) - set(written):
        stale.unlink(missing_ok=True)


def recommendations_table(model, stems: dict[int, str] | None = None) -> pd.DataFrame:
    """One row per sized action (``model.actions``, largest money at stake first): its segment, key,
    text, eligibility rule, eligible and control customers, the money concerned with its period,
    KPI, channel, priority and its own target list file (:mod:`reportgen.monthly.campaigns`)."""
    stems = stems or target_stems((s.id, s.name, s.persona_key) for s in model.segments)
    months = model.facts.period_months
    rows = [
        {
            "Segment": a.segment,
            "Action key": a.key,
            "Action": a.text,
            "Who is eligible": a.rule,
            "Eligible customers": int(a.eligible),
            "Control customers": int(a.control),
            "Customers to contact": int(a.eligible - a.control),
            "Balance at month end": round(a.balance, 2),
            "Purchases over period": round(a.purchases, 2),
            "Cash advance over period": round(a.cash_advance, 2),
            "Period (months)": int(months),
            "Money at stake": a.stake_label,
            "KPI": a.kpi_label,
            "Channel": a.channel,
            "Priority": a.priority,
            "Target list": action_file_name(stems[a.segment_id], a.key),
        }
        for a in model.actions
    ]
    return pd.DataFrame(rows, columns=list(RECOMMENDATION_COLUMNS))


def _parquet(table: pa.Table, persona_key: str | None) -> bytes:
    """A target list as Parquet bytes (:func:`_write_parquet`)."""
    # an Arrow buffer, not io.BytesIO: writing to a Python file object takes the GIL on every
    # write, and with the build's other threads busy each write waited its turn (7x slower)
    sink = pa.BufferOutputStream()
    _write_parquet(table, persona_key, sink)
    return sink.getvalue().to_pybytes()


def _write_parquet(table: pa.Table, persona_key: str | None, target) -> None:
    """Write a target list as Parquet to ``target`` (a path or an Arrow stream), with the typed
    schema and the pandas metadata a DataFrame would carry (readers get the same dtypes as before
    the lists were built in Arrow)."""
    head = table.slice(0, 1).to_pandas()
    head["persona_key"] = [persona_key] * len(head)  # typed as pandas infers it (no persona: object)
    first = pa.Table.from_pandas(head, schema=_SCHEMA, preserve_index=False)
    # dictionary pages for the columns of few values only: trying them on the amounts (almost all
    # distinct) took half the writer's time for 18% smaller files
    pq.write_table(table.cast(_SCHEMA.with_metadata(first.schema.metadata)), target, use_dictionary=_FEW_VALUES)

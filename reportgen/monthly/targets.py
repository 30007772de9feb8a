"""Marketing target lists: one file per persona with the customers to reach, and the playbook.

Written by the caller into ``OUT/MONTH/targets/`` (see :func:`write_target_files`); the names and
columns are a contract that campaign tools import:

==============================  =============================================================
``targets-<persona>.csv``       one row per customer of the segment, in extract order, with
``targets-<persona>.parquet``   :data:`TARGET_COLUMNS`. ``<persona>`` is the playbook key
                                (``targets-revolvers.csv``) or, for a segment that fits no
                                persona, a slug of its descriptive name.
``recommendations.csv``         one row per segment: :data:`RECOMMENDATION_COLUMNS`; the
                                playbook's actions (and risks) joined with ``"; "``.
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
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from reportgen.data.contract import ID_COLUMN
from reportgen.data.features import derive_ratios
from reportgen.monthly.exports import export_values
from reportgen.monthly.outputs import csv_bytes, write_set
from reportgen.render.formats import target_stems  # noqa: F401  (the build, the mailer and the dashboard agree)

TARGETS_FOLDER = "targets"
RECOMMENDATIONS_FILE = "recommendations.csv"

_MONEY = ("BALANCE", "PURCHASES", "PAYMENTS", "MINIMUM_PAYMENTS", "CREDIT_LIMIT", "CASH_ADVANCE")
_SHARES = ("PURCHASES_FREQUENCY", "PRC_FULL_PAYMENT")
TARGET_COLUMNS: tuple[str, ...] = (
    ID_COLUMN, "segment", "persona", "persona_key", *_MONEY, "UTILISATION", *_SHARES, "TENURE",
)
RECOMMENDATION_COLUMNS: tuple[str, ...] = (
    "Segment", "Description", "Action", "Risks", "Customers", "Target list",
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


def build_target_files(result, model) -> dict[str, bytes]:
    """The bytes of every target file and ``recommendations.csv``, keyed by file name.

    ``result`` is the :class:`~reportgen.segmentation.pipeline.SegmentationResult` (its ``labels`` are 0-based
    indexes into ``model.segments``); ``model`` the :class:`~reportgen.report.model.ReportModel`.
    """
    stems = target_stems((s.id, s.name, s.persona_key) for s in model.segments)
    files: dict[str, bytes] = {}
    for segment_id, rows in target_lists(result, model).items():
        stem = stems[segment_id]
        files[f"{stem}.csv"] = csv_bytes(rows)
        files[f"{stem}.parquet"] = _parquet(rows)
    files[RECOMMENDATIONS_FILE] = csv_bytes(recommendations_table(model, stems))
    return files


def target_lists(result, model) -> dict[int, pd.DataFrame]:
    """Each segment's target list (:data:`TARGET_COLUMNS`, extract order), by segment id, in the
    model's segment order."""
    labels = np.asarray(result.labels)
    return {segment.id: _target_frame(result, labels == index, segment) for index, segment in enumerate(model.segments)}


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
    """One row per segment: its name, description, actions, risks, size and target list file."""
    stems = stems or target_stems((s.id, s.name, s.persona_key) for s in model.segments)
    rows = [
        {
            "Segment": s.name,
            "Description": s.description,
            "Action": "; ".join(s.actions),
            "Risks": "; ".join(s.risks),
            "Customers": int(s.customers),
            "Target list": f"{stems[s.id]}.csv",
        }
        for s in model.segments
    ]
    return pd.DataFrame(rows, columns=list(RECOMMENDATION_COLUMNS))


def _target_frame(result, mask: np.ndarray, segment) -> pd.DataFrame:
    features = result.clean.features[mask].reset_index(drop=True)
    n = len(features)
    frame = pd.DataFrame(
        {
            ID_COLUMN: result.clean.ids[mask].astype(str).reset_index(drop=True),
            "segment": np.full(n, segment.id, dtype="int32"),
            "persona": [segment.name] * n,
            "persona_key": [segment.persona_key] * n,
        }
    )
    for name in (*_MONEY, *_SHARES):
        frame[name] = export_values(features, name)
    frame["UTILISATION"] = derive_ratios(features)["UTILISATION"].to_numpy(dtype="float64").round(4)
    frame["TENURE"] = export_values(features, "TENURE").astype("int32")
    return frame[list(TARGET_COLUMNS)]


def _parquet(frame: pd.DataFrame) -> bytes:
    table = pa.Table.from_pandas(frame, schema=_SCHEMA, preserve_index=False)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()

"""The documented files of ``reportgen segment`` (a contract: names and columns are stable).

===================  =====================================================================
``assignments.csv``  one row per customer: ``CUST_ID``, ``segment`` (1..k), ``persona``
``profiles.csv``     one row per segment: ``segment``, ``persona``, ``persona_key``,
                     ``customers``, ``share``, then ``mean_<FEATURE>`` for the 17 columns and
                     the derived ratios
``k_selection.csv``  one row per k tried: ``k``, ``inertia``, ``silhouette``,
                     ``calinski_harabasz``, ``davies_bouldin``, ``stability``, ``min_share``,
                     ``admissible``, ``chosen``
``model.json``       the segment model that re-scores next month's customers (JSON, no pickle)
``report-model.json`` the report model every deliverable is rendered from
===================  =====================================================================

Text cells are neutralised against spreadsheet formula injection.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from reportgen.data.contract import BY_NAME, ID_COLUMN
from reportgen.monthly.outputs import csv_bytes, write_set
from reportgen.report.model import ReportModel, model_to_json
from reportgen.segmentation.model import save_model

SEGMENT_FILES = ("assignments.csv", "profiles.csv", "k_selection.csv", "model.json", "report-model.json")


def export_values(features: pd.DataFrame, column: str) -> np.ndarray:
    """A contract column as files should show it: amounts in cents, shares to 6 decimals,
    counts and tenure as whole numbers. Features may be held as float32 (memory); they are
    widened before rounding so values print as the extract wrote them, not as 509.94708251953125."""
    return export_array(features[column].to_numpy(dtype="float64"), column)


def export_array(values: np.ndarray, column: str, out: np.ndarray | None = None) -> np.ndarray:
    """:func:`export_values` of a float64 array holding ``column``'s values (amounts and
    frequencies rounded into ``out`` when given: ``values`` itself for in place)."""
    kind = BY_NAME[column].kind
    if kind == "amount":
        return np.round(values, 2, out=out)
    if kind == "frequency":
        return np.round(values, 6, out=out)
    return values.round().astype("int64")


def build_segment_files(result, model: ReportModel) -> dict[str, bytes]:
    """The bytes of every file ``reportgen segment`` writes, keyed by file name."""
    names = [s.name for s in model.segments]
    assignments = pd.DataFrame(
        {
            ID_COLUMN: result.clean.ids,
            "segment": result.labels + 1,
            "persona": [names[i] for i in result.labels],
        }
    )
    return {
        "assignments.csv": csv_bytes(assignments),
        "profiles.csv": csv_bytes(profiles_table(model)),
        "k_selection.csv": csv_bytes(pd.DataFrame([dataclasses.asdict(r) for r in model.k_choice.rows])),
        "model.json": save_model(result.model),
        "report-model.json": model_to_json(model).encode("utf-8"),
    }


def profiles_table(model: ReportModel) -> pd.DataFrame:
    """One row per segment with its size and mean profile."""
    rows = []
    for s in model.segments:
        row = {
            "segment": s.id,
            "persona": s.name,
            "persona_key": s.persona_key or "",
            "customers": s.customers,
            "share": s.share,
        }
        row.update({f"mean_{p.feature}": p.mean for p in s.profile})
        rows.append(row)
    return pd.DataFrame(rows)


def write_segment_files(result, model: ReportModel, out_dir: Path) -> list[Path]:
    """Write the segment files into ``out_dir`` (all or nothing)."""
    return write_set(Path(out_dir), build_segment_files(result, model))

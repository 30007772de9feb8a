"""The target lists and the recommendations as one Excel workbook, for marketing teams.

``segment-targets-<MONTH>.xlsx`` (``--format xlsx``) holds a ``Recommendations`` sheet (one row
per action, as ``recommendations.csv``, plus a ``Segment sheet`` column naming the segment's sheet) and one
sheet per segment, named after it, with its target list (the columns of the CSV lists,
:data:`~reportgen.monthly.targets.TARGET_COLUMNS`). Every sheet has a frozen, bold header
row, an auto-filter and column widths that fit; amounts carry a number format with the report's
currency, shares and utilisation a percentage format, and the values stay numbers (a spreadsheet
can sum them). Text cells are neutralised against formula injection exactly as in the CSV files
(``=HYPERLINK(...)`` is written as the text ``'=HYPERLINK(...)``) and are always written as
text, never as formulas.

Written with XlsxWriter in constant-memory mode: rows go to disk as they are written, so a
million customers take seconds and little memory. A sheet holds at most 1,048,576 rows; a
segment larger than that continues on sheets named ``<name> (2)``, ``<name> (3)``...
"""

from __future__ import annotations

import io
import re
from datetime import datetime, timezone

import pandas as pd

from reportgen.monthly.outputs import neutralise_formula
from reportgen.monthly.targets import recommendations_table, target_lists
from reportgen.report.formatting import spreadsheet_money_format

MAX_SHEET_ROWS = 1_048_576  # Excel's limit, header included
_SHEET_NAME_LIMIT = 31
_BAD_SHEET_CHARACTERS = re.compile(r"[\[\]:*?/\\]")
_MONEY_COLUMNS = ("BALANCE", "PURCHASES", "PAYMENTS", "MINIMUM_PAYMENTS", "CREDIT_LIMIT", "CASH_ADVANCE",
                  "Balance at month end", "Purchases over period", "Cash advance over period")
_SHARE_COLUMNS = ("UTILISATION", "PURCHASES_FREQUENCY", "PRC_FULL_PAYMENT")
_WHOLE_COLUMNS = ("segment", "TENURE", "Customers", "Eligible customers", "Control customers",
                  "Customers to contact", "Period (months)")
_WIDTH_SAMPLE = 200  # rows looked at to size a text column


def build_workbook(result, model, *, money_format: str | None = None) -> bytes:
    """The workbook of a segmentation ``result`` and its report ``model``; ``money_format`` is
    the Excel number format of amounts (default: the current number style's currency)."""
    money_format = money_format or spreadsheet_money_format(2)
    used: set[str] = {"recommendations"}
    lists = target_lists(result, model)
    names = {s.id: _sheet_name(s.name, used) for s in model.segments}
    recommendations = recommendations_table(model)  # one row per action, as recommendations.csv
    recommendations["Segment sheet"] = [names[a.segment_id] for a in model.actions]
    return workbook_bytes(recommendations, {names[i]: frame for i, frame in lists.items()}, money_format=money_format,
                          created=_created(model.facts.generated_at))


def _created(generated_at: str) -> datetime | None:
    """The run's time (``SOURCE_DATE_EPOCH`` when set) as naive UTC, for the workbook's properties."""
    try:
        stamp = datetime.fromisoformat(generated_at)
    except (TypeError, ValueError):
        return None
    return (stamp.astimezone(timezone.utc).replace(tzinfo=None) if stamp.tzinfo else stamp).replace(microsecond=0)


def workbook_bytes(recommendations, target_lists, *, money_format: str = "#,##0.00",
                   created: datetime | None = None) -> bytes:
    """The workbook: ``recommendations`` (a DataFrame) and ``target_lists`` (sheet name ->
    DataFrame, in segment order) as sheets."""
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"constant_memory": True, "in_memory": False})
    # the creation time is the run's, so a rebuild of the same month gives the same bytes
    book.set_properties({"title": "Target lists and recommendations", "author": "reportgen",
                         **({"created": created} if created else {})})
    formats = {
        "header": book.add_format({"bold": True, "bottom": 1, "text_wrap": False}),
        "money": book.add_format({"num_format": money_format}),
        "share": book.add_format({"num_format": "0.0%"}),
        "whole": book.add_format({"num_format": "0"}),
        "wrap": book.add_format({"text_wrap": True, "valign": "top"}),
    }
    used = {name.lower() for name in target_lists} | {"recommendations"}
    _write_sheet(book, "Recommendations", recommendations, formats, wrap=("Action", "Who is eligible"))
    for name, frame in target_lists.items():
        rows = MAX_SHEET_ROWS - 1
        for part, start in enumerate(range(0, max(len(frame), 1), rows)):
            title = name if part == 0 else _sheet_name(f"{name} ({part + 1})", used)
            _write_sheet(book, title, frame.iloc[start : start + rows], formats)
    book.close()
    return buffer.getvalue()


def _sheet_name(text: str, used: set[str]) -> str:
    """A valid, unique sheet name: no ``[]:*?/\\``, at most 31 characters, not quoted."""
    base = _BAD_SHEET_CHARACTERS.sub(" ", str(text)).strip().strip("'") or "Segment"
    name, n = base[:_SHEET_NAME_LIMIT], 2
    while name.lower() in used:
        suffix = f" ({n})"
        name, n = base[: _SHEET_NAME_LIMIT - len(suffix)] + suffix, n + 1
    used.add(name.lower())
    return name


def _write_sheet(book, name: str, frame, formats: dict, wrap: tuple[str, ...] = ()) -> None:
    sheet = book.add_worksheet(name)
    columns = list(frame.columns)
    kinds = [_kind(column, frame[column]) for column in columns]
    for j, (column, kind) in enumerate(zip(columns, kinds)):
        width = _width(column, frame[column], kind)
        if column in wrap:
            sheet.set_column(j, j, min(width, 60), formats["wrap"])
        else:
            sheet.set_column(j, j, width, formats.get(kind))
    sheet.freeze_panes(1, 0)
    for j, column in enumerate(columns):
        sheet.write_string(0, j, neutralise_formula(str(column)), formats["header"])
    values = [_cells(frame[column], kind) for column, kind in zip(columns, kinds)]
    writers = [sheet.write_string if kind == "text" else sheet.write_number for kind in kinds]
    cell_formats = [formats.get(kind) for kind in kinds]
    for i, row in enumerate(zip(*values), start=1):
        for j, value in enumerate(row):
            if value is not None:
                writers[j](i, j, value, cell_formats[j])
    sheet.autofilter(0, 0, max(len(frame), 1), len(columns) - 1)


def _kind(column: str, values) -> str:
    if column in _MONEY_COLUMNS:
        return "money"
    if column in _SHARE_COLUMNS:
        return "share"
    if column in _WHOLE_COLUMNS:
        return "whole"
    return "number" if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values) else "text"


def _cells(values, kind: str) -> list:
    """A column as Python values: text neutralised (empty cells None), numbers as floats."""
    if kind == "text":
        return [None if v is None or v != v else neutralise_formula(str(v)) for v in values.tolist()]
    numbers = values.to_numpy(dtype="float64")
    return [None if v != v else v for v in numbers.tolist()]


def _width(column: str, values, kind: str) -> float:
    longest = len(str(column))
    if kind == "text":
        sample = values.iloc[:_WIDTH_SAMPLE].dropna().astype(str)
        longest = max([longest, *sample.str.len().tolist()])
    else:
        longest = max(longest, 12)
    return min(longest + 2, 80)

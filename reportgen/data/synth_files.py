"""Writing synthetic customers to disk: one file per month (CSV or Parquet), written atomically, and
the planted behaviour of every customer in ``truth.csv``.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pandas as pd

from reportgen.data.contract import ID_COLUMN
from reportgen.data.synth import _check_count, _iter_months
from reportgen.errors import InputError

FORMATS: tuple[str, ...] = ("csv", "parquet")


_START_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def _month_names(start: str, months: int) -> list[str]:
    """Return ``months`` consecutive "YYYY-MM" names from ``start``; InputError if it is malformed."""
    match = _START_RE.match(start) if isinstance(start, str) else None
    if match is None:
        raise InputError(f"start must look like YYYY-MM, got {start!r}")
    first = int(match.group(1)) * 12 + int(match.group(2)) - 1
    return [f"{(first + i) // 12:04d}-{(first + i) % 12 + 1:02d}" for i in range(months)]


def _write_atomic(frame: pd.DataFrame, path: Path, fmt: str) -> Path:
    """Write ``frame`` to a temporary file next to ``path``, then move it into place."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        if fmt == "parquet":
            frame.to_parquet(temporary, index=False)
        else:
            frame.to_csv(temporary, index=False)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def write_synth(
    customers: int,
    out_dir: Path,
    *,
    seed: int,
    months: int | None = None,
    start: str = "2026-01",
    fmt: str = "csv",
) -> list[Path]:
    """Write synthetic customer files and their planted labels; return the paths written.

    Without ``months``: ``out_dir/customers.<fmt>``. With ``months=M``: ``customers-YYYY-MM.<fmt>``
    for M consecutive months from ``start``. In both cases ``out_dir/truth.csv`` (CUST_ID, month,
    behaviour; month is empty without months) is written last. Files are written atomically and
    ``out_dir`` is created if needed. Raises InputError for bad arguments.
    """
    customers = _check_count(customers, "customers")
    if fmt not in FORMATS:
        raise InputError(f"fmt must be one of {', '.join(FORMATS)}, got {fmt!r}")
    names = [""] if months is None else _month_names(start, _check_count(months, "months"))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    truth: list[pd.DataFrame] = []
    for name, (frame, labels) in zip(names, _iter_months(customers, len(names), seed, None, 0)):
        stem = f"customers-{name}" if name else "customers"
        written.append(_write_atomic(frame, out_dir / f"{stem}.{fmt}", fmt))
        truth.append(pd.DataFrame({ID_COLUMN: frame[ID_COLUMN], "month": name, "behaviour": labels}))
    written.append(_write_atomic(pd.concat(truth, ignore_index=True), out_dir / "truth.csv", "csv"))
    return written

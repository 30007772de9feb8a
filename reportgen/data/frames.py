"""Customers handed over in memory (a notebook's pandas DataFrame or pyarrow Table) instead of a file.

The table takes the same road as a Parquet file: its columns are mapped onto the contract by
:func:`~reportgen.data.extract.map_columns` (``[input.columns]`` applies), ids become text and
behaviour columns float32, and validation names the same problems. Rows are named by position
from 0, as ``DataFrame.iloc`` counts them; the report calls the input "DataFrame" (or "pyarrow
Table") and its checksum is the SHA-256 of the contract columns in Arrow's IPC format.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pyarrow as pa

from reportgen.config import InputSettings
from reportgen.data.contract import FEATURES, ID_COLUMN
from reportgen.data.extract import Extract, map_columns, parquet_feature, parquet_id
from reportgen.errors import InputError


def is_table(data: object) -> bool:
    """Whether ``data`` is a table in memory (pandas DataFrame or pyarrow Table), not a path."""
    return isinstance(data, (pd.DataFrame, pa.Table))


def resolve_source(data, engine: str, default: Path):
    """What an engine reads: a table in memory as it is, a URL as text, else a path (``default``
    when ``data`` is None or empty)."""
    if is_table(data):
        if engine != "local":
            raise InputError(f"the {engine} engine reads files; write the table to Parquet or use engine='local'")
        return data
    if data is None or (isinstance(data, str) and not data):
        return default
    return data if isinstance(data, str) and "://" in data else Path(data)


def load_table(data: pd.DataFrame | pa.Table, settings: InputSettings | None = None) -> Extract:
    """The contract columns of an in-memory table, as :func:`~reportgen.data.extract.load_extract`
    returns them for a file."""
    settings = settings or InputSettings()
    name = Path("DataFrame" if isinstance(data, pd.DataFrame) else "pyarrow Table")
    table = _as_arrow(data, name)
    if table.num_rows == 0 and table.num_columns:
        raise InputError(f"{name}: has columns but no customer rows")
    renamed, ignored = map_columns(name, list(table.column_names), settings.columns)
    by_contract = {contract: header for header, contract in renamed.items()}
    picked = {contract: table.column(by_contract[contract]) for contract in (ID_COLUMN, *FEATURES)}
    columns = {
        contract: parquet_id(column) if contract == ID_COLUMN else parquet_feature(column)
        for contract, column in picked.items()
    }
    return Extract(
        frame=pd.DataFrame(columns, copy=False),
        path=name,
        sha256=_checksum(pa.table(picked)),
        file_format="table",
        delimiter=None,
        encoding=None,
        renamed={str(k): v for k, v in renamed.items() if k != v},
        ignored_columns=tuple(ignored),
        first_row=0,
    )


def _as_arrow(data, name: Path) -> pa.Table:
    if isinstance(data, pa.Table):
        return data
    if len(set(map(str, data.columns))) != len(data.columns):
        raise InputError(f"{name}: column names repeat ({_repeated(data.columns)}); give every column its own name")
    frame = data.rename(columns=str)
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError):
        # mixed objects in one column (numbers and text): let validation judge them as text
        return pa.Table.from_pandas(frame.astype({c: str for c in frame.columns if frame[c].dtype == object}),
                                    preserve_index=False)


def _repeated(columns) -> str:
    names = [str(c) for c in columns]
    return ", ".join(sorted({repr(n) for n in names if names.count(n) > 1}))


def _checksum(table: pa.Table) -> str:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()

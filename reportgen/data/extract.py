"""Reading a customer extract (CSV or Parquet) and mapping its columns onto the contract.

Real extracts differ from the reference file: other header case, a running-number column in
front, extra columns, numeric ids, other delimiters and encodings. Unambiguous differences are
absorbed here; anything that would need a guess is an :class:`~reportgen.errors.InputError`
that says how to fix it (usually a ``[input.columns]`` mapping in the config).

Reading is columnar and memory-lean, so ten million customers fit on one machine:

- one streaming pass over the file computes its SHA-256, unpacks gzip, rejects binary files and
  finds the encoding (UTF-8, else cp1252, else latin-1), without holding the file in memory;
- the header is parsed and mapped first, then only the contract columns are read, with pyarrow
  (``pyarrow.csv`` multi-threaded, ``pyarrow.parquet`` one column at a time), the 17 behaviour
  columns straight into float32 (7 significant digits: amounts keep their cents up to
  $167,772; values beyond float32's range, about 3.4e38, read as infinite);
- anything the fast reader does not take as it is falls back to a slower path that keeps every
  tolerance: cells that are not plain numbers (thousands separators, ``N/A`` in any case,
  spaces) are re-read as text and converted by :mod:`reportgen.data.validation`, which names the
  rows of real text; ragged rows are reported with their row number; files the fast reader
  cannot parse at all are read as text with pandas, as before.
"""

from __future__ import annotations

import csv
import difflib
import gzip
import io
import re
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from reportgen.config import InputSettings
from reportgen.data.contract import FEATURES, ID_COLUMN
from reportgen.data.scan import MAX_COLUMNS, FileScan, check_header, first_line, scan_file, sniff_delimiter
from reportgen.errors import InputError

# Cells that mean "no value", compared case-insensitively after stripping spaces.
EMPTY_MARKERS = ("", "na", "nan", "null", "none", "n/a", "#n/a")
NO_ROWS = "{path}: has a header but no customer rows"  # both engines' error for an empty extract
# The fast reader matches null markers exactly; these are the spellings seen in practice. Any
# other spelling fails the fast read and takes the text path, which compares case-insensitively.
_NULL_SPELLINGS = sorted(
    {v for m in EMPTY_MARKERS for v in (m, m.upper(), m.capitalize(), m.title())} | {"NaN", "N/a", "#N/a"}
)


@dataclass(frozen=True)
class Extract:
    """A loaded extract: contract columns only, plus the facts the report states about it.

    ``frame`` holds ``CUST_ID`` as text and the 17 behaviour columns as read: float32 when they
    were read as numbers (empty cells are NaN), text when some cells need the tolerant text path.
    ``first_row`` is the row number of the first customer as a user would count it in the file
    (2 for CSV, where the header is row 1; 1 for Parquet), so errors can name rows.
    """

    frame: pd.DataFrame
    path: Path
    sha256: str
    file_format: str
    delimiter: str | None
    encoding: str | None
    renamed: dict[str, str]
    ignored_columns: tuple[str, ...]
    first_row: int


def load_extract(path: Path, settings: InputSettings | None = None) -> Extract:
    """Read ``path`` and return its contract columns (``CUST_ID`` as text, the rest as read)."""
    settings = settings or InputSettings()
    path = Path(path)
    if _looks_like_parquet(path):
        # the checksum pass and the column reads release the GIL: run them side by side
        with ThreadPoolExecutor(max_workers=1) as pool:
            scanning = pool.submit(scan_file, path, settings.encoding)
            try:
                frame, renamed, ignored = _load_parquet(path, settings.columns)
            finally:
                scan = scanning.result()  # a scan error (the file vanished) comes first
    else:
        scan = scan_file(path, settings.encoding)
    if scan.parquet:
        delimiter, encoding, first_row, fmt = None, None, 1, "parquet"
    else:
        encoding = scan.encoding
        header_line = first_line(scan)
        delimiter = settings.delimiter or sniff_delimiter(header_line)
        check_header(path, scan, header_line, delimiter)
        frame, renamed, ignored = _load_csv(path, scan, header_line, delimiter, settings.columns)
        first_row, fmt = 2, "csv"
    return Extract(
        frame=frame,
        path=path,
        sha256=scan.sha256,
        file_format=fmt,
        delimiter=delimiter,
        encoding=encoding,
        renamed={k: v for k, v in renamed.items() if k != v},
        ignored_columns=tuple(ignored),
        first_row=first_row,
    )


def _looks_like_parquet(path: Path) -> bool:
    """True when ``path`` is a readable regular file starting with Parquet's magic bytes (a FIFO
    or a device is not opened here: opening a FIFO blocks; the scan refuses it with its message)."""
    if not path.is_file():
        return False
    try:
        with open(path, "rb") as handle:
            return handle.read(4) == b"PAR1"
    except OSError:
        return False


# --- one streaming pass: hash, gzip, emptiness, binary check, encoding ---------------------------


# --- CSV ----------------------------------------------------------------------------------------


class _NotFast(Exception):
    """The fast typed read does not apply; ``text`` says whether the text re-read may."""

    def __init__(self, text: bool):
        super().__init__()
        self.text = text


def _load_csv(path: Path, scan: FileScan, header_line: str, delimiter: str, mapping: dict[str, str]):
    if not header_line.strip():  # blank lines before the header: pandas skips them
        return _load_csv_text(path, scan, delimiter, mapping)
    header = header_names(header_line, delimiter)
    lines = re.split(rb"\r\n|\r|\n", scan.head, maxsplit=1)
    if scan.content_size <= len(scan.head) and (len(lines) < 2 or not lines[1].strip()):
        raise InputError(NO_ROWS.format(path=path))
    renamed, ignored = map_columns(path, header, mapping)
    for text in (False, True):
        try:
            table = _read_arrow_csv(path, scan, delimiter, header, renamed, text=text)
        except _NotFast as exc:
            if exc.text:
                continue
            return _load_csv_text(path, scan, delimiter, mapping)
        if table.num_rows == 0:
            raise InputError(NO_ROWS.format(path=path))
        arrays = {renamed[name]: table.column(name) for name in table.column_names}
        del table  # from here each Arrow column is freed as soon as it is converted
        return _frame_from_arrow(arrays), renamed, ignored
    return _load_csv_text(path, scan, delimiter, mapping)  # pragma: no cover - the text read raises


def header_names(line: str, delimiter: str) -> list[str]:
    """The header as pandas names it: blanks become ``Unnamed: i``, repeats get ``.1``, ``.2``."""
    line = line.lstrip("\ufeff")
    fields = next(csv.reader([line], delimiter=delimiter, skipinitialspace=True), [])
    names = [f if f != "" else f"Unnamed: {i}" for i, f in enumerate(fields)]
    counts: dict[str, int] = defaultdict(int)
    for i, name in enumerate(names):
        seen = counts[name]
        while seen > 0:
            counts[name] = seen + 1
            name = f"{name}.{seen}"
            seen = counts[name]
        names[i] = name
        counts[name] = seen + 1
    return names


def _read_arrow_csv(path, scan: FileScan, delimiter: str, header: list[str], renamed: dict, *, text: bool):
    id_header = next(h for h, c in renamed.items() if c == ID_COLUMN)
    number = pa.string() if text else pa.float32()
    types = {h: (pa.string() if h == id_header else number) for h in renamed}
    options = dict(
        read_options=pacsv.ReadOptions(
            column_names=header, skip_rows=1, encoding="utf8" if scan.encoding == "utf-8-sig" else scan.encoding
        ),
        parse_options=pacsv.ParseOptions(delimiter=delimiter),
        convert_options=pacsv.ConvertOptions(
            column_types=types, include_columns=list(renamed), null_values=_NULL_SPELLINGS,
            strings_can_be_null=False, quoted_strings_can_be_null=True,
        ),
    )
    try:
        table = pacsv.read_csv(_source(path, scan), **options)
    except pa.ArrowInvalid as exc:
        if "conversion error" in str(exc) and not text:
            raise _NotFast(text=True) from None
        _raise_ragged(path, scan, delimiter, header)
        raise _NotFast(text=False) from None
    except (pa.ArrowException, OSError, UnicodeDecodeError):
        raise _NotFast(text=False) from None
    if not text:
        for name in renamed:
            if name != id_header and pc.any(pc.is_nan(table.column(name))).as_py():
                # a NaN that is not an empty marker (e.g. "-NaN"): let the text path judge it
                raise _NotFast(text=True)
    return table


def _source(path: Path, scan: FileScan):
    return pa.input_stream(str(path), compression="gzip" if scan.gzip else None)


def _raise_ragged(path: Path, scan: FileScan, delimiter: str, header: list[str]) -> None:
    """Name the first row with more fields than the header, as the text reader would."""
    found: list = []

    def handler(row):
        if row.actual_columns > row.expected_columns:
            found.append(row)
            return "error"
        return "skip"

    try:
        pacsv.read_csv(
            _source(path, scan),
            read_options=pacsv.ReadOptions(
                column_names=header, skip_rows=1, use_threads=False,
                encoding="utf8" if scan.encoding == "utf-8-sig" else scan.encoding,
            ),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=handler),
            convert_options=pacsv.ConvertOptions(column_types={h: pa.string() for h in header}),
        )
    except (pa.ArrowException, OSError, UnicodeDecodeError):
        pass
    # the first data row with one extra field makes pandas read it as an index: leave that to it
    if found and found[0].number is not None and found[0].number > 2:
        row = found[0]
        raise InputError(
            f"{path}: ragged rows: row {row.number} has {row.actual_columns} fields, "
            f"the header has {row.expected_columns}"
        )


def _frame_from_arrow(arrays: dict[str, pa.ChunkedArray]) -> pd.DataFrame:
    """Contract columns as a pandas frame, releasing each Arrow column once converted."""
    columns = {}
    for name in (ID_COLUMN, *FEATURES):
        columns[name] = _to_pandas(arrays.pop(name))
    return pd.DataFrame(columns, copy=False)


def _to_pandas(column: pa.ChunkedArray):
    if pa.types.is_float32(column.type):
        return column.to_numpy()
    return column.to_pandas()


def _load_csv_text(path: Path, scan: FileScan, delimiter: str, mapping: dict[str, str]):
    """The text path: the whole file read as text by pandas (slow, but takes what pandas takes)."""
    raw = _read_bytes(path)
    if scan.gzip:
        raw = gzip.decompress(raw)
    frame = _read_csv(path, raw.decode(scan.encoding), delimiter)
    if frame.empty and len(frame.columns) > 0:
        raise InputError(NO_ROWS.format(path=path))
    renamed, ignored = map_columns(path, list(frame.columns), mapping)
    frame = frame[list(renamed)].rename(columns=renamed)[[ID_COLUMN, *FEATURES]].reset_index(drop=True)
    return frame, renamed, ignored


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None


def _read_csv(path: Path, text: str, delimiter: str) -> pd.DataFrame:
    try:
        return pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            dtype=str,
            keep_default_na=False,
            skipinitialspace=True,
        )
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: is empty, expected a header and one row per customer") from None
    except pd.errors.ParserError as exc:
        raise InputError(f"{path}: {_describe_parser_error(str(exc))}") from None


def _describe_parser_error(message: str) -> str:
    match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
    if match:
        expected, line, saw = match.groups()
        return f"ragged rows: row {line} has {saw} fields, the header has {expected}"
    return f"cannot be parsed as CSV ({message.strip().splitlines()[0]})"


# --- Parquet ------------------------------------------------------------------------------------


def _load_parquet(path: Path, mapping: dict[str, str]):
    """Read the contract columns one at a time: features to float32, integer ids to text."""
    try:
        parquet = pq.ParquetFile(path)
        schema = parquet.schema_arrow
    except Exception as exc:  # pyarrow raises many types for damaged files
        raise InputError(f"{path}: cannot be read as Parquet ({exc.__class__.__name__})") from None
    index = {c for c in (schema.pandas_metadata or {}).get("index_columns", []) if isinstance(c, str)}
    headers = [name for name in schema.names if name not in index]
    if len(headers) > MAX_COLUMNS:  # the same cap as a CSV header's, before any column is read
        raise InputError(f"{path}: the file has {len(headers):,} columns, more than the {MAX_COLUMNS:,} allowed")
    if parquet.metadata.num_rows == 0 and headers:
        raise InputError(NO_ROWS.format(path=path))
    renamed, ignored = map_columns(path, headers, mapping)
    by_contract = {v: k for k, v in renamed.items()}
    def read(name: str):
        try:  # a reader of its own per column: pyarrow's ParquetFile is not shared across threads
            source, header = pq.ParquetFile(path), by_contract[name]
            if name != ID_COLUMN and pa.types.is_floating(schema.field(header).type):  # row group by row group into float32
                return np.concatenate([parquet_feature(source.read_row_group(i, columns=[header]).column(0))
                                       for i in range(source.num_row_groups)])  # (no whole float64 column)
            column = source.read(columns=[header], use_pandas_metadata=False).column(0)
        except Exception as exc:
            raise InputError(f"{path}: cannot be read as Parquet ({exc.__class__.__name__})") from None
        return parquet_id(column) if name == ID_COLUMN else parquet_feature(column)

    # two columns at a time (decoding releases the GIL: both cores), each narrowed to float32 as
    # soon as it is read, so at most two wide columns are in memory at once
    names = (ID_COLUMN, *FEATURES)
    with ThreadPoolExecutor(max_workers=2) as pool:
        columns = dict(zip(names, pool.map(read, names)))
    return pd.DataFrame(columns, copy=False), renamed, ignored


def parquet_id(column: pa.ChunkedArray):
    if pa.types.is_integer(column.type):
        return pc.cast(column, pa.string()).to_pandas()
    return column.to_pandas()


def parquet_feature(column: pa.ChunkedArray):
    kind = column.type
    if pa.types.is_decimal(kind):
        column, kind = pc.cast(column, pa.float64()), pa.float64()
    if pa.types.is_floating(kind) or pa.types.is_integer(kind) or pa.types.is_null(kind):
        return pc.cast(column, pa.float32(), safe=False).to_numpy().astype(np.float32, copy=False)
    return column.to_pandas()


# --- column mapping -----------------------------------------------------------------------------


def _normalise(header: object) -> str:
    return re.sub(r"[\s\-\.]+", "_", str(header).strip()).strip("_").upper()


def map_columns(path: Path, headers: list, mapping: dict[str, str]) -> tuple[dict, list]:
    """Return ({file header: contract name}, ignored headers)."""
    renamed: dict[object, str] = {}
    for contract_name, user_header in mapping.items():
        match = [h for h in headers if h == user_header or _normalise(h) == _normalise(user_header)]
        if not match:
            raise InputError(
                f"{path}: the config maps {contract_name} to column {user_header!r}, which the file does not have"
            )
        renamed[match[0]] = contract_name
    wanted = [c for c in (ID_COLUMN, *FEATURES) if c not in renamed.values()]
    by_norm: dict[str, list] = {}
    for header in headers:
        if header not in renamed:
            by_norm.setdefault(_normalise(header), []).append(header)
    missing = []
    for name in wanted:
        found = by_norm.get(name, [])
        if len(found) > 1:
            raise InputError(
                f"{path}: columns {', '.join(repr(str(h)) for h in found)} all match {name}; "
                f"map the right one under [input.columns] in the config"
            )
        if found:
            renamed[found[0]] = name
        else:
            missing.append(name)
    if missing:
        raise InputError(f"{path}: {_describe_missing(missing, headers)}")
    ignored = [str(h) for h in headers if h not in renamed]
    return renamed, ignored


def _describe_missing(missing: list[str], headers: list) -> str:
    first = missing[0]
    hint = difflib.get_close_matches(first, [_normalise(h) for h in headers], n=1, cutoff=0.75)
    suggestion = f" (the file has {hint[0]!r}; map it under [input.columns])" if hint else ""
    more = f" and {len(missing) - 1} more ({', '.join(missing[1:4])}{'…' if len(missing) > 4 else ''})" if len(missing) > 1 else ""
    return f"missing required column {first}{suggestion}{more}; map your headers under [input.columns] in the config"

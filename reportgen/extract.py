"""Reading a customer extract (CSV or Parquet) and mapping its columns onto the contract.

Real extracts differ from the reference file: other header case, a running-number column in
front, extra columns, numeric ids, other delimiters and encodings. Unambiguous differences are
absorbed here; anything that would need a guess is an :class:`~reportgen.errors.InputError`
that says how to fix it (usually a ``[input.columns]`` mapping in the config).
"""

from __future__ import annotations

import difflib
import gzip
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from reportgen.config import InputSettings
from reportgen.contract import FEATURES, ID_COLUMN
from reportgen.errors import InputError

_BINARY_SIGNATURES = {
    b"PK\x03\x04": "a ZIP archive or an Excel (.xlsx) workbook",
    b"\xd0\xcf\x11\xe0": "an Excel (.xls) workbook",
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
}
_DELIMITERS = (",", ";", "\t", "|")


@dataclass(frozen=True)
class Extract:
    """A loaded extract: contract columns only, plus the facts the report states about it.

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
    raw = _read_bytes(path)
    digest = hashlib.sha256(raw).hexdigest()
    if raw[:4] == b"PAR1":
        frame, delimiter, encoding, first_row, fmt = _read_parquet(path, raw), None, None, 1, "parquet"
    else:
        if raw[:2] == b"\x1f\x8b":
            raw = _gunzip(path, raw)
        _reject_binary(path, raw)
        text, encoding = _decode(path, raw, settings.encoding)
        delimiter = settings.delimiter or _sniff_delimiter(text)
        frame, first_row, fmt = _read_csv(path, text, delimiter), 2, "csv"
    if frame.empty and len(frame.columns) > 0:
        raise InputError(f"{path}: has a header but no customer rows")
    renamed, ignored = _map_columns(path, list(frame.columns), settings.columns)
    frame = frame[list(renamed)].rename(columns=renamed)[[ID_COLUMN, *FEATURES]]
    return Extract(
        frame=frame.reset_index(drop=True),
        path=path,
        sha256=digest,
        file_format=fmt,
        delimiter=delimiter,
        encoding=encoding,
        renamed={k: v for k, v in renamed.items() if k != v},
        ignored_columns=tuple(ignored),
        first_row=first_row,
    )


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected a CSV or Parquet file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    if not raw.strip():
        raise InputError(f"{path}: is empty, expected a header and one row per customer")
    return raw


def _gunzip(path: Path, raw: bytes) -> bytes:
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: is a damaged gzip file ({exc})") from None


def _reject_binary(path: Path, raw: bytes) -> None:
    for signature, what in _BINARY_SIGNATURES.items():
        if raw.startswith(signature):
            raise InputError(f"{path}: looks like {what}, not CSV; export it as CSV or Parquet")
    if b"\x00" in raw[:8192]:
        raise InputError(f"{path}: is a binary file, not CSV text; export it as CSV or Parquet")


def _decode(path: Path, raw: bytes, encoding: str | None) -> tuple[str, str]:
    candidates = [encoding] if encoding else ["utf-8-sig", "cp1252", "latin-1"]
    for candidate in candidates:
        try:
            return raw.decode(candidate), candidate
        except UnicodeDecodeError:
            continue
        except LookupError:
            raise InputError(f"{path}: unknown encoding {candidate!r} in the config") from None
    raise InputError(f"{path}: cannot be decoded as {encoding}; set [input] encoding in the config")


def _sniff_delimiter(text: str) -> str:
    header = text.split("\n", 1)[0]
    counts = {d: header.count(d) for d in _DELIMITERS}
    best = max(counts, key=counts.get)
    return best if counts[best] > 0 else ","


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


def _read_parquet(path: Path, raw: bytes) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(io.BytesIO(raw))
    except Exception as exc:  # pyarrow raises many types for damaged files
        raise InputError(f"{path}: cannot be read as Parquet ({exc.__class__.__name__})") from None
    return frame


def _normalise(header: object) -> str:
    return re.sub(r"[\s\-\.]+", "_", str(header).strip()).strip("_").upper()


def _map_columns(path: Path, headers: list, mapping: dict[str, str]) -> tuple[dict, list]:
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

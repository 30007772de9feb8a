"""Reading customers from a database: a URL plus a table or a query, streamed in Arrow batches.

``--data postgresql://user@host:5432/bank`` with ``[input] table = "customers"`` (or
``[input] query = "SELECT ..."``, or ``--table`` / ``--query``) reads the customers through ADBC
(``pip install 'reportgen[sql]'``): the server sends the rows in its binary COPY format, which
arrive as Arrow record batches, so a million customers take a few seconds and memory holds one
batch plus the float32 columns built so far.

The result goes through the same contract as a file: its column names are mapped like a file's
header (``[input.columns]`` included), only the contract columns are selected, and validation
names rows by their position in the result (1 = the first row the table or query returns; give
a query an ``ORDER BY`` to make those positions, and the report's fingerprint of the rows,
stable from run to run).

Secrets come only from the environment: a URL that carries a password is refused (it would be
kept in shell histories, process lists and logs); the password comes from ``PGPASSWORD`` (read
by the driver itself) or from the variable that ``[input] password_env`` names. Messages show
the URL without a password.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from reportgen.config import InputSettings
from reportgen.data.contract import FEATURES, ID_COLUMN
from reportgen.data.extract import Extract, map_columns
from reportgen.errors import ConfigError, InputError

# URL scheme -> the ADBC DB-API module that reads it (imported only when used).
DRIVERS: dict[str, str] = {
    "postgresql": "adbc_driver_postgresql.dbapi",
    "postgres": "adbc_driver_postgresql.dbapi",
}
CONNECT_TIMEOUT_SECONDS = 15
_BARE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


@dataclass(frozen=True)
class DatabaseSource:
    """Where the customers come from: a URL without a password and a table or a query.

    ``str()`` is what messages show (``postgresql://ana@db:5432/bank, table customers``);
    ``name`` is what the report states as its input (``customers`` or ``query``)."""

    url: str
    table: str | None = None
    query: str | None = None

    def __str__(self) -> str:
        return f"{self.url}, table {self.table}" if self.table else f"{self.url}, query"

    @property
    def name(self) -> str:
        return self.table or "query"

    @property
    def kind(self) -> str:
        return f"{url_scheme(self.url)} {'table' if self.table else 'query'}"


def load_database(url: str, settings: InputSettings) -> Extract:
    """Read the customers of ``settings.table`` or ``settings.query`` at ``url`` into an
    :class:`~reportgen.data.extract.Extract` (row numbers are positions in the result, from 1)."""
    source = database_source(url, settings)
    password = _password(source, settings)
    driver = _driver(source)
    with _connect(driver, source, password) as connection, connection.cursor() as cursor:
        relation = f"({settings.query.strip().rstrip(';')}) AS reportgen_source" if settings.query else _quote_table(settings.table)
        names = _execute(cursor, source, password, f"SELECT * FROM {relation} LIMIT 0").schema.names
        renamed, ignored = map_columns(source, names, settings.columns)
        by_contract = {contract: header for header, contract in renamed.items()}
        columns = ", ".join(_quote(by_contract[name]) for name in (ID_COLUMN, *FEATURES))
        reader = _execute(cursor, source, password, f"SELECT {columns} FROM {relation}")
        frame = _read_batches(reader, source, password)
    if len(frame) == 0:
        raise InputError(f"{source}: returned no customer rows")
    return Extract(
        frame=frame,
        path=source,
        sha256=fingerprint(frame),
        file_format=source.kind,
        delimiter=None,
        encoding=None,
        renamed={str(k): v for k, v in renamed.items() if k != v},
        ignored_columns=tuple(ignored),
        first_row=1,
    )


def database_source(url: str, settings: InputSettings) -> DatabaseSource:
    """Check ``url`` and the table or query settings; refuse a password in the URL."""
    parts = urlsplit(url)
    if parts.password is not None:
        masked = _without_password(parts, "***")
        raise InputError(
            f"{masked}: a password in the URL is refused (it would be kept in shell histories, process lists "
            f"and logs); set PGPASSWORD, or name an environment variable in [input] password_env"
        )
    if bool(settings.table) == bool(settings.query):
        raise ConfigError(
            f"{url}: a database URL needs a table or a query: --table NAME or --query SQL, "
            f"or [input] table / [input] query in the config (one of them, not both)"
        )
    return DatabaseSource(url=url, table=settings.table, query=settings.query)


def _without_password(parts, replacement: str | None) -> str:
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    user = quote(parts.username or "", safe="") if parts.username is not None else None
    if user is not None and replacement is not None:
        user = f"{user}:{replacement}"
    netloc = f"{user}@{host}{port}" if user is not None else f"{host}{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _password(source: DatabaseSource, settings: InputSettings) -> str | None:
    if not settings.password_env:
        return None  # the driver reads PGPASSWORD (and ~/.pgpass) itself
    value = os.environ.get(settings.password_env)
    if value is None:
        raise ConfigError(
            f"{source}: [input] password_env names {settings.password_env}, which is not set in the environment"
        )
    return value


def url_scheme(text: str) -> str:
    """The scheme of a URL, lower case, without a ``+driver`` suffix; '' for a path."""
    match = re.match(r"([A-Za-z][A-Za-z0-9+.\-]*)://", str(text))
    return match.group(1).lower().split("+", 1)[0] if match else ""


def is_database_url(data) -> bool:
    """Whether ``data`` is a URL of a database this package reads (``postgresql://...``)."""
    return isinstance(data, str) and url_scheme(data) in DRIVERS


def _driver(source: DatabaseSource):
    module = DRIVERS[url_scheme(source.url)]
    try:
        return importlib.import_module(module)
    except ImportError:
        raise InputError(
            f"{source.url}: reading from a database needs the ADBC driver: pip install 'reportgen[sql]'"
        ) from None


def _connect(driver, source: DatabaseSource, password: str | None):
    parts = urlsplit(source.url)
    params = [] if "connect_timeout=" in parts.query else [f"connect_timeout={CONNECT_TIMEOUT_SECONDS}"]
    if password is not None:
        params.append(f"password={quote(password, safe='')}")
    query = "&".join(p for p in (parts.query, *params) if p)
    uri = urlunsplit((parts.scheme.split("+", 1)[0], parts.netloc, parts.path, query, ""))
    try:
        return driver.connect(uri)
    except Exception as exc:  # the driver's errors (OperationalError...) have no common base we import
        raise InputError(f"{source.url}: cannot connect ({_reason(exc, password)})") from None


def _execute(cursor, source: DatabaseSource, password: str | None, sql: str):
    try:
        cursor.execute(sql)
        return cursor.fetch_record_batch()
    except Exception as exc:
        raise InputError(f"{source}: {_reason(exc, password)}") from None


def _reason(exc: Exception, password: str | None) -> str:
    """The server's own words, one line, without the driver's prefixes or a password."""
    text = str(exc)
    if password:
        text = text.replace(password, "***")
    text = re.sub(r"^[A-Z_]+: (\[libpq\] )?", "", text.strip())
    text = re.sub(r"^(?:(?:failed to (?:connect|prepare query|execute query)|could not infer schema): )+", "", text,
                  flags=re.IGNORECASE)
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), exc.__class__.__name__)
    return re.sub(r"\b(ERROR|FATAL):\s+", "", re.sub(r"^connection to server at [^:]+ failed: ", "", line))


def _read_batches(reader, source: DatabaseSource, password: str | None) -> pd.DataFrame:
    """Stream the record batches, turning each feature column into float32 as it arrives."""
    names = (ID_COLUMN, *FEATURES)
    parts: dict[str, list] = {name: [] for name in names}
    numeric = [(field.metadata or {}).get(b"ADBC:postgresql:typname") == b"numeric" for field in reader.schema]
    try:
        for batch in reader:
            for name, column, exact in zip(names, batch.columns, numeric):
                parts[name].append(_narrow(column, exact) if name != ID_COLUMN else _id_text(column))
    except Exception as exc:
        raise InputError(f"{source}: reading failed ({_reason(exc, password)})") from None
    return pd.DataFrame({name: _to_pandas(name, parts[name]) for name in names}, copy=False)


def fingerprint(frame: pd.DataFrame) -> str:
    """SHA-256 of the rows as read (column by column: names, values, empty cells), the
    database's counterpart of a file's hash: the same rows in the same order give the same
    fingerprint however the server batched them."""
    digest = hashlib.sha256()
    for name in frame.columns:
        digest.update(f"\x00{name}\x00".encode())
        values = frame[name]
        if pd.api.types.is_float_dtype(values):
            digest.update(np.ascontiguousarray(values.to_numpy()).tobytes())
            continue
        array = pa.chunked_array([pa.array(values, from_pandas=True)]).combine_chunks()
        array = pc.cast(array, pa.large_string()) if not pa.types.is_large_string(array.type) else array
        offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[array.offset : array.offset + len(array) + 1]
        digest.update((offsets - offsets[0]).tobytes())
        data = array.buffers()[2]
        if data is not None:
            digest.update(memoryview(data)[offsets[0] : offsets[-1]])
        digest.update(np.asarray(pc.is_null(array).to_numpy(zero_copy_only=False)).tobytes())
    return digest.hexdigest()


def _storage(column: pa.Array) -> pa.Array:
    return column.storage if isinstance(column.type, pa.BaseExtensionType) else column


def _id_text(column: pa.Array) -> pa.Array:
    column = _storage(column)
    return pc.cast(column, pa.string()) if not pa.types.is_string(column.type) else column


def _narrow(column: pa.Array, numeric_text: bool) -> pa.Array:
    """A number column as float32 (PostgreSQL's ``numeric`` arrives as text, ``numeric_text``:
    parsed here); text and booleans are kept for validation to judge and name the rows."""
    column = _storage(column)
    kind = column.type
    if numeric_text and pa.types.is_string(kind):
        column, kind = pc.cast(column, pa.float64()), pa.float64()
    if pa.types.is_decimal(kind):
        column, kind = pc.cast(column, pa.float64()), pa.float64()
    if pa.types.is_floating(kind) or pa.types.is_integer(kind) or pa.types.is_null(kind):
        return pc.cast(column, pa.float32(), safe=False)
    return column


def _to_pandas(name: str, chunks: list):
    if not chunks:
        return np.zeros(0, np.float32) if name != ID_COLUMN else pd.Series([], dtype=object)
    column = pa.chunked_array(chunks)
    if pa.types.is_float32(column.type):
        return column.to_numpy()
    return column.to_pandas()


def _quote(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _quote_table(table: str) -> str:
    """``schema.table`` as SQL: bare names as written (the server folds their case, as in SQL),
    anything else quoted exactly."""
    return ".".join(part if _BARE_NAME.fullmatch(part) else _quote(part) for part in table.split("."))

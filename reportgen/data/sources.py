"""Where the customers come from: a local file, a database URL, or a URL this engine cannot read.

:func:`load_source` is what the local engine calls with ``--data``: a path (or ``file://`` URL)
is read by :mod:`reportgen.data.extract`, a database URL (``postgresql://...``) by
:mod:`reportgen.data.database`. Object-store and cluster URLs (``s3://``, ``gs://``,
``abfss://``, ``hdfs://``...) are read by the Spark engine, and the default engine says so in one
line instead of taking them for local paths (``Path("s3://bank/x")`` would be ``s3:/bank/x``).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from reportgen.config import InputSettings
from reportgen.data.database import DRIVERS, is_database_url, load_database, url_scheme
from reportgen.data.extract import Extract, load_extract
from reportgen.errors import InputError

# Schemes of object stores and cluster file systems, which only the Spark engine reads.
OBJECT_STORES = ("s3", "s3a", "s3n", "gs", "gcs", "abfs", "abfss", "az", "adl", "wasb", "wasbs", "hdfs", "dbfs")


def load_source(data: Path | str, settings: InputSettings) -> Extract:
    """The customers of ``data`` (a path or a URL), read as ``settings`` say."""
    if is_database_url(data):
        return load_database(data, settings)
    return load_extract(local_path(data), settings)


def local_path(data: Path | str) -> Path:
    """``data`` as a local path; a URL that is not one fails in one line that says what reads it."""
    if isinstance(data, Path):
        return data
    text = str(data)
    scheme = "dbfs" if text.startswith("dbfs:") else url_scheme(text)
    if scheme == "file":
        return Path(unquote(urlsplit(text).path))
    if scheme in OBJECT_STORES:
        raise InputError(
            f"{text}: {scheme}:// URLs are read by the Spark engine: add --engine spark "
            f"(pip install 'reportgen[spark]'), or copy the file to a local path"
        )
    if scheme:
        raise InputError(
            f"{text}: unknown URL scheme {scheme}://; --data takes a local file, a database URL "
            f"({', '.join(f'{s}://' for s in sorted(DRIVERS))}) or, with --engine spark, an object-store URL"
        )
    return Path(text)

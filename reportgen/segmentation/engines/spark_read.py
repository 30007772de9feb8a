"""Reading an extract on Spark: local files, object stores and Parquet datasets, with the header,
delimiter and encoding found by the default engine's file scan.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reportgen.config import InputSettings
from reportgen.data.extract import NO_ROWS, header_names, map_columns
from reportgen.data.scan import first_line, scan_file, sniff_delimiter
from reportgen.errors import InputError

_EXTRA_FIELDS = 32  # columns beyond the header, to count the fields of ragged rows
_ROW = "_row"
_BUCKET_SCHEMES = {"s3", "s3a", "s3n", "gs", "abfs", "abfss", "wasb", "wasbs", "oss", "cos"}
_FLOAT32_MAX = float(np.finfo(np.float32).max)  # beyond it a value is infinite in float32, as on pandas
_CSV_CHARSETS = {"iso-8859-1", "us-ascii", "utf-16", "utf-16be", "utf-16le", "utf-32", "utf-8"}
_SPARK_CHARSETS = {"utf-8-sig": "UTF-8", "utf-8": "UTF-8", "cp1252": "windows-1252", "latin-1": "ISO-8859-1"}


@dataclass(frozen=True)
class _Source:
    frame: object  # Spark DataFrame: _row, CUST_ID, the 17 features as read, _extra (fields beyond the header)
    path: Path
    sha256: str
    file_format: str
    delimiter: str | None
    encoding: str | None
    renamed: dict
    ignored: tuple[str, ...]
    first_row: int
    text: bool  # CSV: every column is text
    header_fields: int = 0


def _read(spark, data: str, settings: InputSettings) -> _Source:
    from pyspark.sql import functions as F

    data = _location(data)
    local = Path(data)
    is_local = "://" not in data and not data.startswith("dbfs:")
    parts = sorted(local.glob("*.csv*")) if is_local and local.is_dir() else []  # a folder of CSV part files
    readable = is_local and (parts or not local.is_dir())
    scan = scan_file(parts[0] if parts else local, settings.encoding) if readable else None
    if scan is not None:
        parquet = scan.parquet
    else:
        parquet = data.rstrip("/").endswith(".parquet") or (is_local and local.is_dir())
    location = str(local.resolve()) if is_local else data
    path = local if is_local else Path(data)
    sha256 = scan.sha256 if scan is not None and not parts else "not computed (folder or remote input)"
    if parquet:
        frame = _read_parquet(spark, location, path, is_local)
        headers = [c for c in frame.columns if not (c.startswith("__index_level_") and c.endswith("__"))]
        try:
            renamed, ignored = map_columns(path, headers, settings.columns)
        except InputError:  # an empty file says so first, as on the default engine
            if headers and frame.limit(1).count() == 0:
                raise InputError(NO_ROWS.format(path=path)) from None
            raise
        frame = frame.select(
            F.monotonically_increasing_id().alias(_ROW),
            *(F.col(_quote(h)).alias(name) for h, name in renamed.items()),
            F.lit(0).alias("_extra"),
        )
        return _Source(frame, path, sha256, "parquet", None, None, {k: v for k, v in renamed.items() if k != v},
                       tuple(ignored), 1, False, len(headers))
    encoding = scan.encoding if scan is not None else (settings.encoding or "utf-8")
    if scan is not None:
        line = first_line(scan, skip_blank=True)  # Spark, like pandas, skips blank lines before the header
    else:
        row = spark.read.text(location).limit(1).collect()
        if not row:
            raise InputError(f"{path}: is empty, expected a header and one row per customer")
        line = row[0][0]
    delimiter = settings.delimiter or sniff_delimiter(line)
    header = header_names(line, delimiter)
    renamed, ignored = map_columns(path, header, settings.columns)
    if scan is not None and scan.gzip and not parts and not data.endswith(".gz"):
        location = _gz_alias(local)
    multiline = scan is not None and scan.quoted  # only quoted fields can hold line breaks
    frame = _read_csv(spark, location, header, delimiter, _SPARK_CHARSETS.get(encoding.lower(), encoding), multiline)
    position = {h: i for i, h in enumerate(header)}
    extras = [F.col(f"_x{i}").isNotNull().cast("int") for i in range(_EXTRA_FIELDS)]
    frame = frame.select(
        F.monotonically_increasing_id().alias(_ROW),
        *(F.col(f"_c{position[h]}").alias(name) for h, name in renamed.items()),
        sum(extras[1:], extras[0]).alias("_extra"),
    )
    return _Source(frame, path, sha256, "csv", delimiter, encoding, {k: v for k, v in renamed.items() if k != v},
                   tuple(ignored), 2, True, len(header))


def _location(data: str) -> str:
    """``data`` as Spark wants it; an object-store URI squashed by pathlib (``s3a:/bucket/key``,
    from ``Path("s3a://bucket/key")``) gets its ``//`` back."""
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]+):/+(?=[^/])(.*)$", data)
    if match and match.group(1).lower() in _BUCKET_SCHEMES:
        return f"{match.group(1)}://{match.group(2)}"
    return data


def _read_csv(spark, location: str, header: list[str], delimiter: str, charset: str, multiline: bool):
    """Every field as text, under names of our own: ``_c0..`` for the header, ``_x0..`` beyond it.

    ``multiLine`` (quoted fields with line breaks) reads each file in one piece, so it is on only
    for local files that quote some field; other charsets than Spark's short list of CSV charsets
    (e.g. windows-1252) need ``spark.sql.legacy.javaCharsets``."""
    from pyspark.sql import types as T

    if charset.lower() not in _CSV_CHARSETS:
        spark.conf.set("spark.sql.legacy.javaCharsets", "true")
    names = [f"_c{i}" for i in range(len(header))] + [f"_x{i}" for i in range(_EXTRA_FIELDS)]
    schema = T.StructType([T.StructField(n, T.StringType()) for n in names])
    return (
        spark.read.schema(schema)
        .options(header=True, sep=delimiter, quote='"', escape='"', encoding=charset, mode="PERMISSIVE",
                 enforceSchema=True, multiLine=multiline)
        .csv(location)
    )


def _read_parquet(spark, location: str, path: Path, is_local: bool):
    """A Parquet file or folder; a damaged file is an InputError, checked with pyarrow when local."""
    try:
        if is_local and Path(location).is_file():
            import pyarrow.parquet as pq

            pq.ParquetFile(location)
        return spark.read.parquet(location)
    except Exception as exc:  # pyarrow and Spark raise many types for damaged files
        raise InputError(f"{path}: cannot be read as Parquet ({exc.__class__.__name__})") from None


def _gz_alias(path: Path) -> str:
    """Spark picks the codec from the file name: give a gzip file without .gz a name that says so."""
    alias = Path(tempfile.mkdtemp(prefix="reportgen-spark-")) / f"{path.name}.gz"
    alias.symlink_to(path.resolve())
    return str(alias)


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _to_arrow(frame):
    """A Spark DataFrame as a pyarrow Table (``toArrow`` from Spark 4, ``toPandas`` before)."""
    import pyarrow as pa

    if hasattr(frame, "toArrow"):
        return frame.toArrow()
    return pa.Table.from_pandas(frame.toPandas(), preserve_index=False)  # pragma: no cover - PySpark 3.5

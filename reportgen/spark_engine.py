"""Segmentation on Apache Spark: the same :class:`SegmentationResult`, computed where the data is.

``run_segmentation_spark`` is the Spark twin of :func:`reportgen.pipeline.run_segmentation`. It
runs in local mode (``local[2]``) unless given a ``master`` (``yarn``, ``spark://host:7077``,
``k8s://...``) or one is configured the usual way: ``$SPARK_MASTER``, ``spark-submit --master``,
or ``spark.master`` in ``spark-defaults.conf``. It stops the session it started.

What runs where:

- **On Spark:** reading the extract (``spark.read`` CSV or Parquet; local paths, ``hdfs://``,
  ``s3a://``, ``gs://``, ``abfss://``, ``dbfs:/``), every validation check of
  :mod:`reportgen.validation` in one aggregation pass (ids empty or repeated, text in numeric
  columns, gaps, infinities, ranges, ragged rows), frequency capping, median imputation (exact
  ``percentile``), the ``log1p`` transform and scaling statistics, the k-selection sample, K-Means
  (``pyspark.ml.clustering.KMeans``, k-means|| initialisation, fixed seed) and the assignment of
  every customer.
- **Collected to the driver:**

  - for a failed check, the first five row numbers and the count (row numbers count rows of one
    file in file order, from ``monotonically_increasing_id`` and the rows per partition; for a
    folder of part files they are positions in Spark's read order);
  - the k-selection sample: at most ``selection_sample`` scaled customers (20,000). Inertia,
    silhouette, Calinski-Harabasz, Davies-Bouldin and bootstrap stability are computed on it by
    :func:`reportgen.selection.select_k`, the same code and rule as the default engine;
  - the k centroids;
  - every customer's id, 17 clean features (float32) and segment, ordered as in the file: about
    80 bytes per customer (0.8 GB for ten million). :class:`SegmentationResult` and the report
    model are customer-level (KPIs per segment, the filter cube, target lists, the history of
    assignments), so the default engine's code builds profiles, personas, the PCA picture and
    the correlation from these arrays. This bounds the engine by the driver's memory; going
    further would mean building the report model from aggregates computed in Spark.

Differences from the default engine, documented rather than accidental:

- numbers are parsed by Spark (Java's parser: a few spellings such as ``1d`` count as numbers);
  values beyond float32's range are reported as infinite, as on the default engine;
- a CSV file is read with ``multiLine`` (quoted fields holding line breaks) only when it is local
  and quotes some field, because ``multiLine`` reads each file in one piece; convert remote CSV
  files with such fields to Parquet;
- a row whose extra fields are all empty is not reported as ragged (Spark reads them as null),
  and a first data row with one extra field is reported as ragged (pandas takes it as an index);
- the file's SHA-256 is computed for local files only;
- K-Means keeps the best (lowest cost) of :data:`KMEANS_STARTS` k-means|| starts instead of the
  best of ten k-means++ starts (or the sample-seeded passes beyond 200,000 customers), so the
  assignments agree with the default engine's closely (adjusted Rand index 0.995 on the
  reference file at k = 5), not exactly.
"""

from __future__ import annotations

import os
import re
import tempfile
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from reportgen.config import InputSettings, Settings
from reportgen.contract import BY_NAME, FEATURES, FREQUENCIES, ID_COLUMN, IMPUTABLE, SKEWED, TENURE_RANGE
from reportgen.errors import ConfigError, InputError
from reportgen.extract import (
    EMPTY_MARKERS,
    Extract,
    first_line,
    header_names,
    map_columns,
    scan_file,
    sniff_delimiter,
)
from reportgen.features import Scaler
from reportgen.validation import (
    BAD_TENURE,
    BOOLEAN,
    DUPLICATE_ID,
    EMPTY_ID,
    FEATURE_DTYPE,
    FREQUENCY_CAP_LIMIT,
    GAP,
    INFINITE,
    MIN_CUSTOMERS_PER_SEGMENT,
    NEGATIVE,
    OUTSIDE_FREQUENCY,
    TEXT,
    CleanData,
    all_empty_message,
    describe_rows,
    identical_message,
    too_few_message,
)

LOCAL_MASTER = "local[2]"
KMEANS_MAX_ITER = 100
KMEANS_STARTS = 3
KMEANS_TOL = 1e-4
_EXTRA_FIELDS = 32  # columns beyond the header, to count the fields of ragged rows
_ROW = "_row"
_BUCKET_SCHEMES = {"s3", "s3a", "s3n", "gs", "abfs", "abfss", "wasb", "wasbs", "oss", "cos"}
_FLOAT32_MAX = float(np.finfo(np.float32).max)  # beyond it a value is infinite in float32, as on pandas
_CSV_CHARSETS = {"iso-8859-1", "us-ascii", "utf-16", "utf-16be", "utf-16le", "utf-32", "utf-8"}
_SPARK_CHARSETS = {"utf-8-sig": "UTF-8", "utf-8": "UTF-8", "cp1252": "windows-1252", "latin-1": "ISO-8859-1"}
_LOG4J = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = stderr
appender.stderr.type = Console
appender.stderr.name = stderr
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = %d{yyyy-MM-dd'T'HH:mm:ss} spark %p %c{1}: %m%n%ex
logger.repl.name = org.apache.spark.repl.Main
logger.repl.level = error
logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer
logger.gateway.level = error
"""


def run_segmentation_spark(
    data, settings: Settings, log=None, master: str | None = None, *, spark=None,
    previous=None, refit: bool = False, month: str = "",
):
    """Segment the customers in ``data`` on Spark; returns a :class:`~reportgen.pipeline.SegmentationResult`.

    ``master`` picks the cluster (default: ``$SPARK_MASTER``, spark-submit's or
    spark-defaults' ``spark.master``, else ``local[2]``); ``spark`` is a SparkSession to use
    instead, and without either an active session (a notebook's, Databricks') is used; those
    are left running, a session started here is stopped. ``previous``, ``refit`` and ``month``
    mean what they mean for :func:`~reportgen.pipeline.run_segmentation`."""
    from reportgen.personas import load_playbook

    log = log or (lambda step: None)
    log("load")
    playbook = load_playbook(settings.playbook)
    seg = settings.segmentation
    scoring = previous is not None and not refit
    largest_k = len(previous.model.segments) if scoring else max(seg.k_max, seg.k or 0)
    with quiet_pyspark():
        session, own = _session(spark, master)
        cached: list = []
        try:
            source = _read(session, str(data), settings.input)
            checked = _validate(source, MIN_CUSTOMERS_PER_SEGMENT * largest_k, cached)
            log("transform")
            scaler = previous.model.scaler if scoring else _fit_scaler(checked.frame)
            scaled = _scale(checked.frame, scaler)
            log("choose k")
            sample = _collect_sample(scaled, scaler, checked.rows, seg)
            _check_distinct(source.path, scaled, scaler, sample, seg.k or seg.k_min)
            from reportgen.selection import select_k

            selection = select_k(sample, seg)
            log("fit")
            fitted = None if scoring else _fit_kmeans(scaled, selection.chosen_k, seg.seed)
            ids, features, labels = _collect_customers(scaled, fitted)
            centroids = None if fitted is None else np.asarray(fitted.clusterCenters(), dtype=np.float64)
        finally:
            for frame in cached:
                frame.unpersist()
            if own:
                session.stop()
    clean = CleanData(ids, features, checked.imputed, checked.impute_values, checked.capped)
    extract = Extract(
        frame=pd.concat([ids.rename(ID_COLUMN), features], axis=1),
        path=source.path, sha256=source.sha256, file_format=source.file_format, delimiter=source.delimiter,
        encoding=source.encoding, renamed=source.renamed, ignored_columns=source.ignored, first_row=source.first_row,
    )
    from reportgen.pipeline import finish_segmentation  # naming, ordering, profiles: as the default engine

    return finish_segmentation(
        extract, clean, scaler, scaler.transform(clean.features), selection, playbook, settings, log,
        fitted=None if centroids is None else (labels, centroids), previous=previous, month=month,
    )


# --- session --------------------------------------------------------------------------------------


def _session(spark, master: str | None):
    """(session, started here): the given one, else the active one (a notebook's, Databricks'),
    else a new one. Only a session started here is stopped at the end."""
    if spark is not None:
        return spark, False
    try:
        from pyspark.sql import SparkSession

        active = SparkSession.getActiveSession()
    except ImportError:
        active = None
    if active is not None and master is None:
        return active, False
    return start_session(master), True


def start_session(master: str | None = None):
    """A SparkSession for reportgen: quiet (errors only, no progress bars), Arrow transfers.

    In local mode (the default, ``local[2]``) the UI is off and shuffles use few partitions."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError(
            "the Spark engine needs PySpark: pip install 'reportgen[spark]' (and Java 17 or later)"
        ) from None

    master = master or os.environ.get("SPARK_MASTER") or (None if _master_configured() else LOCAL_MASTER)
    builder = SparkSession.builder.appName("reportgen")
    if master:
        builder = builder.master(master)
    builder = (
        builder.config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile=file:{_log4j_file()}")
    )
    if master and master.startswith("local"):
        builder = (
            builder.config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "8")
            .config("spark.driver.memory", os.environ.get("REPORTGEN_SPARK_DRIVER_MEMORY", "4g"))
        )
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # no JVM, an unreachable master, a bad configuration: PySpark raises many types
        where = master or "the master in the Spark configuration"
        raise ConfigError(
            f"Spark could not start on {where} ({exc.__class__.__name__}); it needs Java 17 or later "
            "(java on PATH or JAVA_HOME) and a reachable master"
        ) from None
    session.sparkContext.setLogLevel("ERROR")
    return session


def _master_configured() -> bool:
    """True when spark-submit or spark-defaults.conf already says which cluster to use."""
    if os.environ.get("PYSPARK_GATEWAY_PORT"):  # started by spark-submit, which knows its --master
        return True
    home = os.environ.get("SPARK_HOME")
    for folder in (os.environ.get("SPARK_CONF_DIR"), home and Path(home) / "conf"):
        defaults = Path(folder) / "spark-defaults.conf" if folder else None
        if defaults is not None and defaults.is_file():
            for line in defaults.read_text(errors="replace").splitlines():
                if line.split(None, 1)[:1] == ["spark.master"]:
                    return True
    return False


def _log4j_file() -> Path:
    path = Path(tempfile.gettempdir()) / "reportgen-spark-log4j2.properties"
    if not path.exists() or path.read_text() != _LOG4J:
        path.write_text(_LOG4J)
    return path


@contextmanager
def quiet_pyspark():
    """PySpark warns that it does not fully support pandas 3; what we use of it works."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
        yield


# --- reading ----------------------------------------------------------------------------------------


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
        if frame.limit(1).count() == 0 and headers:
            raise InputError(f"{path}: has a header but no customer rows")
        renamed, ignored = map_columns(path, headers, settings.columns)
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
    if frame.limit(1).count() == 0:
        raise InputError(f"{path}: has a header but no customer rows")
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


# --- validation ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Checked:
    frame: object  # Spark DataFrame: _row, CUST_ID (stripped), the 17 features as clean doubles
    rows: int
    imputed: dict
    impute_values: dict
    capped: dict


def _validate(source: _Source, min_customers: int, cached: list) -> _Checked:
    """Every check of :mod:`reportgen.validation`, as one aggregation, failing on the first in its order.

    The parsed frame is cached (memory, spilling to disk) for the passes that follow."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    frame = source.frame
    id_empty, id_text = _id_parts(frame, source.text)
    values, bad = {}, {}
    for name in FEATURES:
        values[name], bad[name] = _number(frame, name, source.text)
    frame = frame.select(_ROW, "_extra", id_text.alias(ID_COLUMN), id_empty.alias("_id_empty"),
                         *(values[n].alias(n) for n in FEATURES), *(bad[n].alias(f"_bad_{n}") for n in FEATURES))
    frame = frame.persist(StorageLevel.MEMORY_AND_DISK)
    cached.append(frame)
    checks = [("_ragged", F.col("_extra") > 0), ("_id_empty", F.col("_id_empty"))]
    checks += [(f"_bad_{n}", F.col(f"_bad_{n}")) for n in FEATURES]
    checks += [(f"_over_{n}", F.col(n) > 1) for n in FREQUENCIES]
    for name in FEATURES:
        col = F.col(name)
        checks.append((f"_nonempty_{name}", col.isNotNull()))
        checks.append((f"_gap_{name}", col.isNull()))
        checks.append((f"_inf_{name}", F.abs(col) > _FLOAT32_MAX))
        checks.append((f"_range_{name}", _outside(name, col)))
    counts = frame.agg(
        F.count(F.lit(1)).alias("_rows"),
        *(F.sum(F.when(cond, 1).otherwise(0)).alias(key) for key, cond in checks),
        *(F.min(n).alias(f"_min_{n}") for n in FEATURES),
        *(F.max(n).alias(f"_max_{n}") for n in FEATURES),
    ).collect()[0].asDict()
    fail = _failer(source, frame)
    if counts["_ragged"]:
        _raise_ragged(source, frame)
    if counts["_id_empty"]:
        fail(ID_COLUMN, EMPTY_ID, F.col("_id_empty"), counts["_id_empty"])
    duplicated = frame.groupBy(ID_COLUMN).count().where(F.col("count") > 1)
    if duplicated.limit(1).count():
        repeated = frame.join(duplicated.select(ID_COLUMN), on=ID_COLUMN, how="left_semi")
        fail(ID_COLUMN, DUPLICATE_ID, F.lit(True), repeated.count(), repeated)
    for name in FEATURES:
        if counts[f"_bad_{name}"]:
            check = BOOLEAN if dict(source.frame.dtypes).get(name) == "boolean" else TEXT
            fail(name, check, F.col(f"_bad_{name}"), counts[f"_bad_{name}"])
    for name in FEATURES:
        if not counts[f"_nonempty_{name}"]:
            raise InputError(all_empty_message(source.path, name))
        if name not in IMPUTABLE and counts[f"_gap_{name}"]:
            fail(name, GAP, F.col(name).isNull(), counts[f"_gap_{name}"])
    for name in FEATURES:
        if counts[f"_inf_{name}"]:
            fail(name, INFINITE, F.abs(F.col(name)) > _FLOAT32_MAX, counts[f"_inf_{name}"])
        if counts[f"_range_{name}"]:
            fail(name, _range_check(name), _outside(name, F.col(name)), counts[f"_range_{name}"])
    return _clean(frame, counts, min_customers, source.path)


def _id_parts(frame, text: bool):
    """(empty-id condition, the id as stripped text); numeric ids read as pandas writes them."""
    from pyspark.sql import functions as F

    kind = dict(frame.dtypes).get(ID_COLUMN)
    col = F.col(ID_COLUMN)
    if text or kind == "string":
        return _text_parts(col)
    as_text = col.cast("string")
    if kind in ("double", "float"):
        as_text = F.regexp_replace(as_text, r"\.0$", "")
    return col.isNull(), as_text


def _text_parts(column):
    """(empty-cell condition, stripped text): markers compare case-insensitively, as on pandas."""
    from pyspark.sql import functions as F

    stripped = F.regexp_replace(column, r"(?U)^\s+|\s+$", "")
    empty = column.isNull() | F.lower(stripped).isin(list(EMPTY_MARKERS))
    return empty, stripped


def _number(frame, name: str, text: bool):
    """(value as double, null when empty; the condition 'this cell is not a number')."""
    from pyspark.sql import functions as F

    kind = dict(frame.dtypes).get(name)
    col = F.col(name)
    if kind == "boolean":
        return F.lit(None).cast("double"), F.lit(True)
    if not text and kind != "string":
        value = col.cast("double")
        return F.when(F.isnan(value), None).otherwise(value), F.lit(False)
    empty, stripped = _text_parts(col)
    number = _try_double(F.regexp_replace(stripped, ",", ""))
    bad = ~empty & (number.isNull() | F.isnan(number))
    return F.when(empty | bad, None).otherwise(number), bad


def _try_double(column):
    try:
        return column.try_cast("double")
    except AttributeError:  # PySpark < 4: a failed cast is null when ANSI mode is off (3.5's default)
        return column.cast("double")


def _outside(name: str, col):
    kind = BY_NAME[name].kind
    if kind in ("amount", "count"):
        return col < 0
    if kind == "frequency":
        return (col < 0) | (col > FREQUENCY_CAP_LIMIT)
    low, high = TENURE_RANGE
    return (col < low) | (col > high) | (col % 1 != 0)


def _range_check(name: str) -> str:
    kind = BY_NAME[name].kind
    return NEGATIVE if kind in ("amount", "count") else OUTSIDE_FREQUENCY if kind == "frequency" else BAD_TENURE


def _failer(source: _Source, frame):
    """A function raising the check's error with its first five row numbers, as pandas would."""

    def fail(column: str, check: str, condition, total: int, where=None):
        where = frame if where is None else where
        found = [r[0] for r in where.where(condition).select(_ROW).orderBy(_ROW).limit(5).collect()]
        rows = describe_rows(source.first_row, _positions(frame, found), total)
        raise InputError(f"{source.path}: column {column}: {check} in {rows}")

    return fail


def _positions(frame, row_ids: list[int]) -> list[int]:
    """0-based row positions of ``monotonically_increasing_id`` values (partition << 33 | offset)."""
    from pyspark.sql import functions as F

    if not row_ids:
        return []
    sizes = dict(frame.groupBy(F.shiftright(F.col(_ROW), 33).alias("p")).count().collect())
    starts, total = {}, 0
    for partition in sorted(sizes):
        starts[partition] = total
        total += sizes[partition]
    return [starts[r >> 33] + (r & ((1 << 33) - 1)) for r in row_ids]


def _raise_ragged(source: _Source, frame) -> None:
    """The first row with more fields than the header (counted up to 32 extra fields)."""
    from pyspark.sql import functions as F

    row_id, extra = frame.where(F.col("_extra") > 0).select(_ROW, "_extra").orderBy(_ROW).limit(1).collect()[0]
    position = _positions(frame, [row_id])[0]
    fields = f"{source.header_fields + extra}{' or more' if extra >= _EXTRA_FIELDS else ''}"
    raise InputError(
        f"{source.path}: ragged rows: row {position + source.first_row} has {fields} fields, "
        f"the header has {source.header_fields}"
    )


def _clean(frame, counts: dict, min_customers: int, path: Path) -> _Checked:
    """Cap frequencies, impute gaps with the exact median, check there is something to segment."""
    from pyspark.sql import functions as F

    n = counts["_rows"]
    if n < min_customers:
        raise InputError(too_few_message(path, n, min_customers))
    medians = frame.agg(*(F.percentile(F.col(c), 0.5).alias(c) for c in IMPUTABLE)).collect()[0].asDict()
    impute_values = {c: float(medians[c]) for c in IMPUTABLE}
    imputed = {c: int(counts[f"_gap_{c}"]) for c in IMPUTABLE}
    capped = {c: int(counts[f"_over_{c}"]) for c in FREQUENCIES if counts[f"_over_{c}"]}
    low = {c: counts[f"_min_{c}"] for c in FEATURES}
    high = {c: counts[f"_max_{c}"] for c in FEATURES}
    for c in FREQUENCIES:
        low[c], high[c] = min(low[c], 1.0), min(high[c], 1.0)
    if all(low[c] == high[c] for c in FEATURES):  # every column constant: all customers identical
        raise InputError(identical_message(path, n))
    columns = []
    for c in FEATURES:
        col = F.col(c)
        if c in FREQUENCIES:
            col = F.when(col > 1, F.lit(1.0)).otherwise(col)
        if c in IMPUTABLE:
            col = F.coalesce(col, F.lit(impute_values[c]))
        columns.append(col.alias(c))
    clean = frame.select(_ROW, ID_COLUMN, *columns)
    return _Checked(clean, n, imputed, impute_values, capped)


# --- transform, k evidence, K-Means ---------------------------------------------------------------


def _cluster_features() -> tuple[str, ...]:
    from reportgen.pipeline import CLUSTER_FEATURES

    return CLUSTER_FEATURES


def _logged(name: str):
    from pyspark.sql import functions as F

    return F.log1p(F.col(name)) if name in SKEWED else F.col(name)


def _fit_scaler(frame) -> Scaler:
    """Mean and population standard deviation of each clustered column after log1p, on Spark."""
    from pyspark.sql import functions as F

    columns = _cluster_features()
    stats = frame.agg(
        *(F.avg(_logged(c)).alias(f"m{i}") for i, c in enumerate(columns)),
        *(F.stddev_pop(_logged(c)).alias(f"s{i}") for i, c in enumerate(columns)),
    ).collect()[0]
    mean = tuple(float(stats[f"m{i}"]) for i in range(len(columns)))
    scale = tuple(float(stats[f"s{i}"]) or 1.0 for i in range(len(columns)))  # constant column: keep at 0
    return Scaler(columns, tuple(c for c in columns if c in SKEWED), mean, scale)


def _scale(frame, scaler: Scaler):
    """The clean frame plus the scaled columns ``_z0..`` and their vector ``features``."""
    from pyspark.ml.feature import VectorAssembler
    from pyspark.sql import functions as F

    zs = [
        ((_logged(c) if c in scaler.log_columns else F.col(c)) - F.lit(m)) / F.lit(s)
        for c, m, s in zip(scaler.columns, scaler.mean, scaler.scale)
    ]
    scaled = frame.select("*", *(z.alias(f"_z{i}") for i, z in enumerate(zs)))
    return VectorAssembler(inputCols=[f"_z{i}" for i in range(len(zs))], outputCol="features").transform(scaled)


def _collect_sample(scaled, scaler: Scaler, rows: int, seg) -> np.ndarray:
    """At most ``selection_sample`` scaled customers (a seeded Spark sample), as a float64 matrix."""
    columns = [f"_z{i}" for i in range(len(scaler.columns))]
    picked = scaled.select(_ROW, *columns)
    if rows > seg.selection_sample:
        fraction = min(1.0, 1.2 * seg.selection_sample / rows)
        picked = picked.sample(withReplacement=False, fraction=fraction, seed=seg.seed).orderBy(_ROW).limit(
            seg.selection_sample
        )
    table = _to_arrow(picked)
    table = table.sort_by(_ROW)
    return np.column_stack([table.column(c).to_numpy() for c in columns]).astype(np.float64)


def _check_distinct(path: Path, scaled, scaler: Scaler, sample: np.ndarray, k: int) -> None:
    if len(np.unique(sample, axis=0)) >= k:
        return
    columns = [f"_z{i}" for i in range(len(scaler.columns))]
    if scaled.select(*columns).distinct().limit(k).count() < k:
        raise InputError(f"{path}: fewer than {k} distinct customer behaviours; cannot form {k} segments")


def _fit_kmeans(scaled, k: int, seed: int):
    """pyspark.ml K-Means on every customer: the best (lowest cost) of :data:`KMEANS_STARTS`
    k-means|| starts with seeds ``seed``, ``seed + 1``, ...; like scikit-learn's ``n_init``,
    because a single start can settle in a clearly worse local optimum (on the reference file
    one start in three or four does: cost 70,782 against 69,111)."""
    from pyspark.ml.clustering import KMeans

    best, best_cost = None, float("inf")
    for start in range(KMEANS_STARTS):
        model = KMeans(
            k=k, seed=seed + start, maxIter=KMEANS_MAX_ITER, tol=KMEANS_TOL,
            featuresCol="features", predictionCol="prediction",
        ).fit(scaled)
        cost = float(model.summary.trainingCost)
        if cost < best_cost:
            best, best_cost = model, cost
    return best


def _collect_customers(scaled, fitted) -> tuple[pd.Series, pd.DataFrame, np.ndarray]:
    """Every customer's id, clean features (float32) and segment, in file order, via Arrow."""
    from pyspark.sql import functions as F

    frame = fitted.transform(scaled) if fitted is not None else scaled.withColumn("prediction", F.lit(0))
    table = _to_arrow(
        frame.select(_ROW, ID_COLUMN, *(F.col(c).cast("float").alias(c) for c in FEATURES),
                     F.col("prediction").cast("int").alias("prediction"))
    ).sort_by(_ROW)
    ids = table.column(ID_COLUMN).to_pandas().astype("str").rename(ID_COLUMN)
    features = pd.DataFrame({c: table.column(c).to_numpy().astype(FEATURE_DTYPE, copy=False) for c in FEATURES})
    labels = table.column("prediction").to_numpy().astype(np.int32)
    return ids, features, labels


def _to_arrow(frame):
    """A Spark DataFrame as a pyarrow Table (``toArrow`` from Spark 4, ``toPandas`` before)."""
    import pyarrow as pa

    if hasattr(frame, "toArrow"):
        return frame.toArrow()
    return pa.Table.from_pandas(frame.toPandas(), preserve_index=False)  # pragma: no cover - PySpark 3.5

"""Segmentation on Apache Spark: the same :class:`SegmentationResult`, computed where the data is.

``run_segmentation_spark`` is the Spark twin of :func:`reportgen.segmentation.pipeline.run_segmentation`. It
runs in local mode (``local[2]``) unless given a ``master`` (``yarn``, ``spark://host:7077``,
``k8s://...``) or one is configured the usual way: ``$SPARK_MASTER``, ``spark-submit --master``,
or ``spark.master`` in ``spark-defaults.conf``. It stops the session it started.

What runs where:

- **On Spark:** reading the extract (``spark.read`` CSV or Parquet; local paths, ``hdfs://``,
  ``s3a://``, ``gs://``, ``abfss://``, ``dbfs:/``), every validation check of
  :mod:`reportgen.data.validation` in one aggregation pass (ids empty or repeated, text in numeric
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
    :func:`reportgen.segmentation.selection.select_k`, the same code and rule as the default engine;
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
- up to 200,000 customers, K-Means keeps the best (lowest cost) of :data:`KMEANS_STARTS` k-means||
  starts instead of the best of ten k-means++ starts, so the assignments agree with the default
  engine's closely (adjusted Rand index 0.995 on the reference file at k = 5), not exactly; beyond,
  both engines seed Lloyd's passes over everyone with ten starts on a sample (the Spark engine on
  its k-selection sample), see :mod:`reportgen.segmentation.engines.spark_kmeans`.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from reportgen.config import Settings
from reportgen.data.contract import FEATURES, ID_COLUMN, SKEWED
from reportgen.data.extract import (
    Extract,
)
from reportgen.data.features import Scaler
from reportgen.data.validation import (
    FEATURE_DTYPE,
    MIN_CUSTOMERS_PER_SEGMENT,
    CleanData,
)
from reportgen.errors import ConfigError, InputError
from reportgen.segmentation.engines.local import keep_previous_k, refit_from
from reportgen.segmentation.engines.spark_checks import _validate
from reportgen.segmentation.engines.spark_kmeans import _fit_kmeans
from reportgen.segmentation.engines.spark_read import _ROW, _read

LOCAL_MASTER = "local[2]"
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
    """Segment the customers in ``data`` on Spark; returns a :class:`~reportgen.segmentation.pipeline.SegmentationResult`.

    ``master`` picks the cluster (default: ``$SPARK_MASTER``, spark-submit's or
    spark-defaults' ``spark.master``, else ``local[2]``); ``spark`` is a SparkSession to use
    instead, and without either an active session (a notebook's, Databricks') is used; those
    are left running, a session started here is stopped. ``previous``, ``refit`` and ``month``
    mean what they mean for :func:`~reportgen.segmentation.pipeline.run_segmentation`."""
    from reportgen.segmentation.personas import load_playbook

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
            from reportgen.segmentation.selection import select_k

            selection = select_k(sample, seg, playbook.expected_segments)
            if previous is not None and refit and not seg.k:
                selection = keep_previous_k(selection, previous)
            # A refit that keeps k starts from last month's centroids, as on the default engine;
            # pyspark.ml's K-Means takes no initial centres, so that fit runs on the driver, which
            # holds every customer's features for the profiles anyway.
            warm = previous is not None and refit and len(previous.model.segments) == selection.chosen_k
            log("fit")
            fitted = None if scoring or warm else _fit_kmeans(scaled, selection.chosen_k, seg.seed, checked.rows, sample)
            ids, features, labels = _collect_customers(scaled, fitted)
            centroids = None if fitted is None else fitted.centroids
            if warm:
                labels, centroids = refit_from(scaler.transform(features), scaler, previous)
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
    from reportgen.segmentation.result import finish_segmentation  # naming, ordering, profiles: as the default engine

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


# --- validation ---------------------------------------------------------------------------------------


# --- transform, k evidence, K-Means ---------------------------------------------------------------


def _cluster_features() -> tuple[str, ...]:
    from reportgen.segmentation.result import CLUSTER_FEATURES

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


def _collect_customers(scaled, fitted) -> tuple[pd.Series, pd.DataFrame, np.ndarray]:
    """Every customer's id, clean features (float32) and segment, in file order, via Arrow."""
    from pyspark.sql import functions as F

    frame = scaled.withColumn("prediction", fitted.prediction if fitted is not None else F.lit(0))
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

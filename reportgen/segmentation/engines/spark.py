"""Segmentation on Apache Spark: the same :class:`SegmentationResult`, computed where the data is.

``run_segmentation_spark`` is the Spark twin of :func:`reportgen.segmentation.pipeline.run_segmentation`. It
runs in local mode (``local[2]``) unless given a ``master`` (``yarn``, ``spark://host:7077``,
``k8s://...``) or one is configured the usual way: ``$SPARK_MASTER``, ``spark-submit --master``,
or ``spark.master`` in ``spark-defaults.conf``. It stops the session it started.

What runs where:

- **On Spark:** reading the extract (``spark.read`` CSV or Parquet; local paths, ``hdfs://``,
  ``s3a://``, ``gs://``, ``abfss://``, ``dbfs:/``), every validation check of
  :mod:`reportgen.data.validation` in one aggregation pass (ids empty, text in numeric columns,
  gaps, infinities, ranges, ragged rows; repeated ids only when a later check fails, see below),
  frequency capping, median imputation, the
  ``log1p`` transform and scaling statistics, the k-selection sample, Lloyd's
  K-Means passes over every customer (one aggregation each) and the assignment of every customer.
- **Collected to the driver:**

  - for a failed check, the first five row numbers and the count (row numbers count rows of one
    file in file order, from ``monotonically_increasing_id`` and the rows per partition; for a
    folder of part files they are positions in Spark's read order);
  - the two imputable columns' values (8 bytes a customer each), whose exact medians are
    computed as the default engine computes them, with every customer's id, looked for repeats as
    the default engine does (a Spark pass names the rows of any repeat);
  - the k-selection sample: at most ``selection_sample`` scaled customers (4,000 by default). Inertia,
    silhouette, Calinski-Harabasz, Davies-Bouldin and bootstrap stability are computed on it by
    :func:`reportgen.segmentation.selection.select_k`, the same code and rule as the default engine;
  - up to ``FULL_FIT_LIMIT`` customers (200,000), every customer's scaled columns (16 doubles
    each, 26 MB at the limit): the starts of K-Means run on them on the driver, as the default
    engine's fit does; beyond, they run on the k-selection sample;
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
- K-Means: up to 200,000 customers both engines take the best of ten k-means++ starts on every
  customer (the Spark engine then runs Lloyd's passes on Spark from it, which stop after the first
  on a converged fit), so the assignments agree closely, not exactly (adjusted Rand index 0.999 on
  the reference file at k = 5: the scaled columns are rounded differently, and the passes settle
  what scikit-learn's tolerance left); beyond, both seed Lloyd's passes over everyone with ten
  starts on a sample (the default engine on 100,000 customers, the Spark engine on its
  k-selection sample), see :mod:`reportgen.segmentation.engines.spark_kmeans`. A refit that keeps
  k runs Lloyd's passes from last month's centroids on Spark.
"""

from __future__ import annotations

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
from reportgen.errors import InputError
from reportgen.segmentation.drift import to_scaled_space
from reportgen.segmentation.engines.local import keep_previous_k
from reportgen.segmentation.engines.spark_checks import _validate
from reportgen.segmentation.engines.spark_kmeans import _fit_from, _fit_kmeans
from reportgen.segmentation.engines.spark_read import _ROW, _read, _to_arrow
from reportgen.segmentation.engines.spark_session import (  # noqa: F401 (start_session: the engine's API)
    LOCAL_MASTER,
    _session,
    quiet_pyspark,
    start_session,
)


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
            checked = _validate(source, MIN_CUSTOMERS_PER_SEGMENT * largest_k, cached, _cluster_features())
            log("transform")
            scaler = previous.model.scaler if scoring else _fit_scaler(checked)
            scaled = _scale(checked.frame, scaler)
            log("choose k")
            sample = _collect_sample(scaled, scaler, checked.rows, seg)
            _check_distinct(source.path, scaled, scaler, sample, seg.k or seg.k_min)
            from reportgen.segmentation.selection import select_k

            selection = select_k(sample, seg, playbook.expected_segments)
            if previous is not None and refit and not seg.k:
                selection = keep_previous_k(selection, previous)
            # A refit that keeps k starts from last month's centroids, as on the default engine.
            warm = previous is not None and refit and len(previous.model.segments) == selection.chosen_k
            log("fit")
            if scoring:
                fitted = None
            elif warm:
                fitted = _fit_from(scaled, to_scaled_space(previous.model.centroids, previous.model.scaler, scaler))
            else:
                fitted = _fit_kmeans(scaled, selection.chosen_k, seg.seed, _seeds(scaled, scaler, checked.rows, sample))
            ids, features, labels = _collect_customers(scaled, fitted)
            centroids = None if fitted is None else fitted.centroids
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


# --- reading ----------------------------------------------------------------------------------------


# --- validation ---------------------------------------------------------------------------------------


# --- transform, k evidence, K-Means ---------------------------------------------------------------


def _cluster_features() -> tuple[str, ...]:
    from reportgen.segmentation.result import CLUSTER_FEATURES

    return CLUSTER_FEATURES


def _logged(name: str):
    from pyspark.sql import functions as F

    return F.log1p(F.col(name)) if name in SKEWED else F.col(name)


def _fit_scaler(checked) -> Scaler:
    """Mean and population standard deviation of each clustered column after log1p, from the
    moments the validation pass took (:func:`~reportgen.segmentation.engines.spark_checks._moments`)."""
    columns = _cluster_features()
    mean = tuple(checked.moments[c][0] for c in columns)
    scale = tuple(checked.moments[c][1] or 1.0 for c in columns)  # constant column: keep at 0
    return Scaler(columns, tuple(c for c in columns if c in SKEWED), mean, scale)


def _scale(frame, scaler: Scaler):
    """The clean frame plus the scaled columns ``_z0..``."""
    from pyspark.sql import functions as F

    zs = [
        ((_logged(c) if c in scaler.log_columns else F.col(c)) - F.lit(m)) / F.lit(s)
        for c, m, s in zip(scaler.columns, scaler.mean, scaler.scale)
    ]
    return frame.select("*", *(z.alias(f"_z{i}") for i, z in enumerate(zs)))


def _collect_sample(scaled, scaler: Scaler, rows: int, seg) -> np.ndarray:
    """At most ``selection_sample`` scaled customers (a seeded Spark sample), as a float64 matrix."""
    picked = scaled.select(_ROW, *_scaled_columns(scaler))
    if rows > seg.selection_sample:
        fraction = min(1.0, 1.2 * seg.selection_sample / rows)
        picked = picked.sample(withReplacement=False, fraction=fraction, seed=seg.seed).orderBy(_ROW).limit(
            seg.selection_sample
        )
    return _to_matrix(picked, scaler)


def _scaled_columns(scaler: Scaler) -> list[str]:
    return [f"_z{i}" for i in range(len(scaler.columns))]


def _to_matrix(picked, scaler: Scaler) -> np.ndarray:
    """The scaled columns of ``picked`` (with :data:`_ROW`) in file order, as a float64 matrix."""
    table = _to_arrow(picked).sort_by(_ROW)
    return np.column_stack([table.column(c).to_numpy() for c in _scaled_columns(scaler)]).astype(np.float64)


def _seeds(scaled, scaler: Scaler, rows: int, sample: np.ndarray) -> np.ndarray:
    """What :func:`~reportgen.segmentation.engines.spark_kmeans._fit_kmeans` starts from: every
    customer's scaled columns up to ``FULL_FIT_LIMIT`` customers (the k-selection sample when it
    already holds them all), else the k-selection sample."""
    from reportgen.segmentation import model

    if len(sample) == rows or rows > model.FULL_FIT_LIMIT:
        return sample
    return _to_matrix(scaled.select(_ROW, *_scaled_columns(scaler)), scaler)


def _check_distinct(path: Path, scaled, scaler: Scaler, sample: np.ndarray, k: int) -> None:
    if len(np.unique(sample, axis=0)) >= k:
        return
    if scaled.select(*_scaled_columns(scaler)).distinct().limit(k).count() < k:
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

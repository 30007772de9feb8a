"""The segmentation pipeline: load, validate, transform, choose k, fit, profile, name.

``run_segmentation`` is the Python API a notebook uses; it runs the chosen engine and returns a
frozen :class:`~reportgen.segmentation.result.SegmentationResult` from which the report model and
every output file are built.
"""

from __future__ import annotations

from pathlib import Path

from reportgen.config import Settings
from reportgen.data.database import is_database_url
from reportgen.errors import ConfigError, InputError
from reportgen.segmentation.result import PreviousModel, SegmentationResult

ENGINES = ("local", "spark")


def run_segmentation(
    data: Path | str, settings: Settings, log=None, *, previous: PreviousModel | None = None,
    refit: bool = False, month: str = "", engine: str = "local", spark_master: str | None = None,
    observe=None, offload=None,
) -> SegmentationResult:
    """Segment the customers in ``data`` as ``settings`` say; ``log(step)`` reports progress.

    Without ``previous`` the segments are fitted afresh. With it, the saved model scores this
    month's customers (names, colours and meaning kept) unless ``refit``, which fits afresh
    and matches the new clusters to last month's so names and colours do not shuffle.

    ``engine="spark"`` runs reading, validation, the transform, the k-selection sample and
    K-Means on Apache Spark (:mod:`reportgen.segmentation.engines.spark`; ``spark_master`` picks the cluster,
    default local[2]) and returns the same result.

    ``observe(stage, **values)``, when given, hears of results as soon as they exist, so a build
    can start work on them while the pipeline goes on: ``"data"`` (``correlation``, the result's
    correlation matrix, and ``customers``) once the data are validated, and ``"selection"``
    (``selection``, the result's k evidence, and ``customers``) once k is chosen. The default
    engine only.

    ``offload(module, function, *args)``, when given, runs a call in another process (one that
    has the analysis libraries imported) and returns its future; the default engine computes
    half of the k evidence there (:func:`~reportgen.segmentation.selection.select_k`)."""
    if engine == "spark":
        if is_database_url(data):
            raise InputError(f"{data}: database URLs are read by the default engine; drop --engine spark")
        from reportgen.segmentation.engines.spark import run_segmentation_spark

        return run_segmentation_spark(
            data, settings, log, master=spark_master, previous=previous, refit=refit, month=month
        )
    if engine != "local":
        raise ConfigError(f"unknown engine {engine!r}; choose {' or '.join(ENGINES)}")
    from reportgen.segmentation.engines.local import run_local

    return run_local(data, settings, log, previous=previous, refit=refit, month=month, observe=observe, offload=offload)

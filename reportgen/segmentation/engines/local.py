"""The default engine: pandas and scikit-learn in this process, for extracts that fit in memory
(ten million customers on one machine)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from reportgen.config import Settings
from reportgen.data.extract import Extract
from reportgen.data.features import fit_and_transform
from reportgen.data.frames import is_table, load_table
from reportgen.data.sources import load_source
from reportgen.data.validation import MIN_CUSTOMERS_PER_SEGMENT, validate_extract
from reportgen.errors import InputError
from reportgen.segmentation.drift import to_scaled_space
from reportgen.segmentation.model import fit_kmeans, lloyd
from reportgen.segmentation.personas import load_playbook
from reportgen.segmentation.result import (
    CLUSTER_FEATURES,
    PreviousModel,
    SegmentationResult,
    correlation_matrix,
    finish_segmentation,
)
from reportgen.segmentation.selection import KSelection, select_k


def run_local(
    data, settings: Settings, log=None, *, previous: PreviousModel | None = None,
    refit: bool = False, month: str = "", observe=None, offload=None,
) -> SegmentationResult:
    """Run every step in this process; the arguments are :func:`~reportgen.segmentation.pipeline.run_segmentation`'s."""
    log = log or (lambda step: None)
    log("load")
    playbook = load_playbook(settings.playbook)
    extract = load_table(data, settings.input) if is_table(data) else load_source(data, settings.input)
    seg = settings.segmentation
    if previous is not None and not refit:
        largest_k = len(previous.model.segments)
    else:
        largest_k = max(seg.k_max, seg.k or 0)
    clean = validate_extract(extract, min_customers=MIN_CUSTOMERS_PER_SEGMENT * largest_k)
    log("transform")
    if previous is not None and not refit:
        scaler = previous.model.scaler
        matrix = scaler.transform(clean.features)
    else:
        scaler, matrix = fit_and_transform(clean.features, CLUSTER_FEATURES)
    _check_distinct(extract, matrix, seg.k or seg.k_min)
    observe = observe or (lambda stage, **values: None)
    correlation = correlation_matrix(clean.features, seg.seed)
    observe("data", correlation=correlation, customers=len(matrix))
    log("choose k")
    selection = select_k(matrix, seg, playbook.expected_segments, offload=offload)
    scoring = previous is not None and not refit
    if previous is not None and refit and not seg.k:
        selection = keep_previous_k(selection, previous)
    if not scoring:  # scoring replaces the evidence's choice with the saved model's k
        observe("selection", selection=selection, customers=len(matrix))
    log("fit")
    if scoring:
        fitted = None
    elif previous is not None and len(previous.model.segments) == selection.chosen_k:
        fitted = refit_from(matrix, scaler, previous)
    else:
        fitted = fit_kmeans(matrix, selection.chosen_k, seg.seed)
    return finish_segmentation(
        extract, clean, scaler, matrix, selection, playbook, settings, log,
        fitted=fitted, previous=previous, month=month, correlation=correlation,
    )


def _check_distinct(extract: Extract, matrix: np.ndarray, k: int) -> None:
    """At least ``k`` distinct rows, looked for in ever longer prefixes (the first thousand rows
    settle it for any real extract; sorting 100,000 rows took 0.2 s)."""
    if all(len(np.unique(matrix[:rows], axis=0)) < k for rows in (1_000, 100_000, len(matrix))):
        raise InputError(f"{extract.path}: fewer than {k} distinct customer behaviours; cannot form {k} segments")


def keep_previous_k(selection: KSelection, previous: PreviousModel) -> KSelection:
    """A refit keeps last month's number of segments (``--k`` changes it): re-choosing k every month
    would let sampling noise merge or split segments, and the migration would report customers whose
    numbers did not change as movers. The evidence is still computed and shown."""
    k = len(previous.model.segments)
    return replace(
        selection, chosen_k=k, forced=True, kept_from=previous.model_month,
        reason=f"k = {k}: kept from the model fitted in {previous.model_month} (a refit keeps k; --k changes it)",
    )


def refit_from(matrix: np.ndarray, scaler, previous: PreviousModel) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd's K-Means on this month's customers, started from last month's centroids (mapped into
    this month's scaled space): the segments move only as far as the customers moved."""
    start = to_scaled_space(previous.model.centroids, previous.model.scaler, scaler)
    return lloyd(matrix, start)

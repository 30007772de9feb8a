"""The segmentation pipeline: load, validate, transform, choose k, fit, profile, name.

``run_segmentation`` is the Python API a notebook uses; it returns a frozen
:class:`SegmentationResult` from which the report model and every output file are built.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA

from reportgen.config import Settings
from reportgen.contract import FEATURES
from reportgen.errors import InputError
from reportgen.extract import Extract, load_extract
from reportgen.features import fit_scaler
from reportgen.personas import Naming, Playbook, assign_colors, load_playbook, name_segments
from reportgen.profiles import Profiles, describe_segments
from reportgen.segmentation import SegmentInfo, SegmentModel, fit_kmeans
from reportgen.selection import KSelection, select_k
from reportgen.validation import MIN_CUSTOMERS_PER_SEGMENT, CleanData, validate_extract

CLUSTER_FEATURES: tuple[str, ...] = tuple(f for f in FEATURES if f != "TENURE")
SCATTER_POINTS = 2_000
CORRELATION_SAMPLE = 50_000


@dataclass(frozen=True)
class PcaView:
    """A 2-D PCA picture of the segments: a fixed-size sample of points and the variance explained."""

    x: np.ndarray
    y: np.ndarray
    segment: np.ndarray
    explained: tuple[float, float]
    total_customers: int


@dataclass(frozen=True)
class SegmentationResult:
    """Everything the pipeline computed. Segment ids are 0-based indexes into ``namings``."""

    extract: Extract
    clean: CleanData
    labels: np.ndarray
    model: SegmentModel
    selection: KSelection
    profiles: Profiles
    namings: tuple[Naming, ...]
    playbook: Playbook
    pca: PcaView
    correlation: pd.DataFrame
    settings: Settings


def run_segmentation(data: Path, settings: Settings, log=None) -> SegmentationResult:
    """Segment the customers in ``data`` as ``settings`` say; ``log(step)`` reports progress."""
    log = log or (lambda step: None)
    log("load")
    playbook = load_playbook(settings.playbook)
    extract = load_extract(Path(data), settings.input)
    seg = settings.segmentation
    largest_k = max(seg.k_max, seg.k or 0)
    clean = validate_extract(extract, min_customers=MIN_CUSTOMERS_PER_SEGMENT * largest_k)
    log("transform")
    scaler = fit_scaler(clean.features, CLUSTER_FEATURES)
    matrix = scaler.transform(clean.features)
    _check_distinct(extract, matrix, seg.k or seg.k_min)
    log("choose k")
    selection = select_k(matrix, seg)
    log("fit")
    labels, centroids = fit_kmeans(matrix, selection.chosen_k, seg.seed)
    profiles = describe_segments(clean.features, labels, selection.chosen_k)
    log("name personas")
    namings = name_segments(profiles.z, playbook)
    order = _segment_order(namings, profiles.sizes, playbook)
    labels = np.argsort(order).astype(np.int32)[labels]
    namings = [namings[i] for i in order]
    centroids = centroids[order]
    profiles = describe_segments(clean.features, labels, selection.chosen_k)
    colors = assign_colors(namings, playbook)
    infos = tuple(SegmentInfo(i + 1, n.name, n.persona_key, c) for i, (n, c) in enumerate(zip(namings, colors)))
    model = SegmentModel(scaler, centroids, infos, clean.impute_values, seg.seed, selection.rule)
    return SegmentationResult(
        extract=extract,
        clean=clean,
        labels=labels,
        model=model,
        selection=selection,
        profiles=profiles,
        namings=tuple(namings),
        playbook=playbook,
        pca=_pca_view(matrix, labels, seg.seed),
        correlation=_correlation(clean.features, seg.seed),
        settings=settings,
    )


def _check_distinct(extract: Extract, matrix: np.ndarray, k: int) -> None:
    sample = matrix[:100_000]
    if len(np.unique(sample, axis=0)) < k and len(np.unique(matrix, axis=0)) < k:
        raise InputError(f"{extract.path}: fewer than {k} distinct customer behaviours; cannot form {k} segments")


def _segment_order(namings: list[Naming], sizes: np.ndarray, playbook: Playbook) -> list[int]:
    """Persona segments in playbook order, then unnamed segments largest first."""
    rank = {p.key: i for i, p in enumerate(playbook.personas)}
    return sorted(
        range(len(namings)),
        key=lambda i: (rank.get(namings[i].persona_key, len(rank)), -int(sizes[i]), i),
    )


def _pca_view(matrix: np.ndarray, labels: np.ndarray, seed: int) -> PcaView:
    rng = np.random.default_rng(seed)
    fit_rows = matrix if len(matrix) <= 200_000 else matrix[rng.choice(len(matrix), 200_000, replace=False)]
    pca = PCA(n_components=2, random_state=seed).fit(fit_rows)
    idx = np.sort(rng.choice(len(matrix), size=min(SCATTER_POINTS, len(matrix)), replace=False))
    points = pca.transform(matrix[idx])
    ratio = pca.explained_variance_ratio_
    return PcaView(points[:, 0], points[:, 1], labels[idx], (float(ratio[0]), float(ratio[1])), len(matrix))


def _correlation(features: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Spearman rank correlation (robust to the skew) on a bounded sample."""
    sample = features if len(features) <= CORRELATION_SAMPLE else features.sample(CORRELATION_SAMPLE, random_state=seed)
    return sample[list(FEATURES)].corr(method="spearman").fillna(0.0)

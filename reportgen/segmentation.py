"""Fitting K-Means segments and the saved model that re-scores next month's customers.

The model file is JSON (never a pickle): the feature columns, the transform and scaler, the
centroids in the scaled space, the segment names and colours, and the values used to impute
gaps. :meth:`SegmentModel.predict` assigns each customer to the nearest centroid, in chunks so
memory stays bounded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits

from reportgen.errors import ModelError
from reportgen.features import Scaler

FORMAT_VERSION = 1
_CHUNK = 200_000


@dataclass(frozen=True)
class SegmentInfo:
    """One segment as the model file records it."""

    id: int
    name: str
    persona_key: str | None
    color: str


@dataclass(frozen=True)
class SegmentModel:
    """Everything needed to assign a customer to a segment."""

    scaler: Scaler
    centroids: np.ndarray
    segments: tuple[SegmentInfo, ...]
    impute_values: dict[str, float]
    seed: int
    k_rule: str

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        """Segment index (0-based, into ``segments``) of every customer."""
        return assign_nearest(self.scaler.transform(features), self.centroids)

    def to_dict(self) -> dict:
        """Plain JSON-ready form."""
        return {
            "format": "reportgen-segment-model",
            "format_version": FORMAT_VERSION,
            "transform": self.scaler.to_dict(),
            "centroids": [list(map(float, row)) for row in self.centroids],
            "segments": [s.__dict__ for s in self.segments],
            "impute_values": self.impute_values,
            "seed": self.seed,
            "k_rule": self.k_rule,
        }


def assign_nearest(matrix: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Index of the nearest centroid per row, computed in chunks."""
    out = np.empty(len(matrix), dtype=np.int32)
    c_norm = (centroids**2).sum(axis=1)
    for start in range(0, len(matrix), _CHUNK):
        block = matrix[start : start + _CHUNK]
        dist = c_norm[None, :] - 2.0 * block @ centroids.T
        out[start : start + _CHUNK] = dist.argmin(axis=1)
    return out


def fit_kmeans(matrix: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Final K-Means fit on all customers: (labels, centroids). Same input and seed, same result.

    Small inputs run single-threaded: OpenMP threads spin-wait and slow down badly on a shared
    machine, and below ~100k customers a second thread gains little."""
    threads = None if len(matrix) > 100_000 else 1
    with threadpool_limits(threads):
        km = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(matrix)
    return km.labels_.astype(np.int32), km.cluster_centers_


def save_model(model: SegmentModel) -> bytes:
    """The model file's bytes."""
    return (json.dumps(model.to_dict(), indent=2, sort_keys=True) + "\n").encode("utf-8")


def load_model(path: Path) -> SegmentModel:
    """Read a model file written by :func:`save_model`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelError(f"{path}: model file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path}: not a readable model file ({exc.__class__.__name__})") from None
    return parse_model(text, str(path))


def parse_model(text: str, source: str) -> SegmentModel:
    """Parse a model file's text; ``source`` names it in errors."""
    path = source
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path}: not a readable model file ({exc.__class__.__name__})") from None
    if not isinstance(data, dict) or data.get("format") != "reportgen-segment-model":
        raise ModelError(f"{path}: not a reportgen model file")
    if data.get("format_version") != FORMAT_VERSION:
        raise ModelError(f"{path}: model format version {data.get('format_version')} is not supported")
    try:
        centroids = np.asarray(data["centroids"], dtype="float64")
        scaler = Scaler.from_dict(data["transform"])
        segments = tuple(SegmentInfo(**s) for s in data["segments"])
        model = SegmentModel(
            scaler, centroids, segments, {k: float(v) for k, v in data["impute_values"].items()},
            int(data["seed"]), str(data["k_rule"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{path}: model file is incomplete or damaged ({exc})") from None
    if centroids.shape != (len(segments), len(scaler.columns)):
        raise ModelError(f"{path}: centroids do not match the segments and columns listed")
    return model

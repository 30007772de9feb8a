"""Choosing k with evidence.

For every k in the configured range, on a bounded random sample of customers (the same sample
for every k, at most ``selection_sample``; so choosing k costs the same for ten thousand or ten
million customers):

- **inertia** (within-cluster sum of squares; the elbow chart),
- **silhouette** on at most ``silhouette_sample`` customers (it is quadratic in their number),
- **Calinski-Harabasz** (higher is better) and **Davies-Bouldin** (lower is better),
- **stability**: the mean adjusted Rand index between the sample's clustering and refits on
  bootstrap resamples, each refit labelling the same sample (1 = the same segments every time),
- **smallest segment** as a share of customers.

The rule (:data:`RULE`): a k is *admissible* when its stability is at least ``min_stability``
and its smallest segment holds at least ``min_segment_share`` of customers. Silhouette
differences smaller than ``silhouette_tolerance`` (default 0.01) are within the noise of a
sampled silhouette, so every admissible k whose silhouette is within that tolerance of the best
admissible one is a candidate; the candidate with the lowest Davies-Bouldin index (compact,
well-separated segments) wins. If no k is admissible, the most stable k wins. ``--k`` skips the
rule; the evidence is still computed and shown.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    pairwise_distances,
    silhouette_score,
)
from threadpoolctl import threadpool_limits

from reportgen.config import SegmentationSettings

RULE = (
    "Admissible k: bootstrap stability (mean adjusted Rand index) >= {min_stability:.2f} and smallest "
    "segment >= {min_share:.0%} of customers. Candidates: admissible k with a silhouette within "
    "{tolerance:.2f} of the best admissible silhouette (smaller differences are sampling noise). "
    "The candidate with the lowest Davies-Bouldin index wins. If no k is admissible, the most stable k wins."
)


@dataclass(frozen=True)
class KEvidence:
    """The evidence for one k."""

    k: int
    inertia: float
    silhouette: float
    calinski_harabasz: float
    davies_bouldin: float
    stability: float
    min_share: float
    admissible: bool


@dataclass(frozen=True)
class KSelection:
    """The evidence for every k tried, the k used and why."""

    evidence: tuple[KEvidence, ...]
    chosen_k: int
    forced: bool
    rule: str
    sample_size: int
    reason: str


def describe_rule(settings: SegmentationSettings) -> str:
    """The selection rule with the configured thresholds filled in."""
    return RULE.format(
        min_stability=settings.min_stability,
        min_share=settings.min_segment_share,
        tolerance=settings.silhouette_tolerance,
    )


def select_k(matrix: np.ndarray, settings: SegmentationSettings) -> KSelection:
    """Compute the evidence for each k in ``k_min..k_max`` (and ``k`` if forced) and pick one."""
    rng = np.random.default_rng(settings.seed)
    sample = _sample(matrix, settings.selection_sample, rng)
    sil_idx = rng.choice(len(sample), size=min(len(sample), settings.silhouette_sample), replace=False)
    ks = sorted(set(range(settings.k_min, settings.k_max + 1)) | ({settings.k} if settings.k else set()))
    distinct = len(np.unique(sample, axis=0))
    ks = [k for k in ks if k < distinct] or [2]
    boots = [rng.integers(0, len(sample), size=len(sample)) for _ in range(settings.bootstrap)]
    distances = pairwise_distances(sample[sil_idx])  # computed once, shared by every k
    # Many small fits: one single-threaded fit per core beats multi-threaded fits, whose OpenMP
    # threads spin and collapse when the machine is shared (seen: 2.7 s vs 46 s under load).
    with threadpool_limits(1), ThreadPoolExecutor(max_workers=min(len(ks), os.cpu_count() or 1)) as pool:
        evidence = tuple(pool.map(lambda k: _evidence(sample, k, sil_idx, distances, boots, settings), ks))
    rule = describe_rule(settings)
    if settings.k:
        return KSelection(evidence, settings.k, True, rule, len(sample), f"k = {settings.k} was set by the user")
    chosen, reason = _apply_rule(evidence, settings.silhouette_tolerance)
    return KSelection(evidence, chosen, False, rule, len(sample), reason)


def _sample(matrix: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """The bounded sample every k is judged on, as float64 (the full matrix may be float32)."""
    if len(matrix) <= size:
        return np.asarray(matrix, dtype=np.float64)
    return matrix[np.sort(rng.choice(len(matrix), size=size, replace=False))].astype(np.float64)


def _evidence(sample, k, sil_idx, distances, boots, settings) -> KEvidence:
    km = KMeans(n_clusters=k, n_init=3, random_state=settings.seed).fit(sample)
    labels = km.labels_
    aris = []
    for i, idx in enumerate(boots):
        refit = KMeans(n_clusters=k, n_init=1, random_state=settings.seed + 1 + i).fit(sample[idx])
        aris.append(adjusted_rand_score(labels, refit.predict(sample)))
    sil_labels = labels[sil_idx]
    silhouette = (
        float(silhouette_score(distances, sil_labels, metric="precomputed"))
        if len(np.unique(sil_labels)) > 1
        else float("nan")
    )
    stability = float(np.mean(aris))
    min_share = float(np.bincount(labels, minlength=k).min() / len(labels))
    return KEvidence(
        k=k,
        inertia=float(km.inertia_),
        silhouette=silhouette,
        calinski_harabasz=float(calinski_harabasz_score(sample, labels)),
        davies_bouldin=float(davies_bouldin_score(sample, labels)),
        stability=stability,
        min_share=min_share,
        admissible=stability >= settings.min_stability and min_share >= settings.min_segment_share,
    )


def _apply_rule(evidence: tuple[KEvidence, ...], tolerance: float) -> tuple[int, str]:
    admissible = [e for e in evidence if e.admissible]
    if admissible:
        top = max(e.silhouette for e in admissible)
        candidates = [e for e in admissible if e.silhouette >= top - tolerance]
        best = min(candidates, key=lambda e: (e.davies_bouldin, e.k))
        ks = ", ".join(str(e.k) for e in candidates)
        return best.k, (
            f"k = {best.k}: silhouette {best.silhouette:.3f} (best {top:.3f}), stability {best.stability:.2f}, "
            f"smallest segment {best.min_share:.1%}; lowest Davies-Bouldin ({best.davies_bouldin:.2f}) "
            f"among the candidates k = {ks}"
        )
    best = max(evidence, key=lambda e: (e.stability, -e.k))
    return best.k, f"k = {best.k}: no k met the thresholds, so the most stable one was taken (stability {best.stability:.2f})"

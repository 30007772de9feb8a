"""Choosing k with evidence.

For every k in the configured range, on a bounded random sample of customers (the same sample
for every k, at most ``selection_sample``; so choosing k costs the same for ten thousand or ten
million customers):

- **inertia** (within-cluster sum of squares; the elbow chart),
- **silhouette** on at most ``silhouette_sample`` customers (it is quadratic in their number),
- **Calinski-Harabasz** (higher is better) and **Davies-Bouldin** (lower is better),
- **stability per segment** (:mod:`reportgen.segmentation.stability`): the mean Jaccard
  similarity of each segment with its best match in ``bootstrap`` refits on resamples, each from
  fresh starts; the k's **stability** is its weakest segment's,
- **smallest segment** as a share of customers.

Why not the best silhouette: on card data (many zeros, skew, overlapping behaviours) the
silhouette and Calinski-Harabasz favour the fewest segments — on a benchmark with five planted
personas both pick k = 3, merging personas. Stability does not: a k that splits a real group
arbitrarily has segments that come out differently on every resample, while the planted k
reappears. So the rule (:data:`RULE`):

1. a k is *stable* when every segment's stability is at least ``min_stability`` and its smallest
   segment holds at least ``min_segment_share`` of customers;
2. take the largest stable k (the finest segmentation every segment of which reappears);
3. but when the playbook's expected number of segments (the prior) is stable too and its silhouette
   is no worse than that k's by more than ``silhouette_tolerance``, take the prior: the evidence
   cannot tell them apart, and the playbook's personas are what marketing can use;
4. if no k is stable, the k whose weakest segment is most stable.

The structure is called *weak* when no k reaches a silhouette of 0.25 (Kaufman and Rousseeuw's
mark for "no substantial structure"): the segments then divide a continuum of behaviour rather
than separate natural groups, and the report says so. ``--k`` skips the rule; the evidence is
still computed and shown.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import (
    calinski_harabasz_score,
    davies_bouldin_score,
    pairwise_distances,
    silhouette_score,
)
from threadpoolctl import threadpool_limits

from reportgen.config import SegmentationSettings
from reportgen.report.formatting import format_number, format_share
from reportgen.segmentation.stability import segment_jaccard

WEAK_SILHOUETTE = 0.25
RULE = (
    "A k is stable when every segment reappears in refits on resampled customers (each segment's mean "
    "Jaccard similarity >= {min_stability}) and its smallest segment holds >= {min_share} of customers. "
    "The largest stable k is taken, unless the playbook's {prior} segments are stable too with a silhouette "
    "no more than {tolerance} below it: then the evidence cannot tell them apart and {prior} is taken. "
    "If no k is stable, the k whose weakest segment is most stable."
)


@dataclass(frozen=True)
class KEvidence:
    """The evidence for one k. ``stability`` is the weakest segment's; ``segment_stability`` all of them."""

    k: int
    inertia: float
    silhouette: float
    calinski_harabasz: float
    davies_bouldin: float
    stability: float
    min_share: float
    admissible: bool
    segment_stability: tuple[float, ...] = ()


@dataclass(frozen=True)
class KSelection:
    """The evidence for every k tried, the k used and why; ``weak`` when no k shows clear structure."""

    evidence: tuple[KEvidence, ...]
    chosen_k: int
    forced: bool
    rule: str
    sample_size: int
    reason: str
    weak: bool = False
    structure: str = ""
    kept_from: str = ""  # a refit that kept k: the month of the model whose k it kept


def describe_rule(settings: SegmentationSettings, prior: int | None = None) -> str:
    """The selection rule with the configured thresholds filled in."""
    return RULE.format(
        min_stability=format_number(settings.min_stability, 2),  # in the report's locale
        min_share=format_share(settings.min_segment_share, 0),
        tolerance=format_number(settings.silhouette_tolerance, 2),
        prior=prior if prior else "expected",
    )


def select_k(matrix: np.ndarray, settings: SegmentationSettings, prior: int | None = None, *, offload=None) -> KSelection:
    """Compute the evidence for each k in ``k_min..k_max`` (and ``k`` if forced) and pick one;
    ``prior`` is the playbook's expected number of segments.

    ``offload(module, function, *args)``, when given, runs a call in another process and returns
    its future: half of the k's are then computed there (see :func:`evidence_for`)."""
    rng = np.random.default_rng(settings.seed)
    sample = _sample(matrix, settings.selection_sample, rng)
    sil_idx = rng.choice(len(sample), size=min(len(sample), settings.silhouette_sample), replace=False)
    ks = sorted(set(range(settings.k_min, settings.k_max + 1)) | ({settings.k} if settings.k else set()))
    distinct = len(np.unique(sample, axis=0))
    # a k needs more behaviours than segments to be weighed, but a k the user set needs only as many,
    # and so does the smallest k when the sample has no more behaviours (k_min is not undercut)
    ks = [k for k in ks if k < distinct or k == settings.k <= distinct] or [k for k in ks if k <= distinct] or [2]
    if offload is not None and len(ks) > 1:
        # The largest k first, then every other one: the costlier fits split evenly.
        theirs = tuple(sorted(ks[::-1][::2]))
        elsewhere = offload("reportgen.segmentation.selection", "evidence_for", sample, theirs, sil_idx, settings)
        ours = evidence_for(sample, tuple(k for k in ks if k not in theirs), sil_idx, settings)
        evidence = tuple(sorted(ours + elsewhere.result(), key=lambda e: e.k))
    else:
        evidence = evidence_for(sample, tuple(ks), sil_idx, settings, threads=os.cpu_count() or 1)
    rule = describe_rule(settings, prior)
    weak, structure = describe_structure(evidence)
    if settings.k:
        reason = f"k = {settings.k} was set by the user"
        return KSelection(evidence, settings.k, True, rule, len(sample), reason, weak, structure)
    chosen, reason = _apply_rule(evidence, settings.silhouette_tolerance, prior)
    return KSelection(evidence, chosen, False, rule, len(sample), reason, weak, structure)


def describe_structure(evidence: tuple[KEvidence, ...]) -> tuple[bool, str]:
    """Whether the structure is weak, and a sentence saying how strong it is."""
    sils = [e.silhouette for e in evidence if np.isfinite(e.silhouette)]
    if not sils:
        return True, "The silhouette could not be measured."
    low, high = min(sils), max(sils)
    ks = f"k = {evidence[0].k}..{evidence[-1].k}"
    if high < WEAK_SILHOUETTE:
        return True, (
            f"The structure is weak: silhouettes are {_n(low)}-{_n(high)} for {ks}, below {_n(WEAK_SILHOUETTE)} "
            "for every k. The segments divide a continuum of behaviour rather than separate natural groups: "
            "read their boundaries as conventions and their profiles as tendencies."
        )
    return False, f"Silhouettes are {_n(low)}-{_n(high)} for {ks}: the segments are separated, with overlap."


def _n(value: float, digits: int = 2) -> str:
    """A figure of the evidence in the report's locale (0.497 or 0,497)."""
    return format_number(value, digits)


def _sample(matrix: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """The bounded sample every k is judged on, as float64 (the full matrix may be float32)."""
    if len(matrix) <= size:
        return np.asarray(matrix, dtype=np.float64)
    return matrix[np.sort(rng.choice(len(matrix), size=size, replace=False))].astype(np.float64)


def evidence_for(
    sample: np.ndarray, ks: tuple[int, ...], sil_idx: np.ndarray, settings: SegmentationSettings, *, threads: int = 1
) -> tuple[KEvidence, ...]:
    """The evidence for each k of ``ks`` on ``sample`` (silhouettes on its rows ``sil_idx``), on
    ``threads`` threads. Each k's evidence depends only on its arguments, so the k's can be
    shared out between processes (:func:`select_k`'s ``offload``): many small fits hold the
    GIL for much of their time, so two threads of one process gain little over one, where two
    processes nearly halve the time.

    Every piece runs single-threaded inside (OpenMP and BLAS, in every thread): one fit per
    thread beats multi-threaded fits, whose OpenMP threads spin and collapse when the machine is
    shared (seen: 2.7 s vs 46 s under load), and the figures come out the same, to the last bit,
    whichever thread or process computes them (an OpenMP fit sums its inertia in a different
    order with two threads)."""
    with threadpool_limits(1):
        distances = pairwise_distances(sample[sil_idx])  # computed once, shared by every k
        if threads <= 1 or len(ks) == 1:
            return tuple(_evidence(sample, k, sil_idx, distances, settings) for k in ks)
        # OpenMP's limit belongs to the thread that sets it (libgomp, libomp): each worker sets its own
        with ThreadPoolExecutor(max_workers=min(len(ks), threads), initializer=threadpool_limits, initargs=(1,)) as pool:
            return tuple(pool.map(lambda k: _evidence(sample, k, sil_idx, distances, settings), ks))


def _evidence(sample, k, sil_idx, distances, settings) -> KEvidence:
    km = KMeans(n_clusters=k, n_init=3, random_state=settings.seed).fit(sample)
    labels = km.labels_
    jaccard = segment_jaccard(sample, labels, k, resamples=settings.bootstrap, seed=settings.seed, starts=3)
    sil_labels = labels[sil_idx]
    silhouette = (
        float(silhouette_score(distances, sil_labels, metric="precomputed"))
        if len(np.unique(sil_labels)) > 1
        else float("nan")
    )
    stability = float(np.nanmin(jaccard))
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
        segment_stability=tuple(float(j) for j in np.sort(jaccard)),
    )


def _apply_rule(evidence: tuple[KEvidence, ...], tolerance: float, prior: int | None) -> tuple[int, str]:
    stable = [e for e in evidence if e.admissible]
    if not stable:
        best = max(evidence, key=lambda e: (e.stability, -e.k))
        return best.k, (
            f"k = {best.k}: no k had every segment stable, so the k whose weakest segment is most stable was "
            f"taken (weakest segment's stability {_n(best.stability)})"
        )
    ks = ", ".join(str(e.k) for e in stable)
    top = max(stable, key=lambda e: e.k)
    expected = next((e for e in stable if e.k == prior), None)
    if expected is not None and expected.k != top.k and expected.silhouette >= top.silhouette - tolerance:
        return expected.k, (
            f"k = {expected.k}: stable k = {ks}; the largest, {top.k}, has silhouette {_n(top.silhouette, 3)}, "
            f"no better than the playbook's {expected.k} segments ({_n(expected.silhouette, 3)}, weakest segment's "
            f"stability {_n(expected.stability)}), so the playbook's count was taken"
        )
    return top.k, (
        f"k = {top.k}: the largest k whose every segment is stable (stable k = {ks}; weakest segment's "
        f"stability {_n(top.stability)}, silhouette {_n(top.silhouette, 3)}, smallest segment {format_share(top.min_share)})"
    )

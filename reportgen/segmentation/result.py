"""What a segmentation run returns, and the tail every engine shares: naming, ordering,
colouring and profiling the fitted segments, scoring with or matching to last month's model.

:class:`SegmentationResult` is what the report model and every output file are built from.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA

from reportgen.config import Settings
from reportgen.data.contract import FEATURES
from reportgen.data.extract import Extract
from reportgen.data.validation import CleanData
from reportgen.report.formatting import format_count, format_number, format_share
from reportgen.report.notebook import KLine, SegmentLine, overview_html, overview_text
from reportgen.segmentation.criteria import check_criteria
from reportgen.segmentation.drift import (
    centroid_shift,
    describe_changes,
    match_refit,
    population_shift,
    reference_distribution,
    zero_share_shift,
)
from reportgen.segmentation.model import SegmentInfo, SegmentModel, assign_nearest
from reportgen.segmentation.personas import (
    PALETTE,
    PROFILE_FEATURES,
    Naming,
    Playbook,
    assign_colors,
    name_segments,
    saved_naming,
    score_fits,
)
from reportgen.segmentation.profiles import Profiles, describe_segments, reorder_profiles
from reportgen.segmentation.selection import KSelection
from reportgen.segmentation.stability import final_stability

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
    continuity: Continuity

    @property
    def profile_table(self) -> pd.DataFrame:
        """Every segment's size and mean profile, labelled: one row per segment (index: the
        segment names, in id order), columns ``segment`` (1..k), ``customers``, ``share``, then the
        mean of each of the 17 contract columns and the derived ratios
        (:data:`~reportgen.segmentation.personas.PROFILE_FEATURES`). ``profiles`` holds the same
        statistics (and medians, sums, z-scores) as unlabelled arrays in that column order."""
        sizes = self.profiles.sizes
        frame = pd.DataFrame(self.profiles.means, columns=list(PROFILE_FEATURES),
                             index=pd.Index([n.name for n in self.namings], name="name"))
        frame.insert(0, "share", sizes / max(int(sizes.sum()), 1))
        frame.insert(0, "customers", sizes.astype("int64"))
        frame.insert(0, "segment", np.arange(1, len(sizes) + 1))
        return frame

    def __repr__(self) -> str:
        """One line: customers, k and the segments with their sizes."""
        return overview_text("SegmentationResult", self._overview_facts(), self._overview_segments())

    def _repr_html_(self) -> str:
        """Jupyter's view: facts, segments with their sizes, and the evidence for k."""
        rows = [KLine(e.k, e.silhouette, e.calinski_harabasz, e.davies_bouldin, e.stability, e.min_share,
                      e.admissible, e.k == self.selection.chosen_k) for e in self.selection.evidence]
        return overview_html("Segmentation result", self._overview_facts(), self._overview_segments(), rows,
                             self.selection.reason)

    def _overview_facts(self) -> list[tuple[str, str]]:
        return [("input", self.extract.path.name), ("customers", format_count(len(self.labels))),
                ("k", str(len(self.namings))), ("mode", self.continuity.mode)]

    def _overview_segments(self) -> list[SegmentLine]:
        sizes = self.profiles.sizes
        total = max(int(sizes.sum()), 1)
        return [SegmentLine(i + 1, n.name, info.color, int(sizes[i]), float(sizes[i]) / total)
                for i, (n, info) in enumerate(zip(self.namings, self.model.segments))]


@dataclass(frozen=True)
class PreviousModel:
    """Last month's model, as the history store recorded it."""

    model: SegmentModel
    model_month: str
    previous_month: str
    reference: dict
    last_reference: dict | None = None  # last month's own distribution (None: not recorded)


@dataclass(frozen=True)
class Continuity:
    """How this month's segments relate to the saved model: the mode and what moved."""

    mode: str  # "fit" (no history), "score" (saved model), "refit" (fresh fit matched to last month)
    model_month: str
    previous_month: str | None
    psi: dict[str, float]
    centroid_shift: tuple[float, ...]
    events: tuple[str, ...]
    reference: dict
    psi_last: dict[str, float] | None = None  # against last month (None: no last month recorded)
    zero_shift: dict[str, tuple[float, float]] | None = None  # share at zero: fit month, now
    month_reference: dict | None = None  # this month's own distribution, for next month's comparison
    drift_month: str | None = None  # the month ``psi`` and ``zero_shift`` compare with: the saved model's fit month


def finish_segmentation(
    extract, clean, scaler, matrix, selection, playbook, settings, log, *, fitted, previous, month,
    correlation: pd.DataFrame | None = None,
) -> SegmentationResult:
    """Name, order, colour and profile the segments, whichever engine fitted them.

    ``fitted`` is ``(labels, centroids)`` of a fresh fit (then matched to ``previous`` when there
    is one), or ``None`` to score with ``previous``'s saved model. ``correlation`` is computed
    here unless the caller already has it."""
    seg = settings.segmentation
    if fitted is None:
        labels, model, namings, continuity, profiles = _score(clean, matrix, previous, playbook)
        selection = replace(
            selection, chosen_k=len(model.segments), forced=True,
            reason=f"k = {len(model.segments)}: scored with the saved model fitted in {previous.model_month} "
                   "(segments keep their names; use --refit to fit afresh)",
        )
    else:
        labels, centroids = fitted
        k = len(centroids)
        log("name personas")
        # one pass over the customers profiles the fitted clusters; renumbering them below
        # reorders the profiles' rows instead of profiling again
        profiles = describe_segments(clean.features, labels, k)
        z = profiles.z
        stability = final_stability(matrix, labels, k, seg.seed)
        checks = check_criteria(clean.features, labels, k, {p.key: p.criteria for p in playbook.personas}, profiles)
        namings = name_segments(z, playbook, checks, stability)
        if previous is None:
            labels, centroids, namings, infos, order = _order_and_colour(labels, centroids, namings, stability, playbook)
            reference = reference_distribution(clean.features)
            continuity = Continuity("fit", month, None, {}, (), (), reference, None, None, reference)
        else:
            labels, centroids, namings, infos, continuity, order = _match_previous(
                labels, centroids, namings, z, scaler, previous, playbook, clean, month, checks, stability
            )
        profiles = reorder_profiles(profiles, order)
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
        correlation=correlation_matrix(clean.features, seg.seed) if correlation is None else correlation,
        settings=settings,
        continuity=continuity,
    )


def _order_and_colour(labels, centroids, namings, stability, playbook):
    """Fresh fit: persona segments in playbook order, colours from the playbook."""
    sizes = np.bincount(labels, minlength=len(namings))
    order = _segment_order(namings, sizes, playbook)
    labels = np.argsort(order).astype(np.int32)[labels]
    namings = [namings[i] for i in order]
    colors = assign_colors(namings, playbook)
    infos = tuple(
        SegmentInfo(i + 1, n.name, n.persona_key, c, _rounded(stability[j]))
        for i, (j, n, c) in enumerate(zip(order, namings, colors))
    )
    return labels, centroids[order], namings, infos, order


def _rounded(value: float) -> float | None:
    return round(float(value), 4) if np.isfinite(value) else None


def _drift(previous: PreviousModel, features) -> tuple[dict, dict | None, dict, dict]:
    """PSI against the model's fit month and against last month, this month's distribution, and
    the shares at zero (fit month, now)."""
    current = reference_distribution(features)
    fit = population_shift(previous.reference, features) if previous.reference else {}
    last = population_shift(previous.last_reference, features) if previous.last_reference else None
    zeros = zero_share_shift(previous.reference, features) if previous.reference else {}
    return fit, last, current, zeros


def _score(clean, matrix, previous: PreviousModel, playbook):
    """Assign customers with the saved model; personas keep their names and colours."""
    model = previous.model
    labels = assign_nearest(matrix, model.centroids)
    profiles = describe_segments(clean.features, labels, len(model.segments))
    z = profiles.z
    fits = score_fits(z, playbook)
    keys = [p.key for p in playbook.personas]
    checks = check_criteria(clean.features, labels, len(model.segments), {p.key: p.criteria for p in playbook.personas},
                            profiles)
    namings, events = [], []
    for i, info in enumerate(model.segments):
        own = tuple(checks[info.persona_key][i]) if info.persona_key in checks else ()
        naming = saved_naming(info, z[i], playbook, fits[i], own)
        namings.append(naming)
        share = float(np.mean(labels == i))
        failed = [c.text for c in own if not c.passed]
        if share < 0.005:
            events.append(f"{info.name} has almost vanished: {format_share(share)} of customers this month.")
        elif info.persona_key in keys and (naming.fit < playbook.min_fit or failed):
            why = f"fails {', '.join(failed)}" if failed else f"fit {format_number(naming.fit)}"
            events.append(f"{info.name} no longer fits its persona ({why}); consider fitting the segments afresh.")
    psi, psi_last, current, zeros = _drift(previous, clean.features)
    continuity = Continuity(
        "score", previous.model_month, previous.previous_month, psi,
        tuple(float(v) for v in centroid_shift(model.centroids, matrix, labels)), tuple(events), previous.reference,
        psi_last, zeros, current, previous.model_month,
    )
    return labels, model, namings, continuity, profiles


def _match_previous(
    labels, centroids, namings, z, scaler, previous: PreviousModel, playbook, clean, month, checks, stability
):
    """Refit: matched clusters inherit last month's ids, names and colours; others are named anew."""
    old = previous.model
    match = match_refit(centroids, scaler, old.centroids, old.scaler)
    taken = {old.segments[o].persona_key for o in match.matched.values()}
    unmatched = [n for n in range(len(centroids)) if n not in match.matched]
    spare = replace(playbook, personas=tuple(p for p in playbook.personas if p.key not in taken))
    spare_checks = {key: [rows[n] for n in unmatched] for key, rows in checks.items()}
    fresh = (
        name_segments(z[unmatched], spare, spare_checks, [stability[n] for n in unmatched])
        if unmatched and spare.personas else [namings[n] for n in unmatched]
    )
    order = sorted(match.matched, key=lambda n: match.matched[n]) + unmatched
    used_colors = {s.color for s in old.segments}
    spare_colors = [c for c in PALETTE if c not in used_colors]
    infos, final = [], []
    for new_id, n in enumerate(order, start=1):
        if n in match.matched:
            info = old.segments[match.matched[n]]
            fits = score_fits(z[n : n + 1], playbook)[0]
            own = tuple(checks[info.persona_key][n]) if info.persona_key in checks else ()
            final.append(saved_naming(info, z[n], playbook, fits, own))
            infos.append(SegmentInfo(new_id, info.name, info.persona_key, info.color, _rounded(stability[n])))
        else:
            naming = fresh[unmatched.index(n)]
            final.append(naming)
            color = spare_colors.pop(0) if spare_colors else "#444444"
            infos.append(SegmentInfo(new_id, naming.name, naming.persona_key, color, _rounded(stability[n])))
    old_names = [s.name for s in old.segments]
    new_names = [infos[order.index(n)].name for n in range(len(centroids))]
    events = describe_changes(match, old_names, new_names)
    labels = np.argsort(order).astype(np.int32)[labels]
    psi, psi_last, current, zeros = _drift(previous, clean.features)
    continuity = Continuity(
        "refit", month, previous.previous_month, psi,  # the drift: against the model refitted from
        tuple(match.distances.get(n, float("nan")) for n in order), events, current, psi_last, zeros, current,
        previous.model_month,
    )
    return labels, centroids[order], final, tuple(infos), continuity, order


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


def correlation_matrix(features: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Spearman rank correlation (robust to the skew) on a bounded sample: at most
    :data:`CORRELATION_SAMPLE` customers drawn without replacement (seeded). The draw costs the
    sample's size, not the extract's (``DataFrame.sample`` shuffled all 10M positions: 0.6 s)."""
    sample = features[list(FEATURES)]
    if len(sample) > CORRELATION_SAMPLE:
        rows = np.random.default_rng(seed).choice(len(sample), CORRELATION_SAMPLE, replace=False)
        sample = sample.take(np.sort(rows))
    return sample.corr(method="spearman").fillna(0.0)

"""The report model: one tree of frozen dataclasses holding every number, table and text.

Built once from a :class:`~reportgen.pipeline.SegmentationResult`; every renderer (HTML, PDF,
PowerPoint, dashboard, e-mail) is a function of this model and the settings, never of the raw
data, so the deliverables cannot disagree. It holds plain values only and dumps to JSON.
"""

from __future__ import annotations

import dataclasses
import json
import platform
from dataclasses import dataclass
from importlib import metadata

import numpy as np
import pandas as pd

from reportgen.contract import BY_NAME, COLUMNS, RATIOS
from reportgen.features import TRANSFORM_DESCRIPTION
from reportgen.formatting import format_count, format_money, format_share
from reportgen.personas import PROFILE_FEATURES, feature_label
from reportgen.profiles import profile_frame

MODEL_VERSION = 1


@dataclass(frozen=True)
class Kpi:
    """A headline figure: ``display`` is ``value`` formatted for every format alike."""

    key: str
    label: str
    value: float
    display: str


@dataclass(frozen=True)
class RunFacts:
    """What was run, on what, with what."""

    title: str
    month: str
    generated_at: str
    input_name: str
    input_sha256: str
    input_format: str
    customers: int
    seed: int
    k: int
    k_forced: bool
    transform: str
    playbook: str
    versions: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ColumnCount:
    """A count of values per column (imputed gaps, capped frequencies)."""

    column: str
    count: int
    note: str


@dataclass(frozen=True)
class DataQuality:
    """What loading and validation did to the extract."""

    rows_read: int
    rows_used: int
    file_format: str
    delimiter: str
    encoding: str
    renamed: tuple[tuple[str, str], ...]
    ignored_columns: tuple[str, ...]
    imputed: tuple[ColumnCount, ...]
    capped: tuple[ColumnCount, ...]


@dataclass(frozen=True)
class KRow:
    """The evidence for one k."""

    k: int
    inertia: float
    silhouette: float
    calinski_harabasz: float
    davies_bouldin: float
    stability: float
    min_share: float
    admissible: bool
    chosen: bool


@dataclass(frozen=True)
class KChoice:
    """How k was chosen."""

    rows: tuple[KRow, ...]
    chosen_k: int
    forced: bool
    rule: str
    reason: str
    sample_size: int


@dataclass(frozen=True)
class ProfileRow:
    """One feature of a segment's profile against the portfolio."""

    feature: str
    label: str
    unit: str
    mean: float
    median: float
    portfolio_mean: float
    portfolio_median: float
    z: float


@dataclass(frozen=True)
class Segment:
    """One segment with its persona, figures and playbook texts. ``id`` starts at 1."""

    id: int
    name: str
    persona_key: str | None
    color: str
    customers: int
    share: float
    fit: float
    description: str
    traits: tuple[str, ...]
    actions: tuple[str, ...]
    risks: tuple[str, ...]
    kpis: tuple[Kpi, ...]
    profile: tuple[ProfileRow, ...]


@dataclass(frozen=True)
class Scatter:
    """The PCA picture: a fixed-size sample of customers in the first two components."""

    x: tuple[float, ...]
    y: tuple[float, ...]
    segment: tuple[int, ...]
    explained: tuple[float, float]
    total_customers: int


@dataclass(frozen=True)
class Correlation:
    """Spearman rank correlation between the 17 features."""

    features: tuple[str, ...]
    matrix: tuple[tuple[float, ...], ...]


@dataclass(frozen=True)
class DictionaryEntry:
    """One column of the data dictionary."""

    name: str
    unit: str
    description: str


@dataclass(frozen=True)
class Cube:
    """Exact aggregates for filtering: one row per (segment, tenure, limit band, utilisation band)
    cell with the customer count and the sums every KPI is made of. Its size depends on k and the
    bands, never on the number of customers, and any filter's KPIs are sums over its rows."""

    dimensions: tuple[str, ...]
    measures: tuple[str, ...]
    limit_bands: tuple[str, ...]
    utilisation_bands: tuple[str, ...]
    rows: tuple[tuple[float, ...], ...]


@dataclass(frozen=True)
class CustomerSample:
    """A fixed-size random sample of customers for drill-down tables and distributions.
    ``ids`` are masked unless the configuration allows them."""

    columns: tuple[str, ...]
    ids: tuple[str, ...]
    segment: tuple[int, ...]
    values: tuple[tuple[float, ...], ...]
    total_customers: int
    ids_masked: bool


@dataclass(frozen=True)
class ReportModel:
    """Everything the deliverables show."""

    version: int
    facts: RunFacts
    kpis: tuple[Kpi, ...]
    quality: DataQuality
    k_choice: KChoice
    segments: tuple[Segment, ...]
    findings: tuple[str, ...]
    scatter: Scatter
    correlation: Correlation
    dictionary: tuple[DictionaryEntry, ...]
    cube: Cube
    sample: CustomerSample


LIMIT_BANDS = ((0, 1_000, "under $1k"), (1_000, 2_500, "$1k-2.5k"), (2_500, 5_000, "$2.5k-5k"),
               (5_000, 10_000, "$5k-10k"), (10_000, float("inf"), "$10k and over"))
UTILISATION_BANDS = ((0, 0.1, "under 10%"), (0.1, 0.3, "10-30%"), (0.3, 0.6, "30-60%"),
                     (0.6, 0.9, "60-90%"), (0.9, float("inf"), "90% and over"))
CUBE_MEASURES = ("customers", "BALANCE", "PURCHASES", "PAYMENTS", "CREDIT_LIMIT", "CASH_ADVANCE",
                 "PRC_FULL_PAYMENT", "cash_advance_users")
SAMPLE_SIZE = 5_000
SAMPLE_COLUMNS = ("BALANCE", "PURCHASES", "PAYMENTS", "CREDIT_LIMIT", "CASH_ADVANCE", "PURCHASES_FREQUENCY",
                  "PRC_FULL_PAYMENT", "TENURE", "UTILISATION")


def build_report_model(
    result, *, month: str, generated_at: str, title: str | None = None, show_ids: bool = False
) -> ReportModel:
    """Turn a pipeline result into the report model (all numbers computed here, once)."""
    features = result.clean.features
    labels = result.labels
    segments = tuple(_segment(result, i) for i in range(len(result.namings)))
    return ReportModel(
        version=MODEL_VERSION,
        facts=_facts(result, month, generated_at, title),
        kpis=_kpis(features, np.ones(len(features), bool)),
        quality=_quality(result),
        k_choice=_k_choice(result.selection),
        segments=segments,
        findings=describe_findings(segments, features, labels),
        scatter=Scatter(
            x=tuple(_round(v) for v in result.pca.x),
            y=tuple(_round(v) for v in result.pca.y),
            segment=tuple(int(s) + 1 for s in result.pca.segment),
            explained=tuple(_round(v) for v in result.pca.explained),
            total_customers=result.pca.total_customers,
        ),
        correlation=Correlation(
            features=tuple(result.correlation.columns),
            matrix=tuple(tuple(_round(v) for v in row) for row in result.correlation.to_numpy()),
        ),
        dictionary=tuple(DictionaryEntry(c.name, c.unit, c.description) for c in COLUMNS)
        + tuple(DictionaryEntry(name, "ratio", label) for name, (_n, _d, label) in RATIOS.items()),
        cube=build_cube(features, labels),
        sample=_customer_sample(result, show_ids),
    )


def _band(values: np.ndarray, bands) -> np.ndarray:
    edges = [low for low, _high, _label in bands[1:]]
    return np.searchsorted(np.asarray(edges), values, side="right")


def build_cube(features, labels) -> Cube:
    """Aggregate customers into (segment, tenure, limit band, utilisation band) cells."""
    limit = features["CREDIT_LIMIT"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        util = np.where(limit > 0, features["BALANCE"].to_numpy() / np.where(limit > 0, limit, 1), 0.0)
    frame = pd.DataFrame(
        {
            "segment": labels + 1,
            "tenure": features["TENURE"].to_numpy().astype(int),
            "limit_band": _band(limit, LIMIT_BANDS),
            "utilisation_band": _band(util, UTILISATION_BANDS),
            "customers": 1,
            **{m: features[m].to_numpy() for m in CUBE_MEASURES[1:-1]},
            "cash_advance_users": (features["CASH_ADVANCE"].to_numpy() > 0).astype(int),
        }
    )
    dims = ("segment", "tenure", "limit_band", "utilisation_band")
    grouped = frame.groupby(list(dims), sort=True)[list(CUBE_MEASURES)].sum().reset_index()
    rows = tuple(
        tuple(int(v) if i < len(dims) + 1 or i == len(grouped.columns) - 1 else _round(v, 10) for i, v in enumerate(r))
        for r in grouped.itertuples(index=False)
    )
    return Cube(dims, CUBE_MEASURES, tuple(b[2] for b in LIMIT_BANDS), tuple(b[2] for b in UTILISATION_BANDS), rows)


def mask_id(customer_id: str) -> str:
    """Hide most of an id, keeping its first and last two characters: ``C10001 -> C•••01``."""
    text = str(customer_id)
    return text[:1] + "•••" + text[-2:] if len(text) > 4 else "•••"


def _customer_sample(result, show_ids: bool) -> CustomerSample:
    n = len(result.labels)
    rng = np.random.default_rng(result.settings.segmentation.seed)
    idx = np.sort(rng.choice(n, size=min(SAMPLE_SIZE, n), replace=False))
    frame = profile_frame(result.clean.features.iloc[idx])
    ids = result.clean.ids.iloc[idx].astype(str)
    return CustomerSample(
        columns=SAMPLE_COLUMNS,
        ids=tuple(ids if show_ids else ids.map(mask_id)),
        segment=tuple(int(s) + 1 for s in result.labels[idx]),
        values=tuple(tuple(_round(v, 6) for v in row) for row in frame[list(SAMPLE_COLUMNS)].to_numpy()),
        total_customers=n,
        ids_masked=not show_ids,
    )


def _round(value: float, digits: int = 6) -> float:
    """Round to ``digits`` significant digits so the JSON is stable and compact."""
    value = float(value)
    if value == 0 or not np.isfinite(value):
        return value
    return float(f"{value:.{digits}g}")


def _kpis(features, mask) -> tuple[Kpi, ...]:
    sub = features[mask]
    n = len(sub)
    balance, limit = float(sub["BALANCE"].sum()), float(sub["CREDIT_LIMIT"].sum())
    utilisation = balance / limit if limit else 0.0
    full = float(sub["PRC_FULL_PAYMENT"].mean()) if n else 0.0
    cash_users = float((sub["CASH_ADVANCE"] > 0).mean()) if n else 0.0
    return (
        Kpi("customers", "Customers", n, format_count(n)),
        Kpi("balance", "Total balance", _round(balance), format_money(balance, compact=True)),
        Kpi("purchases", "Total purchases", _round(sub["PURCHASES"].sum()), format_money(sub["PURCHASES"].sum(), compact=True)),
        Kpi("payments", "Total payments", _round(sub["PAYMENTS"].sum()), format_money(sub["PAYMENTS"].sum(), compact=True)),
        Kpi("utilisation", "Utilisation (balance / limit)", _round(utilisation), format_share(utilisation)),
        Kpi("avg_balance", "Average balance", _round(balance / n if n else 0), format_money(balance / n if n else 0)),
        Kpi("avg_purchases", "Average purchases", _round(sub["PURCHASES"].mean()), format_money(sub["PURCHASES"].mean())),
        Kpi("avg_payments", "Average payments", _round(sub["PAYMENTS"].mean()), format_money(sub["PAYMENTS"].mean())),
        Kpi("avg_limit", "Average credit limit", _round(limit / n if n else 0), format_money(limit / n if n else 0)),
        Kpi("full_payment", "Months paid in full", _round(full), format_share(full)),
        Kpi("cash_advance_users", "Customers using cash advance", _round(cash_users), format_share(cash_users)),
    )


def _segment(result, i: int) -> Segment:
    naming, info, profiles = result.namings[i], result.model.segments[i], result.profiles
    mask = result.labels == i
    customers = int(profiles.sizes[i])
    rows = tuple(
        ProfileRow(
            feature=f,
            label=feature_label(f),
            unit=BY_NAME[f].unit if f in BY_NAME else ("$" if f == "AVERAGE_TICKET" else "ratio"),
            mean=_round(profiles.means[i, j]),
            median=_round(profiles.medians[i, j]),
            portfolio_mean=_round(profiles.portfolio_means[j]),
            portfolio_median=_round(profiles.portfolio_medians[j]),
            z=_round(profiles.z[i, j], 4),
        )
        for j, f in enumerate(PROFILE_FEATURES)
    )
    return Segment(
        id=info.id,
        name=naming.name,
        persona_key=naming.persona_key,
        color=info.color,
        customers=customers,
        share=_round(customers / len(result.labels)),
        fit=_round(naming.fit, 4),
        description=naming.description,
        traits=naming.traits,
        actions=naming.actions,
        risks=naming.risks,
        kpis=_kpis(result.clean.features, mask),
        profile=rows,
    )


def describe_findings(segments, features, labels) -> tuple[str, str, str]:
    """Three findings written from the data: size, spend concentration, balance risk."""
    total_customers = len(labels)
    purchases = features["PURCHASES"].to_numpy()
    balance = features["BALANCE"].to_numpy()
    limit = features["CREDIT_LIMIT"].to_numpy()
    stats = []
    for s in segments:
        mask = labels == s.id - 1
        stats.append(
            (
                s,
                purchases[mask].sum() / max(purchases.sum(), 1e-9),
                balance[mask].sum() / max(balance.sum(), 1e-9),
                balance[mask].sum() / max(limit[mask].sum(), 1e-9),
            )
        )
    largest = max(segments, key=lambda s: s.customers)
    spend = max(stats, key=lambda t: t[1] - t[0].share)
    risk = max(stats, key=lambda t: t[3])
    return (
        f"{largest.name} are the largest segment: {format_count(largest.customers)} customers, "
        f"{format_share(largest.customers / total_customers)} of the portfolio.",
        f"{spend[0].name} make {format_share(spend[1])} of all purchases while being "
        f"{format_share(spend[0].share)} of customers.",
        f"{risk[0].name} run the highest utilisation ({format_share(risk[3])} of their limits) and carry "
        f"{format_share(risk[2])} of all balances: the first place to watch for credit risk.",
    )


def _facts(result, month: str, generated_at: str, title: str | None) -> RunFacts:
    packages = ("reportgen", "pandas", "numpy", "scikit-learn", "jinja2", "weasyprint", "matplotlib", "python-pptx")
    versions = tuple((p, _version(p)) for p in packages) + (("python", platform.python_version()),)
    return RunFacts(
        title=title or "Customer Segmentation Report",
        month=month,
        generated_at=generated_at,
        input_name=result.extract.path.name,
        input_sha256=result.extract.sha256,
        input_format=result.extract.file_format,
        customers=len(result.labels),
        seed=result.settings.segmentation.seed,
        k=result.selection.chosen_k,
        k_forced=result.selection.forced,
        transform=TRANSFORM_DESCRIPTION,
        playbook=result.playbook.path.name,
        versions=versions,
    )


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _quality(result) -> DataQuality:
    extract, clean = result.extract, result.clean
    delimiter = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}.get(extract.delimiter or "", extract.delimiter or "n/a")
    return DataQuality(
        rows_read=len(extract.frame),
        rows_used=len(clean.features),
        file_format=extract.file_format,
        delimiter=delimiter,
        encoding=extract.encoding or "n/a",
        renamed=tuple(sorted((str(k), v) for k, v in extract.renamed.items())),
        ignored_columns=extract.ignored_columns,
        imputed=tuple(
            ColumnCount(c, n, f"empty values set to the median, {format_money(clean.impute_values[c])}")
            for c, n in clean.imputed.items()
        ),
        capped=tuple(ColumnCount(c, n, "frequencies above 1 capped at 1") for c, n in clean.capped.items()),
    )


def _k_choice(selection) -> KChoice:
    rows = tuple(
        KRow(
            k=e.k,
            inertia=_round(e.inertia),
            silhouette=_round(e.silhouette, 4),
            calinski_harabasz=_round(e.calinski_harabasz),
            davies_bouldin=_round(e.davies_bouldin, 4),
            stability=_round(e.stability, 4),
            min_share=_round(e.min_share, 4),
            admissible=e.admissible,
            chosen=e.k == selection.chosen_k,
        )
        for e in selection.evidence
    )
    return KChoice(rows, selection.chosen_k, selection.forced, selection.rule, selection.reason, selection.sample_size)


def model_to_json(model: ReportModel) -> str:
    """The model as indented JSON (stable key order)."""
    tree = _finite(dataclasses.asdict(model))
    return json.dumps(tree, indent=1, sort_keys=True, allow_nan=False) + "\n"


def _finite(value):
    """Plain JSON values: numpy scalars to Python, NaN and infinities to ``None``."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    return value

"""The report model: one tree of frozen dataclasses holding every number, table and text.

Built once from a :class:`~reportgen.pipeline.SegmentationResult`; every renderer (HTML, PDF,
PowerPoint, dashboard, e-mail) is a function of this model and the settings, never of the raw
data, so the deliverables cannot disagree. It holds plain values only and dumps to JSON.
"""

from __future__ import annotations

import dataclasses
import json
import math
import platform
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING

import numpy as np

from reportgen.contract import BY_NAME, COLUMNS, RATIOS
from reportgen.features import TRANSFORM_DESCRIPTION
from reportgen.formatting import format_count, format_money, format_share
from reportgen.personas import PROFILE_FEATURES, feature_label
from reportgen.profiles import profile_frame

if TYPE_CHECKING:  # pandas is imported where used: the render lanes unpickle models without it
    import pandas as pd

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
    customers: int


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
class FeatureShift:
    """Population stability index of one key feature against the model's fit month."""

    feature: str
    label: str
    psi: float
    level: str


@dataclass(frozen=True)
class Monitoring:
    """Which way the segments were made this month, and what moved.

    ``mode``: "fit" (first month, no history), "score" (the saved model assigned this month's
    customers, names kept) or "refit" (fitted afresh and matched to last month's segments)."""

    mode: str
    model_month: str
    previous_month: str | None
    statement: str
    psi: tuple[FeatureShift, ...]
    centroid_shift: tuple[tuple[str, float], ...]
    events: tuple[str, ...]


@dataclass(frozen=True)
class TrendSeries:
    """One segment's figures over the trend months (``None`` where it did not exist)."""

    name: str
    color: str
    customers: tuple[int | None, ...]
    share: tuple[float | None, ...]
    avg_balance: tuple[float | None, ...]
    avg_purchases: tuple[float | None, ...]
    utilisation: tuple[float | None, ...]


@dataclass(frozen=True)
class Migration:
    """Customers moving between segments from last month to this month."""

    month_from: str
    month_to: str
    names_from: tuple[str, ...]
    names_to: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]
    customers_both: int
    moved: int
    highlights: tuple[str, ...]
    at_risk: tuple[str, ...]


@dataclass(frozen=True)
class History:
    """Trends over the last months and the latest migration (present once a month is recorded)."""

    months: tuple[str, ...]
    series: tuple[TrendSeries, ...]
    portfolio_customers: tuple[int, ...]
    migration: Migration | None
    # month -> filter cube rows, with this month's segment ids (for the dashboard's month filter)
    cubes: dict[str, tuple[tuple[float, ...], ...]] = field(default_factory=dict)


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
    monitoring: Monitoring
    history: History | None = None
    changes: tuple[str, ...] = ()


AT_RISK = ("dormant", "revolvers")
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
    result, *, month: str, generated_at: str, title: str | None = None, show_ids: bool = False,
    trend=None, migration=None, cubes=None,
) -> ReportModel:
    """Turn a pipeline result into the report model (all numbers computed here, once).

    ``trend`` (segment KPIs of earlier months from the history store, a DataFrame) and
    ``migration`` (customers per (segment last month, segment now), a DataFrame) add the
    history sections."""
    features = result.clean.features
    labels = result.labels
    columns = kpi_columns(features)
    segments = tuple(_segment(result, i, columns) for i in range(len(result.namings)))
    monitoring = _monitoring(result)
    cube = build_cube(features, labels)
    history = _history(segments, month, trend, migration, result.playbook, _month_cubes(cubes, segments, month, cube))
    return ReportModel(
        version=MODEL_VERSION,
        facts=_facts(result, month, generated_at, title),
        kpis=_kpis(columns, slice(None)),
        quality=_quality(result),
        k_choice=k_choice_of(result.selection, len(result.labels)),
        segments=segments,
        findings=describe_findings(segments, columns, labels),
        scatter=Scatter(
            x=tuple(_round(v) for v in result.pca.x),
            y=tuple(_round(v) for v in result.pca.y),
            segment=tuple(int(s) + 1 for s in result.pca.segment),
            explained=tuple(_round(v) for v in result.pca.explained),
            total_customers=result.pca.total_customers,
        ),
        correlation=correlation_of(result.correlation),
        dictionary=tuple(DictionaryEntry(c.name, c.unit, c.description) for c in COLUMNS)
        + tuple(DictionaryEntry(name, "ratio", label) for name, (_n, _d, label) in RATIOS.items()),
        cube=cube,
        sample=_customer_sample(result, show_ids),
        monitoring=monitoring,
        history=history,
        changes=describe_changes(monitoring, history),
    )


def describe_changes(monitoring: Monitoring, history: History | None) -> tuple[str, ...]:
    """What changed since last month, most important first: how many customers moved and who
    became at risk, then segments whose size moved by 5% or more, then drift and events (empty in
    the first recorded month)."""
    if history is None or len(history.months) < 2:
        return ()
    lines = []
    migration = history.migration
    if migration is not None:
        lines.append(f"{format_count(migration.moved)} customers ({format_share(migration.moved / max(migration.customers_both, 1))}) "
                     f"changed segment since {migration.month_from}.")
        lines.extend(migration.at_risk)
    for series in history.series:
        before, now = series.customers[-2], series.customers[-1]
        if before is not None and now is not None and before and abs(now - before) / before >= 0.05:
            lines.append(f"{series.name}: {format_count(before)} → {format_count(now)} customers "
                         f"({(now - before) / before:+.0%}).")
    if migration is not None:
        lines.extend(migration.highlights[:2])
    lines.extend(f"{p.label}: {p.level} since {monitoring.model_month} (PSI {p.psi:.2f})."
                 for p in monitoring.psi if p.level != "stable")
    lines.extend(monitoring.events)
    return tuple(lines)


def _monitoring(result) -> Monitoring:
    c = result.continuity
    statements = {
        "fit": "First recorded month: segments were fitted on this month's customers.",
        "score": f"Customers were scored with the saved model fitted in {c.model_month}; segment names and "
                 "colours are unchanged.",
        "refit": f"Segments were refitted on this month's customers and matched to {c.previous_month}'s segments "
                 "by centroid distance, so names and colours carry over.",
    }
    from reportgen.drift import psi_level

    return Monitoring(
        mode=c.mode,
        model_month=c.model_month,
        previous_month=c.previous_month,
        statement=statements[c.mode],
        psi=tuple(FeatureShift(f, feature_label(f), _round(v, 4), psi_level(v)) for f, v in c.psi.items()),
        centroid_shift=tuple(
            (info.name, _round(v, 4)) for info, v in zip(result.model.segments, c.centroid_shift)
        ),
        events=c.events,
    )


def _month_cubes(stored, segments, month: str, cube: Cube) -> dict:
    """Earlier months' cubes with their segment ids translated, by name, to this month's ids
    (rows of segments that no longer exist are left out), plus this month's cube."""
    ids = {s.name: s.id for s in segments}
    out = {}
    for past, entry in sorted((stored or {}).items()):
        names = entry["names"]
        out[past] = tuple(
            (ids[names[int(row[0]) - 1]], *row[1:]) for row in entry["rows"] if names[int(row[0]) - 1] in ids
        )
    out[month] = cube.rows
    return out


def _history(segments, month, trend, migration, playbook, cubes) -> History | None:
    if trend is None or trend.empty:
        return None
    import pandas as pd

    current = pd.DataFrame(
        [
            {
                "month": month, "name": s.name, "color": s.color, "customers": s.customers, "share": s.share,
                "avg_balance": _kpi(s, "avg_balance"), "avg_purchases": _kpi(s, "avg_purchases"),
                "utilisation": _kpi(s, "utilisation"),
            }
            for s in segments
        ]
    )
    frame = pd.concat([trend[trend["month"] < month][current.columns], current], ignore_index=True)
    months = tuple(sorted(frame["month"].unique()))
    names = [s.name for s in segments] + sorted(set(frame["name"]) - {s.name for s in segments})
    series = []
    for name in names:
        rows = frame[frame["name"] == name].set_index("month")
        pick = lambda col: tuple(_opt(rows[col].get(m)) for m in months)  # noqa: E731
        series.append(TrendSeries(name, str(rows["color"].iloc[-1]), tuple(
            None if v is None else int(v) for v in pick("customers")), pick("share"), pick("avg_balance"),
            pick("avg_purchases"), pick("utilisation")))
    totals = tuple(int(frame[frame["month"] == m]["customers"].sum()) for m in months)
    return History(months, tuple(series), totals, _migration(migration, months, segments, playbook),
                   {m: c for m, c in cubes.items() if m in months})


def _kpi(segment, key: str) -> float:
    return next(k.value for k in segment.kpis if k.key == key)


def _opt(value):
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else _round(value)


def _migration(frame, months, segments, playbook) -> Migration | None:
    if frame is None or frame.empty or len(months) < 2:
        return None
    table = frame.pivot_table(index="name_from", columns="name_to", values="customers", aggfunc="sum", fill_value=0)
    order = [s.name for s in segments]
    names_to = [n for n in order if n in table.columns] + sorted(set(table.columns) - set(order))
    names_from = [n for n in order if n in table.index] + sorted(set(table.index) - set(order))
    table = table.reindex(index=names_from, columns=names_to, fill_value=0)
    both = int(table.to_numpy().sum())
    moved = both - int(sum(table.at[n, n] for n in names_from if n in names_to))
    flows = sorted(
        ((int(table.at[a, b]), a, b) for a in names_from for b in names_to if a != b and table.at[a, b] > 0),
        reverse=True,
    )
    highlights = tuple(f"{format_count(c)} {a} became {b}." for c, a, b in flows[:3])
    risky = {s.name for s in segments if s.persona_key in AT_RISK}
    at_risk = tuple(
        f"{format_count(sum(c for c, _a, b in flows if b == name))} customers moved into {name} this month: "
        "an at-risk group for retention and credit follow-up."
        for name in names_to if name in risky and any(b == name for _c, _a, b in flows)
    )
    return Migration(
        month_from=months[-2], month_to=months[-1], names_from=tuple(names_from), names_to=tuple(names_to),
        counts=tuple(tuple(int(v) for v in row) for row in table.to_numpy()), customers_both=both, moved=moved,
        highlights=highlights, at_risk=at_risk,
    )


def _band(values: np.ndarray, bands) -> np.ndarray:
    edges = [low for low, _high, _label in bands[1:]]
    return np.searchsorted(np.asarray(edges), values, side="right")


def build_cube(features, labels) -> Cube:
    """Aggregate customers into (segment, tenure, limit band, utilisation band) cells."""
    limit = features["CREDIT_LIMIT"].to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        util = np.where(limit > 0, features["BALANCE"].to_numpy(dtype="float64") / np.where(limit > 0, limit, 1), 0.0)
    import pandas as pd

    frame = pd.DataFrame(
        {
            "segment": labels + 1,
            "tenure": features["TENURE"].to_numpy().astype(int),
            "limit_band": _band(limit, LIMIT_BANDS),
            "utilisation_band": _band(util, UTILISATION_BANDS),
            "customers": 1,
            **{m: features[m].to_numpy(dtype="float64") for m in CUBE_MEASURES[1:-1]},
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
        values=tuple(map(tuple, _round_array(frame[list(SAMPLE_COLUMNS)].to_numpy(dtype="float64")).tolist())),
        total_customers=n,
        ids_masked=not show_ids,
    )


def _round(value: float, digits: int = 6) -> float:
    """Round to ``digits`` significant digits so the JSON is stable and compact."""
    value = float(value)
    if value == 0 or not np.isfinite(value):
        return value
    return float(f"{value:.{digits}g}")


def _round_array(values: np.ndarray, digits: int = 6) -> np.ndarray:
    """:func:`_round` of every element, vectorised (the customer sample holds 85,000 values):
    the same results, element for element; values that fall near a rounding tie after scaling
    are rounded one by one, as :func:`_round` rounds them."""
    out = np.array(values, dtype=np.float64)
    pick = np.isfinite(out) & (out != 0)
    x = out[pick]
    shift = digits - 1 - np.floor(np.log10(np.abs(x))).astype(int)
    # Multiply or divide by an exact power of ten, so the division is correctly rounded.
    up = shift >= 0
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = np.where(up, x * 10.0 ** np.where(up, shift, 0), x / 10.0 ** np.where(up, 0, -shift))
        rounded = np.round(scaled)
        result = np.where(up, rounded / 10.0 ** np.where(up, shift, 0), rounded * 10.0 ** np.where(up, 0, -shift))
        # Near-ties and extremes (sub-normal numbers) are rounded one by one.
        slow = ~np.isfinite(result) | (np.abs(np.abs(scaled - np.trunc(scaled)) - 0.5) < 1e-6)
    result[slow] = [_round(v, digits) for v in x[slow]]
    out[pick] = result
    return out


KPI_COLUMNS = ("BALANCE", "CREDIT_LIMIT", "PURCHASES", "PAYMENTS", "PRC_FULL_PAYMENT", "CASH_ADVANCE")


def kpi_columns(features) -> dict[str, np.ndarray]:
    """The columns KPIs are made of, widened to float64 once (features may be float32, whose
    7-digit sums would show in the totals)."""
    return {name: features[name].to_numpy(dtype="float64") for name in KPI_COLUMNS}


def _kpis(columns: dict[str, np.ndarray], mask) -> tuple[Kpi, ...]:
    pick = {name: values[mask] for name, values in columns.items()}
    n = len(pick["BALANCE"])
    balance, limit = float(pick["BALANCE"].sum()), float(pick["CREDIT_LIMIT"].sum())
    purchases, payments = float(pick["PURCHASES"].sum()), float(pick["PAYMENTS"].sum())
    utilisation = balance / limit if limit else 0.0
    full = float(pick["PRC_FULL_PAYMENT"].mean()) if n else 0.0
    cash_users = float((pick["CASH_ADVANCE"] > 0).mean()) if n else 0.0
    per = (lambda total: total / n) if n else (lambda total: 0.0)
    return (
        Kpi("customers", "Customers", n, format_count(n)),
        Kpi("balance", "Total balance", _round(balance), format_money(balance, compact=True)),
        Kpi("purchases", "Total purchases", _round(purchases), format_money(purchases, compact=True)),
        Kpi("payments", "Total payments", _round(payments), format_money(payments, compact=True)),
        Kpi("utilisation", "Utilisation (balance / limit)", _round(utilisation), format_share(utilisation)),
        Kpi("avg_balance", "Average balance", _round(per(balance)), format_money(per(balance))),
        Kpi("avg_purchases", "Average purchases", _round(per(purchases)), format_money(per(purchases))),
        Kpi("avg_payments", "Average payments", _round(per(payments)), format_money(per(payments))),
        Kpi("avg_limit", "Average credit limit", _round(per(limit)), format_money(per(limit))),
        Kpi("full_payment", "Months paid in full", _round(full), format_share(full)),
        Kpi("cash_advance_users", "Customers using cash advance", _round(cash_users), format_share(cash_users)),
    )


def _segment(result, i: int, columns: dict[str, np.ndarray]) -> Segment:
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
        kpis=_kpis(columns, mask),
        profile=rows,
    )


def describe_findings(segments, columns: dict[str, np.ndarray], labels) -> tuple[str, str, str]:
    """Three findings written from the data: size, spend concentration, balance risk
    (``columns`` as :func:`kpi_columns` gives them)."""
    total_customers = len(labels)
    purchases, balance, limit = columns["PURCHASES"], columns["BALANCE"], columns["CREDIT_LIMIT"]
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


def k_choice_of(selection, customers: int) -> KChoice:
    """The report's account of a :class:`~reportgen.selection.KSelection` over ``customers``."""
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
    return KChoice(
        rows, selection.chosen_k, selection.forced, selection.rule, selection.reason, selection.sample_size, customers
    )


def correlation_of(frame: pd.DataFrame) -> Correlation:
    """The report's rounded copy of the pipeline's correlation matrix."""
    return Correlation(
        features=tuple(frame.columns),
        matrix=tuple(tuple(_round(v) for v in row) for row in frame.to_numpy()),
    )


def model_to_json(model: ReportModel) -> str:
    """The model as indented JSON (stable key order)."""
    return json.dumps(_plain(model), indent=1, sort_keys=True, allow_nan=False) + "\n"


def _plain(value):
    """Plain JSON values, walking the dataclasses directly (``dataclasses.asdict`` deep-copies
    every leaf, which is slow for the sample and the cube): numpy scalars become Python numbers,
    NaN and infinities ``None``."""
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value

"""The report model: one tree of frozen dataclasses holding every number, table and text.

Built once from a :class:`~reportgen.segmentation.pipeline.SegmentationResult`; every renderer (HTML, PDF,
PowerPoint, dashboard, e-mail) is a function of this model and the settings, never of the raw
data, so the deliverables cannot disagree. It holds plain values only and dumps to JSON.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field

import numpy as np

from reportgen.report.formatting import format_count
from reportgen.report.notebook import KLine, SegmentLine, overview_html, overview_text

# the action plan's parts are part of the model (imported from here by the builders)
from reportgen.report.plan import Action, Effect, Story  # noqa: F401

MODEL_VERSION = 1


@dataclass(frozen=True)
class Kpi:
    """A headline figure: ``display`` is ``value`` formatted for every format alike (None, "–": no customers)."""

    key: str
    label: str
    value: float | None
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
    # Months the extract's purchases, payments and cash advances cover ([input] period_months);
    # balances and limits are at the extract's end.
    period_months: int = 6
    k_how: str = "chosen by the rule"
    # actions need this many eligible customers ([actions] min_eligible); those withheld this month
    min_eligible: int = 30
    withheld: tuple[str, ...] = ()


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
    stability: float  # the weakest segment's stability (mean Jaccard over refits on resamples)
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
    weak: bool = False  # no k reaches a silhouette of 0.25
    structure: str = ""  # how strong the structure is, in words
    # How k came about, in words: "chosen by the rule", "set by the user" or, in a scored month,
    # "kept from the model fitted in 2026-01" (``forced`` is then true but nobody set k).
    how: str = "chosen by the rule"


@dataclass(frozen=True)
class ProfileRow:
    """One feature of a segment's profile against the portfolio (mean, median, z None: no customers)."""

    feature: str
    label: str
    unit: str
    mean: float | None
    median: float | None
    portfolio_mean: float
    portfolio_median: float
    z: float | None

    @property
    def index(self) -> float | None:
        """The segment's mean as an index of the portfolio's (= 100); None without a mean or a positive portfolio's."""
        known = self.mean is not None and math.isfinite(self.mean) and self.portfolio_mean > 0
        return 100.0 * self.mean / self.portfolio_mean if known else None


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
    stability: float | None = None  # mean Jaccard over refits on resamples (fit month); None: no customers now
    stability_level: str = "not measured"  # highly stable / stable / doubtful / unstable
    name_basis: tuple[str, ...] = ()  # the persona's criteria on this segment's numbers, all met
    naming_note: str = ""  # why the segment has no persona name, when it has none
    risk_flags: tuple[str, ...] = ()  # credit-risk flags by the numbers, whatever the name

    @property
    def short_name(self) -> str:
        """The name for chart axes and labels (see :func:`shorten_name`); the full name stays in
        titles, legends and notes."""
        return shorten_name(self.name)


#: Names longer than this are shortened on chart axes and labels.
SHORT_NAME_CHARS = 24


def shorten_name(name: str) -> str:
    """The one rule for short segment names: a name of up to ``SHORT_NAME_CHARS`` characters is
    kept; a longer one is cut after its last whole word that fits, with an ellipsis
    ("Large one-off purchases & no instalments" -> "Large one-off purchases…")."""
    name = " ".join(name.split())
    if len(name) <= SHORT_NAME_CHARS:
        return name
    cut = name[:SHORT_NAME_CHARS - 1]
    if " " in cut and name[SHORT_NAME_CHARS - 1] != " ":
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" &,;:-") + "…"


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
    """Which way the segments were made this month, and what moved. ``mode``: "fit" (first month, no
    history), "score" (the saved model assigned this month's customers, names kept) or "refit"
    (fitted afresh and matched to last month's segments)."""

    mode: str
    model_month: str
    previous_month: str | None
    statement: str
    psi: tuple[FeatureShift, ...]
    centroid_shift: tuple[tuple[str, float], ...]
    events: tuple[str, ...]
    psi_last: tuple[FeatureShift, ...] = ()  # against last month (empty: none recorded)
    significant_shift: bool = False  # any key feature shifted significantly (PSI > 0.25)
    drift_month: str | None = None  # the month ``psi`` compares with: the fit month of the model scored or refitted


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
    scatter: Scatter
    correlation: Correlation
    dictionary: tuple[DictionaryEntry, ...]
    cube: Cube
    sample: CustomerSample
    monitoring: Monitoring
    history: History | None = None
    changes: tuple[str, ...] = ()
    actions: tuple[Action, ...] = ()
    effects: tuple[Effect, ...] = ()
    story: Story | None = None

    def __repr__(self) -> str:
        """One line: the month, customers, k and the segments (the full model is hundreds of KB)."""
        return overview_text("ReportModel", self._overview_facts(), self._overview_segments())

    def _repr_html_(self) -> str:
        """Jupyter's view: facts, segments with their sizes, and the evidence for k."""
        rows = [KLine(r.k, r.silhouette, r.calinski_harabasz, r.davies_bouldin, r.stability, r.min_share,
                      r.admissible, r.chosen) for r in self.k_choice.rows]
        return overview_html(f"{self.facts.title}, {self.facts.month}", self._overview_facts(),
                             self._overview_segments(), rows, self.k_choice.reason)

    def _overview_facts(self) -> list[tuple[str, str]]:
        return [("month", self.facts.month), ("input", self.facts.input_name),
                ("customers", format_count(self.facts.customers)), ("k", str(self.facts.k))]

    def _overview_segments(self) -> list[SegmentLine]:
        return [SegmentLine(s.id, s.name, s.color, s.customers, s.share) for s in self.segments]


AT_RISK = ("dormant", "revolvers")
LIMIT_BANDS = ((0, 1_000, "under $1k"), (1_000, 2_500, "$1k-2.5k"), (2_500, 5_000, "$2.5k-5k"),
               (5_000, 10_000, "$5k-10k"), (10_000, float("inf"), "$10k and over"))
UTILISATION_BANDS = ((0, 0.1, "under 10%"), (0.1, 0.3, "10-30%"), (0.3, 0.6, "30-60%"),
                     (0.6, 0.9, "60-90%"), (0.9, float("inf"), "90% and over"))
CUBE_MEASURES = ("customers", "BALANCE", "PURCHASES", "PAYMENTS", "CREDIT_LIMIT", "CASH_ADVANCE",
                 "PRC_FULL_PAYMENT", "cash_advance_users")

#: How each KPI of ``model.kpis`` is computed from cube sums: ``(numerator, denominator, format)``.
#: A ``None`` denominator: the numerator itself; no customers: no value (None, "–"); else a zero denominator gives 0
#: (as in ``reportgen.report.build._kpis``). Formats name functions of :mod:`reportgen.report.formatting`.
#: The dashboard's script and the BI extracts compute KPIs for any filter from these.
KPI_FORMULAS: dict[str, tuple[str, str | None, str]] = {
    "customers": ("customers", None, "count"),
    "balance": ("BALANCE", None, "money_compact"),
    "purchases": ("PURCHASES", None, "money_compact"),
    "payments": ("PAYMENTS", None, "money_compact"),
    "utilisation": ("BALANCE", "CREDIT_LIMIT", "share"),
    "avg_balance": ("BALANCE", "customers", "money"),
    "avg_purchases": ("PURCHASES", "customers", "money"),
    "avg_payments": ("PAYMENTS", "customers", "money"),
    "avg_limit": ("CREDIT_LIMIT", "customers", "money"),
    "full_payment": ("PRC_FULL_PAYMENT", "customers", "share"),
    "cash_advance_users": ("cash_advance_users", "customers", "share"),
}
SAMPLE_SIZE = 5_000
SAMPLE_COLUMNS = ("BALANCE", "PURCHASES", "PAYMENTS", "CREDIT_LIMIT", "CASH_ADVANCE", "PURCHASES_FREQUENCY",
                  "PRC_FULL_PAYMENT", "TENURE", "UTILISATION")


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

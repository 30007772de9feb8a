"""Build the report model from a segmentation result: run facts, data quality, the k evidence,
one :class:`~reportgen.report.model.Segment` per segment with its KPIs and profile; the executive story
(:mod:`reportgen.report.story`) is written from it.
"""

from __future__ import annotations

import platform
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from importlib import metadata
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

from reportgen.data.contract import BY_NAME, COLUMNS, RATIOS
from reportgen.data.features import TRANSFORM_DESCRIPTION
from reportgen.report.actions import (
    action_groups,
    build_actions,
    build_effects,
    fields_of_all,
    segment_action_texts,
    segment_sentences,
    values_of,
    withheld_actions,
)
from reportgen.report.cube import _customer_sample, _round, build_cube
from reportgen.report.formatting import format_count, format_money, format_share, month_label
from reportgen.report.model import (
    MODEL_VERSION,
    ColumnCount,
    Correlation,
    DataQuality,
    DictionaryEntry,
    KChoice,
    Kpi,
    KRow,
    ProfileRow,
    ReportModel,
    RunFacts,
    Scatter,
    Segment,
)
from reportgen.report.monitoring import _history, _monitoring, _month_cubes, describe_changes, flag_migration
from reportgen.report.story import describe_story
from reportgen.segmentation.effects import measure_effects
from reportgen.segmentation.personas import PROFILE_FEATURES, feature_label
from reportgen.segmentation.risk import flag_risks
from reportgen.segmentation.stability import describe_stability


def build_report_model(
    result, *, month: str, generated_at: str, title: str | None = None, show_ids: bool = False,
    trend=None, migration=None, cubes=None, campaigns=None,
) -> ReportModel:
    """Turn a pipeline result into the report model (all numbers computed here, once).

    ``trend`` (segment KPIs of earlier months from the history store, a DataFrame) and
    ``migration`` (customers per (segment last month, segment now), a DataFrame) add the
    history sections; ``campaigns`` (last month's target-list members with their control flags,
    see :func:`reportgen.monthly.history.load_campaigns`) adds the measured effects."""
    features = result.clean.features
    labels = result.labels
    # the cube reads the customers on the second core (NumPy releases the GIL in its passes)
    # while this thread applies the playbook's rules to every customer and gathers the KPI
    # columns into segment order
    values = values_of(result)  # every customer field widened at most once, by whichever thread reads it first
    with ThreadPoolExecutor(max_workers=1) as second:
        cube_ready = second.submit(build_cube, features, labels, values)
        risks = flag_risks(features, labels, len(result.namings), result.profiles)
        columns = kpi_columns(values)  # the customer fields the actions read too, widened once
        groups = action_groups(result, month, values)
        by_segment = _by_segment(columns, labels, len(result.namings))
        cube = cube_ready.result()
    period = result.settings.input.period_months
    fields = fields_of_all(result.profiles, len(result.namings))
    segments = tuple(_segment(result, i, by_segment[i], risks[i], fields[i], month)
                     for i in range(len(result.namings)))
    del by_segment
    actions = build_actions(groups, segments, values, period)
    segments = tuple(replace(s, actions=segment_action_texts(actions, s.id)) for s in segments)
    effects = ()
    if campaigns is not None and not campaigns.empty:
        effects = build_effects(measure_effects(campaigns, result.clean.ids, values), str(campaigns["month"].iloc[0]))
    monitoring = _monitoring(result)
    history = _history(segments, month, trend, migration, result.playbook, _month_cubes(cubes, segments, month, cube), period)
    monitoring = flag_migration(monitoring, history)
    kpis = _kpis(columns, slice(None), period)
    changes = describe_changes(monitoring, history)
    model = ReportModel(
        version=MODEL_VERSION,
        facts=_facts(result, month, generated_at, title, withheld_actions(groups, segments)),
        kpis=kpis,
        quality=_quality(result),
        k_choice=k_choice_of(result.selection, len(result.labels), _scored_from(result)),
        segments=segments,
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
        changes=changes,
        actions=actions,
        effects=effects,
    )
    return replace(model, story=describe_story(model))


#: What a figure shows when there is none (a per-customer average of a segment with no customers).
NO_FIGURE = "\u2013"
KPI_COLUMNS = ("BALANCE", "CREDIT_LIMIT", "PURCHASES", "PAYMENTS", "PRC_FULL_PAYMENT", "CASH_ADVANCE")


def kpi_columns(fields) -> dict[str, np.ndarray]:
    """The columns KPIs are made of, from the customer fields of
    :func:`~reportgen.report.actions.values_of`: float64 (features may be float32, whose 7-digit
    sums would show in the totals), widened once for the whole report."""
    return {name: fields[name] for name in KPI_COLUMNS}


def _by_segment(columns: dict[str, np.ndarray], labels, k: int) -> list[dict[str, np.ndarray]]:
    """Each segment's customers' ``columns``, in extract order: every column gathered once into
    segment order (a stable sort), each segment a slice of it, so its sums add the same numbers
    in the same order as ``column[labels == i]`` would, without a pass over everyone per segment."""
    labels = np.asarray(labels)
    order = np.argsort(labels.astype(np.uint8 if k <= 256 else np.int64), kind="stable")
    bounds = np.concatenate(([0], np.cumsum(np.bincount(labels, minlength=k))))
    with ThreadPoolExecutor(max_workers=2) as pool:  # the gathers release the GIL: both cores
        grouped = dict(zip(columns, pool.map(lambda values: values.take(order), columns.values())))
    return [{name: values[bounds[i]:bounds[i + 1]] for name, values in grouped.items()} for i in range(k)]


def _kpis(columns: dict[str, np.ndarray], mask, period_months: int = 6) -> tuple[Kpi, ...]:
    """The KPIs of the customers ``mask`` picks. With no customer, the totals are 0 (true) and the
    per-customer figures (averages, shares, utilisation) have no value: None, shown "–"."""
    pick = {name: values[mask] for name, values in columns.items()}
    n = len(pick["BALANCE"])
    balance, limit = float(pick["BALANCE"].sum()), float(pick["CREDIT_LIMIT"].sum())
    purchases, payments = float(pick["PURCHASES"].sum()), float(pick["PAYMENTS"].sum())
    months = period_months

    def per(key: str, label: str, value, formatter) -> Kpi:
        """A figure per customer (or a ratio of the customers' sums): none when there is no customer."""
        if not n:
            return Kpi(key, label, None, NO_FIGURE)
        value = float(value())
        return Kpi(key, label, _round(value), formatter(value))

    return (
        Kpi("customers", "Customers", n, format_count(n)),
        Kpi("balance", "Total balance", _round(balance), format_money(balance, compact=True)),
        Kpi("purchases", f"Purchases in {months} months", _round(purchases), format_money(purchases, compact=True)),
        Kpi("payments", f"Payments in {months} months", _round(payments), format_money(payments, compact=True)),
        per("utilisation", "Utilisation (balance / limit)", lambda: balance / limit if limit else 0.0, format_share),
        per("avg_balance", "Average balance", lambda: balance / n, format_money),
        per("avg_purchases", f"Average purchases in {months} months", lambda: purchases / n, format_money),
        per("avg_payments", f"Average payments in {months} months", lambda: payments / n, format_money),
        per("avg_limit", "Average credit limit", lambda: limit / n, format_money),
        per("full_payment", "Months paid in full", lambda: pick["PRC_FULL_PAYMENT"].mean(), format_share),
        per("cash_advance_users", "Customers using cash advance", lambda: (pick["CASH_ADVANCE"] > 0).mean(),
            format_share),
    )


def _segment(result, i: int, columns: dict[str, np.ndarray], risk_flags: tuple[str, ...],
             fields: dict[str, float], month: str) -> Segment:
    """Segment ``i`` of the model; ``columns`` are its own customers' KPI columns.

    A segment with no customers this month (a scored month can leave one empty) keeps its name,
    colour and zero counts, and claims nothing else: no means, z-scores or stability, no traits or
    risk notes, and a description that says it is empty."""
    naming, info, profiles = result.namings[i], result.model.segments[i], result.profiles
    customers = int(profiles.sizes[i])

    def known(value, digits: int = 6) -> float | None:
        """A figure of the segment's customers: none without customers (not NaN, and no z of 0)."""
        return _round(value, digits) if customers else None

    rows = tuple(
        ProfileRow(
            feature=f,
            label=feature_label(f),
            unit=BY_NAME[f].unit if f in BY_NAME else ("$" if f == "AVERAGE_TICKET" else "ratio"),
            mean=known(profiles.means[i, j]),
            median=known(profiles.medians[i, j]),
            portfolio_mean=_round(profiles.portfolio_means[j]),
            portfolio_median=_round(profiles.portfolio_medians[j]),
            z=known(profiles.z[i, j], 4),
        )
        for j, f in enumerate(PROFILE_FEATURES)
    )
    if customers:
        description, risks = segment_sentences(naming, fields, naming.traits)
        traits, stability = naming.traits, info.stability
    else:
        description, risks = f"No customer fell in this segment in {month_label(month)}.", ()
        traits, stability = (), None
    return Segment(
        id=info.id,
        name=naming.name,
        persona_key=naming.persona_key,
        color=info.color,
        customers=customers,
        share=_round(customers / len(result.labels)),
        fit=_round(naming.fit, 4),
        description=description,
        traits=traits,
        actions=(),  # the sized actions' texts, filled in once the actions are built
        risks=risks,
        kpis=_kpis(columns, slice(None), result.settings.input.period_months),
        profile=rows,
        stability=stability,
        stability_level=describe_stability(stability if stability is not None else float("nan")),
        name_basis=tuple(c.describe(feature_label(c.feature).lower()) for c in naming.checks if c.passed)
        if customers else (),
        naming_note=naming.note if customers else "",
        risk_flags=risk_flags if customers else (),
    )


def _facts(result, month: str, generated_at: str, title: str | None, withheld: tuple[str, ...]) -> RunFacts:
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
        period_months=result.settings.input.period_months,
        k_how=k_choice_of(result.selection, len(result.labels), _scored_from(result)).how,
        min_eligible=result.settings.actions.min_eligible,
        withheld=withheld,
    )


def _scored_from(result) -> str | None:
    """The month of the saved model when this month was scored with it, else ``None``."""
    return result.continuity.model_month if result.continuity.mode == "score" else None


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


def k_choice_of(selection, customers: int, scored_from: str | None = None) -> KChoice:
    """The report's account of a :class:`~reportgen.segmentation.selection.KSelection` over ``customers``
    (``scored_from``: the month of the saved model when this month was scored with it)."""
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
    kept = selection.kept_from
    how = (f"kept from the model fitted in {month_label(scored_from)}, scored since" if scored_from
           else f"kept from the model fitted in {month_label(kept)} by the refit" if kept
           else "set by the user" if selection.forced else "chosen by the rule")
    # the reason is shown to executives: no command-line flags in it, and months in words
    reason = selection.reason.replace(f"fitted in {kept}", f"fitted in {month_label(kept)}") if kept else selection.reason
    reason = re.sub(r";? ?use --refit to fit afresh", "", reason).replace(" ()", "")
    reason = re.sub(r";? ?--k changes it", "", reason)
    return KChoice(
        rows, selection.chosen_k, selection.forced, selection.rule, reason, selection.sample_size, customers,
        selection.weak, selection.structure, how,
    )


def correlation_of(frame: pd.DataFrame) -> Correlation:
    """The report's rounded copy of the pipeline's correlation matrix."""
    return Correlation(
        features=tuple(frame.columns),
        matrix=tuple(tuple(_round(v) for v in row) for row in frame.to_numpy()),
    )

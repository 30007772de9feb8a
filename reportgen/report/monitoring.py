"""What the report says about earlier months: drift and continuity (monitoring), trends and
migration from the history, and the 'what changed' sentences.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from reportgen.report.cube import _round
from reportgen.report.formatting import format_count, format_share
from reportgen.report.model import (
    AT_RISK,
    Cube,
    FeatureShift,
    History,
    Migration,
    Monitoring,
    TrendSeries,
)
from reportgen.segmentation.personas import feature_label


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


CENTROID_ALERT = 1.0  # a segment centre moving this many standard deviations is reported
ZERO_ALERT = 0.10  # the share of customers at zero on a key feature moving this much is significant
MIGRATION_ALERT = 0.20  # this share of customers changing segment in a month is a significant shift


def flag_migration(monitoring: Monitoring, history) -> Monitoring:
    """A month in which at least :data:`MIGRATION_ALERT` of the customers seen in both months changed
    segment is a significant shift, even when the features' distributions look alike (customers
    can trade places)."""
    mig = history.migration if history is not None else None
    if mig is None or not mig.customers_both or mig.moved / mig.customers_both < MIGRATION_ALERT:
        return monitoring
    event = (
        f"Significant shift: {mig.moved / mig.customers_both:.0%} of customers changed segment since "
        f"{mig.month_from} ({mig.moved:,} of {mig.customers_both:,})."
    )
    return replace(monitoring, significant_shift=True, events=(event, *monitoring.events))


def _monitoring(result) -> Monitoring:
    c = result.continuity
    statements = {
        "fit": "First recorded month: segments were fitted on this month's customers.",
        "score": f"Customers were scored with the saved model fitted in {c.model_month}; segment names and "
                 "colours are unchanged.",
        "refit": f"Segments were refitted on this month's customers and matched to {c.previous_month}'s segments "
                 "by centroid distance, so names and colours carry over.",
    }
    from reportgen.segmentation.drift import psi_level

    psi = tuple(FeatureShift(f, feature_label(f), _round(v, 4), psi_level(v)) for f, v in c.psi.items())
    psi_last = tuple(FeatureShift(f, feature_label(f), _round(v, 4), psi_level(v)) for f, v in (c.psi_last or {}).items())
    shifts = tuple((info.name, _round(v, 4)) for info, v in zip(result.model.segments, c.centroid_shift))
    events = list(c.events)
    for against, rows in ((c.model_month, psi), (c.previous_month, psi_last)):
        moved = [r for r in rows if r.level == "significant shift"]
        if moved and against:
            listed = ", ".join(f"{r.label.lower()} (PSI {r.psi:.2f})" for r in moved)
            events.append(f"Significant shift against {against}: {listed}.")
    for feature, (before, now) in (c.zero_shift or {}).items():
        if abs(now - before) >= ZERO_ALERT:
            events.append(
                f"Significant shift: the share of customers with no {feature_label(feature).lower()} went from "
                f"{before:.0%} in {c.model_month} to {now:.0%}."
            )
    for name, value in shifts:
        if value is not None and np.isfinite(value) and value >= CENTROID_ALERT:
            events.append(f"The centre of {name} moved {value:.1f} standard deviations from the model's.")
    return Monitoring(
        mode=c.mode,
        model_month=c.model_month,
        previous_month=c.previous_month,
        statement=statements[c.mode],
        psi=psi,
        centroid_shift=shifts,
        events=tuple(dict.fromkeys(events)),
        psi_last=psi_last,
        significant_shift=any(r.level == "significant shift" for r in (*psi, *psi_last))
        or any(abs(now - before) >= ZERO_ALERT for before, now in (c.zero_shift or {}).values()),
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


def _kpi(segment, key: str) -> float:
    return next(k.value for k in segment.kpis if k.key == key)


def _opt(value):
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else _round(value)

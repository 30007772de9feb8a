"""What the report says about earlier months: drift and continuity (monitoring), trends and
migration from the history, and the 'what changed' sentences.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from reportgen.report.cube import _round
from reportgen.report.formatting import (
    format_count,
    format_money,
    format_number,
    format_share,
    format_signed_share,
    month_label,
)
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
    """What changed, most important first (empty in the first recorded month): the moves into
    at-risk segments ranked by the money they carry, the segments whose size moved by 5% or more
    since the first month of the history or since last month (largest change first), how many
    customers changed segment, the largest other moves, then shifts in the data and events."""
    if history is None or len(history.months) < 2:
        return ()
    lines = []
    migration = history.migration
    if migration is not None:
        lines.extend(migration.at_risk)
    lines.extend(_size_changes(history))
    if migration is not None:
        lines.append(f"{format_count(migration.moved)} customers ({format_share(migration.moved / max(migration.customers_both, 1))}) "
                     f"changed segment since {month_label(migration.month_from)}.")
        lines.extend(migration.highlights[:2])
    lines.extend(f"{p.label}: the customers' values have shifted ({p.level}) since the model was fitted in "
                 f"{month_label(monitoring.drift_month)}." for p in monitoring.psi if p.level != "stable")
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
        f"Significant shift: {format_share(mig.moved / mig.customers_both, 0)} of customers changed segment since "
        f"{month_label(mig.month_from)} ({format_count(mig.moved)} of {format_count(mig.customers_both)})."
    )
    return replace(monitoring, significant_shift=True, events=(event, *monitoring.events))


def _size_changes(history: History) -> list[str]:
    """Segments whose size moved by 5% or more since the first month of the history or since
    last month, the largest change since the first month first."""
    first, last = history.months[0], history.months[-2]
    ranked = []
    for series in history.series:
        start, before, now = series.customers[0], series.customers[-2], series.customers[-1]
        if now is None:
            continue
        since_first = (now - start) / start if start else None
        since_last = (now - before) / before if before else None
        if max(abs(since_first or 0), abs(since_last or 0)) < 0.05:
            continue
        parts = []
        if since_first is not None and first != last:
            parts.append(f"{format_signed_share(since_first)} since {month_label(first)}")
        if since_last is not None:
            parts.append(f"{format_signed_share(since_last)} since {month_label(last)}")
        ranked.append((abs(since_first or since_last or 0), f"{series.name}: {format_count(now)} customers, "
                       + " and ".join(parts) + "."))
    ranked.sort(key=lambda t: -t[0])
    return [line for _, line in ranked]


def _monitoring(result) -> Monitoring:
    c = result.continuity
    statements = {
        "fit": "First recorded month: segments were fitted on this month's customers.",
        "score": f"Customers were scored with the saved model fitted in {month_label(c.model_month)}; segment names and "
                 "colours are unchanged.",
        "refit": f"Segments were refitted on this month's customers and matched to {month_label(c.previous_month)}'s segments "
                 "by centroid distance, so names and colours carry over.",
    }
    from reportgen.segmentation.drift import PSI_LEVELS, psi_level

    psi = tuple(FeatureShift(f, feature_label(f), _round(v, 4), psi_level(v)) for f, v in c.psi.items())
    psi_last = tuple(FeatureShift(f, feature_label(f), _round(v, 4), psi_level(v)) for f, v in (c.psi_last or {}).items())
    shifts = tuple((info.name, _round(v, 4)) for info, v in zip(result.model.segments, c.centroid_shift))
    events = list(c.events)
    for against, rows in ((c.drift_month, psi), (c.previous_month, psi_last)):
        moved = [r for r in rows if r.level == "significant shift"]
        if moved and against:
            listed = ", ".join(f"{r.label.lower()} ({format_number(r.psi)})" for r in moved)
            events.append(f"Significant shift against {month_label(against)} in how customers spread over: {listed} "
                          f"(a drift index; {format_number(PSI_LEVELS[1][0])} and above means a material change).")
    for feature, (before, now) in (c.zero_shift or {}).items():
        if abs(now - before) >= ZERO_ALERT:
            events.append(
                f"Significant shift: the share of customers with no {feature_label(feature).lower()} went from "
                f"{format_share(before, 0)} in {month_label(c.drift_month)} to {format_share(now, 0)}."
            )
    for name, value in shifts:
        if value is not None and np.isfinite(value) and value >= CENTROID_ALERT:
            events.append(f"The centre of {name} moved {format_number(value, 1)} standard deviations from the model's.")
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
        drift_month=c.drift_month,
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


def _history(segments, month, trend, migration, playbook, cubes, period_months: int = 6) -> History | None:
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
    return History(months, tuple(series), totals, _migration(migration, months, segments, period_months),
                   {m: c for m, c in cubes.items() if m in months})


def _migration(frame, months, segments, period_months: int = 6) -> Migration | None:
    if frame is None or frame.empty or len(months) < 2:
        return None
    table = frame.pivot_table(index="name_from", columns="name_to", values="customers", aggfunc="sum", fill_value=0)
    order = [s.name for s in segments]
    names_to = [n for n in order if n in table.columns] + sorted(set(table.columns) - set(order))
    names_from = [n for n in order if n in table.index] + sorted(set(table.index) - set(order))
    table = table.reindex(index=names_from, columns=names_to, fill_value=0)
    both = int(table.to_numpy().sum())
    moved = both - int(sum(table.at[n, n] for n in names_from if n in names_to))
    money = {(r.name_from, r.name_to): (_amount(r, "balance"), _amount(r, "purchases"),
                                          _amount(r, "balance_before", None), _amount(r, "purchases_before", None))
             for r in frame.itertuples()}
    keys = {s.name: s.persona_key for s in segments}
    flows = []
    for a in names_from:
        for b in names_to:
            if a != b and table.at[a, b] > 0:
                balance, purchases, balance_before, purchases_before = money.get((a, b), (0.0, 0.0, None, None))
                # customers who went dormant buy little now: value them with what they bought last month
                value = (purchases_before if purchases_before is not None else purchases) if keys.get(b) == "dormant" \
                    else balance
                flows.append((value, int(table.at[a, b]), a, b, balance, purchases, balance_before, purchases_before))
    flows.sort(key=lambda f: (-f[0], -f[1], f[2], f[3]))
    highlights = tuple(_describe_move(f, keys, period_months) for f in flows[:3])
    at_risk = tuple(
        _describe_inflow(name, keys[name], [f for f in flows if f[3] == name], period_months)
        for name in names_to if keys.get(name) in AT_RISK and any(f[3] == name for f in flows)
    )
    at_risk = tuple(line for _, line in sorted(at_risk, key=lambda t: -t[0]))
    return Migration(
        month_from=months[-2], month_to=months[-1], names_from=tuple(names_from), names_to=tuple(names_to),
        counts=tuple(tuple(int(v) for v in row) for row in table.to_numpy()), customers_both=both, moved=moved,
        highlights=highlights, at_risk=at_risk,
    )


def _amount(row, column: str, missing: float | None = 0.0) -> float | None:
    """A summed amount of a migration row; ``missing`` where the column is absent or empty (a month
    recorded before the history kept amounts)."""
    value = getattr(row, column, None)
    return missing if value is None or not np.isfinite(value) else float(value)


def _describe_move(flow, keys: dict, period_months: int) -> str:
    """One move between two segments, with the money it carries and what it needs."""
    _value, count, a, b, balance, purchases, balance_before, purchases_before = flow
    if keys.get(b) == "dormant":
        if purchases_before is not None:
            return (f"{format_count(count)} {a} moved to {b}; last month they had bought "
                    f"{format_money(purchases_before, compact=True)} over {period_months} months.")
        return (f"{format_count(count)} {a} moved to {b}; they bought {format_money(purchases, compact=True)} in the last "
                f"{period_months} months.")
    before = f"last month {format_money(balance_before, compact=True)}" if balance_before is not None else ""
    if keys.get(b) == "revolvers":
        return (f"{format_count(count)} {a} moved to {b}, carrying {format_money(balance, compact=True)} of balances"
                + (f" ({before})." if before else "."))
    return (f"{format_count(count)} {a} moved to {b} ({format_money(balance, compact=True)} of balances"
            + (f"; {before})." if before else ")."))


def _describe_inflow(name: str, key: str, flows, period_months: int) -> tuple[float, str]:
    """The customers who moved into an at-risk segment, with the money concerned: (value, sentence).
    Moves into a dormant segment are valued with what the customers bought in last month's extract
    (now they buy little), moves into a revolving segment with the balances they carry now."""
    count = sum(f[1] for f in flows)
    largest = max(flows, key=lambda f: f[0])
    if key == "dormant":
        known = all(f[7] is not None for f in flows)
        if known:
            spend = sum(f[7] for f in flows)
            return spend, (
                f"{format_count(count)} customers went dormant this month (moved to {name}); in last month's extract "
                f"they had bought {format_money(spend, compact=True)} over {period_months} months "
                f"({format_money(spend / period_months, compact=True)} a month), {format_money(largest[7], compact=True)} "
                f"of it by the {format_count(largest[1])} {largest[2]} among them: the churn to win back with a "
                "reactivation offer.")
        spend = sum(f[5] for f in flows)
        return spend, (f"{format_count(count)} customers went dormant this month (moved to {name}); they bought "
                       f"{format_money(spend, compact=True)} in the last {period_months} months, most of it from "
                       f"{largest[2]} ({format_count(largest[1])} customers): the churn to win back with a reactivation offer.")
    balance = sum(f[4] for f in flows)
    before = (f" (they carried {format_money(sum(f[6] for f in flows), compact=True)} last month)"
              if all(f[6] is not None for f in flows) else "")
    return balance, (f"{format_count(count)} customers moved to {name} this month with {format_money(balance, compact=True)} "
                     f"of balances{before}, most from {largest[2]} ({format_count(largest[1])} customers): credit follow-up "
                     "needed, with repayment plans and no limit increases.")


def _kpi(segment, key: str) -> float | None:
    """A KPI's value: None for a per-customer figure of a segment with no customers (the trend then
    has a gap in that month, as the history store keeps it: NULL, not 0)."""
    return next(k.value for k in segment.kpis if k.key == key)


def _opt(value):
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else _round(value)

"""The executive story: every sentence of the summary written from the report model.

The situation in one sentence, the two or three points that matter most (measured campaign
effects first, then what changed since last month, then where the money sits, each ranked by the
money it concerns), and the recommended actions ranked by the money at stake. Amounts say their
period: balances and limits are at the extract's end, purchases, payments and cash advances cover
``facts.period_months`` months (with the per-month figure beside them).
"""

from __future__ import annotations

from reportgen.report.actions import money_phrase
from reportgen.report.formatting import format_count, format_money, format_share, month_label
from reportgen.report.model import ReportModel, Story

ACTIONS_SHOWN = 3
POINTS_SHOWN = 3
# A dozen actions are measured every month: at p < 0.05 one would look like it worked by chance
# every other month or so, so the summary headlines only effects clear at p < 0.01.
CLEAR_P = 0.01


def is_clear(effect) -> bool:
    """Whether a measured effect is clear enough for the executive summary."""
    return effect.p_value is not None and effect.p_value < CLEAR_P and (effect.low > 0 or effect.high < 0)


def _kpi(kpis, key: str) -> float | None:
    """The value of KPI ``key``: None for a per-customer figure of a segment with no customers."""
    return next(k.value for k in kpis if k.key == key)


def describe_situation(model: ReportModel) -> str:
    """The portfolio in one sentence, with the period of every amount."""
    n = model.facts.period_months
    k = model.kpis
    purchases, payments = _kpi(k, "purchases"), _kpi(k, "payments")
    held = [s for s in model.segments if s.customers]
    segments = f"{len(model.segments)} segments" if len(held) == len(model.segments) else (
        f"{len(held)} of the model's {len(model.segments)} segments")  # a scored month can leave some empty
    return (
        f"{format_count(_kpi(k, 'customers'))} customers in {segments} hold "
        f"{format_money(_kpi(k, 'balance'), compact=True)} in balances at the end of "
        f"{month_label(model.facts.month)}, {format_share(_kpi(k, 'utilisation'))} of their limits; over the "
        f"extract's {n} months they bought {format_money(purchases, compact=True)} "
        f"({format_money(purchases / n, compact=True)} a month) and paid {format_money(payments, compact=True)} "
        f"({format_money(payments / n, compact=True)} a month)."
    )


def describe_points(model: ReportModel) -> tuple[str, ...]:
    """The points that matter most, most important first."""
    n = model.facts.period_months
    total_balance, total_purchases = _kpi(model.kpis, "balance"), _kpi(model.kpis, "purchases")
    ranked: list[tuple[int, float, str]] = []  # (tier, money, sentence): lower tier first, then larger money
    for e in model.effects:
        if is_clear(e):
            ranked.append((0, e.treated + e.control, e.verdict))
    for line in model.changes[:2]:
        ranked.append((1, 0.0, line))
    # Only segments with customers are compared: an empty one (a scored month can leave one) has no
    # utilisation or spend to be the highest or lowest of.
    populated = [s for s in model.segments if s.customers]
    if populated:
        # The credit risk named by the numbers (the segments' risk flags), not by a persona's name.
        flagged = [s for s in populated if s.risk_flags]
        if flagged:
            risky = max(flagged, key=lambda s: (len(s.risk_flags), _kpi(s.kpis, "balance")))
            reason = f"the portfolio's {_join(risky.risk_flags)}: the main credit risk"
        else:
            risky = max(populated, key=lambda s: _kpi(s.kpis, "utilisation"))
            reason = f"{format_share(_kpi(risky.kpis, 'utilisation'))} utilisation, the highest of any segment"
        balance = _kpi(risky.kpis, "balance")
        ranked.append((2, balance, (
            f"{risky.name} ({format_share(risky.share)} of customers) carry {format_money(balance, compact=True)}, "
            f"{format_share(balance / total_balance if total_balance else 0)} of all balances, with {reason}.")))
        spender = max(populated, key=lambda s: _kpi(s.kpis, "purchases") / max(total_purchases, 1e-9) - s.share)
        spend = _kpi(spender.kpis, "purchases")
        if spender.id != risky.id and spend > 0:  # no purchases at all: no segment "makes" the most of them
            ranked.append((2, spend, (
                f"{spender.name} ({format_share(spender.share)} of customers) make "
                f"{format_share(spend / total_purchases if total_purchases else 0)} of all purchases: "
                f"{format_money(spend, compact=True)} over {n} months ({format_money(spend / n, compact=True)} a month).")))
    ranked.sort(key=lambda t: (t[0], -t[1]))
    return tuple(sentence for _, _, sentence in ranked[:POINTS_SHOWN])


def describe_action_lines(model: ReportModel) -> tuple[str, ...]:
    """The recommended actions with their counts and money, largest money at stake first."""
    lines = []
    for a in [a for a in model.actions if a.kpi][:ACTIONS_SHOWN]:
        lines.append(
            f"{a.text} ({a.segment}): {format_count(a.eligible)} eligible customers ({a.rule}), "
            f"{money_phrase(a.impact, a.stake, model.facts.period_months)}; {a.priority} priority."
        )
    return tuple(lines)


def describe_effects(model: ReportModel) -> tuple[str, ...]:
    """Last month's actions in a line or two: those that made a difference, else one sentence
    saying none did (and how many were too small to tell)."""
    if not model.effects:
        return ()
    clear = [e.verdict for e in model.effects if is_clear(e)]
    if clear:
        return tuple(clear[:2])
    measured = sum(e.low is not None for e in model.effects)
    small = len(model.effects) - measured
    return ((f"Of last month's {len(model.effects)} actions, none made a difference against its control group "
             f"that we can tell apart from chance ({measured} measured"
             + (f", {small} with too few customers to tell" if small else "") + ")."),)


def describe_story(model: ReportModel) -> Story:
    """The executive summary of ``model``."""
    n = model.facts.period_months
    return Story(
        situation=describe_situation(model),
        points=describe_points(model),
        actions=describe_action_lines(model),
        period=(f"Balances and credit limits are at the end of {month_label(model.facts.month)}; purchases, "
                f"payments and cash advances cover the extract's {n} months, with the monthly average beside them."),
        effects=describe_effects(model),
    )


def _join(parts) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    parts = list(parts)
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]

"""The report's sized actions, true segment texts and measured effects.

- :func:`action_groups`: every playbook action of every segment applied to this month's
  customers (eligible customers, control flags), shared by the report and the target files;
- :func:`build_actions`: one :class:`~reportgen.report.model.Action` per action with eligible
  customers, ranked by the money it concerns;
- :func:`segment_sentences`: a segment's description and risk notes, only the sentences whose
  condition holds for its numbers;
- :func:`build_effects`: last month's actions, treated against control.
"""

from __future__ import annotations

import weakref

import numpy as np

from reportgen.report.formatting import (
    format_count,
    format_money,
    format_share,
    format_signed,
    month_label,
)
from reportgen.report.model import Action, Effect
from reportgen.segmentation.actions import (
    KPIS,
    PERIOD_STAKES,
    STAKES,
    CustomerFields,
    select_action_groups,
    true_sentences,
)
from reportgen.segmentation.personas import PROFILE_FEATURES


def values_of(result) -> CustomerFields:
    """Every customer field of the result's customers, each widened to float64 when first read."""
    return CustomerFields(result.clean.features)


def action_groups(result, month: str, values: dict[str, np.ndarray] | None = None):
    """The month's :class:`~reportgen.segmentation.actions.ActionGroup` list (deterministic: the
    control groups are seeded by the run's seed, the month and the action).

    Computed once per result and month: the report model, the per-action target lists and the
    history's record all need them, and at ten million customers each computation widens every
    customer field and tests every rule (seconds and gigabytes). The last result's groups are
    kept until that result is gone."""
    for ref, kept_month, groups in _KEPT:
        if ref() is result and kept_month == month:
            return groups
    values = values if values is not None else values_of(result)
    groups = select_action_groups(
        values, result.labels, [n.actions for n in result.namings],
        share=result.settings.actions.control_share, seed=result.settings.segmentation.seed, month=month,
        min_eligible=result.settings.actions.min_eligible,
    )
    _KEPT[:] = [(weakref.ref(result, _forget), month, groups)]
    return groups


_KEPT: list = []  # [(weak reference to a result, month, its action groups)]


def _forget(ref) -> None:
    _KEPT[:] = [entry for entry in _KEPT if entry[0] is not ref]


def money_phrase(amount: float, stake: str, period_months: int) -> str:
    """'$1.2M of purchases over 6 months ($200k a month)' or '$3.4M of balances'."""
    label = STAKES[stake]
    if stake in PERIOD_STAKES:
        return (f"{format_money(amount, compact=True)} of {label} over {period_months} months "
                f"({format_money(amount / period_months, compact=True)} a month)")
    return f"{format_money(amount, compact=True)} of {label}"


def build_actions(groups, segments, values, period_months: int) -> tuple[Action, ...]:
    """The recommended actions (eligible customers, at least the minimum), largest money at stake first."""
    actions = []
    for g in groups:
        if not g.listed:
            continue
        segment = segments[g.segment]
        sums = {name: float(values[name][g.eligible].sum()) for name in STAKES}
        spec = g.spec
        kpi_label = KPIS[spec.kpi][0] if spec.kpi else "none set"
        control = int(g.control.sum())
        count = len(g.eligible)
        who = f"{format_count(count)} of {format_count(segment.customers)} {segment.name}"
        rule = spec.eligible.describe()
        summary = (f"{spec.text}: {who} are eligible ({rule}), with {money_phrase(sums[spec.stake], spec.stake, period_months)}"
                   + (f"; KPI: {kpi_label}, {format_count(control)} held out as control" if spec.kpi else "")
                   + f"; {spec.priority} priority, by {spec.channel}.")
        actions.append(Action(
            segment_id=segment.id, segment=segment.name, color=segment.color, key=spec.key, text=spec.text,
            rule=rule, eligible=count, control=control, kpi=spec.kpi, kpi_label=kpi_label, channel=spec.channel,
            priority=spec.priority, stake=spec.stake, stake_label=STAKES[spec.stake], impact=round(sums[spec.stake], 2),
            balance=round(sums["BALANCE"], 2), purchases=round(sums["PURCHASES"], 2),
            cash_advance=round(sums["CASH_ADVANCE"], 2), credit_limit=round(sums["CREDIT_LIMIT"], 2), summary=summary,
        ))
    return tuple(sorted(actions, key=lambda a: (-a.impact, a.segment_id, a.key)))


def withheld_actions(groups, segments) -> tuple[str, ...]:
    """The actions not recommended for too few eligible customers, as short texts."""
    return tuple(f"{segments[g.segment].name} – {g.spec.text} ({format_count(len(g.eligible))} eligible)"
                 for g in groups if g.withheld)


def segment_action_texts(actions, segment_id: int) -> tuple[str, ...]:
    """The segment's actions as short texts with their counts, for the per-segment pages."""
    return tuple(f"{a.text} ({format_count(a.eligible)} eligible: {a.rule})"
                 for a in actions if a.segment_id == segment_id)


def segment_sentences(naming, fields: dict[str, float], traits: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """The description and risk notes that hold for a segment with these ``fields``. When no
    description sentence holds, the description says what the numbers show instead."""
    description = " ".join(true_sentences(naming.description, fields))
    if not description:
        description = f"What sets this segment apart: {', '.join(traits)}."
    return description, true_sentences(naming.risks, fields)


def fields_of_all(profiles, k: int) -> list[dict[str, float]]:
    """The segment fields of every segment ``0..k-1`` (:data:`~reportgen.segmentation.rules.SEGMENT_FIELDS`:
    each customer field's mean and index, the customers' share, the shares of cash-advance users
    and purchasers), read from the segment ``profiles``:
    the same means, shares and indexes the profile table shows, so a sentence's condition and
    the number printed beside it are one figure (no second pass over the customers)."""
    total = max(int(profiles.sizes.sum()), 1)
    out: list[dict[str, float]] = []
    for s in range(k):
        size = int(profiles.sizes[s])
        fields: dict[str, float] = {}
        for j, name in enumerate(PROFILE_FEATURES):
            mean, portfolio = float(profiles.means[s, j]) if size else 0.0, float(profiles.portfolio_means[j])
            fields[name] = mean
            fields[f"{name}_INDEX"] = 100 * mean / portfolio if portfolio else 100.0
        positives = {name: int(profiles.positives[s, PROFILE_FEATURES.index(name)]) for name in ("CASH_ADVANCE", "PURCHASES")}
        fields["CASH_ADVANCE_USERS"] = positives["CASH_ADVANCE"] / max(size, 1)
        fields["PURCHASERS"] = positives["PURCHASES"] / max(size, 1)
        fields["CUSTOMER_SHARE"] = size / total
        out.append(fields)
    return out


def _chance(p: float) -> str:
    """How often chance alone gives a gap this large, in words (``p`` of Fisher's exact test)."""
    if p < 0.001:
        return "a gap this large would arise by chance less than once in 1,000 such tests"
    if p >= 0.5:
        return "a gap this large arises by chance in most such tests"
    return f"a gap this large arises by chance about once in {format_count(round(1 / p))} such tests"


def build_effects(measured, month_from: str) -> tuple[Effect, ...]:
    """One :class:`~reportgen.report.model.Effect` per measured action, largest groups first."""
    effects = []
    for m in sorted(measured, key=lambda m: (-(m.treated + m.control), m.segment, m.key)):
        label = KPIS[m.kpi][0]
        head = (f"{m.text} ({m.segment}, {month_label(month_from)}): {format_count(m.treated)} treated, "
                f"{format_count(m.control)} control")
        if not m.enough():
            effects.append(Effect(month_from, m.segment, m.key, m.text, label, m.treated, m.control,
                                  None, None, None, None, None, None, f"{head}. Not enough customers to tell."))
            continue
        p1, p2, diff, low, high, p = m.compare()
        points = lambda v: f"{format_signed(v * 100, 1)} points"  # noqa: E731
        span = f"{points(diff)}, 95% interval {points(low)} to {points(high)}"
        if (low > 0 or high < 0) and p < 0.05:  # the interval and the exact test agree
            side = "better" if diff > 0 else "worse"
            verdict = (f"{head}. {label.capitalize()}: {format_share(p1)} treated against {format_share(p2)} control "
                       f"({span}). Treated customers did {side}: the whole 95% interval lies "
                       f"{'above' if diff > 0 else 'below'} zero, and {_chance(p)}.")
        else:
            verdict = (f"{head}. {label.capitalize()}: {format_share(p1)} treated against {format_share(p2)} control "
                       f"({span}). No difference we can tell apart from chance: {_chance(p)}.")
        effects.append(Effect(month_from, m.segment, m.key, m.text, label, m.treated, m.control,
                              round(p1, 4), round(p2, 4), round(diff, 4), round(low, 4), round(high, 4),
                              round(p, 4), verdict))
    return tuple(effects)

"""The action plan of the report model: sized actions, their measured effects and the executive
story. Frozen dataclasses of plain values, part of :class:`~reportgen.report.model.ReportModel`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Action:
    """One playbook action sized on this month's customers: who is eligible (``rule``), how many,
    how many are held out as a control group, and the money concerned (sums over the eligible
    customers; purchases and cash advances over the extract's period, balances at its end).
    ``stake`` names which of the sums the action is about; ``impact`` is that sum."""

    segment_id: int
    segment: str
    color: str
    key: str
    text: str
    rule: str
    eligible: int
    control: int
    kpi: str | None
    kpi_label: str
    channel: str
    priority: str
    stake: str
    stake_label: str
    impact: float
    balance: float
    purchases: float
    cash_advance: float
    credit_limit: float
    summary: str


@dataclass(frozen=True)
class Effect:
    """How last month's treated and control customers of one action fare this month on its KPI.
    Rates, the difference and its 95% interval are ``None`` when there are too few customers."""

    month_from: str
    segment: str
    key: str
    text: str
    kpi_label: str
    treated: int
    control: int
    treated_rate: float | None
    control_rate: float | None
    difference: float | None
    low: float | None
    high: float | None
    p_value: float | None
    verdict: str


@dataclass(frozen=True)
class Story:
    """The executive summary, written from the model: the situation in one sentence, the two or
    three points that matter most, the recommended actions ranked by money at stake, and what
    period the amounts cover."""

    situation: str
    points: tuple[str, ...]
    actions: tuple[str, ...]
    period: str
    effects: tuple[str, ...] = ()  # last month's actions against their controls, in a line or two

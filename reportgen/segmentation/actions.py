"""Playbook actions and sentences: what each action is for, who is eligible, who is held out.

An action of the playbook (``[[persona.actions]]``) carries its text, an eligibility rule over
customer fields (:mod:`reportgen.segmentation.rules`), the KPI that tells next month whether it
worked (a key of :data:`KPIS`), a channel, a priority and the money it is about (``stake``: the
balances, purchases, cash advances or limits of the eligible customers). A plain string is an
action for the whole segment with no KPI.

A sentence (description or risk note) is text with an optional ``when`` condition over segment
fields; it is printed only for segments where the condition holds.

Control groups: of each action's eligible customers a seeded random share is held out (not
contacted) so the next month can compare treated and control customers.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from reportgen.data.contract import RATIOS
from reportgen.data.features import ratio_column
from reportgen.errors import ConfigError
from reportgen.report.formatting import strip_illegal
from reportgen.segmentation.rules import CUSTOMER_FIELDS, SEGMENT_FIELDS, Rule, parse_rule

#: Outcome KPIs: key -> (what is measured, the customer rule counted as success). Measured on the
#: month after the action, for treated and control customers alike.
KPIS: dict[str, tuple[str, str]] = {
    "active": ("share who made a purchase", "PURCHASES > 0"),
    "frequent": ("share buying in at least half the months", "PURCHASES_FREQUENCY >= 0.5"),
    "paid_in_full": ("share paying in full at least half the months", "PRC_FULL_PAYMENT >= 0.5"),
    "no_cash_advance": ("share taking no cash advance", "CASH_ADVANCE <= 0"),
    "utilisation_below_half": ("share using under half their limit", "UTILISATION < 0.5"),
    "pays_above_minimum": ("share paying more than the minimum", "PAYMENT_RATIO > 1"),
}
STAKES = {"BALANCE": "balances", "PURCHASES": "purchases", "CASH_ADVANCE": "cash advances",
          "CREDIT_LIMIT": "credit limits", "PAYMENTS": "payments"}
#: Stakes that are amounts over the extract's period (the others are balances at its end).
PERIOD_STAKES = ("PURCHASES", "CASH_ADVANCE", "PAYMENTS")
PRIORITIES = ("high", "medium", "low")
_ACTION_KEYS = {"key", "text", "eligible", "kpi", "channel", "priority", "stake"}


@dataclass(frozen=True)
class ActionSpec:
    """One playbook action."""

    key: str
    text: str
    eligible: Rule = Rule()
    kpi: str | None = None
    channel: str = "to be chosen"
    priority: str = "medium"
    stake: str = "BALANCE"


@dataclass(frozen=True)
class Sentence:
    """A playbook sentence and the segment condition under which it is true."""

    text: str
    when: Rule = Rule()


def parse_actions(raw, where: str) -> tuple[ActionSpec, ...]:
    """Read a persona's ``actions`` (strings or tables); ``where`` names the persona."""
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: actions must be a list")
    specs = []
    for n, entry in enumerate(raw, 1):
        if isinstance(entry, str):
            specs.append(ActionSpec(key=f"action-{n}", text=strip_illegal(entry)))
            continue
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}, action {n}: must be text or a table with key, text, eligible, kpi")
        specs.append(_action(entry, f"{where}, action {entry.get('key', n)!r}", n))
    keys = [s.key for s in specs]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise ConfigError(f"{where}: action key {dupes[0]!r} is used more than once")
    return tuple(specs)


def _action(entry: dict, where: str, n: int) -> ActionSpec:
    unknown = sorted(set(entry) - _ACTION_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; valid: {', '.join(sorted(_ACTION_KEYS))}")
    if not entry.get("text"):
        raise ConfigError(f"{where}: lacks text")
    kpi = entry.get("kpi")
    if kpi is not None and kpi not in KPIS:
        raise ConfigError(f"{where}: unknown kpi {kpi!r}; valid: {', '.join(KPIS)}")
    priority = entry.get("priority", "medium")
    if priority not in PRIORITIES:
        raise ConfigError(f"{where}: priority must be one of {', '.join(PRIORITIES)}, got {priority!r}")
    stake = entry.get("stake", "BALANCE")
    if stake not in STAKES:
        raise ConfigError(f"{where}: stake must be one of {', '.join(STAKES)}, got {stake!r}")
    return ActionSpec(
        key=strip_illegal(str(entry.get("key", f"action-{n}"))),
        text=strip_illegal(str(entry["text"])),
        eligible=parse_rule(entry.get("eligible"), fields=CUSTOMER_FIELDS, where=f"{where}, eligible"),
        kpi=kpi,
        channel=strip_illegal(str(entry.get("channel", "to be chosen"))),
        priority=priority,
        stake=stake,
    )


def parse_sentences(raw, where: str) -> tuple[Sentence, ...]:
    """Read a description or risk list: text, or tables ``{text = ..., when = ...}``."""
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for n, entry in enumerate(items, 1):
        if isinstance(entry, str):
            out.append(Sentence(strip_illegal(entry)))
        elif isinstance(entry, dict) and entry.get("text") and set(entry) <= {"text", "when"}:
            rule = parse_rule(entry.get("when"), fields=SEGMENT_FIELDS, where=f"{where}, sentence {n}")
            out.append(Sentence(strip_illegal(str(entry["text"])), rule))
        else:
            raise ConfigError(f"{where}, sentence {n}: must be text or a table with text and when")
    return tuple(out)


class CustomerFields(Mapping):
    """Every customer field (contract columns and derived ratios) as a float64 array, widened or
    derived on first use and kept: a month's rules, stakes and KPIs read a handful of the 21
    fields, and at ten million customers each one is 80 MB and a pass over the customers."""

    def __init__(self, features):
        self._features = features
        self._names = tuple(n for n in CUSTOMER_FIELDS if n in RATIOS or n in features.columns)
        self._kept: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()  # two threads reading the same field widen it once

    def __getitem__(self, name: str) -> np.ndarray:
        with self._lock:
            if name not in self._kept:
                if name not in self._names:
                    raise KeyError(name)
                self._kept[name] = (ratio_column(self._features, name) if name in RATIOS
                                    else self._features[name].to_numpy(dtype="float64"))
            return self._kept[name]

    def __iter__(self):
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def true_sentences(sentences, fields: dict[str, float]) -> tuple[str, ...]:
    """The texts of the sentences whose condition holds for a segment with these ``fields``."""
    return tuple(s.text for s in sentences if bool(s.when.holds(fields)))


def hold_out(count: int, share: float, seed: int, label: str) -> np.ndarray:
    """A control flag for each of ``count`` eligible customers: exactly ``round(share * count)``
    of them, drawn with a generator seeded by ``seed`` and ``label`` (same month, action and
    seed give the same group)."""
    flags = np.zeros(count, dtype=bool)
    held = int(round(share * count))
    if held:
        rng = np.random.default_rng([int(seed), zlib.crc32(label.encode("utf-8"))])
        flags[rng.choice(count, size=held, replace=False)] = True
    return flags


@dataclass(frozen=True)
class ActionGroup:
    """One action of one segment applied to this month's customers (positions in extract order)."""

    segment: int  # 0-based index into the segments
    spec: ActionSpec
    eligible: np.ndarray  # positions of the eligible customers
    control: np.ndarray  # bool per eligible customer: held out
    withheld: bool = False  # too few eligible customers to recommend the action (``min_eligible``)

    @property
    def listed(self) -> bool:
        """Recommended this month: eligible customers, and at least the playbook's minimum."""
        return bool(len(self.eligible)) and not self.withheld


def select_action_groups(values, labels, actions_per_segment, *, share: float, seed: int, month: str,
                         min_eligible: int = 1) -> list[ActionGroup]:
    """Every segment's actions with their eligible customers and control flags; an action with
    fewer than ``min_eligible`` eligible customers is ``withheld`` (not recommended: too few to
    act on or to measure against a control group)."""
    labels = np.asarray(labels)
    groups = []
    for index, specs in enumerate(actions_per_segment):
        in_segment = labels == index
        for spec in specs:
            mask = in_segment & np.asarray(spec.eligible.holds(values), dtype=bool) if spec.eligible.clauses else in_segment
            positions = np.flatnonzero(mask)
            control = hold_out(len(positions), share if spec.kpi else 0.0, seed, f"{month}/{index}/{spec.key}")
            groups.append(ActionGroup(index, spec, positions, control, withheld=0 < len(positions) < min_eligible))
    return groups

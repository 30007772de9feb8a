"""Conditions of the playbook: who an action is for, and when a sentence about a segment holds.

A rule is one or more comparisons joined by ``and``, e.g. ``"PRC_FULL_PAYMENT >= 0.5 and
UTILISATION < 0.3"``. Two kinds of field exist:

- **customer fields** (action eligibility): the 17 contract columns and the derived ratios
  (``UTILISATION``, ``PAYMENT_RATIO``, ``AVERAGE_TICKET``, ``CASH_ADVANCE_SHARE``), compared
  customer by customer;
- **segment fields** (sentence conditions): ``<FEATURE>_INDEX`` (the segment's mean against the
  portfolio's, 100 = portfolio), ``<FEATURE>`` (the segment's mean), ``CUSTOMER_SHARE`` (the
  segment's share of customers), ``CASH_ADVANCE_USERS`` and ``PURCHASERS`` (shares of the
  segment's customers with any cash advance / any purchase).

Rules are parsed and checked when the playbook is loaded, so a typo stops the run with a one-line
error naming the persona, the entry and the field.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass

from reportgen.data.contract import BY_NAME, FEATURES, RATIOS
from reportgen.errors import ConfigError
from reportgen.report.formatting import format_general, format_money, format_share

CUSTOMER_FIELDS: tuple[str, ...] = (*FEATURES, *RATIOS)
SEGMENT_SHARES = ("CUSTOMER_SHARE", "CASH_ADVANCE_USERS", "PURCHASERS")
SEGMENT_FIELDS: tuple[str, ...] = (*CUSTOMER_FIELDS, *(f"{f}_INDEX" for f in CUSTOMER_FIELDS), *SEGMENT_SHARES)
OPERATORS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt, "==": operator.eq, "!=": operator.ne}
_WORDS = {"<=": "at most", ">=": "at least", "<": "below", ">": "above", "==": "equal to", "!=": "not"}
_CLAUSE = re.compile(r"^\s*([A-Za-z_]+)\s*(<=|>=|==|!=|<|>)\s*(-?\d+(?:\.\d+)?)\s*$")
_LABELS = {
    "UTILISATION": "utilisation", "PAYMENT_RATIO": "payments / minimum", "AVERAGE_TICKET": "average ticket",
    "CASH_ADVANCE_SHARE": "cash-advance share", "PRC_FULL_PAYMENT": "months paid in full",
    "PURCHASES": "purchases", "PURCHASES_FREQUENCY": "purchase frequency", "PURCHASES_TRX": "purchase transactions",
    "CASH_ADVANCE": "cash advance", "BALANCE": "balance", "CREDIT_LIMIT": "credit limit", "PAYMENTS": "payments",
    "TENURE": "tenure (months)", "BALANCE_FREQUENCY": "balance update frequency",
    "CASH_ADVANCE_FREQUENCY": "cash-advance frequency", "INSTALLMENTS_PURCHASES": "instalment purchases",
    "ONEOFF_PURCHASES": "one-off purchases", "MINIMUM_PAYMENTS": "minimum payments",
    "PURCHASES_INSTALLMENTS_FREQUENCY": "instalment purchase frequency",
    "ONEOFF_PURCHASES_FREQUENCY": "one-off purchase frequency", "CASH_ADVANCE_TRX": "cash-advance transactions",
    "CASH_ADVANCE_USERS": "customers using cash advances", "PURCHASERS": "customers making purchases",
    "CUSTOMER_SHARE": "share of customers",
}
_SHARE_FIELDS = {"UTILISATION", "CASH_ADVANCE_SHARE", *SEGMENT_SHARES,
                 *(c for c in FEATURES if BY_NAME[c].kind == "frequency")}


@dataclass(frozen=True)
class Clause:
    """One comparison: ``field op value``."""

    field: str
    op: str
    value: float

    def describe(self) -> str:
        """The clause in words, e.g. 'utilisation below 30%'."""
        base = self.field.removesuffix("_INDEX")
        label = _LABELS.get(base, base.lower().replace("_", " "))
        if self.field.endswith("_INDEX"):
            return f"{label} {_WORDS[self.op]} {format_general(self.value)} (index, 100 = portfolio)"
        if self.value == 0 and self.op in ("<=", "==") and not self.field.endswith("_INDEX"):
            return f"no {label}"
        if self.value == 0 and self.op in (">", "!=") and not self.field.endswith("_INDEX"):
            return f"some {label}"
        if self.field in _SHARE_FIELDS:
            digits = len(f"{self.value * 100:g}".partition(".")[2])  # as typed: 25%, 12.5%
            return f"{label} {_WORDS[self.op]} {format_share(self.value, digits)}"
        if base in BY_NAME and BY_NAME[base].unit == "$":
            return f"{label} {_WORDS[self.op]} {format_money(self.value)}"  # in the report's currency
        return f"{label} {_WORDS[self.op]} {format_general(self.value)}"  # numbers, too, in the report's locale


@dataclass(frozen=True)
class Rule:
    """Clauses that must all hold. An empty rule holds for everyone."""

    clauses: tuple[Clause, ...] = ()
    source: str = ""

    def describe(self) -> str:
        """The rule in words ('everyone in the segment' when empty)."""
        return " and ".join(c.describe() for c in self.clauses) or "everyone in the segment"

    def holds(self, values) -> object:
        """Evaluate on ``values`` (a mapping field -> number or array): a bool or a bool array."""
        result = True
        for c in self.clauses:
            result = result & OPERATORS[c.op](values[c.field], c.value)
        return result


def parse_rule(text, *, fields: tuple[str, ...], where: str) -> Rule:
    """Parse ``"A >= 1 and B < 2"``; ``where`` names the persona and entry for the error message."""
    if text is None or text == "":
        return Rule()
    if not isinstance(text, str):
        raise ConfigError(f"{where}: a condition must be text like \"UTILISATION < 0.3\", got {text!r}")
    clauses = []
    for part in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE):
        match = _CLAUSE.match(part)
        if not match:
            raise ConfigError(f"{where}: cannot read condition {part.strip()!r}; write FIELD OP NUMBER "
                              f"(OP one of {', '.join(OPERATORS)}), joined by 'and'")
        name, op, value = match.group(1).upper(), match.group(2), float(match.group(3))
        if name not in fields:
            raise ConfigError(f"{where}: unknown field {name} in condition {text!r}; valid: {', '.join(fields)}")
        clauses.append(Clause(name, op, value))
    return Rule(tuple(clauses), text.strip())

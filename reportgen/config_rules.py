"""The rules a config file is checked against: the type and range of every number (so a typo or
an absurd value is one clear line naming the key, not a crash or a 23 GB process), unknown keys,
and e-mail recipients (exactly one address per entry).
"""

from __future__ import annotations

import math
from dataclasses import fields
from pathlib import Path
from typing import Any

from reportgen.errors import ConfigError

#: What every number of the config may be: key -> (kind, lowest, highest). Bounds keep a typo
#: from asking for a day of work or all the memory (``bootstrap = 1000000`` took 23 GB).
BOUNDS: dict[str, tuple[type, float, float]] = {
    "segmentation.k_min": (int, 2, 20),
    "segmentation.k_max": (int, 2, 20),
    "segmentation.k": (int, 2, 20),
    "segmentation.seed": (int, 0, 2**32 - 1),
    "segmentation.bootstrap": (int, 2, 100),
    "segmentation.selection_sample": (int, 100, 1_000_000),
    "segmentation.silhouette_sample": (int, 100, 100_000),
    "segmentation.min_segment_share": (float, 0, 0.49),
    "segmentation.min_stability": (float, 0, 1),
    "segmentation.silhouette_tolerance": (float, 0, 1),
    "actions.min_eligible": (int, 1, 1_000_000),
    "email.port": (int, 1, 65535),
    "email.max_attachment_mb": (float, 0.01, 1000),
    "email.timeout": (float, 1, 600),
    "email.retries": (int, 0, 10),
    "email.backoff_seconds": (float, 0, 300),
    "history.trend_months": (int, 2, 36),
}


_KIND_NAMES = {int: "whole number", float: "number", str: "text string", bool: "true or false", list: "list"}


def _typed(value, kind, path: Path, where: str):
    ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
    if kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok:
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:60] + "..."
        raise ConfigError(f"{path}: {where} must be a {_KIND_NAMES.get(kind, kind.__name__)}, got {shown}")
    return float(value) if kind is float else value


def _bounded(value, path: Path, where: str):
    """``value`` checked against :data:`BOUNDS` (kind and range) for key ``where``."""
    kind, low, high = BOUNDS[where]
    value = _typed(value, kind, path, where)
    if not low <= value <= high:
        raise ConfigError(f"{path}: {where} must be from {low:g} to {high:g}, got {value:g}")
    return value


def _build(cls, table: dict, path: Path, where: str):
    valid = {f.name: f for f in fields(cls)}
    _reject_unknown(table, set(valid), path, where)
    section = where.strip("[]")
    checked = {}
    for key, value in table.items():
        name = f"{section}.{key}"
        checked[key] = _bounded(value, path, name) if name in BOUNDS else _typed(value, str, path, name)
    return cls(**checked)


def recipient(entry, path: Path, where: str) -> str:
    """One ``to`` entry checked strictly: exactly one address (``name@domain``, optionally with a
    display name, ``"CFO <cfo@example.com>"``); anything else is a config error naming the entry."""
    from email import errors, policy

    if not isinstance(entry, str):
        raise ConfigError(f"{path}: {where} to: {entry!r} is not an e-mail address (expected text)")
    shown = entry if len(entry) <= 80 else entry[:80] + "..."
    try:
        header = policy.default.header_factory("To", entry)
        addresses, defects = header.addresses, header.defects
    except (errors.HeaderParseError, IndexError, ValueError):
        addresses, defects = (), (True,)
    if len(addresses) > 1:
        raise ConfigError(f"{path}: {where} to: {shown!r} holds {len(addresses)} addresses; give one address per entry")
    if defects or len(addresses) != 1 or not addresses[0].username or not addresses[0].domain:
        raise ConfigError(
            f"{path}: {where} to: {shown!r} is not one e-mail address; write name@domain or "
            "\"Display Name <name@domain>\", one address per entry"
        )
    return entry.strip()


def _reject_unknown(table: dict[str, Any], valid: set[str], path: Path, where: str) -> None:
    unknown = sorted(set(table) - valid)
    if unknown:
        raise ConfigError(
            f"{path}: unknown key(s) {', '.join(unknown)} in {where}; valid keys: {', '.join(sorted(valid))}"
        )

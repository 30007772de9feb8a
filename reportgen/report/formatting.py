"""Numbers, months and dates to text, one way for every format (PDF, HTML, PowerPoint, dashboard, e-mail).

Renderers never format numbers themselves; they call these functions (also registered as Jinja
filters), so the PDF, the deck and the dashboard cannot show the same value two ways.
"""

from __future__ import annotations

import calendar
import math
import re
from datetime import datetime

# Characters XML (PowerPoint, SVG, PDF tags) cannot carry: C0 controls but tab, newline and
# carriage return, DEL, lone surrogates, U+FFFE and U+FFFF.
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def strip_illegal(text: str) -> str:
    """``text`` without the characters XML cannot carry (user text from a playbook or an extract)."""
    return XML_ILLEGAL.sub("", text) if XML_ILLEGAL.search(text) else text


def format_count(value: float) -> str:
    """A whole number with thousands separators: ``8950 -> '8,950'``."""
    return f"{int(round(value)):,}"


def format_money(value: float, *, compact: bool = False) -> str:
    """Dollars: ``1234.5 -> '$1,235'``; compact: ``12_345_678 -> '$12.3M'``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    sign = "-" if value < 0 else ""
    value = abs(value)
    if compact:
        for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
            if value >= limit:
                return f"{sign}${value / limit:,.1f}{suffix}"
    return f"{sign}${value:,.0f}"


def format_share(value: float, digits: int = 1) -> str:
    """A share of 1 as a percentage: ``0.1234 -> '12.3%'``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value * 100:.{digits}f}%"


def format_number(value: float, digits: int = 2) -> str:
    """A plain decimal: ``0.23544 -> '0.24'``; ``nan -> 'n/a'``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:,.{digits}f}"


def format_signed(value: float, digits: int = 2) -> str:
    """A z-score or change with its sign: ``0.5 -> '+0.50'``."""
    return f"{value:+.{digits}f}"


def format_value(value: float, unit: str) -> str:
    """A feature value in its unit (``$``, ``share``, ``transactions``, ``months``, ``ratio``)."""
    if unit == "$":
        return format_money(value)
    if unit == "share":
        return format_share(value)
    if unit in ("transactions", "months"):
        return format_number(value, 1)
    return format_number(value, 2)


def month_label(month: str) -> str:
    """``'2026-11' -> 'November 2026'``; anything unparsable is shown as it is."""
    try:
        return datetime.strptime(str(month), "%Y-%m").strftime("%B %Y")
    except ValueError:
        return str(month)


def month_short(month: str) -> str:
    """``'2026-11' -> 'Nov 2026'`` (axis labels and table headers); other text as it is."""
    year, _, number = str(month).partition("-")
    if year.isdigit() and number.isdigit() and 1 <= int(number) <= 12:
        return f"{calendar.month_abbr[int(number)]} {year}"
    return str(month)


def date_label(stamp: str) -> str:
    """An ISO timestamp as ``'26 November 2026, 22:20 UTC'`` (other offsets as ``UTC+05:30``);
    unparsable text as it is."""
    try:
        moment = datetime.fromisoformat(str(stamp))
    except ValueError:
        return str(stamp)
    offset = moment.strftime("%z")
    zone = "" if not offset else " UTC" if offset == "+0000" else f" UTC{offset[:3]}:{offset[3:]}"
    return f"{moment.day} {moment.strftime('%B %Y, %H:%M')}{zone}"


#: The number filters of every template environment (:data:`reportgen.render.templating.FILTERS` adds the rest).
FILTERS = {
    "count": format_count,
    "money": format_money,
    "share": format_share,
    "number": format_number,
    "signed": format_signed,
    "value": format_value,
}

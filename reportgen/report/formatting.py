"""Numbers, months and dates to text, one way for every format (PDF, HTML, PowerPoint, dashboard, e-mail).

Renderers never format numbers themselves; they call these functions (also registered as Jinja
filters), so the PDF, the deck and the dashboard cannot show the same value two ways.

The text follows a number style: a locale and a currency (``[report] locale`` and ``currency``,
default ``en_US`` and ``USD``), set for a build with :func:`number_style` (and in each render lane
with :func:`use_style`). Python rounds each value to the digits shown (the same digits in every
locale), then Babel writes them the locale's way from the Unicode CLDR data: separators, the
percent and currency patterns, the currency's symbol, month names (``1.235 €``, ``12,3 %``,
``November 2026`` in ``de_DE``/``EUR``). Compact amounts use CLDR's short forms (``12,3 Mio. €``),
except English, which keeps the report's ``$1.2k``, ``$12.3M``, ``$1.5B``.
"""

from __future__ import annotations

import calendar
import math
import re
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_skeleton
from babel.numbers import get_currency_symbol, is_currency, parse_pattern

DEFAULT_LOCALE = "en_US"
DEFAULT_CURRENCY = "USD"
# "plain": the default style, written with Python's own formatting (the same text as Babel's for
# en_US/USD, which the tests check value by value, and 30 times faster)
_style = {"locale": DEFAULT_LOCALE, "currency": DEFAULT_CURRENCY, "plain": True}
_ENGLISH_COMPACT = ((1e9, "B"), (1e6, "M"), (1e3, "k"))

# Characters XML (PowerPoint, SVG, PDF tags) cannot carry: C0 controls but tab, newline and
# carriage return, DEL, lone surrogates, U+FFFE and U+FFFF.
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def strip_illegal(text: str) -> str:
    """``text`` without the characters XML cannot carry (user text from a playbook or an extract)."""
    return XML_ILLEGAL.sub("", text) if XML_ILLEGAL.search(text) else text


# --- the number style ---------------------------------------------------------------------------


def check_style(locale: str, currency: str) -> tuple[str, str]:
    """``(locale, currency)`` normalised (``de-DE`` -> ``de_DE``, ``eur`` -> ``EUR``); ValueError
    naming the problem when Babel knows neither."""
    try:
        name = str(Locale.parse(str(locale).replace("-", "_")))
    except (UnknownLocaleError, ValueError, TypeError):
        raise ValueError(f"unknown locale {locale!r} (expected e.g. en_US, de_DE, fr_FR)") from None
    code = str(currency).upper()
    if not is_currency(code):
        raise ValueError(f"unknown currency {currency!r} (expected an ISO 4217 code, e.g. USD, EUR, GBP)")
    return name, code


def use_style(locale: str = DEFAULT_LOCALE, currency: str = DEFAULT_CURRENCY) -> None:
    """Format every number from now on in ``locale`` with ``currency`` (a render lane's setting)."""
    _style["locale"], _style["currency"] = check_style(locale, currency)
    _style["plain"] = (_style["locale"], _style["currency"]) == (DEFAULT_LOCALE, DEFAULT_CURRENCY)


@contextmanager
def number_style(locale: str = DEFAULT_LOCALE, currency: str = DEFAULT_CURRENCY):
    """Format numbers in ``locale`` with ``currency`` inside the block (a build), then as before."""
    before = dict(_style)
    use_style(locale, currency)
    try:
        yield
    finally:
        _style.update(before)


def current_style() -> tuple[str, str]:
    """The ``(locale, currency)`` numbers are formatted in now."""
    return _style["locale"], _style["currency"]


def currency_symbol() -> str:
    """The currency's symbol in the current locale: ``$``, ``€``, ``CHF``..."""
    return get_currency_symbol(_style["currency"], locale=_locale(_style["locale"]))


def spreadsheet_money_format(digits: int = 0) -> str:
    """An Excel number format for amounts in the current currency: ``$#,##0``, ``#,##0.00 "€"``.
    (Excel and PowerPoint show separators in the reader's own locale.)"""
    symbol = currency_symbol()
    quoted = symbol if symbol == "$" else f'"{symbol}"'
    number = "#,##0" + ("." + "0" * digits if digits else "")
    prefix, suffix = _affixes(_style["locale"])
    if "¤" in suffix[0]:
        return f"{number}{' ' if suffix[0].startswith((' ', chr(0xA0))) else ''}{quoted}"
    return f"{quoted}{' ' if prefix[0].endswith((' ', chr(0xA0))) else ''}{number}"


@lru_cache(maxsize=64)
def _locale(name: str) -> Locale:
    return Locale.parse(name)


@lru_cache(maxsize=256)
def _pattern(locale: str, kind: str, digits: int):
    """The locale's own decimal, percent or currency pattern, showing exactly ``digits`` decimals."""
    loc = _locale(locale)
    base = {"decimal": loc.decimal_formats[None], "percent": loc.percent_formats[None],
            "currency": loc.currency_formats["standard"]}[kind]
    pattern = parse_pattern(base.pattern)
    pattern.frac_prec = (digits, digits)
    return pattern


@lru_cache(maxsize=64)
def _affixes(locale: str):
    pattern = _pattern(locale, "currency", 0)
    return pattern.prefix, pattern.suffix


def _localise(kind: str, text: str, digits: int, scale: int = 0) -> str:
    """``text`` (digits Python rounded, e.g. ``-1234.5``) written in the current style."""
    locale = _style["locale"]
    number = Decimal(text)
    pattern = _pattern(locale, kind, digits)
    options = dict(currency=_style["currency"], currency_digits=False, group_separator=kind != "percent")
    out = pattern.apply(abs(number).scaleb(scale), _locale(locale), **options)
    if not text.startswith("-"):
        return out
    if number != 0:
        return pattern.apply(number.scaleb(scale), _locale(locale), **options)
    return _locale(locale).number_symbols["latn"]["minusSign"] + out  # a negative that rounds to zero


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


# --- numbers ------------------------------------------------------------------------------------


def format_count(value: float) -> str:
    """A whole number with thousands separators: ``8950 -> '8,950'``."""
    if _style["plain"]:
        return f"{int(round(value)):,}"
    return _localise("decimal", str(int(round(value))), 0)


def format_money(value: float, *, compact: bool = False) -> str:
    """An amount in the currency: ``1234.5 -> '$1,235'``; compact: ``12_345_678 -> '$12.3M'``."""
    if _missing(value):
        return "n/a"
    if _style["plain"]:
        return _plain_money(value, compact)
    if compact:
        short = _compact(value)
        if short is not None:
            number, word = short
            prefix, suffix = _affixes(_style["locale"])
            side = 1 if value < 0 and len(prefix) > 1 else 0
            text = prefix[side] + number + word + suffix[side]
            return text.replace("¤", currency_symbol())
    return _localise("currency", ("-" if value < 0 else "") + f"{abs(value):.0f}", 0)


def _plain_money(value: float, compact: bool) -> str:
    sign = "-" if value < 0 else ""
    value = abs(value)
    if compact:
        for limit, suffix in _ENGLISH_COMPACT:
            if value >= limit:
                return f"{sign}${value / limit:,.1f}{suffix}"
    return f"{sign}${value:,.0f}"


def format_compact(value: float) -> str:
    """A large count in short form, without currency: ``123_456 -> '123.5k'`` (below 1,000 as it is)."""
    short = _compact(value)
    if short is None:
        return format_count(value)
    number, word = short
    return ("-" if value < 0 else "") + number + word


def _compact(value: float) -> tuple[str, str] | None:
    """(number text of the size, short word) of ``value``, or None when the locale does not shorten it."""
    size = abs(value)
    language = _locale(_style["locale"]).language
    for limit, english in _ENGLISH_COMPACT:
        if size >= limit:
            if language == "en":
                word = english
            else:
                word = _cldr_word(_style["locale"], int(limit))
                if word is None:
                    return None
            if _style["plain"]:
                return f"{size / limit:,.1f}", word
            return _localise("decimal", f"{size / limit:.1f}", 1), word
    return None


@lru_cache(maxsize=64)
def _cldr_word(locale: str, limit: int) -> str | None:
    """The locale's short word for thousands, millions, billions (``" Mio."``), None when it has none."""
    pattern = _locale(locale).compact_decimal_formats.get("short", {}).get("other", {}).get(str(limit))
    text = getattr(pattern, "pattern", pattern)
    if not text or set(text) <= {"0"}:
        return None
    text = re.sub(r"'([^']*)'", r"\1", str(text).split(";")[0])
    return text.replace("0", "", text.count("0")) if text.startswith("0") else None


def format_share(value: float, digits: int = 1) -> str:
    """A share of 1 as a percentage: ``0.1234 -> '12.3%'``."""
    if _missing(value):
        return "n/a"
    if _style["plain"]:
        return f"{value * 100:.{digits}f}%"
    return _localise("percent", f"{value * 100:.{digits}f}", digits, scale=-2)


def format_number(value: float, digits: int = 2) -> str:
    """A plain decimal: ``0.23544 -> '0.24'``; ``nan -> 'n/a'``."""
    if _missing(value):
        return "n/a"
    if _style["plain"]:
        return f"{value:,.{digits}f}"
    return _localise("decimal", f"{value:.{digits}f}", digits)


def format_general(value: float, significant: int = 6) -> str:
    """A number someone typed (a threshold), with the decimals it needs: ``1.5 -> '1.5'``, ``2.0 -> '2'``
    (Python's ``g`` format with ``significant`` digits; an exponent stays as Python writes it)."""
    text = f"{value:.{significant}g}"
    if _style["plain"] or "e" in text or not math.isfinite(value):
        return text
    digits = len(text.partition(".")[2])
    return _localise("decimal", f"{value:.{digits}f}", digits)


def format_signed(value: float, digits: int = 2) -> str:
    """A z-score or change with its sign, without grouping: ``0.5 -> '+0.50'``."""
    text = f"{value:+.{digits}f}"
    if _style["plain"]:
        return text
    symbols = _locale(_style["locale"]).number_symbols["latn"]
    return symbols["plusSign"] + text[1:].replace(".", symbols["decimal"]) if text[0] == "+" else (
        symbols["minusSign"] + text[1:].replace(".", symbols["decimal"])
    )


def format_signed_share(value: float, digits: int = 0) -> str:
    """A change as a signed percentage: ``0.12 -> '+12%'``, ``-0.05 -> '-5%'``."""
    if _style["plain"]:
        return f"{value * 100:+.{digits}f}%"
    symbols = _locale(_style["locale"]).number_symbols["latn"]
    sign = symbols["minusSign"] if f"{value * 100:+.{digits}f}".startswith("-") else symbols["plusSign"]
    return sign + format_share(abs(value), digits)


#: An index this many times the portfolio's (or this fraction of it) gets the darkest shade: on a log
#: scale, so 50 and 200 (half and twice the portfolio) are shaded equally strongly.
INDEX_SATURATION = 4.0


def format_index(index: float | None) -> str:
    """A profile index (portfolio = 100) as a whole number; "–" where there is none (portfolio zero)."""
    if index is None or _missing(index):
        return "\u2013"
    return format_count(round(index))


def index_strength(index: float | None) -> float:
    """Where an index sits on the shading scale, from -1 (a quarter of the portfolio or less) through
    0 (= portfolio) to +1 (four times or more): log-symmetric, so 50 and 200 give -0.5 and +0.5."""
    if index is None or _missing(index):
        return 0.0
    if index <= 0:
        return -1.0
    return max(-1.0, min(1.0, math.log(index / 100.0) / math.log(INDEX_SATURATION)))


def format_value(value: float, unit: str) -> str:
    """A feature value in its unit (``$``, ``share``, ``transactions``, ``months``, ``ratio``)."""
    if unit == "$":
        return format_money(value)
    if unit == "share":
        return format_share(value)
    if unit in ("transactions", "months"):
        return format_number(value, 1)
    return format_number(value, 2)


def band_label(low: float, high: float, kind: str) -> str:
    """A band of amounts (``kind`` "money") or shares ("share"): ``under $1k``, ``$1k-2.5k``,
    ``$10k and over``, ``10-30%``; in another style each end as an amount or a percentage
    (``1.000 € – 2.500 €``, ``10 % – 30 %``)."""
    if _style["plain"]:
        def end(v):
            if kind == "share":
                return f"{v * 100:g}"
            return f"{v / 1000:g}k" if v >= 1000 else f"{v:g}"
        before, after = ("$", "") if kind == "money" else ("", "%")
        if low <= 0:
            return f"under {before}{end(high)}{after}"
        if math.isinf(high):
            return f"{before}{end(low)}{after} and over"
        return f"{before}{end(low)}-{end(high)}{after}"
    show = format_money if kind == "money" else (lambda v: format_share(v, 0))
    if low <= 0:
        return f"under {show(high)}"
    if math.isinf(high):
        return f"{show(low)} and over"
    return f"{show(low)} \u2013 {show(high)}"


def style_symbols() -> dict | None:
    """What a script needs to write numbers as this module does (the dashboard's): separators,
    signs, the currency's and the percent's affixes and the compact words; None in the default
    style, which the script writes by itself."""
    if _style["plain"]:
        return None
    symbols = _locale(_style["locale"]).number_symbols["latn"]

    def affixes(kind: str, text: str, scale: int = 0) -> list[str]:
        before, _one, after = _localise(kind, text, 0, scale).partition("1")
        return [before, after]

    return {
        "decimal": symbols["decimal"], "group": symbols["group"], "minus": symbols["minusSign"],
        "money": affixes("currency", "1") + affixes("currency", "-1"),
        "percent": affixes("percent", "1", -2),
        "compact": {str(int(limit)): (english if _locale(_style["locale"]).language == "en" else
                                      _cldr_word(_style["locale"], int(limit))) for limit, english in _ENGLISH_COMPACT},
    }


def unit_label(text: str) -> str:
    """A unit or a label naming one, with ``$`` as the current currency's symbol: ``($)`` -> ``(€)``."""
    return text.replace("$", currency_symbol()) if "$" in text and not _style["plain"] else text


# --- months and dates ---------------------------------------------------------------------------


def month_label(month: str) -> str:
    """``'2026-11' -> 'November 2026'``; anything unparsable is shown as it is."""
    try:
        moment = datetime.strptime(str(month), "%Y-%m")
    except ValueError:
        return str(month)
    if _style["plain"]:
        return moment.strftime("%B %Y")
    return format_skeleton("yMMMM", moment.date(), locale=_style["locale"])


def month_short(month: str, *, year: bool = True) -> str:
    """``'2026-11' -> 'Nov 2026'`` (axis labels, table headers; ``'Nov'`` without the year); other text as it is."""
    digits, _, number = str(month).partition("-")
    if digits.isdigit() and number.isdigit() and 1 <= int(number) <= 12:
        if _style["plain"]:
            return f"{calendar.month_abbr[int(number)]} {digits}" if year else calendar.month_abbr[int(number)]
        return format_skeleton("yMMM" if year else "MMM", date(int(digits), int(number), 1), locale=_style["locale"])
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
    if _style["plain"]:
        return f"{moment.day} {moment.strftime('%B %Y, %H:%M')}{zone}"
    # English keeps the report's "26 November 2026"; other languages CLDR's long date ("26. November 2026")
    english = _locale(_style["locale"]).language == "en"
    day = format_date(moment.date(), "d MMMM y" if english else "long", locale=_style["locale"])
    return f"{day}, {moment.strftime('%H:%M')}{zone}"


#: The number filters of every template environment (:data:`reportgen.render.templating.FILTERS` adds the rest).
FILTERS = {
    "count": format_count,
    "money": format_money,
    "share": format_share,
    "number": format_number,
    "signed": format_signed,
    "general": format_general,
    "index": format_index,
    "value": format_value,
    "unit": unit_label,
}

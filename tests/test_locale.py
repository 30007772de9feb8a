"""[report] locale and currency: every number, amount and date written in the build's style."""

from __future__ import annotations

import math
import os
import random
import re
import subprocess
import sys
import zipfile

import pytest

from reportgen.report import formatting as f

GERMAN_AMOUNT = re.compile(r"\d{1,3}(?:\.\d{3})+\u00a0€")  # e.g. 1.235 €: dot thousands, a no-break space
DOLLAR_AMOUNT = re.compile(r"\$\s?\d")


def _plain_en(value: float) -> list[str]:
    """The default style's text (Python's own formatting, as reportgen has always written it)."""
    out = [f.format_money(value), f.format_money(value, compact=True), f.format_share(value),
           f.format_share(value, 0), f.format_number(value), f.format_number(value, 1)]
    if not math.isnan(value):
        out += [f.format_count(value), f.format_signed(value), f.format_compact(value)]
    return out


def test_babel_writes_en_us_exactly_as_the_default_style(monkeypatch):
    """The default style skips Babel for speed; Babel's en_US/USD must give the very same text."""
    rng = random.Random(7)
    values = [0.0, -0.0, 1, 999, 999.5, 1000, 1234.5, -1234.5, 12_345_678, 1e9, 2.675, 0.125, -0.0004, 0.9995,
              -999.96, 1e15, float("nan"), 5e-7, -5e-7, 0.5, 1.5, 2.5]
    values += [rng.uniform(-1e7, 1e7) for _ in range(500)] + [rng.uniform(-2, 2) for _ in range(500)]
    values += [rng.lognormvariate(5, 4) for _ in range(500)]
    plain = [_plain_en(v) for v in values]
    dates = [f.month_label("2026-11"), f.month_short("2026-03"), f.date_label("2026-11-26T22:20:00+05:30")]
    monkeypatch.setitem(f._style, "plain", False)  # en_US/USD through Babel
    assert [_plain_en(v) for v in values] == plain
    assert [f.month_label("2026-11"), f.month_short("2026-03"), f.date_label("2026-11-26T22:20:00+05:30")] == dates
    assert dates == ["November 2026", "Mar 2026", "26 November 2026, 22:20 UTC+05:30"]


def test_german_euros():
    with f.number_style("de_DE", "EUR"):
        assert f.format_money(1234.56) == "1.235\u00a0€"
        assert f.format_money(-1234.56) == "-1.235\u00a0€"
        assert f.format_money(12_345_678, compact=True) == "12,3\u00a0Mio.\u00a0€"
        assert f.format_money(4_321, compact=True) == "4.321\u00a0€"  # German has no short form for thousands
        assert f.format_number(1234.56) == "1.234,56"
        assert f.format_share(0.1234) == "12,3\u00a0%"
        assert f.format_signed(-0.5) == "-0,50"
        assert f.format_count(8950) == "8.950"
        assert f.month_label("2026-03") == "März 2026"
        assert f.date_label("2026-11-26T22:20:00+00:00") == "26 November 2026, 22:20 UTC"
        assert f.spreadsheet_money_format(2) == '#,##0.00 "€"'
        assert f.unit_label("Average balance ($)") == "Average balance (€)"
    assert f.format_money(1234.56) == "$1,235" and f.current_style() == ("en_US", "USD")  # restored


def test_other_locales_follow_cldr():
    with f.number_style("fr-FR", "eur"):
        assert f.current_style() == ("fr_FR", "EUR")
        assert f.format_money(1234.56) == "1\u202f235\u00a0€" and f.month_label("2026-11") == "novembre 2026"
    with f.number_style("en_GB", "GBP"):
        assert f.format_money(1234.56) == "£1,235" and f.format_money(1_500, compact=True) == "£1.5k"
    with f.number_style("de_CH", "CHF"):  # (the apostrophe's code point changed between CLDR versions)
        assert re.fullmatch(r"1.234\.50", f.format_number(1234.5)) and f.format_number(1234.5)[1] in "'’"


def test_unknown_locale_or_currency_is_a_config_error(tmp_path):
    config = tmp_path / "c.toml"
    for table, expected in (('locale = "xx_YY"', "unknown locale 'xx_YY'"), ('currency = "EURO"', "unknown currency 'EURO'")):
        config.write_text(f"[report]\n{table}\n")
        out = subprocess.run([sys.executable, "-m", "reportgen", "segment", "--config", str(config), "--out", str(tmp_path)],
                             capture_output=True, text=True)
        assert out.returncode == 3 and expected in out.stderr and "Traceback" not in out.stderr


@pytest.mark.slow
def test_a_german_build_writes_euros_everywhere(tmp_path):
    from pypdf import PdfReader

    config = tmp_path / "de.toml"
    config.write_text('[report]\nlocale = "de_DE"\ncurrency = "EUR"\n')
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1764547200"}
    out = subprocess.run(
        [sys.executable, "-m", "reportgen", "build", "--config", str(config), "--out", str(tmp_path / "out"),
         "--month", "2026-11", "--format", "pdf", "--format", "pptx", "--format", "html", "--format", "dashboard"],
        capture_output=True, text=True, env=env,
    )
    assert out.returncode == 0, out.stderr
    folder = tmp_path / "out" / "2026-11"
    pdf = "\n".join(p.extract_text() for p in PdfReader(folder / "segment-report-2026-11.pdf").pages)
    with zipfile.ZipFile(folder / "segment-report-2026-11.pptx") as deck:
        xml = "".join(deck.read(n).decode("utf-8") for n in deck.namelist() if re.match(r"ppt/(slides|charts)/", n))
    slides = "\n".join(re.findall(r"<a:t>([^<]*)</a:t>", xml))  # the text a reader sees (not cell references)
    html = (folder / "segment-report-2026-11.html").read_text(encoding="utf-8")
    for name, text in (("pdf", pdf), ("pptx", slides), ("html", html)):
        assert GERMAN_AMOUNT.search(text), name
        assert not DOLLAR_AMOUNT.search(text), (name, DOLLAR_AMOUNT.search(text))
        assert re.search(r"\d,\d\u00a0%", text), name  # 12,3 %
    assert "November 2026" in pdf and "Dezember 2025" in pdf  # (the deck writes months as ISO 2026-11)
    assert 'formatCode="#,##0 &quot;€&quot;"' in xml
    dashboard = (folder / "segment-dashboard-2026-11.html").read_text(encoding="utf-8")
    assert '"style":{"decimal":",","group":"."' in dashboard


def test_the_default_dashboard_carries_no_style():
    from reportgen.api import analyse
    from reportgen.render.dashboard import build_dashboard_data

    _result, model = analyse(month="2026-11")
    assert "style" not in build_dashboard_data(model)

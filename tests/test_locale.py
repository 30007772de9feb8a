"""[report] locale and currency: every number, amount and date written in the build's style."""

from __future__ import annotations

import math
import random
import re
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
        assert f.date_label("2026-11-26T22:20:00+00:00") == "26. November 2026, 22:20 UTC"  # CLDR's long date
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


def test_unknown_locale_or_currency_is_a_config_error(tmp_path, cli):
    config = tmp_path / "c.toml"
    for table, expected in (('locale = "xx_YY"', "unknown locale 'xx_YY'"), ('currency = "EURO"', "unknown currency 'EURO'")):
        config.write_text(f"[report]\n{table}\n")
        code, _out, err = cli("segment", "--config", config, "--out", tmp_path)
        assert code == 3 and expected in err and "Traceback" not in err


GERMAN_CONFIG = """
[report]
locale = "de_DE"
currency = "EUR"

[email]
host = "smtp.example.com"
sender = "reports@example.com"

[email.audiences.executives]
to = ["cfo@example.com"]
attach = ["pdf"]
"""
# An en-US decimal (0.93, 1.5x, 16.1%) where German writes a comma; software versions are removed first
EN_DECIMAL = re.compile(r"(?<![\d.,])\d+\.\d{1,2}(?![\d.,])")


def _english_decimals(text: str, versions) -> list[str]:
    for _name, version in versions:
        text = text.replace(version, "")
    return [text[max(0, m.start() - 40):m.end() + 10] for m in EN_DECIMAL.finditer(text)]


@pytest.mark.slow
def test_a_german_build_writes_euros_everywhere(tmp_path, cli, monkeypatch):
    """One de_DE/EUR build in every format: no dollar and no en-US number in anything a person reads
    (PDF, deck, HTML, dashboard, workbook, e-mail, the command's summary); the CSV target lists stay
    machine-readable (plain decimals, no currency)."""
    import csv
    import email
    import json
    from email import policy

    from openpyxl import load_workbook
    from pypdf import PdfReader

    config = tmp_path / "de.toml"
    config.write_text(GERMAN_CONFIG)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764547200")
    # in-process: the test is about what the files and the command's summary say, not about the process
    code, summary, err = cli("build", "--config", config, "--out", tmp_path / "out", "--month", "2026-11",
                             "--format", "all,xlsx")
    assert code == 0, err
    assert summary.startswith("4.000 customers in "), summary  # the command's summary too
    code, _out, err = cli("send", "--config", config, "--out", tmp_path / "out", "--month", "2026-11", "--dry-run")
    assert code == 0, err
    folder = tmp_path / "out" / "2026-11"
    versions = json.loads((folder / "report-model.json").read_text(encoding="utf-8"))["facts"]["versions"]

    pdf = "\n".join(p.extract_text() for p in PdfReader(folder / "segment-report-2026-11.pdf").pages)
    with zipfile.ZipFile(folder / "segment-report-2026-11.pptx") as deck:
        xml = "".join(deck.read(n).decode("utf-8") for n in deck.namelist()
                      if re.match(r"ppt/(slides|charts|notesSlides)/", n))
    slides = "\n".join(re.findall(r"<a:t>([^<]*)</a:t>", xml))  # the text a reader sees (not cell references)

    def visible(page: str) -> str:  # an HTML page's text, without scripts, styles and embedded pictures
        page = re.sub(r"<script.*?</script>|<style.*?</style>|data:[^\"')\s]+", " ", page, flags=re.S)
        return re.sub(r"<[^>]+>", " ", page).replace("&#39;", "'")

    html = visible((folder / "segment-report-2026-11.html").read_text(encoding="utf-8"))
    dashboard_page = (folder / "segment-dashboard-2026-11.html").read_text(encoding="utf-8")
    dashboard = visible(dashboard_page)
    message = email.message_from_bytes((folder / "outbox" / "executives.eml").read_bytes(), policy=policy.default)
    mail = message.get_body(("plain",)).get_content()
    book = load_workbook(folder / "segment-targets-2026-11.xlsx", read_only=True)
    cells = [(c.value, c.number_format) for sheet in book for row in sheet.iter_rows() for c in row]
    workbook = "\n".join(str(v) for v, _fmt in cells if isinstance(v, str))

    readable = {"pdf": pdf, "pptx": slides, "html": html, "dashboard": dashboard, "e-mail": mail,
                "xlsx": workbook, "summary": summary}
    for name, text in readable.items():
        assert "$" not in text, (name, text[max(0, text.find("$") - 60):text.find("$") + 20])
        assert not _english_decimals(text, versions), (name, _english_decimals(text, versions)[:5])
    for name in ("pdf", "pptx", "html", "e-mail"):
        assert GERMAN_AMOUNT.search(readable[name]), name
        assert re.search(r"\d,\d\u00a0%", readable[name]), name  # 12,3 %
        assert "4.000" in readable[name] and "4,000" not in readable[name], name
    assert "November 2026" in pdf and "Dezember 2025" in pdf
    assert "November 2026" in slides and "2026-11" not in slides  # the deck's months are words too
    assert 'formatCode="#,##0 &quot;€&quot;"' in xml
    assert '"style":{"decimal":",","group":"."' in dashboard_page
    assert "1.000\u00a0€ \u2013 2.500\u00a0€" in dashboard  # the credit-limit bands
    formats = {fmt for value, fmt in cells if isinstance(value, float)}
    assert '#,##0.00 "€"' in formats and not any("$" in fmt for fmt in formats)
    # Data files are for machines: plain decimals with a point, no currency, whatever the locale
    with open(next((folder / "targets").glob("targets-revolvers.csv")), newline="", encoding="utf-8") as handle:
        row = next(csv.DictReader(handle))
    assert re.fullmatch(r"\d+(\.\d+)?", row["BALANCE"]) and "€" not in ",".join(row.values())


def test_the_default_dashboard_carries_no_style():
    from reportgen.api import analyse
    from reportgen.render.dashboard import build_dashboard_data

    _result, model = analyse(month="2026-11")
    assert "style" not in build_dashboard_data(model)

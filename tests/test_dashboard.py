"""The dashboard: one offline HTML file with its data embedded safely, checked as text and in a
real browser (Chromium through Playwright): no network, no console errors, tiles that show the
report's figures for any filter, a drill-down, hostile persona texts shown as text."""

from __future__ import annotations

import dataclasses
import html as html_lib
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from markupsafe import escape

from reportgen.config import load_settings
from reportgen.errors import ConfigError
from reportgen.render.dashboard import (
    build_dashboard_data,
    render_dashboard,
    sample_note,
)
from reportgen.render.settings import RenderSettings
from reportgen.render.templating import css_color
from reportgen.report.formatting import format_count, format_money, format_number, format_share, number_style
from reportgen.report.model import History, Migration, TrendSeries
from reportgen.resources import bundled_root

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HOSTILE = '<img src=x onerror="window.__pwned=1">Big </script><script>window.__pwned=2</script> & Co'
URL_ATTRIBUTES = {"src", "href", "srcset", "action", "formaction", "poster", "data", "xlink:href", "background", "manifest"}
REMOTE = re.compile(r"^\s*(?:https?:)?//", re.IGNORECASE)


@pytest.fixture(scope="module")
def model():
    """The bundled 4,000-customer sample with k = 4."""
    from reportgen.api import analyse

    return analyse(settings=load_settings(k=4), month="2026-11")[1]


@pytest.fixture(scope="module")
def page_html(model) -> str:
    return render_dashboard(model, {}, RenderSettings()).decode("utf-8")


def hostile_model(model):
    """``model`` with playbook texts of the first segment that try to inject markup."""
    first = dataclasses.replace(
        model.segments[0], name=HOSTILE, description=HOSTILE, traits=(HOSTILE,), actions=("<b>bold</b>",), risks=()
    )
    return dataclasses.replace(model, segments=(first, *model.segments[1:]))


def embedded_data(text: str) -> dict:
    match = re.search(r'<script type="application/json" id="dashboard-data">(.*?)</script>', text, re.DOTALL)
    assert match, "no data block"
    return json.loads(match.group(1))


class _Resources(HTMLParser):
    """Every URL-bearing attribute, style text and script element of a page."""

    def __init__(self):
        super().__init__()
        self.urls: list[tuple[str, str, str]] = []
        self.styles: list[str] = []
        self.tags: list[tuple[str, dict]] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        for name, value in attrs:
            if name in URL_ATTRIBUTES and value is not None:
                self.urls.append((tag, name, value))
            if name == "style" and value:
                self.styles.append(value)
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)


# ---------------------------------------------------------------- the file as text


def test_the_page_references_no_remote_resource(page_html):
    parser = _Resources()
    parser.feed(page_html)
    remote = [u for u in parser.urls if REMOTE.match(u[2])]
    assert remote == []
    assert not any(re.search(r"url\(\s*['\"]?\s*(?:https?:)?//", css, re.IGNORECASE) for css in parser.styles)
    scripts = [attrs for tag, attrs in parser.tags if tag == "script"]
    assert scripts and not any("src" in attrs for attrs in scripts)
    assert not any(tag in ("link", "iframe", "object", "embed", "base") for tag, _attrs in parser.tags)
    # Defence in depth: the page's policy forbids any fetch, whatever a script might try.
    csp = next(a["content"] for t, a in parser.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in csp and "connect-src 'none'" in csp and "http" not in csp
    # Our own script and stylesheet name no web address at all.
    for name in ("dashboard.js", "dashboard.css", "dashboard.html"):
        text = (bundled_root("templates") / "dashboard" / name).read_text(encoding="utf-8")
        assert not re.search(r"https?:|//[a-z0-9.-]+\.[a-z]{2,}/", text, re.IGNORECASE), name


def test_plotly_is_inlined_from_the_installed_package(page_html):
    from plotly.offline import get_plotlyjs

    assert get_plotlyjs()[:2000] in page_html
    assert "cdn.plot.ly" not in page_html.split('id="plotly-source">')[0]


def test_the_data_are_embedded(page_html, model):
    data = embedded_data(page_html)
    assert data == json.loads(json.dumps(build_dashboard_data(model)))
    assert [k["display"] for k in data["kpis"]] == [k.display for k in model.kpis]
    assert len(data["cube"]["rows"]) == len(model.cube.rows)
    assert data["sample"]["size"] == len(model.sample.ids) and data["sample"]["ids_masked"]
    assert [s["color"] for s in data["segments"]] == [s.color for s in model.segments]
    # Server-rendered figures (for readers without JavaScript) are the report's own.
    for kpi in model.kpis[:5]:
        assert f'data-kpi="{kpi.key}">{html_lib.escape(kpi.display)}<' in page_html


def test_hostile_persona_texts_cannot_leave_the_data_block_or_become_markup(model, page_html):
    text = render_dashboard(hostile_model(model), {}, RenderSettings()).decode("utf-8")
    assert HOSTILE not in text and "<img" not in text and "<b>bold" not in text
    assert text.count("<script") == page_html.count("<script")
    assert text.lower().count("</script") == page_html.lower().count("</script")
    data = embedded_data(text)
    assert data["segments"][0]["name"] == HOSTILE and data["segments"][0]["actions"] == ["<b>bold</b>"]
    assert str(escape(HOSTILE)) in text  # the filter label and the segment table, as text


def test_colours_that_are_not_hex_never_reach_css(model):
    evil = "red;background:url(http://evil.example/x.png)"
    first = dataclasses.replace(model.segments[0], color=evil)
    text = render_dashboard(dataclasses.replace(model, segments=(first, *model.segments[1:])), {}, RenderSettings()).decode()
    assert "evil.example" not in text
    assert css_color(evil) == "#888888" and css_color("#0072B2") == "#0072B2" and css_color("#abc") == "#abc"


def test_recommendations_list_actions_counts_and_target_lists(model, page_html):
    from reportgen.render.formats import target_stems

    section = page_html[page_html.index('id="recommendations"'):]
    section = section[:section.index("</section>")]
    stems = target_stems((s.id, s.name, s.persona_key) for s in model.segments)
    for segment in model.segments:
        assert str(escape(segment.name)) in section and format_count(segment.customers) in section
        assert all(str(escape(action)) in section for action in segment.actions)
        assert f'href="targets/{stems[segment.id]}.csv" download' in section
    assert model.actions, "the sample's playbook sizes actions"
    for action in model.actions:  # every sized action: its text, eligible count and its own target list
        assert str(escape(action.text)) in section and format_count(action.eligible) in section
        if action.eligible:
            assert f'href="targets/{stems[action.segment_id]}--{action.key}.csv" download' in section
    assert "C1" not in section  # no customer id on the page's recommendations


def test_the_sample_is_stated():
    assert sample_note(5_000, 8_950) == (
        "Distributions and the customer table show a random sample of 5,000 of 8,950 customers."
    )
    assert sample_note(4_000, 4_000) == "Distributions and the customer table show all 4,000 customers."


def test_a_user_template_extends_the_default(model, tmp_path):
    folder = tmp_path / "templates" / "dashboard"
    folder.mkdir(parents=True)
    (folder / "dashboard.html").write_text(
        '{% extends "default/dashboard/dashboard.html" %}{% block notes %}<p id="own">Questions: '
        "{{ model.facts.customers|count }} customers</p>{% endblock %}",
        encoding="utf-8",
    )
    text = render_dashboard(model, {}, RenderSettings(templates=tmp_path / "templates")).decode()
    assert f'<p id="own">Questions: {format_count(model.facts.customers)} customers</p>' in text
    assert 'id="dashboard-data"' in text


def test_template_mistakes_name_the_users_file(model, tmp_path):
    folder = tmp_path / "dashboard"
    folder.mkdir()
    (folder / "dashboard.html").write_text("<p>\n{{ no_such_name }}</p>", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"dashboard\.html:2: undefined name"):
        render_dashboard(model, {}, RenderSettings(templates=tmp_path))
    (folder / "dashboard.html").unlink()
    (folder / "dashboard.js").write_text("var a = '</script>';", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"dashboard\.js.*</script"):
        render_dashboard(model, {}, RenderSettings(templates=tmp_path))


# ---------------------------------------------------------------- in a real browser


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: the browser tests need Debian's chromium package")
    manager = sync_api.sync_playwright().start()
    try:
        chromium = manager.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    except Exception as exc:  # noqa: BLE001 - any launch failure means: no browser here
        manager.stop()
        pytest.skip(f"Chromium did not start: {exc.__class__.__name__}")
    yield chromium
    chromium.close()
    manager.stop()


class Visit:
    """A page opened from a file, with its console errors and every request it made."""

    def __init__(self, browser, path: Path, width: int = 1280, height: int = 900):
        self.url = path.resolve().as_uri()
        self.page = browser.new_page(viewport={"width": width, "height": height})
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(self.url)
        # Attribute selectors, not wait_for_function: the page's policy forbids eval.
        self.page.wait_for_selector("html[data-dashboard]", state="attached", timeout=20_000)
        self.page.wait_for_selector("html[data-charts=drawn]", state="attached", timeout=30_000)
        self.ready_ms, self.charts_ms = self.page.evaluate("[window.__dashboardReadyAt, window.__chartsDrawnAt]")

    def text(self, selector: str) -> str:
        return self.page.eval_on_selector(selector, "el => el.textContent")

    def tiles(self) -> dict[str, str]:
        return self.page.eval_on_selector_all("[data-kpi]", "els => Object.fromEntries(els.map(e => [e.dataset.kpi, e.textContent]))")

    def assert_offline_and_clean(self):
        foreign = [u for u in self.requests if u != self.url and not u.startswith(("data:", "blob:"))]
        assert foreign == [], foreign
        assert self.errors == []
        assert self.page.evaluate("document.documentElement.dataset.dashboard") == "ready"

    def close(self):
        self.page.close()


def write_page(model, folder: Path, name: str = "dashboard.html") -> Path:
    path = folder / name
    path.write_bytes(render_dashboard(model, {}, RenderSettings()))
    return path


def assert_not_blank(png: Path):
    from PIL import Image, ImageStat

    with Image.open(png) as image:
        grey = image.convert("L")
        low, high = grey.getextrema()
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
        assert image.width >= 300 and image.height >= 300
        assert high - low > 100 and ImageStat.Stat(grey).stddev[0] > 10
        assert colours is None or len(colours) > 50


@pytest.fixture(scope="module", params=["bundled", "real"])
def browsed(request, model, tmp_path_factory):
    """(model, path of its dashboard): the bundled sample, and the real file when present."""
    if request.param == "real":
        from reportgen.api import analyse

        real = request.getfixturevalue("real_data")
        used = analyse(real, settings=load_settings(k=5), month="2026-11")[1]
    else:
        used = model
    return used, write_page(used, tmp_path_factory.mktemp(f"dashboard-{request.param}"))


@pytest.mark.slow
def test_browser_tiles_filters_and_drill_down(browser, browsed, tmp_path):
    model, path = browsed
    visit = Visit(browser, path)
    page = visit.page
    print(f"\n{path.name} ({model.facts.customers:,} customers, {path.stat().st_size / 1e6:.1f} MB): "
          f"interactive after {visit.ready_ms:.0f} ms, all charts drawn after {visit.charts_ms:.0f} ms")
    assert visit.tiles() == {k.key: k.display for k in model.kpis}
    assert visit.text("#status") == f"Showing all {format_count(model.facts.customers)} customers."
    note = sample_note(len(model.sample.ids), model.sample.total_customers)
    assert note in page.inner_text(".notes")
    page.screenshot(path=tmp_path / "overview.png", full_page=True)
    assert_not_blank(tmp_path / "overview.png")

    # One persona: every tile shows exactly that segment's figures from the report.
    segment = max(model.segments, key=lambda s: s.id)
    page.click("#personas-none")
    assert visit.tiles()["customers"] == "0"
    page.check(f'input[name="persona"][value="{segment.id}"]')
    assert visit.tiles() == {k.key: k.display for k in segment.kpis}
    assert page.evaluate("ReportgenDashboard.kpis()") == {k.key: k.display for k in segment.kpis}
    assert segment.name in visit.text("#status")
    page.click("#filters-reset")
    page.wait_for_timeout(50)  # the reset handler runs after the form has reset
    assert visit.tiles()["customers"] == format_count(model.facts.customers)

    # A band filter: the exact count of the cube's cells in that band.
    cube = np.asarray(model.cube.rows, dtype=float)
    page.select_option("#f-limit", "1")
    assert visit.tiles()["customers"] == format_count(cube[cube[:, 2] == 1, 4].sum())
    page.select_option("#f-limit", "all")

    # Drill down by keyboard: focus the segment's button, press Enter.
    page.focus(f'.segment-button[data-segment="{segment.id}"]')
    page.keyboard.press("Enter")
    page.wait_for_selector("#detail", state="visible")
    assert visit.text("#detail-name") == segment.name
    assert [t.strip() for t in page.eval_on_selector_all("[data-detail-kpi]", "els => els.map(e => e.textContent)")] == [
        k.display for k in segment.kpis[:5]
    ]
    rows = page.eval_on_selector_all("#customer-table tbody tr", "els => els.map(e => e.children.length)")
    assert 0 < len(rows) <= 25 and set(rows) == {8}
    assert visit.text("#table-note").startswith(f"{segment.name}: {format_count(segment.customers)} customers;")  # the real count
    ids = page.eval_on_selector_all("#customer-table tbody td:first-child", "els => els.map(e => e.textContent)")
    assert set(ids) <= set(model.sample.ids) and all("•••" in i for i in ids)
    # the profile as in the report: the eight most distinctive features, as indices (100 = portfolio)
    profile = page.eval_on_selector_all("#detail-profile tbody tr", "els => els.map(e => [...e.children].map(c => c.textContent))")
    expected = sorted(segment.profile, key=lambda row: -abs(row.z))[:8]
    assert [row[0] for row in profile] == [row.label for row in expected]
    assert [row[3] for row in profile] == [format_count(round(r.index)) if r.index is not None else "\u2013" for r in expected]
    page.wait_for_selector("html[data-charts=drawn]", state="attached")
    page.wait_for_selector("#hist-BALANCE .main-svg", state="attached")
    page.locator("#detail").screenshot(path=tmp_path / "segment.png")
    assert_not_blank(tmp_path / "segment.png")
    page.keyboard.press("Escape")
    assert page.is_hidden("#detail")
    assert page.evaluate("document.activeElement.dataset.segment") == str(segment.id)

    # Drill down from a chart: the last bar of the money chart belongs to the last segment.
    bar = page.query_selector_all("#chart-money .point")[-1]
    bar.scroll_into_view_if_needed()
    box = bar.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector("#chart-money .hoverlayer .hovertext", state="attached")  # Plotly clicks what it hovers
    page.mouse.down()
    page.mouse.up()
    page.wait_for_selector("#detail", state="visible")
    assert visit.text("#detail-name") == model.segments[-1].name
    visit.assert_offline_and_clean()
    visit.close()


@pytest.mark.slow
def test_browser_charts_are_drawn_by_the_load_event(browser, model, tmp_path):
    """A screenshot or print taken as soon as the page has loaded has every chart."""
    path = write_page(model, tmp_path)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(path.resolve().as_uri(), wait_until="load")
    assert page.evaluate("document.documentElement.dataset.charts") == "drawn"
    drawn = page.eval_on_selector_all("[id^=chart-]", "els => els.filter(e => !e.closest('[hidden]'))"
                                      ".map(e => e.querySelectorAll('.main-svg .trace').length)")
    assert len(drawn) >= 5 and all(n > 0 for n in drawn), drawn
    page.close()


@pytest.mark.slow
def test_browser_shows_hostile_persona_texts_as_text(browser, model, tmp_path):
    visit = Visit(browser, write_page(hostile_model(model), tmp_path))
    page = visit.page
    assert page.evaluate("window.__pwned === undefined")
    assert page.evaluate("document.images.length") == 0
    assert page.eval_on_selector('.segment-button[data-segment="1"] .segment-name', "e => e.textContent") == HOSTILE
    page.click('.segment-button[data-segment="1"]')
    assert visit.text("#detail-name") == HOSTILE
    assert visit.text("#detail-description") == HOSTILE
    assert page.eval_on_selector_all("#detail-actions li", "els => els.map(e => e.textContent)") == ["<b>bold</b>"]
    assert page.eval_on_selector_all("#detail b, #segments b", "els => els.length") == 0
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned === undefined")
    visit.assert_offline_and_clean()
    visit.close()


@pytest.mark.slow
def test_browser_formats_numbers_exactly_like_python(browser, page_html, tmp_path):
    path = tmp_path / "dashboard.html"
    path.write_text(page_html, encoding="utf-8")
    visit = Visit(browser, path)
    values = [0.0, -0.0, 0.5, 1.5, 2.5, 3.5, 1234.5, -1234.5, 999.5, 999_950.0, 999_999.0, 12_250_000.0,
              12_345_678.9, 1_500_000_000.0, 0.125, 0.0125, 0.00125, 0.0005, 0.9995, 1.0, 1e-9, 8950.0,
              14_002_000.0, 3.14159, 0.045, 0.055, 1e15]
    got = visit.page.evaluate(
        """values => values.map(v => [ReportgenDashboard.format.count(v), ReportgenDashboard.format.money(v, false),
                  ReportgenDashboard.format.money(v, true), ReportgenDashboard.format.share(v),
                  ReportgenDashboard.format.number(v)])""",
        values,
    )
    expected = [[format_count(v), format_money(v), format_money(v, compact=True), format_share(v), format_number(v)] for v in values]
    assert got == expected
    assert visit.page.evaluate("[ReportgenDashboard.format.money(null), ReportgenDashboard.format.share(NaN)]") == ["n/a", "n/a"]
    visit.close()


@pytest.mark.slow
@pytest.mark.parametrize("locale, currency", [("de_DE", "EUR"), ("fr_FR", "CHF"), ("en_GB", "GBP")])
def test_browser_formats_numbers_like_python_in_other_locales(browser, model, tmp_path, locale, currency):
    values = [0.0, -0.0, 0.5, 2.5, 1234.5, -1234.5, 999.5, 999_950.0, 12_250_000.0, -12_345_678.9, 1_500_000_000.0,
              0.125, 0.0005, 0.9995, 8950.0, 3.14159, 1e15]
    with number_style(locale, currency):
        path = write_page(model, tmp_path)
        expected = [[format_count(v), format_money(v), format_money(v, compact=True), format_share(v), format_number(v)]
                    for v in values]
    visit = Visit(browser, path)
    got = visit.page.evaluate(
        """values => values.map(v => [ReportgenDashboard.format.count(v), ReportgenDashboard.format.money(v, false),
                  ReportgenDashboard.format.money(v, true), ReportgenDashboard.format.share(v),
                  ReportgenDashboard.format.number(v)])""",
        values,
    )
    assert got == expected
    if locale == "de_DE":
        assert "-1.234\u00a0€" in [row[1] for row in got]
        assert "Mio.\u00a0€" in visit.page.inner_text("body")  # the tiles, in the page's own formatting
    visit.assert_offline_and_clean()
    visit.close()


def history_model(model):
    """``model`` with two earlier months of trends and a migration matrix."""
    names = tuple(s.name for s in model.segments)
    series = tuple(
        TrendSeries(s.name, s.color, (s.customers - 10, s.customers - 5, s.customers), (s.share,) * 3,
                    (1000.0, 1100.0, 1200.0), (500.0, 510.0, 520.0), (0.3, 0.31, 0.32))
        for s in model.segments
    ) + (TrendSeries("Gone <b>away</b>", "#123456", (40, None, None), (0.01, None, None), (1.0, None, None),
                     (1.0, None, None), (0.1, None, None)),)
    counts = tuple(tuple(100 if i == j else i + j for j in range(len(names))) for i in range(len(names)))
    migration = Migration("2026-10", "2026-11", names, names, counts, sum(map(sum, counts)), 7,
                          ("12 <i>Somebody</i> became Somebody else.",), ())
    history = History(("2026-09", "2026-10", "2026-11"), series, (4000, 4000, 4000), migration)
    return dataclasses.replace(model, history=history)


@pytest.mark.slow
def test_browser_history_sections_and_phone_width(browser, model, tmp_path):
    with_history = history_model(model)
    visit = Visit(browser, write_page(with_history, tmp_path), width=390, height=844)
    page = visit.page
    assert page.is_visible("#history")
    assert page.eval_on_selector("#chart-trend", "e => e.querySelectorAll('.scatterlayer .trace').length") == len(model.segments) + 1
    assert page.eval_on_selector("#chart-migration", "e => e.querySelectorAll('.heatmaplayer image, .heatmaplayer .hm').length") >= 1
    assert page.eval_on_selector_all("#migration-notes li", "els => els.map(e => e.textContent)") == [
        "12 <i>Somebody</i> became Somebody else."
    ]
    assert "2026-10 to 2026-11" in visit.text("#migration-title")
    # No month filter: the history store keeps no monthly cubes yet.
    assert page.query_selector("#f-month") is None
    # Readable at phone width: nothing wider than the screen but the customer table's own scroller.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=tmp_path / "phone.png", full_page=True)
    assert_not_blank(tmp_path / "phone.png")
    visit.assert_offline_and_clean()
    visit.close()


@pytest.mark.slow
def test_browser_month_filter_with_monthly_cubes(browser, model, tmp_path):
    """When the history carries earlier months' cubes, the month filter shows them exactly."""
    from reportgen.render.dashboard import build_context, render_context

    with_history = history_model(model)
    earlier = [list(r) for r in model.cube.rows if r[0] != 1]  # an October without segment 1
    data = build_dashboard_data(with_history, cubes={"2026-10": earlier})
    context = build_context(with_history, RenderSettings(), data=data)
    path = tmp_path / "dashboard.html"
    path.write_bytes(render_context(context, RenderSettings()))
    visit = Visit(browser, path)
    page = visit.page
    assert page.eval_on_selector_all("#f-month option", "els => els.map(e => e.value)") == ["2026-10", "2026-11"]
    page.select_option("#f-month", "2026-10")
    assert visit.tiles()["customers"] == format_count(sum(r[4] for r in earlier))
    assert "2026-10" in visit.text("#status")
    visit.assert_offline_and_clean()
    visit.close()

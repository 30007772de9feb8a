"""The HTML report: one self-contained file from the templates, safe with hostile data, overridable."""

from __future__ import annotations

import dataclasses
import functools
import io
import re
from datetime import datetime, timezone
from html import escape as html_escape
from html.parser import HTMLParser

import pytest
from conftest import real_data_path

from reportgen.errors import ConfigError, RenderError
from reportgen.render.html import CHART_KEYS, build_context, render_html
from reportgen.render.settings import Chart, RenderSettings
from reportgen.render.templating import clean_text, css_color

STAMP = datetime(2026, 11, 26, 22, 20, tzinfo=timezone.utc)
HOSTILE_NAME = "<script>alert(1)</script> & Co\x0b\x00"
LONG_WORD = "W" * 200


def make_charts(model) -> dict[str, Chart]:
    """The charts of ``model``: reportgen.render.charts when it exists, else small real PNGs per key."""
    try:
        from reportgen.render.charts import build_charts
    except ImportError:
        return _simple_charts(model)
    return build_charts(model)


def _simple_charts(model) -> dict[str, Chart]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    charts = {}
    for key in CHART_KEYS:
        fig, ax = plt.subplots(figsize=(7, 4), dpi=150)
        ax.bar([s.name for s in model.segments], [s.customers for s in model.segments],
               color=[s.color for s in model.segments])
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        plt.close(fig)
        charts[key] = Chart(key, f"Chart {key}", f"Bar chart standing in for {key}", buffer.getvalue(), 1050, 600)
    return charts


def hostile_model(model):
    """``model`` with markup, XML-illegal characters and a 200-character word in its playbook texts."""
    first = model.segments[0]
    hostile = dataclasses.replace(
        first,
        name=HOSTILE_NAME,
        description=f"Starts {LONG_WORD} ends & <b>bold</b>\x0c",
        color="red; background-image: url(http://example.com/x.png)",
        actions=(f"Act <img src=x onerror=alert(2)> {LONG_WORD}", *first.actions[1:]),
    )
    return dataclasses.replace(model, segments=(hostile, *model.segments[1:]))


@functools.cache
def sample_report():
    """The bundled sample's report model (at STAMP) and its charts, made once for this module and test_pdf."""
    from reportgen.api import analyse

    _result, model = analyse(month="2026-11", generated_at=STAMP)
    return model, make_charts(model)


@functools.cache
def real_report():
    """The real file's report model (k = 5, at STAMP) and its charts, made once for this module and test_pdf."""
    from reportgen.api import analyse
    from reportgen.config import load_settings

    _result, model = analyse(real_data_path(), settings=load_settings(k=5), month="2026-11", generated_at=STAMP)
    return model, make_charts(model)


@pytest.fixture(scope="module")
def sample():
    return sample_report()


@pytest.fixture(scope="module")
def html(sample):
    model, charts = sample
    return render_html(model, charts, RenderSettings()).decode("utf-8")


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images: list[dict] = []
        self.ids: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])


def parse(html: str) -> _Images:
    parser = _Images()
    parser.feed(html)
    return parser


def test_html_is_one_self_contained_file(html):
    assert html.startswith("<!DOCTYPE html>")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    for external in ('src="http', "src='http", 'href="http', "href='http", "url(http", "url('http", 'url("http', "//cdn"):
        assert external not in html
    assert "<link" not in html and "<script" not in html
    assert "@page" not in html, "the print stylesheet belongs to the PDF only"
    assert ".kpi {" in html, "report.css is inlined"
    images = parse(html).images
    assert len(images) == len(CHART_KEYS)
    assert all(img["src"].startswith("data:image/png;base64,") for img in images)


def test_every_image_has_alt_text(html, sample):
    _model, charts = sample
    alts = [img.get("alt") for img in parse(html).images]
    assert all(alts)
    assert sorted(alts) == sorted(c.alt for c in charts.values())


def test_sections_come_in_the_report_order(html, sample):
    model, _charts = sample
    ids = parse(html).ids
    order = ["cover", "contents", "summary", "overview", "segments",
             *[f"segment-{s.id}" for s in model.segments], "recommendations", "methodology", "appendix"]
    positions = [ids.index(i) for i in order]
    assert positions == sorted(positions)
    for target in re.findall(r'href="#([^"]+)"', html):
        assert target in ids, f"contents link to missing #{target}"


def test_numbers_and_texts_come_from_the_model(html, sample):
    model, _charts = sample
    for kpi in model.kpis[:5]:
        assert kpi.display in html
    for segment in model.segments:
        assert segment.name in html
        for action in segment.actions:
            assert action.replace("'", "&#39;") in html
    for line in (model.story.situation, *model.story.points, model.story.period):
        assert line.replace("'", "&#39;") in html
    for action in model.actions:
        assert action.text.replace("'", "&#39;") in html and action.rule in html
    assert model.facts.input_sha256 in html
    assert "November 2026" in html


def without_pictures(html: str) -> str:
    """The HTML without its data: URIs (base64 can spell anything, ids included)."""
    return re.sub(r"data:[^\"']+", "", html)


def test_no_customer_id_in_the_html(html):
    assert not re.search(r"\bC1\d{4}\b", without_pictures(html))


def test_hostile_playbook_texts_render_as_text(sample):
    model, charts = sample
    html = render_html(hostile_model(model), charts, RenderSettings()).decode("utf-8")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in html
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "<img src=x" not in html
    assert "\x0b" not in html and "\x00" not in html and "\x0c" not in html
    assert LONG_WORD in html
    assert "example.com" not in html, "a colour from data must never reach CSS as written"


def build(cls, **fields):
    """A model dataclass from the fields the templates read; fields added later default to empty."""
    rest = {f.name: () for f in dataclasses.fields(cls) if f.name not in fields
            and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    return cls(**fields, **rest)


def test_monitoring_and_migration_are_shown_when_present(sample):
    from reportgen.report.model import FeatureShift, History, Migration, Monitoring

    model, charts = sample
    monitoring = build(
        Monitoring, mode="score", model_month="2026-10", previous_month="2026-10",
        statement="Scored with the saved model of 2026-10.",
        psi=(build(FeatureShift, feature="PURCHASES", label="Amount of purchases", psi=0.31, level="significant shift"),),
        events=("Revolvers has almost vanished: 2.0% of customers this month.",),
    )
    migration = build(Migration, month_from="2026-10", month_to="2026-11", customers_both=3900, moved=120,
                      highlights=("120 Balanced Users became Revolvers.",))
    history = build(History, months=("2026-10", "2026-11"), migration=migration)
    changed = dataclasses.replace(model, monitoring=monitoring, history=history)
    html = render_html(changed, charts, RenderSettings()).decode("utf-8")
    for text in ("Scored with the saved model of 2026-10.", "Revolvers has almost vanished", "Since October 2026.",
                 "120 of 3,900 customers", "120 Balanced Users became Revolvers.", "significant shift", "0.310"):
        assert text in html


def test_filters_clean_and_colour():
    assert clean_text("a\x00b\x0bc\td\ne\ud800") == "abc\td\ne"
    assert css_color("#0072B2") == "#0072B2"
    assert css_color("#abc") == "#abc"
    assert css_color("red;background:url(x)") == "#888888"


def write(root, name, text):
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_user_partial_replaces_the_default(sample, tmp_path):
    model, charts = sample
    write(tmp_path, "report/partials/cover.html", '<header id="cover"><h1>Acme Bank · {{ model.facts.month|month_label }}</h1></header>')
    html = render_html(model, charts, RenderSettings(templates=tmp_path)).decode("utf-8")
    assert "Acme Bank · November 2026" in html
    assert "Monthly credit-card customer segmentation" not in html
    assert 'id="recommendations"' in html, "the rest still comes from the defaults"


def test_a_user_template_extends_the_default_base(sample, tmp_path):
    model, charts = sample
    write(tmp_path, "report/report.html",
          '{% extends "report/base.html" %}{% block body %}<h1>Short {{ model.facts.title }}</h1>'
          "<p>{{ model.facts.customers|count }} customers</p>{% endblock %}")
    html = render_html(model, charts, RenderSettings(templates=tmp_path)).decode("utf-8")
    assert f"<h1>Short {model.facts.title}</h1>" in html
    assert f"{model.facts.customers:,} customers" in html
    assert '<meta name="viewport"' in html and ".kpi {" in html


def test_a_user_report_can_extend_the_default_of_the_same_name(sample, tmp_path):
    model, charts = sample
    write(tmp_path, "report/report.html",
          '{% extends "default/report/report.html" %}{% block summary %}<section id="summary"><h1>Custom summary</h1></section>{% endblock %}')
    html = render_html(model, charts, RenderSettings(templates=tmp_path)).decode("utf-8")
    assert "Custom summary" in html and "What matters most" not in html
    assert 'id="recommendations"' in html


def test_a_user_stylesheet_replaces_the_default(sample, tmp_path):
    model, charts = sample
    write(tmp_path, "report/report.css", "body { color: #123456; }")
    html = render_html(model, charts, RenderSettings(templates=tmp_path)).decode("utf-8")
    assert "#123456" in html and ".kpi {" not in html


def test_asset_filter_embeds_template_files_and_nothing_outside(sample, tmp_path):
    model, charts = sample
    write(tmp_path, "report/brand.txt", "hello")
    write(tmp_path, "report/partials/cover.html", '<header id="cover"><a href="{{ "report/brand.txt"|asset }}">brand</a></header>')
    html = render_html(model, charts, RenderSettings(templates=tmp_path)).decode("utf-8")
    assert 'href="data:text/plain;base64,aGVsbG8="' in html
    write(tmp_path, "report/partials/cover.html", '<header id="cover">{{ "../../../../etc/passwd"|asset }}</header>')
    with pytest.raises(RenderError, match="not found in the template folders"):
        render_html(model, charts, RenderSettings(templates=tmp_path))


def test_a_user_stylesheet_cannot_close_the_style_element(sample, tmp_path):
    model, charts = sample
    path = write(tmp_path, "report/report.css", "body { color: red; } </STYLE><script>alert(1)</script>")
    with pytest.raises(ConfigError, match=re.escape(str(path))):
        render_html(model, charts, RenderSettings(templates=tmp_path))


def test_undefined_name_in_a_user_template_names_the_file_and_line(sample, tmp_path):
    model, charts = sample
    path = write(tmp_path, "report/partials/cover.html", "<header>\n<h1>{{ model.facts.title }}</h1>\n<p>{{ no_such_name }}</p>\n</header>")
    with pytest.raises(ConfigError, match=re.escape(f"{path}:3")) as info:
        render_html(model, charts, RenderSettings(templates=tmp_path))
    assert "no_such_name" in str(info.value)
    assert "\n" not in str(info.value)


def test_undefined_attribute_in_a_user_template_names_the_file(sample, tmp_path):
    model, charts = sample
    path = write(tmp_path, "report/partials/toc.html", "{{ model.facts.no_such_field }}")
    with pytest.raises(ConfigError, match=re.escape(str(path))):
        render_html(model, charts, RenderSettings(templates=tmp_path))


def test_syntax_error_names_the_file_and_line(sample, tmp_path):
    model, charts = sample
    path = write(tmp_path, "report/partials/summary.html", "<p>\n{% for x in %}\n</p>")
    with pytest.raises(ConfigError, match=re.escape(f"{path}:2")):
        render_html(model, charts, RenderSettings(templates=tmp_path))


def test_missing_template_names_it_and_the_including_file(sample, tmp_path):
    model, charts = sample
    path = write(tmp_path, "report/partials/summary.html", '{% include "report/partials/nowhere.html" %}')
    with pytest.raises(ConfigError, match="nowhere.html") as info:
        render_html(model, charts, RenderSettings(templates=tmp_path))
    assert str(path) in str(info.value)


def test_missing_templates_folder_is_a_config_error(sample, tmp_path):
    model, charts = sample
    with pytest.raises(ConfigError, match="templates folder not found"):
        render_html(model, charts, RenderSettings(templates=tmp_path / "absent"))


def test_missing_chart_is_named(sample):
    model, charts = sample
    partial = {k: v for k, v in charts.items() if k != "pca"}
    with pytest.raises(RenderError, match="charts missing for the report: pca"):
        render_html(model, partial, RenderSettings())


def test_context_is_the_documented_one(sample):
    model, charts = sample
    context = build_context(model, charts, RenderSettings(), media="print")
    assert set(context) == {"model", "charts", "css", "media", "headline_kpis", "portfolio_kpis", "template_roots"}
    assert [k.key for k in context["headline_kpis"]] == ["customers", "balance", "purchases", "payments", "utilisation"]
    assert "@page" in context["css"]
    with pytest.raises(RenderError, match="unknown media"):
        build_context(model, charts, RenderSettings(), media="tv")


@pytest.mark.slow
def test_real_file_html_names_every_segment_and_no_customer_id():
    path = real_data_path()
    if path is None:
        pytest.skip("real file not found: set REPORTGEN_REAL_DATA or place ../shared/data/CC GENERAL.csv")
    model, charts = real_report()
    html = render_html(model, charts, RenderSettings()).decode("utf-8")
    assert len(model.segments) == 5
    for segment in model.segments:  # descriptive names carry "&", escaped in HTML
        assert html_escape(segment.name, quote=False) in html
    assert not re.search(r"\bC1\d{4}\b", without_pictures(html))

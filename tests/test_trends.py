"""Trends and migration in the PDF, the deck and the HTML report, from six synthetic months.

Six months of 3,000 synthetic customers (seed 11) go through ``analyse`` and ``record_history``
like the monthly builds do; only the sixth month (history) and the first (none) are rendered.
"""

from __future__ import annotations

import dataclasses
import io
import re
import shutil
import subprocess
from datetime import datetime, timezone

import pytest
from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.chart import XL_CHART_TYPE
from pypdf import PdfReader
from test_charts import assert_text_placed, build_recording
from test_deck import assert_inside, assert_text_fits, slide_text
from test_pdf import outline_titles

from reportgen.api import analyse, record_history
from reportgen.config import load_settings
from reportgen.data.synth_files import write_synth
from reportgen.render import charts as charts_module
from reportgen.render.charts import build_charts
from reportgen.render.deck.presentation import render_pptx
from reportgen.render.html import render_html
from reportgen.render.pdf import render_pdf
from reportgen.render.settings import RenderSettings
from reportgen.report.formatting import month_short
from reportgen.report.story import describe_story
from reportgen.segmentation.model import save_model

STAMP = datetime(2026, 6, 30, 6, 0, tzinfo=timezone.utc)
MONTHS = tuple(f"2026-0{i}" for i in range(1, 7))
LOOK = shutil.which("pdftoppm") is not None


@pytest.fixture(scope="module")
def months(tmp_path_factory):
    """The six months' report models, each analysed with the history of the months before."""
    root = tmp_path_factory.mktemp("trends")
    files = [p for p in write_synth(3000, root / "data", seed=11, months=6) if p.name.startswith("customers-")]
    db = root / "history.duckdb"
    models = []
    for path in files:
        month = path.stem.removeprefix("customers-")
        result, model = analyse(path, month=month, history=db, generated_at=STAMP)
        record_history(db, result, model, save_model(result.model))
        models.append(model)
    assert tuple(m.facts.month for m in models) == MONTHS
    return models


@pytest.fixture(scope="module")
def sixth(months):
    """The sixth month's model and its charts, every drawn text recorded."""
    charts, texts = build_recording(months[-1])
    return months[-1], charts, texts


@pytest.fixture(scope="module")
def pdf(sixth):
    model, charts, _texts = sixth
    return render_pdf(model, charts, RenderSettings())


@pytest.fixture(scope="module")
def pages(pdf) -> list[str]:
    """Each page's text, whitespace collapsed."""
    return [" ".join((page.extract_text() or "").split()) for page in PdfReader(io.BytesIO(pdf)).pages]


@pytest.fixture(scope="module")
def deck_bytes(sixth):
    model, charts, _texts = sixth
    return render_pptx(model, charts, RenderSettings())


@pytest.fixture(scope="module")
def deck(deck_bytes):
    return Presentation(io.BytesIO(deck_bytes))


def largest_flow(migration):
    """(count, from, to) of the largest move between two different segments."""
    return max(
        (count, source, target)
        for source, row in zip(migration.names_from, migration.counts)
        for target, count in zip(migration.names_to, row)
        if source != target
    )


def slide_titled(prs, prefix: str):
    (slide,) = [s for s in prs.slides if s.shapes.title is not None and s.shapes.title.text.startswith(prefix)]
    return slide


def trend_pages(pages: list[str]) -> list[int]:
    """The pages whose running header names the section."""
    return [i for i, text in enumerate(pages) if "Report · June 2026 Trends and migration" in text]


# -- the model and the charts -------------------------------------------------------------------


def test_personas_keep_names_and_colours_in_every_month_and_in_the_trend(months, sixth):
    first = [(s.name, s.color) for s in months[0].segments]
    assert len(first) == 5
    for model in months[1:]:
        assert [(s.name, s.color) for s in model.segments] == first
        assert [(s.name, s.color) for s in model.history.series] == first
    model, _charts, _texts = sixth
    fig = charts_module.plot_trend(model)
    lines = fig.axes[0].get_lines()
    from matplotlib.colors import to_hex

    assert [to_hex(line.get_color()).upper() for line in lines] == [color.upper() for _name, color in first]
    for line, series in zip(lines, model.history.series):
        assert list(line.get_ydata()) == list(series.customers)


def test_history_charts_state_their_data(sixth):
    model, charts, _texts = sixth
    history, migration = model.history, model.history.migration
    assert {"trend", "migration"} <= set(charts)
    trend = charts["trend"].alt
    assert all(month_short(m) in trend for m in MONTHS)
    for series in history.series:
        assert f"{series.name} " + ", ".join(f"{v:,}" for v in series.customers) in trend
    count, source, target = largest_flow(migration)
    assert f"{source} to {target} {count:,}" in charts["migration"].alt
    assert f"{migration.moved:,} of {migration.customers_both:,} customers" in charts["migration"].alt


@pytest.mark.parametrize("key", ["trend", "migration"])
def test_history_charts_have_no_overlapping_text(sixth, key):
    _model, charts, texts = sixth
    assert charts[key].width_px == 1050
    assert_text_placed(key, texts[key])


def test_the_second_months_trend_has_no_overlapping_text(months):
    """Two months put the small panels' first and last month labels closest together ("Jan 2026"
    and "Feb 2026" printed over each other in every panel): they shorten until they fit."""
    _charts, texts = build_recording(months[1])
    assert_text_placed("trend", texts["trend"])
    labels = [text for text, *_ in texts["trend"]]
    assert labels.count("Jan") == labels.count("Feb") == len(months[1].history.series)


# -- PDF ----------------------------------------------------------------------------------------


def test_pdf_shows_the_six_months_and_the_migration_matrix(sixth, pages):
    model, _charts, _texts = sixth
    history, migration = model.history, model.history.migration
    section = " ".join(pages[i] for i in trend_pages(pages))
    assert section.startswith("Trends and migration")
    for number, month in enumerate(history.months):
        label = datetime.strptime(month, "%Y-%m").strftime("%B %Y")
        row = " ".join(f"{s.customers[number]:,}" for s in history.series)
        assert f"{label} {row} {history.portfolio_customers[number]:,}" in section, label
    for source, row in zip(migration.names_from, migration.counts):
        assert f"{source} " + " ".join(f"{v:,}" for v in row) + f" {sum(row):,}" in section
    totals = " ".join(f"{sum(column):,}" for column in zip(*migration.counts))
    assert f"Total {totals} {migration.customers_both:,}" in section
    for line in migration.highlights + migration.at_risk:
        assert line in section
    assert "At risk: for marketing and risk teams" in section


def test_pdf_lists_the_section_in_contents_and_bookmarks(pdf, pages):
    reader = PdfReader(io.BytesIO(pdf))
    titles = outline_titles(reader.outline)
    assert "Trends and migration" in titles
    assert "Segment sizes over time" in titles and "Migration since May 2026" in titles
    contents = pages[0]
    assert re.search(r"Segment overview \.+ \d+ Trends and migration \.+ \d+ Segment profiles", contents)


def test_pdf_summary_says_what_changed_on_one_page(sixth, pages):
    model, _charts, _texts = sixth
    (summary,) = [i for i, text in enumerate(pages) if text.startswith("Executive summary")]
    # what changed is among what matters most: the at-risk moves, ranked by money, come first
    assert "What matters most" in pages[summary]
    assert model.story.points[0] == model.changes[0]
    for line in model.story.points:
        assert line in pages[summary]
    assert pages[summary + 1].startswith("Segment overview")


def test_summary_with_eight_segments_and_changes_stays_on_one_page(months):
    _result, eight = analyse(settings=load_settings(k=8), month="2026-06", generated_at=STAMP)
    assert len(eight.segments) == 8
    eight = dataclasses.replace(eight, changes=tuple(
        f"{s.name}: {s.customers - 40:,} → {s.customers:,} customers (+{40 / s.customers:.0%}), the largest move "
        "this month, with more customers from Balanced Users than in any month before."
        for s in eight.segments[:6]))
    eight = dataclasses.replace(eight, story=describe_story(eight))
    pages = [" ".join((p.extract_text() or "").split())
             for p in PdfReader(io.BytesIO(render_pdf(eight, build_charts(eight), RenderSettings()))).pages]
    (summary,) = [i for i, text in enumerate(pages) if text.startswith("Executive summary")]
    assert "What matters most" in pages[summary] and "Recommended actions" in pages[summary]
    assert eight.changes[0] in pages[summary] and eight.changes[1] in pages[summary]
    assert pages[summary + 1].startswith("Segment overview")


# -- PowerPoint ---------------------------------------------------------------------------------


def test_deck_has_a_native_trend_line_chart_in_persona_colours(sixth, deck):
    model, _charts, _texts = sixth
    history = model.history
    slide = slide_titled(deck, "Trends")
    (chart,) = [shape.chart for shape in slide.shapes if shape.has_chart]
    assert chart.chart_type == XL_CHART_TYPE.LINE_MARKERS
    assert list(chart.plots[0].categories) == [month_short(m) for m in MONTHS]
    plotted = list(chart.plots[0].series)
    assert [s.name for s in plotted] == [s.name for s in history.series]
    for series, trend, segment in zip(plotted, history.series, model.segments):
        assert list(series.values) == list(trend.customers)
        assert series.format.line.color.rgb == RGBColor.from_string(segment.color.lstrip("#"))
        assert series.marker.format.fill.fore_color.rgb == RGBColor.from_string(segment.color.lstrip("#"))
    notes = slide.notes_slide.notes_text_frame.text
    for trend in history.series:
        assert f"{trend.name}: {trend.customers[0]:,} customers in Jan 2026, {trend.customers[-1]:,} now" in notes


def test_deck_migration_slides_have_the_heatmap_highlights_and_risk_callout(sixth, deck):
    model, _charts, _texts = sixth
    migration = model.history.migration
    # the migration heatmap is not a picture in the deck: the matrix is a native table (appendix)
    assert not [s for s in deck.slides if s.shapes.title is not None and s.shapes.title.text.startswith("Migration since")]
    slide = slide_titled(deck, "Migration: who moved, who is at risk")
    text = slide_text(slide)
    for line in migration.highlights + migration.at_risk:
        assert line in text
    assert "At risk: for marketing and risk" in text
    for segment in model.segments:
        if segment.persona_key in ("dormant", "revolvers"):
            assert f"{segment.name} \u2013 Marketing: {segment.actions[0]}" in text
    notes = slide.notes_slide.notes_text_frame.text
    assert all(line in notes for line in migration.highlights + migration.at_risk)
    assert "Marketing: " in notes and "Risk: " in notes
    table_slide = slide_titled(deck, "Appendix: migration matrix")
    (table,) = [s.table for s in table_slide.shapes if s.has_table]
    cells = [[cell.text_frame.text for cell in row.cells] for row in table.rows]
    for source, row in zip(migration.names_from, migration.counts):
        assert [source, *(f"{v:,}" for v in row), f"{sum(row):,}"] in cells
    assert cells[-1][-1] == f"{migration.customers_both:,}"


def test_deck_summary_says_what_changed_and_everything_fits(sixth, deck):
    model, _charts, _texts = sixth
    summary = slide_titled(deck, "Executive summary")
    text = slide_text(summary)
    assert "What matters most" in text
    assert all(line in text for line in model.story.points)
    assert "Trends and migration since last month" in slide_text(slide_titled(deck, "Agenda"))
    assert_inside(deck)
    assert_text_fits(deck)


# -- HTML ---------------------------------------------------------------------------------------


def test_html_has_the_section_with_both_charts(sixth):
    model, charts, _texts = sixth
    html = render_html(model, charts, RenderSettings()).decode("utf-8")
    assert '<section class="section trends" id="trends">' in html and 'href="#trends"' in html
    assert html.index('id="overview"') < html.index('id="trends"') < html.index('id="methodology"')
    for key in ("trend", "migration"):
        assert f'alt="{charts[key].alt}"'.replace("&", "&amp;") in html
    assert 'class="callout callout-risk"' in html


# -- the first month: no history ----------------------------------------------------------------


def test_first_month_renders_without_the_section(months):
    first = months[0]
    assert first.history is None and first.changes == ()
    charts = build_charts(first)
    assert "trend" not in charts and "migration" not in charts
    text = " ".join(" ".join((p.extract_text() or "") for p in PdfReader(
        io.BytesIO(render_pdf(first, charts, RenderSettings()))).pages).split())
    assert "Trends and migration" not in text and "What changed since last month" not in text
    html = render_html(first, charts, RenderSettings()).decode("utf-8")
    assert 'id="trends"' not in html and "<h2>What changed" not in html
    prs = Presentation(io.BytesIO(render_pptx(first, charts, RenderSettings())))
    titles = [s.shapes.title.text for s in prs.slides if s.shapes.title is not None]
    assert not any(t.startswith(("Trends", "Migration", "Appendix: migration")) for t in titles)
    assert "What changed" not in slide_text(slide_titled(prs, "Executive summary"))


# -- look at the pages and slides ---------------------------------------------------------------


def _ink(path) -> float:
    """The share of pixels clearly darker than white."""
    from PIL import Image

    image = Image.open(path).convert("L")
    return sum(image.point(lambda v: 255 if v < 200 else 0).histogram()[255:]) / (image.width * image.height)


@pytest.mark.skipif(not LOOK, reason="pdftoppm (poppler-utils) not installed: cannot look at the pages")
def test_trend_and_migration_pages_render_to_non_blank_pictures(pdf, pages, tmp_path):
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    numbers = [i + 1 for i in trend_pages(pages)]
    assert len(numbers) >= 2
    subprocess.run(["pdftoppm", "-r", "50", "-png", "-f", str(numbers[0]), "-l", str(numbers[-1]), str(path),
                    str(tmp_path / "page")], check=True, capture_output=True, timeout=120)
    pictures = sorted(tmp_path.glob("page-*.png"))
    assert len(pictures) == len(numbers)
    for picture in pictures:
        assert _ink(picture) > 0.03, f"{picture.name} is (nearly) blank"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("soffice") is None or not LOOK,
                    reason="LibreOffice (soffice) or poppler (pdftoppm) is not on PATH; cannot look at the slides")
def test_trend_and_migration_slides_render_in_libreoffice(deck_bytes, tmp_path, lo_profile):
    prs = Presentation(io.BytesIO(deck_bytes))
    keep = [n for n, s in enumerate(prs.slides) if s.shapes.title is not None
            and s.shapes.title.text.startswith(("Trends", "Migration", "Appendix: migration"))]
    assert len(keep) == 3  # trends, who moved, and the migration matrix
    ids = prs.slides._sldIdLst
    for number, slide_id in reversed(list(enumerate(ids))):
        if number not in keep:
            prs.part.drop_rel(slide_id.rId)
            ids.remove(slide_id)
    source = tmp_path / "trends.pptx"
    prs.save(source)
    subprocess.run(["soffice", f"-env:UserInstallation={lo_profile}", "--headless",
                    "--convert-to", "pdf", "--outdir", str(tmp_path), str(source)],
                   check=True, capture_output=True, timeout=300)
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(tmp_path / "trends.pdf"), str(tmp_path / "slide")],
                   check=True, capture_output=True, timeout=120)
    pictures = sorted(tmp_path.glob("slide-*.png"))
    assert len(pictures) == 3
    for picture in pictures:
        assert _ink(picture) > 0.03, f"{picture.name} renders blank"

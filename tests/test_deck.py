"""The PowerPoint deck: saved, reopened and checked as a file, then looked at through LibreOffice.

The bundled sample gives the model; chart pictures are drawn here with matplotlib (simple but real
PNGs) so the deck is tested on its own. A 4:3 test master with other layout names proves nothing
depends on the default master, and long persona names, eight segments and hostile text prove the
text is sized to its boxes.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import math
import re
import shutil
import subprocess
import zipfile
from datetime import datetime, timezone

import matplotlib
import pytest
from PIL import Image
from pptx import Presentation
from pptx.enum.chart import XL_CHART_TYPE
from pptx.enum.shapes import MSO_SHAPE_TYPE, PP_PLACEHOLDER
from pptx.util import Emu

from reportgen.errors import RenderError
from reportgen.render.deck.master import TEST_LAYOUT_NAMES, build_test_master
from reportgen.render.deck.presentation import render_pptx
from reportgen.render.deck.textfit import Para, fit_size
from reportgen.render.deck.textfit import slide_text as clean_text
from reportgen.render.settings import Chart, RenderSettings

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the non-interactive backend)
from conftest import SAMPLE, real_data_path  # noqa: E402

STAMP = datetime(2026, 11, 30, 6, 0, tzinfo=timezone.utc)
CHART_SHAPES = {"sizes": (8, 4.5), "k_evidence": (10, 4), "pca": (8, 6), "comparison": (9, 5),
                "profile_heat": (11, 5), "correlation": (7, 7)}
PALETTE = ("#0072B2", "#009E73", "#E69F00", "#999999", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442")
LONG_NAME = "Occasional big-ticket travellers who revolve their balances"  # 60 characters with the id


# -- fixtures -----------------------------------------------------------------------------------


@functools.cache
def _analyse(data=None, k=None):
    """The report model of ``data`` (default: the bundled sample) at STAMP; made once per arguments for the
    session (this module, test_deck_masters and test_colours share the sample's)."""
    from reportgen.api import analyse
    from reportgen.config import load_settings

    return analyse(data, settings=load_settings(k=k), month="2026-11", generated_at=STAMP)[1]


def draw_charts(model) -> dict[str, Chart]:
    """Simple real PNG pictures under the keys the chart module will provide."""
    charts = {}
    for key, (width, height) in CHART_SHAPES.items():
        fig, ax = plt.subplots(figsize=(width, height), dpi=60)
        if key == "pca":
            colours = [model.segments[s - 1].color for s in model.scatter.segment]
            ax.scatter(model.scatter.x, model.scatter.y, c=colours, s=3)
        elif key in ("profile_heat", "correlation"):
            ax.imshow([[row.z for row in s.profile] for s in model.segments], cmap="RdBu_r", aspect="auto")
        else:
            ax.bar(range(len(model.segments)), [s.customers for s in model.segments],
                   color=[s.color for s in model.segments])
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        plt.close(fig)
        charts[key] = Chart(key, key.replace("_", " "), f"{key} picture of {len(model.segments)} segments",
                            buffer.getvalue(), int(width * 60), int(height * 60))
    return charts


@pytest.fixture(scope="module")
def model():
    return _analyse()


@pytest.fixture(scope="module")
def charts(model):
    return draw_charts(model)


@pytest.fixture(scope="module")
def deck_bytes(model, charts) -> bytes:
    return render_pptx(model, charts, RenderSettings())


@pytest.fixture(scope="module")
def deck(deck_bytes):
    return Presentation(io.BytesIO(deck_bytes))


@pytest.fixture(scope="module")
def master43(tmp_path_factory):
    return build_test_master(tmp_path_factory.mktemp("master") / "corp43.pptx")


def eight_long_segments(model):
    """Eight segments with 60-character names (the sample's segments repeated, new colours)."""
    segments = []
    for number in range(8):
        base = model.segments[number % len(model.segments)]
        name = f"{number + 1} {LONG_NAME}"[:60]
        segments.append(dataclasses.replace(base, id=number + 1, name=name, color=PALETTE[number]))
    return dataclasses.replace(model, segments=tuple(segments))


# -- helpers ------------------------------------------------------------------------------------


def shape_texts(shapes):
    """Every piece of text in ``shapes`` (text frames, table cells, groups)."""
    for shape in shapes:
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            yield from shape_texts(shape.shapes)
        if shape.has_text_frame:
            yield shape.text_frame.text
        if getattr(shape, "has_table", False) and shape.has_table:
            for row in shape.table.rows:
                for cell in row.cells:
                    yield cell.text_frame.text


def slide_text(slide) -> str:
    return "\n".join(shape_texts(slide.shapes))


def all_text(prs) -> str:
    return "\n".join(slide_text(slide) for slide in prs.slides)


def charts_of(prs, chart_type):
    return [shape.chart for slide in prs.slides for shape in slide.shapes
            if shape.has_chart and shape.chart.chart_type == chart_type]


def sizes_chart(prs):
    """The segment-sizes bar chart (the segment slides' profile charts are bar charts too)."""
    (chart,) = [c for c in charts_of(prs, XL_CHART_TYPE.BAR_CLUSTERED) if c.plots[0].series[0].name == "Customers"]
    return chart


def assert_inside(prs):
    width, height = prs.slide_width, prs.slide_height
    for number, slide in enumerate(prs.slides, start=1):
        for shape in slide.shapes:
            rect = (shape.left, shape.top, shape.width, shape.height)
            assert None not in rect, (number, shape.name)
            left, top, w, h = rect
            assert left >= 0 and top >= 0 and left + w <= width and top + h <= height, (
                f"slide {number}: {shape.name} at {[round(Emu(v).inches, 2) for v in rect]} in "
                f"{Emu(width).inches:.2f} x {Emu(height).inches:.2f} in")


def assert_text_fits(prs, smallest=10.0):
    """Every run has an explicit size of at least ``smallest`` and each text box's text, measured
    crudely (0.5 em a character, 1.2 lines), fits the box: an independent check of the sizing."""
    for number, slide in enumerate(prs.slides, start=1):
        for shape in slide.shapes:
            frames = []
            if shape.has_text_frame and shape.text_frame.text.strip():
                frames.append((shape.text_frame, shape.width, shape.height))
            if shape.has_table:
                for row in shape.table.rows:
                    for column, cell in zip(shape.table.columns, row.cells):
                        frames.append((cell.text_frame, column.width, row.height))
            for frame, width, height in frames:
                needed = 0.0
                for paragraph in frame.paragraphs:
                    sizes = [run.font.size.pt for run in paragraph.runs if run.font.size is not None]
                    if not paragraph.runs or not paragraph.text.strip():
                        continue
                    if not sizes:  # the slide number field: sized by the master
                        continue
                    assert min(sizes) >= smallest, (number, shape.name, paragraph.text[:40], sizes)
                    size = max(sizes)
                    per_line = max(Emu(width).pt - 14, 1) / (0.5 * size)
                    needed += math.ceil(len(paragraph.text) / per_line) * 1.2 * size
                assert needed <= Emu(height).pt + 1, (number, shape.name, frame.text[:60], needed, Emu(height).pt)


# -- the deck on the default master -------------------------------------------------------------


def test_deck_has_slides_notes_and_numbers(deck, model):
    slides = list(deck.slides)
    assert len(slides) >= 10
    for number, slide in enumerate(slides, start=1):
        notes = slide.notes_slide.notes_text_frame.text if slide.has_notes_slide else ""
        assert len(notes.split()) >= 8, f"slide {number} has no narrative in its notes"
    numbered = [slide for slide in slides
                if any(ph.placeholder_format.type == PP_PLACEHOLDER.SLIDE_NUMBER for ph in slide.placeholders)]
    assert len(numbered) >= len(slides) - 2  # all but the cover and the section divider


def test_native_charts_embed_the_model_numbers(deck, model):
    sizes = sizes_chart(deck)
    plot = sizes.plots[0]
    assert list(plot.series[0].values) == [s.customers for s in model.segments]
    assert list(plot.categories) == [s.short_name for s in model.segments]  # full names in the notes
    fills = [str(point.format.fill.fore_color.rgb) for point in plot.series[0].points]
    assert fills == [s.color.lstrip("#").upper() for s in model.segments]

    (line,) = [c for c in charts_of(deck, XL_CHART_TYPE.LINE_MARKERS) if not c.has_title]  # k choice
    silhouette, stability = line.plots[0].series
    assert list(silhouette.values) == [row.silhouette for row in model.k_choice.rows]
    assert list(stability.values) == [row.stability for row in model.k_choice.rows]
    assert list(line.plots[0].categories) == [str(row.k) for row in model.k_choice.rows]

    (columns,) = charts_of(deck, XL_CHART_TYPE.COLUMN_CLUSTERED)
    for series, segment in zip(columns.plots[0].series, model.segments, strict=True):
        kpis = {k.key: k.value for k in segment.kpis}
        assert list(series.values) == [kpis["avg_balance"], kpis["avg_purchases"], kpis["avg_payments"]]
        assert str(series.format.fill.fore_color.rgb) == segment.color.lstrip("#").upper()

    for chart in (sizes, line, columns):  # editable: the data travels in an embedded workbook
        assert chart.part.chart_workbook.xlsx_part is not None


def test_every_segment_slide_has_the_same_grid_and_a_native_profile_chart(deck, model):
    slides = [slide for slide in deck.slides if slide.shapes.title is not None
              and slide.shapes.title.text in {s.name for s in model.segments}]
    assert len(slides) == len(model.segments)
    grids, sizes = set(), set()
    for slide, segment in zip(slides, model.segments, strict=True):
        (frame,) = [shape for shape in slide.shapes if shape.has_chart]
        values = list(frame.chart.plots[0].series[0].values)
        profile = {row.label: row for row in segment.profile}
        assert len(values) >= 5 and all(v >= 0 for v in values)
        assert any(abs(v - round(100 * r.mean / r.portfolio_mean, 1)) < 1e-9 for v in values for r in profile.values())
        text = max((shape for shape in slide.shapes if shape.has_text_frame and not shape.is_placeholder
                    or shape.is_placeholder and shape.placeholder_format.type in (2, 7)),
                   key=lambda shape: len(shape.text_frame.text))
        grids.add(((frame.left, frame.top, frame.width, frame.height), (text.left, text.top, text.width, text.height)))
        sizes.add(text.text_frame.paragraphs[0].runs[0].font.size)
    assert len(grids) == 1 and len(sizes) == 1


def test_long_names_are_shortened_by_one_rule():
    from reportgen.report.model import shorten_name

    assert shorten_name("Large one-off purchases & no instalments") == "Large one-off purchases\u2026"
    assert shorten_name("Revolvers") == "Revolvers"
    assert all(len(shorten_name(LONG_NAME + str(n))) <= 24 for n in range(3))


def test_segments_kpis_and_findings_appear(deck, model):
    text = all_text(deck)
    for segment in model.segments:
        assert segment.name in text
        titles = [slide.shapes.title.text for slide in deck.slides if slide.shapes.title is not None]
        assert segment.name in titles
    summary = next(slide for slide in deck.slides if slide.shapes.title and slide.shapes.title.text == "Executive summary")
    kpis = {k.key: k.display for k in model.kpis}
    for key in ("customers", "balance", "purchases", "payments", "utilisation"):
        assert kpis[key] in slide_text(summary)
    # the action-led story: situation, what matters most, the recommended actions
    for line in (model.story.situation, *model.story.points, *model.story.actions):
        assert " ".join(line.split()) in " ".join(slide_text(summary).split())
    assert model.facts.input_sha256 in text and model.facts.input_name in text


def test_recommendations_table_has_a_row_per_action(deck, model):
    tables = [shape.table for slide in deck.slides if slide.shapes.title and
              slide.shapes.title.text.startswith("Recommendations") for shape in slide.shapes if shape.has_table]
    rows = [row for table in tables for row in list(table.rows)[1:]]
    assert [c.text for c in list(tables[0].rows)[0].cells] == [
        "Segment", "Action and who is eligible", "Customers and money", "KPI and priority"]
    assert len(rows) == len(model.actions) > len(model.segments)
    for row, action in zip(rows, model.actions):
        assert action.segment in row.cells[0].text_frame.text
        assert action.text in row.cells[1].text_frame.text and action.rule in row.cells[1].text_frame.text
        assert f"{action.eligible:,} eligible" in row.cells[2].text_frame.text


def test_no_customer_id_anywhere_in_the_package(deck_bytes):
    ids = re.findall(r"^(C\d{5,})\b", SAMPLE.read_text(), flags=re.MULTILINE)
    assert len(ids) > 1000
    pattern = re.compile(r"\bC\d{5,}\b")
    with zipfile.ZipFile(io.BytesIO(deck_bytes)) as archive:
        for name in archive.namelist():
            data = archive.read(name)
            if name.endswith(".xlsx"):
                with zipfile.ZipFile(io.BytesIO(data)) as inner:
                    data = b"".join(inner.read(n) for n in inner.namelist())
            # colours are six hex digits (a shade such as C75765 is no customer id)
            text = re.sub(r'(?:val|lastClr)="[0-9A-F]{6}"', "", data.decode("utf-8", "ignore"))
            assert not pattern.search(text), name


def test_every_shape_lies_on_the_slide_and_text_fits(deck):
    assert_inside(deck)
    assert_text_fits(deck)


def test_the_deck_needs_no_picture_and_draws_the_overviews_natively(deck, model):
    """The customer map, the profiles and the evidence for k are native, so no text on them is set
    below 10 pt the way a page-sized picture shrunk onto a slide would be."""
    assert not [shape for slide in deck.slides for shape in slide.shapes if shape.shape_type == MSO_SHAPE_TYPE.PICTURE]
    (scatter,) = charts_of(deck, XL_CHART_TYPE.XY_SCATTER)
    from reportgen.render.deck.overview_charts import MAP_POINTS

    series = scatter.plots[0].series
    assert sum(v is not None for s in series for v in s.values) == min(len(model.scatter.x), MAP_POINTS)
    # LibreOffice draws nothing of a series shorter than the last one (unless the first is the longest):
    # every series of the map is as long as the longest, padded with empty points
    assert len({len(s.values) for s in series}) == 1
    assert all(v is not None for s in series for v in s.values[:1])
    assert [series.name for series in scatter.plots[0].series] == [s.name for s in model.segments]
    evidence = [c for c in charts_of(deck, XL_CHART_TYPE.LINE_MARKERS) if c.has_title]
    # inertia, Calinski-Harabasz, Davies-Bouldin: the silhouette is charted once, on the methodology slide
    assert [c.chart_title.text_frame.text.split(" (")[0] for c in evidence] == ["Inertia", "Calinski-Harabasz",
                                                                                "Davies-Bouldin"]
    series = [s.name for c in charts_of(deck, XL_CHART_TYPE.LINE_MARKERS) for s in c.plots[0].series]
    assert sum("silhouette" in name.lower() for name in series) == 1
    profiles = next(shape.table for slide in deck.slides for shape in slide.shapes
                    if shape.has_table and slide.shapes.title.text.startswith("Segment profiles"))
    assert len(profiles.rows) == len(model.segments) + 1
    # the profiles are indices of the portfolio (100 = portfolio), as in the report
    for segment, row in zip(model.segments, list(profiles.rows)[1:]):
        balance = next(p for p in segment.profile if p.feature == "BALANCE")
        assert row.cells[1].text_frame.text == f"{round(balance.index):,}"


def test_same_model_gives_the_same_bytes_and_fixed_properties(deck_bytes, deck, model, charts):
    assert render_pptx(model, charts, RenderSettings()) == deck_bytes
    core = deck.core_properties
    assert core.author == "reportgen" and core.revision == 1
    assert core.title == f"{model.facts.title} 2026-11"
    assert core.created == core.modified == core.last_printed == datetime(2026, 11, 30, 6, 0)
    assert "segmentation" in core.keywords and core.subject
    with zipfile.ZipFile(io.BytesIO(deck_bytes)) as archive:  # XlsxWriter would stamp "now"
        workbooks = [archive.read(n) for n in archive.namelist() if n.endswith(".xlsx")]
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    assert len(workbooks) >= 3
    for workbook in workbooks:
        with zipfile.ZipFile(io.BytesIO(workbook)) as inner:
            core_xml = inner.read("docProps/core.xml").decode()
        assert re.findall(r"W3CDTF\">([^<]+)<", core_xml) == ["2026-11-30T06:00:00Z"] * 2


def test_the_deck_renders_without_chart_pictures(model):
    assert render_pptx(model, {}, RenderSettings())[:2] == b"PK"


# -- other masters ------------------------------------------------------------------------------


def test_4x3_master_with_other_layout_names(model, charts, master43):
    prs = Presentation(io.BytesIO(render_pptx(model, charts, RenderSettings(pptx_template=master43))))
    assert (prs.slide_width, prs.slide_height) == (Emu(9144000), Emu(6858000))
    used = {slide.slide_layout.name for slide in prs.slides}
    assert used <= set(TEST_LAYOUT_NAMES.values()) and len(used) >= 4
    assert len(prs.slides) >= 10
    assert_inside(prs)
    assert_text_fits(prs)


def test_master_lacking_a_layout_names_the_missing_role(model, charts, tmp_path):
    lean = build_test_master(tmp_path / "lean.pptx", drop=("content",))
    with pytest.raises(RenderError, match=r"no layout for 'content'"):
        render_pptx(model, charts, RenderSettings(pptx_template=lean))


def test_layout_overrides_from_settings_are_used(model, charts, master43):
    settings = RenderSettings(pptx_template=master43, pptx_layouts=(("section", "Heading and Body"),))
    prs = Presentation(io.BytesIO(render_pptx(model, charts, settings)))
    appendix = next(slide for slide in prs.slides if slide.shapes.title and slide.shapes.title.text == "Appendix")
    assert appendix.slide_layout.name == "Heading and Body"


def test_slides_of_a_template_are_not_carried_over(model, charts, master43, tmp_path):
    prs = Presentation(str(master43))
    prs.slides.add_slide(prs.slide_layouts[0]).shapes.title.text = "Corporate sample slide"
    with_slide = tmp_path / "with-slide.pptx"
    prs.save(str(with_slide))
    deck = Presentation(io.BytesIO(render_pptx(model, charts, RenderSettings(pptx_template=with_slide))))
    assert "Corporate sample slide" not in all_text(deck)


# -- text that fights back ----------------------------------------------------------------------


@pytest.mark.parametrize("master", ["default", "4:3"])
def test_eight_segments_with_long_names_fit(model, master, master43):
    eight = eight_long_segments(model)
    settings = RenderSettings(pptx_template=master43 if master == "4:3" else None)
    prs = Presentation(io.BytesIO(render_pptx(eight, draw_charts(eight), settings)))
    assert_inside(prs)
    assert_text_fits(prs)
    text = all_text(prs)
    assert all(segment.name in text for segment in eight.segments)
    tables = [shape.table for slide in prs.slides if slide.shapes.title and
              slide.shapes.title.text.startswith("Recommendations") for shape in slide.shapes if shape.has_table]
    assert sum(len(table.rows) - 1 for table in tables) == len(eight.actions)
    sizes = {run.font.size.pt for table in tables for row in list(table.rows)[1:] for cell in row.cells
             for paragraph in cell.text_frame.paragraphs for run in paragraph.runs}
    assert min(sizes) >= 10


def test_hostile_text_renders_as_text(model, charts):
    word = "W" * 200
    name = f'Risky <b>& "Co"\x0b{word}'
    first = dataclasses.replace(model.segments[0], name=name,
                                description="Null\x00 byte, lone \ud800 surrogate, \ufffe and \uffff go; tab\tstays.")
    hostile = dataclasses.replace(model, segments=(first, *model.segments[1:]))
    prs = Presentation(io.BytesIO(render_pptx(hostile, charts, RenderSettings())))
    titles = [slide.shapes.title.text for slide in prs.slides if slide.shapes.title is not None]
    assert f'Risky <b>& "Co" {word}' in titles
    text = all_text(prs)
    assert "Null byte, lone  surrogate,  and  go; tab\tstays." in text
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", text)
    assert_inside(prs)


def test_clean_text_drops_what_xml_forbids():
    assert clean_text("a\x00b\x1fc\ud800d\ufffee\uffff") == "abcde"
    assert clean_text("keep\ttab\nand newline") == "keep\ttab\nand newline"
    assert clean_text("v\x0btab\x0cfeed\r\nline") == "v\ntab\nfeed\nline"
    assert clean_text("  many \n spaces\x0b ", single_line=True) == "many spaces"
    assert clean_text("emoji \U0001F600 stays") == "emoji \U0001F600 stays"


def test_font_size_shrinks_with_the_text_and_the_box():
    box = (Emu(3 * 914400), Emu(1 * 914400))
    short = fit_size([Para("Revolvers")], *box, 1.14, 28, 10)
    long = fit_size([Para("A persona name of sixty characters that needs more room too")], *box, 1.14, 28, 10)
    assert short == 28 and 10 <= long < short
    assert fit_size([Para("x" * 2000)], *box, 1.14, 28, 10) == 10


# -- LibreOffice: look at the slides ------------------------------------------------------------


#: LibreOffice's PDF export of the slides looked at only (a JSON filter option, LibreOffice 7.4+; an older one
#: exports every slide and pdftoppm still reads the first three): half the time of exporting the whole deck.
FIRST_SLIDES_PDF = 'pdf:impress_pdf_Export:{"PageRange":{"type":"string","value":"1-3"}}'


def _convert(pptx: bytes, folder, profile: str) -> list[Image.Image]:
    """Slides 1-3 of ``pptx`` as LibreOffice draws them (``profile``: the soffice user profile URI)."""
    source = folder / "deck.pptx"
    source.write_bytes(pptx)
    subprocess.run(["soffice", f"-env:UserInstallation={profile}", "--headless", "--convert-to", FIRST_SLIDES_PDF,
                    "--outdir", str(folder), str(source)], check=True, capture_output=True, timeout=300)
    pdf = folder / "deck.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    subprocess.run(["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "3", str(pdf), str(folder / "page")],
                   check=True, capture_output=True, timeout=120)
    return [Image.open(path).convert("L") for path in sorted(folder.glob("page-*.png"))]


def _ink(image: Image.Image) -> float:
    """The share of pixels that differ clearly from the page's most common shade."""
    histogram = image.histogram()
    background = max(range(256), key=histogram.__getitem__)
    return sum(n for shade, n in enumerate(histogram) if abs(shade - background) > 40) / sum(histogram)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("soffice") is None or shutil.which("pdftoppm") is None,
                    reason="LibreOffice (soffice) or poppler (pdftoppm) is not on PATH; cannot look at the slides")
@pytest.mark.parametrize("master", ["default", "4:3"])
def test_libreoffice_renders_the_first_slides(model, charts, deck_bytes, master, master43, tmp_path, lo_profile):
    pptx = deck_bytes if master == "default" else render_pptx(model, charts, RenderSettings(pptx_template=master43))
    pages = _convert(pptx, tmp_path, lo_profile)
    assert len(pages) == 3
    for number, page in enumerate(pages, start=1):
        assert _ink(page) > 0.01, f"slide {number} renders blank"


# -- the real file ------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(real_data_path() is None,
                    reason="real file not found: set REPORTGEN_REAL_DATA or place ../shared/data/CC GENERAL.csv")
def test_real_file_deck():
    real = _analyse(real_data_path(), k=5)
    prs = Presentation(io.BytesIO(render_pptx(real, draw_charts(real), RenderSettings())))
    assert len(prs.slides) >= 10
    sizes = sizes_chart(prs)
    assert list(sizes.plots[0].series[0].values) == [s.customers for s in real.segments]
    assert sum(any(shape.has_chart for shape in slide.shapes) for slide in prs.slides) >= 8
    assert sum(sizes.plots[0].series[0].values) == 8950
    assert all(s.name in all_text(prs) for s in real.segments)
    assert not re.search(r"\bC1\d{4}\b", all_text(prs))
    assert_inside(prs)
    assert_text_fits(prs)


def test_the_k_table_slide_says_why_this_k_below_the_table(deck, model):
    """The k table leaves half its slide free: the reason for k and the rule fill it, under the
    table, in the slide's content area."""
    slide = next(s for s in deck.slides if s.shapes.title and s.shapes.title.text == "Appendix: evidence for each k")
    table = next(shape for shape in slide.shapes if shape.has_table)
    text = next(shape for shape in slide.shapes if shape.has_text_frame and "Why this k" in shape.text_frame.text)
    words = " ".join(text.text_frame.text.split())
    assert f"{model.k_choice.reason}." in words
    assert " ".join(model.k_choice.rule.split()) in words
    assert text.top >= table.top + table.height
    assert text.top + text.height <= deck.slide_height and text.left >= table.left

"""The PDF report: the HTML templates with print CSS through WeasyPrint; text, metadata, bookmarks,
fonts, the URL fetcher's rules, hostile data, and a look at the pages as pictures."""

from __future__ import annotations

import io
import logging
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest
from conftest import real_data_path
from pypdf import PdfReader
from test_html import (  # one model and one set of charts for both formats
    LONG_WORD,
    hostile_model,
    real_report,
    sample_report,
    write,
)

from reportgen.errors import ConfigError, RenderError
from reportgen.render.pdf import render_pdf
from reportgen.render.settings import RenderSettings


def tiny_png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "#1f4e79").save(buffer, format="PNG")
    return buffer.getvalue()


def pdf_text(data: bytes) -> str:
    """All text of the PDF, whitespace collapsed (table cells wrap lines anywhere)."""
    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join(page.extract_text() or "" for page in reader.pages).split())


def outline_titles(outline) -> list[str]:
    titles = []
    for item in outline:
        titles.extend(outline_titles(item) if isinstance(item, list) else [item.title])
    return titles


@pytest.fixture(scope="module")
def sample():
    return sample_report()


@pytest.fixture(scope="module")
def pdf(sample):
    model, charts = sample
    return render_pdf(model, charts, RenderSettings())


@pytest.fixture(scope="module")
def reader(pdf):
    return PdfReader(io.BytesIO(pdf))


@pytest.fixture(scope="module")
def text(pdf):
    return pdf_text(pdf)


def test_pdf_is_a4_with_one_page_per_segment(reader, sample):
    model, _charts = sample
    assert len(reader.pages) >= 8 + len(model.segments)
    box = reader.pages[0].mediabox
    assert (round(float(box.width) * 25.4 / 72), round(float(box.height) * 25.4 / 72)) == (210, 297)


def test_text_names_every_segment_and_its_recommendations(text, sample):
    model, _charts = sample
    for segment in model.segments:
        assert segment.name in text
        assert " ".join(segment.actions[0].split()) in text
    assert "Action and who is eligible" in text and "Recommended actions" in text
    for line in (model.story.situation, *model.story.points):
        assert " ".join(line.split()) in text
    assert "Page 3 of " in text
    assert "Customer Segmentation Report · November 2026" in text  # the running header


def test_no_customer_id_in_the_pdf(text):
    assert not re.search(r"\bC1\d{4}\b", text)


def test_metadata_is_set_and_deterministic(reader):
    meta = reader.metadata
    assert meta.title == "Customer Segmentation Report — November 2026"
    assert meta.author == "reportgen"
    assert "segmentation" in meta.subject
    assert "customer segmentation" in meta["/Keywords"]
    assert meta["/CreationDate"].startswith("D:20261126222000")
    assert meta["/ModDate"] == meta["/CreationDate"]


def test_same_model_gives_the_same_bytes(sample, pdf):
    model, charts = sample
    assert render_pdf(model, charts, RenderSettings()) == pdf


def test_charts_are_embedded_as_the_jpeg_pictures(sample, reader):
    """Every chart is in the PDF once, as the chart's JPEG bytes unchanged (DCTDecode)."""
    _model, charts = sample
    streams = {
        image.indirect_reference.idnum: image.indirect_reference.get_object()
        for page in reader.pages for image in page.images
    }
    assert {s["/Filter"] for s in streams.values()} == {"/DCTDecode"}
    wanted = {chart.jpeg for chart in charts.values() if chart.jpeg}
    assert wanted and wanted == {s._data for s in streams.values()}


def test_pdf_is_tagged_pdf_ua(reader):
    root = reader.trailer["/Root"]
    assert "/StructTreeRoot" in root
    assert bool(root["/MarkInfo"]["/Marked"])
    assert root["/Lang"] == "en"
    assert bool(root["/ViewerPreferences"]["/DisplayDocTitle"])
    xmp = ET.fromstring(root["/Metadata"].get_object().get_data())
    parts = [v for e in xmp.iter() for k, v in e.attrib.items() if k.endswith("}part")]
    assert parts == ["1"]


def test_bookmarks_follow_the_headings(reader, sample):
    model, _charts = sample
    titles = outline_titles(reader.outline)
    for title in ("Contents", "Executive summary", "Segment overview", "How the segments were made",
                  "Segment profiles", "Recommendations", "Appendix", "Data dictionary", "Run facts"):
        assert title in titles
    for segment in model.segments:
        assert segment.name in titles
    top = [item.title for item in reader.outline if not isinstance(item, list)]
    assert "Executive summary" in top and model.segments[0].name not in top


def test_contents_links_to_the_sections(reader):
    links = [a.get_object() for a in reader.pages[0].get("/Annots", []) if a.get_object()["/Subtype"] == "/Link"]
    assert len(links) >= 7
    assert all("/Dest" in link or link["/A"]["/S"] == "/GoTo" for link in links)


def test_fonts_are_embedded(reader, pdf, tmp_path):
    fonts = {}
    for page in reader.pages:
        for font in page["/Resources"].get("/Font", {}).values():
            font = font.get_object()
            descriptor = (font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font)["/FontDescriptor"]
            fonts[font["/BaseFont"]] = any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))
    assert fonts and all(fonts.values()), fonts
    if shutil.which("pdffonts"):
        path = tmp_path / "report.pdf"
        path.write_bytes(pdf)
        rows = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout.splitlines()[2:]
        assert rows and all(row.split()[-5] == "yes" for row in rows), rows


def test_bundled_templates_use_only_css_weasyprint_understands(sample, caplog):
    model, charts = sample
    with caplog.at_level(logging.DEBUG, logger="reportgen.render.pdf"):
        render_pdf(model, charts, RenderSettings())
    assert [r.getMessage() for r in caplog.records if r.name == "reportgen.render.pdf"] == []


def test_weasyprint_logging_is_quiet_and_restored(sample, caplog):
    model, charts = sample
    weasy = logging.getLogger("weasyprint")
    before = (weasy.level, weasy.propagate, list(weasy.handlers))
    with caplog.at_level(logging.DEBUG):
        render_pdf(model, charts, RenderSettings())
    assert not [r for r in caplog.records if r.name.startswith("weasyprint")]
    assert (weasy.level, weasy.propagate, list(weasy.handlers)) == before


def test_hostile_playbook_texts_are_literal_text_and_keep_the_layout(sample, tmp_path):
    model, charts = sample
    data = render_pdf(hostile_model(model), charts, RenderSettings())
    text = pdf_text(data)
    assert "<script>alert(1)</script> & Co" in text
    assert "<b>bold</b>" in text
    assert LONG_WORD[:40] in text.replace(" ", "")
    if shutil.which("pdftotext"):
        # Every word stays inside the page: the 200-character word wraps instead of running off.
        path = tmp_path / "hostile.pdf"
        path.write_bytes(data)
        out = subprocess.run(["pdftotext", "-bbox", str(path), "-"], capture_output=True, text=True, check=True).stdout
        pages = re.findall(r'<page width="([\d.]+)"', out)
        x_max = max(float(v) for v in re.findall(r'xMax="([\d.]+)"', out))
        assert x_max <= float(pages[0]) - 30, "text runs into the right margin"


def test_http_resource_in_a_user_template_fails_the_build(sample, tmp_path):
    model, charts = sample
    write(tmp_path, "report/partials/cover.html", '<header id="cover"><img src="http://example.com/x.png" alt="logo"></header>')
    with pytest.raises(RenderError, match=re.escape("http://example.com/x.png")):
        render_pdf(model, charts, RenderSettings(templates=tmp_path))


def test_file_outside_the_template_folders_fails_the_build(sample, tmp_path):
    model, charts = sample
    write(tmp_path, "report/partials/cover.html", '<header id="cover"><img src="file:///etc/passwd" alt="x"></header>')
    with pytest.raises(RenderError, match=re.escape("file:///etc/passwd")):
        render_pdf(model, charts, RenderSettings(templates=tmp_path))


def test_stylesheet_url_outside_the_folders_fails_the_build(sample, tmp_path):
    model, charts = sample
    write(tmp_path, "report/print.css", 'body { background-image: url("https://example.com/evil.png"); }')
    with pytest.raises(RenderError, match=re.escape("https://example.com/evil.png")):
        render_pdf(model, charts, RenderSettings(templates=tmp_path))


def test_symlink_out_of_the_template_folder_fails_the_build(sample, tmp_path):
    model, charts = sample
    outside = tmp_path / "outside.png"
    outside.write_bytes(tiny_png())
    (tmp_path / "templates" / "report").mkdir(parents=True)
    (tmp_path / "templates" / "report" / "logo.png").symlink_to(outside)
    write(tmp_path / "templates", "report/partials/cover.html", '<header id="cover"><img src="report/logo.png" alt="logo"></header>')
    with pytest.raises(RenderError, match="blocked resource URL.*logo.png"):
        render_pdf(model, charts, RenderSettings(templates=tmp_path / "templates"))


def test_only_this_builds_charts_are_served_by_the_chart_scheme(sample, tmp_path):
    model, charts = sample
    write(tmp_path, "report/partials/cover.html", '<header id="cover"><img src="reportgen-chart:nope" alt="x"></header>')
    with pytest.raises(RenderError, match="reportgen-chart:nope"):
        render_pdf(model, charts, RenderSettings(templates=tmp_path))


def test_files_inside_the_template_folder_are_served(sample, tmp_path):
    model, charts = sample
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "logo.png").write_bytes(tiny_png())
    write(tmp_path, "report/partials/cover.html",
          '<header id="cover"><img src="report/logo.png" alt="Acme logo"><h1 class="cover-title">Acme</h1></header>')
    data = render_pdf(model, charts, RenderSettings(templates=tmp_path))
    assert "Acme" in pdf_text(data)


def test_undefined_name_in_a_user_template_fails_naming_it(sample, tmp_path):
    model, charts = sample
    path = write(tmp_path, "report/partials/appendix.html", "<section>\n{{ model.facts.no_such_field }}\n</section>")
    with pytest.raises(ConfigError, match=re.escape(f"{path}:2")):
        render_pdf(model, charts, RenderSettings(templates=tmp_path))


def test_first_pages_render_to_non_blank_pictures(pdf, tmp_path):
    if not shutil.which("pdftoppm"):
        pytest.skip("pdftoppm (poppler-utils) not installed: cannot look at the pages")
    from PIL import Image, ImageStat

    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(path), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == len(PdfReader(io.BytesIO(pdf)).pages)
    for number, picture in enumerate(pages, start=1):
        image = Image.open(picture).convert("L")
        assert abs(image.width - 413) <= 1 and abs(image.height - 585) <= 1  # A4 at 50 dpi
        ink = sum(image.point(lambda v: 255 if v < 200 else 0).histogram()[255:]) / (image.width * image.height)
        assert ink > (0.05 if number == 1 else 0.005), f"page {number} is (nearly) blank: {ink:.4f} ink"
        assert ImageStat.Stat(image).stddev[0] > 10


def empty_fraction(image, *, gap: int = 20) -> float:
    """The share of a page picture's height in blank bands of at least ``gap`` pixel rows (20 rows at
    50 dpi: 10 mm), the margins included: the space between lines of text does not count as empty."""
    width, height = image.size
    pixels = image.load()
    blank_rows = [all(pixels[x, y] >= 235 for x in range(0, width, 2)) for y in range(height)]
    empty, run = 0, 0
    for blank in [*blank_rows, False]:
        if blank:
            run += 1
            continue
        empty += run if run >= gap else 0
        run = 0
    return empty / height


def test_no_page_is_more_than_a_third_empty(pdf, tmp_path):
    """Half-empty pages (a segment's actions spilling over, a chart alone on its page) read as
    unfinished: every page but the last is at most a third blank, margins included, and no chart
    picture appears twice."""
    if not shutil.which("pdftoppm"):
        pytest.skip("pdftoppm (poppler-utils) not installed: cannot look at the pages")
    from PIL import Image

    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "50", "-gray", "-png", str(path), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    empty = {number: empty_fraction(Image.open(picture).convert("L")) for number, picture in enumerate(pages, start=1)}
    too_empty = {n: round(f, 2) for n, f in empty.items() if f > 1 / 3 and n < len(pages)}
    assert not too_empty, f"pages more than a third empty (page: blank share): {too_empty}"
    reader = PdfReader(io.BytesIO(pdf))  # which picture each page draws (its content stream's "/name Do")
    drawn = [name for page in reader.pages for name in re.findall(rb"/(\S+) Do", page.get_contents().get_data())]
    assert len(drawn) == len(set(drawn)) >= 6, "a chart picture is drawn twice"


def test_empty_fraction_counts_blank_bands_not_line_spacing():
    from PIL import Image, ImageDraw

    page = Image.new("L", (100, 300), 255)
    draw = ImageDraw.Draw(page)
    for y in range(0, 150, 10):  # text lines 5 rows high, 5-row gaps: none of it is empty
        draw.rectangle((10, y, 90, y + 4), fill=0)
    assert empty_fraction(page) == pytest.approx(155 / 300)  # below the last line: one blank band
    assert empty_fraction(Image.new("L", (100, 300), 255)) == 1.0


@pytest.fixture(scope="module")
def real_pdf():
    path = real_data_path()
    if path is None:
        pytest.skip("real file not found: set REPORTGEN_REAL_DATA or place ../shared/data/CC GENERAL.csv")
    model, charts = real_report()
    return model, render_pdf(model, charts, RenderSettings())


@pytest.mark.slow
def test_real_file_pdf(real_pdf):
    model, data = real_pdf
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) >= 10
    text = pdf_text(data)
    assert len(model.segments) == 5
    for segment in model.segments:
        assert segment.name in text
        assert " ".join(segment.actions[0].split()) in text
    assert "Action and who is eligible" in text and "Recommended actions" in text
    assert not re.search(r"\bC1\d{4}\b", text) and "C10001" not in text
    assert reader.metadata.title and reader.metadata.author == "reportgen"
    titles = outline_titles(reader.outline)
    assert all(s.name in titles for s in model.segments)


def recommendation_pages(data: bytes) -> list[str]:
    """The text of each page that holds part of the Recommendations table (its header repeats)."""
    reader = PdfReader(io.BytesIO(data))
    pages = [" ".join(page.extract_text().split()) for page in reader.pages]
    return [t for t in pages if "Eligible (control)" in t]


@pytest.mark.slow
def test_every_page_of_the_recommendations_names_the_segment_of_its_first_action(real_pdf):
    """A segment's actions stay on one page with its name: a row continued on the next page
    without its segment (a cell spanning rows stays where it started) cannot be read."""
    model, data = real_pdf
    pages = recommendation_pages(data)
    assert len(pages) >= 2  # the real file's table spans pages: the case at stake
    header = "KPI, priority, channel"
    for text in pages:
        start = text.index(header) + len(header)
        first_row = text[start: text.index("Eligible:", start)]
        assert any(s.name in first_row for s in model.segments), first_row

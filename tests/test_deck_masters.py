"""Decks on corporate masters that broke them: a corner logo on the master, a "Title Slide" without a
title placeholder (prompt-text placeholders and a logo instead), 0.3"-high placeholders (a Google-Slides
export), a .potx with edge-to-edge titles, a 4:3 master with a logo; and one that cannot hold the deck.

Each master is built here with python-pptx (``deck_masters``); each deck is checked automatically
(``deck_checks``): no shape the deck adds overlaps a master or layout graphic, none leaves the slide,
no text under 10 pt, no text boxes on top of each other, no placeholder left empty (prompt text).
``reportgen check-template`` reports each master's problems with the documented exit status.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys

import pytest
from deck_checks import check
from deck_masters import MASTERS, big_logo
from pptx import Presentation
from test_deck import _analyse, _convert, _ink, draw_charts

from reportgen.errors import RenderError
from reportgen.render.deck.presentation import render_pptx
from reportgen.render.deck.template_check import check_master_for_build, check_template
from reportgen.render.settings import RenderSettings


@pytest.fixture(scope="module")
def model():
    return _analyse()


@pytest.fixture(scope="module")
def charts(model):
    return draw_charts(model)


@pytest.fixture(scope="module")
def masters(tmp_path_factory):
    folder = tmp_path_factory.mktemp("masters")
    paths = {}
    for name, (build, suffix) in MASTERS.items():
        paths[name] = folder / f"{name}{suffix}"
        build(paths[name])
    return paths


@pytest.fixture(scope="module")
def decks(model, charts, masters):
    return {name: render_pptx(model, charts, RenderSettings(pptx_template=path)) for name, path in masters.items()}


@pytest.mark.parametrize("name", list(MASTERS))
def test_deck_keeps_clear_of_master_graphics_and_readable(decks, name):
    counts, problems = check(Presentation(io.BytesIO(decks[name])))
    assert counts["slides"] >= 15
    for key in ("graphic_overlap", "off_slide", "small_text", "text_overlap", "empty_placeholder", "edge_to_edge"):
        assert counts[key] == 0, f"{name}: {key}: " + "; ".join(problems[:5])


def test_checker_finds_what_the_old_layout_did(masters):
    """The checks can fail: a text box dropped on the corner logo is found."""
    prs = Presentation(io.BytesIO(masters["corner_logo"].read_bytes()))
    slide = prs.slides.add_slide(prs.slide_layouts[1])
    box = slide.shapes.add_textbox(prs.slide_width - 2_000_000, prs.slide_height - 900_000, 1_800_000, 800_000)
    box.text_frame.text = "covers the logo"
    box.text_frame.paragraphs[0].runs[0].font.size = 8 * 12700
    counts, _problems = check(prs)
    assert counts["graphic_overlap"] >= 1 and counts["small_text"] == 1 and counts["empty_placeholder"] >= 1


def test_title_slide_without_title_placeholder_is_not_the_cover(decks):
    prs = Presentation(io.BytesIO(decks["title_noph"]))
    cover = prs.slides[0]
    assert cover.slide_layout.name != "Title Slide"
    text = "\n".join(s.text_frame.text for s in cover.shapes if s.has_text_frame)
    assert "Segmentation" in text and "No more than two lines" not in text and "Subtitle goes here" not in text


def test_tiny_placeholders_are_not_used_for_content(decks):
    """Google-Slides 0.3" bodies: the agenda and summary text sit in boxes of usable height."""
    prs = Presentation(io.BytesIO(decks["gslides"]))
    for slide in list(prs.slides)[1:3]:
        heights = [s.height for s in slide.shapes if s.has_text_frame and len(s.text_frame.text) > 80]
        assert heights and min(heights) > 914400, slide.shapes.title.text_frame.text  # over an inch


def test_potx_content_keeps_the_masters_margins(decks):
    prs = Presentation(io.BytesIO(decks["potx"]))
    margin = prs.slide_width * 0.04
    for slide in prs.slides:
        for shape in slide.shapes:
            if shape.has_table or getattr(shape, "has_chart", False) and shape.has_chart:
                assert shape.left >= margin and shape.left + shape.width <= prs.slide_width - margin


def test_master_without_room_fails_up_front_naming_the_layout(tmp_path):
    path = tmp_path / "watermark.pptx"
    big_logo(path)
    report = check_template(path)
    assert report.errors and any("'Title and Content'" in p.message for p in report.errors)
    with pytest.raises(RenderError, match="cannot hold the deck.*'Title and Content'.*room for content"):
        check_master_for_build(path)


def _check_template(path, *extra):
    return subprocess.run([sys.executable, "-m", "reportgen", "check-template", str(path), *extra],
                          capture_output=True, text=True, timeout=120)


def test_check_template_reports_problems_and_exit_status(masters, tmp_path):
    corner = _check_template(masters["corner_logo"])
    assert corner.returncode == 0, corner.stderr
    assert "content" in corner.stdout and "'Corner Logo' (master) overlaps the body placeholder" in corner.stdout
    assert _check_template(masters["corner_logo"], "--strict").returncode == 5
    tiny = _check_template(masters["gslides"])
    assert "body placeholder 9.00 x 0.30 in is too small" in tiny.stdout
    cover = _check_template(masters["title_noph"])
    assert "the cover uses layout 'Section Header'" in cover.stdout
    big_logo(tmp_path / "watermark.pptx")
    failed = _check_template(tmp_path / "watermark.pptx")
    assert failed.returncode == 5 and "error: layout 'Title and Content'" in failed.stdout
    missing = _check_template(tmp_path / "nope.potx")
    assert missing.returncode == 5 and "not found" in missing.stdout


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("soffice") is None or shutil.which("pdftoppm") is None,
                    reason="LibreOffice (soffice) or poppler (pdftoppm) is not on PATH; cannot look at the slides")
@pytest.mark.parametrize("name", list(MASTERS))
def test_libreoffice_renders_the_first_slides_of_each_master(decks, name, tmp_path, lo_profile):
    pages = _convert(decks[name], tmp_path, lo_profile)
    assert len(pages) == 3
    for number, page in enumerate(pages, start=1):
        assert _ink(page) > 0.01, f"{name}: slide {number} renders blank"

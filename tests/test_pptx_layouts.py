"""Layouts and placeholders are found by name or type in any master, never by index.

Two masters are used: the project's default (16:9, standard layout names) and a test master built
from a different recipe (4:3, unfamiliar names, custom layout types, another theme).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from lxml import etree
from pptx import Presentation
from pptx.enum.shapes import PP_PLACEHOLDER
from pptx.oxml.ns import qn
from pptx.util import Emu, Inches

from reportgen.errors import RenderError
from reportgen.render.deck.layouts import (
    REQUIRED_ROLES,
    ROLES,
    body_placeholders,
    build_test_master,
    content_area,
    find_layouts,
    load_presentation,
    subtitle_placeholder,
    title_placeholder,
)
from reportgen.render.deck.master import (
    SOURCE_LAYOUTS,
    TEST_LAYOUT_NAMES,
    SLIDE_SIZE_16x9,
    build_default_master,
)

MASTER = Path(__file__).resolve().parent.parent / "templates" / "pptx" / "master.pptx"


@pytest.fixture(scope="module")
def masters(tmp_path_factory) -> dict[str, Path]:
    """The committed default master and a freshly built 4:3 test master."""
    folder = tmp_path_factory.mktemp("masters")
    return {"default": MASTER, "test43": build_test_master(folder / "corp.pptx")}


def _layout_names(path: Path) -> dict[str, str]:
    return {role: layout.name for role, layout in find_layouts(load_presentation(path)).items()}


def _slide(path: Path, role: str):
    prs = load_presentation(path)
    return prs, prs.slides.add_slide(find_layouts(prs)[role])


def _inside(rect, prs) -> bool:
    left, top, width, height = rect
    return (left >= 0 and top >= 0 and width > 0 and height > 0
            and left + width <= prs.slide_width and top + height <= prs.slide_height)


# -- the default master -------------------------------------------------------------------------


def test_default_master_is_small_16x9_with_the_six_layouts():
    prs = Presentation(str(MASTER))
    assert MASTER.stat().st_size < 100_000
    assert (prs.slide_width, prs.slide_height) == SLIDE_SIZE_16x9
    assert [layout.name for layout in prs.slide_layouts] == list(SOURCE_LAYOUTS.values())


def test_default_master_shapes_all_fit_on_the_slide():
    prs = Presentation(str(MASTER))
    for owner in (prs.slide_master, *prs.slide_layouts):
        for shape in owner.shapes:
            rect = (shape.left, shape.top, shape.width, shape.height)
            assert _inside(rect, prs), f"{owner.name}: {shape.name} hangs off the slide"


def test_default_master_theme_is_navy_calibri():
    prs = Presentation(str(MASTER))
    theme = etree.fromstring(prs.slide_master.part.part_related_by(
        "http://schemas.openxmlformats.org/officeDocument/2006/relationships/theme").blob)
    assert theme.find(f".//{qn('a:dk2')}/{qn('a:srgbClr')}").get("val") == "1F2A44"
    assert theme.find(f".//{qn('a:majorFont')}/{qn('a:latin')}").get("typeface") == "Calibri"


def test_build_default_master_is_reproducible(tmp_path):
    first = build_default_master(tmp_path / "a.pptx").read_bytes()
    assert build_default_master(tmp_path / "b.pptx").read_bytes() == first
    assert not list(tmp_path.glob(".*.tmp"))


def test_removed_layouts_leave_no_parts_behind():
    with zipfile.ZipFile(MASTER) as archive:
        layouts = [name for name in archive.namelist() if re.fullmatch(r"ppt/slideLayouts/[^/]+\.xml", name)]
    assert len(layouts) == len(SOURCE_LAYOUTS)


# -- finding layouts ----------------------------------------------------------------------------


def test_every_role_found_by_name_in_default_master():
    assert _layout_names(MASTER) == SOURCE_LAYOUTS


def test_every_role_found_by_type_in_renamed_4x3_master(masters):
    prs = load_presentation(masters["test43"])
    assert (prs.slide_width, prs.slide_height) == (Inches(10), Inches(7.5))
    assert _layout_names(masters["test43"]) == TEST_LAYOUT_NAMES


def test_placeholder_order_and_idx_do_not_matter(tmp_path):
    path = build_test_master(tmp_path / "shuffled.pptx")
    prs = Presentation(str(path))
    for layout in prs.slide_layouts:  # reverse the shapes and renumber every body's idx
        tree = layout._element.cSld.spTree
        shapes = list(tree.iterchildren(qn("p:sp")))
        for number, sp in enumerate(reversed(shapes)):
            tree.remove(sp)
            tree.append(sp)
            if sp.ph.get("type") in (None, "body", "subTitle"):
                sp.ph.set("idx", str(40 + number))
    prs.save(str(path))
    assert _layout_names(path) == TEST_LAYOUT_NAMES


def test_overrides_win_and_match_names_case_insensitively(masters):
    prs = load_presentation(masters["test43"])
    layouts = find_layouts(prs, {"content": "photo page", "blank": "Heading Only"})
    assert layouts["content"].name == "Photo Page"
    assert layouts["blank"].name == "Heading Only"
    assert layouts["title"].name == "Cover Page"


def test_override_with_unknown_role_lists_valid_roles(masters):
    prs = load_presentation(masters["test43"])
    with pytest.raises(RenderError, match="unknown layout role 'chart'.*title, content, section"):
        find_layouts(prs, {"chart": "Heading and Body"}, source="corp.pptx")


def test_override_with_unknown_layout_lists_present_layouts(masters):
    prs = load_presentation(masters["test43"])
    with pytest.raises(RenderError, match=r"^corp\.pptx: layout 'Agenda' .*'Cover Page', 'Heading and Body'"):
        find_layouts(prs, {"content": "Agenda"}, source="corp.pptx")


def test_optional_roles_fall_back(tmp_path):
    path = build_test_master(tmp_path / "lean.pptx", drop=("section", "two_content"))
    names = _layout_names(path)
    assert names["section"] == names["content"] == "Heading and Body"
    assert names["two_content"] == names["title_only"] == "Heading Only"


def test_missing_content_layout_is_one_clear_line(tmp_path):
    path = build_test_master(tmp_path / "corp.pptx", drop=("content",))
    with pytest.raises(RenderError) as caught:
        find_layouts(load_presentation(path), source=path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: no layout for 'content' (looked for a layout named 'Title and Content'")
    assert "one with a title and one body placeholder" in message
    assert message.endswith("layouts present: 'Cover Page', 'Chapter', 'Side by Side', "
                            "'Heading Only', 'Empty', 'Photo Page'")


def test_every_missing_required_role_is_named(tmp_path):
    path = build_test_master(tmp_path / "corp.pptx", drop=("content", "blank"))
    with pytest.raises(RenderError, match="no layout for 'content'.*; no layout for 'blank'"):
        find_layouts(load_presentation(path), source=path)
    assert set(REQUIRED_ROLES) <= set(ROLES)


# -- loading ------------------------------------------------------------------------------------


def _not_pptx(folder: Path) -> dict[str, Path]:
    text = folder / "notes.pptx"
    text.write_text("not a presentation\n")
    other_zip = folder / "archive.pptx"
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("hello.txt", "hi")
    truncated = folder / "truncated.pptx"
    truncated.write_bytes(MASTER.read_bytes()[: MASTER.stat().st_size // 2])
    return {"text": text, "zip": other_zip, "truncated": truncated, "missing": folder / "gone.pptx"}


@pytest.mark.parametrize("kind", ["text", "zip", "truncated", "missing"])
def test_unreadable_files_raise_render_error_naming_the_file(tmp_path, kind):
    path = _not_pptx(tmp_path)[kind]
    with pytest.raises(RenderError) as caught:
        load_presentation(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert "\n" not in str(caught.value)


def test_potx_template_opens(tmp_path):
    potx = tmp_path / "corp.potx"
    with zipfile.ZipFile(MASTER) as src, zipfile.ZipFile(potx, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "[Content_Types].xml":
                data = data.replace(b"presentation.main+xml", b"template.main+xml")
            dst.writestr(info, data)
    assert _layout_names(potx) == SOURCE_LAYOUTS


# -- placeholders and content area --------------------------------------------------------------


@pytest.mark.parametrize("master", ["default", "test43"])
def test_placeholders_found_by_type(masters, master):
    _, cover = _slide(masters[master], "title")
    assert title_placeholder(cover).placeholder_format.type == PP_PLACEHOLDER.CENTER_TITLE
    assert subtitle_placeholder(cover).placeholder_format.type == PP_PLACEHOLDER.SUBTITLE
    assert body_placeholders(cover) == []
    _, two = _slide(masters[master], "two_content")
    left, right = body_placeholders(two)
    assert left.left < right.left
    assert title_placeholder(two).placeholder_format.type == PP_PLACEHOLDER.TITLE
    _, blank = _slide(masters[master], "blank")
    assert title_placeholder(blank) is None and body_placeholders(blank) == []


@pytest.mark.parametrize("master", ["default", "test43"])
@pytest.mark.parametrize("role", ROLES)
def test_content_area_inside_slide(masters, master, role):
    prs, slide = _slide(masters[master], role)
    for target in (slide, slide.slide_layout):
        rect = content_area(target, prs)
        assert _inside(rect, prs), (role, [Emu(v).inches for v in rect])
        assert all(isinstance(value, int) for value in rect)


def test_content_area_is_the_body_placeholder_or_below_the_title(masters):
    prs, slide = _slide(masters["default"], "content")
    body = body_placeholders(slide)[0]
    assert content_area(slide, prs) == (body.left, body.top, body.width, body.height)
    prs, slide = _slide(masters["test43"], "title_only")
    title = title_placeholder(slide)
    left, top, width, height = content_area(slide, prs)
    assert top > title.top + title.height and left == title.left


# -- round trip ---------------------------------------------------------------------------------


def _deck(master: Path, out: Path) -> Path:
    """One slide per role, titles and bodies filled, saved to ``out``."""
    prs = load_presentation(master)
    for role, layout in find_layouts(prs).items():
        slide = prs.slides.add_slide(layout)
        if title_placeholder(slide) is not None:
            title_placeholder(slide).text = f"{role} slide"
        for body in body_placeholders(slide):
            body.text_frame.text = "Frequent Spenders: 23% of customers"
    prs.save(str(out))
    return out


@pytest.mark.parametrize("master", ["default", "test43"])
def test_slide_per_role_survives_save_and_reopen(masters, master, tmp_path):
    deck = Presentation(str(_deck(masters[master], tmp_path / "deck.pptx")))
    titles = [title_placeholder(slide).text if title_placeholder(slide) else None for slide in deck.slides]
    assert titles == [f"{role} slide" if role != "blank" else None for role in ROLES]


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not on PATH; cannot check the deck converts")
@pytest.mark.parametrize("master", ["default", "test43"])
def test_slide_per_role_converts_with_libreoffice(masters, master, tmp_path, lo_profile):
    deck = _deck(masters[master], tmp_path / "deck.pptx")
    subprocess.run(
        ["soffice", f"-env:UserInstallation={lo_profile}", "--headless", "--convert-to", "pdf",
         "--outdir", str(tmp_path), str(deck)],
        check=True, capture_output=True, timeout=180,
    )
    pdf = (tmp_path / "deck.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page(?!s)", pdf)) == len(ROLES)

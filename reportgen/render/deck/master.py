"""Build PowerPoint masters from python-pptx's default template, reproducibly.

``build_default_master`` writes the project's default master, ``templates/pptx/master.pptx``:
16:9 (13.333 x 7.5 in), white background, navy (#1F2A44) titles, a navy band and an accent bar,
Calibri theme fonts, a footer row with date, footer and slide-number placeholders, and exactly the
layouts "Title Slide", "Title and Content", "Section Header", "Two Content", "Title Only", "Blank".
Regenerate it with ``python -m reportgen.render.deck.master [PATH]``.

``build_test_master`` writes a deliberately *different* master (4:3 by default, other layout names,
other theme colours, custom layout types) so tests prove that layouts are found by name or
placeholder type and never by index.

The template is edited with python-pptx and lxml: the slide size is changed and every shape of the
master and layouts is rescaled, unused layouts are removed with their sldLayoutId entry and part
relationship, and the theme part's colours and fonts are rewritten. Output is byte-for-byte
reproducible (fixed core properties and zip timestamps) and written atomically.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from lxml import etree
from pptx import Presentation
from pptx.opc.constants import RELATIONSHIP_TYPE as RT
from pptx.opc.packuri import PackURI
from pptx.oxml import parse_xml
from pptx.oxml.ns import nsdecls, qn
from pptx.util import Emu, Inches

from reportgen.render.deck.master_design import _design_layouts, _design_master

SLIDE_SIZE_16x9 = (Emu(12192000), Emu(6858000))  # PowerPoint's widescreen, 13.333 x 7.5 in
SLIDE_SIZE_4x3 = (Inches(10), Inches(7.5))

#: The default template's layout for each renderer role (the names the default master keeps).
SOURCE_LAYOUTS = {
    "title": "Title Slide",
    "content": "Title and Content",
    "section": "Section Header",
    "two_content": "Two Content",
    "title_only": "Title Only",
    "blank": "Blank",
}

#: Layout names of the test master: none of them is a name the layout finder knows.
TEST_LAYOUT_NAMES = {
    "title": "Cover Page",
    "content": "Heading and Body",
    "section": "Chapter",
    "two_content": "Side by Side",
    "title_only": "Heading Only",
    "blank": "Empty",
}

DEFAULT_THEME = {
    "name": "reportgen",
    "fonts": ("Calibri", "Calibri"),
    "colours": {
        "dk1": "1A1A1A", "lt1": "FFFFFF", "dk2": "1F2A44", "lt2": "E8EBF0",
        "accent1": "2F6DB5", "accent2": "E3A72F", "accent3": "3A9D7A", "accent4": "C8553D",
        "accent5": "7A5C99", "accent6": "8A94A6", "hlink": "2F6DB5", "folHlink": "7A5C99",
    },
}

TEST_THEME = {
    "name": "reportgen test",
    "fonts": ("Georgia", "Verdana"),
    "colours": {
        "dk1": "202020", "lt1": "FFFFFF", "dk2": "0B4F3C", "lt2": "EEF3EE",
        "accent1": "C05800", "accent2": "0B4F3C", "accent3": "6A8D2F", "accent4": "8C1C13",
        "accent5": "3B6E8F", "accent6": "A39171", "hlink": "3B6E8F", "folHlink": "8C1C13",
    },
}

_FIXED_TIME = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_CHROME = ("dt", "ftr", "sldNum")


def build_default_master(path: str | os.PathLike[str]) -> Path:
    """Write the project's default 16:9 master to ``path`` and return the path."""
    prs = Presentation()
    _keep_layouts(prs, SOURCE_LAYOUTS.values())
    set_slide_size(prs, *SLIDE_SIZE_16x9)
    _set_theme(prs, DEFAULT_THEME)
    _design_master(prs.slide_master)
    _design_layouts(prs)
    return _save(prs, path, title="reportgen default master", fmt="Widescreen", theme=DEFAULT_THEME)


def build_test_master(
    path: str | os.PathLike[str],
    *,
    size: tuple[int, int] = SLIDE_SIZE_4x3,
    names: Mapping[str, str] | None = None,
    drop: Iterable[str] = (),
) -> Path:
    """Write a master unlike the default one, for tests, and return the path.

    ``size`` is (width, height) in EMU; ``names`` maps roles to layout names (defaults:
    ``TEST_LAYOUT_NAMES``); ``drop`` lists roles whose layout is left out. Layout types are set to
    "cust" (as in hand-made corporate masters), except the section header's, and an extra
    "Photo Page" layout (title, picture, caption) is kept that must match no role.
    """
    prs = Presentation()
    dropped = set(drop)
    kept = {role: name for role, name in SOURCE_LAYOUTS.items() if role not in dropped}
    _keep_layouts(prs, [*kept.values(), "Picture with Caption"])
    _rename_layouts(prs, kept, {**TEST_LAYOUT_NAMES, **(names or {})})
    set_slide_size(prs, *size)
    _set_theme(prs, TEST_THEME)
    return _save(prs, path, title="reportgen test master", fmt="Custom", theme=TEST_THEME)


def set_slide_size(prs, width: int, height: int) -> None:
    """Set the slide size and rescale every shape of the masters and layouts to match."""
    sx, sy = width / prs.slide_width, height / prs.slide_height
    prs.slide_width, prs.slide_height = Emu(width), Emu(height)
    prs.part._element.sldSz.attrib.pop("type", None)  # "screen4x3" would now be a lie
    for master in prs.slide_masters:
        for element in (master._element, *(layout._element for layout in master.slide_layouts)):
            _scale_xfrms(element, sx, sy)


def _scale_xfrms(element, sx: float, sy: float) -> None:
    """Multiply the offsets and extents of every shape in ``element`` by (sx, sy)."""
    for node in element.iter(qn("a:off"), qn("a:ext"), qn("a:chOff"), qn("a:chExt")):
        for attr, factor in (("x", sx), ("cx", sx), ("y", sy), ("cy", sy)):
            if attr in node.attrib:
                node.set(attr, str(round(int(node.get(attr)) * factor)))


def _keep_layouts(prs, names: Iterable[str]) -> None:
    """Remove every layout not named in ``names`` (sldLayoutId entry and part relationship)."""
    wanted = set(names)
    for layout in list(prs.slide_layouts):
        if layout.name not in wanted:
            prs.slide_layouts.remove(layout)
    for number, layout in enumerate(prs.slide_layouts, start=1):  # no gaps in part names
        layout.part.partname = PackURI(f"/ppt/slideLayouts/slideLayout{number}.xml")


def _rename_layouts(prs, roles: Mapping[str, str], names: Mapping[str, str]) -> None:
    """Rename the layout of each role and mark all but the section header as custom layouts."""
    by_name = {layout.name: layout for layout in prs.slide_layouts}
    for role, source in roles.items():
        layout = by_name[source]
        layout.name = names[role]
        if role != "section":
            layout._element.set("type", "cust")
    by_name["Picture with Caption"].name = "Photo Page"


def _set_theme(prs, theme: Mapping) -> None:
    """Rewrite the theme part's name, colour scheme and major/minor Latin fonts."""
    part = prs.slide_master.part.part_related_by(RT.THEME)
    root = etree.fromstring(part.blob)
    root.set("name", theme["name"])
    scheme = root.find(".//" + qn("a:clrScheme"))
    scheme.set("name", theme["name"])
    for slot, rgb in theme["colours"].items():
        colour = scheme.find(qn(f"a:{slot}"))
        colour[:] = [parse_xml(f'<a:srgbClr {nsdecls("a")} val="{rgb}"/>')]
    fonts = root.find(".//" + qn("a:fontScheme"))
    fonts.set("name", theme["name"])
    for tag, face in zip(("a:majorFont", "a:minorFont"), theme["fonts"]):
        fonts.find(qn(tag)).find(qn("a:latin")).set("typeface", face)
    part.blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _save(prs, path: str | os.PathLike[str], *, title: str, fmt: str, theme: Mapping) -> Path:
    """Write ``prs`` reproducibly and atomically: fixed metadata, no thumbnail, fixed zip times."""
    _set_metadata(prs, title=title, fmt=fmt, theme_name=theme["name"])
    buffer = io.BytesIO()
    prs.save(buffer)
    return _write_atomically(Path(path), _normalise_zip(buffer.getvalue()))


def _set_metadata(prs, *, title: str, fmt: str, theme_name: str) -> None:
    """Fixed core/app properties; drop the 4:3 thumbnail and the printer settings."""
    core = prs.core_properties
    core.title, core.author, core.last_modified_by = title, "reportgen", "reportgen"
    core.comments, core.revision = "generated by reportgen.render.deck.master", 1
    core.created = core.modified = _FIXED_TIME.replace(tzinfo=None)
    package = prs.part.package
    for rId, rel in list(package._rels.items()):
        if rel.reltype == RT.THUMBNAIL:
            package.drop_rel(rId)
        elif rel.reltype == RT.EXTENDED_PROPERTIES:
            _set_app_properties(rel.target_part, fmt, theme_name)
    for rId, rel in list(prs.part.rels.items()):
        if rel.reltype == RT.PRINTER_SETTINGS:
            prs.part.drop_rel(rId)


def _set_app_properties(part, fmt: str, theme_name: str) -> None:
    """Name the application, slide format and theme in docProps/app.xml."""
    root = etree.fromstring(part.blob)
    for element in root.iter():
        name = etree.QName(element).localname
        if name == "Application":
            element.text = "reportgen"
        elif name == "PresentationFormat":
            element.text = fmt
        elif name == "lpstr" and element.text == "Office Theme":
            element.text = theme_name
    part.blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _normalise_zip(data: bytes) -> bytes:
    """Rewrite a zip with fixed timestamps so the same master is the same bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(entry, src.read(info.filename))
    return out.getvalue()


def _write_atomically(path: Path, data: bytes) -> Path:
    """Write to a temporary file in the target folder, then move it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the file from other readers
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def main(argv: list[str] | None = None) -> int:
    """Regenerate the default master (``templates/pptx/master.pptx`` unless a path is given)."""
    args = sys.argv[1:] if argv is None else argv
    default = Path(__file__).resolve().parent.parent / "templates" / "pptx" / "master.pptx"
    print(build_default_master(Path(args[0]) if args else default))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Build PowerPoint masters from python-pptx's default template, reproducibly.

``build_default_master`` writes the project's default master, ``templates/pptx/master.pptx``:
16:9 (13.333 x 7.5 in), white background, navy (#1F2A44) titles, a navy band and an accent bar,
Calibri theme fonts, a footer row with date, footer and slide-number placeholders, and exactly the
layouts "Title Slide", "Title and Content", "Section Header", "Two Content", "Title Only", "Blank".
Regenerate it with ``python -m reportgen.pptx_master [PATH]``.

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
_GREY = '<a:schemeClr val="tx1"><a:lumMod val="65000"/><a:lumOff val="35000"/></a:schemeClr>'
_NAVY = '<a:schemeClr val="tx2"/>'
_WHITE = '<a:schemeClr val="bg1"/>'
_ACCENT = '<a:schemeClr val="accent1"/>'
_RULE = '<a:schemeClr val="bg2"><a:lumMod val="90000"/></a:schemeClr>'

# -- geometry of the default master, in inches: (left, top, width, height) --
_W, _H, _M = 12192000 / 914400, 7.5, 0.6
_TITLE_BOX = (_M, 0.3, _W - 2 * _M, 0.95)
_BODY_BOX = (_M, 1.5, _W - 2 * _M, 5.15)
_HALF = (_W - 2 * _M - 0.3) / 2
_FOOTER_Y, _FOOTER_H = 6.95, 0.35


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


def _design_master(master) -> None:
    """Place the master's placeholders for 16:9, style its text and add the band and bars."""
    boxes = {"title": _TITLE_BOX, "body": _BODY_BOX, "dt": (7.9, _FOOTER_Y, 3.0, _FOOTER_H),
             "ftr": (_M, _FOOTER_Y, 7.0, _FOOTER_H), "sldNum": (_W - _M - 1.2, _FOOTER_Y, 1.2, _FOOTER_H)}
    for sp in _placeholders(master):
        _place(sp, boxes[_ph_type(sp)])
    _style_text(_ph(master, "title"), anchor="b", align="l", size=2800, bold=True, colour=_NAVY)
    for kind in ("dt", "ftr"):
        _style_text(_ph(master, kind), align="r" if kind == "dt" else "l", size=1000, colour=_GREY)
    _style_text(_ph(master, "sldNum"), align="r", size=1000, colour=_GREY)
    _style_master_text(master._element)
    _add_rect(master, "Top Band", (0, 0, _W, 0.1), _NAVY)
    _add_rect(master, "Accent Bar", (_M + 0.1, 1.3, 1.1, 0.05), _ACCENT)
    _add_rect(master, "Footer Rule", (_M, _FOOTER_Y - 0.08, _W - 2 * _M, 0.01), _RULE)


def _style_master_text(master_element) -> None:
    """Left-aligned navy titles; body text 20/18/16/14 pt with accent-coloured bullets."""
    title = master_element.find(f"{qn('p:txStyles')}/{qn('p:titleStyle')}/{qn('a:lvl1pPr')}")
    title.set("algn", "l")
    _set_run_defaults(title, size=2800, bold=True, colour=_NAVY)
    body = master_element.find(f"{qn('p:txStyles')}/{qn('p:bodyStyle')}")
    for level, ppr in enumerate(body.iterchildren(), start=1):
        _set_run_defaults(ppr, size=(2000, 1800, 1600)[level - 1] if level <= 3 else 1400)
        if ppr.find(qn("a:buFont")) is not None:
            ppr.find(qn("a:buFont")).addprevious(parse_xml(f'<a:buClr {nsdecls("a")}>{_ACCENT}</a:buClr>'))


def _set_run_defaults(ppr, *, size: int, bold: bool = False, colour: str | None = None) -> None:
    """Set size, weight and (optionally) colour on a paragraph style's ``a:defRPr``."""
    rpr = ppr.find(qn("a:defRPr"))
    rpr.set("sz", str(size))
    if bold:
        rpr.set("b", "1")
    if colour is not None:
        fill = rpr.find(qn("a:solidFill"))
        fill[:] = [parse_xml(_with_ns(colour))]


def _design_layouts(prs) -> None:
    """Let ordinary layouts inherit from the master; give cover, section and two-column their own."""
    for layout in prs.slide_layouts:
        for sp in _placeholders(layout):
            xfrm = sp.spPr.find(qn("a:xfrm"))
            if xfrm is not None:
                sp.spPr.remove(xfrm)
    by_name = {layout.name: layout for layout in prs.slide_layouts}
    _design_title_slide(by_name["Title Slide"])
    _design_section(by_name["Section Header"])
    _design_two_content(by_name["Two Content"])
    _design_blank(by_name["Blank"])


def _design_title_slide(layout) -> None:
    """Cover: a navy band down the left edge, a large left-aligned title over an accent bar."""
    layout._element.set("showMasterSp", "0")
    _add_rect(layout, "Side Band", (0, 0, 0.35, _H), _NAVY)
    _add_rect(layout, "Accent Bar", (1.1, 3.85, 1.5, 0.06), _ACCENT)
    _place(_ph(layout, "ctrTitle"), (1.0, 1.9, 11.0, 1.8))
    _style_text(_ph(layout, "ctrTitle"), anchor="b", align="l", size=4000, bold=True, colour=_NAVY)
    _place(_ph(layout, "subTitle"), (1.0, 4.05, 11.0, 1.3))
    _style_text(_ph(layout, "subTitle"), anchor="t", align="l", size=2000, colour=_GREY, bullets=False)


def _design_section(layout) -> None:
    """Section divider: navy background, white title, light subtitle, accent bar between."""
    layout._element.set("showMasterSp", "0")
    _set_background(layout, _NAVY)
    _add_rect(layout, "Accent Bar", (1.1, 3.95, 1.5, 0.06), _ACCENT)
    _place(_ph(layout, "title"), (1.0, 2.2, 11.0, 1.6))
    _style_text(_ph(layout, "title"), anchor="b", align="l", size=3600, bold=True, colour=_WHITE)
    _place(_ph(layout, "body"), (1.0, 4.15, 11.0, 1.2))
    _style_text(_ph(layout, "body"), anchor="t", align="l", size=2000,
                colour='<a:schemeClr val="bg2"/>', bullets=False)


def _design_two_content(layout) -> None:
    """Two equal columns under the master's title, sharing the master's body style."""
    left, right = (sp for sp in _placeholders(layout) if _ph_type(sp) == "obj")
    _place(left, (_M, _BODY_BOX[1], _HALF, _BODY_BOX[3]))
    _place(right, (_W - _M - _HALF, _BODY_BOX[1], _HALF, _BODY_BOX[3]))
    for sp in (left, right):
        sp.find(f"{qn('p:txBody')}/{qn('a:lstStyle')}")[:] = []


def _design_blank(layout) -> None:
    """Blank: the master's band and footer rule, but no accent bar where no title is."""
    layout._element.set("showMasterSp", "0")
    _add_rect(layout, "Footer Rule", (_M, _FOOTER_Y - 0.08, _W - 2 * _M, 0.01), _RULE)
    _add_rect(layout, "Top Band", (0, 0, _W, 0.1), _NAVY)


def _placeholders(slide_like) -> list:
    """The ``p:sp`` placeholder elements of a master or layout."""
    return [sp for sp in slide_like._element.cSld.spTree.iter(qn("p:sp")) if sp.has_ph_elm]


def _ph_type(sp) -> str:
    """The OOXML placeholder type of a ``p:sp`` (``obj`` when the attribute is absent)."""
    return sp.ph.get("type", "obj")


def _ph(slide_like, kind: str):
    """The placeholder element of OOXML type ``kind`` on a master or layout."""
    return next(sp for sp in _placeholders(slide_like) if _ph_type(sp) == kind)


def _place(sp, box: tuple[float, float, float, float]) -> None:
    """Give a placeholder its own position and size (inches)."""
    x, y, cx, cy = (int(Inches(v)) for v in box)
    xfrm = sp.spPr.get_or_add_xfrm()
    xfrm.x, xfrm.y, xfrm.cx, xfrm.cy = x, y, cx, cy


def _style_text(sp, *, anchor=None, align=None, size=None, bold=False, colour=None, bullets=True):
    """Replace a placeholder's list style with one paragraph style for every level."""
    if anchor:
        sp.find(f"{qn('p:txBody')}/{qn('a:bodyPr')}").set("anchor", anchor)
    attrs = f' sz="{size}"' * bool(size) + ' b="1"' * bold
    fill = f"<a:solidFill>{colour}</a:solidFill>" if colour else ""
    ppr_attrs = f' algn="{align}"' * bool(align) + ' marL="0" indent="0"' * (not bullets)
    bullet = "" if bullets else "<a:buNone/>"
    levels = "".join(f"<a:lvl{n}pPr{ppr_attrs}>{bullet}<a:defRPr{attrs}>{fill}</a:defRPr></a:lvl{n}pPr>"
                     for n in range(1, 10))
    xml = f"<a:lstStyle {nsdecls('a')}>{levels}</a:lstStyle>"
    old = sp.find(f"{qn('p:txBody')}/{qn('a:lstStyle')}")
    old.getparent().replace(old, parse_xml(xml))


def _add_rect(slide_like, name: str, box: tuple[float, float, float, float], colour: str) -> None:
    """Add a borderless filled rectangle behind the placeholders of a master or layout."""
    tree = slide_like._element.cSld.spTree
    shape_id = max(int(e.get("id")) for e in tree.iter(qn("p:cNvPr"))) + 1
    x, y, cx, cy = (int(Inches(v)) for v in box)
    xml = (
        f'<p:sp {nsdecls("a", "p")}><p:nvSpPr><p:cNvPr id="{shape_id}" name="{name}"/><p:cNvSpPr/>'
        f'<p:nvPr userDrawn="1"/></p:nvSpPr><p:spPr><a:xfrm><a:off x="{x}" y="{y}"/>'
        f'<a:ext cx="{cx}" cy="{cy}"/></a:xfrm><a:prstGeom prst="rect"><a:avLst/></a:prstGeom>'
        f"<a:solidFill>{colour}</a:solidFill><a:ln><a:noFill/></a:ln></p:spPr></p:sp>"
    )
    tree.find(qn("p:grpSpPr")).addnext(parse_xml(xml))


def _set_background(layout, colour: str) -> None:
    """Give a layout a solid background colour of its own."""
    xml = (f'<p:bg {nsdecls("a", "p")}><p:bgPr><a:solidFill>{colour}</a:solidFill>'
           f"<a:effectLst/></p:bgPr></p:bg>")
    layout._element.cSld.insert(0, parse_xml(xml))


def _with_ns(fragment: str) -> str:
    """Declare the DrawingML namespace on the root of an XML fragment."""
    head, _, rest = fragment.partition(" ")
    return f'{head} {nsdecls("a")} {rest}'


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
    core.comments, core.revision = "generated by reportgen.pptx_master", 1
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

"""The look of the bundled master: theme colours as scheme references, the geometry in inches, and
the shapes and text styles drawn on the slide master and each layout.
"""

from __future__ import annotations

from pptx.oxml import parse_xml
from pptx.oxml.ns import nsdecls, qn
from pptx.util import Inches

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

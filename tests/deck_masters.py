"""Corporate-like PowerPoint masters that broke the deck, built with python-pptx for the tests.

corner_logo   16:9, a logo picture in the bottom-right corner of the slide master
title_noph    16:9, "Title Slide" without a title placeholder: prompt-text placeholders and a logo
gslides       10 x 5.625 in (Google Slides export): 0.3"-high body/title placeholders, Google layout names
potx          16:9 .potx template whose titles run edge to edge (full-width title placeholders)
four_three    4:3 master with other layout names and a logo top right
"""

from __future__ import annotations

import io
import zipfile

from PIL import Image, ImageDraw
from pptx import Presentation
from pptx.oxml.ns import qn
from pptx.util import Emu, Inches

POTX = "application/vnd.openxmlformats-officedocument.presentationml.template.main+xml"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"


def logo_png(width=360, height=180, colour=(200, 30, 45)) -> bytes:
    image = Image.new("RGB", (width, height), colour)
    draw = ImageDraw.Draw(image)
    draw.ellipse((10, 10, height - 10, height - 10), fill=(255, 255, 255))
    draw.rectangle((height, height // 3, width - 20, 2 * height // 3), fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def scale_to(prs, width, height):
    sx, sy = width / prs.slide_width, height / prs.slide_height
    prs.slide_width, prs.slide_height = Emu(width), Emu(height)
    prs.part._element.sldSz.attrib.pop("type", None)
    for master in prs.slide_masters:
        for element in (master._element, *(layout._element for layout in master.slide_layouts)):
            for node in element.iter(qn("a:off"), qn("a:ext")):
                for attr, factor in (("x", sx), ("cx", sx), ("y", sy), ("cy", sy)):
                    if attr in node.attrib:
                        node.set(attr, str(round(int(node.get(attr)) * factor)))


def layout(prs, name):
    return next(lay for lay in prs.slide_layouts if lay.name == name)


def keep_layouts(prs, names):
    for lay in list(prs.slide_layouts):
        if lay.name not in names:
            prs.slide_layouts.remove(lay)


def add_logo(slide_like, left, top, width, height, name="Logo"):
    """A picture on a master or layout (python-pptx only adds pictures to slides)."""
    _image_part, rid = slide_like.part.get_or_add_image_part(io.BytesIO(logo_png()))
    tree = slide_like.shapes._spTree
    shape_id = max(int(e.get("id")) for e in tree.iter(qn("p:cNvPr"))) + 1
    pic = tree.add_pic(shape_id, name, "", rid, int(left), int(top), int(width), int(height))
    pic.getparent().remove(pic)
    tree.insert(2, pic)  # behind the placeholders, like a designer's logo
    return pic


def set_prompt(ph, text):
    """A custom prompt text on a layout placeholder (shown by PowerPoint until the user types)."""
    ph._element.ph.set("hasCustomPrompt", "1")
    ph.text_frame.text = text


def remove(shape):
    shape._element.getparent().remove(shape._element)


def widescreen():
    prs = Presentation()
    scale_to(prs, Inches(13.333), Inches(7.5))
    keep_layouts(prs, {"Title Slide", "Title and Content", "Section Header", "Two Content", "Title Only", "Blank"})
    return prs


def corner_logo(path):
    prs = widescreen()
    w, h = prs.slide_width, prs.slide_height
    add_logo(prs.slide_master, w - Inches(2.1), h - Inches(1.15), Inches(1.8), Inches(0.9), "Corner Logo")
    prs.save(path)


def title_noph(path):
    prs = widescreen()
    w = prs.slide_width
    cover = layout(prs, "Title Slide")
    title = next(ph for ph in cover.placeholders if ph.placeholder_format.type == 3)  # CENTER_TITLE
    box = (title.left, title.top, title.width, title.height)
    remove(title)
    sub = next(ph for ph in cover.placeholders if ph.placeholder_format.type == 4)
    set_prompt(sub, "Subtitle goes here")
    # the title is a body placeholder with a prompt (what the corporate master did)
    body = cover.shapes._spTree
    from pptx.oxml import parse_xml
    from pptx.oxml.ns import nsdecls
    xml = (f'<p:sp {nsdecls("a", "p")}><p:nvSpPr><p:cNvPr id="20" name="Text Placeholder 9"/><p:cNvSpPr>'
           f'<a:spLocks noGrp="1"/></p:cNvSpPr><p:nvPr><p:ph type="body" sz="quarter" idx="13" hasCustomPrompt="1"/>'
           f'</p:nvPr></p:nvSpPr><p:spPr><a:xfrm><a:off x="{box[0]}" y="{box[1]}"/><a:ext cx="{box[2]}" cy="{box[3]}"/>'
           f'</a:xfrm></p:spPr><p:txBody><a:bodyPr/><a:lstStyle/><a:p><a:r><a:rPr lang="en-US"/><a:t>Title</a:t></a:r>'
           f'</a:p><a:p><a:r><a:rPr lang="en-US"/><a:t>No more than two lines</a:t></a:r></a:p></p:txBody></p:sp>')
    body.append(parse_xml(xml))
    add_logo(cover, Inches(0.5), Inches(0.4), Inches(2.4), Inches(1.2), "Cover Logo")
    # and a logo in the master's top-right corner
    add_logo(prs.slide_master, w - Inches(1.6), Inches(0.2), Inches(1.2), Inches(0.6), "Master Logo")
    prs.save(path)


GOOGLE_NAMES = {"Title Slide": "TITLE", "Title and Content": "TITLE_AND_BODY", "Section Header": "SECTION_HEADER",
                "Two Content": "TITLE_AND_TWO_COLUMNS", "Title Only": "TITLE_ONLY", "Blank": "BLANK"}


def gslides(path):
    prs = widescreen()
    scale_to(prs, Inches(10), Inches(5.625))
    for lay in prs.slide_layouts:
        for ph in lay.placeholders:
            kind = ph.placeholder_format.type
            if kind in (2, 7, 4, 3):  # body, object, subtitle, centre title: 0.3" high
                left, top, width = ph.left, ph.top, ph.width
                ph.left, ph.top, ph.width, ph.height = left, top, width, Inches(0.3)
        lay.name = GOOGLE_NAMES[lay.name]
    for ph in prs.slide_master.placeholders:
        if ph.placeholder_format.type == 2:
            left, top, width = ph.left, ph.top, ph.width
            ph.left, ph.top, ph.width, ph.height = left, top, width, Inches(0.3)
    prs.save(path)


def potx(path):
    prs = widescreen()
    w = prs.slide_width
    for lay in [*prs.slide_layouts, prs.slide_master]:
        for ph in lay.placeholders:
            if ph.placeholder_format.type in (1, 3):  # titles edge to edge
                top, height = ph.top, ph.height
                ph.left, ph.top, ph.width, ph.height = Emu(0), top, Emu(w), height
    buffer = io.BytesIO()
    prs.save(buffer)
    with zipfile.ZipFile(buffer) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "[Content_Types].xml":
                data = data.replace(PPTX.encode(), POTX.encode())
            dst.writestr(info, data)


def four_three(path):
    prs = Presentation()  # 10 x 7.5 in
    keep_layouts(prs, {"Title Slide", "Title and Content", "Section Header", "Two Content", "Title Only", "Blank"})
    names = {"Title Slide": "Cover Page", "Title and Content": "Heading and Body", "Section Header": "Chapter",
             "Two Content": "Side by Side", "Title Only": "Heading Only", "Blank": "Empty"}
    for lay in prs.slide_layouts:
        lay.name = names[lay.name]
    add_logo(prs.slide_master, prs.slide_width - Inches(1.5), Inches(0.15), Inches(1.2), Inches(0.6), "Logo")
    prs.save(path)


def big_logo(path):
    """A master that cannot hold the deck: a logo over the middle of every slide."""
    prs = widescreen()
    w, h = prs.slide_width, prs.slide_height
    add_logo(prs.slide_master, w // 4, h // 4, w // 2, h // 2, "Watermark Logo")
    prs.save(path)


MASTERS = {"corner_logo": (corner_logo, ".pptx"), "title_noph": (title_noph, ".pptx"),
           "gslides": (gslides, ".pptx"), "potx": (potx, ".potx"), "four_three": (four_three, ".pptx")}

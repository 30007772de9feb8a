"""The PowerPoint deck: the report model laid out on the layouts of any master with python-pptx.

``render_pptx(model, charts, settings) -> bytes``. The master is ``settings.pptx_template`` (a
.pptx or .potx) or the bundled ``templates/pptx/master.pptx``; layouts are found by role with
:mod:`reportgen.pptx_layouts` (name, then placeholder shape, then layout type) and everything is
placed relative to the slide size and the layout's content area, so 16:9 and 4:3 masters both work.

The deck, in the order an executive reads it: cover, agenda, executive summary (with what changed
since last month once a month is recorded), how k was chosen, segment sizes, spend comparison,
trends and migration (when the model has history), one slide per segment, recommendations, the
customer map and the profile heatmap, then an appendix (evidence for each k, the migration
matrix, data quality, run facts). Bar, column and line charts are native, editable PowerPoint
charts with their data embedded; the PCA scatter and heatmaps are the build's PNG pictures.
Every content slide carries its narrative in the speaker notes.

Text is never left for PowerPoint to shrink: every font size is computed from the text length
and the box (:func:`fit_size`, with Arial-like character widths widened for the master's theme
fonts and for the wider fonts viewers substitute), and ``normAutofit`` is set only as a safety
net. All text passes :func:`clean_text`, which drops the characters XML 1.0 forbids. Output is
deterministic: fixed core properties from ``model.facts.generated_at`` and fixed zip timestamps
(also inside the embedded chart workbooks).
"""

from __future__ import annotations

import copy
import io
import math
import re
import unicodedata
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from lxml import etree
from pptx.chart.data import CategoryChartData
from pptx.dml.color import RGBColor
from pptx.enum.chart import XL_CHART_TYPE, XL_LABEL_POSITION, XL_LEGEND_POSITION, XL_MARKER_STYLE
from pptx.enum.dml import MSO_THEME_COLOR
from pptx.enum.shapes import MSO_SHAPE, PP_PLACEHOLDER
from pptx.enum.text import MSO_ANCHOR, MSO_AUTO_SIZE, PP_ALIGN
from pptx.opc.constants import RELATIONSHIP_TYPE as RT
from pptx.oxml import parse_xml
from pptx.oxml.ns import nsdecls, qn
from pptx.util import Emu, Pt

from reportgen.charts import month_short
from reportgen.errors import RenderError
from reportgen.formatting import format_count, format_number, format_share
from reportgen.pptx_layouts import (
    CHROME_TYPES,
    body_placeholders,
    content_area,
    find_layouts,
    load_presentation,
    subtitle_placeholder,
    title_placeholder,
)
from reportgen.report import AT_RISK
from reportgen.resources import bundled_path

#: Charts the deck shows as pictures; the optional ones go to the appendix when present.
REQUIRED_PICTURES = ("pca", "profile_heat")
OPTIONAL_PICTURES = ("k_evidence", "correlation")
#: "What changed since last month" lines on the executive summary slide (all are in its notes).
CHANGES_SHOWN = 4

# -- text: cleaning and measuring ---------------------------------------------------------------

_ILLEGAL = re.compile("[\x00-\x08\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_BREAKS = re.compile("[\x0b\x0c]|\r\n?")


def clean_text(text: object, *, single_line: bool = False) -> str:
    """``text`` as a string XML 1.0 (and so python-pptx) accepts.

    Control characters other than tab and newline, lone surrogates and U+FFFE/U+FFFF are
    dropped; vertical tab, form feed and carriage returns become line breaks, and with
    ``single_line`` every run of whitespace becomes one space.
    """
    text = _ILLEGAL.sub("", _BREAKS.sub("\n", str(text)))
    return " ".join(text.split()) if single_line else text


# Advance widths of Liberation Sans (Arial's metrics) for U+0020..U+007E, in 1/100 em.
_WIDTHS = tuple(int(w) for w in (
    "28 28 35 56 56 89 67 19 33 33 39 58 28 33 28 28 56 56 56 56 56 56 56 56 56 56 28 28 58 58 58 56 "
    "102 67 67 72 72 67 61 78 72 28 50 67 56 83 72 78 67 78 72 67 61 72 67 94 67 67 61 28 28 28 47 56 "
    "33 56 56 50 56 56 28 56 56 22 22 50 22 83 56 56 56 56 33 50 28 56 50 72 50 50 50 33 26 33 58"
).split())
# Theme fonts wider than Arial; anything else (Calibri included) is measured as the wider fonts
# viewers substitute for it (DejaVu Sans on Linux) so text fits in every viewer.
_FONT_SCALES = {"verdana": 1.25, "georgia": 1.2, "tahoma": 1.14, "dejavu sans": 1.15, "trebuchet ms": 1.14}
_DEFAULT_FONT_SCALE = 1.14
_BOLD = 1.1
_WIDTH_MARGIN = 0.94  # use 94% of a box's width: renderers differ in kerning and spacing
_TOKEN = 30  # words longer than this (checksums, hostile names) may be broken anywhere
_LINE = 1.22  # line height / font size
_SPACE = 0.4  # space before a paragraph / its font size
_INSET_X, _INSET_Y = Pt(5), Pt(3)
_BULLET = 1.1  # bullet indent / font size
_FLOOR = 9.0  # no text is set smaller, whatever its scale


@dataclass(frozen=True)
class Para:
    """One paragraph: ``scale`` multiplies the block's base size; ``mark`` is the colour
    (``#RRGGBB``) of a square drawn before the text; ``colour`` a ``#RRGGBB`` or theme colour."""

    text: str
    scale: float = 1.0
    bold: bool = False
    bullet: bool = False
    colour: object = None
    mark: str | None = None
    align: object = PP_ALIGN.LEFT
    indent: bool = False


def _char_em(char: str) -> float:
    code = ord(char)
    if 32 <= code < 127:
        return _WIDTHS[code - 32] / 100
    return 1.0 if unicodedata.east_asian_width(char) in "WF" else 0.62


def _wrapped_lines(text: str, size: float, width: float, font: float, bold: bool, keep: float | None) -> float:
    """How many lines ``text`` takes in ``width`` points: word wrap, over-long words broken.

    Infinity when an ordinary word (up to ``_TOKEN`` characters) would be broken although it
    would fit whole at size ``keep``: a smaller size is then better than a split word.
    """
    em = size * font * (_BOLD if bold else 1.0)
    space = _char_em(" ") * em
    lines = 0
    for line in text.split("\n"):
        lines, used = lines + 1, 0.0
        for word, gap in _words(line):
            chars = [_char_em(c) * em for c in word]
            wide = sum(chars)
            if used and used + space * gap + wide <= width:
                used += space * gap + wide
                continue
            if used:
                lines, used = lines + 1, 0.0
            if wide <= width:
                used = wide
                continue
            if keep is not None and len(word) <= _TOKEN and wide * keep / size <= width:
                return math.inf
            for char in chars:
                if used and used + char > width:
                    lines, used = lines + 1, 0.0
                used += char
    return lines


def _words(line: str):
    """(word, 1 if a space precedes it) for each place a line may wrap: spaces and hyphens."""
    for word in line.split(" "):
        for number, piece in enumerate(re.findall(r"[^-]*-+|[^-]+", word) or [""]):
            yield piece, 0 if number else 1


def _para_text(para: Para) -> str:
    return ("\u25a0 " if para.mark else "") + clean_text(para.text)


def block_height(paras: Sequence[Para], size: float, width: float, font: float, *,
                 keep: float | None = None) -> float:
    """Height in points of ``paras`` at base ``size`` in a column ``width`` points wide; infinite
    if a word that fits whole at base size ``keep`` would have to be broken."""
    height = 0.0
    for number, para in enumerate(paras):
        points = max(size * para.scale, _FLOOR)
        usable = width * _WIDTH_MARGIN - (points * _BULLET if para.bullet or para.indent else 0)
        kept = None if keep is None else max(keep * para.scale, _FLOOR)
        lines = _wrapped_lines(_para_text(para), points, max(usable, 1.0), font, para.bold, kept)
        height += lines * points * _LINE
        height += points * _SPACE if number else 0
    return height


def fit_size(paras: Sequence[Para], width: int, height: int, font: float, largest: float, smallest: float,
             *, inset_x: int = _INSET_X, inset_y: int = _INSET_Y) -> float:
    """The largest base size (half-point steps, at least ``smallest``) at which ``paras`` fit a
    box of ``width`` x ``height`` EMU with the given insets. Sizes at which a word would have to
    be broken are passed over while any size avoids it."""
    usable_w, usable_h = Emu(width - 2 * inset_x).pt, Emu(height - 2 * inset_y).pt
    return _largest_fit(lambda size: block_height(paras, size, usable_w, font, keep=smallest) <= usable_h,
                        largest, smallest)


def _largest_fit(fits, largest: float, smallest: float) -> float:
    """The largest size in half-point steps for which ``fits(size)`` holds; ``smallest`` when none does."""
    size = largest
    while size >= smallest:
        if fits(size):
            return size
        size -= 0.5
    return smallest


# -- writing text -------------------------------------------------------------------------------


def _colour(font_or_fill, colour) -> None:
    if isinstance(colour, str):
        font_or_fill.color.rgb = RGBColor.from_string(colour.lstrip("#"))
    elif colour is not None:
        font_or_fill.color.theme_color = colour


def _write(frame, paras: Sequence[Para], size: float, *, anchor=None, autofit: bool = True) -> None:
    """Replace a text frame's content with ``paras`` at explicit sizes."""
    frame.clear()
    frame.word_wrap = True
    if autofit:
        frame.auto_size = MSO_AUTO_SIZE.TEXT_TO_FIT_SHAPE
        frame.margin_left = frame.margin_right = _INSET_X
        frame.margin_top = frame.margin_bottom = _INSET_Y
    if anchor is not None:
        frame.vertical_anchor = anchor
    for number, para in enumerate(paras):
        paragraph = frame.paragraphs[0] if number == 0 else frame.add_paragraph()
        points = max(round(size * para.scale * 2) / 2, _FLOOR)
        _format_paragraph(paragraph, para, points, first=number == 0)
        if para.mark:
            _add_run(paragraph, "\u25a0 ", points, para.bold, para.mark)
        _add_run(paragraph, clean_text(para.text), points, para.bold, para.colour)


def _add_run(paragraph, text: str, points: float, bold: bool, colour) -> None:
    run = paragraph.add_run()
    run.text = text
    run.font.size = Pt(points)
    run.font.bold = bold
    _colour(run.font, colour)


def _format_paragraph(paragraph, para: Para, points: float, *, first: bool) -> None:
    """Alignment, spacing and bullets set on the paragraph itself, whatever the master says."""
    paragraph.alignment = para.align
    paragraph.line_spacing = 1.0
    paragraph.space_before = Pt(0 if first else round(points * _SPACE, 1))
    paragraph.space_after = Pt(0)
    ppr = paragraph._p.get_or_add_pPr()
    indent = int(Pt(points * _BULLET)) if para.bullet or para.indent else 0
    ppr.set("marL", str(indent))
    ppr.set("indent", str(-indent if para.bullet else 0))
    ppr.set("lvl", "0")
    bullet = ('<a:buFont typeface="Arial"/><a:buChar char="\u2022"/>' if para.bullet else "<a:buNone/>")
    for element in parse_xml(f"<a:x {nsdecls('a')}>{bullet}</a:x>"):
        ppr.append(element)


def _fill(deck, frame, rect, paras, largest, smallest, *, anchor=None) -> float:
    """Fit ``paras`` to ``rect`` and write them into ``frame``; returns the size used."""
    size = fit_size(paras, rect[2], rect[3], deck.body_font, largest, smallest)
    _write(frame, paras, size, anchor=anchor)
    return size


def _rect(shape) -> tuple[int, int, int, int]:
    return int(shape.left), int(shape.top), int(shape.width), int(shape.height)


# -- the deck -----------------------------------------------------------------------------------


@dataclass
class _Deck:
    """What every slide builder needs: the presentation, its layouts, fonts and footer."""

    prs: object
    layouts: dict
    model: object
    charts: dict
    title_font: float
    body_font: float
    footer: str


def render_pptx(model, charts, settings) -> bytes:
    """Render the report model as a PowerPoint deck and return the .pptx bytes.

    ``charts`` maps chart keys to :class:`~reportgen.rendering.Chart` pictures ("pca" and
    "profile_heat" are required; "k_evidence" and "correlation" go to the appendix when present).
    Raises :class:`RenderError` for an unreadable master, a master lacking a needed layout, or a
    missing or broken chart picture.
    """
    missing = [key for key in REQUIRED_PICTURES if key not in charts]
    if missing:
        raise RenderError(f"PowerPoint deck: chart picture(s) {', '.join(missing)} missing; "
                          f"charts present: {', '.join(sorted(charts)) or 'none'}")
    source = settings.pptx_template or bundled_path("templates", "pptx", "master.pptx")
    prs = load_presentation(source)
    layouts = find_layouts(prs, dict(settings.pptx_layouts), source=source)
    _drop_slides(prs)
    title_font, body_font = _theme_font_scales(prs)
    footer = clean_text(f"{model.facts.title} \u00b7 {model.facts.month}", single_line=True)
    deck = _Deck(prs, layouts, model, dict(charts), title_font, body_font, footer)
    for build in (_cover, _agenda, _summary, _k_choice, _sizes, _comparison, _trends, _migration, _segments,
                  _recommendations, _pictures, _appendix):
        build(deck)
    for slide in prs.slides:
        _drop_empty_placeholders(slide)
    stamp = _timestamp(model.facts.generated_at)
    _set_properties(prs, model, stamp)
    buffer = io.BytesIO()
    prs.save(buffer)
    return _normalise_zip(buffer.getvalue(), stamp)


def _drop_slides(prs) -> None:
    """Remove any slides the master file came with: the deck holds only its own."""
    id_list = prs.slides._sldIdLst
    for slide_id in list(id_list):
        prs.part.drop_rel(slide_id.rId)
        id_list.remove(slide_id)


def _theme_font_scales(prs) -> tuple[float, float]:
    """Width factors of the theme's heading and body fonts (see ``_FONT_SCALES``)."""
    try:
        theme = etree.fromstring(prs.slide_master.part.part_related_by(RT.THEME).blob)
    except (KeyError, etree.XMLSyntaxError):
        return _DEFAULT_FONT_SCALE, _DEFAULT_FONT_SCALE
    scales = []
    for tag in ("a:majorFont", "a:minorFont"):
        latin = theme.find(f".//{qn(tag)}/{qn('a:latin')}")
        face = (latin.get("typeface", "") if latin is not None else "").strip().casefold()
        scales.append(max(_FONT_SCALES.get(face, _DEFAULT_FONT_SCALE), _DEFAULT_FONT_SCALE))
    return scales[0], scales[1]


def _slide(deck, role: str, title: str | None, notes: str, *, chrome: bool = True):
    """A new slide of ``role`` with its title, speaker notes, footer and slide number."""
    slide = deck.prs.slides.add_slide(deck.layouts[role])
    if title is not None:
        _set_title(deck, slide, title)
    if notes:
        frame = slide.notes_slide.notes_text_frame
        if frame is not None:
            frame.text = clean_text(notes)
    if chrome:
        _add_chrome(deck, slide)
    return slide


def _set_title(deck, slide, text: str, *, largest: float = 28, smallest: float = 14) -> None:
    """Write the title into the title placeholder (or a text box at the top), sized to fit."""
    shape = title_placeholder(slide)
    if shape is None or None in (shape.left, shape.top, shape.width, shape.height):
        width, height = deck.prs.slide_width, deck.prs.slide_height
        shape = slide.shapes.add_textbox(round(width * 0.05), round(height * 0.04),
                                         round(width * 0.9), round(height * 0.12))
    paras = [Para(clean_text(text, single_line=True), bold=True)]
    size = fit_size(paras, shape.width, shape.height, deck.title_font, largest, smallest)
    _write(shape.text_frame, [Para(paras[0].text)], size)


def _add_chrome(deck, slide) -> None:
    """Clone the layout's footer and slide-number placeholders (python-pptx does not)."""
    for placeholder in slide.slide_layout.placeholders:
        kind = placeholder.placeholder_format.type
        if kind not in (PP_PLACEHOLDER.FOOTER, PP_PLACEHOLDER.SLIDE_NUMBER):
            continue
        element = copy.deepcopy(placeholder._element)
        element.nvSpPr.cNvPr.set("id", str(slide.shapes._next_shape_id))
        slide.shapes._spTree.append(element)
        if kind == PP_PLACEHOLDER.FOOTER:
            shape = slide.placeholders[placeholder.placeholder_format.idx]
            if None not in (shape.width, shape.height):
                _write(shape.text_frame, [Para(deck.footer)],
                       fit_size([Para(deck.footer)], shape.width, shape.height, deck.body_font, 10, _FLOOR))
                shape.text_frame.paragraphs[0].alignment = None


def _drop_empty_placeholders(slide) -> None:
    """Delete placeholders left empty (they would show "Click to add text" when edited)."""
    for shape in list(slide.placeholders):
        if shape.placeholder_format.type in CHROME_TYPES:
            continue
        if shape.has_text_frame and not shape.text_frame.text.strip():
            shape._element.getparent().remove(shape._element)


def _frames(slide, rects) -> list:
    """A text frame per rectangle: the slide's body placeholders moved there, else text boxes."""
    bodies = body_placeholders(slide)
    shapes = []
    for number, rect in enumerate(rects):
        if number < len(bodies):
            shape = bodies[number]
            shape.left, shape.top, shape.width, shape.height = (Emu(v) for v in rect)
        else:
            shape = slide.shapes.add_textbox(*rect)
        shapes.append(shape)
    return shapes


def _split(rect, fractions: Sequence[float], *, gap: float = 0.03, vertical: bool = False):
    """Cut ``rect`` into parts of the given fractions with gaps (a share of the length) between."""
    left, top, width, height = rect
    length = height if vertical else width
    space = round(length * gap)
    usable = length - space * (len(fractions) - 1)
    total = sum(fractions)
    parts, offset = [], 0
    for number, fraction in enumerate(fractions):
        size = usable - sum(round(usable * f / total) for f in fractions[:-1]) if number == len(fractions) - 1 \
            else round(usable * fraction / total)
        parts.append((left, top + offset, width, size) if vertical else (left + offset, top, size, height))
        offset += size + space
    return parts


def _area(deck, slide):
    return tuple(int(v) for v in content_area(slide, deck.prs))


def _text_on(hex_colour: str) -> str:
    """Dark or white text, whichever reads better on ``hex_colour``."""
    red, green, blue = (int(hex_colour.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4))
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    return "#1A1A1A" if luminance > 0.55 else "#FFFFFF"


def _tiles(deck, slide, rects, items, *, largest: float = 28) -> None:
    """A row of KPI tiles, ``items`` being (value, label, fill colour or None): values large and
    labels small, each at one size for the whole row. A tile without a colour gets the theme's
    light background and an accent rule along the top."""
    font = deck.body_font
    value_size = min(fit_size([Para(value, bold=True)], w, round(h * 0.55), font, largest, 12)
                     for (_l, _t, w, h), (value, _label, _c) in zip(rects, items))
    label_size = min(fit_size([Para(label)], w, round(h * 0.45), font, 14, 9)
                     for (_l, _t, w, h), (_value, label, _c) in zip(rects, items))
    for rect, (value, label, colour) in zip(rects, items):
        box, ink = _tile_box(slide, rect, colour)
        paras = [Para(value, bold=True, colour=ink, align=PP_ALIGN.CENTER),
                 Para(label, scale=label_size / value_size, colour=ink, align=PP_ALIGN.CENTER)]
        _write(box.text_frame, paras, value_size, anchor=MSO_ANCHOR.MIDDLE)


def _tile_box(slide, rect, colour: str | None):
    """Draw a tile's rectangle (and accent rule); returns it and the text colour to use on it."""
    box = _rectangle(slide, rect)
    if colour:
        box.fill.fore_color.rgb = RGBColor.from_string(colour.lstrip("#"))
        return box, _text_on(colour)
    box.fill.fore_color.theme_color = MSO_THEME_COLOR.BACKGROUND_2
    rule = _rectangle(slide, (rect[0], rect[1], rect[2], max(round(rect[3] * 0.05), 1)))
    rule.fill.fore_color.theme_color = MSO_THEME_COLOR.ACCENT_1
    return box, MSO_THEME_COLOR.TEXT_1


def _rectangle(slide, rect):
    """A filled rectangle without outline or shadow (its fill colour is set by the caller)."""
    shape = slide.shapes.add_shape(MSO_SHAPE.RECTANGLE, *rect)
    shape.shadow.inherit = False
    shape.line.fill.background()
    shape.fill.solid()
    return shape


def _kpi(kpis, key: str):
    return next(k for k in kpis if k.key == key)


# -- slides -------------------------------------------------------------------------------------


def _cover(deck) -> None:
    model = deck.model
    facts = model.facts
    slide = _slide(deck, "title", None, (
        f"{facts.title} for {facts.month}: {format_count(facts.customers)} customers grouped into "
        f"{len(model.segments)} segments. The next slides give the headline figures, how the number "
        "of segments was chosen, each segment with its marketing actions, and the recommendations."
    ), chrome=False)
    _set_title(deck, slide, facts.title, largest=40, smallest=20)
    subtitle = subtitle_placeholder(slide)
    paras = [Para(f"{facts.month} \u00b7 {format_count(facts.customers)} customers \u00b7 "
                  f"{len(model.segments)} segments"),
             Para(f"Generated {facts.generated_at[:10]} by reportgen", scale=0.7)]
    if subtitle is not None and None not in (subtitle.width, subtitle.height):
        _fill(deck, subtitle.text_frame, _rect(subtitle), paras, 22, 12)
    else:
        area = _area(deck, slide)
        _fill(deck, slide.shapes.add_textbox(*area).text_frame, area, paras, 22, 12)


def _agenda(deck) -> None:
    model = deck.model
    k = len(model.segments)
    items = ["Executive summary: the portfolio and three findings",
             f"Why {k} segments: how k was chosen",
             "Segment overview: sizes and spend",
             *(["Trends and migration since last month"] if _has_trends(model) else []),
             f"The {k} segments, one slide each",
             "Recommendations per segment",
             "Customer map and segment profiles",
             "Appendix: evidence for k, " + ("migration matrix, " if _has_migration(model) else "")
             + "data quality, run facts"]
    slide = _slide(deck, "content", "Agenda", (
        "This deck takes two minutes: the executive summary, why we use " f"{k} segments, who is in "
        "each segment and what marketing should do about it. Details for analysts are in the appendix."
    ))
    paras = [Para(item, bullet=True) for item in items]
    names = Para(" \u00b7 ".join(s.name for s in model.segments), scale=0.75, indent=True,
                 colour=MSO_THEME_COLOR.TEXT_2)
    paras.insert(items.index(f"The {k} segments, one slide each") + 1, names)  # under the segments item
    area = _area(deck, slide)
    (frame,) = _frames(slide, [area])
    _fill(deck, frame.text_frame, area, paras, 24, 11)


def _summary(deck) -> None:
    model = deck.model
    keys = ("customers", "balance", "purchases", "payments", "utilisation")
    kpis = [_kpi(model.kpis, key) for key in keys]
    figures = "; ".join(f"{k.label.lower()} {k.display}" for k in kpis)
    changes = model.changes[:CHANGES_SHOWN]
    slide = _slide(deck, "content", "Executive summary", (
        f"The portfolio this month ({model.facts.month}): {figures}. " + " ".join(model.findings)
        + (" What changed since last month: " + " ".join(model.changes) if model.changes else "")
    ))
    area = _area(deck, slide)
    tiles_rect, findings_rect = _split(area, (0.27, 0.73), gap=0.05, vertical=True)
    _tiles(deck, slide, _split(tiles_rect, [1] * len(kpis), gap=0.025),
           [(kpi.display, kpi.label, None) for kpi in kpis])
    paras = [Para("Findings", bold=True, colour=MSO_THEME_COLOR.TEXT_2)]
    paras += [Para(finding, bullet=True) for finding in model.findings]
    if not changes:
        (frame,) = _frames(slide, [findings_rect])
        _fill(deck, frame.text_frame, findings_rect, paras, 22, 11)
        return
    # Findings and what changed side by side, at one size.
    rects = _split(findings_rect, (0.5, 0.5), gap=0.04)
    changed = [Para("What changed since last month", bold=True, colour=MSO_THEME_COLOR.TEXT_2)]
    changed += [Para(line, bullet=True) for line in changes]
    size = min(fit_size(block, rect[2], rect[3], deck.body_font, 20, 10)
               for block, rect in zip((paras, changed), rects))
    for frame, block in zip(_frames(slide, rects), (paras, changed)):
        _write(frame.text_frame, block, size)


def _k_choice(deck) -> None:
    choice = deck.model.k_choice
    chosen = next((row for row in choice.rows if row.chosen), None)
    how = "set by the user" if choice.forced else "chosen by the rule"
    slide = _slide(deck, "title_only", f"Why {choice.chosen_k} segments", (
        f"We use k = {choice.chosen_k} segments ({how}). {choice.reason}. The chart shows, for each "
        "candidate k, the silhouette (how well separated the segments are; higher is better) and "
        "the stability (how alike the segments stay when the model is refitted on resamples, as a "
        f"mean adjusted Rand index; higher is better). The rule: {choice.rule}"
    ))
    area = _area(deck, slide)
    chart_rect, panel_rect = _split(area, (0.68, 0.32), gap=0.03)
    data = CategoryChartData(number_format="0.000")
    data.categories = [str(row.k) for row in choice.rows]
    data.add_series("Silhouette (separation)", [_finite(row.silhouette) for row in choice.rows])
    data.add_series("Stability (adjusted Rand index)", [_finite(row.stability) for row in choice.rows])
    chart = slide.shapes.add_chart(XL_CHART_TYPE.LINE_MARKERS, *chart_rect, data).chart
    _style_chart(chart, chart_rect, legend=XL_LEGEND_POSITION.BOTTOM)
    chart.value_axis.minimum_scale, chart.value_axis.maximum_scale = 0.0, 1.0
    chart.value_axis.major_unit = 0.2
    chart.value_axis.tick_labels.number_format = "0.0"
    chart.value_axis.tick_labels.number_format_is_linked = False
    _axis_title(chart.category_axis, "k (number of segments)", chart_rect)
    index = next((i for i, row in enumerate(choice.rows) if row.chosen), None)
    for series, theme in zip(chart.plots[0].series, (MSO_THEME_COLOR.ACCENT_1, MSO_THEME_COLOR.ACCENT_2)):
        series.smooth = False
        series.format.line.color.theme_color = theme
        series.format.line.width = Pt(2.5)
        series.marker.style = XL_MARKER_STYLE.CIRCLE
        series.marker.size = 7
        series.marker.format.fill.solid()
        series.marker.format.fill.fore_color.theme_color = theme
        series.marker.format.line.color.theme_color = theme
        if index is not None:
            point = series.points[index]
            point.marker.style = XL_MARKER_STYLE.CIRCLE
            point.marker.size = 13
            point.marker.format.fill.solid()
            point.marker.format.fill.fore_color.theme_color = theme
    paras = [Para(f"k = {choice.chosen_k}", scale=1.8, bold=True, colour=MSO_THEME_COLOR.TEXT_2),
             Para(f"{choice.reason}.")]
    if chosen is not None:
        paras += [Para(f"Silhouette {format_number(chosen.silhouette, 3)}", bullet=True),
                  Para(f"Stability {format_number(chosen.stability, 3)}", bullet=True),
                  Para(f"Smallest segment {format_share(chosen.min_share)} of customers", bullet=True)]
    panel = slide.shapes.add_textbox(*panel_rect)
    _fill(deck, panel.text_frame, panel_rect, paras, 18, 10, anchor=MSO_ANCHOR.MIDDLE)


def _sizes(deck) -> None:
    segments = deck.model.segments
    largest = max(segments, key=lambda s: s.customers)
    slide = _slide(deck, "title_only", "Segment sizes", (
        f"The {len(segments)} segments by number of customers. {largest.name} is the largest with "
        f"{format_count(largest.customers)} customers ({format_share(largest.share)}). "
        + " ".join(f"{s.name}: {format_count(s.customers)} customers, {format_share(s.share)}."
                   for s in segments)
    ))
    area = _area(deck, slide)
    data = CategoryChartData(number_format="#,##0")
    data.categories = [_category(s.name) for s in segments]
    data.add_series("Customers", [s.customers for s in segments])
    chart = slide.shapes.add_chart(XL_CHART_TYPE.BAR_CLUSTERED, *area, data).chart
    font = _style_chart(chart, area, legend=None)
    plot = chart.plots[0]
    plot.gap_width = 45
    plot.vary_by_categories = False
    chart.category_axis.reverse_order = True
    chart.category_axis.format.line.fill.background()
    value_axis = chart.value_axis
    value_axis.has_major_gridlines = False
    value_axis.maximum_scale = max(s.customers for s in segments) * 1.3
    value_axis.minimum_scale = 0
    value_axis.visible = False
    series = plot.series[0]
    for point, segment in zip(series.points, segments):
        point.format.fill.solid()
        point.format.fill.fore_color.rgb = RGBColor.from_string(segment.color.lstrip("#"))
        label = point.data_label
        label.has_text_frame = True
        label.text_frame.text = f"{format_count(segment.customers)} ({format_share(segment.share)})"
        label.text_frame.paragraphs[0].runs[0].font.size = Pt(font)
        label.text_frame.paragraphs[0].runs[0].font.bold = True
        label.position = XL_LABEL_POSITION.OUTSIDE_END


_COMPARED = (("avg_balance", "Average balance"), ("avg_purchases", "Average purchases"),
             ("avg_payments", "Average payments"))


def _comparison(deck) -> None:
    segments = deck.model.segments
    slide = _slide(deck, "title_only", "Balance, purchases and payments per customer", (
        "Average balance, purchases and payments per customer in each segment. "
        + " ".join(f"{s.name}: " + ", ".join(f"{label.lower()} {_kpi(s.kpis, key).display}"
                                            for key, label in _COMPARED) + "." for s in segments)
    ))
    area = _area(deck, slide)
    data = CategoryChartData(number_format="$#,##0")
    data.categories = [label for _key, label in _COMPARED]
    for segment in segments:
        data.add_series(_category(segment.name), [_finite(_kpi(segment.kpis, key).value) for key, _ in _COMPARED])
    chart = slide.shapes.add_chart(XL_CHART_TYPE.COLUMN_CLUSTERED, *area, data).chart
    _style_chart(chart, area, legend=XL_LEGEND_POSITION.BOTTOM)
    plot = chart.plots[0]
    plot.gap_width = 70
    plot.overlap = 0
    chart.value_axis.tick_labels.number_format = "$#,##0"
    chart.value_axis.tick_labels.number_format_is_linked = False
    chart.value_axis.minimum_scale = 0
    for series, segment in zip(plot.series, segments):
        series.format.fill.solid()
        series.format.fill.fore_color.rgb = RGBColor.from_string(segment.color.lstrip("#"))


def _has_trends(model) -> bool:
    history = model.history
    return history is not None and len(history.months) >= 2 and bool(history.series)


def _has_migration(model) -> bool:
    history = model.history
    return history is not None and history.migration is not None and bool(history.migration.counts)


def _trends(deck) -> None:
    """Segment sizes over the recorded months: a native line chart in persona colours and the
    change of each segment since the first month."""
    model = deck.model
    if not _has_trends(model):
        return
    history = model.history
    months = history.months
    first, last = month_short(months[0]), month_short(months[-1])
    # Largest segment first: the panel lists the lines top to bottom as they end, so it is the key.
    moves = sorted(((s, s.customers[0], s.customers[-1]) for s in history.series), key=lambda t: -(t[2] or 0))
    slide = _slide(deck, "title_only", f"Trends: segment sizes, {first} to {last}", (
        f"Customers per segment over the last {len(months)} months, {first} to {last}. Segments keep their "
        f"names and colours from month to month. " + " ".join(_trend_sentence(s, start, end, first)
                                                               for s, start, end in moves)
        + f" The portfolio: {format_count(history.portfolio_customers[0])} customers in {first}, "
          f"{format_count(history.portfolio_customers[-1])} in {last}."
    ))
    area = _area(deck, slide)
    chart_rect, panel_rect = _split(area, (0.7, 0.3), gap=0.03)
    data = CategoryChartData(number_format="#,##0")
    data.categories = [month_short(m) for m in months]
    for series in history.series:
        data.add_series(_category(series.name), [None if v is None else int(v) for v in series.customers])
    chart = slide.shapes.add_chart(XL_CHART_TYPE.LINE_MARKERS, *chart_rect, data).chart
    _style_chart(chart, chart_rect, legend=None)  # the panel beside it names every line in its colour
    chart.value_axis.minimum_scale = 0
    chart.value_axis.tick_labels.number_format = "#,##0"
    chart.value_axis.tick_labels.number_format_is_linked = False
    _axis_title(chart.value_axis, "Customers", chart_rect)
    for plotted, series in zip(chart.plots[0].series, history.series):
        colour = RGBColor.from_string(series.color.lstrip("#"))
        plotted.smooth = False
        plotted.format.line.color.rgb = colour
        plotted.format.line.width = Pt(2.5)
        plotted.marker.style = XL_MARKER_STYLE.CIRCLE
        plotted.marker.size = 7
        plotted.marker.format.fill.solid()
        plotted.marker.format.fill.fore_color.rgb = colour
        plotted.marker.format.line.color.rgb = colour
    paras = [Para(f"Customers in {last}, change since {first}", bold=True, colour=MSO_THEME_COLOR.TEXT_2)]
    for series, start, end in moves:
        paras.append(Para(_cut_words(series.name), bold=True, mark=series.color))
        now = "" if end is None else f"{format_count(end)} \u00b7 "
        paras.append(Para(now + _change(start, end), indent=True))
    panel = slide.shapes.add_textbox(*panel_rect)
    _fill(deck, panel.text_frame, panel_rect, paras, 18, 10, anchor=MSO_ANCHOR.MIDDLE)


def _change(start, end) -> str:
    """``+146 (+30.4%)``; for a segment that appeared or vanished, says so."""
    if end is None:
        return "no longer a segment"
    if start is None or not start:
        return f"new, {format_count(end)} customers"
    return f"{end - start:+,d} ({'+' if end > start else ''}{format_share((end - start) / start)})"


def _trend_sentence(series, start, end, first: str) -> str:
    if end is None:
        return f"{series.name} no longer exists as a segment."
    if start is None:
        return f"{series.name} appeared with {format_count(end)} customers now."
    return (f"{series.name}: {format_count(start)} customers in {first}, {format_count(end)} now "
            f"({_change(start, end)}).")


def _migration(deck) -> None:
    """Customers moving between segments since last month, on two slides: the heatmap picture
    (when drawn), then the largest moves beside the at-risk call-out for marketing and risk with
    the playbook's first action and risk note (the full matrix is in the appendix)."""
    model = deck.model
    if not _has_migration(model):
        return
    migration = model.history.migration
    risky = [s for s in model.segments if s.persona_key in AT_RISK]
    inflows = [(s, _moved_into(migration, s.name)) for s in risky]
    share = format_share(migration.moved / max(migration.customers_both, 1))
    since, now = month_short(migration.month_from), month_short(migration.month_to)
    lede = (f"{format_count(migration.moved)} of {format_count(migration.customers_both)} customers ({share}) "
            "changed segment.")
    advice = " ".join(f"For the {format_count(n)} who moved into {s.name}: {_playbook_advice(s)}"
                      for s, n in inflows if n and (s.actions or s.risks))
    story = (f"Customers seen in both {since} and {now}: {lede} " + " ".join(migration.highlights) + " "
             + " ".join(migration.at_risk) + " " + advice)
    if "migration" in deck.charts:
        _picture_slide(deck, "migration", f"Migration since {since}", (
            f"Rows are the segment in {since}, columns the segment in {now}; grey cells are the customers who "
            f"stayed, orange cells the movers (darker: more). {story}"
        ), caption=lede + (" " + migration.highlights[0] if migration.highlights else ""))
    slide = _slide(deck, "title_only", f"Migration: who moved, who is at risk", (
        story + " The full matrix is in the appendix."
    ))
    area = _area(deck, slide)
    heading = MSO_THEME_COLOR.TEXT_2
    moves = [Para(f"Since {since}", bold=True, colour=heading), Para(lede, bold=True)]
    moves += [Para(line, bullet=True) for line in migration.highlights]
    moves += [Para("Customers who changed segment are in this month's target list of their new segment.",
                   scale=0.85, colour=heading)]
    if migration.at_risk:
        risk = [Para("At risk: for marketing and risk", bold=True, colour=_RISK_INK)]
        risk += [Para(line, bullet=True, colour=MSO_THEME_COLOR.TEXT_1) for line in migration.at_risk]
        for segment, n in inflows:
            if n and (segment.actions or segment.risks):
                risk.append(Para(f"{segment.name} \u2013 {_playbook_advice(segment)}", scale=0.85, indent=True,
                                 colour=MSO_THEME_COLOR.TEXT_1))
    elif risky:
        risk = [Para(f"Nobody moved into {' or '.join(s.name for s in risky)} since {since}.",
                     colour=MSO_THEME_COLOR.TEXT_1)]
    else:
        risk = []
    if not risk:
        _fill(deck, slide.shapes.add_textbox(*area).text_frame, area, moves, 20, 10)
        return
    moves_rect, risk_rect = _split(area, (0.42, 0.58), gap=0.04)
    box = _rectangle(slide, risk_rect)
    box.fill.fore_color.rgb = RGBColor.from_string(_RISK_FILL.lstrip("#"))
    rule = _rectangle(slide, (risk_rect[0], risk_rect[1], max(round(risk_rect[2] * 0.012), 1), risk_rect[3]))
    rule.fill.fore_color.rgb = RGBColor.from_string(_RISK_INK.lstrip("#"))
    inset = max(round(risk_rect[2] * 0.03), 1)
    text_rect = (risk_rect[0] + inset, risk_rect[1], risk_rect[2] - inset, risk_rect[3])
    size = min(fit_size(moves, moves_rect[2], moves_rect[3], deck.body_font, 20, 10),
               fit_size(risk, text_rect[2], text_rect[3], deck.body_font, 20, 10))
    _write(slide.shapes.add_textbox(*moves_rect).text_frame, moves, size, anchor=MSO_ANCHOR.TOP)
    frame = box.text_frame
    _write(frame, risk, size, anchor=MSO_ANCHOR.MIDDLE)
    frame.margin_left = _INSET_X + inset  # clear of the red rule


_RISK_FILL, _RISK_INK = "#FDF0EE", "#8C1D18"


def _moved_into(migration, name: str) -> int:
    """Customers who moved into segment ``name`` from another segment."""
    if name not in migration.names_to:
        return 0
    column = migration.names_to.index(name)
    return sum(row[column] for source, row in zip(migration.names_from, migration.counts) if source != name)


def _playbook_advice(segment) -> str:
    """The playbook's first action and risk note of ``segment``: ``Marketing: ... Risk: ...``."""
    parts = [f"Marketing: {_sentence(segment.actions[0])}"] if segment.actions else []
    parts += [f"Risk: {_sentence(segment.risks[0])}"] if segment.risks else []
    return " ".join(parts)


def _sentence(text: str) -> str:
    text = clean_text(text, single_line=True)
    return text if not text or text[-1] in ".!?" else text + "."


def _segments(deck) -> None:
    for segment in deck.model.segments:
        _segment(deck, segment)


_SEGMENT_KPIS = ("avg_balance", "avg_purchases", "utilisation")


def _segment(deck, segment) -> None:
    kpis = [_kpi(segment.kpis, key) for key in _SEGMENT_KPIS]
    who = f"{format_count(segment.customers)} customers, {format_share(segment.share)} of the portfolio"
    slide = _slide(deck, "two_content", segment.name, (
        f"{segment.name}: {who}. {segment.description} "
        + " ".join(f"{k.label}: {k.display}." for k in kpis)
        + (" Typical traits: " + ", ".join(segment.traits) + "." if segment.traits else "")
        + (" What marketing should do: " + "; ".join(segment.actions) + "." if segment.actions else "")
        + (" Risks to watch: " + "; ".join(segment.risks) + "." if segment.risks else "")
    ))
    bodies = [ph for ph in body_placeholders(slide) if None not in (ph.left, ph.top, ph.width, ph.height)]
    if len(bodies) >= 2:
        lefts = [int(ph.left) for ph in bodies]
        tops = [int(ph.top) for ph in bodies]
        right = max(int(ph.left + ph.width) for ph in bodies)
        bottom = max(int(ph.top + ph.height) for ph in bodies)
        area = (min(lefts), min(tops), right - min(lefts), bottom - min(tops))
    else:
        area = _area(deck, slide)
    strip, columns = _split(area, (0.25, 0.75), gap=0.05, vertical=True)
    tiles = _split(strip, (1.25, 1, 1, 1), gap=0.025)
    _tiles(deck, slide, tiles,
           [(format_count(segment.customers), f"customers \u00b7 {format_share(segment.share)} of all",
             segment.color)] + [(kpi.display, kpi.label, None) for kpi in kpis], largest=26)
    heading = MSO_THEME_COLOR.TEXT_2
    left = [Para(segment.description)]
    if segment.traits:
        left += [Para("Traits", bold=True, colour=heading)] + [Para(t, bullet=True) for t in segment.traits]
    right = []
    if segment.actions:
        right += [Para("Marketing actions", bold=True, colour=heading)]
        right += [Para(a, bullet=True) for a in segment.actions]
    if segment.risks:
        right += [Para("Risk notes", bold=True, colour=heading)] + [Para(r, bullet=True) for r in segment.risks]
    # the column with more to say gets more room (between 35% and 65% of the width)
    amounts = [sum(len(p.text) + 40 for p in paras) for paras in (left, right)]
    share = min(max(amounts[0] / sum(amounts), 0.35), 0.65)
    left_rect, right_rect = _split(columns, (share, 1 - share), gap=0.04)
    frames = _frames(slide, [left_rect, right_rect])
    size = min(fit_size(paras, rect[2], rect[3], deck.body_font, 18, 10)
               for paras, rect in ((left, left_rect), (right, right_rect)) if paras)
    for frame, paras in zip(frames, (left, right)):
        if paras:
            _write(frame.text_frame, paras, size)


def _recommendations(deck) -> None:
    segments = deck.model.segments
    header = [(Para("Segment", bold=True),), (Para("Description", bold=True),), (Para("Action", bold=True),)]
    rows = [((Para(_cut_words(s.name), bold=True, mark=s.color),
              Para(f"{format_count(s.customers)} customers ({format_share(s.share)})", scale=0.85)),
             (Para(s.description),),
             (Para(s.actions[0] if s.actions else "No action set in the playbook"),))
            for s in segments]
    notes = "What to do, segment by segment. " + " ".join(
        f"{s.name}: " + ("; ".join(s.actions) if s.actions else "no action in the playbook") + "."
        for s in segments)
    probe = _slide_probe(deck, "title_only")
    pages = _table_pages(deck, probe, header, rows, (0.28, 0.36, 0.36), largest=16, smallest=10, comfortable=12)
    for number, (size, chunk) in enumerate(pages, start=1):
        suffix = f" ({number} of {len(pages)})" if len(pages) > 1 else ""
        slide = _slide(deck, "title_only", f"Recommendations{suffix}", notes)
        _table(slide, _area(deck, slide), header, chunk, (0.28, 0.36, 0.36), size, deck.body_font)


def _pictures(deck) -> None:
    scatter = deck.model.scatter
    explained = " and ".join(format_share(v) for v in scatter.explained)
    shown = f"{format_count(len(scatter.x))} of {format_count(scatter.total_customers)} customers"
    _picture_slide(deck, "pca", "Customer map: where the segments sit", (
        f"Each dot is a customer, coloured by segment, placed by the first two principal components "
        f"of the transformed features (they explain {explained} of the variance). The picture shows "
        f"a sample of {shown}. Segments that overlap here can still differ on features the map flattens."
    ), caption=f"A sample of {shown}; the two components explain {explained} of the variance.")
    _picture_slide(deck, "profile_heat", "Segment profiles against the portfolio", (
        "How each segment's typical customer differs from the portfolio, feature by feature, in "
        "standard deviations: the traits on the segment slides come from the largest differences."
    ), caption="How far each segment's average sits from the portfolio's, in standard deviations.")


def _picture_slide(deck, key: str, title: str, notes: str, *, caption: str | None = None) -> None:
    """A title, the chart picture and a one-line caption (default: the chart's title); the chart's
    alt text is the picture's description and ends the speaker notes."""
    chart = deck.charts[key]
    slide = _slide(deck, "title_only", title, notes + " " + clean_text(chart.alt))
    area = _area(deck, slide)
    picture_rect, caption_rect = _split(area, (0.91, 0.09), gap=0.01, vertical=True)
    _place_picture(slide, chart, picture_rect)
    box = slide.shapes.add_textbox(*caption_rect)
    _fill(deck, box.text_frame, caption_rect,
          [Para(caption or chart.title, colour=MSO_THEME_COLOR.TEXT_2, align=PP_ALIGN.CENTER)], 14, 9,
          anchor=MSO_ANCHOR.MIDDLE)


def _place_picture(slide, chart, rect) -> None:
    """Add the chart's PNG centred in ``rect`` at the largest size that keeps its aspect ratio."""
    left, top, width, height = rect
    if chart.width_px <= 0 or chart.height_px <= 0:
        raise RenderError(f"PowerPoint deck: chart {chart.key!r} has no size ({chart.width_px} x {chart.height_px} px)")
    scale = min(width / chart.width_px, height / chart.height_px)
    w, h = int(chart.width_px * scale), int(chart.height_px * scale)
    try:
        picture = slide.shapes.add_picture(io.BytesIO(chart.png), left + (width - w) // 2, top + (height - h) // 2, w, h)
    except Exception as exc:  # python-pptx raises assorted errors on image bytes it cannot read
        raise RenderError(f"PowerPoint deck: chart {chart.key!r} is not a readable picture ({exc})") from exc
    picture.name = clean_text(f"Chart {chart.key}", single_line=True)
    picture._element.nvPicPr.cNvPr.set("descr", clean_text(chart.alt, single_line=True))


def _appendix(deck) -> None:
    slide = _slide(deck, "section", None, "The appendix holds the evidence behind the number of segments, "
                   "what loading and validation did to the extract, and the facts needed to rerun the report.",
                   chrome=False)
    _set_title(deck, slide, "Appendix", largest=36, smallest=18)
    body = body_placeholders(slide)
    if body:
        _fill(deck, body[0].text_frame, _rect(body[0]),
              [Para(" \u00b7 ".join(("Evidence for k", *(("migration matrix",) if _has_migration(deck.model) else ()),
                                   "data quality", "run facts")))], 20, 11)
    _k_table(deck)
    _migration_table(deck)
    for key, title in (("k_evidence", "Appendix: all the evidence for k"),
                       ("correlation", "Appendix: how the features move together")):
        if key in deck.charts:
            _picture_slide(deck, key, title, "For analysts: the picture behind the summary slides.")
    _quality(deck)
    _facts(deck)


_K_COLUMNS = ("k", "Silhouette", "Stability", "Calinski-Harabasz", "Davies-Bouldin", "Inertia",
              "Smallest segment", "Admissible")


def _k_table(deck) -> None:
    choice = deck.model.k_choice
    header = [(Para(name, bold=True),) for name in _K_COLUMNS]
    rows = []
    for row in choice.rows:
        cells = (str(row.k) + (" (chosen)" if row.chosen else ""), format_number(row.silhouette, 3),
                 format_number(row.stability, 3), format_number(row.calinski_harabasz, 0),
                 format_number(row.davies_bouldin, 3), format_number(row.inertia, 0),
                 format_share(row.min_share), "yes" if row.admissible else "no")
        rows.append(tuple((Para(text, bold=row.chosen),) for text in cells))
    widths = _word_fractions([header, *rows])
    notes = (f"Silhouette, Calinski-Harabasz and Davies-Bouldin are computed on a sample of "
             f"{format_count(choice.sample_size)} customers. The rule: {choice.rule} {choice.reason}.")
    probe = _slide_probe(deck, "title_only")
    pages = _table_pages(deck, probe, header, rows, widths, largest=14, smallest=9)
    for number, (size, chunk) in enumerate(pages, start=1):
        suffix = f" ({number} of {len(pages)})" if len(pages) > 1 else ""
        slide = _slide(deck, "title_only", f"Appendix: evidence for each k{suffix}", notes)
        _table(slide, _area(deck, slide), header, chunk, widths, size, deck.body_font)


def _migration_table(deck) -> None:
    """The migration matrix as a native table: rows last month's segment, columns this month's,
    with totals; customers who stayed are shaded, movers bold."""
    history = deck.model.history
    migration = history.migration if history is not None else None
    if migration is None or not migration.counts:
        return
    since, now = month_short(migration.month_from), month_short(migration.month_to)
    header = [(Para(f"{since} \u2193 {now} \u2192", bold=True),)]
    header += [(Para(_cut_words(name), bold=True, align=PP_ALIGN.RIGHT),) for name in migration.names_to]
    header += [(Para("Total", bold=True, align=PP_ALIGN.RIGHT),)]
    rows = []
    for source, counts in zip(migration.names_from, migration.counts):
        cells = [(Para(_cut_words(source), bold=True),)]
        cells += [(Para(format_count(c), bold=bool(c) and source != target, align=PP_ALIGN.RIGHT),)
                  for target, c in zip(migration.names_to, counts)]
        cells += [(Para(format_count(sum(counts)), align=PP_ALIGN.RIGHT),)]
        rows.append(tuple(cells))
    totals = [sum(column) for column in zip(*migration.counts)]
    rows.append(tuple([(Para("Total", bold=True),)]
                      + [(Para(format_count(t), bold=True, align=PP_ALIGN.RIGHT),) for t in totals]
                      + [(Para(format_count(migration.customers_both), bold=True, align=PP_ALIGN.RIGHT),)]))
    widths = _word_fractions([header, *rows])
    widths[0] = max(widths[0], sum(widths[1:]) / len(widths[1:]) * 1.6)
    notes = (f"Customers by segment in {since} (rows) and {now} (columns); the shaded diagonal is the customers "
             f"who stayed in their segment, bold numbers are the ones who moved. {format_count(migration.moved)} "
             f"of {format_count(migration.customers_both)} customers seen in both months changed segment.")
    probe = _slide_probe(deck, "title_only")
    pages = _table_pages(deck, probe, header, rows, widths, largest=14, smallest=9)
    for number, (size, chunk) in enumerate(pages, start=1):
        suffix = f" ({number} of {len(pages)})" if len(pages) > 1 else ""
        slide = _slide(deck, "title_only", f"Appendix: migration matrix, {since} to {now}{suffix}", notes)
        table = _table(slide, _area(deck, slide), header, chunk, widths, size, deck.body_font)
        for r, row in enumerate(chunk, start=1):
            source = row[0][0].text
            for c, target in enumerate(migration.names_to, start=1):
                if _cut_words(target) == source:
                    cell = table.cell(r, c)
                    cell.fill.solid()
                    cell.fill.fore_color.rgb = RGBColor(0xE4, 0xE4, 0xE4)


def _quality(deck) -> None:
    quality = deck.model.quality
    lines = [f"{format_count(quality.rows_read)} rows read, {format_count(quality.rows_used)} used",
             f"File: {quality.file_format}, {quality.delimiter} delimited, {quality.encoding} encoding"]
    lines += [f"{c.column}: {format_count(c.count)} {c.note}" for c in quality.imputed]
    lines += [f"{c.column}: {format_count(c.count)} {c.note}" for c in quality.capped]
    if quality.renamed:
        lines.append("Columns renamed: " + ", ".join(f"{a} \u2192 {b}" for a, b in quality.renamed))
    if quality.ignored_columns:
        lines.append("Columns ignored: " + ", ".join(quality.ignored_columns))
    if not (quality.imputed or quality.capped):
        lines.append("No values were imputed or capped")
    slide = _slide(deck, "content", "Appendix: data quality", (
        "What loading and validation did to the extract before the analysis. " + ". ".join(lines) + "."
    ))
    area = _area(deck, slide)
    (frame,) = _frames(slide, [area])
    _fill(deck, frame.text_frame, area, [Para(line, bullet=True) for line in lines], 20, 10)


def _facts(deck) -> None:
    facts = deck.model.facts
    items = [("Input", f"{facts.input_name} ({facts.input_format})"),
             ("SHA-256", facts.input_sha256),
             ("Customers", format_count(facts.customers)),
             ("Segments", f"{facts.k} ({'set by the user' if facts.k_forced else 'chosen by the rule'})"),
             ("Seed", str(facts.seed)),
             ("Transform", facts.transform),
             ("Persona playbook", facts.playbook),
             ("Generated", facts.generated_at),
             ("Versions", " \u00b7 ".join(f"{name} {version}" for name, version in facts.versions))]
    header = [(Para("Fact", bold=True),), (Para("Value", bold=True),)]
    rows = [((Para(name, bold=True),), (Para(value),)) for name, value in items]
    probe = _slide_probe(deck, "title_only")
    pages = _table_pages(deck, probe, header, rows, (0.22, 0.78), largest=14, smallest=9)
    for number, (size, chunk) in enumerate(pages, start=1):
        suffix = f" ({number} of {len(pages)})" if len(pages) > 1 else ""
        slide = _slide(deck, "title_only", f"Appendix: run facts{suffix}", (
            "What was run, on what and with what: the input's name and SHA-256 checksum, the seed and "
            "the package versions reproduce this report exactly."))
        _table(slide, _area(deck, slide), header, chunk, (0.22, 0.78), size, deck.body_font)


# -- tables -------------------------------------------------------------------------------------

_CELL_X, _CELL_Y = Pt(5), Pt(3)


def _slide_probe(deck, role: str):
    """The content area of a ``role`` slide, measured on the layout (no slide is added)."""
    return tuple(int(v) for v in content_area(deck.layouts[role], deck.prs))


def _row_heights(rows, widths: Sequence[int], size: float, font: float, *, keep: float | None = None) -> list[int]:
    """Each row's height in EMU at base ``size``: its tallest cell plus the cell margins."""
    heights = []
    for row in rows:
        tallest = max(block_height(cell, size, Emu(width - 2 * _CELL_X).pt, font, keep=keep)
                      for cell, width in zip(row, widths))
        heights.append(int(Pt(min(tallest, 1e6))) + 2 * _CELL_Y)
    return heights


def _word_fractions(rows) -> list[float]:
    """Column shares in proportion to each column's longest unbreakable word (plus margins)."""
    need = [0.0] * len(rows[0])
    for row in rows:
        for column, cell in enumerate(row):
            for para in cell:
                longest = max((sum(_char_em(c) for c in word) for word, _gap in _words(_para_text(para))), default=0)
                need[column] = max(need[column], longest * para.scale * (_BOLD if para.bold else 1.0))
    return [value + 1.5 for value in need]


def _column_widths(total: int, fractions: Sequence[float]) -> list[int]:
    widths = [round(total * f / sum(fractions)) for f in fractions[:-1]]
    return widths + [total - sum(widths)]


def _table_pages(deck, area, header, rows, fractions, *, largest: float, smallest: float,
                 comfortable: float = 0, most_pages: int = 2):
    """Split ``rows`` over as few slides as needed and give each page the largest fitting size.

    A table that fits one slide only below ``comfortable`` points is split (up to ``most_pages``
    slides) when that lets it be read at ``comfortable`` or more.

    Returns ``[(size, rows), ...]``; with one row too tall even alone, that row gets its own page
    at ``smallest`` (its text may then be cut off: the playbook text is absurdly long).
    """
    widths = _column_widths(area[2], fractions)
    for count in range(1, len(rows) + 1):
        per_page = math.ceil(len(rows) / count)
        chunks = [rows[i:i + per_page] for i in range(0, len(rows), per_page)]
        sizes = []
        for chunk in chunks:
            def fits(size, chunk=chunk):
                return sum(_row_heights([header, *chunk], widths, size, deck.body_font, keep=smallest)) <= area[3]
            size = _largest_fit(fits, largest, smallest)
            if not fits(size):
                break
            sizes.append(size)
        else:
            size = min(sizes)  # one size for every page of the same table
            if size >= comfortable or len(chunks) >= most_pages:
                return [(size, chunk) for chunk in chunks]
    return [(smallest, [row]) for row in rows]


def _table(slide, area, header, rows, fractions, size: float, font: float):
    """Add a table of ``header`` and ``rows`` (cells are tuples of :class:`Para`) at ``size``."""
    left, top, width, _height = area
    widths = _column_widths(width, fractions)
    heights = _row_heights([header, *rows], widths, size, font)
    frame = slide.shapes.add_table(len(rows) + 1, len(widths), left, top, width, sum(heights))
    table = frame.table
    for column, column_width in zip(table.columns, widths):
        column.width = Emu(column_width)
    for row, row_height in zip(table.rows, heights):
        row.height = Emu(row_height)
    for r, cells in enumerate([header, *rows]):
        for c, paras in enumerate(cells):
            cell = table.cell(r, c)
            cell.margin_left = cell.margin_right = _CELL_X
            cell.margin_top = cell.margin_bottom = _CELL_Y
            cell.vertical_anchor = MSO_ANCHOR.TOP
            _write(cell.text_frame, paras, size, autofit=False)
    frame.height = Emu(sum(heights))
    return table


# -- charts -------------------------------------------------------------------------------------


def _finite(value):
    """A chart value: non-finite numbers become gaps (python-pptx would write "nan")."""
    return float(value) if value is not None and math.isfinite(value) else None


_LABEL_CHARS, _LABEL_WORD = 60, 20


def _category(name: str) -> str:
    """A segment name short enough for an axis label or legend entry: words over 24 characters
    and names over 60 are cut with an ellipsis (the segment's own slide carries the full name)."""
    label = _cut_words(name)
    return label if len(label) <= _LABEL_CHARS else label[:_LABEL_CHARS - 1].rstrip() + "\u2026"


def _cut_words(text: str) -> str:
    """``text`` on one line with every word over 24 characters cut short with an ellipsis."""
    return " ".join(w if len(w) <= _LABEL_WORD else w[:_LABEL_WORD - 1] + "\u2026"
                    for w in clean_text(text, single_line=True).split(" "))


def _style_chart(chart, rect, *, legend) -> float:
    """Font size from the chart's height, a legend where asked, light gridlines; returns the size."""
    size = max(10.0, min(14.0, round(Emu(rect[3]).pt / 30 * 2) / 2))
    chart.font.size = Pt(size)
    chart.has_title = False
    chart.has_legend = legend is not None
    if legend is not None:
        chart.legend.position = legend
        chart.legend.include_in_layout = False
        chart.legend.font.size = Pt(size)
    try:
        gridlines = chart.value_axis.major_gridlines.format.line
        gridlines.color.rgb = RGBColor(0xD9, 0xD9, 0xD9)
    except (ValueError, AttributeError):  # pragma: no cover - every chart here has a value axis
        pass
    return size


def _axis_title(axis, text: str, rect) -> None:
    axis.has_title = True
    frame = axis.axis_title.text_frame
    frame.text = clean_text(text, single_line=True)
    frame.paragraphs[0].runs[0].font.size = Pt(max(10.0, min(13.0, Emu(rect[3]).pt / 32)))
    frame.paragraphs[0].runs[0].font.bold = False


# -- metadata and the file ----------------------------------------------------------------------


def _timestamp(generated_at: str) -> datetime:
    """``generated_at`` as naive UTC (what the core properties store)."""
    try:
        stamp = datetime.fromisoformat(generated_at)
    except (TypeError, ValueError) as exc:
        raise RenderError(f"PowerPoint deck: generated_at {generated_at!r} is not an ISO 8601 time") from exc
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(timezone.utc).replace(tzinfo=None)
    return stamp.replace(microsecond=0)


def _set_properties(prs, model, stamp: datetime) -> None:
    facts = model.facts
    core = prs.core_properties
    core.title = clean_text(f"{facts.title} {facts.month}", single_line=True)[:255]
    core.author = core.last_modified_by = "reportgen"
    core.subject = clean_text(f"Customer segmentation: {len(model.segments)} segments, "
                              f"{format_count(facts.customers)} customers", single_line=True)
    core.keywords = clean_text(f"customer segmentation; personas; {facts.month}", single_line=True)
    core.comments = "generated by reportgen"
    core.category = "report"
    core.revision = 1
    core.created = core.modified = core.last_printed = stamp


_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_XLSX_DATES = re.compile(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)")


def _normalise_zip(data: bytes, stamp: datetime) -> bytes:
    """Rewrite the package with fixed entry times; the embedded chart workbooks get the report's
    time instead of XlsxWriter's "now", so the same model gives the same bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            payload = src.read(info.filename)
            if info.filename.startswith("ppt/embeddings/") and info.filename.endswith(".xlsx"):
                payload = _normalise_workbook(payload, stamp)
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(entry, payload)
    return out.getvalue()


def _normalise_workbook(data: bytes, stamp: datetime) -> bytes:
    when = stamp.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            payload = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                payload = _XLSX_DATES.sub(lambda m: m.group(1) + when + m.group(3), payload)
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(entry, payload)
    return out.getvalue()

"""Fitting text into PowerPoint boxes: how much room a text takes, the largest size at which it
fits a box, and writing it at that size.

PowerPoint is never left to shrink text: every size is computed from the text length and the box
(:func:`fit_size`), with the advance widths of the bundled Liberation Sans (Arial's metrics, read
from ``templates/fonts`` by :func:`reportgen.render.fonts.advance_widths`) widened for the
master's theme fonts and for the wider fonts viewers substitute (:func:`theme_font_scales`). Words
wrap at spaces and hyphens; a word longer than a line is broken anywhere, but a smaller size that
keeps an ordinary word whole is preferred. :func:`write_text` sets paragraphs with the spacing and
indents the measurements assume (``normAutofit`` only as a safety net). All text passes
:func:`slide_text`, which drops the characters XML 1.0 forbids.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from lxml import etree
from pptx.dml.color import RGBColor
from pptx.enum.text import MSO_AUTO_SIZE, PP_ALIGN
from pptx.opc.constants import RELATIONSHIP_TYPE as RT
from pptx.oxml import parse_xml
from pptx.oxml.ns import nsdecls, qn
from pptx.util import Emu, Pt

from reportgen.render.fonts import advance_widths
from reportgen.render.templating import clean_text

# -- text for PowerPoint ------------------------------------------------------------------------

_BREAKS = re.compile("[\x0b\x0c]|\r\n?")


def slide_text(text: object, *, single_line: bool = False) -> str:
    """``text`` as a string XML 1.0 (and so python-pptx) accepts.

    Vertical tab, form feed and carriage returns become line breaks; then control characters
    other than tab and newline, lone surrogates and U+FFFE/U+FFFF are dropped
    (:func:`reportgen.render.templating.clean_text`), and with ``single_line`` every run of whitespace
    becomes one space.
    """
    text = clean_text(_BREAKS.sub("\n", str(text)))
    return " ".join(text.split()) if single_line else text


# -- measuring ----------------------------------------------------------------------------------

# Theme fonts wider than Arial; anything else (Calibri included) is measured as the wider fonts
# viewers substitute for it (DejaVu Sans on Linux) so text fits in every viewer.
_FONT_SCALES = {"verdana": 1.25, "georgia": 1.2, "tahoma": 1.14, "dejavu sans": 1.15, "trebuchet ms": 1.14}
_DEFAULT_FONT_SCALE = 1.14
# Bold text is measured 10% wider than regular, not with Liberation Sans Bold's own widths (2-8%
# wider): the bold faces viewers substitute (DejaVu Sans Bold) widen more than the regular ones.
_BOLD = 1.1
_WIDTH_MARGIN = 0.94  # use 94% of a box's width: renderers differ in kerning and spacing
_TOKEN = 30  # words longer than this (checksums, hostile names) may be broken anywhere
_LINE = 1.22  # line height / font size
_SPACE = 0.4  # space before a paragraph / its font size
INSET_X, INSET_Y = Pt(5), Pt(3)
_BULLET = 1.1  # bullet indent / font size
FLOOR = 10.0  # no text on a slide is set smaller, whatever its scale (what an executive reads)


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
    """The advance width of ``char`` in em: the bundled Liberation Sans (Arial's metrics) where
    it has the character, else a full em for wide East Asian characters and 0.62 for the rest."""
    width = advance_widths("sans").get(ord(char))
    if width is not None:
        return width
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
    return ("\u25a0 " if para.mark else "") + slide_text(para.text)


def block_height(paras: Sequence[Para], size: float, width: float, font: float, *,
                 keep: float | None = None) -> float:
    """Height in points of ``paras`` at base ``size`` in a column ``width`` points wide; infinite
    if a word that fits whole at base size ``keep`` would have to be broken."""
    height = 0.0
    for number, para in enumerate(paras):
        points = max(size * para.scale, FLOOR)
        usable = width * _WIDTH_MARGIN - (points * _BULLET if para.bullet or para.indent else 0)
        kept = None if keep is None else max(keep * para.scale, FLOOR)
        lines = _wrapped_lines(_para_text(para), points, max(usable, 1.0), font, para.bold, kept)
        height += lines * points * _LINE
        height += points * _SPACE if number else 0
    return height


def fit_size(paras: Sequence[Para], width: int, height: int, font: float, largest: float, smallest: float,
             *, inset_x: int = INSET_X, inset_y: int = INSET_Y) -> float:
    """The largest base size (half-point steps, at least ``smallest``) at which ``paras`` fit a
    box of ``width`` x ``height`` EMU with the given insets. Sizes at which a word would have to
    be broken are passed over while any size avoids it."""
    usable_w, usable_h = Emu(width - 2 * inset_x).pt, Emu(height - 2 * inset_y).pt
    return largest_fit(lambda size: block_height(paras, size, usable_w, font, keep=smallest) <= usable_h,
                       largest, smallest)


def largest_fit(fits, largest: float, smallest: float) -> float:
    """The largest size in half-point steps for which ``fits(size)`` holds; ``smallest`` when none does."""
    size = largest
    while size >= smallest:
        if fits(size):
            return size
        size -= 0.5
    return smallest


def theme_font_scales(prs) -> tuple[float, float]:
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


def word_fractions(rows) -> list[float]:
    """Column shares in proportion to each column's longest unbreakable word (plus margins)."""
    need = [0.0] * len(rows[0])
    for row in rows:
        for column, cell in enumerate(row):
            for para in cell:
                longest = max((sum(_char_em(c) for c in word) for word, _gap in _words(_para_text(para))), default=0)
                need[column] = max(need[column], longest * para.scale * (_BOLD if para.bold else 1.0))
    return [value + 1.5 for value in need]


# -- writing ------------------------------------------------------------------------------------


def _colour(font_or_fill, colour) -> None:
    if isinstance(colour, str):
        font_or_fill.color.rgb = RGBColor.from_string(colour.lstrip("#"))
    elif colour is not None:
        font_or_fill.color.theme_color = colour


def write_text(frame, paras: Sequence[Para], size: float, *, anchor=None, autofit: bool = True) -> None:
    """Replace a text frame's content with ``paras`` at explicit sizes."""
    frame.clear()
    frame.word_wrap = True
    if autofit:
        frame.auto_size = MSO_AUTO_SIZE.TEXT_TO_FIT_SHAPE
        frame.margin_left = frame.margin_right = INSET_X
        frame.margin_top = frame.margin_bottom = INSET_Y
    if anchor is not None:
        frame.vertical_anchor = anchor
    for number, para in enumerate(paras):
        paragraph = frame.paragraphs[0] if number == 0 else frame.add_paragraph()
        points = max(round(size * para.scale * 2) / 2, FLOOR)
        _format_paragraph(paragraph, para, points, first=number == 0)
        if para.mark:
            _add_run(paragraph, "\u25a0 ", points, para.bold, para.mark)
        _add_run(paragraph, slide_text(para.text), points, para.bold, para.colour)


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


# -- shortening ---------------------------------------------------------------------------------

_LABEL_WORD = 20


def cut_words(text: str) -> str:
    """``text`` on one line with every word over 20 characters cut short with an ellipsis."""
    return " ".join(w if len(w) <= _LABEL_WORD else w[:_LABEL_WORD - 1] + "\u2026"
                    for w in slide_text(text, single_line=True).split(" "))

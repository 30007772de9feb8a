"""The pieces every slide of the deck is built from: the deck being built (:class:`Deck`), new
slides with their title, speaker notes, footer and slide number, rectangles of the content area,
KPI tiles, chart pictures and native tables sized to fit.

Everything is placed relative to the slide size and the layout's content area
(:func:`reportgen.render.deck.layouts.content_area`), so 16:9 and 4:3 masters both work; text is sized
by :mod:`reportgen.render.deck.textfit`.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Sequence
from dataclasses import dataclass

from pptx.dml.color import RGBColor
from pptx.enum.dml import MSO_THEME_COLOR
from pptx.enum.shapes import MSO_SHAPE, PP_PLACEHOLDER
from pptx.enum.text import MSO_ANCHOR, PP_ALIGN
from pptx.oxml.ns import qn
from pptx.util import Emu, Inches, Pt

from reportgen.errors import RenderError
from reportgen.render.deck.layouts import CHROME_TYPES, body_placeholders, content_area, title_placeholder
from reportgen.render.deck.safe_area import MIN_TITLE, Rect, carve, content_rect, master_graphics, title_rect
from reportgen.render.deck.safe_area import shape_rect as safe_shape_rect
from reportgen.render.deck.textfit import (
    FLOOR,
    INSET_X,
    INSET_Y,
    Para,
    block_height,
    fit_size,
    largest_fit,
    slide_text,
    write_text,
)

# -- the deck and its slides --------------------------------------------------------------------


@dataclass
class Deck:
    """What every slide builder needs: the presentation, its layouts, fonts and footer."""

    prs: object
    layouts: dict
    model: object
    charts: dict
    title_font: float
    body_font: float
    footer: str


def new_slide(deck, role: str, title: str | None, notes: str, *, chrome: bool = True):
    """A new slide of ``role`` with its title, speaker notes, footer and slide number."""
    slide = deck.prs.slides.add_slide(deck.layouts[role])
    if title is not None:
        set_title(deck, slide, title)
    if notes:
        frame = slide.notes_slide.notes_text_frame
        if frame is not None:
            frame.text = slide_text(notes)
    if chrome:
        _add_chrome(deck, slide)
    return slide


def set_title(deck, slide, text: str, *, largest: float = 28, smallest: float = 14) -> None:
    """Write the title into the title placeholder, moved clear of the master's graphics, or into
    a text box above the content room when the layout's title placeholder is missing or too small."""
    shape = title_placeholder(slide)
    size = (int(deck.prs.slide_width), int(deck.prs.slide_height))
    rect = title_rect(slide.slide_layout, size)
    if rect is None:
        if shape is not None:
            shape._element.getparent().remove(shape._element)
        shape = slide.shapes.add_textbox(*_title_band(slide.slide_layout, size).tuple())
    elif shape is not None and shape_rect(shape) != rect.tuple():
        shape.left, shape.top, shape.width, shape.height = (Emu(v) for v in rect.tuple())
    paras = [Para(slide_text(text, single_line=True), bold=True)]
    size = fit_size(paras, shape.width, shape.height, deck.title_font, largest, smallest)
    write_text(shape.text_frame, [Para(paras[0].text)], size)


def _title_band(layout, slide_size) -> Rect:
    """Room for a title text box: above the content room, inside its side margins, clear of graphics."""
    room = content_rect(layout, slide_size)
    top = round(slide_size[1] * 0.04)
    band = Rect(room.left, top, room.width, max(room.top - top - round(slide_size[1] * 0.02), 1))
    if band.height < Emu(Pt(40)):  # the room starts at the top: take its upper part
        band = Rect(room.left, room.top, room.width, round(room.height * 0.3))
    return carve(band, [g.rect for g in master_graphics(layout, slide_size)])


def _add_chrome(deck, slide) -> None:
    """Clone the layout's footer and slide-number placeholders (python-pptx does not), except
    one that would sit on a master graphic; a footer that does not fit at 10 pt is shortened to
    the month."""
    size = (int(deck.prs.slide_width), int(deck.prs.slide_height))
    graphics = [g.rect for g in master_graphics(slide.slide_layout, size)]
    for placeholder in slide.slide_layout.placeholders:
        kind = placeholder.placeholder_format.type
        rect = safe_shape_rect(placeholder)
        if kind not in (PP_PLACEHOLDER.FOOTER, PP_PLACEHOLDER.SLIDE_NUMBER) or rect is None:
            continue
        if any(rect.overlaps(g) for g in graphics):
            continue
        element = copy.deepcopy(placeholder._element)
        element.nvSpPr.cNvPr.set("id", str(slide.shapes._next_shape_id))
        slide.shapes._spTree.append(element)
        shape = slide.placeholders[placeholder.placeholder_format.idx]
        if kind == PP_PLACEHOLDER.FOOTER:
            for text in (deck.footer, deck.model.facts.month):
                paras = [Para(text)]
                points = fit_size(paras, shape.width, shape.height, deck.body_font, 10, FLOOR)
                if block_height(paras, points, Emu(shape.width - 2 * INSET_X).pt, deck.body_font) \
                        <= Emu(shape.height - 2 * INSET_Y).pt:
                    break
            write_text(shape.text_frame, paras, points)
            shape.text_frame.paragraphs[0].alignment = None
        else:
            _size_slide_number(shape)


def _size_slide_number(shape) -> None:
    """The slide number at 10 pt or more, whatever the master's default."""
    for rpr in shape._element.iter(qn("a:rPr"), qn("a:endParaRPr")):
        rpr.set("sz", str(max(int(rpr.get("sz", "1000")), 1000)))


def drop_empty_placeholders(slide) -> None:
    """Delete placeholders left empty (they would show "Click to add text" when edited)."""
    for shape in list(slide.placeholders):
        if shape.placeholder_format.type in CHROME_TYPES:
            continue
        if shape.has_text_frame and not shape.text_frame.text.strip():
            shape._element.getparent().remove(shape._element)


def kpi_of(kpis, key: str):
    """The KPI with ``key`` among ``kpis`` (a model's or a segment's)."""
    return next(k for k in kpis if k.key == key)


# -- geometry and text boxes --------------------------------------------------------------------


def shape_rect(shape) -> tuple[int, int, int, int]:
    """``(left, top, width, height)`` of ``shape`` in EMU."""
    return int(shape.left), int(shape.top), int(shape.width), int(shape.height)


def slide_area(deck, slide):
    """Where content goes on ``slide``, ``(left, top, width, height)`` in EMU (see ``content_area``)."""
    return tuple(int(v) for v in content_area(slide, deck.prs))


def usable_placeholder(deck, slide, placeholder) -> bool:
    """Can ``placeholder`` hold a line of text where it is: big enough (``MIN_TITLE``) and clear
    of the master's graphics?"""
    rect = safe_shape_rect(placeholder)
    size = (int(deck.prs.slide_width), int(deck.prs.slide_height))
    return (rect is not None and rect.width >= Emu(Inches(MIN_TITLE[0])) and rect.height >= Emu(Inches(MIN_TITLE[1]))
            and not any(rect.overlaps(g.rect) for g in master_graphics(slide.slide_layout, size)))


def free_area(deck, slide):
    """The slide's content room below its title (a cover's subtitle goes there when the layout
    offers no usable placeholder for it)."""
    size = (int(deck.prs.slide_width), int(deck.prs.slide_height))
    room = content_rect(slide.slide_layout, size)
    title = title_placeholder(slide) or next((s for s in slide.shapes if s.has_text_frame and s.text_frame.text), None)
    if title is not None and safe_shape_rect(title) is not None:
        room = carve(room, [safe_shape_rect(title)])
    return room.tuple()


def _layout_area(deck, role: str):
    """The content area of a ``role`` slide, measured on the layout (no slide is added)."""
    return tuple(int(v) for v in content_area(deck.layouts[role], deck.prs))


def split_rect(rect, fractions: Sequence[float], *, gap: float = 0.03, vertical: bool = False):
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


def text_frames(slide, rects) -> list:
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


def fill_text(deck, frame, rect, paras, largest, smallest, *, anchor=None) -> float:
    """Fit ``paras`` to ``rect`` and write them into ``frame``; returns the size used."""
    size = fit_size(paras, rect[2], rect[3], deck.body_font, largest, smallest)
    write_text(frame, paras, size, anchor=anchor)
    return size


# -- tiles and pictures -------------------------------------------------------------------------


def _text_on(hex_colour: str) -> str:
    """Dark or white text, whichever reads better on ``hex_colour``."""
    red, green, blue = (int(hex_colour.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4))
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    return "#1A1A1A" if luminance > 0.55 else "#FFFFFF"


def add_tiles(deck, slide, rects, items, *, largest: float = 28) -> None:
    """A row of KPI tiles, ``items`` being (value, label, fill colour or None): values large and
    labels small, each at one size for the whole row. A tile without a colour gets the theme's
    light background and an accent rule along the top."""
    font = deck.body_font
    value_size = min(fit_size([Para(value, bold=True)], w, round(h * 0.55), font, largest, 12)
                     for (_l, _t, w, h), (value, _label, _c) in zip(rects, items))
    label_size = min(fit_size([Para(label)], w, round(h * 0.45), font, 14, FLOOR)
                     for (_l, _t, w, h), (_value, label, _c) in zip(rects, items))
    for rect, (value, label, colour) in zip(rects, items):
        box, ink = _tile_box(slide, rect, colour)
        paras = [Para(value, bold=True, colour=ink, align=PP_ALIGN.CENTER),
                 Para(label, scale=label_size / value_size, colour=ink, align=PP_ALIGN.CENTER)]
        write_text(box.text_frame, paras, value_size, anchor=MSO_ANCHOR.MIDDLE)


def _tile_box(slide, rect, colour: str | None):
    """Draw a tile's rectangle (and accent rule); returns it and the text colour to use on it."""
    box = add_rectangle(slide, rect)
    if colour:
        box.fill.fore_color.rgb = RGBColor.from_string(colour.lstrip("#"))
        return box, _text_on(colour)
    box.fill.fore_color.theme_color = MSO_THEME_COLOR.BACKGROUND_2
    rule = add_rectangle(slide, (rect[0], rect[1], rect[2], max(round(rect[3] * 0.05), 1)))
    rule.fill.fore_color.theme_color = MSO_THEME_COLOR.ACCENT_1
    return box, MSO_THEME_COLOR.TEXT_1


def add_rectangle(slide, rect):
    """A filled rectangle without outline or shadow (its fill colour is set by the caller)."""
    shape = slide.shapes.add_shape(MSO_SHAPE.RECTANGLE, *rect)
    shape.shadow.inherit = False
    shape.line.fill.background()
    shape.fill.solid()
    return shape


def add_picture_slide(deck, key: str, title: str, notes: str, *, caption: str | None = None) -> None:
    """A title, the chart picture and a one-line caption (default: the chart's title); the chart's
    alt text is the picture's description and ends the speaker notes."""
    chart = deck.charts[key]
    slide = new_slide(deck, "title_only", title, notes + " " + slide_text(chart.alt))
    area = slide_area(deck, slide)
    picture_rect, caption_rect = split_rect(area, (0.91, 0.09), gap=0.01, vertical=True)
    _place_picture(slide, chart, picture_rect)
    box = slide.shapes.add_textbox(*caption_rect)
    fill_text(deck, box.text_frame, caption_rect,
              [Para(caption or chart.title, colour=MSO_THEME_COLOR.TEXT_2, align=PP_ALIGN.CENTER)], 14, FLOOR,
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
    picture.name = slide_text(f"Chart {chart.key}", single_line=True)
    picture._element.nvPicPr.cNvPr.set("descr", slide_text(chart.alt, single_line=True))


# -- tables -------------------------------------------------------------------------------------

_CELL_X, _CELL_Y = Pt(5), Pt(3)


def add_table_slides(deck, title: str, notes: str, header, rows, fractions, *, largest: float, smallest: float,
                     comfortable: float = 0) -> list:
    """``header`` and ``rows`` (cells are tuples of :class:`Para`) as a native table on as few
    "title_only" slides as it needs, each page at the largest size that fits (:func:`_table_pages`);
    ``title`` gets " (n of m)" when there are several. Returns ``[(table, its rows), ...]``."""
    pages = _table_pages(deck, _layout_area(deck, "title_only"), header, rows, fractions,
                         largest=largest, smallest=smallest, comfortable=comfortable)
    tables = []
    for number, (size, chunk) in enumerate(pages, start=1):
        suffix = f" ({number} of {len(pages)})" if len(pages) > 1 else ""
        slide = new_slide(deck, "title_only", title + suffix, notes)
        table = _add_table(slide, slide_area(deck, slide), header, chunk, fractions, size, deck.body_font)
        tables.append((table, chunk))
    return tables


def _row_heights(rows, widths: Sequence[int], size: float, font: float, *, keep: float | None = None) -> list[int]:
    """Each row's height in EMU at base ``size``: its tallest cell plus the cell margins."""
    heights = []
    for row in rows:
        tallest = max(block_height(cell, size, Emu(width - 2 * _CELL_X).pt, font, keep=keep)
                      for cell, width in zip(row, widths))
        heights.append(int(Pt(min(tallest, 1e6))) + 2 * _CELL_Y)
    return heights


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
        # balanced pages (5, 4, 4 rows rather than 5, 5, 3): no last slide left half empty
        base, extra = divmod(len(rows), count)
        bounds = [i * base + min(i, extra) for i in range(count + 1)]
        chunks = [rows[a:b] for a, b in zip(bounds, bounds[1:])]
        sizes = []
        for chunk in chunks:
            def fits(size, chunk=chunk):
                return sum(_row_heights([header, *chunk], widths, size, deck.body_font, keep=smallest)) <= area[3]
            size = largest_fit(fits, largest, smallest)
            if not fits(size):
                break
            sizes.append(size)
        else:
            size = min(sizes)  # one size for every page of the same table
            if size >= comfortable or len(chunks) >= most_pages:
                return [(size, chunk) for chunk in chunks]
    return [(smallest, [row]) for row in rows]


def _add_table(slide, area, header, rows, fractions, size: float, font: float):
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
            write_text(cell.text_frame, paras, size, autofit=False)
    frame.height = Emu(sum(heights))
    return table

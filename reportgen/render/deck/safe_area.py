"""Where a slide may hold the deck's content: the layout's room minus what the master draws.

Corporate masters put logos, bands, static text and pictures on the slide master and its layouts;
PowerPoint draws them on every slide, over or under whatever the deck adds. This module finds
those graphics (:func:`master_graphics`) and carves them out of a layout's room
(:func:`content_rect`, :func:`title_rect`), so no chart, table or text box of the deck lands on a
logo. A body placeholder gives the room when it is usable (:data:`MIN_BODY`); a placeholder too
small to hold text (a Google-Slides export's 0.3"-high bodies) is ignored and the room is the
slide under the title, inside the master's margins, above the footer row.

Rectangles are :class:`Rect` in EMU.
"""

from __future__ import annotations

from dataclasses import dataclass

from pptx.enum.shapes import PP_PLACEHOLDER
from pptx.util import Emu, Inches

TITLE_TYPES = frozenset({PP_PLACEHOLDER.TITLE, PP_PLACEHOLDER.CENTER_TITLE})
BODY_TYPES = frozenset({PP_PLACEHOLDER.BODY, PP_PLACEHOLDER.OBJECT})
CHROME_TYPES = frozenset({PP_PLACEHOLDER.DATE, PP_PLACEHOLDER.FOOTER, PP_PLACEHOLDER.SLIDE_NUMBER})

#: A body placeholder is the content room only when it covers this share of the slide's width and height.
MIN_BODY = (0.3, 0.35)
#: The content room must keep this share of the slide's width and height once graphics are carved out.
MIN_CONTENT = (0.5, 0.4)
#: A title placeholder narrower or lower than this (inches) is replaced by a text box.
MIN_TITLE = (3.0, 0.45)
#: Clearance kept between the deck's shapes and a master graphic.
CLEARANCE = int(Inches(0.08))
#: A graphic covering more than this share of the slide is a background, drawn under everything.
BACKGROUND_SHARE = 0.6


@dataclass(frozen=True)
class Rect:
    """A rectangle in EMU."""

    left: int
    top: int
    width: int
    height: int

    @property
    def right(self) -> int:
        return self.left + self.width

    @property
    def bottom(self) -> int:
        return self.top + self.height

    @property
    def area(self) -> int:
        return max(self.width, 0) * max(self.height, 0)

    def overlaps(self, other: Rect, *, slack: int = 0) -> bool:
        """Do the rectangles share more than ``slack`` EMU in both directions?"""
        return (min(self.right, other.right) - max(self.left, other.left) > slack
                and min(self.bottom, other.bottom) - max(self.top, other.top) > slack)

    def tuple(self) -> tuple[int, int, int, int]:
        return self.left, self.top, self.width, self.height

    def describe(self) -> str:
        """``0.60, 1.50 in, 12.13 x 4.80 in`` (left, top, width x height)."""
        inches = [Emu(v).inches for v in self.tuple()]
        return f"{inches[0]:.2f}, {inches[1]:.2f} in, {inches[2]:.2f} x {inches[3]:.2f} in"


@dataclass(frozen=True)
class Graphic:
    """A picture, shape or static text the master or a layout draws on every slide."""

    name: str
    source: str  # "master" or "layout"
    kind: str  # "picture", "text", "shape", "chart or table", "group"
    rect: Rect


def shape_rect(shape) -> Rect | None:
    """The shape's rectangle, or None when it has no position (inherits none)."""
    values = (shape.left, shape.top, shape.width, shape.height)
    return None if None in values else Rect(*(int(v) for v in values))


def master_graphics(layout, slide_size: tuple[int, int]) -> list[Graphic]:
    """What ``layout`` and (unless the layout hides them) its master draw that is not a
    placeholder, backgrounds excepted: the obstacles the deck keeps clear of."""
    width, height = slide_size
    sources = [("layout", layout)]
    if layout._element.get("showMasterSp", "1") not in ("0", "false"):
        sources.append(("master", layout.slide_master))
    found = []
    for source, owner in sources:
        for shape in owner.shapes:
            if shape.is_placeholder:
                continue
            rect = shape_rect(shape)
            if rect is None or rect.area == 0 or rect.area > BACKGROUND_SHARE * width * height:
                continue
            found.append(Graphic(shape.name, source, _kind(shape), rect))
    return found


def _kind(shape) -> str:
    tag = shape._element.tag.rsplit("}", 1)[-1]
    if tag == "pic":
        return "picture"
    if tag == "grpSp":
        return "group"
    if tag == "graphicFrame":
        return "chart or table"
    if shape.has_text_frame and shape.text_frame.text.strip():
        return "text"
    return "shape"


def carve(rect: Rect, obstacles) -> Rect:
    """The largest part of ``rect`` left when each obstacle (with clearance) is cut off the side
    that costs least: above, below, left or right of it."""
    for _ in range(len(obstacles) * 2 + 1):
        hit = next((o for o in obstacles if rect.overlaps(o, slack=0)), None)
        if hit is None:
            return rect
        o = Rect(hit.left - CLEARANCE, hit.top - CLEARANCE, hit.width + 2 * CLEARANCE, hit.height + 2 * CLEARANCE)
        options = [Rect(rect.left, rect.top, rect.width, o.top - rect.top),
                   Rect(rect.left, o.bottom, rect.width, rect.bottom - o.bottom),
                   Rect(rect.left, rect.top, o.left - rect.left, rect.height),
                   Rect(o.right, rect.top, rect.right - o.right, rect.height)]
        rect = max(options, key=lambda r: (r.area if r.width > 0 and r.height > 0 else -1))
        if rect.width <= 0 or rect.height <= 0:
            return Rect(rect.left, rect.top, max(rect.width, 0), max(rect.height, 0))
    return rect


def placeholders_of(slide_like, types) -> list:
    """Placeholders of ``types`` with a position, left to right then top to bottom."""
    found = [ph for ph in slide_like.placeholders if ph.placeholder_format.type in types
             and ph._element.ph.get("orient") != "vert" and shape_rect(ph) is not None]
    return sorted(found, key=lambda ph: (int(ph.left), int(ph.top)))


def usable_body(ph, slide_size) -> bool:
    """Is a body placeholder large enough to be the content room (:data:`MIN_BODY`)?"""
    rect = shape_rect(ph)
    return rect is not None and rect.width >= MIN_BODY[0] * slide_size[0] and rect.height >= MIN_BODY[1] * slide_size[1]


def content_rect(layout, slide_size: tuple[int, int]) -> Rect:
    """The room for content on slides of ``layout``, clear of every master graphic.

    The union of the layout's usable body placeholders when it has one; otherwise the slide
    between the title (or a top margin) and the footer row, inside the master's side margins.
    """
    bodies = [ph for ph in placeholders_of(layout, BODY_TYPES) if usable_body(ph, slide_size)]
    if bodies:
        rects = [shape_rect(ph) for ph in bodies]
        left, top = min(r.left for r in rects), min(r.top for r in rects)
        room = Rect(left, top, max(r.right for r in rects) - left, max(r.bottom for r in rects) - top)
    else:
        room = _room_under_title(layout, slide_size)
    obstacles = [g.rect for g in master_graphics(layout, slide_size)]
    return _clamp(carve(_clamp(room, slide_size), obstacles), slide_size)


def _margins(layout, width: int) -> tuple[int, int]:
    """Left and right margins: the master's body placeholder's, when it has sensible ones."""
    for source in (layout, layout.slide_master):
        for ph in placeholders_of(source, BODY_TYPES):
            rect = shape_rect(ph)
            if 0 < rect.left < width * 0.2 and rect.width > width * 0.5 and rect.right < width:
                return rect.left, width - rect.right
    margin = round(width * 0.05)
    return margin, margin


def _room_under_title(layout, slide_size) -> Rect:
    width, height = slide_size
    gap = round(height * 0.025)
    left, right = _margins(layout, width)
    titles = [shape_rect(ph) for ph in placeholders_of(layout, TITLE_TYPES)]
    titles = [r for r in titles if r.top < height * 0.35]
    top = max((r.bottom for r in titles), default=round(height * 0.06)) + gap
    bottom = footer_top(layout, height) - gap
    return Rect(left, top, width - left - right, bottom - top)


def footer_top(layout, height: int) -> int:
    """Where the footer row starts: the highest date/footer/number placeholder low on the slide."""
    tops = [shape_rect(ph).top for source in (layout, layout.slide_master)
            for ph in placeholders_of(source, CHROME_TYPES) if shape_rect(ph).top > height // 2]
    return min(tops, default=round(height * 0.95))


def title_rect(layout, slide_size: tuple[int, int]) -> Rect | None:
    """The title placeholder's rectangle cut clear of master graphics, or None when the layout has
    no title placeholder or what is left is smaller than :data:`MIN_TITLE`."""
    titles = placeholders_of(layout, TITLE_TYPES)
    if not titles:
        return None
    obstacles = [g.rect for g in master_graphics(layout, slide_size)]
    rect = shape_rect(titles[0])
    left, right = _margins(layout, slide_size[0])  # an edge-to-edge title keeps the master's margins
    start, end = max(rect.left, left), min(rect.right, slide_size[0] - right)
    rect = Rect(start, rect.top, end - start, rect.height)
    rect = _clamp(carve(_clamp(rect, slide_size), obstacles), slide_size)
    if rect.width < Inches(MIN_TITLE[0]) or rect.height < Inches(MIN_TITLE[1]):
        return None
    return rect


def big_enough(rect: Rect, slide_size) -> bool:
    """Does ``rect`` keep :data:`MIN_CONTENT` of the slide?"""
    return rect.width >= MIN_CONTENT[0] * slide_size[0] and rect.height >= MIN_CONTENT[1] * slide_size[1]


def _clamp(rect: Rect, slide_size) -> Rect:
    width, height = slide_size
    left, top = min(max(rect.left, 0), width - 1), min(max(rect.top, 0), height - 1)
    right, bottom = min(rect.right, width), min(rect.bottom, height)
    return Rect(left, top, max(right - left, 1), max(bottom - top, 1))

"""Find slide layouts and placeholders in any PowerPoint master, by name or type, never by index.

The renderer needs six layout *roles* (``ROLES``). Each role is resolved in this order:

1. an explicit mapping ``{role: layout name}`` from the user's config (``overrides``);
2. a layout whose name is one of the common names for the role (``LAYOUT_NAMES``, case-insensitive);
3. a layout whose placeholders have the role's shape: title = title + subtitle, content = title +
   one body, two_content = title + two bodies, title_only = a title alone, blank = nothing but
   date/footer/slide number (``PLACEHOLDER_SHAPES``);
4. a layout whose declared OOXML layout type fits the role (``LAYOUT_TYPES``, e.g. ``secHead``);
   placeholders alone cannot tell a section header from a content slide.

Names are matched for every role before placeholders are looked at, and a layout already matched
for one role is not offered to another (a layout the user chose in ``overrides`` still may be). Layouts of every slide master in the file are searched.

Every role but "blank" needs a title placeholder: a layout called "Title Slide" that has none (a
corporate cover with prompt-text boxes instead) is not matched by its name or type.
"content", "title_only" and "blank" are required (``REQUIRED_ROLES``): a master without them raises
:class:`~reportgen.errors.RenderError`. "title" falls back to the "section" layout, then to
"title_only"; "section" to "content"; "two_content" to "title_only" (``FALLBACKS``): the renderer
then places items itself, inside :func:`content_area` (the layout's room clear of the master's
graphics, :mod:`reportgen.render.deck.safe_area`).
"""

from __future__ import annotations

import io
import os
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lxml import etree
from pptx import Presentation
from pptx.enum.shapes import PP_PLACEHOLDER
from pptx.exc import PythonPptxError
from pptx.slide import SlideLayout
from pptx.util import Emu

from reportgen.errors import RenderError
from reportgen.render.deck.master import build_test_master  # noqa: F401  (re-exported for tests)
from reportgen.render.deck.safe_area import BODY_TYPES, CHROME_TYPES, TITLE_TYPES, content_rect

ROLES = ("title", "content", "section", "two_content", "title_only", "blank")
REQUIRED_ROLES = ("content", "title_only", "blank")
FALLBACKS = {"title": ("section", "title_only"), "section": ("content",), "two_content": ("title_only",)}

LAYOUT_NAMES = {
    "title": ("Title Slide", "Title"),
    "content": ("Title and Content", "Title & Content", "Title, Content", "Content"),
    "section": ("Section Header", "Section Heading", "Section Title"),
    "two_content": ("Two Content", "Two Contents", "Comparison"),
    "title_only": ("Title Only",),
    "blank": ("Blank",),
}

LAYOUT_TYPES = {
    "title": ("title",),
    "content": ("obj", "tx"),
    "section": ("secHead",),
    "two_content": ("twoObj", "twoColTx"),
    "title_only": ("titleOnly",),
    "blank": ("blank",),
}



@dataclass(frozen=True)
class PlaceholderShape:
    """How many placeholders of each kind a layout has (date, footer, slide number ignored)."""

    titles: int = 0
    subtitles: int = 0
    bodies: int = 0
    others: int = 0


PLACEHOLDER_SHAPES = {
    "title": (PlaceholderShape(titles=1, subtitles=1), "a title and a subtitle placeholder"),
    "content": (PlaceholderShape(titles=1, bodies=1), "a title and one body placeholder"),
    "section": (None, "layout type 'secHead'"),
    "two_content": (PlaceholderShape(titles=1, bodies=2), "a title and two body placeholders"),
    "title_only": (PlaceholderShape(titles=1), "a title placeholder only"),
    "blank": (PlaceholderShape(), "no placeholders but date, footer and slide number"),
}

_POTX = "application/vnd.openxmlformats-officedocument.presentationml.template.main+xml"
_PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"


def load_presentation(path: str | os.PathLike[str]):
    """Open a .pptx (or .potx template) file; any failure is a one-line :class:`RenderError`."""
    path = Path(path)
    if not path.is_file():
        raise RenderError(f"{path}: PowerPoint file not found")
    try:
        source = _potx_as_pptx(path) if path.suffix.lower() == ".potx" else str(path)
        return Presentation(source)
    except (PythonPptxError, zipfile.BadZipFile, zlib.error, KeyError, ValueError, OSError,
            etree.XMLSyntaxError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise RenderError(f"{path}: not a readable PowerPoint file ({reason})") from exc


def _potx_as_pptx(path: Path) -> io.BytesIO:
    """A .potx template re-labelled in memory as a presentation python-pptx will open."""
    out = io.BytesIO()
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "[Content_Types].xml":
                data = data.replace(_POTX.encode(), _PPTX.encode())
            dst.writestr(info, data)
    out.seek(0)
    return out


def find_layouts(
    prs,
    overrides: Mapping[str, str] | None = None,
    *,
    source: str | os.PathLike[str] | None = None,
) -> dict[str, SlideLayout]:
    """Map every role in ``ROLES`` to a layout of ``prs``.

    ``overrides`` maps roles to layout names chosen by the user; ``source`` (the master's path)
    names the file in error messages. Raises :class:`RenderError` for an unknown role or layout in
    ``overrides`` and when a required role has no layout.
    """
    found = match_layouts(prs, overrides, source=source)
    layouts = [layout for master in prs.slide_masters for layout in master.slide_layouts]
    _check_required(found, layouts, str(source) if source is not None else "presentation")
    return {role: found[role] if role in found else next(found[r] for r in FALLBACKS[role] if r in found)
            for role in ROLES}


def match_layouts(prs, overrides: Mapping[str, str] | None = None, *,
                  source: str | os.PathLike[str] | None = None) -> dict[str, SlideLayout]:
    """The roles a layout of ``prs`` serves directly (before fallbacks); see :func:`find_layouts`."""
    label = str(source) if source is not None else "presentation"
    layouts = [layout for master in prs.slide_masters for layout in master.slide_layouts]
    found = _apply_overrides(layouts, overrides or {}, label)
    found.update(_match_roles(layouts, skip=found.keys()))
    return found


def _apply_overrides(layouts, overrides: Mapping[str, str], label: str) -> dict:
    """The layouts the user named for some roles."""
    found = {}
    for role, name in overrides.items():
        if role not in ROLES:
            raise RenderError(
                f"{label}: unknown layout role {role!r} in overrides; valid roles: {', '.join(ROLES)}"
            )
        layout = next((lay for lay in layouts if _same_name(lay.name, name)), None)
        if layout is None:
            raise RenderError(
                f"{label}: layout {name!r} chosen for {role!r} does not exist; "
                f"layouts present: {_names(layouts)}"
            )
        found[role] = layout
    return found


def _match_roles(layouts, *, skip) -> dict:
    """Match roles not in ``skip``: by name for all, then by placeholders, then by layout type.

    A layout matched for one role is not offered to another.
    """
    matched: dict[str, SlideLayout] = {}
    for match in (_match_name, _match_placeholders, _match_layout_type):
        for role in (role for role in ROLES if role not in skip and role not in matched):
            taken = {id(layout.part) for layout in matched.values()}
            free = (lay for lay in layouts if id(lay.part) not in taken)
            layout = next((lay for lay in free if match(role, lay)), None)
            if layout is not None:
                matched[role] = layout
    return matched


def _match_name(role: str, layout) -> bool:
    """Is the layout called by one of the role's common names (and has the title it needs)?"""
    return _titled(role, layout) and any(_same_name(layout.name, name) for name in LAYOUT_NAMES[role])


def _titled(role: str, layout) -> bool:
    """Every role but "blank" puts its title in a title placeholder: does the layout have one?"""
    return role == "blank" or placeholder_shape(layout).titles > 0


def _match_placeholders(role: str, layout) -> bool:
    """Do the layout's placeholders have the role's shape, and its declared type not contradict?

    A custom layout ("cust", the default) may serve any role; a layout declaring a built-in type
    (say "secHead" or "vertTx") only serves the role of that type.
    """
    wanted = PLACEHOLDER_SHAPES[role][0]
    declared = layout._element.get("type", "cust")
    fits = declared == "cust" or declared in LAYOUT_TYPES[role]
    return wanted is not None and fits and placeholder_shape(layout) == wanted


def _match_layout_type(role: str, layout) -> bool:
    """Does the layout declare the OOXML layout type of the role (and have the title it needs)?"""
    return _titled(role, layout) and layout._element.get("type") in LAYOUT_TYPES[role]


def placeholder_shape(layout) -> PlaceholderShape:
    """Count a layout's title, subtitle, body and other placeholders, by placeholder type."""
    counts = {"titles": 0, "subtitles": 0, "bodies": 0, "others": 0}
    for ph in layout.placeholders:
        kind = ph.placeholder_format.type
        if kind in CHROME_TYPES:
            continue
        if ph._element.ph.get("orient") == "vert":  # vertical text is not a body for our slides
            kind = None
        key = ("titles" if kind in TITLE_TYPES else "subtitles" if kind == PP_PLACEHOLDER.SUBTITLE
               else "bodies" if kind in BODY_TYPES else "others")
        counts[key] += 1
    return PlaceholderShape(**counts)


def _check_required(found: Mapping, layouts, label: str) -> None:
    """Raise one line naming every missing required role, what was sought and what exists."""
    missing = [role for role in REQUIRED_ROLES if role not in found]
    if not missing:
        return
    problems = "; ".join(f"no layout for {role!r} ({_looked_for(role)})" for role in missing)
    raise RenderError(f"{label}: {problems}; layouts present: {_names(layouts)}")


def _looked_for(role: str) -> str:
    """What the finder tried for ``role``, in words."""
    names = [repr(name) for name in LAYOUT_NAMES[role]]
    named = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
    return f"looked for a layout named {named}, or one with {PLACEHOLDER_SHAPES[role][1]}"


def _same_name(a: str, b: str) -> bool:
    """Layout names compare case-insensitively, ignoring surrounding blanks."""
    return a.strip().casefold() == b.strip().casefold()


def _names(layouts) -> str:
    """The layout names, quoted, for error messages."""
    return ", ".join(repr(layout.name) for layout in layouts) or "none"


def title_placeholder(slide):
    """The slide's title placeholder (title or centred title), or None."""
    return next((ph for ph in slide.placeholders if _type(ph) in TITLE_TYPES), None)


def subtitle_placeholder(slide):
    """The slide's subtitle placeholder, or None."""
    return next((ph for ph in slide.placeholders if _type(ph) == PP_PLACEHOLDER.SUBTITLE), None)


def body_placeholders(slide) -> list:
    """The slide's body/content placeholders, left to right, then top to bottom within a column."""
    bodies = [ph for ph in slide.placeholders if _type(ph) in BODY_TYPES]
    return sorted(bodies, key=lambda ph: (ph.left or 0, ph.top or 0))


def content_area(slide_or_layout, prs) -> tuple[Emu, Emu, Emu, Emu]:
    """(left, top, width, height) in EMU where a chart, table or picture should go on slides of
    this layout: its usable body placeholder, else the room under the title, in both cases cut
    clear of every picture and graphic the master or layout draws (see
    :func:`reportgen.render.deck.safe_area.content_rect`)."""
    layout = getattr(slide_or_layout, "slide_layout", slide_or_layout)
    rect = content_rect(layout, (int(prs.slide_width), int(prs.slide_height)))
    return tuple(Emu(v) for v in rect.tuple())


def _type(ph):
    """A placeholder's type (python-pptx reports OBJECT when the type attribute is absent)."""
    return ph.placeholder_format.type

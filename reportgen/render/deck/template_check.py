"""Can a PowerPoint master hold the deck? ``reportgen check-template FILE`` and the build's up-front check.

:func:`check_template` opens a .pptx or .potx, finds the layout of each role
(:mod:`reportgen.render.deck.layouts`), measures each role's safe content area and title area
(:mod:`reportgen.render.deck.safe_area`) and lists every problem:

- errors (the deck cannot be built; ``build`` fails before any work): an unreadable file, a
  required layout missing, a layout whose room for content is too small once the master's logos
  and graphics are left clear;
- warnings (the deck is built, with a workaround): a picture or graphic over a placeholder, a
  placeholder too small to use, a cover layout without a title placeholder, a footer or slide
  number on a logo, a font the master asks for that this machine lacks (text is then drawn in a
  substitute and may run wider).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from lxml import etree
from pptx.opc.constants import RELATIONSHIP_TYPE as RT
from pptx.oxml.ns import qn
from pptx.util import Emu, Inches

from reportgen.errors import RenderError
from reportgen.render.deck.layouts import ROLES, find_layouts, load_presentation, match_layouts
from reportgen.render.deck.safe_area import (
    BODY_TYPES,
    CHROME_TYPES,
    MIN_CONTENT,
    MIN_TITLE,
    TITLE_TYPES,
    Rect,
    big_enough,
    content_rect,
    master_graphics,
    shape_rect,
    title_rect,
    usable_body,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a master: ``severity`` is "error" or "warning"."""

    severity: str
    message: str


@dataclass(frozen=True)
class RoleLayout:
    """The layout serving a role, its safe content area and title area (None: a text box is used)."""

    role: str
    layout: str
    stands_in_for: str | None  # the role whose layout is missing, when this is a fallback
    content: Rect
    title: Rect | None


@dataclass(frozen=True)
class TemplateReport:
    """What :func:`check_template` found."""

    path: str
    size: tuple[int, int]
    roles: tuple[RoleLayout, ...]
    problems: tuple[Problem, ...]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]


def check_template(path: str | os.PathLike[str], overrides=None) -> TemplateReport:
    """Check the master at ``path`` (layout ``overrides`` as in the config); never raises for a
    bad master: an unreadable file or missing layout is an error in the report."""
    label = str(path)
    try:
        prs = load_presentation(path)
    except RenderError as exc:
        return TemplateReport(label, (0, 0), (), (Problem("error", str(exc)),))
    size = (int(prs.slide_width), int(prs.slide_height))
    try:
        layouts = find_layouts(prs, dict(overrides or {}), source=path)
    except RenderError as exc:
        return TemplateReport(label, size, (), (Problem("error", str(exc)),))
    direct = match_layouts(prs, dict(overrides or {}), source=path)
    roles, problems = [], []
    for role in ROLES:
        layout = layouts[role]
        stands_in = None if role in direct else role
        roles.append(RoleLayout(role, layout.name, stands_in, content_rect(layout, size), title_rect(layout, size)))
        if stands_in and role == "title":
            problems.append(Problem("warning", "no cover layout with a title placeholder (a 'Title Slide' without "
                                               f"one is not used): the cover uses layout {layout.name!r}"))
    for role in ROLES:
        problems += _layout_problems(layouts[role], size, content=role in CONTENT_ROLES)
    problems += _font_problems(prs)
    return TemplateReport(label, size, tuple(roles), tuple(dict.fromkeys(problems)))


#: Roles whose slides hold charts, tables and text (the others hold a title and a line of text).
CONTENT_ROLES = ("content", "two_content", "title_only")


def _layout_problems(layout, size, *, content: bool) -> list[Problem]:
    name = repr(layout.name)
    problems = []
    graphics = master_graphics(layout, size)
    for ph in layout.placeholders:
        rect = shape_rect(ph)
        if rect is None:
            continue
        kind = ph.placeholder_format.type
        what = ("title" if kind in TITLE_TYPES else "body" if kind in BODY_TYPES
                else "footer/slide number" if kind in CHROME_TYPES else None)
        if what is None:
            continue
        for graphic in graphics:
            if rect.overlaps(graphic.rect):
                then = {"footer/slide number": "the deck leaves it out",
                        "title": "the deck narrows the title to keep clear of it"}.get(
                            what, "the deck keeps its content clear of it")
                problems.append(Problem("warning", f"layout {name}: {graphic.kind} {graphic.name!r} ({graphic.source}) "
                                                   f"overlaps the {what} placeholder; {then}"))
        if content and kind in BODY_TYPES and not usable_body(ph, size):
            problems.append(Problem("warning", f"layout {name}: body placeholder {Emu(rect.width).inches:.2f} x "
                                               f"{Emu(rect.height).inches:.2f} in is too small for content; the deck "
                                               "uses the slide under the title instead"))
        if kind in TITLE_TYPES and (rect.width < Inches(MIN_TITLE[0]) or rect.height < Inches(MIN_TITLE[1])):
            problems.append(Problem("warning", f"layout {name}: title placeholder {Emu(rect.width).inches:.2f} x "
                                               f"{Emu(rect.height).inches:.2f} in is too small; the deck writes the "
                                               "title in a text box instead"))
    room = content_rect(layout, size)
    if content and not big_enough(room, size):
        problems.append(Problem("error", f"layout {name}: the room for content clear of the master's graphics is "
                                         f"{room.describe()}, less than {MIN_CONTENT[0]:.0%} of the slide's width "
                                         f"and {MIN_CONTENT[1]:.0%} of its height"))
    return problems


def master_fonts(prs) -> list[str]:
    """Font families the master asks for: its theme's heading and body fonts and every typeface
    named in the masters and layouts (theme references such as "+mj-lt" aside)."""
    names = []
    for master in prs.slide_masters:
        try:
            theme = etree.fromstring(master.part.part_related_by(RT.THEME).blob)
        except (KeyError, etree.XMLSyntaxError):
            theme = None
        trees = [theme] if theme is not None else []
        trees += [master._element, *(layout._element for layout in master.slide_layouts)]
        for tree in trees:
            for node in tree.iter(qn("a:latin")):
                face = node.get("typeface", "").strip()
                if face and not face.startswith("+") and face not in names:
                    names.append(face)
    return names


def installed_fonts() -> set[str] | None:
    """Font families installed here (fontconfig's list, lower case); None when it cannot be read."""
    if shutil.which("fc-list") is None:
        return None
    try:
        listing = subprocess.run(["fc-list", ":", "family"], capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return {name.strip().casefold() for line in listing.stdout.splitlines() for name in line.split(",")}


def _font_problems(prs) -> list[Problem]:
    installed = installed_fonts()
    if installed is None:
        return []
    return [Problem("warning", f"font {face!r} asked for by the master is not installed on this machine: viewers "
                               "here draw a substitute, so text may run wider than in PowerPoint")
            for face in master_fonts(prs) if face.casefold() not in installed]


def format_report(report: TemplateReport) -> str:
    """The report as text: the layouts per role with their areas, then the problems."""
    lines = [f"{report.path}"]
    if report.size != (0, 0):
        width, height = (Emu(v).inches for v in report.size)
        lines[0] += f" ({width:.2f} x {height:.2f} in)"
    if report.roles:
        lines.append("layouts:")
        for role in report.roles:
            note = f" (no {role.role} layout: stands in)" if role.stands_in_for else ""
            title = role.title.describe() if role.title else "text box (no usable title placeholder)"
            lines.append(f"  {role.role:<12} {role.layout!r}{note}")
            lines.append(f"  {'':<12} content {role.content.describe()}; title {title}")
    if report.problems:
        lines.append("problems:")
        lines += [f"  {p.severity}: {p.message}" for p in report.problems]
    else:
        lines.append("no problems")
    return "\n".join(lines)


def check_master_for_build(path: str | os.PathLike[str], overrides=None) -> None:
    """The build's up-front check: errors raise :class:`RenderError` (one line, naming the file and
    the layout), warnings are logged."""
    report = check_template(path, overrides)
    if report.errors:
        prefix = f"{path}: "
        own = [p.message.removeprefix(prefix) for p in report.errors if p.message.startswith(prefix)]
        rooms = [p.message for p in report.errors if not p.message.startswith(prefix)]
        parts = own + ([f"cannot hold the deck: {'; '.join(rooms)}"] if rooms else [])
        raise RenderError(prefix + "; ".join(parts))
    for problem in report.warnings:
        log.warning("%s: %s", Path(path).name, problem.message)


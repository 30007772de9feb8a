"""The report's bundled fonts (``templates/fonts``: Liberation Sans and Mono 2.1.5, SIL OFL 1.1).

Every format sets its text in them, so pages and slides lay out the same on every machine:

- the PDF loads the files through ``@font-face`` rules in ``report/print.css`` (WeasyPrint embeds
  the glyphs it uses);
- the HTML report and the dashboard embed them (:func:`embed_fonts`): each face cut down to the
  characters the page contains, as WOFF ``data:`` URLs, so the file stays self-contained and
  small (a few tens of kilobytes instead of a megabyte). A cut-down font is a modified version
  under the OFL, which may not carry the reserved name "Liberation": its name records say
  "Report Sans" / "Report Mono", the CSS names; copyright and licence records are kept;
- the deck's text fitting measures with the regular and bold faces' advance widths
  (:func:`advance_widths`).
"""

from __future__ import annotations

import base64
import functools
import io
from dataclasses import dataclass
from pathlib import Path

from reportgen.resources import bundled_path

#: Where a rendered page wants its embedded ``@font-face`` rules (see :func:`embed_fonts`). The
#: ``<`` keeps text from the data out: autoescaping writes it as ``&lt;`` everywhere else.
FONT_MARK = "/* <reportgen-fonts> */"


@dataclass(frozen=True)
class Face:
    """One bundled font file and the CSS family, weight and PostScript name it is used under."""

    file: str
    family: str
    weight: str
    postscript: str


FACES: dict[str, Face] = {
    "sans": Face("LiberationSans-Regular.ttf", "Report Sans", "normal", "ReportSans-Regular"),
    "sans-bold": Face("LiberationSans-Bold.ttf", "Report Sans", "bold", "ReportSans-Bold"),
    "mono": Face("LiberationMono-Regular.ttf", "Report Mono", "normal", "ReportMono-Regular"),
}


def font_path(key: str) -> Path:
    """The bundled file of face ``key`` of :data:`FACES`."""
    return bundled_path("templates", "fonts", FACES[key].file)


def embed_fonts(document: str) -> str:
    """``document`` with :data:`FONT_MARK` replaced by ``@font-face`` rules that embed every face,
    each cut down to the characters of ``document``. A document without the mark (a user template
    that does not inline the ``css`` variable) is returned as it is."""
    if FONT_MARK not in document:
        return document
    characters = frozenset(document) | frozenset(" .0123456789")
    return document.replace(FONT_MARK, "\n".join(_face_rule(key, characters) for key in FACES), 1)


def _face_rule(key: str, characters: frozenset[str]) -> str:
    face = FACES[key]
    data = base64.b64encode(_subset(key, characters)).decode("ascii")
    return (f'@font-face {{ font-family: "{face.family}"; font-weight: {face.weight}; font-style: normal; '
            f'src: url("data:font/woff;base64,{data}") format("woff"); }}')


@functools.lru_cache(maxsize=8)
def _subset(key: str, characters: frozenset[str]) -> bytes:
    """Face ``key`` with the glyphs of ``characters`` only, renamed, as WOFF bytes (deterministic)."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    face = FACES[key]
    options = subset.Options()
    options.flavor = "woff"  # zlib: half the time of WOFF2 (brotli) for a few more kilobytes
    options.name_IDs = ["*"]  # keep the copyright and licence records
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.recalc_timestamp = False
    options.hinting = False  # screens hint themselves; the instructions are a third of the file
    # FontForge's build timestamps, and the OpenType layout tables: decoding them costs a second per
    # face, and for Latin, Greek and Cyrillic text they add kerning and nothing a reader would miss.
    dropped = ("FFTM", "GSUB", "GPOS", "GDEF")
    options.drop_tables += list(dropped)
    with TTFont(font_path(key), recalcTimestamp=False) as font:
        for tag in dropped:  # before the subsetter decodes them to close over substitutions
            if tag in font:
                del font[tag]
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=[ord(c) for c in characters])
        subsetter.subset(font)
        _rename(font, face)
        buffer = io.BytesIO()
        subset.save_font(font, buffer, options)
    return buffer.getvalue()


def _rename(font, face: Face) -> None:
    """Name records 1, 3, 4, 6, 16 and 17 under the CSS names (the OFL's reserved-name rule)."""
    style = "Bold" if face.weight == "bold" else "Regular"
    names = {1: face.family, 3: f"{face.postscript} (reportgen subset)", 4: f"{face.family} {style}",
             6: face.postscript, 16: face.family, 17: style}
    table = font["name"]
    for record in list(table.names):
        if record.nameID in names:
            table.setName(names[record.nameID], record.nameID, record.platformID, record.platEncID, record.langID)


@functools.lru_cache(maxsize=4)
def advance_widths(key: str) -> dict[int, float]:
    """Advance width in em of every character face ``key`` maps (code point -> width)."""
    from fontTools.ttLib import TTFont

    with TTFont(font_path(key), lazy=True) as font:
        per_em = font["head"].unitsPerEm
        metrics = font["hmtx"].metrics
        return {code: metrics[glyph][0] / per_em for code, glyph in font.getBestCmap().items()}

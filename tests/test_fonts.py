"""Fonts that travel: the PDF is set in the fonts bundled in templates/fonts, whatever the machine has.

The build runs in a child process whose fontconfig knows only the bundled folder (FONTCONFIG_FILE
is read once per process), and its PDF must be byte-for-byte the PDF of a build on this machine's
full font set: nothing in the layout depends on an installed font.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from conftest import ROOT
from pypdf import PdfReader

pytestmark = pytest.mark.slow

FONTS = ROOT / "templates" / "fonts"
#: The faces print.css declares, as WeasyPrint names them in the PDF (after the subset tag).
EXPECTED_FACES = {"Report-Sans", "Report-Sans-Bold", "Report-Mono"}


def _fontconfig_file(folder, fonts_dir) -> str:
    """A fonts.conf that knows only ``fonts_dir`` (no system folders, no aliases)."""
    cache = folder / "fc-cache"
    cache.mkdir(exist_ok=True)
    conf = folder / "fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n'
        f"<fontconfig><dir>{fonts_dir}</dir><cachedir>{cache}</cachedir></fontconfig>\n",
        encoding="utf-8",
    )
    return str(conf)


def _build_pdf(out, env_extra: dict[str, str]) -> bytes:
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1795000000", **env_extra}
    run = subprocess.run(
        [sys.executable, "-m", "reportgen", "build", "--format", "pdf", "--month", "2026-11", "--out", str(out), "-q"],
        cwd=out.parent, env=env, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stderr
    return (out / "2026-11" / "segment-report-2026-11.pdf").read_bytes()


def _faces(reader: PdfReader) -> set[str]:
    """Every font the pages use, without WeasyPrint's ``ABCDEF+`` subset tag."""
    names = set()
    for page in reader.pages:
        for font in (page.get("/Resources", {}).get("/Font") or {}).values():
            names.add(str(font.get_object()["/BaseFont"]).lstrip("/").split("+", 1)[-1])
    return names


@pytest.fixture(scope="module")
def bundled_only(tmp_path_factory):
    """The sample's PDF built with fontconfig limited to templates/fonts."""
    folder = tmp_path_factory.mktemp("bundled-only")
    conf = _fontconfig_file(folder, FONTS)
    listed = subprocess.run(["fc-list", ":", "family"], env={**os.environ, "FONTCONFIG_FILE": conf},
                            capture_output=True, text=True, check=True).stdout.split("\n")
    assert {line for line in listed if line} == {"Liberation Sans", "Liberation Mono"}, listed
    return _build_pdf(folder / "out", {"FONTCONFIG_FILE": conf})


def test_bundled_fonts_carry_their_licence():
    assert sorted(p.name for p in FONTS.glob("*.ttf")) == [
        "LiberationMono-Regular.ttf", "LiberationSans-Bold.ttf", "LiberationSans-Regular.ttf"]
    licence = (FONTS / "LICENSE-OFL.txt").read_text(encoding="utf-8")
    assert "SIL OPEN FONT LICENSE Version 1.1" in licence and "Red Hat" in licence


def test_pdf_uses_only_the_bundled_faces(bundled_only):
    reader = PdfReader(io.BytesIO(bundled_only))
    assert _faces(reader) == EXPECTED_FACES


def test_layout_does_not_depend_on_the_installed_fonts(bundled_only, tmp_path):
    """Same bytes with the machine's fonts (DejaVu at least) as with the bundled fonts alone."""
    here = _build_pdf(tmp_path / "out", {})
    assert here == bundled_only


def test_no_page_is_left_nearly_blank(bundled_only):
    """A wider fallback font once pushed a section onto a page of its own with two lines on it."""
    reader = PdfReader(io.BytesIO(bundled_only))
    for number, page in enumerate(reader.pages[1:], start=2):  # the cover is short by design
        words = len((page.extract_text() or "").split())
        assert words >= 35, f"page {number} has only {words} words"

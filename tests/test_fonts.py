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
from pathlib import Path

import pytest
from conftest import ROOT
from pypdf import PdfReader

pytestmark = pytest.mark.slow

FONTS = ROOT / "templates" / "fonts"
#: The faces print.css declares, as WeasyPrint names them in the PDF (after the subset tag).
EXPECTED_FACES = {"Report-Sans", "Report-Sans-Bold", "Report-Mono"}


#: Debian's DejaVu (fonts-dejavu-core, which fontconfig-config depends on): the one font a fresh machine has.
DEJAVU = Path("/usr/share/fonts/truetype/dejavu")


def _fontconfig_file(folder, *fonts_dirs) -> str:
    """A fonts.conf that knows only ``fonts_dirs`` (no system folders, no aliases)."""
    cache = folder / "fc-cache"
    cache.mkdir(exist_ok=True)
    conf = folder / "fonts.conf"
    dirs = "".join(f"<dir>{d}</dir>" for d in fonts_dirs)
    conf.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n'
        f"<fontconfig>{dirs}<cachedir>{cache}</cachedir></fontconfig>\n",
        encoding="utf-8",
    )
    return str(conf)


def _build(out, env_extra: dict[str, str], formats: str = "pdf", *flags: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1795000000", **env_extra}
    run = subprocess.run(
        [sys.executable, "-m", "reportgen", "build", "--format", formats, "--month", "2026-11", "--out", str(out),
         *(flags or ("-q",))],
        cwd=out.parent, env=env, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stderr
    return run


def _build_pdf(out, env_extra: dict[str, str]) -> bytes:
    _build(out, env_extra)
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


@pytest.fixture(scope="module")
def machine_fonts(tmp_path_factory):
    """The sample's PDF, HTML report and dashboard built once with this machine's fonts: the month's folder."""
    out = tmp_path_factory.mktemp("machine-fonts") / "out"
    _build(out, {}, "pdf,html,dashboard")
    return out / "2026-11"


def test_layout_does_not_depend_on_the_installed_fonts(bundled_only, machine_fonts):
    """Same bytes with the machine's fonts (DejaVu at least) as with the bundled fonts alone."""
    here = (machine_fonts / "segment-report-2026-11.pdf").read_bytes()
    assert here == bundled_only


def test_every_renderer_on_a_fresh_machine_font_set(bundled_only, tmp_path):
    """A fresh Debian machine (fontconfig knows DejaVu only) plus the bundled fonts: every format
    builds without a warning, and the PDF is the bundled-fonts-only PDF byte for byte."""
    if not DEJAVU.is_dir():
        pytest.skip(f"{DEJAVU} not found (Debian's fonts-dejavu-core)")
    conf = _fontconfig_file(tmp_path, DEJAVU, FONTS)
    families = subprocess.run(["fc-list", ":", "family"], env={**os.environ, "FONTCONFIG_FILE": conf},
                              capture_output=True, text=True, check=True).stdout
    assert "Liberation Sans" in families and "DejaVu Sans" in families and "OpenSymbol" not in families
    run = _build(tmp_path / "out", {"FONTCONFIG_FILE": conf}, "all", "-v")
    assert "WARNING" not in run.stderr and "Warning" not in run.stderr, run.stderr
    folder = tmp_path / "out" / "2026-11"
    assert sorted(p.name for p in folder.glob("segment-*")) == [
        "segment-dashboard-2026-11.html", "segment-report-2026-11.html", "segment-report-2026-11.pdf",
        "segment-report-2026-11.pptx"]
    assert (folder / "segment-report-2026-11.pdf").read_bytes() == bundled_only


def test_no_page_is_left_nearly_blank(bundled_only):
    """A wider fallback font once pushed a section onto a page of its own with two lines on it."""
    reader = PdfReader(io.BytesIO(bundled_only))
    for number, page in enumerate(reader.pages[1:], start=2):  # the cover is short by design
        words = len((page.extract_text() or "").split())
        assert words >= 35, f"page {number} has only {words} words"


# -- the HTML report and the dashboard embed the fonts ------------------------------------------


@pytest.fixture(scope="module")
def html_pages(machine_fonts):
    """The HTML report and the dashboard of the machine-fonts build (the PDF's build: one build for both)."""
    return {name: machine_fonts / f"segment-{name}-2026-11.html" for name in ("report", "dashboard")}


def _embedded_faces(text: str) -> dict[tuple[str, str], bytes]:
    import base64
    import re

    found = re.findall(r'@font-face \{ font-family: "([^"]+)"; font-weight: (\w+); font-style: normal; '
                       r'src: url\("data:font/woff;base64,([A-Za-z0-9+/=]+)"\)', text)
    return {(family, weight): base64.b64decode(data) for family, weight, data in found}


def test_html_pages_embed_small_renamed_subsets(html_pages):
    from fontTools.ttLib import TTFont

    for page in html_pages.values():
        text = page.read_text(encoding="utf-8")
        faces = _embedded_faces(text)
        assert set(faces) == {("Report Sans", "normal"), ("Report Sans", "bold"), ("Report Mono", "normal")}
        assert sum(map(len, faces.values())) < 60_000  # three faces cut to the page's characters
        for data in faces.values():
            font = TTFont(io.BytesIO(data))
            cmap = font.getBestCmap()
            assert all(ord(c) in cmap for c in "Customer Segmentation 0123456789%$,")
            assert len(cmap) < 400  # a subset, not the 2,300-character font
            names = {r.nameID: r.toUnicode() for r in font["name"].names if r.platformID == 3}
            assert names[1].startswith("Report ") and "Liberation" not in names[1] + names[4] + names[6]
            assert "Open Font License" in names[13]  # the licence travels with the subset
        assert "<reportgen-fonts>" not in text


def test_browsers_use_the_embedded_fonts(html_pages):
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
    from test_dashboard import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: the browser tests need Debian's chromium package")
    with sync_api.sync_playwright() as manager:
        browser = manager.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for page_path in html_pages.values():
                page = browser.new_page()
                page.goto(page_path.resolve().as_uri())
                faces = page.evaluate(
                    "async () => { await document.fonts.ready;"
                    " return [...document.fonts].map(f => [f.family.replace(/\"/g, ''), f.weight, f.status]); }")
                loaded = {(family, weight) for family, weight, status in faces if status == "loaded"}
                assert {("Report Sans", "normal"), ("Report Sans", "bold")} <= loaded, faces
                assert not [f for f in faces if f[2] == "error"], faces
                page.close()
        finally:
            browser.close()


def test_embedding_is_deterministic_and_skips_pages_without_the_mark():
    from reportgen.render.fonts import FONT_MARK, _subset, embed_fonts

    page = f"<style>{FONT_MARK}</style><p>Revolvers €1,234</p>"
    first = embed_fonts(page)
    _subset.cache_clear()
    assert embed_fonts(page) == first
    assert embed_fonts("<p>no stylesheet</p>") == "<p>no stylesheet</p>"

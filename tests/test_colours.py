"""One colour system: segment colours from the playbook, metric colours distinct from them, and every
colour used for lines, bars or text readable on white (contrast of at least 3:1, computed here)."""

from __future__ import annotations

import re
import tomllib

import pytest
from conftest import ROOT

from reportgen.render.charts import style
from reportgen.report.colours import METRICS, MIN_CONTRAST, SEGMENT_PALETTE, contrast_on_white

# `color:` declarations (text) and the custom properties they use, in the stylesheets of every format.
_COLOR = re.compile(r"(?<![-\w])color:\s*(#[0-9a-fA-F]{6})\b")
_PROPERTY = re.compile(r"--(ink|muted|accent):\s*(#[0-9a-fA-F]{6})\b")
STYLESHEETS = sorted((ROOT / "templates").glob("**/*.css"))


def _playbook_colours() -> dict[str, str]:
    playbook = tomllib.loads((ROOT / "data" / "personas.toml").read_text(encoding="utf-8"))
    return {p["name"]: p["color"] for p in playbook["persona"] if "color" in p}


def test_contrast_is_computed_as_wcag_defines_it():
    assert contrast_on_white("#000000") == pytest.approx(21.0)
    assert contrast_on_white("#FFFFFF") == pytest.approx(1.0)
    assert contrast_on_white("#767676") == pytest.approx(4.54, abs=0.01)
    assert contrast_on_white("#F0E442") < 1.5  # the old k = 8 yellow


@pytest.mark.parametrize("colour", [*SEGMENT_PALETTE, *METRICS.values(), *_playbook_colours().values(),
                                    style.INK, style.MUTED, style.HIGHLIGHT, style.SECOND, style.FIRST])
def test_line_bar_and_text_colours_read_on_white(colour):
    assert contrast_on_white(colour) >= MIN_CONTRAST, f"{colour}: {contrast_on_white(colour):.2f}:1 on white"


def test_stylesheet_text_colours_read_on_white():
    assert STYLESHEETS
    found = []
    for sheet in STYLESHEETS:
        css = sheet.read_text(encoding="utf-8")
        found += [(sheet.name, c) for c in _COLOR.findall(css) + [v for _k, v in _PROPERTY.findall(css)]]
    assert found
    weak = [(name, c, round(contrast_on_white(c), 2)) for name, c in found if contrast_on_white(c) < MIN_CONTRAST]
    assert not weak


def test_metric_colours_are_no_segments_colour():
    segment_colours = {c.upper() for c in (*SEGMENT_PALETTE, *_playbook_colours().values())}
    assert not segment_colours & {c.upper() for c in METRICS.values()}
    assert len(set(METRICS.values())) == len(METRICS)


def test_segments_take_the_playbook_colours(sample_model):
    playbook = _playbook_colours()
    for segment in sample_model.segments:
        if segment.name in playbook:
            assert segment.color.upper() == playbook[segment.name].upper()
        assert contrast_on_white(segment.color) >= MIN_CONTRAST


@pytest.fixture(scope="module")
def sample_model():
    from test_deck import _analyse

    return _analyse()

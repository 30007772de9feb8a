"""`reportgen build` end to end: every format from one model shows the same numbers."""

from __future__ import annotations

import html as htmlmod
import json
import re

import pytest
from conftest import real_data_path
from pptx import Presentation
from pypdf import PdfReader

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """`reportgen build --format all` on the real file (the bundled sample where it is absent)."""
    from reportgen.cli import main

    out = tmp_path_factory.mktemp("build")
    data = real_data_path()
    args = ["build", "--format", "all", "--out", str(out), "--month", "2026-11", "-q"]
    if data is not None:
        args += ["--data", str(data)]
    assert main(args) == 0
    folder = out / "2026-11"
    model = json.loads((folder / "report-model.json").read_text())
    return folder, model, data is not None


def _pdf_text(folder):
    reader = PdfReader(folder / "segment-report-2026-11.pdf")
    return reader, " ".join(page.extract_text() for page in reader.pages)


def _pptx_text(folder):
    prs = Presentation(folder / "segment-report-2026-11.pptx")
    parts, charts = [], []
    for slide in prs.slides:
        for shape in slide.shapes:
            if shape.has_text_frame:
                parts.append(shape.text_frame.text)
            if getattr(shape, "has_table", False) and shape.has_table:
                parts.extend(cell.text for row in shape.table.rows for cell in row.cells)
            if getattr(shape, "has_chart", False) and shape.has_chart:
                charts.append(shape.chart)
    return prs, " ".join(parts), charts


def _html_text(path):
    return htmlmod.unescape(re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8")))


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_every_format_shows_the_models_numbers(built):
    folder, model, _real = built
    _reader, pdf = _pdf_text(folder)
    _prs, pptx, _charts = _pptx_text(folder)
    html = _html_text(folder / "segment-report-2026-11.html")
    dashboard = _html_text(folder / "segment-dashboard-2026-11.html")
    headline = [k for k in model["kpis"] if k["key"] in ("customers", "balance", "purchases", "payments", "utilisation")]
    assert len(headline) == 5
    for name, text in (("PDF", pdf), ("PPTX", pptx), ("HTML", html), ("dashboard", dashboard)):
        flat = _flat(text)
        for kpi in headline:
            assert kpi["display"] in flat, f"{name} lacks {kpi['label']} {kpi['display']}"
        for segment in model["segments"]:
            assert segment["name"] in flat, f"{name} lacks {segment['name']}"
            assert f"{segment['customers']:,}" in flat, f"{name} lacks the size of {segment['name']}"


def test_pdf_and_deck_meet_the_bar(built):
    folder, model, real = built
    reader, pdf = _pdf_text(folder)
    prs, _text, charts = _pptx_text(folder)
    assert len(reader.pages) >= 10 and len(prs.slides) >= 10 and len(charts) >= 3
    for header in ("Segment", "Action and who is eligible", "Money concerned", "Recommended actions"):
        assert header in pdf
    from reportgen.report.model import shorten_name

    names = [shorten_name(s["name"]) for s in model["segments"]]  # the axis shows the short names
    sizes = next(c for c in charts if list(c.plots[0].categories) == names and len(c.plots[0].series) == 1)
    assert list(sizes.plots[0].series[0].values) == [s["customers"] for s in model["segments"]]
    if real:
        assert model["facts"]["customers"] == 8950


def test_no_customer_id_reaches_executive_material(built):
    folder, _model, _real = built
    _reader, pdf = _pdf_text(folder)
    _prs, pptx, _charts = _pptx_text(folder)
    html = (folder / "segment-report-2026-11.html").read_text()
    for text in (pdf, pptx, html):
        assert not re.search(r"\bC1\d{4}\b", text)


def test_bad_master_and_bad_month_are_one_line_errors(cli, tmp_path):
    from reportgen.render.deck.master import build_test_master

    broken = build_test_master(tmp_path / "corp.pptx", drop=("content",))
    code, _out, err = cli("build", "--format", "pptx", "--pptx-template", broken, "--out", tmp_path / "o")
    assert code == 5 and "corp.pptx: no layout for 'content'" in err and err.count("\n") == 1
    assert not (tmp_path / "o" / "2026-11").exists() or not any((tmp_path / "o").rglob("*.pptx"))
    code, _out, err = cli("build", "--month", "2026-13", "--out", tmp_path / "o")
    assert code == 2 and "--month '2026-13' is not a month" in err


def test_other_master_builds_the_deck(cli, tmp_path):
    from reportgen.render.deck.master import build_test_master

    master = build_test_master(tmp_path / "corp43.pptx")
    code, _out, err = cli("build", "--format", "pptx", "--pptx-template", master, "--out", tmp_path / "o", "-q")
    assert code == 0, err
    deck = Presentation(next((tmp_path / "o").rglob("*.pptx")))
    assert (deck.slide_width, deck.slide_height) == (9144000, 6858000)  # 4:3
    assert len(deck.slides) >= 10


def test_vectorised_rounding_matches_the_scalar_rounding():
    """The customer sample is rounded in bulk; every value must equal the one-by-one rounding
    the rest of the model uses (ties, signs, extremes and non-finite values included)."""
    import numpy as np

    from reportgen.report.cube import _round, _round_array

    rng = np.random.default_rng(5)
    values = np.concatenate([
        rng.lognormal(0, 6, 50_000), -rng.lognormal(0, 3, 5_000), rng.random(20_000),
        np.round(rng.random(5_000) * 1e6) / 100 + 0.005,  # many ties after scaling
        [0.0, -0.0, np.nan, np.inf, -np.inf, 5e-324, -2.2e-308, 1e300, 123_456_789_012.0],
    ])
    expected = [_round(v) for v in values]
    got = _round_array(values).tolist()
    mismatches = [(v, e, g) for v, e, g in zip(values, expected, got) if not (e == g or (e != e and g != g))]
    assert not mismatches, mismatches[:5]

"""Charts: every key, decodable PNGs of the declared size, alt text, same bytes every time, and
no text overlapping other text or the page edge for 3 segments, 8 segments and a long persona name.

Text placement is checked on what is actually drawn: ``Text.draw`` is wrapped while the charts are
built, recording the pixel box of every non-empty text (tick labels outside the view are not drawn
and so not recorded).
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import io
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image  # Pillow is a dependency of matplotlib

from reportgen.api import analyse
from reportgen.config import load_settings
from reportgen.render import charts as charts_module
from reportgen.render.charts import build_charts

KEYS = ("sizes", "k_evidence", "pca", "comparison", "profile_heat", "correlation")
SEGMENT_CHARTS = ("sizes", "pca", "comparison", "profile_heat")  # their alt text names every segment
LONG_NAME = "Very Long Persona Name For Testing Wrapping Of Labels Everywhere"


def with_long_name(model, segment_id: int = 2):
    segments = tuple(
        dataclasses.replace(s, name=LONG_NAME) if s.id == segment_id else s for s in model.segments
    )
    return dataclasses.replace(model, segments=segments)


def build_recording(model):
    """Build the charts, recording each drawn text: key -> [(text, corners, box, figure box)].

    ``corners`` is the text's own (possibly rotated) rectangle in pixels, so slanted tick labels
    are compared as drawn, not by their axis-aligned boxes (which do overlap for neighbours).
    """
    import matplotlib.text

    drawn: dict = {}  # figure -> list; keeps the figures alive so ids are not reused
    original = matplotlib.text.Text.draw

    def draw(self, renderer):
        original(self, renderer)
        if self.get_visible() and self.get_text().strip():
            fig = self.figure
            box = self.get_window_extent(renderer)
            flat = matplotlib.text.Text(0, 0, self.get_text())
            flat.update_from(self)  # font and line spacing; public in every matplotlib we allow (get_linespacing is 3.11+)
            flat.set_rotation(0)
            flat.set_figure(fig)
            size = flat.get_window_extent(renderer)
            drawn.setdefault(fig, []).append(
                (self.get_text(), rectangle(box, size.width, size.height, self.get_rotation()), box, fig.bbox)
            )

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(matplotlib.text.Text, "draw", draw)
        built = build_charts(model)
    assert len(drawn) == len(built)  # without history the trend and migration charts are absent
    return built, dict(zip(built, drawn.values()))


def rectangle(box, width: float, height: float, degrees: float) -> np.ndarray:
    """Corners of a width x height rectangle turned by ``degrees`` about the centre of ``box``."""
    angle = np.radians(degrees)
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    half = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * [width / 2, height / 2]
    return half @ turn.T + [(box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2]


def overlap(a: np.ndarray, b: np.ndarray, tolerance: float = 1.0) -> bool:
    """Whether two convex quadrilaterals overlap by more than ``tolerance`` pixels (separating axes)."""
    for corners in (a, b):
        for i in range(4):
            edge = corners[(i + 1) % 4] - corners[i]
            normal = np.array([-edge[1], edge[0]]) / np.hypot(*edge)
            pa, pb = a @ normal, b @ normal
            if min(pa.max(), pb.max()) - max(pa.min(), pb.min()) <= tolerance:
                return False
    return True


def assert_text_placed(key: str, drawn) -> None:
    """No text ``drawn`` on chart ``key`` (from :func:`build_recording`) leaves the figure or overlaps another."""
    for text, _corners, box, page in drawn:
        assert box.x0 >= page.x0 - 1 and box.x1 <= page.x1 + 1, f"{key}: {text!r} leaves the figure sideways"
        assert box.y0 >= page.y0 - 1 and box.y1 <= page.y1 + 1, f"{key}: {text!r} leaves the figure vertically"
    for i, (text_a, a, _box, _page) in enumerate(drawn):
        for text_b, b, _box, _page in drawn[i + 1:]:
            assert not overlap(a, b), f"{key}: {text_a!r} overlaps {text_b!r}"


@pytest.fixture(scope="module")
def models():
    """The bundled sample with 3 and 8 segments, and the 8 with one long persona name."""
    _, three = analyse(settings=load_settings(k=3))
    _, eight = analyse(settings=load_settings(k=8))
    return {"3 segments": three, "8 segments": eight, "long name": with_long_name(eight)}


@pytest.fixture(scope="module")
def built(models):
    return {name: build_recording(model) for name, model in models.items()}


@pytest.mark.parametrize("name", ["3 segments", "8 segments", "long name"])
def test_every_chart_is_a_png_of_its_declared_size(built, models, name):
    charts, _texts = built[name]
    assert tuple(charts) == KEYS
    for key, chart in charts.items():
        assert chart.key == key and chart.title
        image = Image.open(io.BytesIO(chart.png))
        assert image.format == "PNG"
        assert image.size == (chart.width_px, chart.height_px)
        assert chart.width_px == 1050  # 7 in at 150 dpi: the width of an A4 portrait text block
        assert 3.5 * 150 <= chart.height_px <= 5 * 150
        pixels = np.asarray(image.convert("L"), dtype=float)
        assert pixels.std() > 10, f"{key} looks blank"
        assert (pixels < 128).mean() > 0.005, f"{key} has almost nothing drawn"


def test_the_pdfs_jpeg_is_the_same_picture(built):
    """The PDF embeds each chart as JPEG (WeasyPrint would re-compress a PNG): same size, same
    pixels but for compression noise too faint to see, no chroma subsampling."""
    charts, _texts = built["8 segments"]
    for key, chart in charts.items():
        jpeg = Image.open(io.BytesIO(chart.jpeg))
        assert jpeg.format == "JPEG" and jpeg.size == (chart.width_px, chart.height_px), key
        assert jpeg.layer[0][1:3] == (1, 1), f"{key}: chroma is subsampled"
        png = np.asarray(Image.open(io.BytesIO(chart.png)).convert("RGB"), dtype=float)
        error = np.abs(np.asarray(jpeg.convert("RGB"), dtype=float) - png)
        assert error.mean() < 1.0 and np.percentile(error, 99.9) < 40, (key, error.mean())


@pytest.mark.parametrize("name", ["3 segments", "8 segments", "long name"])
def test_alt_text_states_the_data(built, models, name):
    charts, _texts = built[name]
    model = models[name]
    for key in SEGMENT_CHARTS:
        for segment in model.segments:
            assert segment.name in charts[key].alt, (key, segment.name)
    biggest = max(model.segments, key=lambda s: s.customers)
    assert f"{biggest.customers:,}" in charts["sizes"].alt
    assert charts["sizes"].alt.startswith("Bar chart of customers per segment: ")
    assert f"k = {model.k_choice.chosen_k} was chosen" in charts["k_evidence"].alt
    assert f"{len(model.scatter.x):,} of {model.scatter.total_customers:,} customers" in charts["pca"].alt
    assert "Spearman" in charts["correlation"].alt and "Strongest pairs" in charts["correlation"].alt


@pytest.mark.parametrize("name", ["3 segments", "8 segments", "long name"])
def test_no_text_overlaps_other_text_or_leaves_the_figure(built, name):
    _charts, texts = built[name]
    for key, drawn in texts.items():
        assert_text_placed(key, drawn)


def test_long_names_are_wrapped_not_cut_in_the_pictures(built):
    _charts, texts = built["long name"]
    labels = [text for text, _corners, _box, _page in texts["sizes"]]
    assert any("\n" in text and text.replace("\n", " ") == LONG_NAME for text in labels)


def test_same_model_same_bytes(built, models):
    first, _texts = built["3 segments"]
    again = build_charts(models["3 segments"])
    assert {k: c.png for k, c in again.items()} == {k: c.png for k, c in first.items()}
    assert {k: c.alt for k, c in again.items()} == {k: c.alt for k, c in first.items()}


def test_charts_can_be_drawn_in_threads_without_touching_global_state(built, models):
    import matplotlib

    before = dict(matplotlib.rcParams)
    serial, _texts = built["8 segments"]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(build_charts, [models["8 segments"], models["8 segments"]]))
    for result in results:
        assert {k: c.png for k, c in result.items()} == {k: c.png for k, c in serial.items()}
    assert dict(matplotlib.rcParams) == before


def test_module_uses_no_pyplot_and_imports_matplotlib_lazily():
    tree = ast.parse(inspect.getsource(charts_module))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
            imported.update(f"{node.module}.{alias.name}" for alias in node.names)
    assert not any("pyplot" in name for name in imported)
    top_level = {
        alias.name if isinstance(node, ast.Import) else node.module
        for node in tree.body
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    assert not any(name.startswith(("matplotlib", "seaborn")) for name in top_level)


def test_chosen_k_is_marked_on_every_evidence_panel(models):
    model = models["8 segments"]
    fig = charts_module.plot_k_evidence(model.k_choice)
    panels = [ax for ax in fig.axes if ax.get_title(loc="left")]
    assert len(panels) == 4
    for ax in panels:
        verticals = [line for line in ax.get_lines() if list(line.get_xdata()) == [model.k_choice.chosen_k] * 2]
        assert verticals, ax.get_title(loc="left")


def test_scatter_cost_does_not_depend_on_customers(models):
    """The PCA picture draws the model's fixed-size sample, whatever the customer count."""
    model = models["3 segments"]
    bigger = dataclasses.replace(model, scatter=dataclasses.replace(model.scatter, total_customers=10_000_000))
    fig = charts_module.plot_pca(bigger)
    (points,) = fig.axes[0].collections
    assert len(points.get_offsets()) == len(model.scatter.x)
    assert "10,000,000 customers" in charts_module.describe_pca(bigger)


def test_a_panel_with_nothing_above_zero_says_so_with_one_tick(models):
    """No purchases anywhere (a month's extract can have none): the panel's axis read "$0, $0, $1,
    $1" from a range matplotlib widened around 0; now one "$0" tick and a line saying so."""
    model = models["3 segments"]

    def no_purchases(segment):
        kpis = tuple(dataclasses.replace(k, value=0.0, display="$0") if k.key == "avg_purchases" else k
                     for k in segment.kpis)
        return dataclasses.replace(segment, kpis=kpis)

    charts, texts = build_recording(dataclasses.replace(model, segments=tuple(map(no_purchases, model.segments))))
    drawn = [text for text, *_ in texts["comparison"]]
    assert drawn.count("0 in every segment") == 1
    assert_text_placed("comparison", texts["comparison"])
    assert not any(text in ("$1", "-$0") for text in drawn)

"""The report's pictures, drawn once per build from the report model (never from raw data).

:func:`build_charts` turns a :class:`~reportgen.report.model.ReportModel` into format-neutral PNGs
(:class:`~reportgen.render.formats.Chart`) shared by the PDF, the HTML report and the deck's pictures.
Every chart carries ``alt`` text that states its data in words. Once earlier months are recorded
(``model.history``), two more are drawn: ``trend`` (segment sizes over the months, one line per
persona in its colour, and small multiples of utilisation) and ``migration`` (last month's
segment x this month's as a heatmap, movers on their own colour scale, stayers grey).

Drawing rules:

- Object-oriented matplotlib only (``Figure`` + Agg canvas). pyplot's global state is never used
  and rcParams are only read, never set: every style value (font, sizes, colours, spines, grid) is
  passed to the artists, so charts can be drawn in threads next to a notebook's own plots.
- Drawing cost does not depend on the number of customers: the model holds aggregates and a
  fixed-size PCA sample.
- Same model, same bytes: PNGs carry no software or date metadata; layout is deterministic.
- One colour per segment everywhere (``Segment.color``, an Okabe-Ito colour-blind-safe palette).
- Layout is measured, not left to matplotlib's constrained layout: each chart measures its
  variable-size labels (wrapped segment names, legends) with the Agg renderer and places its axes
  in inches. Constrained layout cost about 0.4 s of CPU per build here, a third of the total (it
  lays out every tick label again on each pass, and savefig runs it twice). Numeric ticks use a
  fixed number of bins, so their labels do not change when the axes are placed.

matplotlib is imported inside the functions, so importing this module costs nothing. Heatmaps are
drawn with ``imshow`` rather than seaborn: seaborn's import pulls in ``scipy.stats`` (about 0.8 s
when nothing else has loaded it, more than all six charts take to draw) for what is one ``imshow``
and a loop of cell labels here.
"""

from __future__ import annotations

import io

import numpy as np

from reportgen.render.charts.evidence import (
    describe_correlation,
    describe_k_evidence,
    plot_correlation,
    plot_k_evidence,
)
from reportgen.render.charts.history import describe_migration, describe_trend, plot_migration, plot_trend
from reportgen.render.charts.segments import (
    describe_comparison,
    describe_pca,
    describe_profile_heat,
    describe_sizes,
    plot_comparison,
    plot_pca,
    plot_profile_heat,
    plot_sizes,
)
from reportgen.render.charts.style import (
    DPI,
    TITLES,
    _figure,
    _header,
    _label,
    _style,
)
from reportgen.render.settings import Chart
from reportgen.report.model import ReportModel

# Chart key -> title (drawn at the top of the picture and carried as ``Chart.title``), in report order.

#: Charts drawn only when the model has history (earlier months recorded); absent otherwise.
HISTORY_CHARTS = ("trend", "migration")


def build_charts(model: ReportModel, keys: tuple[str, ...] | None = None) -> dict[str, Chart]:
    """Draw the charts of the report from ``model`` (all, or those of ``keys``): key -> :class:`Chart`.

    The history charts (:data:`HISTORY_CHARTS`) are drawn only when the model has what they show
    (:func:`chart_applies`); otherwise their keys are absent and the renderers skip the section."""
    unknown = [key for key in keys or () if key not in CHARTS]
    if unknown:
        raise KeyError(f"unknown chart key(s) {', '.join(unknown)}; valid: {', '.join(CHARTS)}")
    wanted = CHARTS if keys is None else {key: CHARTS[key] for key in keys}
    subject = lambda key: getattr(model, PARTS[key]) if key in PARTS else model  # noqa: E731
    return {
        key: _render(key, plot(subject(key)), describe(subject(key)))
        for key, (plot, describe) in wanted.items()
        if chart_applies(key, model)
    }


def chart_applies(key: str, model: ReportModel) -> bool:
    """Whether ``model`` has the data of chart ``key`` (the history charts need recorded months)."""
    history = model.history
    if key not in HISTORY_CHARTS:
        return True
    if key == "trend":
        return history is not None and len(history.months) >= 2 and bool(history.series)
    return history is not None and history.migration is not None and bool(history.migration.counts)


# --- sizes -----------------------------------------------------------------------------------


# --- k evidence ------------------------------------------------------------------------------


# --- PCA scatter -----------------------------------------------------------------------------


# --- segment comparison ----------------------------------------------------------------------


# --- persona profile heat table --------------------------------------------------------------


# --- correlation -----------------------------------------------------------------------------


# --- trends (history) ------------------------------------------------------------------------


# key -> (plot, describe), in the order of the report.
CHARTS = {
    "sizes": (plot_sizes, describe_sizes),
    "k_evidence": (plot_k_evidence, describe_k_evidence),
    "pca": (plot_pca, describe_pca),
    "comparison": (plot_comparison, describe_comparison),
    "profile_heat": (plot_profile_heat, describe_profile_heat),
    "correlation": (plot_correlation, describe_correlation),
    "trend": (plot_trend, describe_trend),
    "migration": (plot_migration, describe_migration),
}

#: Charts drawn from one part of the model only (key -> the model's attribute); a build draws
#: them with :func:`draw_part` as soon as that part exists, before the rest of the model.
PARTS = {"k_evidence": "k_choice", "correlation": "correlation"}


def draw_part(key: str, part) -> Chart:
    """Chart ``key`` of :data:`PARTS` from its part alone (``model.k_choice``, ``model.correlation``);
    the same bytes as :func:`build_charts` draws from a model holding that part."""
    plot, describe = CHARTS[key]
    return _render(key, plot(part), describe(part))


def warm_up() -> None:
    """Pay matplotlib's first-drawing costs (imports, font loading and caches) ahead of time:
    a render lane calls this while the analysis runs."""
    fig = _figure(1.0)
    _header(fig, "Warm-up", "1,234 customers 12.5%")
    ax = fig.add_axes((0.1, 0.1, 0.8, 0.3))
    ax.bar([0, 1], [1, 2])
    _label(ax, x="Segment", y="Customers")
    _style(ax, grid="y")
    _render("sizes", fig, "")


# --- drawing helpers -------------------------------------------------------------------------


def _render(key: str, fig, alt: str) -> Chart:
    """Encode ``fig`` as PNG without metadata, so the bytes depend on the model only."""
    from PIL import Image

    buffer = io.BytesIO()
    # zlib level 1: antialiased charts compress about as well as at the default level 6, faster.
    fig.savefig(
        buffer, format="png", dpi=DPI, facecolor="white", metadata={"Software": None}, pil_kwargs={"compress_level": 1},
    )
    # The JPEG for the PDF from the pixels savefig just drew (the canvas keeps them).
    jpeg = io.BytesIO()
    Image.fromarray(np.asarray(fig.canvas.buffer_rgba())[..., :3]).save(jpeg, "JPEG", quality=95, subsampling=0)
    return Chart(
        key=key, title=TITLES[key], alt=alt, png=buffer.getvalue(),
        width_px=round(fig.get_figwidth() * DPI), height_px=round(fig.get_figheight() * DPI), jpeg=jpeg.getvalue(),
    )


# --- layout ----------------------------------------------------------------------------------


# --- small helpers ---------------------------------------------------------------------------



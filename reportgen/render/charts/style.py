"""The house style every chart shares: sizes, colours and fonts, and the helpers that place axes,
titles, labels and legends in inches (measured, not left to matplotlib's layout engines).
"""

from __future__ import annotations

import math
import textwrap

import numpy as np

from reportgen.report.colours import METRICS
from reportgen.report.formatting import (
    format_compact,
    format_count,
    format_money,
    format_number,
    format_share,
    month_short,
    strip_illegal,
)
from reportgen.report.model import ReportModel, Segment

DPI = 150

WIDTH = 7.0  # inches: an A4 portrait page's text width

FONT = "DejaVu Sans"

INK = "#222222"

MUTED = "#5A5A5A"

GRID = "#E3E3E3"

SPINE = "#B0B0B0"

HIGHLIGHT = METRICS["chosen_k"]  # the chosen k: no segment's colour

SECOND = METRICS["stability"]  # stability on the twin axis: no segment's colour

FIRST = METRICS["silhouette"]  # silhouette and the other evidence

DIVERGING = "RdBu_r"  # ColorBrewer: colour-blind safe, white at 0

LABELLED_CORRELATION = 0.5  # only the notable cells carry their value: the rest is colour


TITLE_SIZE = 11.0

SUBTITLE_SIZE = 8.5

PANEL_SIZE = 8.5

LABEL_SIZE = 8.0

TICK_SIZE = 7.5

CELL_SIZE = 6.5

# Geometry, in inches.
PAD = 0.08  # around the figure

HEADER = 0.52  # title and subtitle

PANEL_TITLE = 0.28  # a panel's own title above its axes

TICK_SPACE = 5.5 / 72  # tick length + pad (points to inches)

LABEL_SPACE = (LABEL_SIZE * 1.25 + 4) / 72  # an axis label's line + its pad

# Short labels for ticks and legends; the full descriptions live in the data dictionary.
SHORT_LABELS: dict[str, str] = {
    "BALANCE": "Balance",
    "BALANCE_FREQUENCY": "Balance update freq.",
    "PURCHASES": "Purchases",
    "ONEOFF_PURCHASES": "One-off purchases",
    "INSTALLMENTS_PURCHASES": "Instalment purchases",
    "CASH_ADVANCE": "Cash advance",
    "PURCHASES_FREQUENCY": "Purchase frequency",
    "ONEOFF_PURCHASES_FREQUENCY": "One-off frequency",
    "PURCHASES_INSTALLMENTS_FREQUENCY": "Instalment frequency",
    "CASH_ADVANCE_FREQUENCY": "Cash-advance freq.",
    "CASH_ADVANCE_TRX": "Cash-advance trx",
    "PURCHASES_TRX": "Purchase trx",
    "CREDIT_LIMIT": "Credit limit",
    "PAYMENTS": "Payments",
    "MINIMUM_PAYMENTS": "Minimum payments",
    "PRC_FULL_PAYMENT": "Paid in full",
    "TENURE": "Tenure",
    "UTILISATION": "Utilisation",
    "PAYMENT_RATIO": "Payment ratio",
    "AVERAGE_TICKET": "Average ticket",
    "CASH_ADVANCE_SHARE": "Cash-advance share",
}


def _values(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _tick_step(count: int, most: int) -> int:
    """Label every ``step``-th month so at most ``most`` labels share the axis."""
    return next(step for step in (1, 2, 3, 4, 6, 12) if math.ceil(count / step) <= most or step == 12)


def _month_ticks(ax, months, every: int) -> None:
    shown = list(range(len(months) - 1, -1, -every))[::-1]  # always label the latest month
    ax.set_xticks(shown, [month_short(months[i]).replace(" ", "\n") for i in shown])


def _formatter(kind: str):
    from matplotlib.ticker import FuncFormatter

    number = _number(kind)
    return FuncFormatter(lambda value, _pos: number(value))


def _colormap(name: str):
    from matplotlib import colormaps

    return colormaps[name]


def _rgba(color: str):
    from matplotlib.colors import to_rgba

    return to_rgba(color)


def _segment_colors(model: ReportModel) -> dict[str, str]:
    """Segment name -> colour, this month's segments and the trend's (segments that vanished)."""
    colors = {s.name: s.color for s in model.history.series} if model.history else {}
    colors.update({s.name: s.color for s in model.segments})
    return colors


def _nice_ticks(top: float) -> list[float]:
    from matplotlib.ticker import MaxNLocator

    return [float(t) for t in MaxNLocator(nbins=4, integer=True).tick_values(0, top)]


def _figure(height: float):
    """A blank page-width figure on its own Agg canvas (no pyplot, no layout engine)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH, height), dpi=DPI, facecolor="white")
    FigureCanvasAgg(fig)
    return fig


def _header(fig, title: str, subtitle: str) -> None:
    """Title and subtitle, left-aligned at the top."""
    top = fig.get_figheight() - PAD
    fig.text(PAD, top, title, ha="left", va="top", fontsize=TITLE_SIZE, fontweight="bold", color=INK,
             fontfamily=FONT, transform=fig.dpi_scale_trans)
    fig.text(PAD, top - 0.24, subtitle, ha="left", va="top", fontsize=SUBTITLE_SIZE, color=MUTED,
             fontfamily=FONT, transform=fig.dpi_scale_trans)


def _panel_title(ax, title: str) -> None:
    # Padded clear of a y tick label that may sit on the axes' top edge.
    ax.set_title(title, fontsize=PANEL_SIZE, color=INK, fontfamily=FONT, loc="left", pad=9)


def _label(ax, x: str | None = None, y: str | None = None, color: str = INK) -> None:
    if x is not None:
        ax.set_xlabel(x, fontsize=LABEL_SIZE, color=color, fontfamily=FONT, labelpad=4)
    if y is not None:
        ax.set_ylabel(y, fontsize=LABEL_SIZE, color=color, fontfamily=FONT, labelpad=4)


def _text(ax, x, y, text: str, size: float, ha: str = "left", va: str = "baseline", color: str = INK) -> None:
    ax.text(x, y, text, ha=ha, va=va, fontsize=size, color=color, fontfamily=FONT)


def _style(ax, grid: str | None, right: bool = False, spines: bool = True, size: float = TICK_SIZE) -> None:
    """The house style: no top/right spines, a light grid behind the data, DejaVu Sans ticks."""
    ax.set_facecolor("white")
    for name, spine in ax.spines.items():
        spine.set_visible(spines and (name == "bottom" or name == ("right" if right else "left")))
        spine.set_color(SPINE)
        spine.set_linewidth(0.8)
    ax.tick_params(labelsize=size, labelcolor=INK, labelfontfamily=FONT, color=SPINE, width=0.8, length=3, pad=2.5)
    ax.set_axisbelow(True)
    ax.grid(False)
    if grid:
        ax.grid(True, axis=grid, color=GRID, linewidth=0.7)


def _numeric(axis, kind: str) -> None:
    """A fixed number of ticks (labels do not change when the axes are placed), formatted by
    :mod:`reportgen.report.formatting`."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    axis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
    number = _number(kind)
    axis.set_major_formatter(FuncFormatter(lambda value, _pos: number(value)))


def _number(kind: str):
    """Value -> text for one kind of number (ticks and alt text alike)."""
    return {
        "count": lambda v: format_compact(v) if abs(v) >= 1e5 else format_count(v),
        "money": lambda v: format_money(v, compact=abs(v) >= 1e3),  # $500, $1.5k, $10.0k: one style per axis
        "share": lambda v: format_share(v, 0),
        "number": lambda v: format_number(v, 2),
        "decimal": lambda v: format_number(v, 0 if float(v).is_integer() else 1),
    }[kind]


def _bottom_legend(fig, handles, ncol: int) -> float:
    """A legend centred at the bottom of the figure; returns the height it takes (inches)."""
    legend = fig.legend(
        handles=handles, loc="lower center", bbox_to_anchor=(WIDTH / 2, PAD), bbox_transform=fig.dpi_scale_trans,
        ncol=ncol, frameon=False, prop=_font(TICK_SIZE), borderaxespad=0, columnspacing=1.6, handlelength=1.6,
    )
    return legend.get_window_extent(fig.canvas.get_renderer()).height / DPI + 0.12


def _colorbar(fig, image, ax, label: str, ticks, extend: str = "neither") -> None:
    """A slim colour bar right of ``ax`` (after ``ax`` is placed)."""
    box = ax.get_position()
    x = box.x1 + 0.15 / WIDTH
    cax = fig.add_axes((x, box.y0, 0.12 / WIDTH, box.height))
    bar = fig.colorbar(image, cax=cax, extend=extend, ticks=ticks)
    bar.ax.set_yticklabels([format_number(t, 1 if isinstance(t, float) and not t.is_integer() else 0) for t in ticks])
    bar.set_label(label, fontsize=LABEL_SIZE, color=INK, fontfamily=FONT, labelpad=4)
    bar.ax.tick_params(labelsize=TICK_SIZE, labelcolor=INK, labelfontfamily=FONT, color=SPINE, length=2.5, pad=2)
    bar.outline.set_visible(False)


def _place(fig, grid, *, left: float, right: float, top: float, bottom: float, wgap: float = 0, hgap: float = 0):
    """Place a grid (rows of axes) inside the given margins and gaps, all in inches."""
    width, height = fig.get_figwidth(), fig.get_figheight()
    rows, cols = len(grid), len(grid[0])
    cell_w = (width - left - right - wgap * (cols - 1)) / cols
    cell_h = (height - top - bottom - hgap * (rows - 1)) / rows
    for r, line in enumerate(grid):
        for c, ax in enumerate(line):
            x0 = left + c * (cell_w + wgap)
            y0 = height - top - (r + 1) * cell_h - r * hgap
            ax.set_position((x0 / width, y0 / height, cell_w / width, cell_h / height))


def _left_space(fig, ax) -> float:
    """Inches needed left of ``ax``: the widest y tick label, tick, y label and the page margin."""
    renderer = fig.canvas.get_renderer()
    labels = [t for t in ax.yaxis.get_majorticklabels() if t.get_text()]
    ticks = max((t.get_window_extent(renderer).width for t in labels), default=0) / DPI
    label = LABEL_SPACE if ax.get_ylabel() else 0
    return PAD + label + ticks + TICK_SPACE + 0.02


def _right_space(fig, ax) -> float:
    """Inches needed right of a twin axis: its tick labels and label."""
    renderer = fig.canvas.get_renderer()
    labels = [t for t in ax.yaxis.get_majorticklabels() if t.get_text()]
    ticks = max((t.get_window_extent(renderer).width for t in labels), default=0) / DPI
    return PAD + LABEL_SPACE + ticks + TICK_SPACE + 0.02


def _bottom_space(fig, ax, pad: float = PAD) -> float:
    """Inches needed below ``ax``: the tallest x tick label (rotated ones too), x label and margin."""
    renderer = fig.canvas.get_renderer()
    labels = [t for t in ax.xaxis.get_majorticklabels() if t.get_text()]
    ticks = max((t.get_window_extent(renderer).height for t in labels), default=0) / DPI
    label = LABEL_SPACE if ax.get_xlabel() else 0
    return pad + label + ticks + TICK_SPACE + 0.02


def _font(size: float, bold: bool = False):
    from matplotlib.font_manager import FontProperties

    return FontProperties(family=FONT, size=size, weight="bold" if bold else "normal")


def _wrap(text: str, width: int, lines: int) -> str:
    """Wrap a label to ``width`` characters on at most ``lines`` lines (the alt text keeps it whole)."""
    text = strip_illegal(text)
    return "\n".join(textwrap.wrap(text, max(width, 8), max_lines=lines, placeholder=" ...")) or text


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def _kpi(segment: Segment, key: str) -> float:
    return next(k.value for k in segment.kpis if k.key == key)


def _profile(segment: Segment, feature: str):
    return next(p for p in segment.profile if p.feature == feature)

TITLES: dict[str, str] = {
    "sizes": "Customers per segment",
    "k_evidence": "How the number of segments was chosen",
    "pca": "Segments in the first two principal components",
    "comparison": "How the segments compare",
    "profile_heat": "Profiles against the portfolio",
    "correlation": "How the features move together",
    "trend": "Segment sizes over the last months",
    "migration": "Where customers moved since last month",
}

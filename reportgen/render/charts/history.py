"""The charts of earlier months: segment sizes and utilisation over time, and the migration between
last month's segments and this month's.
"""

from __future__ import annotations

import math
import textwrap

import numpy as np

from reportgen.render.charts.style import (
    CELL_SIZE,
    DPI,
    FONT,
    HEADER,
    INK,
    MUTED,
    PAD,
    PANEL_SIZE,
    SPINE,
    TICK_SIZE,
    TITLES,
    WIDTH,
    _bottom_space,
    _clamp,
    _colorbar,
    _colormap,
    _figure,
    _formatter,
    _header,
    _label,
    _left_space,
    _month_ticks,
    _nice_ticks,
    _number,
    _numeric,
    _place,
    _rgba,
    _segment_colors,
    _style,
    _text,
    _tick_step,
    _values,
    _wrap,
)
from reportgen.report.colours import MOVERS_CMAP
from reportgen.report.formatting import (
    format_count,
    format_share,
    month_short,
)
from reportgen.report.model import ReportModel

#: The KPI of the trend chart's small multiples: (TrendSeries attribute, panel title, number kind).
TREND_KPI = ("utilisation", "Utilisation (balance / credit limit) by segment", "share")

TREND_MOVERS_CMAP = MOVERS_CMAP  # ColorBrewer purples: the movers, in no segment's hue; the stayers are grey

STAYED = "#E4E4E4"


def plot_trend(model: ReportModel):
    """Customers per segment over the trend months (one labelled line per segment in its colour),
    above small multiples of one KPI (:data:`TREND_KPI`) per segment on a shared scale."""
    history = model.history
    months, series = history.months, history.series
    attr, kpi_title, kind = TREND_KPI
    n = len(series)
    cols = n if n <= 5 else math.ceil(n / 2)
    rows = math.ceil(n / cols)
    panel_chars = int((WIDTH / cols - 0.45) / (0.6 * TICK_SIZE / 72))
    titles = [_wrap(s.name, panel_chars, 2) for s in series]
    title_lines = max(t.count("\n") + 1 for t in titles)
    top_height, panel_height = (2.45, 0.78) if rows == 1 else (2.2, 0.62)  # A4: chart and table share a page
    panel_title = 0.06 + title_lines * PANEL_SIZE * 1.25 / 72
    multiples = 0.24 + rows * (panel_title + panel_height) + (rows - 1) * 0.3 + 0.22  # sub-header, panels, ticks
    fig = _figure(HEADER + top_height + 0.55 + multiples + PAD)
    _header(fig, TITLES["trend"], _trend_subtitle(model))
    x = np.arange(len(months))

    # Segment sizes: lines in persona colours, labelled at their right end.
    ax = fig.add_axes((0, 0, 1, 1))
    for s in series:
        values = _values(s.customers)
        ax.plot(x, values, color=s.color, linewidth=1.8, marker="o", markersize=3.2, zorder=3)
    top = max((v for s in series for v in s.customers if v is not None), default=1)
    ax.set_ylim(0, top * 1.12)
    ax.set_xlim(-0.25, len(months) - 0.75)
    _month_ticks(ax, months, every=_tick_step(len(months), 14))
    _label(ax, y="Customers (count)")
    _numeric(ax.yaxis, "count")
    _style(ax, grid="y")
    labels = [
        fig.text(0, 0, _trend_label(s), fontsize=TICK_SIZE, color=INK, fontfamily=FONT, va="center", ha="left",
                 linespacing=1.1)
        for s in series
    ]
    renderer = fig.canvas.get_renderer()
    label_width = max(t.get_window_extent(renderer).width for t in labels) / DPI
    sizes_bottom = fig.get_figheight() - HEADER - 0.06 - top_height
    _place(fig, [[ax]], left=_left_space(fig, ax), right=PAD + label_width + 0.28, top=HEADER + 0.06,
           bottom=sizes_bottom)
    _label_line_ends(fig, ax, series, labels)

    # Small multiples of the KPI, one panel per segment, one scale for all.
    sub_top = HEADER + 0.06 + top_height + 0.55
    fig.text(PAD, fig.get_figheight() - sub_top, kpi_title, ha="left", va="top", fontsize=PANEL_SIZE,
             fontweight="bold", color=INK, fontfamily=FONT, transform=fig.dpi_scale_trans)
    grid = [[fig.add_axes((0, 0, 1, 1)) for _ in range(cols)] for _ in range(rows)]
    flat = [a for line in grid for a in line]
    values = [_values(getattr(s, attr)) for s in series]
    high = np.nanmax([np.nanmax(v) if np.isfinite(v).any() else 0 for v in values])
    # One scale for every panel: 0-100% unless a segment runs over its limits.
    ceiling = max(1.0, math.ceil(high * 1.1 * 2) / 2) if kind == "share" else high * 1.15
    for i, ax_small in enumerate(flat):
        if i >= n:
            ax_small.set_visible(False)
            continue
        s, v = series[i], values[i]
        ax_small.plot(x, v, color=s.color, linewidth=1.6, marker="o", markersize=2.4 if len(x) <= 12 else 0,
                      zorder=3)
        ax_small.set_ylim(0, ceiling)
        ax_small.set_xlim(-0.4, len(months) - 0.2)
        last = next((j for j in range(len(v) - 1, -1, -1) if np.isfinite(v[j])), None)
        if last is not None:
            high_up = v[last] > 0.7 * ceiling  # label below the point, clear of the panel title
            ax_small.annotate(_number(kind)(v[last]) if kind != "share" else format_share(v[last], 0),
                              (x[last], v[last]), xytext=(0, -5 if high_up else 4), textcoords="offset points",
                              ha="right", va="top" if high_up else "bottom", fontsize=CELL_SIZE, color=INK,
                              fontfamily=FONT)
        ax_small.set_title(titles[i], fontsize=TICK_SIZE, color=INK, fontfamily=FONT, loc="left", pad=3)
        ax_small.set_yticks([0, ceiling / 2, ceiling])
        ax_small.yaxis.set_major_formatter(_formatter("share" if kind == "share" else kind))
        _style(ax_small, grid="y", size=CELL_SIZE)
        ax_small.tick_params(axis="y", labelleft=i % cols == 0)
    _place(fig, grid, left=_left_space(fig, flat[0]), right=PAD + 0.1, top=sub_top + 0.24 + panel_title,
           bottom=PAD + 0.22, wgap=0.2, hgap=0.3 + panel_title)
    _end_months(fig, flat[:n], months)
    return fig


def _end_months(fig, axes, months) -> None:
    """Label each small panel's first and last month, as short as it takes for the two not to
    overlap in the panel's width (measured): "Nov 2026" and "Dec 2026", else "Nov" and "Dec 2026",
    else "Nov" and "Dec" (the chart above names the months in full)."""
    first, last = months[0], months[-1]
    choices = [(month_short(first), month_short(last)), (month_short(first, year=False), month_short(last)),
               (month_short(first, year=False), month_short(last, year=False))]
    renderer = fig.canvas.get_renderer()
    for labels in choices:
        for ax in axes:
            ax.set_xticks([0, len(months) - 1], labels)
            for label, ha in zip(ax.get_xticklabels(), ("left", "right")):
                label.set_horizontalalignment(ha)
        left, right = (t.get_window_extent(renderer) for t in axes[0].get_xticklabels())
        if len(months) > 1 and left.x1 + 0.5 * left.height < right.x0:
            return


def describe_trend(model: ReportModel) -> str:
    """The trend chart in words: every segment's customers in every month, and the KPI panels."""
    history = model.history
    attr, kpi_title, kind = TREND_KPI
    months = [month_short(m) for m in history.months]
    number = format_share if kind == "share" else _number(kind)
    sizes = "; ".join(
        f"{s.name} " + ", ".join("n/a" if v is None else format_count(v) for v in s.customers) for s in history.series
    )
    kpis = "; ".join(
        f"{s.name} " + ", ".join("n/a" if v is None else number(v) for v in getattr(s, attr)) for s in history.series
    )
    return (
        f"Line chart of customers per segment by month, {months[0]} to {months[-1]} "
        f"({', '.join(months)}): {sizes}. Small multiples of {kpi_title.split(' by ')[0].lower()}: {kpis}."
    )


def plot_migration(model: ReportModel):
    """The migration matrix: rows last month's segment, columns this month's; customers who
    stayed on a grey diagonal, movers on their own colour scale so they stand out."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.patches import Rectangle

    migration = model.history.migration
    counts = np.array(migration.counts, dtype=float)
    n_from, n_to = counts.shape
    stayed = np.array([[a == b for b in migration.names_to] for a in migration.names_from])
    movers = np.where(stayed, 0, counts)
    top = max(movers.max(), 1)
    cmap = _colormap(TREND_MOVERS_CMAP)
    norm = Normalize(0, top)
    rgba = cmap(norm(movers))
    rgba[(movers == 0) & ~stayed] = (1, 1, 1, 1)
    rgba[stayed] = _rgba(STAYED)
    colors = _segment_colors(model)
    fig = _figure(_clamp(2.5 + 0.3 * max(n_from, n_to), 3.6, 5.4))
    _header(fig, TITLES["migration"], _migration_subtitle(model))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(rgba, aspect="auto", interpolation="nearest")
    for i in range(n_from):
        for j in range(n_to):
            value = counts[i, j]
            if stayed[i, j]:
                _text(ax, j, i, format_count(value), CELL_SIZE, ha="center", va="center", color=MUTED)
            elif value:
                dark = norm(value) > 0.55
                ax.text(j, i, format_count(value), ha="center", va="center", fontsize=CELL_SIZE + 0.5,
                        fontweight="bold", color="white" if dark else INK, fontfamily=FONT)
    for i, name in enumerate(migration.names_from):
        ax.add_patch(Rectangle((-0.95, i - 0.42), 0.3, 0.84, color=colors.get(name, SPINE), clip_on=False))
    for j, name in enumerate(migration.names_to):
        ax.add_patch(Rectangle((j - 0.42, -0.95), 0.84, 0.3, color=colors.get(name, SPINE), clip_on=False))
    # White borders between the cells (not across the colour keys).
    ax.hlines(np.arange(-0.5, n_from, 1.0), -0.5, n_to - 0.5, color="white", linewidth=1.2, zorder=2)
    ax.vlines(np.arange(-0.5, n_to, 1.0), -0.5, n_from - 0.5, color="white", linewidth=1.2, zorder=2)
    ax.set_xlim(-1.0, n_to - 0.5)
    ax.set_ylim(n_from - 0.5, -1.0)
    ax.set_xticks(range(n_to), [_wrap(name, 26, 2) for name in migration.names_to], rotation=35, ha="right",
                  rotation_mode="anchor")
    ax.set_yticks(range(n_from), [_wrap(name, 24, 3) for name in migration.names_from])
    _label(ax, x=f"Segment in {month_short(migration.month_to)} (this month)",
           y=f"Segment in {month_short(migration.month_from)} (last month)")
    _style(ax, grid=None, spines=False)
    ax.tick_params(left=False, bottom=False)
    _place(fig, [[ax]], left=_left_space(fig, ax), right=1.05, top=HEADER + 0.1, bottom=_bottom_space(fig, ax))
    image = ScalarMappable(norm=norm, cmap=cmap)
    ticks = [t for t in _nice_ticks(top) if t <= top]
    _colorbar(fig, image, ax, "Customers who moved (count)", ticks)
    return fig


def describe_migration(model: ReportModel) -> str:
    """The migration heatmap in words: who stayed, every flow between segments."""
    migration = model.history.migration
    pairs = [
        (c, a, b)
        for a, row in zip(migration.names_from, migration.counts)
        for b, c in zip(migration.names_to, row)
    ]
    stayed = ", ".join(f"{a} {format_count(c)}" for c, a, b in pairs if a == b)
    flows = sorted(((c, a, b) for c, a, b in pairs if a != b and c), key=lambda t: (-t[0], t[1], t[2]))
    moved = "; ".join(f"{a} to {b} {format_count(c)}" for c, a, b in flows) or "nobody"
    share = migration.moved / max(migration.customers_both, 1)
    return (
        f"Heatmap of customers by segment in {month_short(migration.month_from)} (rows) and "
        f"{month_short(migration.month_to)} (columns): {format_count(migration.moved)} of "
        f"{format_count(migration.customers_both)} customers seen in both months ({format_share(share)}) changed "
        f"segment. Stayed: {stayed}. Moved: {moved}."
    )


def _trend_subtitle(model: ReportModel) -> str:
    history = model.history
    months = history.months
    return (
        f"Customers per segment, {month_short(months[0])} to {month_short(months[-1])} "
        f"({len(months)} months); portfolio {format_count(history.portfolio_customers[-1])} customers"
    )


def _migration_subtitle(model: ReportModel) -> str:
    migration = model.history.migration
    share = migration.moved / max(migration.customers_both, 1)
    return (
        f"{format_count(migration.moved)} of {format_count(migration.customers_both)} customers "
        f"({format_share(share)}) changed segment; grey cells: customers who stayed"
    )


def _trend_label(series) -> str:
    """``Name (count)`` on up to two lines; a long name is shortened, never the count."""
    gone = series.customers[-1] is None
    value = f"({'no longer a segment' if gone else format_count(series.customers[-1])})"
    lines = textwrap.wrap(f"{series.name} {value}", 26)
    if len(lines) <= 2:
        return "\n".join(lines)
    lines = _wrap(series.name, 26, 2).split("\n")
    if len(lines[-1]) + 1 + len(value) <= 30:
        lines[-1] += " " + value
    else:
        lines.append(value)
    return "\n".join(lines)


def _label_line_ends(fig, ax, series, labels) -> None:
    """Put each line's label right of the axes at the height of its last point, pushed apart so
    none overlap, with a connector in the segment's colour."""
    from matplotlib.lines import Line2D

    renderer = fig.canvas.get_renderer()
    to_inches = fig.dpi_scale_trans.inverted()
    box = ax.get_window_extent(renderer)
    low, high = box.y0 / DPI, box.y1 / DPI
    points = []
    for s, label in zip(series, labels):
        index = max(i for i, v in enumerate(s.customers) if v is not None) if any(
            v is not None for v in s.customers) else None
        if index is None:
            label.set_visible(False)
            continue
        x, y = to_inches.transform(ax.transData.transform((index, s.customers[index])))
        points.append([y, label.get_window_extent(renderer).height / DPI + 0.03, x, s, label])
    points.sort(key=lambda p: p[0])
    positions = _spread([p[0] for p in points], [p[1] for p in points], low, high)
    text_x = box.x1 / DPI + 0.22
    for (y, _height, x, s, label), placed in zip(points, positions):
        label.set_transform(fig.dpi_scale_trans)
        label.set_position((text_x, placed))
        fig.add_artist(Line2D([x + 0.05, text_x - 0.16, text_x - 0.04], [y, placed, placed], color=s.color,
                              linewidth=1.0, transform=fig.dpi_scale_trans))


def _spread(targets, heights, low: float, high: float) -> list[float]:
    """Centres as close to ``targets`` (ascending) as possible with neighbours ``heights`` apart,
    kept between ``low`` and ``high``."""
    placed = list(targets)
    for i in range(len(placed)):
        floor = low + heights[i] / 2 if i == 0 else placed[i - 1] + (heights[i - 1] + heights[i]) / 2
        placed[i] = max(placed[i], floor)
    for i in range(len(placed) - 1, -1, -1):
        ceiling = high - heights[i] / 2 if i == len(placed) - 1 else placed[i + 1] - (heights[i + 1] + heights[i]) / 2
        placed[i] = min(placed[i], ceiling)
    return placed

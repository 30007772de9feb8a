"""The segment charts: sizes, the PCA map, the comparison of spend, balance and payments, and the
profile heat table.
"""

from __future__ import annotations

import numpy as np

from reportgen.render.charts.style import (
    CELL_SIZE,
    DIVERGING,
    DPI,
    HEADER,
    INK,
    LABEL_SIZE,
    PAD,
    PANEL_TITLE,
    SHORT_LABELS,
    TICK_SIZE,
    TITLES,
    WIDTH,
    _bottom_legend,
    _bottom_space,
    _clamp,
    _colorbar,
    _figure,
    _font,
    _header,
    _kpi,
    _label,
    _left_space,
    _numeric,
    _panel_title,
    _place,
    _profile,
    _style,
    _text,
    _values,
    _wrap,
)
from reportgen.report.formatting import (
    format_count,
    format_index,
    format_money,
    format_number,
    format_share,
    index_strength,
    unit_label,
)
from reportgen.report.model import ReportModel

HEAT_FEATURES: tuple[str, ...] = (
    "BALANCE",
    "PURCHASES",
    "PURCHASES_FREQUENCY",
    "ONEOFF_PURCHASES",
    "INSTALLMENTS_PURCHASES",
    "CASH_ADVANCE",
    "CREDIT_LIMIT",
    "PAYMENTS",
    "PRC_FULL_PAYMENT",
    "UTILISATION",
    "PAYMENT_RATIO",
    "CASH_ADVANCE_SHARE",
)

# (panel title, y-axis label, value of a segment, number kind) of the comparison panels.
COMPARISON = (
    ("Average purchases ($)", "$ per customer", lambda s: _kpi(s, "avg_purchases"), "money"),
    ("Average balance ($)", "$ per customer", lambda s: _kpi(s, "avg_balance"), "money"),
    ("Average payments ($)", "$ per customer", lambda s: _kpi(s, "avg_payments"), "money"),
    ("Average credit limit ($)", "$ per customer", lambda s: _kpi(s, "avg_limit"), "money"),
    ("Average cash advance ($)", "$ per customer", lambda s: _profile(s, "CASH_ADVANCE").mean, "money"),
    ("Utilisation (%)", "% of credit limit", lambda s: _kpi(s, "utilisation"), "share"),
)


def plot_sizes(model: ReportModel):
    """Horizontal bars of customers per segment, labelled with count and share."""
    segments = model.segments
    n = len(segments)
    fig = _figure(_clamp(1.3 + 0.42 * n, 3.5, 5.0))
    _header(fig, TITLES["sizes"], f"{format_count(model.facts.customers)} customers in {n} segments")
    ax = fig.add_axes((0, 0, 1, 1))
    counts = [s.customers for s in segments]
    ax.barh(range(n), counts, height=0.68, color=[s.color for s in segments], zorder=2)
    ax.set_yticks(range(n), [_wrap(s.name, 26, 3) for s in segments])
    ax.set_ylim(n - 0.5, -0.5)
    top = max(counts, default=1)
    for i, s in enumerate(segments):
        label = f"{format_count(s.customers)} ({format_share(s.share)})"
        _text(ax, s.customers + top * 0.015, i, label, TICK_SIZE, va="center")
    ax.set_xlim(0, top * 1.3)
    _label(ax, x="Customers (count)")
    _numeric(ax.xaxis, "count")
    _style(ax, grid="x")
    ax.tick_params(axis="y", left=False)
    # The last x tick sits on the axes' right end: leave room for half its label.
    _place(fig, [[ax]], left=_left_space(fig, ax), right=PAD + 0.3, top=HEADER + 0.06,
           bottom=_bottom_space(fig, ax))
    return fig


def describe_sizes(model: ReportModel) -> str:
    """The sizes chart in words."""
    parts = (f"{s.name} {format_count(s.customers)} ({format_share(s.share)})" for s in model.segments)
    return f"Bar chart of customers per segment: {', '.join(parts)}."


def plot_pca(model: ReportModel):
    """The PCA sample coloured by segment, in one scatter call so no segment is painted on top."""
    from matplotlib.colors import to_rgba
    from matplotlib.lines import Line2D

    scatter = model.scatter
    # One RGBA row per point: parsing 2,000 colour strings costs more than drawing the points.
    palette = {s.id: to_rgba(s.color, 0.65) for s in model.segments}
    colors = np.array([palette[s] for s in scatter.segment], dtype=float).reshape(-1, 4)
    fig = _figure(4.6)
    _header(fig, TITLES["pca"], _pca_subtitle(model))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.scatter(scatter.x, scatter.y, c=colors, s=5, linewidths=0, zorder=2)
    _label(
        ax,
        x=f"PC1 ({format_share(scatter.explained[0])} of variance)",
        y=f"PC2 ({format_share(scatter.explained[1])} of variance)",
    )
    _numeric(ax.xaxis, "decimal")
    _numeric(ax.yaxis, "decimal")
    _style(ax, grid="both")
    handles = [
        Line2D([], [], linestyle="", marker="o", markersize=6, color=s.color, label=_wrap(s.name, 24, 3))
        for s in model.segments
    ]
    legend = fig.legend(
        handles=handles, loc="upper right", bbox_to_anchor=(WIDTH - PAD, fig.get_figheight() - HEADER - 0.02),
        bbox_transform=fig.dpi_scale_trans, frameon=False, prop=_font(TICK_SIZE), title="Segment",
        title_fontproperties=_font(LABEL_SIZE, bold=True), alignment="left", labelspacing=0.8, borderaxespad=0,
    )
    legend_width = legend.get_window_extent(fig.canvas.get_renderer()).width / DPI
    _place(fig, [[ax]], left=_left_space(fig, ax), right=PAD + legend_width + 0.2, top=HEADER + 0.06,
           bottom=_bottom_space(fig, ax))
    return fig


def describe_pca(model: ReportModel) -> str:
    """The PCA chart in words: sample size, variance and where each segment sits."""
    scatter = model.scatter
    x, y, seg = np.asarray(scatter.x), np.asarray(scatter.y), np.asarray(scatter.segment)
    parts = []
    for s in model.segments:
        mask = seg == s.id
        if mask.any():
            parts.append(
                f"{s.name} {format_count(mask.sum())} points centred at PC1 {format_number(x[mask].mean(), 1)}, "
                f"PC2 {format_number(y[mask].mean(), 1)}"
            )
        else:
            parts.append(f"{s.name} no points in the sample")
    return (
        f"Scatter plot of {_pca_subtitle(model)} on the first two principal components "
        f"(PC1 {format_share(scatter.explained[0])}, PC2 {format_share(scatter.explained[1])} of variance), "
        f"coloured by segment: {'; '.join(parts)}."
    )


def plot_comparison(model: ReportModel):
    """2x3 small multiples of per-segment averages; bars numbered, a colour key names them."""
    from matplotlib.patches import Patch

    segments = model.segments
    n = len(segments)
    fig = _figure(5.0)
    _header(fig, TITLES["comparison"], "Average per customer in each segment" + _without_customers(model))
    axes = [[fig.add_axes((0, 0, 1, 1)) for _ in range(3)] for _ in range(2)]
    flat = [a for row in axes for a in row]
    for ax, (title, ylabel, value, kind) in zip(flat, COMPARISON):
        # a segment with no customers has no average: no bar (NaN), not a bar at 0
        heights = _values([value(s) for s in segments])
        ax.bar(range(n), heights, width=0.72, color=[s.color for s in segments], zorder=2)
        ax.set_xticks(range(n), [str(s.id) for s in segments])
        ax.set_xlim(-0.6, n - 0.4)
        _panel_title(ax, unit_label(title))
        _label(ax, y=unit_label(ylabel))
        _numeric(ax.yaxis, kind)
        _style(ax, grid="y")
        ax.tick_params(axis="x", bottom=False)
        if not np.nanmax(np.append(heights, 0)) > 0:  # nothing above 0 (no purchases at all): say so, one tick
            ax.set_ylim(0, 1)
            ax.set_yticks([0])
            ax.text(0.5, 0.5, "0 in every segment", transform=ax.transAxes, ha="center", va="center",
                    fontsize=TICK_SIZE, color=INK)
    for ax in axes[1]:
        _label(ax, x="Segment")
    ncol = min(n, 3)
    chars = int((WIDTH / ncol - 0.6) / (0.6 * TICK_SIZE / 72))  # DejaVu Sans: under 0.6 em a character
    handles = [Patch(color=s.color, label=f"{s.id}  {_wrap(s.name, chars, 2)}") for s in segments]
    legend_height = _bottom_legend(fig, handles, ncol=ncol)
    left = max(_left_space(fig, a) for a in flat)
    _place(
        fig, axes, left=left, right=PAD + 0.05, top=HEADER + PANEL_TITLE,
        bottom=_bottom_space(fig, axes[1][0]) + legend_height,
        wgap=left + 0.12, hgap=_bottom_space(fig, axes[0][0], pad=0) + PANEL_TITLE + 0.08,
    )
    return fig


def describe_comparison(model: ReportModel) -> str:
    """The comparison chart in words: every panel's value for every segment."""
    panels = []
    for title, _ylabel, value, kind in COMPARISON:
        number = format_money if kind == "money" else format_share  # exact values, not tick labels
        values = ", ".join(f"{s.name} {'no customers' if value(s) is None else number(value(s))}"
                           for s in model.segments)
        panels.append(f"{title.split(' (')[0].lower()}: {values}")
    return f"Bar charts comparing the segments (average per customer). {'; '.join(panels)}."


def _without_customers(model: ReportModel) -> str:
    """The comparison's subtitle addition naming, by the numbers its axes show, the segments with no
    customers (no bar), or "" (ids, not names: the subtitle is one line, however many are empty)."""
    empty = [str(s.id) for s in model.segments if not s.customers]
    if not empty:
        return ""
    ids = empty[0] if len(empty) == 1 else ", ".join(empty[:-1]) + " and " + empty[-1]
    return f"; no bar for segment{'s' if len(empty) > 1 else ''} {ids}: no customers this month"


def plot_profile_heat(model: ReportModel):
    """Segments x profile features, cells = the segment's mean as an index of the portfolio's
    (100 = portfolio), shaded on a log scale centred at 100 (50 and 200 equally strong)."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Rectangle

    segments = model.segments
    n, m = len(segments), len(HEAT_FEATURES)
    index = [[_profile(s, f).index for f in HEAT_FEATURES] for s in segments]
    strength = np.array([[index_strength(v) for v in row] for row in index], dtype=float)
    fig = _figure(_clamp(2.3 + 0.34 * n, 3.5, 5.0))
    subtitle = "Each segment's average as an index of the portfolio's: 100 = portfolio, 200 = twice, 50 = half"
    _header(fig, TITLES["profile_heat"], subtitle)
    ax = fig.add_axes((0, 0, 1, 1))
    image = ax.imshow(strength, cmap=DIVERGING, vmin=-1, vmax=1, aspect="auto", interpolation="nearest")
    missing = np.array([[v is None for v in row] for row in index])
    if missing.any():  # no portfolio value to compare with: a grey cell, not "as the portfolio"
        ax.imshow(np.where(missing, 1.0, np.nan), cmap=ListedColormap(["#d9d9d9"]), vmin=0, vmax=1,
                  aspect="auto", interpolation="nearest")
    for i in range(n):
        for j in range(m):
            _text(ax, j, i, format_index(index[i][j]), CELL_SIZE, ha="center", va="center",
                  color="white" if abs(strength[i, j]) > 0.65 else INK)
        ax.add_patch(Rectangle((-0.95, i - 0.42), 0.32, 0.84, color=segments[i].color, clip_on=False))
    ax.set_xlim(-1.0, m - 0.5)
    ax.set_xticks(range(m), [SHORT_LABELS[f] for f in HEAT_FEATURES], rotation=40, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(n), [_wrap(s.name, 24, 3) for s in segments])
    _label(ax, x="Profile feature")
    _style(ax, grid=None, spines=False)
    ax.tick_params(left=False, bottom=False)
    _place(fig, [[ax]], left=_left_space(fig, ax), right=0.95, top=HEADER + 0.04, bottom=_bottom_space(fig, ax))
    ticks = (25, 50, 100, 200, 400)
    _colorbar(fig, image, ax, "index (100 = portfolio)", [index_strength(t) for t in ticks], extend="both")
    fig.axes[-1].set_yticklabels([format_index(t) for t in ticks])
    return fig


def describe_profile_heat(model: ReportModel) -> str:
    """The heat table in words: every segment's index against the portfolio."""
    rows = []
    for s in model.segments:
        cells = ", ".join(f"{SHORT_LABELS[f]} {format_index(_profile(s, f).index)}" for f in HEAT_FEATURES)
        rows.append(f"{s.name}: {cells}" if s.customers else f"{s.name}: no customers, no index (grey)")
    return (
        "Heat table of each segment's average as an index of the portfolio's "
        f"(100 = the portfolio, 200 = twice as much, 50 = half). {'; '.join(rows)}."
    )


def _pca_subtitle(model: ReportModel) -> str:
    scatter = model.scatter
    return f"{format_count(len(scatter.x))} of {format_count(scatter.total_customers)} customers shown"

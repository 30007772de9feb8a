"""The report's pictures, drawn once per build from the report model (never from raw data).

:func:`build_charts` turns a :class:`~reportgen.report.ReportModel` into format-neutral PNGs
(:class:`~reportgen.rendering.Chart`) shared by the PDF, the HTML report and the deck's pictures.
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
import math
import textwrap

import numpy as np

from reportgen.formatting import (
    format_count,
    format_money,
    format_number,
    format_share,
    format_signed,
    month_short,
    strip_illegal,
)
from reportgen.rendering import Chart
from reportgen.report import Correlation, KChoice, ReportModel, Segment

DPI = 150
WIDTH = 7.0  # inches: an A4 portrait page's text width
FONT = "DejaVu Sans"
INK = "#222222"
MUTED = "#5A5A5A"
GRID = "#E3E3E3"
SPINE = "#B0B0B0"
HIGHLIGHT = "#D55E00"  # the chosen k (Okabe-Ito vermillion)
SECOND = "#0072B2"  # stability on the twin axis (Okabe-Ito blue)
DIVERGING = "RdBu_r"  # ColorBrewer: colour-blind safe, white at 0
LABELLED_CORRELATION = 0.5  # only the notable cells carry their value: the rest is colour
HEAT_LIMIT = 2.0  # z-scores beyond +-2 share the end colours (the cells still print the value)

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

# Chart key -> title (drawn at the top of the picture and carried as ``Chart.title``), in report order.
TITLES: dict[str, str] = {
    "sizes": "Customers per segment",
    "k_evidence": "How the number of segments was chosen",
    "pca": "Segments in the first two principal components",
    "comparison": "How the segments compare",
    "profile_heat": "Persona profiles",
    "correlation": "How the features move together",
    "trend": "Segment sizes over the last months",
    "migration": "Where customers moved since last month",
}

#: Charts drawn only when the model has history (earlier months recorded); absent otherwise.
HISTORY_CHARTS = ("trend", "migration")
#: The KPI of the trend chart's small multiples: (TrendSeries attribute, panel title, number kind).
TREND_KPI = ("utilisation", "Utilisation (balance / credit limit) by segment", "share")
TREND_MOVERS_CMAP = "Oranges"  # ColorBrewer sequential: the movers; the stayers are grey
STAYED = "#E4E4E4"

# (panel title, y-axis label, value of a segment, number kind) of the comparison panels.
COMPARISON = (
    ("Average purchases ($)", "$ per customer", lambda s: _kpi(s, "avg_purchases"), "money"),
    ("Average balance ($)", "$ per customer", lambda s: _kpi(s, "avg_balance"), "money"),
    ("Average payments ($)", "$ per customer", lambda s: _kpi(s, "avg_payments"), "money"),
    ("Average credit limit ($)", "$ per customer", lambda s: _kpi(s, "avg_limit"), "money"),
    ("Average cash advance ($)", "$ per customer", lambda s: _profile(s, "CASH_ADVANCE").mean, "money"),
    ("Utilisation (%)", "% of credit limit", lambda s: _kpi(s, "utilisation"), "share"),
)

# (KRow attribute, panel title, y-axis label, number kind) of the k-evidence panels.
K_PANELS = (
    ("inertia", "Inertia: the elbow (lower = tighter)", "Sum of squared distances", "count"),
    ("silhouette", "Silhouette (higher = better)", "Silhouette (-1 to 1)", "number"),
    ("calinski_harabasz", "Calinski-Harabasz (higher = better)", "Index (ratio)", "count"),
    ("davies_bouldin", "Davies-Bouldin (lower = better)", "Index (ratio)", "number"),
)


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


# --- k evidence ------------------------------------------------------------------------------


def plot_k_evidence(choice: KChoice):
    """2x2 small multiples of the k-selection evidence, stability on the silhouette's twin axis."""
    from matplotlib.lines import Line2D

    rows = choice.rows
    ks = [r.k for r in rows]
    fig = _figure(5.0)
    _header(fig, TITLES["k_evidence"], _k_subtitle(choice))
    axes = [[fig.add_axes((0, 0, 1, 1)) for _ in range(2)] for _ in range(2)]
    twin = None
    for ax, (attr, title, ylabel, kind) in zip((a for row in axes for a in row), K_PANELS):
        _plot_evidence(ax, ks, [getattr(r, attr) for r in rows], rows, INK, "o")
        ax.axvline(choice.chosen_k, color=HIGHLIGHT, linestyle=":", linewidth=1.4, zorder=2)
        _panel_title(ax, title)
        _label(ax, y=ylabel)
        _numeric(ax.yaxis, kind)
        _style(ax, grid="y")
        if attr == "silhouette":
            twin = ax.twinx()
            _plot_evidence(twin, ks, [r.stability for r in rows], rows, SECOND, "s", linestyle="--")
            _label(twin, y="Stability (ARI, 0 to 1)", color=SECOND)
            _numeric(twin.yaxis, "number")
            _style(twin, grid=None, right=True)
            twin.tick_params(axis="y", labelcolor=SECOND)
    for row, ax in ((r, a) for r, line in enumerate(axes) for a in line):
        ax.set_xticks(ks, [str(k) for k in ks])
        ax.tick_params(axis="x", labelbottom=row == 1)
        ax.set_xlim(min(ks) - 0.4, max(ks) + 0.4)
        if row == 1:
            _label(ax, x="Number of segments (k)")
            for label, k in zip(ax.get_xticklabels(), ks):
                if k == choice.chosen_k:
                    label.set_fontweight("bold")
                    label.set_color(HIGHLIGHT)
    handles = [
        Line2D([], [], color=HIGHLIGHT, linestyle=":", linewidth=1.4, label=f"Chosen k = {choice.chosen_k}"),
        Line2D([], [], color=SECOND, linestyle="--", marker="s", markersize=4, label="Stability (right axis)"),
        Line2D([], [], color=INK, linestyle="", marker="o", markersize=4, markerfacecolor="white",
               label="Not admissible"),
    ]
    legend_height = _bottom_legend(fig, handles, ncol=3)
    left = max(_left_space(fig, a) for a in (axes[0][0], axes[1][0]))
    gap = max(_left_space(fig, a) for a in (axes[0][1], axes[1][1])) + 0.12
    right = _right_space(fig, twin) if twin is not None else PAD
    bottom = _bottom_space(fig, axes[1][0]) + legend_height
    _place(fig, axes, left=left, right=right, top=HEADER + PANEL_TITLE, bottom=bottom, wgap=gap, hgap=PANEL_TITLE + 0.2)
    return fig


def describe_k_evidence(choice: KChoice) -> str:
    """The k-evidence chart in words."""
    parts = [
        f"k = {r.k}: inertia {format_count(r.inertia)}, silhouette {format_number(r.silhouette, 3)}, "
        f"Calinski-Harabasz {format_count(r.calinski_harabasz)}, Davies-Bouldin {format_number(r.davies_bouldin, 3)}, "
        f"stability {format_number(r.stability, 2)}{'' if r.admissible else ' (not admissible)'}"
        for r in choice.rows
    ]
    ks = [r.k for r in choice.rows]
    return (
        f"Line charts of the evidence for choosing the number of segments, k = {min(ks)} to {max(ks)}; "
        f"k = {choice.chosen_k} was chosen ({choice.reason}). " + "; ".join(parts) + "."
    )


# --- PCA scatter -----------------------------------------------------------------------------


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


# --- segment comparison ----------------------------------------------------------------------


def plot_comparison(model: ReportModel):
    """2x3 small multiples of per-segment averages; bars numbered, a colour key names them."""
    from matplotlib.patches import Patch

    segments = model.segments
    n = len(segments)
    fig = _figure(5.0)
    _header(fig, TITLES["comparison"], "Average per customer in each segment")
    axes = [[fig.add_axes((0, 0, 1, 1)) for _ in range(3)] for _ in range(2)]
    flat = [a for row in axes for a in row]
    for ax, (title, ylabel, value, kind) in zip(flat, COMPARISON):
        ax.bar(range(n), [value(s) for s in segments], width=0.72, color=[s.color for s in segments], zorder=2)
        ax.set_xticks(range(n), [str(s.id) for s in segments])
        ax.set_xlim(-0.6, n - 0.4)
        _panel_title(ax, title)
        _label(ax, y=ylabel)
        _numeric(ax.yaxis, kind)
        _style(ax, grid="y")
        ax.tick_params(axis="x", bottom=False)
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
        values = ", ".join(f"{s.name} {number(value(s))}" for s in model.segments)
        panels.append(f"{title.split(' (')[0].lower()}: {values}")
    return f"Bar charts comparing the segments (average per customer). {'; '.join(panels)}."


# --- persona profile heat table --------------------------------------------------------------


def plot_profile_heat(model: ReportModel):
    """Segments x profile features, cells = z-score against the portfolio, a colour key per row."""
    from matplotlib.patches import Rectangle

    segments = model.segments
    n, m = len(segments), len(HEAT_FEATURES)
    z = np.array([[_profile(s, f).z for f in HEAT_FEATURES] for s in segments], dtype=float)
    fig = _figure(_clamp(2.3 + 0.34 * n, 3.5, 5.0))
    subtitle = "Each segment's average against the portfolio, in standard deviations (z-score)"
    _header(fig, TITLES["profile_heat"], subtitle)
    ax = fig.add_axes((0, 0, 1, 1))
    image = ax.imshow(
        np.clip(z, -HEAT_LIMIT, HEAT_LIMIT), cmap=DIVERGING, vmin=-HEAT_LIMIT, vmax=HEAT_LIMIT, aspect="auto",
        interpolation="nearest",
    )
    for i in range(n):
        for j in range(m):
            _text(ax, j, i, _signed(z[i, j]), CELL_SIZE, ha="center", va="center",
                  color="white" if abs(z[i, j]) > 1.3 else INK)
        ax.add_patch(Rectangle((-0.95, i - 0.42), 0.32, 0.84, color=segments[i].color, clip_on=False))
    ax.set_xlim(-1.0, m - 0.5)
    ax.set_xticks(range(m), [SHORT_LABELS[f] for f in HEAT_FEATURES], rotation=40, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(n), [_wrap(s.name, 24, 3) for s in segments])
    _label(ax, x="Profile feature")
    _style(ax, grid=None, spines=False)
    ax.tick_params(left=False, bottom=False)
    _place(fig, [[ax]], left=_left_space(fig, ax), right=0.95, top=HEADER + 0.04, bottom=_bottom_space(fig, ax))
    _colorbar(fig, image, ax, "z-score (standard deviations)", (-2, -1, 0, 1, 2), extend="both")
    return fig


def describe_profile_heat(model: ReportModel) -> str:
    """The heat table in words: every segment's z-scores."""
    rows = []
    for s in model.segments:
        cells = ", ".join(f"{SHORT_LABELS[f]} {_signed(_profile(s, f).z)}" for f in HEAT_FEATURES)
        rows.append(f"{s.name}: {cells}")
    return (
        "Heat table of each segment's profile as z-scores against the portfolio "
        f"(positive = above the portfolio average). {'; '.join(rows)}."
    )


# --- correlation -----------------------------------------------------------------------------


def plot_correlation(correlation: Correlation):
    """Lower triangle (without the diagonal of ones) of the Spearman correlation matrix."""
    features = correlation.features
    matrix = np.array(correlation.matrix, dtype=float)
    n = len(features)
    lower = np.ma.masked_array(matrix[1:, :-1], mask=np.triu(np.ones((n - 1, n - 1), bool), k=1))
    fig = _figure(5.0)
    subtitle = (
        f"Spearman rank correlation between the {n} features; "
        f"values shown where |ρ| ≥ {format_number(LABELLED_CORRELATION, 1)}"
    )
    _header(fig, TITLES["correlation"], subtitle)
    ax = fig.add_axes((0, 0, 1, 1))
    image = ax.imshow(lower, cmap=DIVERGING, vmin=-1, vmax=1, aspect="auto", interpolation="nearest")
    for i, j in zip(*np.nonzero(np.abs(lower.filled(0)) >= LABELLED_CORRELATION)):
        # Two decimals without the leading zero keep the cells readable at this size.
        text = format_number(lower[i, j], 2).replace("0.", ".", 1)
        color = "white" if abs(lower[i, j]) > 0.6 else INK
        _text(ax, j, i, text, CELL_SIZE, ha="center", va="center", color=color)
    ax.set_xticks(
        range(n - 1), [SHORT_LABELS.get(f, f) for f in features[:-1]], rotation=45, ha="right", rotation_mode="anchor"
    )
    ax.set_yticks(range(n - 1), [SHORT_LABELS.get(f, f) for f in features[1:]])
    _style(ax, grid=None, spines=False, size=CELL_SIZE + 0.5)
    ax.tick_params(left=False, bottom=False)
    _place(fig, [[ax]], left=_left_space(fig, ax), right=0.95, top=HEADER + 0.04, bottom=_bottom_space(fig, ax))
    _colorbar(fig, image, ax, "Spearman correlation (-1 to 1)", (-1, -0.5, 0, 0.5, 1))
    return fig


def describe_correlation(correlation: Correlation, strongest: int = 8) -> str:
    """The correlation chart in words: the strongest pairs and the range of the rest."""
    features = correlation.features
    matrix = correlation.matrix
    pairs = sorted(
        (
            (matrix[i][j], features[i], features[j])
            for i in range(len(features))
            for j in range(i)
            if np.isfinite(matrix[i][j])  # a constant feature has no rank correlation
        ),
        key=lambda t: (-abs(t[0]), t[1], t[2]),
    )
    top = ", ".join(
        f"{SHORT_LABELS.get(a, a)} and {SHORT_LABELS.get(b, b)} {format_number(v, 2)}" for v, a, b in pairs[:strongest]
    )
    rest = [v for v, _a, _b in pairs[strongest:]]
    span = (
        f" All other pairs lie between {format_number(min(rest), 2)} and {format_number(max(rest), 2)}." if rest else ""
    )
    return (
        f"Heatmap of the Spearman rank correlation between the {len(features)} features. "
        f"Strongest pairs: {top}.{span}"
    )


# --- trends (history) ------------------------------------------------------------------------


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
        ends = [0, len(months) - 1]
        ax_small.set_xticks(ends, [month_short(months[0]), month_short(months[-1])])
        _style(ax_small, grid="y", size=CELL_SIZE)
        ax_small.tick_params(axis="y", labelleft=i % cols == 0)
        for label, ha in zip(ax_small.get_xticklabels(), ("left", "right")):
            label.set_horizontalalignment(ha)
    _place(fig, grid, left=_left_space(fig, flat[0]), right=PAD + 0.1, top=sub_top + 0.24 + panel_title,
           bottom=PAD + 0.22, wgap=0.2, hgap=0.3 + panel_title)
    return fig


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
    :mod:`reportgen.formatting`."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    axis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
    number = _number(kind)
    axis.set_major_formatter(FuncFormatter(lambda value, _pos: number(value)))


def _number(kind: str):
    """Value -> text for one kind of number (ticks and alt text alike)."""
    return {
        "count": lambda v: format_money(v, compact=True).replace("$", "") if abs(v) >= 1e5 else format_count(v),
        "money": lambda v: format_money(v, compact=abs(v) >= 1e3),  # $500, $1.5k, $10.0k: one style per axis
        "share": lambda v: format_share(v, 0),
        "number": lambda v: format_number(v, 2),
        "decimal": lambda v: format_number(v, 0 if float(v).is_integer() else 1),
    }[kind]


def _plot_evidence(ax, ks, values, rows, color: str, marker: str, linestyle: str = "-") -> None:
    """A metric over k; inadmissible k get hollow markers."""
    ax.plot(ks, values, color=color, linestyle=linestyle, linewidth=1.3, zorder=3)
    faces = [color if r.admissible else "white" for r in rows]
    ax.scatter(ks, values, marker=marker, s=22, c=faces, edgecolors=color, linewidths=1.1, zorder=4)


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


# --- layout ----------------------------------------------------------------------------------


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


# --- small helpers ---------------------------------------------------------------------------


def _k_subtitle(choice: KChoice) -> str:
    how = "set by the user" if choice.forced else "picked by the rule"
    if choice.sample_size < choice.customers:
        scope = f"a sample of {format_count(choice.sample_size)} of {format_count(choice.customers)} customers"
    else:
        scope = f"all {format_count(choice.sample_size)} customers"
    return f"k = {choice.chosen_k} ({how}); evidence from {scope}"


def _pca_subtitle(model: ReportModel) -> str:
    scatter = model.scatter
    return f"{format_count(len(scatter.x))} of {format_count(scatter.total_customers)} customers shown"


def _font(size: float, bold: bool = False):
    from matplotlib.font_manager import FontProperties

    return FontProperties(family=FONT, size=size, weight="bold" if bold else "normal")


def _wrap(text: str, width: int, lines: int) -> str:
    """Wrap a label to ``width`` characters on at most ``lines`` lines (the alt text keeps it whole)."""
    text = strip_illegal(text)
    return "\n".join(textwrap.wrap(text, max(width, 8), max_lines=lines, placeholder=" ...")) or text


def _signed(z: float) -> str:
    """A z-score with one decimal and its sign; values that round to zero print as +0.0, not -0.0."""
    return format_signed(round(z, 1) + 0.0, 1) if np.isfinite(z) else "n/a"


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def _kpi(segment: Segment, key: str) -> float:
    return next(k.value for k in segment.kpis if k.key == key)


def _profile(segment: Segment, feature: str):
    return next(p for p in segment.profile if p.feature == feature)

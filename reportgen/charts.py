"""The report's pictures, drawn once per build from the report model (never from raw data).

:func:`build_charts` turns a :class:`~reportgen.report.ReportModel` into format-neutral PNGs
(:class:`~reportgen.rendering.Chart`) shared by the PDF, the HTML report and the deck's pictures.
Every chart carries ``alt`` text that states its data in words.

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
import textwrap

import numpy as np

from reportgen.formatting import format_count, format_money, format_number, format_share, format_signed
from reportgen.rendering import Chart
from reportgen.report import ReportModel, Segment

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
}

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
    """Draw the charts of the report from ``model`` (all, or those of ``keys``): key -> :class:`Chart`."""
    wanted = CHARTS if keys is None else {key: CHARTS[key] for key in keys}
    return {key: _render(key, plot(model), describe(model)) for key, (plot, describe) in wanted.items()}


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


def plot_k_evidence(model: ReportModel):
    """2x2 small multiples of the k-selection evidence, stability on the silhouette's twin axis."""
    from matplotlib.lines import Line2D

    choice = model.k_choice
    rows = choice.rows
    ks = [r.k for r in rows]
    fig = _figure(5.0)
    _header(fig, TITLES["k_evidence"], _k_subtitle(model))
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


def describe_k_evidence(model: ReportModel) -> str:
    """The k-evidence chart in words."""
    choice = model.k_choice
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


def plot_correlation(model: ReportModel):
    """Lower triangle (without the diagonal of ones) of the Spearman correlation matrix."""
    features = model.correlation.features
    matrix = np.array(model.correlation.matrix, dtype=float)
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


def describe_correlation(model: ReportModel, strongest: int = 8) -> str:
    """The correlation chart in words: the strongest pairs and the range of the rest."""
    features = model.correlation.features
    matrix = model.correlation.matrix
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


# key -> (plot, describe), in the order of the report.
CHARTS = {
    "sizes": (plot_sizes, describe_sizes),
    "k_evidence": (plot_k_evidence, describe_k_evidence),
    "pca": (plot_pca, describe_pca),
    "comparison": (plot_comparison, describe_comparison),
    "profile_heat": (plot_profile_heat, describe_profile_heat),
    "correlation": (plot_correlation, describe_correlation),
}


# --- drawing helpers -------------------------------------------------------------------------


def _render(key: str, fig, alt: str) -> Chart:
    """Encode ``fig`` as PNG without metadata, so the bytes depend on the model only."""
    buffer = io.BytesIO()
    # zlib level 1: antialiased charts compress about as well as at the default level 6, faster.
    fig.savefig(
        buffer, format="png", dpi=DPI, facecolor="white", metadata={"Software": None}, pil_kwargs={"compress_level": 1},
    )
    return Chart(
        key=key, title=TITLES[key], alt=alt, png=buffer.getvalue(),
        width_px=round(fig.get_figwidth() * DPI), height_px=round(fig.get_figheight() * DPI),
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


def _k_subtitle(model: ReportModel) -> str:
    choice = model.k_choice
    how = "set by the user" if choice.forced else "picked by the rule"
    if choice.sample_size < model.facts.customers:
        scope = f"a sample of {format_count(choice.sample_size)} of {format_count(model.facts.customers)} customers"
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

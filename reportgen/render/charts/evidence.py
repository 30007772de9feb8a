"""The methodology's charts: the evidence for k (elbow, silhouette, separation, stability) and the
correlation of the behaviour columns.
"""

from __future__ import annotations

import numpy as np

from reportgen.render.charts.style import (
    CELL_SIZE,
    DIVERGING,
    FIRST,
    HEADER,
    HIGHLIGHT,
    INK,
    LABELLED_CORRELATION,
    PAD,
    PANEL_TITLE,
    SECOND,
    SHORT_LABELS,
    TITLES,
    _bottom_legend,
    _bottom_space,
    _colorbar,
    _figure,
    _header,
    _label,
    _left_space,
    _numeric,
    _panel_title,
    _place,
    _right_space,
    _style,
    _text,
)
from reportgen.report.formatting import (
    format_count,
    format_number,
)
from reportgen.report.model import Correlation, KChoice

# (KRow attribute, panel title, y-axis label, number kind) of the k-evidence panels.
K_PANELS = (
    ("inertia", "Inertia: the elbow (lower = tighter)", "Sum of squared distances", "count"),
    ("silhouette", "Silhouette (higher = better)", "Silhouette (-1 to 1)", "number"),
    ("calinski_harabasz", "Calinski-Harabasz (higher = better)", "Index (ratio)", "count"),
    ("davies_bouldin", "Davies-Bouldin (lower = better)", "Index (ratio)", "number"),
)


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
        _plot_evidence(ax, ks, [getattr(r, attr) for r in rows], rows, FIRST, "o")
        ax.axvline(choice.chosen_k, color=HIGHLIGHT, linestyle=":", linewidth=1.4, zorder=2)
        _panel_title(ax, title)
        _label(ax, y=ylabel)
        _numeric(ax.yaxis, kind)
        _style(ax, grid="y")
        if attr == "silhouette":
            twin = ax.twinx()
            _plot_evidence(twin, ks, [r.stability for r in rows], rows, SECOND, "s", linestyle="--")
            _label(twin, y="Stability (weakest segment, Jaccard)", color=SECOND)
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
        Line2D([], [], color=FIRST, linestyle="", marker="o", markersize=4, markerfacecolor="white",
               label="Not stable"),
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
        f"stability {format_number(r.stability, 2)}{'' if r.admissible else ' (not stable)'}"
        for r in choice.rows
    ]
    ks = [r.k for r in choice.rows]
    return (
        f"Line charts of the evidence for choosing the number of segments, k = {min(ks)} to {max(ks)}; "
        f"k = {choice.chosen_k} was chosen ({choice.reason}). " + "; ".join(parts) + "."
    )


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


def _plot_evidence(ax, ks, values, rows, color: str, marker: str, linestyle: str = "-") -> None:
    """A metric over k; k that are not stable get hollow markers."""
    ax.plot(ks, values, color=color, linestyle=linestyle, linewidth=1.3, zorder=3)
    faces = [color if r.admissible else "white" for r in rows]
    ax.scatter(ks, values, marker=marker, s=22, c=faces, edgecolors=color, linewidths=1.1, zorder=4)


def _k_subtitle(choice: KChoice) -> str:
    how = choice.how
    if choice.sample_size < choice.customers:
        scope = f"a sample of {format_count(choice.sample_size)} of {format_count(choice.customers)} customers"
    else:
        scope = f"all {format_count(choice.sample_size)} customers"
    return f"k = {choice.chosen_k} ({how}); evidence from {scope}"

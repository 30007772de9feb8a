"""The deck's chart slides: native, editable PowerPoint charts with their data embedded (how k was
chosen, segment sizes, spend per customer, segment sizes over the recorded months), styled from
the chart's size and drawn in the segments' colours.
"""

from __future__ import annotations

import math

from pptx.chart.data import CategoryChartData
from pptx.dml.color import RGBColor
from pptx.enum.chart import XL_CHART_TYPE, XL_LABEL_POSITION, XL_LEGEND_POSITION, XL_MARKER_STYLE
from pptx.enum.dml import MSO_THEME_COLOR
from pptx.enum.text import MSO_ANCHOR
from pptx.util import Emu, Pt

from reportgen.render.charts import chart_applies
from reportgen.render.deck.slides import fill_text, kpi_of, new_slide, slide_area, split_rect
from reportgen.render.deck.textfit import Para, cut_words, slide_text
from reportgen.report.colours import METRICS
from reportgen.report.formatting import (
    format_count,
    format_number,
    format_share,
    month_short,
    spreadsheet_money_format,
)


def build_k_choice(deck) -> None:
    """Why k segments: silhouette and stability for each candidate k (a line chart, the chosen k
    marked) beside the rule's verdict."""
    choice = deck.model.k_choice
    chosen = next((row for row in choice.rows if row.chosen), None)
    how = choice.how
    n = format_number  # thresholds in the report's number style
    slide = new_slide(deck, "title_only", f"Methodology: why {choice.chosen_k} segments", (
        f"We use {choice.chosen_k} segments ({how}). {choice.reason}. The chart shows, for each possible "
        f"number of segments, how clearly apart the segments are (the silhouette, from 0 to 1: above {n(0.5, 1)} "
        f"clearly apart, {n(0.25)} to {n(0.5, 1)} reasonably apart, below {n(0.25)} overlapping) and how stable the "
        "weakest segment is when the segmentation is repeated on resampled customers (1 = the same customers every "
        f"time, {n(0.85)} and above highly stable, below {n(0.6)} the segment falls apart). The rule: {choice.rule}"
    ))
    area = slide_area(deck, slide)
    chart_rect, panel_rect = split_rect(area, (0.68, 0.32), gap=0.03)
    data = CategoryChartData(number_format="0.000")
    data.categories = [str(row.k) for row in choice.rows]
    data.add_series("How clearly apart (silhouette)", [_finite(row.silhouette) for row in choice.rows])
    data.add_series("Stability of the weakest segment", [_finite(row.stability) for row in choice.rows])
    chart = slide.shapes.add_chart(XL_CHART_TYPE.LINE_MARKERS, *chart_rect, data).chart
    style_chart(chart, chart_rect, legend=XL_LEGEND_POSITION.BOTTOM)
    chart.value_axis.minimum_scale, chart.value_axis.maximum_scale = 0.0, 1.0
    chart.value_axis.major_unit = 0.2
    chart.value_axis.tick_labels.number_format = "0.0"
    chart.value_axis.tick_labels.number_format_is_linked = False
    _axis_title(chart.category_axis, "k (number of segments)", chart_rect)
    index = next((i for i, row in enumerate(choice.rows) if row.chosen), None)
    metric_colours = (RGBColor.from_string(METRICS[key].lstrip("#")) for key in ("silhouette", "stability"))
    for series, theme in zip(chart.plots[0].series, metric_colours):
        _style_line(series, theme)
        if index is not None:
            point = series.points[index]
            point.marker.style = XL_MARKER_STYLE.CIRCLE
            point.marker.size = 13
            point.marker.format.fill.solid()
            _paint(point.marker.format.fill.fore_color, theme)
    paras = [Para(f"k = {choice.chosen_k}", scale=1.8, bold=True, colour=MSO_THEME_COLOR.TEXT_2),
             Para(f"{choice.reason}.")]
    if chosen is not None:
        apart = ("clearly apart" if chosen.silhouette >= 0.5 else "reasonably apart" if chosen.silhouette >= 0.25
                 else "overlapping: names are tendencies")
        stable = ("highly stable" if chosen.stability >= 0.85 else "stable enough to act on"
                  if chosen.stability >= 0.6 else "unstable")
        paras += [Para(f"How clearly apart: {format_number(chosen.silhouette, 2)} ({apart})", bullet=True),
                  Para(f"Weakest segment's stability: {format_number(chosen.stability, 2)} ({stable})", bullet=True),
                  Para(f"Smallest segment {format_share(chosen.min_share)} of customers", bullet=True)]
    panel = slide.shapes.add_textbox(*panel_rect)
    fill_text(deck, panel.text_frame, panel_rect, paras, 18, 10, anchor=MSO_ANCHOR.MIDDLE)


def build_sizes(deck) -> None:
    """Segment sizes: a bar per segment in its colour, labelled with customers and share."""
    segments = deck.model.segments
    largest = max(segments, key=lambda s: s.customers)
    slide = new_slide(deck, "title_only", "Segment sizes", (
        f"The {len(segments)} segments by number of customers. {largest.name} is the largest with "
        f"{format_count(largest.customers)} customers ({format_share(largest.share)}). "
        + " ".join(f"{s.name}: {format_count(s.customers)} customers, {format_share(s.share)}."
                   for s in segments)
    ))
    area = slide_area(deck, slide)
    data = CategoryChartData(number_format="#,##0")
    data.categories = [slide_text(s.short_name, single_line=True) for s in segments]  # full names in the notes
    data.add_series("Customers", [s.customers for s in segments])
    chart = slide.shapes.add_chart(XL_CHART_TYPE.BAR_CLUSTERED, *area, data).chart
    font = style_chart(chart, area, legend=None)
    plot = chart.plots[0]
    plot.gap_width = 45
    plot.vary_by_categories = False
    chart.category_axis.reverse_order = True
    chart.category_axis.format.line.fill.background()
    value_axis = chart.value_axis
    value_axis.has_major_gridlines = False
    value_axis.maximum_scale = max(s.customers for s in segments) * 1.3
    value_axis.minimum_scale = 0
    value_axis.visible = False
    series = plot.series[0]
    for point, segment in zip(series.points, segments):
        point.format.fill.solid()
        point.format.fill.fore_color.rgb = RGBColor.from_string(segment.color.lstrip("#"))
        label = point.data_label
        label.has_text_frame = True
        label.text_frame.text = f"{format_count(segment.customers)} ({format_share(segment.share)})"
        label.text_frame.paragraphs[0].runs[0].font.size = Pt(font)
        label.text_frame.paragraphs[0].runs[0].font.bold = True
        label.position = XL_LABEL_POSITION.OUTSIDE_END


_COMPARED = (("avg_balance", "Average balance"), ("avg_purchases", "Average purchases"),
             ("avg_payments", "Average payments"))


def build_comparison(deck) -> None:
    """Average balance, purchases and payments per customer: a column per segment in its colour."""
    segments = deck.model.segments
    slide = new_slide(deck, "title_only", "Balance, purchases and payments per customer", (
        "Average balance, purchases and payments per customer in each segment. "
        + " ".join((f"{s.name}: " + ", ".join(f"{label.lower()} {kpi_of(s.kpis, key).display}"
                                             for key, label in _COMPARED) + "." if s.customers
                    else f"{s.name}: no customers this month, so no averages.") for s in segments)
    ))
    area = slide_area(deck, slide)
    data = CategoryChartData(number_format=spreadsheet_money_format())
    data.categories = [label for _key, label in _COMPARED]
    for segment in segments:
        # a segment with no customers has no averages: gaps, not bars at 0, and its legend entry says why
        name = segment.name if segment.customers else f"{segment.name} (no customers)"
        data.add_series(slide_text(name, single_line=True),
                        [_finite(kpi_of(segment.kpis, key).value) for key, _ in _COMPARED])
    chart = slide.shapes.add_chart(XL_CHART_TYPE.COLUMN_CLUSTERED, *area, data).chart
    style_chart(chart, area, legend=XL_LEGEND_POSITION.BOTTOM)
    plot = chart.plots[0]
    plot.gap_width = 70
    plot.overlap = 0
    chart.value_axis.tick_labels.number_format = spreadsheet_money_format()
    chart.value_axis.tick_labels.number_format_is_linked = False
    chart.value_axis.minimum_scale = 0
    for series, segment in zip(plot.series, segments):
        series.format.fill.solid()
        series.format.fill.fore_color.rgb = RGBColor.from_string(segment.color.lstrip("#"))


def build_trends(deck) -> None:
    """Segment sizes over the recorded months: a native line chart in persona colours and the
    change of each segment since the first month."""
    model = deck.model
    if not chart_applies("trend", model):
        return
    history = model.history
    months = history.months
    first, last = month_short(months[0]), month_short(months[-1])
    # Largest segment first: the panel lists the lines top to bottom as they end, so it is the key.
    moves = sorted(((s, s.customers[0], s.customers[-1]) for s in history.series), key=lambda t: -(t[2] or 0))
    slide = new_slide(deck, "title_only", f"Trends: segment sizes, {first} to {last}", (
        f"Customers per segment over the last {len(months)} months, {first} to {last}. Segments keep their "
        f"names and colours from month to month. " + " ".join(_trend_sentence(s, start, end, first)
                                                               for s, start, end in moves)
        + f" The portfolio: {format_count(history.portfolio_customers[0])} customers in {first}, "
          f"{format_count(history.portfolio_customers[-1])} in {last}."
    ))
    area = slide_area(deck, slide)
    chart_rect, panel_rect = split_rect(area, (0.7, 0.3), gap=0.03)
    data = CategoryChartData(number_format="#,##0")
    data.categories = [month_short(m) for m in months]
    for series in history.series:
        data.add_series(slide_text(series.name, single_line=True), [None if v is None else int(v) for v in series.customers])
    chart = slide.shapes.add_chart(XL_CHART_TYPE.LINE_MARKERS, *chart_rect, data).chart
    style_chart(chart, chart_rect, legend=None)  # the panel beside it names every line in its colour
    chart.value_axis.minimum_scale = 0
    chart.value_axis.tick_labels.number_format = "#,##0"
    chart.value_axis.tick_labels.number_format_is_linked = False
    _axis_title(chart.value_axis, "Customers", chart_rect)
    for plotted, series in zip(chart.plots[0].series, history.series):
        _style_line(plotted, RGBColor.from_string(series.color.lstrip("#")))
    paras = [Para(f"Customers in {last}, change since {first}", bold=True, colour=MSO_THEME_COLOR.TEXT_2)]
    for series, start, end in moves:
        paras.append(Para(cut_words(series.name), bold=True, mark=series.color))
        now = "" if end is None else f"{format_count(end)} \u00b7 "
        paras.append(Para(now + _change(start, end), indent=True))
    panel = slide.shapes.add_textbox(*panel_rect)
    fill_text(deck, panel.text_frame, panel_rect, paras, 18, 10, anchor=MSO_ANCHOR.MIDDLE)


def _change(start, end) -> str:
    """``+146 (+30.4%)``; for a segment that appeared or vanished, says so."""
    if end is None:
        return "no longer a segment"
    if start is None or not start:
        return f"new, {format_count(end)} customers"
    change = ("+" if end >= start else "-") + format_count(abs(end - start))  # grouped in the report's locale
    return f"{change} ({'+' if end > start else ''}{format_share((end - start) / start)})"


def _trend_sentence(series, start, end, first: str) -> str:
    if end is None:
        return f"{series.name} no longer exists as a segment."
    if start is None:
        return f"{series.name} appeared with {format_count(end)} customers now."
    return (f"{series.name}: {format_count(start)} customers in {first}, {format_count(end)} now "
            f"({_change(start, end)}).")


# -- chart styling ------------------------------------------------------------------------------


def _finite(value):
    """A chart value: non-finite numbers become gaps (python-pptx would write "nan")."""
    return float(value) if value is not None and math.isfinite(value) else None


def style_chart(chart, rect, *, legend) -> float:
    """Font size from the chart's height, a legend where asked, light gridlines; returns the size."""
    size = max(10.0, min(14.0, round(Emu(rect[3]).pt / 30 * 2) / 2))
    chart.font.size = Pt(size)
    chart.has_title = False
    chart.has_legend = legend is not None
    if legend is not None:
        chart.legend.position = legend
        chart.legend.include_in_layout = False
        chart.legend.font.size = Pt(size)
    try:
        gridlines = chart.value_axis.major_gridlines.format.line
        gridlines.color.rgb = RGBColor(0xD9, 0xD9, 0xD9)
    except (ValueError, AttributeError):  # pragma: no cover - every chart here has a value axis
        pass
    return size


def _axis_title(axis, text: str, rect) -> None:
    axis.has_title = True
    frame = axis.axis_title.text_frame
    frame.text = slide_text(text, single_line=True)
    frame.paragraphs[0].runs[0].font.size = Pt(max(10.0, min(13.0, Emu(rect[3]).pt / 32)))
    frame.paragraphs[0].runs[0].font.bold = False


def _style_line(series, colour) -> None:
    """A line series 2.5 pt wide with 7 pt round markers, line and markers in ``colour`` (an
    ``RGBColor`` or a theme colour)."""
    series.smooth = False
    _paint(series.format.line.color, colour)
    series.format.line.width = Pt(2.5)
    series.marker.style = XL_MARKER_STYLE.CIRCLE
    series.marker.size = 7
    series.marker.format.fill.solid()
    _paint(series.marker.format.fill.fore_color, colour)
    _paint(series.marker.format.line.color, colour)


def _paint(color_format, colour) -> None:
    if isinstance(colour, RGBColor):
        color_format.rgb = colour
    else:
        color_format.theme_color = colour

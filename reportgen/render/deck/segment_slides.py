"""One slide per segment, on one fixed grid: a row of KPI tiles, what the segment is and what to do
about it on the left, and its profile index against the portfolio on the right (a native bar chart,
portfolio = 100). Every segment slide has the same grid and the same text size, so an executive
flicking through them compares like with like.
"""

from __future__ import annotations

from pptx.chart.data import CategoryChartData
from pptx.dml.color import RGBColor
from pptx.enum.chart import XL_CHART_TYPE, XL_LABEL_POSITION, XL_TICK_LABEL_POSITION
from pptx.enum.dml import MSO_THEME_COLOR
from pptx.enum.text import MSO_ANCHOR
from pptx.util import Pt

from reportgen.render.deck.charts import style_chart
from reportgen.render.deck.slides import (
    add_tiles,
    fill_text,
    fit_size,
    kpi_of,
    new_slide,
    slide_area,
    split_rect,
    text_frames,
)
from reportgen.render.deck.textfit import FLOOR, Para, slide_text, write_text
from reportgen.report.formatting import format_count, format_share

_SEGMENT_KPIS = ("avg_balance", "avg_purchases", "utilisation")

#: The features of the profile chart, the same on every segment slide, with their axis labels.
PROFILE_FEATURES = (
    ("BALANCE", "Balance"), ("PURCHASES", "Purchases"), ("INSTALLMENTS_PURCHASES", "Instalment purchases"),
    ("CASH_ADVANCE", "Cash advance"), ("PURCHASES_FREQUENCY", "Purchase frequency"),
    ("CREDIT_LIMIT", "Credit limit"), ("PAYMENTS", "Payments"), ("PRC_FULL_PAYMENT", "Full-payment share"),
    ("UTILISATION", "Utilisation"),
)

# The grid, as shares of the slide's content room: tiles on top, text left, chart right.
_STRIP, _TEXT = 0.22, 0.46


def build_segments(deck) -> None:
    """A slide per segment, every one on the same grid and at the same text size."""
    segments = deck.model.segments
    if not segments:
        return
    area = slide_area_of_role(deck)
    _strip, _text_rect, _chart_rect = _grid(area)
    size = min(fit_size(_text(s), _text_rect[2], _text_rect[3], deck.body_font, 18, FLOOR) for s in segments)
    for segment in segments:
        _segment(deck, segment, size)


def slide_area_of_role(deck):
    """The content room of the layout segment slides use (measured without adding a slide)."""
    from reportgen.render.deck.layouts import content_area

    return tuple(int(v) for v in content_area(deck.layouts["two_content"], deck.prs))


def _grid(area):
    strip, lower = split_rect(area, (_STRIP, 1 - _STRIP), gap=0.04, vertical=True)
    text_rect, chart_rect = split_rect(lower, (_TEXT, 1 - _TEXT), gap=0.03)
    return strip, text_rect, chart_rect


def _text(segment) -> list[Para]:
    heading = MSO_THEME_COLOR.TEXT_2
    paras = [Para(segment.description)]
    if segment.actions:
        paras += [Para("Marketing actions", bold=True, colour=heading)]
        paras += [Para(a, bullet=True) for a in segment.actions]
    if segment.risks:
        paras += [Para("Risk notes", bold=True, colour=heading)] + [Para(r, bullet=True) for r in segment.risks]
    return paras


def _segment(deck, segment, size: float) -> None:
    kpis = [kpi_of(segment.kpis, key) for key in _SEGMENT_KPIS]
    who = f"{format_count(segment.customers)} customers, {format_share(segment.share)} of the portfolio"
    rows = _profile_rows(segment)
    slide = new_slide(deck, "two_content", segment.name, (
        f"{segment.name}: {who}. {segment.description} "
        + " ".join(f"{k.label}: {k.display}." for k in kpis)
        + (" Typical traits: " + ", ".join(segment.traits) + "." if segment.traits else "")
        + (" What marketing should do: " + "; ".join(segment.actions) + "." if segment.actions else "")
        + (" Risks to watch: " + "; ".join(segment.risks) + "." if segment.risks else "")
        + (" Profile index against the portfolio (portfolio = 100): "
           + "; ".join(f"{label} {index:.0f}" for label, index in rows) + "." if rows else f" {_NO_PROFILE}")
    ))
    strip, text_rect, chart_rect = _grid(slide_area(deck, slide))
    tiles = split_rect(strip, (1.25, 1, 1, 1), gap=0.025)
    add_tiles(deck, slide, tiles,
              [(format_count(segment.customers), f"customers \u00b7 {format_share(segment.share)} of all",
                segment.color)] + [(kpi.display, kpi.label, None) for kpi in kpis], largest=26)
    (frame,) = text_frames(slide, [text_rect])
    write_text(frame.text_frame, _text(segment), size)
    if rows:
        _profile_chart(slide, segment, rows, chart_rect)
    elif not segment.customers:  # nothing to chart: say so where the chart would be, not an empty frame
        box = slide.shapes.add_textbox(*chart_rect)
        fill_text(deck, box.text_frame, chart_rect, [Para(_NO_PROFILE, colour=MSO_THEME_COLOR.TEXT_2)], size, FLOOR,
                  anchor=MSO_ANCHOR.MIDDLE)


_NO_PROFILE = "No profile index: with no customers this month, there is nothing to set against the portfolio."


def _profile_rows(segment) -> list[tuple[str, float]]:
    """(label, index) of the fixed profile features the segment's profile has (none when it has no
    customers: no mean, no index)."""
    by_feature = {row.feature: row for row in segment.profile}
    return [(label, by_feature[key].index) for key, label in PROFILE_FEATURES
            if key in by_feature and by_feature[key].index is not None]


def _profile_chart(slide, segment, rows, rect) -> None:
    """Bars of the segment's profile index, from the portfolio's 100, in the segment's colour."""
    data = CategoryChartData(number_format="0")
    data.categories = [label for label, _index in rows]
    data.add_series(slide_text(f"{segment.name}: index (portfolio = 100)", single_line=True), [round(index, 1) for _label, index in rows])
    chart = slide.shapes.add_chart(XL_CHART_TYPE.BAR_CLUSTERED, *rect, data).chart
    font = style_chart(chart, rect, legend=None)
    chart.has_title = True
    chart.chart_title.text_frame.text = "Profile index (portfolio = 100)"
    title_run = chart.chart_title.text_frame.paragraphs[0].runs[0]
    title_run.font.size, title_run.font.bold = Pt(font), True
    plot = chart.plots[0]
    plot.gap_width = 60
    plot.vary_by_categories = False
    chart.category_axis.reverse_order = True
    chart.category_axis.tick_labels.font.size = Pt(font)
    chart.category_axis.tick_label_position = XL_TICK_LABEL_POSITION.LOW  # labels at the left edge, off the bars
    value_axis = chart.value_axis
    top = max(200.0, max(index for _label, index in rows) * 1.25)
    step = next(s for s in (20, 50, 100, 200, 500, 1000) if top / s <= 10) if top <= 10_000 else top / 10
    # the axis starts one step below 0 (its tick label hidden: no negative section in the format) so the
    # value label of a bar ending near 0 has room instead of running into the feature's name
    value_axis.minimum_scale, value_axis.maximum_scale, value_axis.major_unit = -step, top, step
    value_axis.tick_labels.number_format, value_axis.tick_labels.number_format_is_linked = "0;;0", False
    value_axis.tick_labels.font.size = Pt(font)
    value_axis.crosses_at = 100  # bars grow from the portfolio's level, left (below) or right (above)
    fill = plot.series[0].format.fill
    fill.solid()
    fill.fore_color.rgb = RGBColor.from_string(segment.color.lstrip("#"))
    plot.has_data_labels = True
    labels = plot.data_labels
    labels.number_format, labels.number_format_is_linked = "0", False
    labels.position = XL_LABEL_POSITION.OUTSIDE_END
    labels.font.size = Pt(font)

"""The deck's overview slides drawn natively, so every label is editable and at least 10 pt on the
slide: the customer map (an XY scatter of the model's fixed-size PCA sample, a series per segment),
the segment profiles (a table of indices against the portfolio, cells shaded like the report's heatmap) and the evidence
for each k (four small line charts). Pictures of these, drawn for an A4 page, would shrink their
text to 6-7 pt on a slide.
"""

from __future__ import annotations

from pptx.chart.data import CategoryChartData, XyChartData
from pptx.dml.color import RGBColor
from pptx.enum.chart import XL_CHART_TYPE, XL_LEGEND_POSITION, XL_MARKER_STYLE, XL_TICK_LABEL_POSITION
from pptx.enum.text import PP_ALIGN
from pptx.util import Pt

from reportgen.render.deck.charts import style_chart
from reportgen.render.deck.segment_slides import PROFILE_FEATURES
from reportgen.render.deck.slides import add_table_slides, new_slide, slide_area, split_rect
from reportgen.render.deck.textfit import Para, cut_words, slide_text, word_fractions
from reportgen.report.colours import METRICS
from reportgen.report.formatting import format_count, format_index, format_share, index_strength

#: Customers drawn on the deck's map (see build_customer_map).
MAP_POINTS = 1_000


def build_customer_map(deck) -> None:
    """The customers of the model's PCA sample, a marker per customer in the segment's colour."""
    model = deck.model
    scatter = model.scatter
    explained = " and ".join(format_share(v) for v in scatter.explained)
    # The model's sample is already random; the deck takes its first MAP_POINTS (a slide of more dots
    # is slow to open and no easier to read).
    count = min(len(scatter.x), MAP_POINTS)
    shown = f"{format_count(count)} of {format_count(scatter.total_customers)} customers"
    slide = new_slide(deck, "title_only", "Customer map: where the segments sit", (
        f"Each dot is a customer, coloured by segment, placed by the first two principal components of the "
        f"transformed features (they explain {explained} of the variance). The chart shows a sample of {shown}. "
        "Segments that overlap here can still differ on features the map flattens."
    ))
    area = slide_area(deck, slide)
    data = XyChartData()
    points = {s.id: ([], []) for s in model.segments}
    for x, y, seg in zip(scatter.x[:count], scatter.y[:count], scatter.segment[:count]):
        if seg in points:
            points[seg][0].append(x)
            points[seg][1].append(y)
    # Every series is padded with empty points to the longest one's length: LibreOffice (and so anyone
    # converting the deck with it) draws none of the series that are shorter than the last one unless the
    # first is the longest, i.e. it dropped whole segments from the map. Empty points draw nothing.
    longest = max((len(xs) for xs, _ in points.values()), default=0)
    for segment in model.segments:
        series = data.add_series(slide_text(segment.name, single_line=True), number_format="0.0")
        xs, ys = points[segment.id]
        for x, y in zip(xs, ys):
            series.add_data_point(round(x, 3), round(y, 3))
        for _ in range(longest - len(xs)):
            series.add_data_point(None, None)
    chart = slide.shapes.add_chart(XL_CHART_TYPE.XY_SCATTER, *area, data).chart
    style_chart(chart, area, legend=XL_LEGEND_POSITION.RIGHT)
    for plotted, segment in zip(chart.plots[0].series, model.segments):
        colour = RGBColor.from_string(segment.color.lstrip("#"))
        plotted.format.line.fill.background()
        plotted.marker.style = XL_MARKER_STYLE.CIRCLE
        plotted.marker.size = 4
        plotted.marker.format.fill.solid()
        plotted.marker.format.fill.fore_color.rgb = colour
        plotted.marker.format.line.fill.background()
    for axis, text in ((chart.category_axis, f"PC1 ({format_share(scatter.explained[0])} of variance)"),
                       (chart.value_axis, f"PC2 ({format_share(scatter.explained[1])} of variance)")):
        axis.has_major_gridlines = False
        axis.tick_label_position = XL_TICK_LABEL_POSITION.LOW  # at the plot's edge, not across the dots
        axis.has_title = True
        axis.axis_title.text_frame.text = text
        axis.axis_title.text_frame.paragraphs[0].runs[0].font.size = Pt(12)
        axis.axis_title.text_frame.paragraphs[0].runs[0].font.bold = False


def _shade(index: float | None) -> tuple[RGBColor, str]:
    """A cell fill from blue (below the portfolio) through white (= 100) to red (above), on the report
    heatmap's log scale (50 and 200 equally strong), and its ink; grey where there is no index."""
    if index is None:
        return RGBColor(0xD9, 0xD9, 0xD9), "#1A1A1A"
    t = index_strength(index)
    end = (178, 24, 43) if t > 0 else (33, 102, 172)
    rgb = tuple(round(255 + (c - 255) * abs(t)) for c in end)
    return RGBColor(*rgb), "#FFFFFF" if abs(t) > 0.6 else "#1A1A1A"


def build_profile_table(deck) -> None:
    """Segments against the portfolio on the profile features, as indices (100 = portfolio): a native
    table, cells shaded blue (below) to red (above) and labelled with the index."""
    segments = deck.model.segments
    header = [(Para("Segment", bold=True),)]
    header += [(Para(label, bold=True, align=PP_ALIGN.CENTER),) for _key, label in PROFILE_FEATURES]
    rows, shades = [], []
    for segment in segments:
        by_feature = {row.feature: row for row in segment.profile}
        cells, fills = [(Para(cut_words(segment.short_name), bold=True, mark=segment.color),)], []
        for key, _label in PROFILE_FEATURES:
            row = by_feature.get(key)
            index = row.index if row is not None else None
            fill, ink = _shade(index)
            cells.append((Para(format_index(index), colour=ink, align=PP_ALIGN.CENTER),))
            fills.append(fill)
        rows.append(tuple(cells))
        shades.append(fills)
    notes = ("Each segment's average as an index of the portfolio's, feature by feature: 100 is the portfolio, "
             "200 twice as much, 50 half as much (red above, blue below). " + " ".join(
                 f"{s.name}: " + ", ".join(f"{r.label} {format_index(r.index)}" for r in s.profile
                                           if r.feature in dict(PROFILE_FEATURES))
                 + "." for s in segments))
    widths = word_fractions([header, *rows])  # no header word is broken inside
    for table, chunk in add_table_slides(deck, "Segment profiles against the portfolio", notes, header, rows, widths,
                                         largest=14, smallest=10):
        for r, row in enumerate(chunk, start=1):
            fills = shades[rows.index(row)]
            for c, fill in enumerate(fills, start=1):
                cell = table.cell(r, c)
                cell.fill.solid()
                cell.fill.fore_color.rgb = fill


#: The appendix's evidence panels; the silhouette is not among them: the methodology slide charts it.
_K_PANELS = (("inertia", "Inertia (elbow: lower is tighter)", "#,##0"),
             ("calinski_harabasz", "Calinski-Harabasz (higher is better)", "#,##0"),
             ("davies_bouldin", "Davies-Bouldin (lower is better)", "0.00"))


def build_k_evidence(deck) -> None:
    """The rest of the evidence for k: three native line charts side by side (inertia,
    Calinski-Harabasz, Davies-Bouldin; the silhouette is on the methodology slide), the chosen k marked."""
    choice = deck.model.k_choice
    slide = new_slide(deck, "title_only", "Appendix: more evidence for k", (
        "For each candidate number of segments: inertia (how far customers sit from their segment's centre; "
        "look for the bend after which more segments add little), Calinski-Harabasz (spread between segments "
        "against spread within; higher is better) and Davies-Bouldin (how much segments spread into each "
        f"other; lower is better, below 1 well separated). The chosen k = {choice.chosen_k} is marked. "
        f"{choice.reason}. The rule: {choice.rule}"
    ))
    area = slide_area(deck, slide)
    rects = split_rect(area, (1, 1, 1), gap=0.04)
    index = next((i for i, row in enumerate(choice.rows) if row.chosen), None)
    colour = RGBColor.from_string(METRICS["silhouette"].lstrip("#"))
    chosen = RGBColor.from_string(METRICS["stability"].lstrip("#"))
    for (attr, title, number_format), rect in zip(_K_PANELS, rects):
        data = CategoryChartData(number_format=number_format)
        data.categories = [str(row.k) for row in choice.rows]
        data.add_series(title, [getattr(row, attr) for row in choice.rows])
        chart = slide.shapes.add_chart(XL_CHART_TYPE.LINE_MARKERS, *rect, data).chart
        style_chart(chart, rect, legend=None)
        chart.has_title = True
        chart.chart_title.text_frame.text = title
        run = chart.chart_title.text_frame.paragraphs[0].runs[0]
        run.font.size, run.font.bold = Pt(11), True
        chart.value_axis.tick_labels.number_format = number_format
        chart.value_axis.tick_labels.number_format_is_linked = False
        series = chart.plots[0].series[0]
        series.smooth = False
        series.format.line.color.rgb = colour
        series.format.line.width = Pt(2)
        series.marker.style = XL_MARKER_STYLE.CIRCLE
        series.marker.size = 6
        series.marker.format.fill.solid()
        series.marker.format.fill.fore_color.rgb = colour
        if index is not None:
            point = series.points[index]
            point.marker.size = 11
            point.marker.format.fill.solid()
            point.marker.format.fill.fore_color.rgb = chosen

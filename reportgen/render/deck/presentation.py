"""The PowerPoint deck: the report model laid out on the layouts of any master with python-pptx.

``render_pptx(model, charts, settings) -> bytes``. The master is ``settings.pptx_template`` (a
.pptx or .potx) or the bundled ``templates/pptx/master.pptx``; layouts are found by role with
:mod:`reportgen.render.deck.layouts` (name, then placeholder shape, then layout type) and everything is
placed relative to the slide size and the layout's content area, so 16:9 and 4:3 masters both work.

The deck, in the order an executive reads it: cover, agenda, executive summary (the situation,
what matters most, the recommended actions with counts and money), the recommendations (every
sized action), segment sizes, spend comparison, trends and migration (when the model has history),
one slide per segment, the customer map and the segment profiles, how k was chosen, then an
appendix (evidence for each k, the migration
matrix, data quality, run facts). Bar, column and line charts are native, editable PowerPoint
charts with their data embedded, the customer map an XY scatter, the profiles a shaded table.
Every content slide carries its narrative in the speaker notes.

This module orders the slides and writes the file; the slides are built from
:mod:`reportgen.render.deck.slides` (the deck, slides with title, notes and footer, tiles, pictures, tables),
the chart slides live in :mod:`reportgen.render.deck.charts` and the appendix in
:mod:`reportgen.render.deck.appendix`. Text is never left for PowerPoint to shrink: every font size is
computed from the text length and the box by :mod:`reportgen.render.deck.textfit`, and all text passes
:func:`reportgen.render.deck.textfit.slide_text`, which drops the characters XML 1.0 forbids. Output is
deterministic: fixed core properties from ``model.facts.generated_at`` and fixed zip timestamps
(also inside the embedded chart workbooks).
"""

from __future__ import annotations

import io

from pptx.dml.color import RGBColor
from pptx.enum.dml import MSO_THEME_COLOR
from pptx.enum.text import MSO_ANCHOR

from reportgen.errors import RenderError
from reportgen.render.charts import chart_applies
from reportgen.render.deck.appendix import build_appendix
from reportgen.render.deck.charts import build_comparison, build_k_choice, build_sizes, build_trends
from reportgen.render.deck.layouts import body_placeholders, find_layouts, load_presentation, subtitle_placeholder
from reportgen.render.deck.overview_charts import build_customer_map, build_profile_table
from reportgen.render.deck.package import _normalise_zip, _set_properties, _timestamp
from reportgen.render.deck.segment_slides import build_segments
from reportgen.render.deck.slides import (
    Deck,
    add_rectangle,
    add_table_slides,
    add_tiles,
    drop_empty_placeholders,
    fill_text,
    free_area,
    kpi_of,
    new_slide,
    set_title,
    shape_rect,
    slide_area,
    split_rect,
    text_frames,
    usable_placeholder,
)
from reportgen.render.deck.textfit import INSET_X, Para, cut_words, fit_size, slide_text, theme_font_scales, write_text
from reportgen.render.settings import RenderSettings
from reportgen.render.templating import at_risk, moved_into
from reportgen.report.formatting import date_label, format_count, format_money, format_share, month_label, month_short
from reportgen.resources import bundled_path

#: Chart pictures the deck needs: none, every chart is native (see overview_charts).
REQUIRED_PICTURES: tuple[str, ...] = ()


#: "What changed since last month" lines on the executive summary slide (all are in its notes).
CHANGES_SHOWN = 4


def open_master(settings: RenderSettings):
    """The master (the user's ``--pptx-template`` or the bundled one) and its layouts by role;
    :class:`RenderError` naming the file and what is missing. Also run before the analysis, so a
    wrong master fails a build at once."""
    source = settings.pptx_template or bundled_path("templates", "pptx", "master.pptx")
    prs = load_presentation(source)
    return prs, find_layouts(prs, dict(settings.pptx_layouts), source=source)


def render_pptx(model, charts, settings) -> bytes:
    """Render the report model as a PowerPoint deck and return the .pptx bytes.

    ``charts`` maps chart keys to :class:`~reportgen.render.formats.Chart` pictures ("pca" and
    "profile_heat" are required; "k_evidence" and "correlation" go to the appendix when present).
    Raises :class:`RenderError` for an unreadable master, a master lacking a needed layout, or a
    missing or broken chart picture.
    """
    missing = [key for key in REQUIRED_PICTURES if key not in charts]
    if missing:
        raise RenderError(f"PowerPoint deck: chart picture(s) {', '.join(missing)} missing; "
                          f"charts present: {', '.join(sorted(charts)) or 'none'}")
    prs, layouts = open_master(settings)
    _drop_slides(prs)
    title_font, body_font = theme_font_scales(prs)
    footer = slide_text(f"{model.facts.title} \u00b7 {month_label(model.facts.month)}", single_line=True)
    deck = Deck(prs, layouts, model, dict(charts), title_font, body_font, footer)
    # Action first: the summary and the recommendations, the overview (sizes, spend, profiles as
    # indices), then the segments, and the methodology (how k was chosen, the customer map) just
    # before the appendix.
    for build in (_cover, _agenda, _summary, _recommendations, build_sizes, build_comparison, build_profile_table,
                  build_trends, _migration, build_segments, build_k_choice, build_customer_map, build_appendix):
        build(deck)
    for slide in prs.slides:
        drop_empty_placeholders(slide)
    stamp = _timestamp(model.facts.generated_at)
    _set_properties(prs, model, stamp)
    buffer = io.BytesIO()
    prs.save(buffer)
    return _normalise_zip(buffer.getvalue(), stamp)


def _drop_slides(prs) -> None:
    """Remove any slides the master file came with: the deck holds only its own."""
    id_list = prs.slides._sldIdLst
    for slide_id in list(id_list):
        prs.part.drop_rel(slide_id.rId)
        id_list.remove(slide_id)


# -- slides -------------------------------------------------------------------------------------


def _cover(deck) -> None:
    model = deck.model
    facts = model.facts
    slide = new_slide(deck, "title", None, (
        f"{facts.title} for {month_label(facts.month)}: {format_count(facts.customers)} customers grouped into "
        f"{len(model.segments)} segments. The next slides give the headline figures, how the number "
        "of segments was chosen, each segment with its marketing actions, and the recommendations."
    ), chrome=False)
    set_title(deck, slide, facts.title, largest=40, smallest=20)
    paras = [Para(f"{month_label(facts.month)} \u00b7 {format_count(facts.customers)} customers \u00b7 "
                  f"{len(model.segments)} segments"),
             Para(f"Generated {date_label(facts.generated_at)} by reportgen", scale=0.7)]
    subtitle = subtitle_placeholder(slide) or next(iter(body_placeholders(slide)), None)
    if subtitle is not None and usable_placeholder(deck, slide, subtitle):
        fill_text(deck, subtitle.text_frame, shape_rect(subtitle), paras, 22, 12)
    else:
        area = free_area(deck, slide)
        fill_text(deck, slide.shapes.add_textbox(*area).text_frame, area, paras, 22, 12)


def _agenda(deck) -> None:
    model = deck.model
    k = len(model.segments)
    items = ["Executive summary: what matters and what to do",
             "Recommendations: every action, who is eligible, the money at stake",
             "Segment overview: sizes, spend and profiles against the portfolio",
             *(["Trends and migration since last month"] if chart_applies("trend", model) else []),
             f"The {k} segments, one slide each",
             f"Methodology: why {k} segments, the customer map",
             "Appendix: evidence for k, " + ("migration matrix, " if chart_applies("migration", model) else "")
             + "data quality, run facts"]
    slide = new_slide(deck, "content", "Agenda", (
        "This deck takes two minutes: the executive summary, why we use " f"{k} segments, who is in "
        "each segment and what marketing should do about it. Details for analysts are in the appendix."
    ))
    paras = [Para(item, bullet=True) for item in items]
    names = Para(" \u00b7 ".join(s.name for s in model.segments), scale=0.75, indent=True,
                 colour=MSO_THEME_COLOR.TEXT_2)
    paras.insert(items.index(f"The {k} segments, one slide each") + 1, names)  # under the segments item
    area = slide_area(deck, slide)
    (frame,) = text_frames(slide, [area])
    fill_text(deck, frame.text_frame, area, paras, 24, 11)


def _summary(deck) -> None:
    """The action-led summary: headline tiles, the situation and the points that matter most on
    the left, the recommended actions with their counts and money on the right (``model.story``)."""
    model = deck.model
    story = model.story
    keys = ("customers", "balance", "purchases", "payments", "utilisation")
    kpis = [kpi_of(model.kpis, key) for key in keys]
    slide = new_slide(deck, "content", "Executive summary", (
        f"{story.situation} What matters most: " + " ".join(story.points) + " Recommended actions: "
        + " ".join(story.actions) + f" {story.period}"
        + (" Last month's actions: " + " ".join(e.verdict for e in model.effects) if model.effects else "")
    ))
    area = slide_area(deck, slide)
    tiles_rect, body_rect = split_rect(area, (0.22, 0.78), gap=0.04, vertical=True)
    add_tiles(deck, slide, split_rect(tiles_rect, [1] * len(kpis), gap=0.025),
              [(kpi.display, kpi.label, None) for kpi in kpis])
    heading = MSO_THEME_COLOR.TEXT_2
    left = [Para(story.situation), Para("What matters most", bold=True, colour=heading)]
    left += [Para(point, bullet=True) for point in story.points]
    right = [Para("Recommended actions", bold=True, colour=heading)]
    right += [Para(line, bullet=True) for line in story.actions]
    verdicts = [v for v in story.effects if v not in story.points][:1]  # a verdict among the points is said once
    if verdicts:
        right += [Para("Last month's actions", bold=True, colour=heading)] + [Para(v, bullet=True) for v in verdicts]
    right += [Para(story.period, scale=0.8, colour=heading)]
    rects = split_rect(body_rect, (0.46, 0.54), gap=0.04)
    size = min(fit_size(block, rect[2], rect[3], deck.body_font, 18, 8)
               for block, rect in zip((left, right), rects))
    for frame, block in zip(text_frames(slide, rects), (left, right)):
        write_text(frame.text_frame, block, size)


def _migration(deck) -> None:
    """Customers moving between segments since last month, on two slides: the heatmap picture
    (when drawn), then the largest moves beside the at-risk call-out for marketing and risk with
    the playbook's first action and risk note (the full matrix is in the appendix)."""
    model = deck.model
    if not chart_applies("migration", model):
        return
    migration = model.history.migration
    risky = at_risk(model.segments)
    inflows = [(s, moved_into(migration, s.name)) for s in risky]
    share = format_share(migration.moved / max(migration.customers_both, 1))
    since, now = month_short(migration.month_from), month_short(migration.month_to)
    lede = (f"{format_count(migration.moved)} of {format_count(migration.customers_both)} customers ({share}) "
            "changed segment.")
    advice = " ".join(f"For the {format_count(n)} who moved into {s.name}: {_playbook_advice(s)}"
                      for s, n in inflows if n and (s.actions or s.risks))
    story = (f"Customers seen in both {since} and {now}: {lede} " + " ".join(migration.highlights) + " "
             + " ".join(migration.at_risk) + " " + advice)
    slide = new_slide(deck, "title_only", "Migration: who moved, who is at risk", (
        story + " The full matrix is in the appendix."
    ))
    area = slide_area(deck, slide)
    heading = MSO_THEME_COLOR.TEXT_2
    moves = [Para(f"Since {since}", bold=True, colour=heading), Para(lede, bold=True)]
    moves += [Para(line, bullet=True) for line in migration.highlights]
    moves += [Para("Customers who changed segment are in this month's target list of their new segment.",
                   scale=0.85, colour=heading)]
    if migration.at_risk:
        risk = [Para("At risk: for marketing and risk", bold=True, colour=_RISK_INK)]
        risk += [Para(line, bullet=True, colour=MSO_THEME_COLOR.TEXT_1) for line in migration.at_risk]
        for segment, n in inflows:
            if n and (segment.actions or segment.risks):
                risk.append(Para(f"{segment.name} \u2013 {_playbook_advice(segment)}", scale=0.85, indent=True,
                                 colour=MSO_THEME_COLOR.TEXT_1))
    elif risky:
        risk = [Para(f"Nobody moved into {' or '.join(s.name for s in risky)} since {since}.",
                     colour=MSO_THEME_COLOR.TEXT_1)]
    else:
        risk = []
    if not risk:
        fill_text(deck, slide.shapes.add_textbox(*area).text_frame, area, moves, 20, 10)
        return
    moves_rect, risk_rect = split_rect(area, (0.42, 0.58), gap=0.04)
    box = add_rectangle(slide, risk_rect)
    box.fill.fore_color.rgb = RGBColor.from_string(_RISK_FILL.lstrip("#"))
    rule = add_rectangle(slide, (risk_rect[0], risk_rect[1], max(round(risk_rect[2] * 0.012), 1), risk_rect[3]))
    rule.fill.fore_color.rgb = RGBColor.from_string(_RISK_INK.lstrip("#"))
    inset = max(round(risk_rect[2] * 0.03), 1)
    text_rect = (risk_rect[0] + inset, risk_rect[1], risk_rect[2] - inset, risk_rect[3])
    size = min(fit_size(moves, moves_rect[2], moves_rect[3], deck.body_font, 20, 10),
               fit_size(risk, text_rect[2], text_rect[3], deck.body_font, 20, 10))
    write_text(slide.shapes.add_textbox(*moves_rect).text_frame, moves, size, anchor=MSO_ANCHOR.TOP)
    frame = box.text_frame
    write_text(frame, risk, size, anchor=MSO_ANCHOR.MIDDLE)
    frame.margin_left = INSET_X + inset  # clear of the red rule


_RISK_FILL, _RISK_INK = "#FDF0EE", "#8C1D18"


def _playbook_advice(segment) -> str:
    """The playbook's first action and risk note of ``segment``: ``Marketing: ... Risk: ...``."""
    parts = [f"Marketing: {_sentence(segment.actions[0])}"] if segment.actions else []
    parts += [f"Risk: {_sentence(segment.risks[0])}"] if segment.risks else []
    return " ".join(parts)


def _sentence(text: str) -> str:
    text = slide_text(text, single_line=True)
    return text if not text or text[-1] in ".!?" else text + "."


def _recommendations(deck) -> None:
    """Every sized action: segment, action with its eligibility rule, customers and money, KPI."""
    model = deck.model
    months = model.facts.period_months
    header = [(Para("Segment", bold=True),), (Para("Action and who is eligible", bold=True),),
              (Para("Customers and money", bold=True),), (Para("KPI and priority", bold=True),)]
    rows = []
    for a in model.actions:
        money = format_money(a.impact, compact=True) + f" {a.stake_label}"
        if a.stake in ("PURCHASES", "CASH_ADVANCE", "PAYMENTS"):
            money += f" in {months} months"
        rows.append(((Para(cut_words(a.segment), bold=True, mark=a.color),),
                     (Para(a.text), Para(f"Eligible: {a.rule}", scale=0.85)),
                     (Para(f"{format_count(a.eligible)} eligible, {format_count(a.control)} control"),
                      Para(money, scale=0.85)),
                     (Para(a.kpi_label), Para(f"{a.priority} priority, {a.channel}", scale=0.85))))
    notes = "What to do, for whom. " + " ".join(a.summary for a in model.actions)
    add_table_slides(deck, "Recommendations", notes, header, rows, (0.2, 0.4, 0.2, 0.2),
                     largest=14, smallest=10, comfortable=11)


# -- metadata and the file ----------------------------------------------------------------------



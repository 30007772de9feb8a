"""The deck's appendix: a section slide, then the evidence for each k and the migration matrix as
native tables, the k-evidence and correlation pictures, what loading and validation did to the
extract, and the run facts needed to rerun the report. A table runs over as many slides as it needs.
"""

from __future__ import annotations

from pptx.dml.color import RGBColor
from pptx.enum.text import PP_ALIGN

from reportgen.render.charts import chart_applies
from reportgen.render.deck.layouts import body_placeholders
from reportgen.render.deck.overview_charts import build_k_evidence
from reportgen.render.deck.slides import (
    add_table_slides,
    fill_text,
    new_slide,
    set_title,
    shape_rect,
    slide_area,
    usable_placeholder,
)
from reportgen.render.deck.textfit import Para, cut_words, word_fractions
from reportgen.report.formatting import date_label, format_count, format_number, format_share, month_short


def build_appendix(deck) -> None:
    """The appendix: its section slide, then the evidence for k, the migration matrix (with
    history), the k-evidence and correlation pictures (when drawn), data quality and run facts."""
    slide = new_slide(deck, "section", None, "The appendix holds the evidence behind the number of segments, "
                      "what loading and validation did to the extract, and the facts needed to rerun the report.",
                      chrome=False)
    set_title(deck, slide, "Appendix", largest=36, smallest=18)
    body = [ph for ph in body_placeholders(slide) if usable_placeholder(deck, slide, ph)]
    if body:
        parts = ("Evidence for k", *(("migration matrix",) if chart_applies("migration", deck.model) else ()),
                 "data quality", "run facts")
        fill_text(deck, body[0].text_frame, shape_rect(body[0]), [Para(" \u00b7 ".join(parts))], 20, 11)
    _k_table(deck)
    _migration_table(deck)
    build_k_evidence(deck)  # native; the dense correlation heatmap stays in the PDF and HTML report
    _facts(deck)  # with the data quality rows: two short slides were half empty


_K_COLUMNS = ("k", "Silhouette", "Stability", "Calinski-Harabasz", "Davies-Bouldin", "Inertia",
              "Smallest segment", "Admissible")


def _k_table(deck) -> None:
    choice = deck.model.k_choice
    header = [(Para(name, bold=True),) for name in _K_COLUMNS]
    rows = []
    for row in choice.rows:
        cells = (str(row.k) + (" (chosen)" if row.chosen else ""), format_number(row.silhouette, 3),
                 format_number(row.stability, 3), format_number(row.calinski_harabasz, 0),
                 format_number(row.davies_bouldin, 3), format_number(row.inertia, 0),
                 format_share(row.min_share), "yes" if row.admissible else "no")
        rows.append(tuple((Para(text, bold=row.chosen),) for text in cells))
    widths = word_fractions([header, *rows])
    notes = (f"Silhouette, Calinski-Harabasz and Davies-Bouldin are computed on a sample of "
             f"{format_count(choice.sample_size)} customers. The rule: {choice.rule} {choice.reason}.")
    add_table_slides(deck, "Appendix: evidence for each k", notes, header, rows, widths, largest=14, smallest=10)
    _how_k_was_chosen(deck, deck.prs.slides[-1], choice)


# Below this much room under the table (EMU, half an inch) the reading is left to the notes.
_MIN_READING = 457_200


def _how_k_was_chosen(deck, slide, choice) -> None:
    """Under the k table on ``slide`` (its last slide), when there is room: why this k and how to
    read the columns, the rule with its thresholds as configured (the same text as the notes)."""
    left, top, width, height = slide_area(deck, slide)
    frame = next(shape for shape in slide.shapes if getattr(shape, "has_table", False))
    below = int(frame.top) + int(frame.height) + _MIN_READING // 3
    room = top + height - below
    if room < _MIN_READING:
        return
    paras = [
        Para("Why this k", bold=True), Para(f"{choice.reason}."),
        Para("How to read the columns", bold=True),
        Para("Silhouette and Calinski-Harabasz: higher means better separated segments; Davies-Bouldin: "
             "lower is better; inertia (the spread within segments) usually falls as k grows: look for the "
             "elbow.", bullet=True),
        Para(f"Stability and admissible: {choice.rule}", bullet=True),
    ]
    area = (left, below, width, room)
    fill_text(deck, slide.shapes.add_textbox(*area).text_frame, area, paras, 14, 9)


def _migration_table(deck) -> None:
    """The migration matrix as a native table: rows last month's segment, columns this month's,
    with totals; customers who stayed are shaded, movers bold."""
    if not chart_applies("migration", deck.model):
        return
    migration = deck.model.history.migration
    since, now = month_short(migration.month_from), month_short(migration.month_to)
    header = [(Para(f"{since} \u2193 {now} \u2192", bold=True),)]
    header += [(Para(cut_words(name), bold=True, align=PP_ALIGN.RIGHT),) for name in migration.names_to]
    header += [(Para("Total", bold=True, align=PP_ALIGN.RIGHT),)]
    rows = []
    for source, counts in zip(migration.names_from, migration.counts):
        cells = [(Para(cut_words(source), bold=True),)]
        cells += [(Para(format_count(c), bold=bool(c) and source != target, align=PP_ALIGN.RIGHT),)
                  for target, c in zip(migration.names_to, counts)]
        cells += [(Para(format_count(sum(counts)), align=PP_ALIGN.RIGHT),)]
        rows.append(tuple(cells))
    totals = [sum(column) for column in zip(*migration.counts)]
    rows.append(tuple([(Para("Total", bold=True),)]
                      + [(Para(format_count(t), bold=True, align=PP_ALIGN.RIGHT),) for t in totals]
                      + [(Para(format_count(migration.customers_both), bold=True, align=PP_ALIGN.RIGHT),)]))
    widths = word_fractions([header, *rows])
    widths[0] = max(widths[0], sum(widths[1:]) / len(widths[1:]) * 1.6)
    notes = (f"Customers by segment in {since} (rows) and {now} (columns); the shaded diagonal is the customers "
             f"who stayed in their segment, bold numbers are the ones who moved. {format_count(migration.moved)} "
             f"of {format_count(migration.customers_both)} customers seen in both months changed segment.")
    tables = add_table_slides(deck, f"Appendix: migration matrix, {since} to {now}", notes, header, rows, widths,
                              largest=14, smallest=10)
    for table, chunk in tables:
        for r, row in enumerate(chunk, start=1):
            source = row[0][0].text
            for c, target in enumerate(migration.names_to, start=1):
                if cut_words(target) == source:
                    cell = table.cell(r, c)
                    cell.fill.solid()
                    cell.fill.fore_color.rgb = RGBColor(0xE4, 0xE4, 0xE4)


def _quality_rows(deck) -> list[tuple[str, str]]:
    """What loading and validation did to the extract, as (fact, value) rows of the run-facts table."""
    quality = deck.model.quality
    rows = [("Rows", f"{format_count(quality.rows_read)} read, {format_count(quality.rows_used)} used"),
            ("File", f"{quality.file_format}, {quality.delimiter} delimited, {quality.encoding} encoding")]
    rows += [(c.column, f"{format_count(c.count)} {c.note}") for c in (*quality.imputed, *quality.capped)]
    if quality.renamed:
        rows.append(("Columns renamed", ", ".join(f"{a} \u2192 {b}" for a, b in quality.renamed)))
    if quality.ignored_columns:
        rows.append(("Columns ignored", ", ".join(quality.ignored_columns)))
    if not (quality.imputed or quality.capped):
        rows.append(("Values", "none imputed or capped"))
    return rows


def _facts(deck) -> None:
    facts = deck.model.facts
    items = [("Input", f"{facts.input_name} ({facts.input_format})"),
             ("SHA-256", facts.input_sha256),
             ("Customers", format_count(facts.customers)),
             ("Segments", f"{facts.k} ({facts.k_how})"),
             ("Seed", str(facts.seed)),
             ("Transform", facts.transform),
             ("Persona playbook", facts.playbook),
             ("Generated", date_label(facts.generated_at)),
             ("Versions", " \u00b7 ".join(f"{name} {version}" for name, version in facts.versions)),
             *_quality_rows(deck)]
    header = [(Para("Fact", bold=True),), (Para("Value", bold=True),)]
    rows = [((Para(name, bold=True),), (Para(value),)) for name, value in items]
    notes = ("What was run, on what and with what: the input's name and SHA-256 checksum, the seed and "
             "the package versions reproduce this report exactly; then what loading and validation did to the "
             "extract (rows used, values filled or capped). " + " ".join(f"{a}: {b}." for a, b in _quality_rows(deck)))
    add_table_slides(deck, "Appendix: run facts and data quality", notes, header, rows, (0.22, 0.78), largest=14, smallest=10)

"""Monthly operations: history, stable segments, drift, migration, locking."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pptx.enum.chart import XL_CHART_TYPE

from reportgen.api import analyse, record_history
from reportgen.data.features import Scaler
from reportgen.data.synth_files import write_synth
from reportgen.errors import LockedError
from reportgen.monthly.history import connect, recorded_months
from reportgen.monthly.outputs import month_lock
from reportgen.segmentation.drift import (
    describe_changes,
    match_refit,
    population_shift,
    psi_level,
    reference_distribution,
)
from reportgen.segmentation.model import save_model


@pytest.fixture(scope="module")
def months(tmp_path_factory):
    """Six synthetic months (3,000 customers, seed 11) run through analyse + record, month 4 refitted."""
    root = tmp_path_factory.mktemp("months")
    files = [p for p in write_synth(3000, root / "data", seed=11, months=6) if p.name.startswith("customers-")]
    db = root / "history.duckdb"
    models = []
    for path in files:
        month = path.stem.removeprefix("customers-")
        result, model = analyse(path, month=month, history=db, refit=month == "2026-04")
        record_history(db, result, model, save_model(result.model))
        models.append((result, model))
    return db, files, models


def test_every_month_is_recorded_and_modes_follow_history(months):
    db, _files, models = months
    assert recorded_months(db) == [f"2026-0{i}" for i in range(1, 7)]
    assert [m.monitoring.mode for _r, m in models] == ["fit", "score", "score", "refit", "score", "score"]
    assert models[4][1].monitoring.model_month == "2026-04"  # scored with the refitted model


def test_a_refit_month_says_where_its_k_and_its_drift_come_from(months):
    """Month 4 is refitted from January's model: its k was kept by the refit (not set by the user),
    and its drift table compares with January, the fit month of the model it refitted (it was
    labelled with April, its own month); May, scored with April's model, compares with April."""
    _db, _files, models = months
    april, may = models[3][1], models[4][1]
    assert april.facts.k_how == april.k_choice.how == "kept from the model fitted in January 2026 by the refit"
    assert "January 2026" in april.k_choice.reason and "2026-01" not in april.k_choice.reason
    assert (april.monitoring.drift_month, may.monitoring.drift_month) == ("2026-01", "2026-04")
    assert may.facts.k_how == "kept from the model fitted in April 2026, scored since"


def test_a_k_that_a_scored_month_cannot_honour_is_an_error(months):
    """--k on a month scored with the saved model was ignored without a word; now the user is told
    to refit (the check comes before any work)."""
    from reportgen.config import load_settings
    from reportgen.errors import ConfigError

    db, files, _models = months
    with pytest.raises(ConfigError, match=r"k = 4 was asked .* but 2026-07 is scored with the saved 5-segment model "
                                          r"fitted in 2026-04: add --refit to fit 4 segments"):
        analyse(files[-1], month="2026-07", history=db, settings=load_settings(k=4))


def test_a_persona_gone_from_the_playbook_keeps_its_name_and_says_why():
    """A scored month keeps a segment's name when its persona has left the playbook, and no text
    claims it was named after its traits or has no persona name."""
    from reportgen.segmentation.model import SegmentInfo
    from reportgen.segmentation.personas import load_playbook, saved_naming

    playbook = load_playbook(Path(__file__).resolve().parents[1] / "data" / "personas.toml")
    info = SegmentInfo(4, "Dormant Users", "retired_persona", "#777777")
    naming = saved_naming(info, np.zeros(21), playbook, np.zeros(len(playbook.personas)))
    assert (naming.name, naming.persona_key) == ("Dormant Users", None)
    assert naming.note.startswith("the playbook no longer has the persona it was named after")
    text = " ".join(s.text for s in naming.description)
    assert "without a persona name" not in text and "no longer has the persona" in text


def test_personas_keep_names_and_colours_across_months(months):
    _db, _files, models = months
    first = [(s.name, s.color) for s in models[0][1].segments]
    assert len(first) == 5
    for _result, model in models[1:]:
        assert [(s.name, s.color) for s in model.segments] == first


def test_sixth_month_has_six_month_trend_and_migration(months):
    db, _files, models = months
    history = models[-1][1].history
    assert history.months == tuple(f"2026-0{i}" for i in range(1, 7))
    assert history.portfolio_customers == (3000,) * 6
    for series, segment in zip(history.series, models[-1][1].segments):
        assert series.name == segment.name and series.customers[-1] == segment.customers
        assert None not in series.customers
    migration = history.migration
    assert (migration.month_from, migration.month_to) == ("2026-05", "2026-06")
    counts = np.asarray(migration.counts)
    assert counts.sum() == migration.customers_both == 3000
    assert migration.moved == counts.sum() - np.trace(counts)
    assert 0.03 * 3000 < migration.moved < 0.15 * 3000  # the generator drifts 5-10% a month
    # the matrix agrees with the stored assignments of both months
    with connect(db) as con:
        stored = con.execute(
            "SELECT a.name, b.name, count(*) FROM assignments a JOIN assignments b USING (cust_id) "
            "WHERE a.month = '2026-05' AND b.month = '2026-06' GROUP BY 1, 2"
        ).fetchall()
    for name_from, name_to, n in stored:
        assert counts[migration.names_from.index(name_from), migration.names_to.index(name_to)] == n
    top = migration.highlights[0]
    assert top.split(" ", 1)[0].replace(",", "").isdigit() and " moved to " in top and "$" in top
    assert any("Revolvers" in line or "Dormant Users" in line for line in migration.at_risk)


def test_rebuilding_a_month_replaces_its_records(months):
    db, files, models = months
    result, model = models[-1]
    record_history(db, result, model, save_model(result.model))
    with connect(db) as con:
        assert con.execute("SELECT count(*) FROM assignments WHERE month = '2026-06'").fetchone()[0] == 3000
        assert con.execute("SELECT count(*) FROM runs WHERE month = '2026-06'").fetchone()[0] == 1
        assert con.execute("SELECT count(*) FROM segment_kpis WHERE month = '2026-06'").fetchone()[0] == 5


def test_psi_by_hand_with_a_bin_for_zeros():
    frame = pd.DataFrame({c: np.zeros(1000) for c in _contract()})
    frame["PURCHASES"] = np.r_[np.zeros(250), np.arange(1.0, 751.0)]  # a quarter buy nothing
    frame["CREDIT_LIMIT"] = 1000.0
    reference = reference_distribution(frame)
    ref = reference["PURCHASES"]
    assert ref["zero_bin"] and ref["shares"][0] == 0.25 and len(ref["shares"]) == 11
    assert np.allclose(ref["shares"][1:], 0.075)  # deciles of the buyers only
    assert population_shift(reference, frame)["PURCHASES"] == pytest.approx(0.0, abs=1e-9)
    shifted = frame.copy()
    shifted["PURCHASES"] = np.r_[np.zeros(390), np.arange(1.0, 611.0)]  # non-buyers 25% -> 39%
    psi = population_shift(reference, shifted)["PURCHASES"]
    from reportgen.segmentation.drift import _shares, zero_share_shift

    actual = _shares(shifted["PURCHASES"].to_numpy(), np.asarray(ref["edges"]), True)
    assert actual[0] == 0.39
    e, a = np.asarray(ref["shares"]) + 1e-4, actual + 1e-4
    assert psi == pytest.approx(float(np.sum((a - e) * np.log(a / e))))
    # PSI alone calls this moderate at most; the share at zero is reported beside it
    assert zero_share_shift(reference, shifted)["PURCHASES"] == (0.25, 0.39)
    assert psi_level(0.3) == "significant shift" and psi_level(0.05) == "stable"


def _contract():
    from reportgen.data.contract import FEATURES

    return FEATURES


def test_refit_matching_names_splits_vanished_and_emerged():
    scaler = Scaler(("A", "B"), (), (0.0, 0.0), (1.0, 1.0))
    old = np.array([[0.0, 0.0], [5.0, 5.0], [10.0, 0.0]])
    new = np.array([[5.2, 5.0], [0.1, 0.0], [-0.3, 1.2], [0.0, 9.0]])  # old 0 splits; old 2 gone; new 3 appears
    match = match_refit(new, scaler, old, scaler)
    assert match.matched == {0: 1, 1: 0}
    events = describe_changes(match, ["Zero", "Five", "Ten"], ["Five", "Zero", "Zero-like", "Nine"])
    assert "Zero split into Zero and Zero-like." in events
    assert "Ten vanished: no segment of the new fit is close to it." in events
    assert "Nine emerged: a segment with no close match last month." in events


def test_second_run_of_the_same_month_is_refused(tmp_path):
    with month_lock(tmp_path, "2026-11"):
        with pytest.raises(LockedError, match="already running"):
            with month_lock(tmp_path, "2026-11"):
                pass
        with month_lock(tmp_path, "2026-10"):  # another month is fine
            pass
    with month_lock(tmp_path, "2026-11"):  # released after the first run
        pass


def test_first_month_without_history_has_no_trend(tmp_path):
    _result, model = analyse(history=tmp_path / "none.duckdb", month="2026-01")
    assert model.history is None and model.monitoring.mode == "fit"
    assert not Path(tmp_path / "none.duckdb").exists()


def test_a_database_from_before_the_stored_amounts_still_reports_migration(tmp_path):
    """A history written when assignments held no amounts gains the columns (NULL for the old
    months) and the next month's moves into dormant fall back to this month's spend."""
    import duckdb

    from reportgen.monthly.history import AMOUNT_COLUMNS

    files = [p for p in write_synth(1500, tmp_path / "data", seed=5, months=2) if p.name.startswith("customers-")]
    db = tmp_path / "history.duckdb"
    first, model = analyse(files[0], month="2026-01", history=db)
    record_history(db, first, model, save_model(first.model))
    con = duckdb.connect(str(db))
    for column in AMOUNT_COLUMNS:  # the old schema
        con.execute(f"ALTER TABLE assignments DROP COLUMN {column}")
    con.close()
    _second, model = analyse(files[1], month="2026-02", history=db)
    with connect(db) as con:
        assert con.execute("SELECT count(*) FROM assignments WHERE balance IS NULL").fetchone()[0] == 1500
    migration = model.history.migration
    assert migration is not None and migration.moved > 0
    assert all("last month" not in line for line in migration.at_risk)  # nothing known of last month's amounts


# -- a scored month that leaves a segment empty ---------------------------------------------------

EMPTIED = ("CASH_ADVANCE", "CASH_ADVANCE_FREQUENCY", "CASH_ADVANCE_TRX", "PURCHASES", "ONEOFF_PURCHASES",
           "INSTALLMENTS_PURCHASES")
AVERAGES = ("utilisation", "avg_balance", "avg_purchases", "avg_payments", "avg_limit", "full_payment",
            "cash_advance_users")


@pytest.fixture(scope="module")
def emptied(tmp_path_factory):
    """`reportgen build` of the bundled sample for 2026-11, then `--format all` (and the workbook) for
    2026-12 on the same customers with no purchases and no cash advance: scored with November's
    five-segment model, the Revolvers get no customer. Returns (exit codes, month folder, report-model
    JSON, the empty segment's JSON, the December model rebuilt by analyse, the history database)."""
    import gc

    from reportgen.cli import main
    from reportgen.report import formatting

    root = tmp_path_factory.mktemp("emptied")
    frame = pd.read_csv(Path(__file__).resolve().parents[1] / "data" / "sample.csv", dtype={"CUST_ID": str})
    frame[list(EMPTIED)] = 0
    december = root / "m2zero.csv"
    frame.to_csv(december, index=False)
    out = root / "out"
    style = dict(formatting._style)
    try:
        codes = (main(["build", "--out", str(out), "--format", "html", "--month", "2026-11", "-q"]),
                 main(["build", "--data", str(december), "--out", str(out), "--format", "all,xlsx",
                       "--month", "2026-12", "-q"]))
    finally:
        formatting._style.update(style)  # a build leaves its number style and a frozen collector behind
        gc.unfreeze()
    folder = out / "2026-12"
    report = json.loads((folder / "report-model.json").read_text(encoding="utf-8"))
    empty = [s for s in report["segments"] if s["customers"] == 0]
    db = out / "history.duckdb"
    _result, model = analyse(december, month="2026-12", history=db)
    return codes, folder, report, empty, model, db


@pytest.mark.slow
def test_a_month_that_empties_a_segment_builds_every_format(emptied):
    codes, folder, report, empty, model, _db = emptied
    assert codes == (0, 0)  # the deck's profile chart got NaN indices: exit 70
    assert [s["name"] for s in empty] == ["Revolvers"] and report["facts"]["k"] == 5
    for name in ("report-2026-12.pdf", "report-2026-12.pptx", "report-2026-12.html", "dashboard-2026-12.html",
                 "targets-2026-12.xlsx"):
        assert (folder / f"segment-{name}").stat().st_size > 0
    assert [s.customers for s in model.segments] == [s["customers"] for s in report["segments"]]


@pytest.mark.slow
def test_an_empty_segment_claims_no_figures_it_does_not_have(emptied):
    _codes, _folder, report, (empty,), model, db = emptied
    kpis = {k["key"]: k for k in empty["kpis"]}
    for key in AVERAGES:  # averages over nobody: none, not $0 or 0.0%
        assert (kpis[key]["value"], kpis[key]["display"]) == (None, "\u2013"), key
    for key in ("customers", "balance", "purchases", "payments"):  # counts and totals: 0 is true
        assert kpis[key]["value"] == 0
    assert all((row["mean"], row["median"], row["z"]) == (None, None, None) for row in empty["profile"])
    (segment,) = [s for s in model.segments if not s.customers]
    assert all(row.index is None for row in segment.profile)
    assert (empty["stability"], empty["stability_level"]) == (None, "not measured")
    assert empty["traits"] == [] and empty["risks"] == [] and empty["actions"] == []
    assert empty["description"] == "No customer fell in this segment in December 2026."
    assert "They" not in empty["description"]
    # the trend has a gap for the month, in the model and in the history store, not a 0
    (series,) = [s for s in report["history"]["series"] if s["name"] == empty["name"]]
    assert series["customers"][-1] == 0 and series["avg_balance"][-1] is None and series["utilisation"][-1] is None
    assert series["avg_balance"][0] > 0
    with connect(db) as con:
        stored = con.execute("SELECT customers, avg_balance, utilisation, full_payment FROM segment_kpis "
                             "WHERE month = '2026-12' AND name = ?", [empty["name"]]).fetchone()
    assert stored == (0, None, None, None)


@pytest.mark.slow
def test_the_summary_compares_only_segments_with_customers(emptied):
    """The executive summary's 'highest of any segment' and 'make most of all purchases' name a segment
    with customers; with no purchases at all, no segment is said to make most of them."""
    import dataclasses

    from reportgen.report.story import describe_points

    _codes, _folder, _report, _empty, model, _db = emptied
    by_name = {s.name: s for s in model.segments}
    unflagged = tuple(dataclasses.replace(s, risk_flags=()) for s in model.segments)
    for variant in (dataclasses.replace(model, changes=(), effects=()),  # room for every segment point
                    dataclasses.replace(model, changes=(), effects=(), segments=unflagged)):  # by utilisation
        points = describe_points(variant)
        assert points
        named = [name for point in points for name in by_name if point.startswith(f"{name} (")]
        assert named and all(by_name[name].customers for name in named), points
        assert not any("of all purchases" in point for point in points), points
    (point,) = [p for p in describe_points(dataclasses.replace(model, changes=(), effects=(), segments=unflagged))
                if "the highest of any segment" in p]
    assert by_name[point.split(" (")[0]].customers > 0
    # and the opening sentence counts the segments that hold the customers
    assert model.story.situation.startswith("4,000 customers in 4 of the model's 5 segments hold "), model.story.situation


def _segment_block(text: str, segment: dict) -> str:
    """The empty segment's part of the PDF's text: from its meta line to the next section."""
    start = text.index(f"Segment {segment['id']} \u00b7 0 customers")
    return text[start:text.index("Recommendations", start)]


@pytest.mark.slow
def test_the_pdf_prints_no_average_for_the_empty_segment(emptied):
    import subprocess

    _codes, folder, _report, (empty,), _model, _db = emptied
    pdf = str(folder / "segment-report-2026-12.pdf")
    layout = subprocess.run(["pdftotext", "-layout", pdf, "-"], capture_output=True, text=True, check=True).stdout
    block = _segment_block(layout, empty)
    lines = [line for line in block.splitlines() if line.strip()]
    # each tile's value sits on the line above its label, in the label's column
    for label in ("Average balance", "Utilisation (balance / limit)", "Months paid in full", "Average credit limit"):
        (row,) = [i for i, line in enumerate(lines) if label in line]
        column = lines[row].index(label)
        assert lines[row - 1][column:].split()[0] == "\u2013", (label, lines[row - 1])
    assert "They " not in block and "close to the portfolio average" not in block
    assert "No customer fell in this segment in December 2026." in " ".join(block.split())
    text = " ".join(layout.split())
    assert f"{empty['name']} no customers this month" in text  # not its fit month's "highly stable"


@pytest.mark.slow
def test_the_deck_has_a_slide_for_the_empty_segment_without_a_chart(emptied):
    from pptx import Presentation

    _codes, folder, _report, (empty,), _model, _db = emptied
    deck = Presentation(str(folder / "segment-report-2026-12.pptx"))
    (slide,) = [s for s in deck.slides if s.shapes.title is not None and s.shapes.title.text == empty["name"]]
    assert not any(shape.has_chart for shape in slide.shapes)
    text = " ".join(shape.text_frame.text for shape in slide.shapes if shape.has_text_frame)
    assert "No profile index" in text and "No customer fell in this segment in December 2026." in text
    tiles = {label: shape.text_frame.paragraphs[0].text for shape in slide.shapes if shape.has_text_frame
             for label in ("Average balance", "Average purchases", "Utilisation") if label in shape.text_frame.text
             and len(shape.text_frame.paragraphs) == 2}
    assert tiles == {"Average balance": "\u2013", "Average purchases": "\u2013", "Utilisation": "\u2013"}
    # the comparison chart leaves a gap for it, not bars at $0
    (columns,) = [shape.chart for s in deck.slides for shape in s.shapes
                  if shape.has_chart and shape.chart.chart_type == XL_CHART_TYPE.COLUMN_CLUSTERED]
    (series,) = [s for s in columns.plots[0].series if s.name.startswith(empty["name"])]
    assert list(series.values) == [None, None, None] and "no customers" in series.name

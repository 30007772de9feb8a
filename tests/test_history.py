"""Monthly operations: history, stable segments, drift, migration, locking."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

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

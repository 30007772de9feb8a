"""The real customer file (8,950 customers): skipped with a reason where it is absent."""

from __future__ import annotations

import pandas as pd
import pytest

from reportgen.segmentation.personas import PROFILE_FEATURES

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def real_k5(real_data, tmp_path_factory):
    from reportgen.api import segment

    out = tmp_path_factory.mktemp("real-k5")
    return segment(data=real_data, out=out, k=5), out


def _mean(segment, feature):
    return next(p.mean for p in segment.profile if p.feature == feature)


def _median(segment, feature):
    return next(p.median for p in segment.profile if p.feature == feature)


def test_all_customers_no_tiny_segment_and_gaps_imputed(real_k5):
    outcome, out = real_k5
    assignments = pd.read_csv(out / "assignments.csv")
    assert len(assignments) == 8950 and assignments["CUST_ID"].is_unique
    assert min(s.share for s in outcome.model.segments) >= 0.03
    quality = outcome.model.quality
    assert {c.column: c.count for c in quality.imputed} == {"CREDIT_LIMIT": 1, "MINIMUM_PAYMENTS": 313}
    assert {c.column: c.count for c in quality.capped} == {"CASH_ADVANCE_FREQUENCY": 8}


def test_each_name_is_backed_by_the_segments_own_numbers(real_k5):
    """The real file at k = 5: the cash-advance revolving group is "Cash Advance Users", not "High
    Balance Holders"; the low-activity group that still buys is not called "Dormant Users"."""
    segments = {s.name: s for s in real_k5[0].model.segments}
    named = {s.name for s in segments.values() if s.persona_key}
    assert named == {"Frequent Spenders", "Balanced Users", "Revolvers", "Cash Advance Users"}
    assert "High Balance Holders" not in segments and "Dormant Users" not in segments
    fs = segments["Frequent Spenders"]
    assert _mean(fs, "PURCHASES_FREQUENCY") >= 0.6 and _median(fs, "PURCHASES_TRX") >= 20
    bu = segments["Balanced Users"]
    assert _mean(bu, "PURCHASES_INSTALLMENTS_FREQUENCY") >= 0.6 and _median(bu, "UTILISATION") <= 0.2
    rev = segments["Revolvers"]
    assert _median(rev, "UTILISATION") >= 0.5 and _mean(rev, "PRC_FULL_PAYMENT") <= 0.1
    assert _median(rev, "PAYMENT_RATIO") <= 2
    cash = segments["Cash Advance Users"]
    assert _median(cash, "CASH_ADVANCE_SHARE") >= 0.9 and _mean(cash, "PURCHASES_FREQUENCY") <= 0.1
    for segment in segments.values():  # every persona name says which of its numbers support it
        assert bool(segment.name_basis) == bool(segment.persona_key)
        assert bool(segment.naming_note) != bool(segment.persona_key)
    unnamed = next(s for s in segments.values() if not s.persona_key)
    assert "criteria of no persona" in unnamed.naming_note
    assert _mean(unnamed, "PURCHASES_FREQUENCY") > 0.15  # it buys: not dormant


def test_risk_by_the_numbers_and_stability_shown(real_k5):
    segments = {s.name: s for s in real_k5[0].model.segments}
    flagged = {name for name, s in segments.items() if s.risk_flags}
    assert flagged <= {"Revolvers", "Cash Advance Users"} and flagged
    assert any("utilisation" in f for s in segments.values() for f in s.risk_flags)
    assert all(s.risk_flags == () for n, s in segments.items() if n in ("Frequent Spenders", "Balanced Users"))
    for segment in segments.values():
        assert 0.75 <= segment.stability <= 1 and segment.stability_level in ("stable", "highly stable")


def test_rule_chooses_five_and_says_the_structure_is_weak(real_data):
    from reportgen.config import load_settings
    from reportgen.segmentation.pipeline import run_segmentation

    result = run_segmentation(real_data, load_settings())
    selection = result.selection
    assert selection.chosen_k == 5 and not selection.forced
    assert selection.weak and selection.structure.startswith("The structure is weak")
    sils = [e.silhouette for e in selection.evidence]
    assert max(sils) < 0.25 and min(sils) > 0.18


def test_saved_model_scores_the_raw_file_like_the_build(real_k5, real_data):
    from reportgen.segmentation.model import load_model

    raw = pd.read_csv(real_data)
    assert raw[["MINIMUM_PAYMENTS", "CREDIT_LIMIT"]].isna().any(axis=1).sum() == 314
    assignments = pd.read_csv(real_k5[1] / "assignments.csv")
    predicted = load_model(real_k5[1] / "model.json").predict(raw)
    assert (predicted + 1 == assignments["segment"].to_numpy()).all()


def test_rerun_gives_identical_assignments(real_k5, real_data, tmp_path):
    from reportgen.api import segment

    segment(data=real_data, out=tmp_path, k=5)
    for name in ("assignments.csv", "profiles.csv", "model.json", "k_selection.csv"):
        assert (tmp_path / name).read_bytes() == (real_k5[1] / name).read_bytes(), name


def test_chosen_k_is_printed_with_its_evidence(cli, real_data, tmp_path):
    code, out, err = cli("segment", "--data", real_data, "--out", tmp_path)
    assert code == 0, err
    first = out.splitlines()[0]
    assert first.startswith("k = ") and "chosen by the rule" in first and "silhouette" in first and "stability" in first
    assert "stable k = " in out.splitlines()[1] and "The structure is weak" in out.splitlines()[2]
    assert "Cash Advance Users" in out and "credit risk" in out
    assert len(PROFILE_FEATURES) == 21

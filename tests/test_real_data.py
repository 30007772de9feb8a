"""The real customer file (8,950 customers): skipped with a reason where it is absent."""

from __future__ import annotations

import pandas as pd
import pytest

from reportgen.segmentation.personas import PROFILE_FEATURES

pytestmark = pytest.mark.slow

FIVE = {"High Balance Holders", "Frequent Spenders", "Balanced Users", "Dormant Users", "Revolvers"}


@pytest.fixture(scope="module")
def real_k5(real_data, tmp_path_factory):
    from reportgen.api import segment

    out = tmp_path_factory.mktemp("real-k5")
    return segment(data=real_data, out=out, k=5), out


def _z(segment, feature):
    return next(p.z for p in segment.profile if p.feature == feature)


def test_all_customers_five_personas_no_tiny_segment(real_k5):
    outcome, out = real_k5
    assignments = pd.read_csv(out / "assignments.csv")
    assert len(assignments) == 8950 and assignments["CUST_ID"].is_unique
    assert {s.name for s in outcome.model.segments} == FIVE
    assert min(s.share for s in outcome.model.segments) >= 0.03
    quality = outcome.model.quality
    assert {c.column: c.count for c in quality.imputed} == {"CREDIT_LIMIT": 1, "MINIMUM_PAYMENTS": 313}
    assert {c.column: c.count for c in quality.capped} == {"CASH_ADVANCE_FREQUENCY": 8}


def test_each_persona_is_backed_by_its_profile(real_k5):
    segments = {s.name: s for s in real_k5[0].model.segments}

    def rank(feature, name):  # 0 = the segment with the highest z on this feature
        order = sorted(segments.values(), key=lambda s: -_z(s, feature))
        return [s.name for s in order].index(name)

    assert rank("PURCHASES_FREQUENCY", "Frequent Spenders") == 0
    assert rank("PURCHASES_TRX", "Frequent Spenders") == 0
    assert rank("BALANCE", "Dormant Users") == len(segments) - 1
    assert rank("BALANCE_FREQUENCY", "Dormant Users") == len(segments) - 1
    assert rank("PURCHASES_INSTALLMENTS_FREQUENCY", "Balanced Users") <= 1
    assert _z(segments["Balanced Users"], "CASH_ADVANCE") < 0
    hbh = segments["High Balance Holders"]
    assert _z(hbh, "BALANCE") > 0.3 and _z(hbh, "PURCHASES_TRX") < -0.5
    rev = segments["Revolvers"]
    assert _z(rev, "UTILISATION") > 0.3 and _z(rev, "CASH_ADVANCE_FREQUENCY") > 0.3
    assert _z(rev, "PRC_FULL_PAYMENT") < 0
    assert all(s.fit >= 0.35 for s in segments.values())


def test_rerun_gives_identical_assignments(real_k5, real_data, tmp_path):
    from reportgen.api import segment

    segment(data=real_data, out=tmp_path, k=5)
    for name in ("assignments.csv", "profiles.csv", "model.json", "k_selection.csv"):
        assert (tmp_path / name).read_bytes() == (real_k5[1] / name).read_bytes(), name


def test_chosen_k_is_printed_with_its_evidence(cli, real_data, tmp_path):
    code, out, err = cli("segment", "--data", real_data, "--out", tmp_path, "-q")
    assert code == 0, err
    first = out.splitlines()[0]
    assert first.startswith("k = ") and "chosen by the rule" in first and "silhouette" in first and "stability" in first
    assert "Davies-Bouldin" in out.splitlines()[1]
    assert len(PROFILE_FEATURES) == 21

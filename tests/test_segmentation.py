"""The segmentation engine on hand-made toy data, the model file, personas and determinism."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from reportgen.api import SAMPLE_DATA
from reportgen.config import SegmentationSettings, load_settings
from reportgen.data.contract import FEATURES
from reportgen.data.extract import load_extract
from reportgen.data.features import derive_ratios, fit_scaler
from reportgen.data.validation import validate_extract
from reportgen.errors import ConfigError, ModelError
from reportgen.segmentation.model import assign_nearest, fit_kmeans, load_model
from reportgen.segmentation.personas import PROFILE_FEATURES, Persona, Playbook, load_playbook, name_segments
from reportgen.segmentation.selection import select_k


def _blobs(centres, per, spread=0.05, seed=0):
    rng = np.random.default_rng(seed)
    points = np.vstack([rng.normal(c, spread, size=(per, len(c))) for c in centres])
    truth = np.repeat(np.arange(len(centres)), per)
    return points, truth


def test_log1p_then_standardise_by_hand():
    frame = pd.DataFrame({name: [0.0, 0.0, 0.0] for name in FEATURES})
    frame["BALANCE"] = [0.0, np.e - 1, np.e**2 - 1]  # log1p -> 0, 1, 2
    frame["PURCHASES_FREQUENCY"] = [0.0, 0.5, 1.0]  # a frequency: used as it is
    scaler = fit_scaler(frame, ("BALANCE", "PURCHASES_FREQUENCY", "TENURE"))
    z = scaler.transform(frame)
    expected = np.array([-1.0, 0.0, 1.0]) / np.std([0.0, 1.0, 2.0])
    assert np.allclose(z[:, 0], expected) and np.allclose(z[:, 1], expected)
    assert np.allclose(z[:, 2], 0.0)  # a constant column stays at 0 instead of dividing by zero
    assert scaler.log_columns == ("BALANCE",)


def test_ratios_by_hand():
    frame = pd.DataFrame({name: [0.0, 0.0] for name in FEATURES})
    frame["BALANCE"], frame["CREDIT_LIMIT"] = [500.0, 100.0], [1000.0, 0.0]
    frame["PURCHASES"], frame["PURCHASES_TRX"], frame["CASH_ADVANCE"] = [300.0, 0.0], [3.0, 0.0], [100.0, 0.0]
    ratios = derive_ratios(frame)
    assert ratios["UTILISATION"].tolist() == [0.5, 0.0]  # zero limit gives 0, not inf
    assert ratios["AVERAGE_TICKET"].tolist() == [100.0, 0.0]
    assert ratios["CASH_ADVANCE_SHARE"].tolist() == [0.25, 0.0]


def test_kmeans_recovers_toy_blobs_and_nearest_assignment_matches():
    points, truth = _blobs([(0, 0), (5, 5), (0, 5)], per=40)
    labels, centroids = fit_kmeans(points, 3, seed=1)
    assert adjusted_rand_score(truth, labels) == 1.0
    by_hand = np.argmin(((points[:, None, :] - centroids[None]) ** 2).sum(axis=2), axis=1)
    assert (assign_nearest(points, centroids) == by_hand).all()
    assert (labels == by_hand).all()


def test_select_k_finds_four_planted_groups():
    points, _truth = _blobs([(0, 0, 0), (6, 0, 0), (0, 6, 0), (0, 0, 6)], per=60, spread=0.4)
    selection = select_k(points, SegmentationSettings(k_min=2, k_max=6, bootstrap=3))
    assert selection.chosen_k == 4 and not selection.forced
    four = next(e for e in selection.evidence if e.k == 4)
    assert four.admissible and four.stability > 0.95 and four.silhouette > 0.7
    assert [e.k for e in selection.evidence] == [2, 3, 4, 5, 6]


def test_k_evidence_shared_with_another_process_is_the_same_evidence():
    """A build computes half of the k's in a render lane (``offload``): the evidence, the k chosen
    and the reason must be exactly what one process computes, on skewed, zero-heavy, overlapping
    groups of unequal sizes (a forced k outside the range too)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from reportgen.render.pool import _call

    rng = np.random.default_rng(11)
    spend = np.concatenate([rng.lognormal(3, 1.5, 900), np.zeros(500), rng.lognormal(6, 0.5, 120)])
    cash = np.concatenate([np.zeros(900), rng.lognormal(5, 1, 500), rng.lognormal(2, 2, 120)])
    points = np.column_stack([np.log1p(spend), np.log1p(cash), rng.normal(0, 1, len(spend))])
    settings = SegmentationSettings(k_min=2, k_max=7, k=9, bootstrap=3, selection_sample=1200, silhouette_sample=800)
    alone = select_k(points, settings, prior=5)
    asked = []
    # spawn: a fresh interpreter, as safe after OpenMP as a lane forked before it
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as other:
        def offload(module, function, *args):
            asked.append(args[1])
            return other.submit(_call, module, function, *args)

        shared = select_k(points, settings, prior=5, offload=offload)
    assert asked == [(2, 4, 6, 9)]  # every other k from the largest: the costly fits split evenly
    assert shared == alone
    assert [e.k for e in shared.evidence] == [2, 3, 4, 5, 6, 7, 9]


def test_forced_k_keeps_the_evidence():
    points, _ = _blobs([(0, 0), (5, 5)], per=50)
    selection = select_k(points, SegmentationSettings(k_min=2, k_max=4, k=3, bootstrap=2))
    assert selection.chosen_k == 3 and selection.forced and len(selection.evidence) == 3


def _z(**values):
    row = np.zeros(len(PROFILE_FEATURES))
    for name, v in values.items():
        row[PROFILE_FEATURES.index(name)] = v
    return row


def test_personas_assigned_one_to_one_and_misfit_gets_descriptive_name():
    playbook = Playbook(
        personas=(
            Persona("spend", "Spenders", "d", {"PURCHASES": 1.0}, ("a",), ("r",)),
            Persona("cash", "Cash Users", "d", {"CASH_ADVANCE": 1.0}, ("a",), ("r",)),
        ),
        min_fit=0.4,
        path=None,
    )
    z = np.vstack([_z(CASH_ADVANCE=1.2), _z(PURCHASES=1.5, CASH_ADVANCE=0.9), _z(TENURE=-1.0, BALANCE=0.1)])
    names = [n.name for n in name_segments(z, playbook)]
    # segment 1 fits both personas, but the optimal one-to-one assignment gives it Spenders
    assert names[:2] == ["Cash Users", "Spenders"]
    assert names[2] == "New accounts"  # fits no persona: named after its strongest trait


def test_a_name_needs_its_criteria_a_margin_and_a_stable_segment():
    from reportgen.segmentation.criteria import check_criteria, parse_criterion

    spend = Persona("spend", "Spenders", "d", {"PURCHASES": 1.0}, ("a",), ("r",),
                    criteria=(parse_criterion("mean PURCHASES_FREQUENCY >= 0.6"),))
    cash = Persona("cash", "Cash Users", "d", {"CASH_ADVANCE": 1.0}, ("a",), ("r",),
                   criteria=(parse_criterion("share CASH_ADVANCE >= 0.8"),))
    playbook = Playbook((spend, cash), 0.4, None, 0.10)
    frame = pd.DataFrame({name: np.zeros(40) for name in FEATURES})
    labels = np.repeat([0, 1, 2, 3], 10)
    frame["PURCHASES_FREQUENCY"] = np.repeat([0.9, 0.2, 0.9, 0.9], 10)  # segment 1 buys rarely
    frame["CASH_ADVANCE"] = np.repeat([0.0, 0.0, 50.0, 0.0], 10)
    checks = check_criteria(frame, labels, 4, {p.key: p.criteria for p in playbook.personas})
    assert [c.passed for c in checks["spend"][1]] == [False] and checks["spend"][1][0].value == pytest.approx(0.2)
    z = np.vstack([_z(PURCHASES=1.5), _z(PURCHASES=1.5), _z(PURCHASES=1.0, CASH_ADVANCE=0.95), _z(PURCHASES=1.2)])
    namings = name_segments(z, playbook, checks, stability=[0.9, 0.9, 0.9, 0.5])
    assert namings[0].name == "Spenders" and namings[0].checks[0].passed
    assert namings[1].persona_key is None and "criteria of no persona" in namings[1].note  # z says spender, numbers do not
    assert namings[2].name == "Cash Users"  # Spenders went to a better spender; Cash Users is still true
    assert namings[3].persona_key is None and "unstable" in namings[3].note
    assert all("without a persona name because" in n.description[0].text for n in (namings[1], namings[3]))
    alone = name_segments(z[2:3], playbook, {key: rows[2:3] for key, rows in checks.items()}, [0.9])
    assert alone[0].persona_key is None and "almost equally" in alone[0].note  # 1.00 vs 0.95, both open


def test_risk_is_flagged_by_the_numbers_not_the_name():
    from reportgen.segmentation.risk import flag_risks

    frame = pd.DataFrame({name: np.ones(30) for name in FEATURES})
    labels = np.repeat([0, 1, 2], 10)
    frame["BALANCE"], frame["CREDIT_LIMIT"] = np.repeat([100.0, 900.0, 300.0], 10), 1000.0
    frame["PAYMENTS"], frame["MINIMUM_PAYMENTS"] = np.repeat([500.0, 90.0, 300.0], 10), 100.0
    frame["PRC_FULL_PAYMENT"] = np.repeat([0.5, 0.0, 0.3], 10)
    frame["CASH_ADVANCE"] = np.repeat([0.0, 200.0, 0.0], 10)
    flags = flag_risks(frame, labels, 3)
    assert flags[0] == () and flags[2] == ()
    assert [f.split(" (")[0] for f in flags[1]] == [
        "highest utilisation", "lowest payments relative to the minimum", "lowest full-payment share",
        "heaviest cash-advance use",
    ]
    careful = frame.assign(BALANCE=100.0, PAYMENTS=500.0, PRC_FULL_PAYMENT=0.5, CASH_ADVANCE=0.0)
    assert flag_risks(careful, labels, 3) == ((), (), ())  # the worst of careful customers is not a risk


def test_bundled_playbook_and_user_edits(tmp_path):
    playbook = load_playbook(load_settings().playbook)
    assert [p.name for p in playbook.personas] == [
        "High Balance Holders", "Frequent Spenders", "Balanced Users", "Dormant Users", "Revolvers",
        "Cash Advance Users", "Transactors",
    ]
    assert playbook.expected_segments == 5 and all(p.criteria for p in playbook.personas)
    custom = tmp_path / "p.toml"
    custom.write_text(
        load_settings().playbook.read_text().replace('name = "Revolvers"', 'name = "Credit Revolvers"')
    )
    assert load_playbook(custom).personas[4].name == "Credit Revolvers"
    custom.write_text('[[persona]]\nkey = "x"\nname = "X"\ndescription = "d"\nsignature = { BALANCEE = 1 }\n')
    with pytest.raises(ConfigError, match="unknown signature feature"):
        load_playbook(custom)
    custom.write_text(
        '[[persona]]\nkey = "x"\nname = "X"\ndescription = "d"\nsignature = { BALANCE = 1 }\n'
        'criteria = ["median BALANCE > 3"]\n'
    )
    with pytest.raises(ConfigError, match=r"persona #1 \(X\): criterion 'median BALANCE > 3' is not"):
        load_playbook(custom)


def test_segment_files_contract_and_rescoring(cli, tmp_path):
    out = tmp_path / "out"
    code, stdout, err = cli("segment", "--out", out, "--k", "5")
    assert code == 0, err
    assert "k = 5 (set with --k)" in stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["assignments.csv", "profiles.csv", "k_selection.csv", "model.json", "report-model.json"]
    )
    assignments = pd.read_csv(out / "assignments.csv")
    profiles = pd.read_csv(out / "profiles.csv")
    assert profiles["customers"].sum() == len(assignments) == 4000
    assert assignments.groupby("segment").size().tolist() == profiles["customers"].tolist()
    model_json = json.loads((out / "model.json").read_text())
    assert model_json["format"] == "reportgen-segment-model" and len(model_json["centroids"]) == 5
    # the saved model alone re-scores the same customers to the same segments
    model = load_model(out / "model.json")
    clean = validate_extract(load_extract(SAMPLE_DATA), min_customers=10)
    assert (model.predict(clean.features) + 1 == assignments["segment"].to_numpy()).all()


def test_damaged_model_file(tmp_path):
    bad = tmp_path / "model.json"
    bad.write_text('{"format": "something else"}')
    with pytest.raises(ModelError, match="not a reportgen model file"):
        load_model(bad)


def test_same_input_same_files_byte_for_byte(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1790000000")
    for run in ("a", "b"):
        assert cli("segment", "--out", tmp_path / run, "-q")[0] == 0
    for name in ("assignments.csv", "profiles.csv", "k_selection.csv", "model.json", "report-model.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_python_api_matches_cli(tmp_path):
    from reportgen.api import segment

    outcome = segment(out=tmp_path / "api", k=4)
    assert len(outcome.model.segments) == 4 and outcome.result.labels.max() == 3
    assert len(outcome.files) == 5


def test_criteria_read_from_the_profiles_are_the_direct_figures():
    """Naming reads each criterion's mean, median and share from the segment profiles (no second
    pass over ten million customers); on hard data (skew, zeros, overlap, unequal sizes, an empty
    segment) every figure, threshold and verdict equals the one computed from the customers."""
    from reportgen.data.benchmark import generate_benchmark
    from reportgen.segmentation.criteria import check_criteria
    from reportgen.segmentation.profiles import describe_segments

    frame, planted = generate_benchmark(6_000, "realistic", seed=3)
    features = frame[list(FEATURES)].astype("float64").fillna(0.0)  # imputed, as the pipeline's are
    labels = np.unique(planted, return_inverse=True)[1].astype(np.intp)
    k = int(labels.max()) + 2  # the last segment is empty
    criteria = {p.key: p.criteria for p in load_playbook(load_settings().playbook).personas}
    direct = check_criteria(features, labels, k, criteria)
    profiled = check_criteria(features, labels, k, criteria, describe_segments(features, labels, k))
    checks = [(a, b) for key in direct for rows_a, rows_b in zip(direct[key], profiled[key]) for a, b in zip(rows_a, rows_b)]
    assert len(checks) > 50 and {a.stat for a, _ in checks} == {"mean", "median", "share"}
    for a, b in checks:
        assert (a.passed, a.op, a.feature, a.stat) == (b.passed, b.op, b.feature, b.stat)
        assert b.threshold == pytest.approx(a.threshold, rel=1e-9, abs=1e-12)
        assert (np.isnan(a.value) and np.isnan(b.value)) or b.value == pytest.approx(a.value, rel=1e-9, abs=1e-12)


def test_a_descriptive_name_does_not_say_the_same_thing_twice():
    """A segment fitting no persona is named after its two strongest traits, but purchase amount,
    frequency and count are one meaning: 'Frequent purchases & many purchases' was a name."""
    from reportgen.segmentation.personas import _descriptive

    assert _descriptive(("frequent purchases", "many purchases", "high limits"), 0.3).name == (
        "Frequent purchases & high limits")
    assert _descriptive(("high spend", "many purchases"), 0.3).name == "High spend"
    assert _descriptive(("new accounts", "no instalments", "few purchases"), 0.3).name == "New accounts & no instalments"

"""Tests for reportgen.data.synth: invariants, determinism, monthly drift, recoverability and writing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler

from reportgen.data.contract import FEATURES, FREQUENCIES, ID_COLUMN, SKEWED
from reportgen.data.synth import BEHAVIOURS, DEFAULT_MIX, generate_customers, generate_months
from reportgen.data.synth_files import write_synth
from reportgen.errors import InputError

AMOUNTS = ("BALANCE", "PURCHASES", "ONEOFF_PURCHASES", "INSTALLMENTS_PURCHASES", "CASH_ADVANCE",
           "CREDIT_LIMIT", "PAYMENTS", "MINIMUM_PAYMENTS")
COUNTS = ("CASH_ADVANCE_TRX", "PURCHASES_TRX")
SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample.csv"
ALLOWED_DRIFT = {
    ("Frequent Spenders", "Balanced Users"), ("Frequent Spenders", "Dormant Users"),
    ("Balanced Users", "Revolvers"), ("Balanced Users", "Frequent Spenders"),
    ("Dormant Users", "Balanced Users"),
    ("Revolvers", "High Balance Holders"), ("Revolvers", "Dormant Users"),
    ("High Balance Holders", "Revolvers"),
}


@pytest.fixture(scope="module")
def sample() -> tuple[pd.DataFrame, np.ndarray]:
    """The bundled sample's customers: 4,000 at seed 2026."""
    return generate_customers(4000, seed=2026)


@pytest.fixture(scope="module")
def months() -> list[tuple[pd.DataFrame, np.ndarray]]:
    """Four months of 3,000 customers."""
    return generate_months(3000, 4, seed=11)


def medians_by_behaviour(frame: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
    """Per-behaviour medians of the features (rows: behaviours)."""
    return frame[list(FEATURES)].groupby(labels).median()


# --- shape and invariants -------------------------------------------------------------------------


def test_columns_ids_and_labels(sample):
    frame, labels = sample
    assert list(frame.columns) == [ID_COLUMN, *FEATURES]
    assert frame[ID_COLUMN].iloc[0] == "C10001" and frame[ID_COLUMN].iloc[-1] == "C14000"
    assert frame[ID_COLUMN].is_unique
    assert len(labels) == len(frame) and set(labels) == set(BEHAVIOURS)
    shares = pd.Series(labels).value_counts(normalize=True)
    for name, share in zip(BEHAVIOURS, DEFAULT_MIX):
        assert shares[name] == pytest.approx(share, abs=0.001)


def test_id_offset_and_mix():
    frame, labels = generate_customers(10, seed=1, id_offset=500, mix={"Dormant Users": 1.0})
    assert frame[ID_COLUMN].tolist() == [f"C{10501 + i}" for i in range(10)]
    assert set(labels) == {"Dormant Users"}


def test_purchases_add_up(sample):
    frame, _ = sample
    total = frame["ONEOFF_PURCHASES"] + frame["INSTALLMENTS_PURCHASES"]
    np.testing.assert_allclose(frame["PURCHASES"], total, rtol=0, atol=1e-6)


def test_amounts_and_counts_non_negative_whole_and_rounded(sample):
    frame, _ = sample
    for name in AMOUNTS:
        values = frame[name].dropna()
        assert (values >= 0).all(), name
        np.testing.assert_array_equal(values, values.round(6), err_msg=name)
    for name in COUNTS:
        assert (frame[name] >= 0).all() and (frame[name] == frame[name].round()).all(), name


def test_frequencies_are_twelfths(sample):
    frame, _ = sample
    for name in FREQUENCIES:
        values = frame[name].to_numpy()
        assert ((values >= 0) & (values <= 1)).all(), name
        assert np.abs(values * 12 - np.rint(values * 12)).max() < 1e-4, name
    assert (frame["ONEOFF_PURCHASES_FREQUENCY"] <= frame["PURCHASES_FREQUENCY"]).all()
    assert (frame["PURCHASES_INSTALLMENTS_FREQUENCY"] <= frame["PURCHASES_FREQUENCY"]).all()


def test_zero_amounts_match_zero_counts_and_frequencies(sample):
    frame, _ = sample
    no_purchase = frame["PURCHASES"] == 0
    assert no_purchase.equals(frame["PURCHASES_TRX"] == 0)
    assert no_purchase.equals(frame["PURCHASES_FREQUENCY"] == 0)
    no_cash = frame["CASH_ADVANCE"] == 0
    assert no_cash.equals(frame["CASH_ADVANCE_TRX"] == 0)
    assert no_cash.equals(frame["CASH_ADVANCE_FREQUENCY"] == 0)
    assert 0 < no_purchase.mean() < 0.5 and 0.3 < no_cash.mean() < 0.9


def test_tenure(sample):
    frame, _ = sample
    tenure = frame["TENURE"]
    assert (tenure == tenure.round()).all() and tenure.between(6, 12).all()
    assert (tenure == 12).mean() == pytest.approx(0.85, abs=0.03)


def test_skew_like_the_real_file(sample):
    frame, _ = sample
    for name in ("BALANCE", "PURCHASES", "PAYMENTS"):
        assert frame[name].max() >= 20 * frame[name].median(), name


def test_missing_values(sample):
    frame, _ = sample
    missing_minimum = frame["MINIMUM_PAYMENTS"].isna()
    assert 0.02 <= missing_minimum.mean() <= 0.05
    unpaid = frame["PAYMENTS"] == 0
    assert missing_minimum[unpaid].all()
    assert unpaid[missing_minimum].mean() > 0.5
    assert frame["CREDIT_LIMIT"].isna().sum() == 1
    assert (frame["CREDIT_LIMIT"].dropna() > 0).all()
    other = frame.drop(columns=["MINIMUM_PAYMENTS", "CREDIT_LIMIT"])
    assert not other.isna().any().any()


@pytest.mark.parametrize(("n", "expected"), [(1, 0), (1999, 0), (2000, 1), (9999, 1), (10000, 2)])
def test_missing_credit_limit_share(n, expected):
    frame, _ = generate_customers(n, seed=3)
    assert frame["CREDIT_LIMIT"].isna().sum() == expected


def test_behaviour_profiles(sample):
    frame, labels = sample
    med = medians_by_behaviour(frame, labels)
    high, spend, balanced, dormant, revolve = (med.loc[name] for name in BEHAVIOURS)
    assert 3000 <= high["BALANCE"] <= 5000 and high["BALANCE_FREQUENCY"] == 1
    assert high["PURCHASES_TRX"] <= 2
    assert spend["PURCHASES_FREQUENCY"] >= 0.9 and spend["PURCHASES_TRX"] >= 30
    assert med["PURCHASES"].idxmax() == "Frequent Spenders"
    assert med["CREDIT_LIMIT"].idxmax() == "Frequent Spenders"
    assert med["PRC_FULL_PAYMENT"].idxmax() == "Frequent Spenders" and spend["CASH_ADVANCE"] == 0
    assert balanced["PURCHASES_INSTALLMENTS_FREQUENCY"] >= 0.5 and balanced["CASH_ADVANCE"] == 0
    assert balanced["INSTALLMENTS_PURCHASES"] > balanced["ONEOFF_PURCHASES"]
    assert dormant["BALANCE"] < 100 and 0.2 <= dormant["BALANCE_FREQUENCY"] <= 0.6
    assert dormant["CASH_ADVANCE"] == 0 and dormant["PURCHASES_TRX"] <= 2
    assert revolve["PRC_FULL_PAYMENT"] == 0
    assert med["CASH_ADVANCE_FREQUENCY"].idxmax() == "Revolvers"
    assert med["CASH_ADVANCE_TRX"].idxmax() == "Revolvers"
    rev = frame[labels == "Revolvers"]
    assert (rev["BALANCE"] / rev["CREDIT_LIMIT"]).median() >= 0.85
    assert (rev["PAYMENTS"] < rev["MINIMUM_PAYMENTS"]).mean() > 0.8
    assert (rev["PAYMENTS"] < rev["BALANCE"]).mean() > 0.8


# --- determinism ----------------------------------------------------------------------------------


def test_same_seed_same_data_and_different_seed_differs():
    first, first_labels = generate_customers(500, seed=9)
    again, again_labels = generate_customers(500, seed=9)
    pd.testing.assert_frame_equal(first, again)
    np.testing.assert_array_equal(first_labels, again_labels)
    other, _ = generate_customers(500, seed=10)
    assert not first[list(FEATURES)].equals(other[list(FEATURES)])


def test_customers_are_the_first_month():
    frame, labels = generate_customers(300, seed=4)
    (month, month_labels), *_ = generate_months(300, 2, seed=4)
    pd.testing.assert_frame_equal(frame, month)
    np.testing.assert_array_equal(labels, month_labels)


def test_months_are_deterministic(months):
    again = generate_months(3000, 4, seed=11)
    for (frame, labels), (frame2, labels2) in zip(months, again):
        pd.testing.assert_frame_equal(frame, frame2)
        np.testing.assert_array_equal(labels, labels2)


# --- months ---------------------------------------------------------------------------------------


def test_months_keep_customers_and_drift_along_paths(months):
    assert len(months) == 4
    ids = months[0][0][ID_COLUMN].tolist()
    for (before, old), (after, new) in zip(months, months[1:]):
        assert after[ID_COLUMN].tolist() == ids
        moved = old != new
        assert 0.03 <= moved.mean() <= 0.15
        assert set(zip(old[moved], new[moved])) <= ALLOWED_DRIFT


def test_months_keep_stayers_similar(months):
    (first, old), (second, new) = months[0], months[1]
    stay = old == new
    for name in ("BALANCE", "PAYMENTS", "CREDIT_LIMIT"):
        a, b = np.log1p(first.loc[stay, name]), np.log1p(second.loc[stay, name])
        keep = a.notna() & b.notna()
        assert np.corrcoef(a[keep], b[keep])[0, 1] > 0.8, name
    assert not first[list(FEATURES)].equals(second[list(FEATURES)])


# --- recovery -------------------------------------------------------------------------------------


def test_kmeans_recovers_planted_behaviours(sample):
    frame, labels = sample
    features = frame[list(FEATURES)].copy()
    features = features.fillna(features.median())
    features[list(SKEWED)] = np.log1p(features[list(SKEWED)])
    scaled = StandardScaler().fit_transform(features)
    found = KMeans(n_clusters=5, n_init=4, random_state=0).fit_predict(scaled)
    ari = adjusted_rand_score(labels, found)
    print(f"adjusted Rand index, KMeans(5) vs planted behaviours: {ari:.3f}")
    assert ari >= 0.6



def test_pipeline_finds_the_five_planted_behaviours_in_the_bundled_sample(sample):
    """The demo input, through the real pipeline and its own k rule: five segments named after the
    five planted behaviours, each named after the behaviour most of its customers were planted with."""
    from reportgen.api import analyse

    _, planted = sample
    result, model = analyse(SAMPLE)
    assert model.k_choice.chosen_k == 5, model.k_choice.reason
    names = [segment.name for segment in model.segments]
    assert set(names) == set(BEHAVIOURS)
    assert result.clean.ids.tolist() == sample[0][ID_COLUMN].tolist()
    found = np.asarray(names, dtype=object)[result.labels]
    ari = adjusted_rand_score(planted, found)
    print(f"adjusted Rand index, pipeline (k = {model.k_choice.chosen_k}) vs planted behaviours: {ari:.3f}")
    assert ari >= 0.8
    for name in names:
        assert pd.Series(planted[found == name]).mode()[0] == name, name

# --- writing --------------------------------------------------------------------------------------


def read_truth(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def test_write_single_csv(tmp_path):
    out = tmp_path / "new" / "dir"
    paths = write_synth(200, out, seed=5)
    assert paths == [out / "customers.csv", out / "truth.csv"]
    frame, labels = generate_customers(200, seed=5)
    written = pd.read_csv(out / "customers.csv")
    assert list(written.columns) == [ID_COLUMN, *FEATURES]
    assert written[ID_COLUMN].tolist() == frame[ID_COLUMN].tolist()
    np.testing.assert_allclose(written[list(FEATURES)], frame[list(FEATURES)], rtol=1e-12)
    truth = read_truth(out / "truth.csv")
    assert list(truth.columns) == [ID_COLUMN, "month", "behaviour"]
    assert truth["month"].eq("").all() and truth["behaviour"].tolist() == list(labels)
    assert sorted(p.name for p in out.iterdir()) == ["customers.csv", "truth.csv"]


def test_write_months_parquet(tmp_path):
    paths = write_synth(150, tmp_path, seed=6, months=3, start="2025-11", fmt="parquet")
    names = ["customers-2025-11.parquet", "customers-2025-12.parquet", "customers-2026-01.parquet"]
    assert paths == [tmp_path / name for name in [*names, "truth.csv"]]
    expected = generate_months(150, 3, seed=6)
    for path, (frame, _) in zip(paths, expected):
        written = pd.read_parquet(path)
        assert written[ID_COLUMN].tolist() == frame[ID_COLUMN].tolist()
        pd.testing.assert_frame_equal(written[list(FEATURES)], frame[list(FEATURES)])
    truth = read_truth(tmp_path / "truth.csv")
    assert len(truth) == 450
    assert truth["month"].unique().tolist() == ["2025-11", "2025-12", "2026-01"]
    for month, (_, labels) in zip(["2025-11", "2025-12", "2026-01"], expected):
        assert truth.loc[truth["month"] == month, "behaviour"].tolist() == list(labels)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*names, "truth.csv"])


def test_write_months_csv_names(tmp_path):
    paths = write_synth(20, tmp_path, seed=1, months=2)
    assert [p.name for p in paths] == ["customers-2026-01.csv", "customers-2026-02.csv", "truth.csv"]


def test_bundled_sample_is_current(sample):
    frame, _ = sample
    assert SAMPLE.read_text(encoding="utf-8") == frame.to_csv(index=False)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"customers": 0},
        {"customers": -3},
        {"customers": 10, "months": 0},
        {"customers": 10, "months": 2, "start": "2026-13"},
        {"customers": 10, "months": 2, "start": "26-01"},
        {"customers": 10, "months": 2, "start": "2026-1"},
        {"customers": 10, "fmt": "xlsx"},
    ],
)
def test_write_bad_arguments(tmp_path, kwargs):
    customers = kwargs.pop("customers")
    with pytest.raises(InputError) as caught:
        write_synth(customers, tmp_path / "out", seed=1, **kwargs)
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "call",
    [
        lambda: generate_customers(0, seed=1),
        lambda: generate_customers(10, seed=1, mix=(1, 2)),
        lambda: generate_customers(10, seed=1, mix=(0, 0, 0, 0, 0)),
        lambda: generate_customers(10, seed=1, mix={"Whales": 1.0}),
        lambda: generate_customers(10, seed=1, mix="lots"),
        lambda: generate_months(10, 0, seed=1),
    ],
)
def test_generate_bad_arguments(call):
    with pytest.raises(InputError):
        call()

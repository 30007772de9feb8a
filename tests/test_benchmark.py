"""Choosing k, naming and monthly migration on the hard synthetic benchmark (reportgen.data.benchmark).

The benchmark plants five personas with skew, zero-inflation, borrowed behaviour and unequal sizes
(silhouettes 0.2-0.3, as on the real file). 5,000 customers by default; 50,000 with ``-m benchmark``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from reportgen.api import analyse, record_history
from reportgen.config import load_settings
from reportgen.data.benchmark import PERSONAS, VARIANTS, benchmark_months, generate_benchmark
from reportgen.segmentation.model import load_model, save_model
from reportgen.segmentation.pipeline import run_segmentation

# (variant, least share of customers who must get their planted persona's name)
RECOVERY = {"easy": 0.90, "moderate": 0.80, "realistic": 0.75}


def _segment(tmp_path, variant: str, n: int, seed: int = 1):
    frame, planted = generate_benchmark(n, variant, seed)
    path = tmp_path / f"{variant}.csv"
    frame.to_csv(path, index=False)
    result = run_segmentation(path, load_settings())
    names = np.asarray([s.name for s in result.model.segments], dtype=object)[result.labels]
    return result, planted, names


def test_benchmark_is_as_hard_as_real_data():
    frame, planted = generate_benchmark(5000, "realistic", 1)
    shares = pd.Series(planted).value_counts(normalize=True)
    assert set(shares.index) == set(PERSONAS) and shares.min() >= 0.05 and shares.max() <= 0.45
    zero = {c: float((frame[c] == 0).mean()) for c in ("PURCHASES", "CASH_ADVANCE", "PRC_FULL_PAYMENT")}
    assert 0.15 <= zero["PURCHASES"] <= 0.35  # real file: 0.23
    assert 0.40 <= zero["CASH_ADVANCE"] <= 0.70  # real file: 0.52
    assert 0.50 <= zero["PRC_FULL_PAYMENT"] <= 0.80  # real file: 0.66
    np.testing.assert_allclose(frame["PURCHASES"], frame["ONEOFF_PURCHASES"] + frame["INSTALLMENTS_PURCHASES"], atol=0.011)
    assert frame["MINIMUM_PAYMENTS"].isna().any()  # gaps to impute, as in the real file
    again, _ = generate_benchmark(5000, "realistic", 1)
    pd.testing.assert_frame_equal(frame, again)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_planted_personas_recovered_and_named(tmp_path, variant):
    result, planted, names = _segment(tmp_path, variant, 5000)
    assert result.selection.chosen_k == 5, result.selection.reason
    assert float(np.mean(names == planted)) >= RECOVERY[variant]
    assert {s.name for s in result.model.segments} == set(PERSONAS)
    assert all(s.stability >= 0.85 for s in result.model.segments)


@pytest.mark.benchmark
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_recovery_at_fifty_thousand(tmp_path, variant):
    result, planted, names = _segment(tmp_path, variant, 50_000)
    named = float(np.mean(names == planted))
    print(f"{variant}: k = {result.selection.chosen_k}, ARI {adjusted_rand_score(planted, result.labels):.3f}, "
          f"named {named:.3f}")
    assert result.selection.chosen_k == 5 and named >= RECOVERY[variant]


@pytest.fixture(scope="module")
def months(tmp_path_factory):
    """Four months of 5,000 moderate customers: 5% movers, 5% movers, then 30% starting to revolve."""
    root = tmp_path_factory.mktemp("bench-months")
    data = benchmark_months(5000, (0.05, 0.05, 0.30), seed=3, towards=(None, None, "Revolvers"))
    paths = []
    for i, (frame, _planted, _moved) in enumerate(data):
        paths.append(root / f"customers-2026-0{i + 1}.csv")
        frame.to_csv(paths[-1], index=False)
    return root, paths, data


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["score", "refit"])
def test_migration_matches_true_movers_and_heavy_drift_is_flagged(months, mode):
    root, paths, data = months
    db = root / f"{mode}.duckdb"
    models = []
    for i, path in enumerate(paths):
        result, model = analyse(path, month=f"2026-0{i + 1}", history=db, refit=mode == "refit" and i > 0)
        record_history(db, result, model, save_model(result.model))
        models.append(model)
    for i, model in enumerate(models[1:], start=1):
        true_movers = int(data[i][2].sum())
        assert len(model.segments) == 5  # a refit keeps k
        assert model.history.migration.moved == pytest.approx(true_movers, rel=0.10), i
    assert not any(m.monitoring.significant_shift for m in models[1:3])
    assert models[3].monitoring.significant_shift
    assert any(e.startswith("Significant shift") for e in models[3].monitoring.events)


def test_predict_imputes_like_the_build(tmp_path):
    frame, _planted = generate_benchmark(3000, "moderate", 5)
    frame.loc[frame.index[:40], "CREDIT_LIMIT"] = np.nan
    path = tmp_path / "gaps.csv"
    frame.to_csv(path, index=False)
    result = run_segmentation(path, load_settings())
    (tmp_path / "model.json").write_bytes(save_model(result.model))
    gaps = frame["MINIMUM_PAYMENTS"].isna() | frame["CREDIT_LIMIT"].isna()
    assert gaps.sum() > 40
    predicted = load_model(tmp_path / "model.json").predict(frame)
    assert (predicted == result.labels).all()

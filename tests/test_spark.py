"""The Spark engine against the default engine (skipped, with the reason, without PySpark or Java).

One module-scoped local[2] session serves every test; the real file runs once on each engine.
"""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score

pytest.importorskip("pyspark", reason="PySpark is not installed (pip install 'reportgen[spark]')")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("Java is not installed: Spark needs a JVM (17 or later)", allow_module_level=True)

from reportgen.config import load_settings  # noqa: E402
from reportgen.data.extract import load_extract  # noqa: E402
from reportgen.data.validation import validate_extract  # noqa: E402
from reportgen.errors import InputError  # noqa: E402
from reportgen.report.build import build_report_model
from reportgen.report.model import model_to_json  # noqa: E402
from reportgen.segmentation.engines.spark import quiet_pyspark, run_segmentation_spark, start_session  # noqa: E402
from reportgen.segmentation.pipeline import run_segmentation  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def spark():
    with quiet_pyspark():
        session = start_session("local[2]")
    yield session
    with quiet_pyspark():
        session.stop()


@pytest.fixture(scope="module")
def both(real_data, spark):
    settings = load_settings(k=5)
    steps = []
    return (
        run_segmentation(real_data, settings),
        run_segmentation_spark(real_data, settings, log=steps.append, spark=spark),
        steps,
    )


def _matched(default, on_spark) -> list[tuple[int, int]]:
    """Pairs (default segment, Spark segment) by the largest overlap of customers."""
    k = len(default.namings)
    overlap = np.zeros((k, k), dtype=np.int64)
    np.add.at(overlap, (default.labels, on_spark.labels), 1)
    rows, cols = linear_sum_assignment(-overlap)
    return list(zip(rows.tolist(), cols.tolist()))


def test_assignments_agree_with_the_default_engine(both):
    default, on_spark, steps = both
    assert on_spark.clean.ids.tolist() == default.clean.ids.tolist()  # the file's order
    ari = adjusted_rand_score(default.labels, on_spark.labels)
    print(f"adjusted Rand index, Spark vs default engine, real file, k = 5: {ari:.4f}")
    # up to FULL_FIT_LIMIT customers both engines start from the best of ten k-means++ starts on
    # everyone; the Spark engine's Lloyd passes on Spark then only settle it
    assert ari >= 0.99
    pairs = _matched(default, on_spark)
    moved = max(np.abs(default.model.centroids[d] - on_spark.model.centroids[s]).max() for d, s in pairs)
    print(f"largest centroid difference, Spark vs default engine (scaled units): {moved:.4f}")
    assert moved < 0.05
    assert steps == ["load", "transform", "choose k", "fit", "name personas"]


def test_matched_segments_carry_the_same_personas(both):
    default, on_spark, _steps = both
    pairs = _matched(default, on_spark)
    names = [(default.namings[d].name, on_spark.namings[s].name) for d, s in pairs]
    assert all(a == b for a, b in names), names
    assert {n.name for n in on_spark.namings} == {n.name for n in default.namings}


def test_data_quality_and_the_report_model(both):
    default, on_spark, _steps = both
    assert on_spark.clean.imputed == default.clean.imputed == {"CREDIT_LIMIT": 1, "MINIMUM_PAYMENTS": 313}
    assert on_spark.clean.capped == default.clean.capped == {"CASH_ADVANCE_FREQUENCY": 8}
    # the medians are the default engine's to the last bit (the float32 values' middle two, averaged)
    assert on_spark.clean.impute_values == default.clean.impute_values
    # the scaler's moments come from the validation pass, gaps taking the median (313 of them here)
    assert np.allclose(on_spark.model.scaler.mean, default.model.scaler.mean, rtol=1e-6)
    assert np.allclose(on_spark.model.scaler.scale, default.model.scaler.scale, rtol=1e-6)
    assert on_spark.clean.features["BALANCE"].dtype == np.float32
    assert on_spark.selection.chosen_k == 5 and on_spark.selection.forced
    model = build_report_model(on_spark, month="2026-11", generated_at="2026-11-30T00:00:00+00:00")
    assert sum(s.customers for s in model.segments) == 8950
    assert json.loads(model_to_json(model))["facts"]["input_sha256"] == default.extract.sha256


def _default_error(path) -> str:
    with pytest.raises(InputError) as caught:
        validate_extract(load_extract(path), min_customers=50)
    return str(caught.value)


def _spark_error(path, spark) -> str:
    with pytest.raises(InputError) as caught:
        run_segmentation_spark(path, load_settings(k=5), spark=spark)
    return str(caught.value)


BAD_FILES = {
    "text": lambda f: f.assign(PURCHASES=f["PURCHASES"].where(~f.index.isin([3, 17]), "abc123")),
    "negative": lambda f: f.assign(PAYMENTS=f["PAYMENTS"].where(~f.index.isin([4, 8, 9]), "-5")),
    "duplicate id": lambda f: f.assign(CUST_ID=f["CUST_ID"].where(f.index != 9, f["CUST_ID"][2])),
    "empty id": lambda f: f.assign(CUST_ID=f["CUST_ID"].where(f.index != 7, " NA ")),
    "tenure": lambda f: f.assign(TENURE=f["TENURE"].where(f.index > 10, "13")),
    "all empty": lambda f: f.assign(MINIMUM_PAYMENTS=""),
    # repeated ids are looked for in a pass of their own only when a later check fails
    "duplicate id and text": lambda f: BAD_FILES["text"](BAD_FILES["duplicate id"](f)),
    "header only": lambda f: f.head(0),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_validation_errors_match_the_default_engine(case, spark, small_csv):
    path = small_csv(n=60, edit=BAD_FILES[case])
    assert _spark_error(path, spark) == _default_error(path)


@pytest.mark.parametrize("case", ["negative", "duplicate id", "duplicate id and text", "header only, a column missing"])
def test_parquet_validation_errors_match_the_default_engine(case, spark, small_csv):
    """A Parquet extract is read again by each pass instead of cached: the rows a failed check
    names are still the file's. An empty file says so before its columns are looked at."""
    import pandas as pd

    edit = (lambda f: f.head(0).drop(columns="TENURE")) if case.startswith("header only") else BAD_FILES[case]
    csv = small_csv(n=60, edit=edit)
    path = csv.with_suffix(".parquet")
    pd.read_csv(csv, dtype={"CUST_ID": str}).to_parquet(path, index=False)
    message = _spark_error(path, spark)
    assert message == _default_error(path)
    assert ("no customer rows" if case.startswith("header only") else "row") in message


def test_a_parquet_extract_segments_as_its_csv(both, spark, real_data, tmp_path):
    """The real file as Parquet (read again by each pass, not cached) gives the CSV's customers,
    in the file's order, and the same segments."""
    import pandas as pd

    _default, on_spark, _steps = both
    path = tmp_path / "real.parquet"
    pd.read_csv(real_data, dtype={"CUST_ID": str}).to_parquet(path, index=False)
    from_parquet = run_segmentation_spark(path, load_settings(k=5), spark=spark)
    assert from_parquet.clean.ids.tolist() == on_spark.clean.ids.tolist()
    assert adjusted_rand_score(on_spark.labels, from_parquet.labels) > 0.999
    assert [n.name for n in from_parquet.namings] == [n.name for n in on_spark.namings]


def test_ragged_rows_and_too_few_customers(spark, small_csv):
    path = small_csv(n=60)
    lines = path.read_text().splitlines()
    lines[5] += ",7,8"
    path.write_text("\n".join(lines) + "\n")
    assert _spark_error(path, spark) == f"{path}: ragged rows: row 6 has 20 fields, the header has 18"
    few = small_csv(n=40, name="few.csv")
    assert "40 customers is too few to segment (need at least 80" in _spark_error(few, spark)


def test_a_refit_keeps_k_and_starts_from_last_months_centroids(real_data, spark):
    """As on the default engine: --refit keeps last month's k (the rule would choose 5 here) and
    moves last month's centroids only as far as the customers moved."""
    from reportgen.segmentation.result import PreviousModel

    first = run_segmentation(real_data, load_settings(k=6), month="2026-10")
    previous = PreviousModel(first.model, "2026-10", "2026-10", first.continuity.reference)
    settings = load_settings()
    local = run_segmentation(real_data, settings, previous=previous, refit=True, month="2026-11")
    on_spark = run_segmentation_spark(real_data, settings, previous=previous, refit=True, month="2026-11", spark=spark)
    assert on_spark.selection.chosen_k == local.selection.chosen_k == 6
    assert "kept from the model fitted in 2026-10" in on_spark.selection.reason
    assert [s.name for s in on_spark.model.segments] == [s.name for s in local.model.segments]
    assert adjusted_rand_score(local.labels, on_spark.labels) > 0.99


def test_sample_seeded_lloyd_passes_on_spark_agree_with_the_default_engine(both, spark, real_data, monkeypatch):
    """Beyond FULL_FIT_LIMIT customers the Spark engine seeds Lloyd's passes (DataFrame
    aggregations) with starts on its k-selection sample; lowered here so the real file takes
    that path."""
    from reportgen.segmentation import model as segmentation_model

    monkeypatch.setattr(segmentation_model, "FULL_FIT_LIMIT", 1_000)
    default, _on_spark, _steps = both
    lloyd = run_segmentation_spark(real_data, load_settings(k=5), spark=spark)
    ari = adjusted_rand_score(default.labels, lloyd.labels)
    print(f"adjusted Rand index, Spark sample-seeded Lloyd vs default engine, real file, k = 5: {ari:.4f}")
    assert ari >= 0.9
    assert {n.name for n in lloyd.namings} == {n.name for n in default.namings}
    # every customer sits with its nearest final centroid
    matrix = lloyd.model.scaler.transform(lloyd.clean.features).astype(np.float64)
    distances = ((matrix[:, None, :] - lloyd.model.centroids[None, :, :]) ** 2).sum(axis=2)
    assert (distances.argmin(axis=1) == lloyd.labels).mean() > 0.999

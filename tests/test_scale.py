"""Memory-lean behaviour on 200,000 synthetic customers (no timings: see tests/benchmarks/scale.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from reportgen.config import load_settings
from reportgen.data.contract import FEATURES, SKEWED
from reportgen.data.extract import load_extract
from reportgen.data.features import fit_and_transform, fit_scaler
from reportgen.data.synth import generate_customers
from reportgen.data.validation import validate_extract
from reportgen.report.cube import build_cube
from reportgen.report.model import CUBE_MEASURES, LIMIT_BANDS, UTILISATION_BANDS
from reportgen.segmentation import model as segmentation
from reportgen.segmentation.model import assign_nearest, fit_kmeans, lloyd
from reportgen.segmentation.personas import PROFILE_FEATURES
from reportgen.segmentation.pipeline import run_segmentation
from reportgen.segmentation.profiles import describe_segments, profile_frame, reorder_profiles, segment_z
from reportgen.segmentation.result import CLUSTER_FEATURES

pytestmark = pytest.mark.slow

N = 200_000


@pytest.fixture(scope="module")
def big_parquet(tmp_path_factory):
    frame, _truth = generate_customers(N, seed=11)
    path = tmp_path_factory.mktemp("scale") / "customers.parquet"
    frame.to_parquet(path, index=False)
    return path


@pytest.fixture(scope="module")
def clean(big_parquet):
    return validate_extract(load_extract(big_parquet), min_customers=80)


def test_features_are_float32_end_to_end(big_parquet, clean):
    extract = load_extract(big_parquet)
    assert all(extract.frame[name].dtype == np.float32 for name in FEATURES)
    assert pd.api.types.is_string_dtype(extract.frame["CUST_ID"])
    assert all(clean.features[name].dtype == np.float32 for name in FEATURES)
    assert len(clean.features) == N and clean.ids.is_unique
    matrix = fit_scaler(clean.features, CLUSTER_FEATURES).transform(clean.features)
    assert matrix.dtype == np.float32 and matrix.shape == (N, len(CLUSTER_FEATURES))
    # a float64 frame still gives a float64 matrix (the public behaviour for other callers)
    assert fit_scaler(clean.features.astype("float64"), CLUSTER_FEATURES).transform(
        clean.features.head(10).astype("float64")
    ).dtype == np.float64


def test_float32_gives_the_segments_float64_gives(clean):
    sample = clean.features.sample(20_000, random_state=3).reset_index(drop=True)
    labels = {}
    for dtype in ("float32", "float64"):
        frame = sample.astype(dtype)
        scaler = fit_scaler(frame, CLUSTER_FEATURES)
        labels[dtype], _ = fit_kmeans(scaler.transform(frame), 5, seed=42)
    ari = adjusted_rand_score(labels["float32"], labels["float64"])
    print(f"ARI float32 vs float64 on 20,000 customers: {ari:.4f}")
    assert ari >= 0.99


def test_sample_seeded_lloyd_matches_a_full_fit(clean, monkeypatch):
    """The large-input path (sample starts, then full Lloyd passes) on a size a full fit can check."""
    matrix = fit_scaler(clean.features, CLUSTER_FEATURES).transform(clean.features)[:60_000]
    monkeypatch.setattr(segmentation, "FULL_FIT_LIMIT", 20_000)
    monkeypatch.setattr(segmentation, "SEED_SAMPLE", 10_000)
    labels, centroids = fit_kmeans(matrix, 5, seed=42)
    assert (labels == assign_nearest(matrix, centroids)).all()  # a fixed point: nearest final centroid
    again, _ = fit_kmeans(matrix, 5, seed=42)
    assert (again == labels).all()  # same input and seed, same assignments
    full = KMeans(n_clusters=5, n_init=10, random_state=42).fit(matrix.astype("float64"))
    ari = adjusted_rand_score(full.labels_, labels)
    inertia = float(((matrix.astype("float64") - centroids[labels]) ** 2).sum())
    print(f"sample-seeded vs full K-Means: ARI {ari:.4f}, inertia {inertia:.1f} vs {full.inertia_:.1f}")
    assert ari >= 0.99 and inertia <= full.inertia_ * 1.001


def test_lloyd_by_hand():
    points = np.array([[0.0, 0.0], [0.0, 1.0], [10.0, 0.0], [10.0, 1.0]], dtype=np.float32)
    labels, centroids = lloyd(points, np.array([[1.0, 0.0], [9.0, 0.0]]))
    assert labels.tolist() == [0, 0, 1, 1]
    assert np.allclose(centroids, [[0.0, 0.5], [10.0, 0.5]])


def test_chunked_profiles_equal_a_direct_groupby(clean):
    features = clean.features.head(30_000)
    labels = np.random.default_rng(0).integers(0, 4, len(features))
    labels[labels == 3] = 2  # segment 3 is empty
    profiles = describe_segments(features, labels, 4)
    frame = profile_frame(features)[list(PROFILE_FEATURES)].astype("float64")
    grouped = frame.groupby(labels)
    assert np.allclose(profiles.means[:3], grouped.mean().to_numpy())
    assert np.allclose(profiles.medians[:3], grouped.median().to_numpy())
    assert np.allclose(profiles.sums[:3], grouped.sum().to_numpy())
    assert np.isnan(profiles.means[3]).all() and (profiles.z[3] == 0).all() and profiles.sizes[3] == 0
    logged = frame.copy()
    for name in PROFILE_FEATURES:
        if name in SKEWED or name not in FEATURES:
            logged[name] = np.log1p(np.maximum(logged[name], 0))
    standard = (logged - logged.mean()) / logged.std(ddof=0)
    assert np.allclose(profiles.z[:3], standard.groupby(labels).mean().to_numpy())
    assert np.allclose(segment_z(features, labels, 4), profiles.z)
    assert np.allclose(profiles.portfolio_medians, frame.median().to_numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["skewed", "ties", "below-float32", "tiny", "extremes", "normal"])
def test_segment_medians_are_exact_on_awkward_values(kind, dtype):
    """The histogram selection gives exactly the partition's medians (and the counts above 0),
    per segment and overall: heavy ties, negatives, -0.0, zeros, float64 values equal in float32,
    positives that underflow float32, the float range's ends, empty and one-customer segments."""
    from reportgen.data.features import median
    from reportgen.segmentation.profiles import segment_medians
    from reportgen.segmentation.ranks import BIN_BITS

    rng = np.random.default_rng(abs(hash(kind)) % 1000)
    for n in (0, 1, 2, 7, 1000, 5001):
        values = {
            "skewed": lambda: rng.lognormal(5, 3, n) * (rng.random(n) < 0.7),
            "ties": lambda: rng.integers(-3, 4, n) / 4,
            "below-float32": lambda: 1 + rng.integers(0, 5, n) * 1e-12,
            "tiny": lambda: np.where(rng.random(n) < 0.6, 0.0, rng.random(n) * 1e-44) * rng.choice([-1, 1], n),
            "extremes": lambda: rng.choice([-0.0, 0.0, 3e38, -3e38, 1e-45, 12.0], n),
            "normal": lambda: rng.normal(0, 1, n),
        }[kind]().astype(dtype)
        labels = rng.integers(0, 4, n)
        labels[labels == 2] = 3  # segment 2 is empty
        if n > 1:
            labels[0] = 4  # segment 4 has one customer
        sizes = np.bincount(labels, minlength=5)
        medians, portfolio, positives = segment_medians(values, labels << BIN_BITS, sizes)
        for s in range(5):
            expected = median(values[labels == s])
            assert medians[s] == expected or (np.isnan(expected) and np.isnan(medians[s])), (n, s)
            assert positives[s] == np.count_nonzero(values[labels == s] > 0), (n, s)
        assert portfolio == median(values) or (n == 0 and np.isnan(portfolio))


def test_the_pipeline_completes_on_200k(big_parquet):
    result = run_segmentation(big_parquet, load_settings(k=5))
    assert len(result.labels) == N and result.labels.dtype == np.int32
    assert sorted(np.unique(result.labels)) == [0, 1, 2, 3, 4]
    assert result.clean.features["BALANCE"].dtype == np.float32
    assert result.profiles.sizes.sum() == N


def test_reordered_profiles_are_the_profiles_of_the_renumbered_segments(clean):
    features = clean.features.head(20_000)
    labels = np.random.default_rng(1).integers(0, 4, len(features)).astype(np.int32)
    order = [2, 0, 3, 1]  # new segment i is old segment order[i]
    renumbered = np.argsort(order).astype(np.int32)[labels]
    direct = describe_segments(features, renumbered, 4)
    moved = reorder_profiles(describe_segments(features, labels, 4), order)
    for field in ("sizes", "means", "medians", "sums", "z", "portfolio_means", "portfolio_medians", "portfolio_sums"):
        assert np.array_equal(getattr(direct, field), getattr(moved, field)), field  # the same numbers, bit for bit


def test_the_cube_equals_a_groupby_of_the_customers(clean):
    features = clean.features.head(20_000)
    labels = np.random.default_rng(2).integers(0, 5, len(features)).astype(np.int32)
    cube = build_cube(features, labels)
    from reportgen.segmentation.actions import CustomerFields

    assert build_cube(features, labels, CustomerFields(features)) == cube  # from the report's kept fields: the same cube
    limit = features["CREDIT_LIMIT"].to_numpy(dtype="float64")
    util = np.where(limit > 0, features["BALANCE"].to_numpy(dtype="float64") / np.where(limit > 0, limit, 1), 0.0)
    frame = pd.DataFrame({
        "segment": labels + 1, "tenure": features["TENURE"].to_numpy().astype(int),
        "limit_band": np.searchsorted([b[0] for b in LIMIT_BANDS[1:]], limit, side="right"),
        "utilisation_band": np.searchsorted([b[0] for b in UTILISATION_BANDS[1:]], util, side="right"),
        "customers": 1, **{m: features[m].to_numpy(dtype="float64") for m in CUBE_MEASURES[1:-1]},
        "cash_advance_users": (features["CASH_ADVANCE"].to_numpy() > 0).astype(int),
    })
    expected = frame.groupby(list(cube.dimensions), sort=True)[list(CUBE_MEASURES)].sum().reset_index()
    assert [r[:5] for r in cube.rows] == [tuple(int(v) for v in r[:5]) for r in expected.itertuples(index=False)]
    assert [r[-1] for r in cube.rows] == expected["cash_advance_users"].tolist()
    assert np.allclose([r[5:-1] for r in cube.rows], expected[list(CUBE_MEASURES[1:-1])].to_numpy(), rtol=1e-9)


def test_fit_and_transform_is_fit_scaler_then_transform(clean):
    features = clean.features.head(50_000)
    scaler, matrix = fit_and_transform(features, CLUSTER_FEATURES)
    assert scaler == fit_scaler(features, CLUSTER_FEATURES)
    assert matrix.dtype == np.float32 and np.array_equal(matrix, scaler.transform(features))


def customer_values(features, ratios) -> dict[str, np.ndarray]:
    """Every customer field as a float64 array (contract columns and derived ratios): the reference."""
    from reportgen.segmentation.rules import CUSTOMER_FIELDS

    values = {name: features[name].to_numpy(dtype="float64") for name in features.columns if name in CUSTOMER_FIELDS}
    values.update({name: ratios[name].to_numpy(dtype="float64") for name in ratios.columns})
    return values


def segment_values(values: dict[str, np.ndarray], mask: np.ndarray) -> dict[str, float]:
    """The segment fields of the customers in ``mask``, one boolean selection each: the reference."""
    from reportgen.segmentation.rules import CUSTOMER_FIELDS

    out: dict[str, float] = {}
    for name in CUSTOMER_FIELDS:
        column = values[name]
        mean, portfolio = float(column[mask].mean()) if mask.any() else 0.0, float(column.mean())
        out[name] = mean
        out[f"{name}_INDEX"] = 100 * mean / portfolio if portfolio else 100.0
    n = max(int(mask.sum()), 1)
    out["CUSTOMER_SHARE"] = float(mask.sum()) / max(len(mask), 1)
    out["CASH_ADVANCE_USERS"] = float((values["CASH_ADVANCE"][mask] > 0).sum()) / n
    out["PURCHASERS"] = float((values["PURCHASES"][mask] > 0).sum()) / n
    return out


def test_every_segments_fields_from_the_profiles_equal_each_segments_by_mask(clean):
    """The report's segment fields (sentence conditions, action sizing) come from the profiles,
    not a second pass: the same figures as each segment's own customers give, empty segment too."""
    from reportgen.data.features import derive_ratios
    from reportgen.report.actions import fields_of_all
    from reportgen.segmentation.profiles import describe_segments

    features = clean.features.head(30_000)
    values = customer_values(features, derive_ratios(features))
    labels = np.random.default_rng(3).integers(0, 5, len(features)).astype(np.int32)
    labels[labels == 3] = 4  # segment 3 is empty
    together = fields_of_all(describe_segments(features, labels, 5), 5)
    for s in range(5):
        alone = segment_values(values, labels == s)
        assert together[s].keys() == alone.keys(), s
        assert together[s] == pytest.approx(alone, rel=1e-12, abs=1e-12), s  # sums in another order


def test_the_per_action_lists_are_gathered_from_the_segment_ordered_columns(clean):
    """An action's customers (eligible customers of one segment, extract order) taken from the
    grouped columns are the segment's list filtered to those customers."""
    from types import SimpleNamespace

    from reportgen.monthly.targets import GroupedColumns

    features = clean.features.head(20_000).reset_index(drop=True)
    ids = pd.Series([f"C{i:06d}" for i in range(len(features))])
    labels = np.random.default_rng(4).integers(0, 3, len(features)).astype(np.int32)
    result = SimpleNamespace(labels=labels, clean=SimpleNamespace(features=features, ids=ids))
    segment = SimpleNamespace(id=2, name="Second", persona_key=None)
    grouped = GroupedColumns.of(result, 3)
    whole = grouped.segment(1, segment).to_pandas()
    assert whole["CUST_ID"].tolist() == ids[labels == 1].tolist()  # extract order within the segment
    eligible = np.flatnonzero((labels == 1) & (features["BALANCE"].to_numpy() > 1000))
    picked = grouped.ids(eligible).to_pylist()
    assert picked == whole.loc[whole["CUST_ID"].isin(set(ids[eligible])), "CUST_ID"].tolist()
    assert picked == ids[eligible].tolist()


def test_segment_kpis_from_segment_ordered_columns_equal_each_segments_by_mask(clean):
    from reportgen.report.build import _by_segment, _kpis, kpi_columns
    from reportgen.segmentation.actions import CustomerFields

    features = clean.features.head(40_000)
    columns = kpi_columns(CustomerFields(features))
    labels = np.random.default_rng(5).integers(0, 4, len(features)).astype(np.int32)
    labels[labels == 2] = 3  # segment 2 is empty
    by_segment = _by_segment(columns, labels, 4)
    for s in range(4):
        assert _kpis(by_segment[s], slice(None)) == _kpis(columns, labels == s), s  # the same figures, bit for bit


def test_columns_widened_into_buffers_equal_numpys_figures():
    """Profiles and the scaler widen columns into reused buffers and take mean and std without
    temporaries: the same numbers, bit for bit, as a fresh float64 column, the ratio function and
    NumPy's mean and std (zeros, a zero denominator, float32 and float64 inputs)."""
    from reportgen.data.contract import RATIOS
    from reportgen.data.features import mean_and_std, widen_into

    rng = np.random.default_rng(5)
    n = 10_001
    for dtype in (np.float32, np.float64):
        features = pd.DataFrame({c: (rng.gamma(0.5, 300.0, n) * (rng.random(n) > 0.4)).astype(dtype) for c in FEATURES})
        out, scratch = np.full(n, np.nan), np.full(n, np.nan)
        for name in (*FEATURES, *RATIOS):
            expected = _ratio(features, name) if name in RATIOS else features[name].to_numpy(dtype="float64")
            widened = widen_into(features, name, out, scratch)
            assert widened is out and np.array_equal(widened, expected), name
            assert mean_and_std(widened, scratch) == (float(expected.mean()), float(expected.std())), name
            assert np.array_equal(widened, expected), name  # the deviations went into scratch


def _ratio(features, name: str) -> np.ndarray:
    """A derived ratio computed plainly (a zero denominator gives 0): the reference."""
    from reportgen.data.contract import RATIOS

    numerator, denominator, _label = RATIOS[name]
    below = sum(features[part].to_numpy(dtype="float64") for part in denominator.split("+"))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(below > 0, features[numerator].to_numpy(dtype="float64") / np.where(below > 0, below, 1.0), 0.0)


def test_risk_measures_read_from_the_profiles_equal_a_pass_over_the_customers(clean):
    """The risk measures are read from the segment profiles: the same medians and cash-advance
    shares as computing them on each segment's customers, the full-payment mean the same up to
    the order of the sum; an empty segment is NaN."""
    from reportgen.data.features import median, ratio_column
    from reportgen.segmentation.risk import measure_risk

    features = clean.features.head(30_000)
    labels = np.random.default_rng(6).integers(0, 4, len(features)).astype(np.int32)
    labels[labels == 1] = 2  # segment 1 is empty
    direct = {name: np.full(4, np.nan) for name in ("utilisation", "payment_ratio", "full_payment", "cash_advance")}
    for s in (0, 2, 3):
        rows = labels == s
        direct["utilisation"][s] = median(ratio_column(features, "UTILISATION")[rows])
        direct["payment_ratio"][s] = median(ratio_column(features, "PAYMENT_RATIO")[rows])
        direct["full_payment"][s] = float(features["PRC_FULL_PAYMENT"].to_numpy(dtype="float64")[rows].mean())
        direct["cash_advance"][s] = float((features["CASH_ADVANCE"].to_numpy() > 0)[rows].mean())
    read = measure_risk(features, labels, 4, describe_segments(features, labels, 4))
    for name in ("utilisation", "payment_ratio", "cash_advance"):
        assert np.array_equal(direct[name], read[name], equal_nan=True), name
    assert np.allclose(direct["full_payment"], read["full_payment"], rtol=1e-12, equal_nan=True)
    assert np.isnan(read["utilisation"][1]) and np.isnan(read["cash_advance"][1])


def _reference_by_numpy(features: pd.DataFrame) -> dict:
    """The drift reference as plain NumPy computes it: np.quantile of the positive values in
    float64, the bins counted with searchsorted (what reference_distribution must equal)."""
    from reportgen.data.features import ratio_column
    from reportgen.segmentation.drift import KEY_FEATURES

    out = {}
    for name in KEY_FEATURES:
        values = ratio_column(features, name) if name == "UTILISATION" else features[name].to_numpy(dtype="float64")
        positive = values[values > 0]
        at_most_zero = np.count_nonzero(values <= 0)
        edges = np.unique(np.quantile(positive, np.linspace(0.1, 0.9, 9))) if len(positive) else np.array([])
        counts = np.bincount(np.searchsorted(edges, positive, side="right"), minlength=len(edges) + 1)
        shares = np.concatenate([[at_most_zero], counts]) / max(len(values), 1)
        out[name] = {"zero_bin": True, "edges": edges.tolist(), "shares": shares.tolist()}
    return out


@pytest.mark.parametrize("kind", ["real-like", "ties", "few", "zeros", "float64"])
def test_the_drift_reference_equals_numpys_quantiles_and_counts(clean, kind):
    """Deciles by radix selection are np.quantile's, bit for bit, and the bin shares are those of
    counting every value: on the sample's customers, heavy ties (few distinct values, so most
    deciles fall on a value shared by many), tiny and all-zero columns, float64 columns."""
    from reportgen.segmentation.drift import KEY_FEATURES, reference_distribution

    rng = np.random.default_rng(len(kind))
    columns = [c for c in KEY_FEATURES if c != "UTILISATION"]
    if kind == "real-like":
        features = clean.features.head(50_000)
    else:
        n = {"few": 7, "zeros": 300}.get(kind, 20_000)
        make = {
            "ties": lambda: rng.integers(0, 6, n) / 4,
            "few": lambda: rng.integers(-1, 3, n) * 1.5,
            "zeros": lambda: np.zeros(n),
            "float64": lambda: rng.lognormal(3, 2, n) * (rng.random(n) < 0.6) + rng.integers(0, 3, n) * 1e-9,
        }[kind]
        dtype = np.float64 if kind == "float64" else np.float32
        features = pd.DataFrame({c: make().astype(dtype) for c in columns})
    assert reference_distribution(features) == _reference_by_numpy(features)


def test_mean_column_variance_is_numpys():
    """Lloyd's tolerance is scaled by the mean column variance, computed over blocks of rows: the
    figure np.var gives column by column (to rounding), for float32 and float64 matrices, blocks
    that do not divide the rows, and a single row."""
    from reportgen.segmentation.model import mean_column_variance

    rng = np.random.default_rng(8)
    for dtype in (np.float32, np.float64):
        for n in (1, 5, 1000, 70_001):
            matrix = (rng.standard_normal((n, 6)) * [1, 10, 0.1, 0, 1000, 3] + 50).astype(dtype)
            expected = float(np.mean([np.var(matrix[:, j], dtype=np.float64) for j in range(6)]))
            assert mean_column_variance(matrix, chunk=4096) == pytest.approx(expected, rel=1e-12, abs=1e-12)

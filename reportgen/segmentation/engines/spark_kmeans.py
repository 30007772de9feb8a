"""K-Means on Spark for :mod:`reportgen.segmentation.engines.spark`: pyspark.ml's K-Means for
small extracts, sample-seeded Lloyd passes as DataFrame aggregations beyond, and the column that
gives each customer its nearest centroid."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KMEANS_MAX_ITER = 100
KMEANS_STARTS = 3
KMEANS_TOL = 1e-4


@dataclass(frozen=True)
class SparkFit:
    """A K-Means fit on Spark: the centroids (scaled space) and the column giving each
    customer's nearest one."""

    centroids: np.ndarray
    prediction: object  # a pyspark Column


def _fit_kmeans(scaled, k: int, seed: int, rows: int, sample: np.ndarray) -> SparkFit:
    """K-Means on every customer, as the default engine fits it (:func:`reportgen.segmentation.model.fit_kmeans`):

    - up to :data:`~reportgen.segmentation.model.FULL_FIT_LIMIT` customers, pyspark.ml K-Means:
      the best (lowest cost) of :data:`KMEANS_STARTS` k-means|| starts with seeds ``seed``,
      ``seed + 1``, ...; like scikit-learn's ``n_init``, because a single start can settle in a
      clearly worse local optimum (on the reference file one start in three or four does: cost
      70,782 against 69,111);
    - beyond, ten k-means++ starts on the k-selection sample (already on the driver) seed
      Lloyd's passes over every customer on Spark (:func:`_lloyd`): one aggregation per pass
      instead of the k-means|| initialisation's many, which cost most of the Spark engine's time
      at a million customers."""
    from reportgen.segmentation.model import FULL_FIT_LIMIT

    if rows > FULL_FIT_LIMIT:
        from sklearn.cluster import KMeans as LocalKMeans

        start = LocalKMeans(n_clusters=k, n_init=10, random_state=seed).fit(sample).cluster_centers_
        centroids = _lloyd(scaled, start, sample.shape[1])
        return SparkFit(centroids, _nearest(centroids))
    from pyspark.ml.clustering import KMeans

    best, best_cost = None, float("inf")
    for start in range(KMEANS_STARTS):
        model = KMeans(
            k=k, seed=seed + start, maxIter=KMEANS_MAX_ITER, tol=KMEANS_TOL,
            featuresCol="features", predictionCol="prediction",
        ).fit(scaled)
        cost = float(model.summary.trainingCost)
        if cost < best_cost:
            best, best_cost = model, cost
    centroids = np.asarray(best.clusterCenters(), dtype=np.float64)
    return SparkFit(centroids, _nearest(centroids))


def _nearest(centroids: np.ndarray):
    """A Spark column: the index of each customer's nearest centroid (squared distance over the
    scaled columns ``_z0..``; the first on a tie, as pyspark.ml and NumPy's argmin break them)."""
    from pyspark.sql import functions as F

    distances = [
        sum(((F.col(f"_z{j}") - F.lit(float(c))) ** 2 for j, c in enumerate(centre)), F.lit(0.0))
        for centre in centroids
    ]
    array = F.array(*distances)
    return (F.array_position(array, F.array_min(array)) - 1).cast("int")


def _lloyd(scaled, centroids: np.ndarray, dimensions: int) -> np.ndarray:
    """Lloyd's passes on Spark from ``centroids``: each pass assigns every customer to its nearest
    centroid and moves each centroid to the mean of its customers (one ``groupBy``), until the
    centroids move less than the tolerance (the columns are standardised, so the mean variance is
    1) or after :data:`KMEANS_MAX_ITER` passes. An empty segment keeps its centroid."""
    from pyspark.sql import functions as F

    centroids = np.array(centroids, dtype=np.float64)
    sums = [F.sum(f"_z{j}").alias(f"s{j}") for j in range(dimensions)]
    for _ in range(KMEANS_MAX_ITER):
        rows = scaled.groupBy(_nearest(centroids).alias("c")).agg(F.count(F.lit(1)).alias("n"), *sums).collect()
        moved = centroids.copy()
        for row in rows:
            moved[row["c"]] = [row[f"s{j}"] / row["n"] for j in range(dimensions)]
        shift = float(((moved - centroids) ** 2).sum())
        centroids = moved
        if shift <= KMEANS_TOL:
            break
    return centroids

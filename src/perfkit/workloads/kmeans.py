"""kmeans: k-means clustering of a standardised training part (its labels unused; ``k``
is the number of classes, 8 for generated data, which has 8 Gaussian clusters), the best
of ``N_INIT`` seedings, Lloyd to a tolerance of ``1e-4`` of the mean feature variance.

Ports: from scratch (greedy k-means++, Lloyd by matrix products), against scikit-learn's
``KMeans`` (the same method, in C with threads) and MLlib's ``KMeans`` (k-means|| seeding;
it has no restarts, so the port fits ``N_INIT`` seeds and keeps the lowest cost).
Checked on the training inertia, the objective all three minimise: at most
``INERTIA_FRACTION`` above scikit-learn's at the same seed; the test part's inertia is
recorded, and ``predict`` assigns its rows."""

from __future__ import annotations

from typing import Any

from perfkit.classic.kmeans import fit_kmeans, inertia
from perfkit.datasets.tabular import CLASSIFICATION_SETS
from perfkit.model.axes import Params
from perfkit.model.workload import Thunk
from perfkit.workloads._classic import (
    Band,
    Fitted,
    Reference,
    classic_workload,
    fitted_port,
    register_classic,
)

N_INIT = 10
TOLERANCE = 1e-4
MAX_ITERATIONS = 300
GENERATED_CLUSTERS = 8
INERTIA_FRACTION = 0.01


def _sklearn_model(k: int, seed: int) -> Any:
    from sklearn.cluster import KMeans

    return KMeans(k, n_init=N_INIT, tol=TOLERANCE, max_iter=MAX_ITERATIONS, random_state=seed)


def _reference(inputs: dict[str, Any], params: Params) -> Reference:
    data = inputs["data"]
    model = _sklearn_model(data.classes, inputs["seed"]).fit(data.x_train)
    return Reference(
        data, Band("inertia", INERTIA_FRACTION),
        {"default": inertia(data.x_train, model.cluster_centers_)},
        extra={"quality/sklearn_test_inertia": inertia(data.x_test, model.cluster_centers_)},
    )  # fmt: skip


KMEANS = classic_workload(
    "kmeans",
    f"k-means (k-means++ seeds, best of {N_INIT}, Lloyd) fit; inertia on the training part",
    CLASSIFICATION_SETS,
    "classification",
    _reference,
    classes=GENERATED_CLUSTERS,
)


@KMEANS.port("numpy", "lloyd", reference=True)
def _numpy(inputs: dict[str, Any], params: Params) -> Thunk:
    """From scratch: greedy k-means++ seeds, Lloyd by matrix products, best of N_INIT."""
    data, seed = inputs["data"], inputs["seed"]

    def fit() -> Any:
        return fit_kmeans(
            data.x_train, data.classes, seed,
            n_init=N_INIT, tolerance=TOLERANCE, max_iterations=MAX_ITERATIONS,
        )  # fmt: skip

    return fitted_port(data, fit, centres=lambda model: model.centres)


@KMEANS.port("sklearn")
def _sklearn(inputs: dict[str, Any], params: Params) -> Thunk:
    """scikit-learn ``KMeans`` (Lloyd, k-means++)."""
    data, seed = inputs["data"], inputs["seed"]
    return fitted_port(
        data,
        lambda: _sklearn_model(data.classes, seed).fit(data.x_train),
        centres=lambda model: model.cluster_centers_,
    )


@KMEANS.port("spark_local", "mllib")
def _spark(inputs: dict[str, Any], params: Params) -> Thunk:
    """MLlib ``KMeans`` (k-means||), the lowest-cost of N_INIT seeds."""
    import numpy as np
    from pyspark.ml.clustering import KMeans

    from perfkit.workloads._classic_spark import feature_frames, predictions

    data, seed = inputs["data"], inputs["seed"]
    train, test = feature_frames(data)
    estimators = [
        KMeans(k=data.classes, seed=seed + i, tol=TOLERANCE, maxIter=MAX_ITERATIONS)
        for i in range(N_INIT)
    ]

    def run() -> Fitted:
        models = [estimator.fit(train) for estimator in estimators]
        best = min(models, key=lambda model: model.summary.trainingCost)
        return Fitted(
            lambda: predictions(best, test, integer=True),
            centres=np.array(best.clusterCenters()),
        )

    return run


register_classic(KMEANS, "classification")

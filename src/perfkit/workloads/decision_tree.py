"""decision_tree: a CART classification tree (Gini, ``MAX_DEPTH`` levels, nodes split
down to 2 rows), fit on a standardised training part, scored by accuracy on the test part.

Ports: from scratch (vectorised split search over presorted features), against
scikit-learn's ``DecisionTreeClassifier`` and MLlib's. Where they differ: scikit-learn
tries the features in a seeded random order, so between equally good splits it picks by
that order (the from-scratch tree picks the first feature); MLlib searches ``MAX_BINS``
quantile bins per feature rather than every threshold (an approximation that makes it
scale). Band: ``ACCURACY_POINTS`` of scikit-learn's test accuracy."""

from __future__ import annotations

from typing import Any

from perfkit.classic.tree import fit_tree
from perfkit.datasets.tabular import CLASSIFICATION_SETS
from perfkit.model.axes import Params
from perfkit.model.workload import Thunk
from perfkit.workloads._classic import (
    Reference,
    accuracy_reference,
    classic_workload,
    fitted_port,
    library_fit,
    register_classic,
)

MAX_DEPTH = 8
MAX_BINS = 32
ACCURACY_POINTS = 0.03
# MLlib's tree is an approximation of the exact CART the others grow: marked in rankings.
BINNED = f"searches {MAX_BINS} quantile bins a feature, not every threshold"


def _sklearn_model(seed: int) -> Any:
    from sklearn.tree import DecisionTreeClassifier

    return DecisionTreeClassifier(max_depth=MAX_DEPTH, random_state=seed)


def _reference(inputs: dict[str, Any], params: Params) -> Reference:
    estimator = _sklearn_model(inputs["seed"])
    return accuracy_reference(inputs["data"], ACCURACY_POINTS, {"default": estimator})


DECISION_TREE = classic_workload(
    "decision_tree",
    f"CART classification tree (Gini, depth {MAX_DEPTH}) fit; accuracy on the test part",
    CLASSIFICATION_SETS,
    "classification",
    _reference,
)


@DECISION_TREE.port("numpy", "cart", reference=True)
def _numpy(inputs: dict[str, Any], params: Params) -> Thunk:
    """From scratch: CART, vectorised split search over presorted features."""
    data = inputs["data"]
    return fitted_port(data, lambda: fit_tree(data.x_train, data.y_train, data.classes, MAX_DEPTH))


@DECISION_TREE.port("sklearn")
def _sklearn(inputs: dict[str, Any], params: Params) -> Thunk:
    """scikit-learn ``DecisionTreeClassifier``."""
    seed = inputs["seed"]
    return library_fit(inputs["data"], lambda: _sklearn_model(seed))


@DECISION_TREE.port("spark_local", "mllib", unlike=BINNED)
def _spark(inputs: dict[str, Any], params: Params) -> Thunk:
    """MLlib ``DecisionTreeClassifier`` (Gini, binned split search)."""
    from pyspark.ml.classification import DecisionTreeClassifier

    from perfkit.workloads._classic_spark import mllib_fit

    estimator = DecisionTreeClassifier(
        maxDepth=MAX_DEPTH, maxBins=MAX_BINS, impurity="gini", seed=inputs["seed"]
    )
    return mllib_fit(estimator, inputs["data"])


register_classic(DECISION_TREE, "classification")

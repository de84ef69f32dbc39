"""logistic_regression: L2-regularised logistic regression (``C = 1``; two classes one
weight vector, more classes multinomial), fit on a standardised training part, scored by
accuracy on the test part.

Ports: from scratch by Newton's method (IRLS) and by accelerated batch gradient descent,
against scikit-learn's ``LogisticRegression`` (L-BFGS) and MLlib's. The objectives are
the same once scaled: scikit-learn minimises ``C sum loss + |W|^2 / 2``, MLlib
``mean loss + regParam |W|^2 / 2``, so ``regParam = 1 / (C n)``; MLlib's own
standardisation is off (the features are standardised already, and it would change the
penalty). Neither penalises the intercepts. Band: ``ACCURACY_POINTS`` of scikit-learn's
test accuracy (or one test sample)."""

from __future__ import annotations

from typing import Any

from perfkit.classic.logistic import fit_gradient_descent, fit_newton
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

C = 1.0
ACCURACY_POINTS = 0.01


def _sklearn_model() -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, tol=1e-8, max_iter=10_000)


def _reference(inputs: dict[str, Any], params: Params) -> Reference:
    return accuracy_reference(inputs["data"], ACCURACY_POINTS, {"default": _sklearn_model()})


LOGISTIC_REGRESSION = classic_workload(
    "logistic_regression",
    f"L2 logistic regression (C={C:g}) fit; accuracy on the test part",
    CLASSIFICATION_SETS,
    "classification",
    _reference,
)


def _from_scratch(inputs: dict[str, Any], fit: Any) -> Thunk:
    data = inputs["data"]
    return fitted_port(data, lambda: fit(data.x_train, data.y_train, data.classes, C))


@LOGISTIC_REGRESSION.port("numpy", "irls", reference=True)
def _newton(inputs: dict[str, Any], params: Params) -> Thunk:
    """From scratch: Newton's method (IRLS) with the exact Hessian."""
    return _from_scratch(inputs, fit_newton)


@LOGISTIC_REGRESSION.port("numpy", "gd")
def _gradient_descent(inputs: dict[str, Any], params: Params) -> Thunk:
    """From scratch: Nesterov-accelerated batch gradient descent, with restarts."""
    return _from_scratch(inputs, fit_gradient_descent)


@LOGISTIC_REGRESSION.port("sklearn")
def _sklearn(inputs: dict[str, Any], params: Params) -> Thunk:
    """scikit-learn ``LogisticRegression`` (L-BFGS)."""
    return library_fit(inputs["data"], _sklearn_model)


@LOGISTIC_REGRESSION.port("spark_local", "mllib")
def _spark(inputs: dict[str, Any], params: Params) -> Thunk:
    """MLlib ``LogisticRegression``, ``regParam = 1 / (C n)``, no standardisation."""
    from pyspark.ml.classification import LogisticRegression

    from perfkit.workloads._classic_spark import SPARK_ITERATIONS, SPARK_TOLERANCE, mllib_fit

    data = inputs["data"]
    estimator = LogisticRegression(
        regParam=1.0 / (C * len(data.y_train)), elasticNetParam=0.0, standardization=False,
        maxIter=SPARK_ITERATIONS, tol=SPARK_TOLERANCE,
    )  # fmt: skip
    return mllib_fit(estimator, data)


register_classic(LOGISTIC_REGRESSION, "classification")

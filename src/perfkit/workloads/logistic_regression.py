"""logistic_regression: L2-regularised logistic regression (``C = 1``; two classes one
weight vector, more classes multinomial), fit on a standardised training part, scored by
accuracy on the test part.

Ports: from scratch by Newton's method (IRLS) and by accelerated batch gradient descent,
against scikit-learn's ``LogisticRegression`` (L-BFGS) and MLlib's. The objectives are
the same once scaled: scikit-learn minimises ``C sum loss + |W|^2 / 2``, MLlib
``mean loss + regParam |W|^2 / 2``, so ``regParam = 1 / (C n)``; MLlib's own
standardisation is off (the features are standardised already, and it would change the
penalty). Neither penalises the intercepts. The loss is strictly convex, so it has one
minimum: every port's weights (intercepts aside) must lie within ``COEFFICIENT_TOLERANCE``
of the optimum's, found by Newton's method to ``OPTIMUM_TOLERANCE`` of the first gradient;
and its test accuracy within ``ACCURACY_POINTS`` of scikit-learn's (or one test sample)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from perfkit.classic.logistic import LogisticModel, fit_gradient_descent, fit_newton
from perfkit.datasets.tabular import CLASSIFICATION_SETS
from perfkit.model.axes import Params
from perfkit.model.workload import Thunk
from perfkit.workloads._classic import (
    Reference,
    accuracy_reference,
    classic_workload,
    fitted_port,
    register_classic,
)

C = 1.0
ACCURACY_POINTS = 0.01
OPTIMUM_TOLERANCE = 1e-12
# MLlib's defaults (100 iterations, 1e-6) stop 1.1e-3 from the optimum on digits (ten
# classes): its L-BFGS runs on until it is as close as the others.
MLLIB_ITERATIONS, MLLIB_TOLERANCE = 1000, 1e-9


def _sklearn_model() -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, tol=1e-8, max_iter=10_000)


def _reference(inputs: dict[str, Any], params: Params) -> Reference:
    data = inputs["data"]
    reference = accuracy_reference(data, ACCURACY_POINTS, {"default": _sklearn_model()})
    optimum = fit_newton(data.x_train, data.y_train, data.classes, C, tolerance=OPTIMUM_TOLERANCE)
    return replace(reference, coefficients={"default": _weights(optimum)})


def _weights(model: LogisticModel) -> np.ndarray:
    """The from-scratch model's weights without its intercepts: ``(d,)`` for two classes,
    ``(K, d)`` for more, as scikit-learn's ``coef_`` and MLlib's coefficients."""
    return np.asarray(model.weights[..., 1:])


def _library_weights(coefficients: Any) -> np.ndarray:
    """scikit-learn's ``coef_`` (or MLlib's matrix) in that shape: one row for two classes."""
    matrix = np.asarray(coefficients, dtype=np.float64)
    return matrix[0] if matrix.ndim == 2 and len(matrix) == 1 else matrix


LOGISTIC_REGRESSION = classic_workload(
    "logistic_regression",
    f"L2 logistic regression (C={C:g}) fit; accuracy on the test part",
    CLASSIFICATION_SETS,
    "classification",
    _reference,
)


def _from_scratch(inputs: dict[str, Any], fit: Any) -> Thunk:
    data = inputs["data"]
    return fitted_port(
        data, lambda: fit(data.x_train, data.y_train, data.classes, C), coefficients=_weights
    )


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
    data = inputs["data"]
    return fitted_port(
        data,
        lambda: _sklearn_model().fit(data.x_train, data.y_train),
        coefficients=lambda model: _library_weights(model.coef_),
    )


@LOGISTIC_REGRESSION.port("spark_local", "mllib")
def _spark(inputs: dict[str, Any], params: Params) -> Thunk:
    """MLlib ``LogisticRegression``, ``regParam = 1 / (C n)``, no standardisation, run to
    the optimum (``MLLIB_TOLERANCE``)."""
    from pyspark.ml.classification import LogisticRegression

    from perfkit.workloads._classic_spark import mllib_fit

    data = inputs["data"]
    estimator = LogisticRegression(
        regParam=1.0 / (C * len(data.y_train)), elasticNetParam=0.0, standardization=False,
        maxIter=MLLIB_ITERATIONS, tol=MLLIB_TOLERANCE,
    )  # fmt: skip
    return mllib_fit(estimator, data, coefficients=_mllib_weights)


def _mllib_weights(model: Any) -> np.ndarray:
    if model.numClasses == 2:
        return np.asarray(model.coefficients.toArray())
    return _library_weights(model.coefficientMatrix.toArray())


register_classic(LOGISTIC_REGRESSION, "classification")

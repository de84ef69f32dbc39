"""linear_regression: least-squares fit of ``y ~ x . w + b`` on a standardised training
part, scored by R^2 on the test part.

Ports: from scratch by the normal equations (``lstsq``) and by gradient descent, against
scikit-learn's ``LinearRegression`` (LAPACK's least squares on the centred data) and
MLlib's ``LinearRegression`` (``solver="normal"``, no regularisation: the same problem).
Every port must reach scikit-learn's test R^2 within ``R2_POINTS``, and coefficients
within ``COEFFICIENT_TOLERANCE`` of ``numpy.linalg.lstsq``'s on the data with a column of
ones (``check/coef_error``): gradient descent is held to the same solution as the
direct solvers."""

from __future__ import annotations

from typing import Any

import numpy as np

from perfkit.classic.linear import fit_gradient_descent, fit_normal_equations
from perfkit.datasets.tabular import REGRESSION_SETS
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

R2_POINTS = 0.001


def _reference(inputs: dict[str, Any], params: Params) -> Reference:
    from sklearn.linear_model import LinearRegression

    data = inputs["data"]
    model = LinearRegression().fit(data.x_train, data.y_train)
    with_ones = np.hstack([np.ones((len(data.x_train), 1)), data.x_train])
    exact = np.linalg.lstsq(with_ones, data.y_train, rcond=None)[0]
    return Reference(
        data, Band("r2", R2_POINTS), {"default": float(model.score(data.x_test, data.y_test))},
        coefficients={"default": exact[1:]},
        extra={"quality/sklearn_train_r2": float(model.score(data.x_train, data.y_train))},
    )  # fmt: skip


LINEAR_REGRESSION = classic_workload(
    "linear_regression",
    "least-squares linear regression fit; R^2 on the test part",
    REGRESSION_SETS,
    "regression",
    _reference,
)


def _from_scratch(inputs: dict[str, Any], fit: Any) -> Thunk:
    data = inputs["data"]
    return fitted_port(
        data, lambda: fit(data.x_train, data.y_train), coefficients=lambda model: model.coef
    )


@LINEAR_REGRESSION.port("numpy", "lstsq", reference=True)
def _normal_equations(inputs: dict[str, Any], params: Params) -> Thunk:
    """From scratch: the normal equations of the centred data, solved by ``lstsq``."""
    return _from_scratch(inputs, fit_normal_equations)


@LINEAR_REGRESSION.port("numpy", "gd")
def _gradient_descent(inputs: dict[str, Any], params: Params) -> Thunk:
    """From scratch: batch gradient descent on the mean squared error, step 1/L."""
    return _from_scratch(inputs, fit_gradient_descent)


@LINEAR_REGRESSION.port("sklearn")
def _sklearn(inputs: dict[str, Any], params: Params) -> Thunk:
    """scikit-learn ``LinearRegression``."""
    from sklearn.linear_model import LinearRegression

    data = inputs["data"]
    return fitted_port(
        data,
        lambda: LinearRegression().fit(data.x_train, data.y_train),
        coefficients=lambda model: model.coef_,
    )


@LINEAR_REGRESSION.port("spark_local", "mllib")
def _spark(inputs: dict[str, Any], params: Params) -> Thunk:
    """MLlib ``LinearRegression``, ``solver="normal"``, no regularisation."""
    from pyspark.ml.regression import LinearRegression

    from perfkit.workloads._classic_spark import feature_frames, predictions

    train, test = feature_frames(inputs["data"])
    estimator = LinearRegression(solver="normal", regParam=0.0, standardization=False)

    def run() -> Fitted:
        model = estimator.fit(train)
        return Fitted(
            lambda: predictions(model, test, integer=False),
            coefficients=model.coefficients.toArray(),
        )

    return run


register_classic(LINEAR_REGRESSION, "regression")

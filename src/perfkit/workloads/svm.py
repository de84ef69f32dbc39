"""svm: support vector classifiers (``C = 1``), fit on a standardised training part,
scored by accuracy on the test part, one method per variant:

- ``linear``: the squared-hinge linear SVM of LIBLINEAR, one class against the rest,
  from scratch by dual coordinate descent, against scikit-learn's ``LinearSVC`` (the same
  solver, to the same ``DUAL_TOLERANCE``); MLlib's
  ``LinearSVC`` (hinge loss, so not the same objective: ``regParam = 1 / (C n)``, its
  intercept unpenalised, one against the rest by ``OneVsRest`` for more classes).
- ``rbf_smo``: the RBF-kernel SVM of LIBSVM (``gamma = 1 / (d var(x))``), from scratch
  by SMO, one class against one, against scikit-learn's ``SVC``. Both keep kernel
  matrices that grow with the square of the rows: past ``KERNEL_ROWS`` training rows the
  cases are skipped. MLlib has no kernel SVM.

Band: ``ACCURACY_POINTS`` of the matching scikit-learn model's test accuracy. The
squared-hinge problem has one solution: the linear ports' weights and bias must lie within
``COEFFICIENT_TOLERANCE`` of it (LIBLINEAR's primal Newton solver to
``OPTIMUM_TOLERANCE``). MLlib's hinge loss and the RBF models are other problems: their
rows are marked not like for like."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from perfkit.classic.svm import fit_linear, fit_rbf
from perfkit.datasets.tabular import CLASSIFICATION_SETS
from perfkit.model.axes import Params
from perfkit.model.workload import Thunk
from perfkit.workloads._classic import (
    Reference,
    accuracy_reference,
    classic_workload,
    fitted_port,
    largest_training_rows,
    library_fit,
    register_classic,
)

C = 1.0
ACCURACY_POINTS = 0.02
OPTIMUM_TOLERANCE = 1e-10
# Both linear ports run LIBLINEAR's dual coordinate descent to the same stopping rule
# (the projected gradients within this of each other; LIBLINEAR's default is 0.1, which
# leaves coefficients 1% from the optimum) with room for as many passes as it takes.
DUAL_TOLERANCE, DUAL_EPOCHS = 1e-3, 10_000
KERNEL_ROWS = 5_000
# The RBF ports fit another model than the reference's linear one: ranked beside it, marked.
RBF_UNLIKE = "an RBF-kernel model, not the linear one"


def _linear_model() -> Any:
    from sklearn.svm import LinearSVC

    return LinearSVC(C=C, dual=True, tol=DUAL_TOLERANCE, max_iter=100_000)


def _rbf_model() -> Any:
    from sklearn.svm import SVC

    return SVC(C=C, kernel="rbf", gamma="scale")


def _reference(inputs: dict[str, Any], params: Params) -> Reference:
    data = inputs["data"]
    estimators = {"linear": _linear_model()}
    if len(data.x_train) <= KERNEL_ROWS:
        estimators["rbf"] = _rbf_model()
    reference = accuracy_reference(data, ACCURACY_POINTS, estimators)
    return replace(reference, coefficients={"linear": _linear_optimum(data)})


def _linear_optimum(data: Any) -> np.ndarray:
    """The squared-hinge problem's one solution (weights and the penalised bias, a row a
    class against the rest), by LIBLINEAR's primal Newton solver to ``OPTIMUM_TOLERANCE``."""
    from sklearn.svm import LinearSVC

    optimum = LinearSVC(C=C, dual=False, tol=OPTIMUM_TOLERANCE, max_iter=100_000)
    return _sklearn_weights(optimum.fit(data.x_train, data.y_train))


def _sklearn_weights(model: Any) -> np.ndarray:
    """``LinearSVC``'s weights in the from-scratch layout: (rows, d + 1), the bias last."""
    return np.hstack([model.coef_, model.intercept_[:, None]])


SVM = classic_workload(
    "svm",
    f"support vector classifier (C={C:g}), linear or RBF kernel; accuracy on the test part",
    CLASSIFICATION_SETS,
    "classification",
    _reference,
)


@SVM.port("numpy", "linear", reference=True)
def _linear(inputs: dict[str, Any], params: Params) -> Thunk:
    """From scratch: squared-hinge linear SVM by dual coordinate descent, one vs rest."""
    data, seed = inputs["data"], inputs["seed"]

    def fit() -> Any:
        return fit_linear(
            data.x_train, data.y_train, data.classes, C,
            tolerance=DUAL_TOLERANCE, max_epochs=DUAL_EPOCHS, seed=seed,
        )  # fmt: skip

    return fitted_port(data, fit, "linear", coefficients=lambda model: model.weights)


@SVM.port("numpy", "rbf_smo", unlike=RBF_UNLIKE)
def _rbf(inputs: dict[str, Any], params: Params) -> Thunk:
    """From scratch: RBF-kernel SVM by SMO (maximal violating pair), one vs one."""
    data = inputs["data"]
    largest_training_rows(data, KERNEL_ROWS, "SMO")
    return fitted_port(data, lambda: fit_rbf(data.x_train, data.y_train, data.classes, C), "rbf")


@SVM.port("sklearn", "linear")
def _sklearn_linear(inputs: dict[str, Any], params: Params) -> Thunk:
    """scikit-learn ``LinearSVC`` (LIBLINEAR)."""
    data = inputs["data"]
    return fitted_port(
        data,
        lambda: _linear_model().fit(data.x_train, data.y_train),
        "linear",
        coefficients=_sklearn_weights,
    )


@SVM.port("sklearn", "rbf", unlike=RBF_UNLIKE)
def _sklearn_rbf(inputs: dict[str, Any], params: Params) -> Thunk:
    """scikit-learn ``SVC`` with the RBF kernel (LIBSVM)."""
    largest_training_rows(inputs["data"], KERNEL_ROWS, "SVC")
    return library_fit(inputs["data"], _rbf_model, "rbf")


@SVM.port("spark_local", "linear", unlike="hinge loss, not the squared hinge")
def _spark(inputs: dict[str, Any], params: Params) -> Thunk:
    """MLlib ``LinearSVC`` (hinge loss), ``OneVsRest`` for more than two classes."""
    from pyspark.ml.classification import LinearSVC, OneVsRest

    from perfkit.workloads._classic_spark import SPARK_ITERATIONS, SPARK_TOLERANCE, mllib_fit

    data = inputs["data"]
    svc = LinearSVC(
        regParam=1.0 / (C * len(data.y_train)), standardization=False,
        maxIter=SPARK_ITERATIONS, tol=SPARK_TOLERANCE,
    )  # fmt: skip
    estimator = svc if data.classes == 2 else OneVsRest(classifier=svc)
    return mllib_fit(estimator, data, against="linear", optimum=False)  # another loss


register_classic(SVM, "classification")

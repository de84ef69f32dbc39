"""What the classic-ML workloads share: their axes, their inputs (a standardised split
and a seed), what a port returns (a ``Fitted`` model), and the checker that holds it to
scikit-learn's quality on the same split and seed.

A call is the fit. The checker then calls the fitted model's ``predict`` on the test
part (``time/predict``: the median of a few calls, outside every timed one) and scores
it: accuracy, R^2, or for k-means the inertia of the training rows, the objective every
port minimises (test inertia is recorded too; it swings with which local optimum a fit
lands in, by more than any band). A port may do better than scikit-learn; worse than
its band is ``invalid``. Accuracy moves in steps of one test sample, so an accuracy
band is never narrower than one sample.

Where the problem has one solution (a least-squares fit, an L2-regularised convex loss)
a band is not enough to compare fit times: a port that stops early scores as well and
looks faster. There every port is also held to the optimum itself: its coefficients
within ``COEFFICIENT_TOLERANCE`` of the reference solution's (``check/coef_error``, the
largest difference over the largest coefficient), or it is ``invalid``. A port that
solves another problem (another loss, an approximation) says so (``unlike``) and is
never ranked the fastest."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from perfkit.classic.kmeans import inertia
from perfkit.datasets import GENERATED, dataset_axis, register_file_check
from perfkit.datasets.classification import TEST_FRACTION
from perfkit.datasets.tabular import Tabular, Task, check_csv, load_table
from perfkit.model.axes import Axis, Params, ParamSpace, Skip
from perfkit.model.registry import register_workload
from perfkit.model.workload import CheckResult, Thunk, Work, Workload, workload
from perfkit.workloads._common import accuracy

__all__ = [
    "COEFFICIENT_TOLERANCE",
    "Band",
    "Fitted",
    "Reference",
    "accuracy_reference",
    "check_fitted",
    "classic_inputs",
    "classic_space",
    "classic_work",
    "classic_workload",
    "fitted_port",
    "largest_training_rows",
    "library_accuracy",
    "library_fit",
    "register_classic",
]  # fmt: skip

# The largest coefficient difference from the optimum, over the largest coefficient, a
# port may leave: one part in a thousand.
COEFFICIENT_TOLERANCE = 1e-3
SIZES = (1_000, 10_000, 100_000)
FEATURES = (20,)
_PREDICT_CALLS, _PREDICT_SECONDS = 5, 0.5


@dataclass(frozen=True, slots=True)
class Fitted:
    """A port's answer: ``predict`` gives the test part's predictions (labels, values, or
    cluster indices); ``against`` names the scikit-learn model it is held to (a workload
    with two methods has two); ``coefficients`` and ``centres`` where the model has them.
    ``optimum``: held to the optimum of ``against``'s problem too, where it has one (not
    a port that minimises another objective, and says so)."""

    predict: Callable[[], np.ndarray]
    against: str = "default"
    coefficients: np.ndarray | None = None
    centres: np.ndarray | None = None
    optimum: bool = True


@dataclass(frozen=True, slots=True)
class Band:
    """``metric``: accuracy, r2 or inertia; ``width``: points of accuracy or R^2 below
    the reference, or a fraction of inertia above it."""

    metric: str
    width: float


@dataclass(frozen=True, slots=True)
class Reference:
    """The truth a port is checked against: scikit-learn's score by ``against`` key, and
    where the problem has one solution, its coefficients by the same key."""

    data: Tabular
    band: Band
    scores: Mapping[str, float]
    coefficients: Mapping[str, np.ndarray] = field(default_factory=dict)
    extra: Mapping[str, float] = field(default_factory=dict)


def classic_space(named: tuple[str, ...]) -> ParamSpace:
    """``dataset`` (``generated`` or a bundled set or a file), ``n`` and ``d`` (generated
    data only: one of each otherwise) and ``target`` (a CSV file's label column)."""

    def exclude(params: Params) -> bool:
        if params["dataset"] in (GENERATED, *named) and params["target"]:
            return True  # a label column names nothing but in a file
        if params["dataset"] == GENERATED:
            return False
        return params["n"] != SIZES[0] or params["d"] != FEATURES[0]

    return ParamSpace(
        (
            dataset_axis(
                named, doc=f"generated (n x d), {', '.join(named)}, or a CSV file (--data)"
            ),
            Axis("n", SIZES, quick=(SIZES[0],), doc="rows of generated data"),
            Axis("d", FEATURES, doc="features of generated data"),
            Axis("target", ("",), doc="a CSV file's label column (--target); its last if empty"),
        ),
        exclude=exclude,
    )


def classic_inputs(task: Task, classes: int = 2) -> Callable[[Params, np.random.Generator], Any]:
    def make(params: Params, rng: np.random.Generator) -> dict[str, Any]:
        data = load_table(
            str(params["dataset"]), task, rng, n=int(params["n"]), d=int(params["d"]),
            classes=classes, target=str(params["target"]),
        )  # fmt: skip
        return {"data": data, "seed": int(rng.integers(0, 2**31 - 1))}

    return make


def classic_workload(
    name: str,
    doc: str,
    sets: tuple[str, ...],
    task: Task,
    expected: Callable[[Any, Params], Reference],
    *,
    classes: int = 2,
) -> Workload:
    """A classic-ML workload over the bundled ``sets`` of its ``task``: the shared axes,
    inputs, checker and work, in the ``classic`` suite (``classes``: of generated data)."""
    return workload(
        name=name, doc=doc, space=classic_space(sets), make_inputs=classic_inputs(task, classes),
        expected=expected, check=check_fitted, work=classic_work, suite="classic",
    )  # fmt: skip


def register_classic(classic: Workload, task: Task) -> None:
    """Register ``classic``, with a check that reads a ``--data`` CSV file as its cases
    will (a missing value or target column is a usage error before any case runs)."""
    register_workload(classic)
    register_file_check(classic.name, lambda path, target: check_csv(path, target, task))


def classic_work(params: Params) -> Work:
    """Items: training rows, where known before the data is read (generated data)."""
    if params["dataset"] != GENERATED:
        return Work()
    return Work(items=float(params["n"]) * (1.0 - TEST_FRACTION))


def fitted_port(
    data: Tabular,
    fit: Callable[[], Any],
    against: str = "default",
    coefficients: Callable[[Any], np.ndarray] | None = None,
    centres: Callable[[Any], np.ndarray] | None = None,
) -> Thunk:
    """A port's thunk: ``fit()`` a model on the training part each call; the model then
    predicts the test part (and gives its ``coefficients`` or ``centres``, where it has
    them)."""

    def run() -> Fitted:
        model = fit()
        return Fitted(
            lambda: model.predict(data.x_test),
            against,
            coefficients=coefficients(model) if coefficients is not None else None,
            centres=centres(model) if centres is not None else None,
        )

    return run


def library_fit(data: Tabular, make: Callable[[], Any], against: str = "default") -> Thunk:
    """A port's thunk that fits a fresh library estimator (``make()``) on the training
    part each call and predicts the test part with it."""
    return fitted_port(data, lambda: make().fit(data.x_train, data.y_train), against)


def library_accuracy(estimator: Any, data: Tabular) -> float:
    """``estimator`` fitted on the training part, its accuracy on the test part."""
    fitted = estimator.fit(data.x_train, data.y_train)
    return accuracy(fitted.predict(data.x_test), data.y_test)


def accuracy_reference(data: Tabular, points: float, estimators: Mapping[str, Any]) -> Reference:
    """The truth of a classifier workload: each library estimator's test accuracy (by the
    ``against`` key its ports name), with a band of ``points`` below it."""
    scores = {name: library_accuracy(estimator, data) for name, estimator in estimators.items()}
    return Reference(data, Band("accuracy", points), scores)


def largest_training_rows(data: Tabular, limit: int, method: str) -> None:
    """Skip a method whose memory grows with the square of the rows past ``limit``."""
    if len(data.x_train) > limit:
        raise Skip(f"{method} keeps an n x n kernel matrix: {len(data.x_train)} training rows")


def _timed_predict(fitted: Fitted) -> tuple[np.ndarray, float]:
    times: list[float] = []
    predictions = np.empty(0)
    while len(times) < _PREDICT_CALLS and sum(times) < _PREDICT_SECONDS:
        start = time.perf_counter()
        predictions = np.asarray(fitted.predict())
        times.append(time.perf_counter() - start)
    return predictions, statistics.median(times)


def _score(metric: str, fitted: Fitted, predictions: np.ndarray, data: Tabular) -> float:
    if metric == "accuracy":
        return float(np.mean(predictions == data.y_test))
    if metric == "r2":
        residual = float(np.sum((data.y_test - predictions) ** 2))
        total = float(np.sum((data.y_test - data.y_test.mean()) ** 2)) or 1.0
        return 1.0 - residual / total
    if fitted.centres is None:
        raise ValueError("a k-means port must return its centres")
    return inertia(data.x_train, np.asarray(fitted.centres, dtype=np.float64))


def check_fitted(output: Any, truth: Any, params: Params) -> CheckResult:
    if not isinstance(output, Fitted):
        return CheckResult(False, None, f"the port returned {type(output).__name__}, not Fitted")
    reference: Reference = truth
    data, band = reference.data, reference.band
    predictions, seconds = _timed_predict(output)
    if len(predictions) != len(data.x_test):
        detail = f"{len(predictions)} predictions for {len(data.x_test)} test rows"
        return CheckResult(False, None, detail)
    score = _score(band.metric, output, predictions, data)
    expected = reference.scores[output.against]
    metrics = {f"quality/{band.metric}": score, f"quality/sklearn_{band.metric}": expected}
    metrics["time/predict"] = seconds
    metrics.update(reference.extra)
    solution = reference.coefficients.get(output.against) if output.optimum else None
    off_optimum = ""
    if solution is not None:
        error, off_optimum = _coefficient_error(output.coefficients, solution)
        if error is not None:
            metrics["check/coef_error"] = error
    if output.centres is not None:
        metrics["quality/test_inertia"] = inertia(data.x_test, np.asarray(output.centres))
    if not np.isfinite(score):
        return CheckResult(False, None, f"the {band.metric} is not finite", metrics)
    if band.metric == "inertia":
        limit = expected * (1.0 + band.width)
        ok, gap = score <= limit, score / expected - 1.0
        detail = (
            f"inertia {score:.6g} is over scikit-learn's {expected:.6g} by more than "
            f"{100 * band.width:g}%"
        )
    else:
        width = band.width
        if band.metric == "accuracy":
            width = max(width, 1.0 / len(data.y_test))
        ok, gap = score >= expected - width, expected - score
        detail = (
            f"{band.metric} {score:.4f} is {100 * gap:.1f} points below scikit-learn's "
            f"{expected:.4f} (at most {100 * width:.1f})"
        )
    if ok and off_optimum:
        return CheckResult(False, gap, off_optimum, metrics)
    return CheckResult(ok, gap, "" if ok else detail, metrics)


def _coefficient_error(coefficients: Any, solution: np.ndarray) -> tuple[float | None, str]:
    """The distance of a port's coefficients from the optimum's, and why it is too far
    (``""`` when it is not)."""
    if coefficients is None:
        return None, "the port gives no coefficients to hold to the optimum"
    got = np.asarray(coefficients, dtype=np.float64)
    if got.shape != solution.shape:
        return None, f"coefficients of shape {got.shape}, the optimum's is {solution.shape}"
    scale = float(np.max(np.abs(solution))) or 1.0
    error = float(np.max(np.abs(got - solution))) / scale
    if not error <= COEFFICIENT_TOLERANCE:
        return error, (
            f"its coefficients are {error:.2g} from the optimum's (of the largest), over the "
            f"{COEFFICIENT_TOLERANCE:g} every port is held to: it stopped short of the optimum"
        )
    return error, ""

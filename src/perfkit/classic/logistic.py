"""L2-regularised logistic regression, the objective scikit-learn minimises:

    C * sum_i logloss(y_i, p_i) + 1/2 |W|^2      (intercepts not penalised)

Two classes: one weight vector, ``p = sigmoid(x . w + b)``. More: one vector per class,
``p = softmax(x W^T + b)`` (multinomial).

``fit_newton`` (iteratively reweighted least squares): Newton's method, each step solving
``H s = g`` with the exact Hessian, ``X^T S X + I / C`` for two classes and the ``K x K``
blocks ``X^T diag(p_k (delta_kl - p_l)) X + delta_kl I / C`` for more. A handful of steps
reach the optimum (the gradient ``tolerance`` of its first size).

``fit_gradient_descent``: Nesterov's accelerated batch gradient descent on the same
objective divided by ``C n``, step ``1 / L`` from a bound on the Hessian (``|X|_2^2 / 4n``
or ``/ 2n``, plus the penalty's ``1 / Cn``), restarted when the objective's gradient turns
against the momentum, until the gradient is ``tolerance`` of its first size."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LogisticModel", "fit_gradient_descent", "fit_newton"]


@dataclass(frozen=True, slots=True)
class LogisticModel:
    weights: np.ndarray  # (d + 1,) for two classes, (K, d + 1) for more; intercept first

    def predict(self, x: np.ndarray) -> np.ndarray:
        scores = _with_ones(x) @ self.weights.T
        if scores.ndim == 1:
            return np.asarray((scores > 0).astype(np.int64))
        return np.asarray(np.argmax(scores, axis=1))


def _with_ones(x: np.ndarray) -> np.ndarray:
    return np.hstack([np.ones((len(x), 1)), x])


def _probabilities(xb: np.ndarray, weights: np.ndarray) -> np.ndarray:
    scores = xb @ weights.T
    if scores.ndim == 1:
        return np.asarray(1.0 / (1.0 + np.exp(-scores)))
    scores -= scores.max(axis=1, keepdims=True)
    exp = np.exp(scores)
    return np.asarray(exp / exp.sum(axis=1, keepdims=True))


def _targets(y: np.ndarray, classes: int) -> np.ndarray:
    if classes == 2:
        return y.astype(np.float64)
    return np.asarray(np.eye(classes)[y])


def _problem(
    x: np.ndarray, y: np.ndarray, classes: int
) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """The rows with a leading 1 (the intercept), the targets, and the weights' shape."""
    xb = _with_ones(x)
    d = xb.shape[1]
    return xb, _targets(y, classes), (d,) if classes == 2 else (classes, d)


def _penalty(shape: tuple[int, ...], c: float) -> np.ndarray:
    """``1 / C`` on every weight but the intercepts."""
    penalty = np.full(shape, 1.0 / c)
    penalty[..., 0] = 0.0
    return penalty


def _gradient(xb: np.ndarray, t: np.ndarray, weights: np.ndarray, c: float) -> np.ndarray:
    gradient: np.ndarray = (_probabilities(xb, weights) - t).T @ xb
    return np.asarray(gradient + _penalty(weights.shape, c) * weights)


def fit_newton(
    x: np.ndarray,
    y: np.ndarray,
    classes: int,
    c: float = 1.0,
    *,
    tolerance: float = 1e-10,
    max_steps: int = 100,
) -> LogisticModel:
    xb, t, shape = _problem(x, y, classes)
    d = xb.shape[1]
    weights = np.zeros(shape)
    penalty = _penalty(shape, c).ravel()
    first = 0.0
    for _ in range(max_steps):
        p = _probabilities(xb, weights)
        gradient = _gradient(xb, t, weights, c).ravel()
        size = float(np.linalg.norm(gradient))
        first = first or size or 1.0
        if size <= tolerance * first:
            break
        if classes == 2:
            hessian = (xb * (p * (1 - p))[:, None]).T @ xb
        else:
            hessian = np.empty((classes * d, classes * d))
            for k in range(classes):
                for j in range(k, classes):
                    s = p[:, k] * ((k == j) - p[:, j])
                    block = (xb * s[:, None]).T @ xb
                    hessian[k * d : (k + 1) * d, j * d : (j + 1) * d] = block
                    hessian[j * d : (j + 1) * d, k * d : (k + 1) * d] = block
        # Softmax is unchanged by adding one number to every intercept: that direction
        # has no curvature; a tiny ridge on the intercepts keeps the system solvable.
        hessian[np.diag_indices_from(hessian)] += penalty + 1e-10
        step = np.linalg.solve(hessian, gradient)
        weights = weights - step.reshape(shape)
    return LogisticModel(weights)


def fit_gradient_descent(
    x: np.ndarray,
    y: np.ndarray,
    classes: int,
    c: float = 1.0,
    *,
    tolerance: float = 1e-6,
    max_iterations: int = 20_000,
) -> LogisticModel:
    xb, t, shape = _problem(x, y, classes)
    curvature = 0.25 if classes == 2 else 0.5
    lipschitz = curvature * float(np.linalg.norm(xb, 2)) ** 2 + 1.0 / c
    step = 1.0 / lipschitz  # on C * loss + |W|^2 / 2, scaled by C below
    weights = np.zeros(shape)
    ahead, momentum = weights.copy(), 1.0
    first = float(np.linalg.norm(_gradient(xb, t, weights, c))) or 1.0
    for _ in range(max_iterations):
        gradient = _gradient(xb, t, ahead, c)
        if float(np.linalg.norm(gradient)) <= tolerance * first:
            weights = ahead
            break
        moved = ahead - step * gradient
        following = (1.0 + np.sqrt(1.0 + 4.0 * momentum**2)) / 2.0
        if float(np.sum(gradient * (moved - weights))) > 0:  # going uphill: restart
            ahead, momentum = weights.copy(), 1.0
            continue
        ahead = moved + ((momentum - 1.0) / following) * (moved - weights)
        weights, momentum = moved, following
    return LogisticModel(weights)

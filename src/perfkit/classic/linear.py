"""Least-squares linear regression, ``y ~ x . w + b``.

``fit_normal_equations``: centre ``x`` and ``y`` (which takes the intercept out of the
system), then solve the normal equations ``(Xc^T Xc) w = Xc^T yc`` with ``lstsq`` (a
rank-deficient Gram matrix still gets the minimum-norm answer); ``b = mean(y) - mean(x) . w``.
One matrix product of ``n d^2`` and a ``d x d`` solve.

``fit_gradient_descent``: batch gradient descent on the mean squared error over the same
centred data, step ``1 / L`` with ``L`` the largest eigenvalue of ``Xc^T Xc / n`` (the
gradient's Lipschitz constant), until the gradient is ``tolerance`` of its first size."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LinearModel", "fit_gradient_descent", "fit_normal_equations"]


@dataclass(frozen=True, slots=True)
class LinearModel:
    coef: np.ndarray
    intercept: float

    def predict(self, x: np.ndarray) -> np.ndarray:
        predicted: np.ndarray = x @ self.coef + self.intercept
        return predicted


def _centred(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    x_mean, y_mean = x.mean(axis=0), float(y.mean())
    return x - x_mean, y - y_mean, x_mean, y_mean


def fit_normal_equations(x: np.ndarray, y: np.ndarray) -> LinearModel:
    xc, yc, x_mean, y_mean = _centred(x, y)
    coef = np.linalg.lstsq(xc.T @ xc, xc.T @ yc, rcond=None)[0]
    return LinearModel(coef, y_mean - float(x_mean @ coef))


def fit_gradient_descent(
    x: np.ndarray, y: np.ndarray, tolerance: float = 1e-10, max_iterations: int = 100_000
) -> LinearModel:
    xc, yc, x_mean, y_mean = _centred(x, y)
    n = len(yc)
    gram, moment = xc.T @ xc / n, xc.T @ yc / n  # the gradient is gram @ w - moment
    step = 1.0 / float(np.linalg.eigvalsh(gram)[-1])
    coef = np.zeros(x.shape[1])
    first = float(np.linalg.norm(moment)) or 1.0
    for _ in range(max_iterations):
        gradient = gram @ coef - moment
        if float(np.linalg.norm(gradient)) <= tolerance * first:
            break
        coef -= step * gradient
    return LinearModel(coef, y_mean - float(x_mean @ coef))

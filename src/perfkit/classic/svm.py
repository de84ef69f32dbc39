"""Support vector machines.

``fit_linear``: the linear SVM of LIBLINEAR (what scikit-learn's ``LinearSVC`` runs),
``1/2 |w|^2 + C sum_i max(0, 1 - y_i w . x_i)^2`` (squared hinge), the bias a weight on
a constant feature of 1, solved by dual coordinate descent (Hsieh et al., 2008): each
dual variable in turn moves to its optimum with the others fixed,
``a_i <- max(0, a_i - G_i / Q_ii)``, ``G_i = y_i w . x_i - 1 + a_i / 2C``, keeping
``w = sum_i a_i y_i x_i``, in passes over the rows in a seeded random order, until the
projected gradients lie within ``tolerance`` of each other (LIBLINEAR's stopping rule).
Classes one against the rest.

``fit_rbf``: the kernel SVM of LIBSVM (``SVC``), ``K(a, b) = exp(-gamma |a - b|^2)``, by
sequential minimal optimisation (Platt, 1998) with the maximal-violating-pair choice of
Keerthi et al. (2001): each step moves the two dual variables that most violate the
optimality conditions, analytically, and updates the gradient with two kernel columns
(the whole kernel matrix of a pair of classes is computed once). Classes one against one,
by votes, like LIBSVM."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

__all__ = ["LinearSvm", "RbfSvm", "fit_linear", "fit_rbf", "rbf_kernel"]


@dataclass(frozen=True, slots=True)
class LinearSvm:
    weights: np.ndarray  # (K, d + 1) one against the rest, or (1, d + 1) for two; bias last

    def predict(self, x: np.ndarray) -> np.ndarray:
        scores = x @ self.weights[:, :-1].T + self.weights[:, -1]
        if len(self.weights) == 1:
            return np.asarray((scores[:, 0] > 0).astype(np.int64))
        return np.asarray(np.argmax(scores, axis=1))


def _dual_coordinate_descent(
    xb: np.ndarray, sign: np.ndarray, c: float, *, tolerance: float, max_epochs: int, seed: int
) -> np.ndarray:
    """The weights of one two-class problem (labels ``sign`` in {-1, +1}), with
    LIBLINEAR's shrinking: a row whose variable is 0 and whose gradient points outward
    by more than the last pass's largest violation leaves the active set; when the
    active rows meet the rule, every row is checked once more."""
    n = len(xb)
    diagonal = 1.0 / (2.0 * c)
    q = np.einsum("ij,ij->i", xb, xb) + diagonal
    alpha = np.zeros(n)
    weights = np.zeros(xb.shape[1])
    rng = np.random.default_rng(seed)
    active = np.arange(n)
    size = n
    high_before, low_before = np.inf, -np.inf
    for _ in range(max_epochs):
        high, low = -np.inf, np.inf
        active[:size] = rng.permutation(active[:size])
        s = 0
        while s < size:
            i = int(active[s])
            gradient = float(sign[i] * (weights @ xb[i])) - 1.0 + diagonal * alpha[i]
            projected = gradient
            if alpha[i] == 0.0:
                if gradient > high_before:  # shrink: swap with the last active row
                    size -= 1
                    active[s], active[size] = active[size], active[s]
                    continue
                projected = min(gradient, 0.0)
            high, low = max(high, projected), min(low, projected)
            if abs(projected) > 1e-12:
                moved = max(alpha[i] - gradient / q[i], 0.0)
                weights += ((moved - alpha[i]) * sign[i]) * xb[i]
                alpha[i] = moved
            s += 1
        if high - low <= tolerance:
            if size == n:
                break
            size, high_before, low_before = n, np.inf, -np.inf
            continue
        high_before = high if high > 0 else np.inf
        low_before = low if low < 0 else -np.inf
    del low_before
    return weights


def fit_linear(
    x: np.ndarray,
    y: np.ndarray,
    classes: int,
    c: float = 1.0,
    *,
    tolerance: float = 0.1,
    max_epochs: int = 1000,
    seed: int = 0,
) -> LinearSvm:
    xb = np.hstack([x, np.ones((len(x), 1))])
    positives = [1] if classes == 2 else list(range(classes))
    weights = [
        _dual_coordinate_descent(
            xb,
            np.where(y == positive, 1.0, -1.0),
            c,
            tolerance=tolerance,
            max_epochs=max_epochs,
            seed=seed,
        )
        for positive in positives
    ]
    return LinearSvm(np.array(weights))


def rbf_kernel(a: np.ndarray, b: np.ndarray, gamma: float) -> np.ndarray:
    squared = (a**2).sum(axis=1)[:, None] - 2.0 * a @ b.T + (b**2).sum(axis=1)[None, :]
    result: np.ndarray = np.exp(-gamma * np.maximum(squared, 0.0))
    return result


@dataclass(frozen=True, slots=True)
class _Binary:
    vectors: np.ndarray
    coefficients: np.ndarray  # alpha_i y_i of each support vector
    bias: float
    first: int  # the class a positive decision votes for
    second: int


@dataclass(frozen=True, slots=True)
class RbfSvm:
    machines: tuple[_Binary, ...]
    gamma: float
    classes: int

    def predict(self, x: np.ndarray) -> np.ndarray:
        votes = np.zeros((len(x), self.classes), dtype=np.int64)
        rows = np.arange(len(x))
        for machine in self.machines:
            decision = rbf_kernel(x, machine.vectors, self.gamma) @ machine.coefficients
            winner = np.where(decision + machine.bias > 0, machine.first, machine.second)
            np.add.at(votes, (rows, winner), 1)
        return np.asarray(np.argmax(votes, axis=1))  # a tie goes to the lower class, as in LIBSVM


def _smo(
    kernel: np.ndarray, sign: np.ndarray, c: float, tolerance: float, max_steps: int
) -> tuple[np.ndarray, float]:
    """Dual variables and bias of one two-class problem (labels ``sign`` in {-1, +1})."""
    n = len(sign)
    alpha = np.zeros(n)
    gradient = -np.ones(n)  # of 1/2 a^T Q a - sum a, with Q = y_i y_j K_ij
    for _ in range(max_steps):
        violation = -sign * gradient
        up = ((sign > 0) & (alpha < c)) | ((sign < 0) & (alpha > 0))
        down = ((sign > 0) & (alpha > 0)) | ((sign < 0) & (alpha < c))
        i = int(np.argmax(np.where(up, violation, -np.inf)))
        j = int(np.argmin(np.where(down, violation, np.inf)))
        if violation[i] - violation[j] < tolerance:
            break
        # Move along y_i a_i + y_j a_j = const: a_i by sign_i * t, a_j by -sign_j * t.
        curvature = max(kernel[i, i] + kernel[j, j] - 2.0 * kernel[i, j], 1e-12)
        t = (violation[i] - violation[j]) / curvature
        t = min(t, (c - alpha[i]) if sign[i] > 0 else alpha[i])
        t = min(t, alpha[j] if sign[j] > 0 else (c - alpha[j]))
        alpha[i] += sign[i] * t
        alpha[j] -= sign[j] * t
        gradient += t * sign * (kernel[:, i] - kernel[:, j])
    violation = -sign * gradient
    free = (alpha > 1e-12) & (alpha < c - 1e-12)
    if free.any():
        bias = float(violation[free].mean())
    else:
        up = ((sign > 0) & (alpha < c)) | ((sign < 0) & (alpha > 0))
        down = ((sign > 0) & (alpha > 0)) | ((sign < 0) & (alpha < c))
        bias = float((violation[up].max(initial=-np.inf) + violation[down].min(initial=np.inf)) / 2)
    return alpha, bias


def fit_rbf(
    x: np.ndarray,
    y: np.ndarray,
    classes: int,
    c: float = 1.0,
    *,
    gamma: float | None = None,
    tolerance: float = 1e-3,
    max_steps: int = 1_000_000,
) -> RbfSvm:
    """``gamma`` defaults to scikit-learn's ``scale``: ``1 / (d * var(x))``."""
    gamma = gamma if gamma is not None else 1.0 / (x.shape[1] * float(x.var()) or 1.0)
    machines = []
    for first, second in combinations(range(classes), 2):
        rows = np.flatnonzero((y == first) | (y == second))
        sign = np.where(y[rows] == first, 1.0, -1.0)
        kernel = rbf_kernel(x[rows], x[rows], gamma)
        alpha, bias = _smo(kernel, sign, c, tolerance, max_steps)
        support = alpha > 1e-12
        machines.append(_Binary(x[rows][support], (alpha * sign)[support], bias, first, second))
    return RbfSvm(tuple(machines), gamma, classes)

"""ALS-WR written from scratch in NumPy: alternating least squares with weighted-lambda
regularisation (Zhou et al., 2008), the objective Spark MLlib's ALS minimises.

    minimise  sum over known (u, i) of (r_ui - x_u . y_i)^2
              + lambda * (sum_u n_u |x_u|^2 + sum_i n_i |y_i|^2)

With the item factors Y fixed, each user's factors solve a small linear system,
    (Y_u^T Y_u + lambda n_u I) x_u = Y_u^T r_u,
where Y_u holds the factors of the items user u rated; then the same for items with X
fixed. Every user's normal-equation matrix is built at once with ``bincount`` (one per
entry of the upper triangle), and all systems are solved in one batched ``solve``."""

from __future__ import annotations

import numpy as np

from perfkit.datasets.ratings import Ratings

__all__ = ["als_wr", "predict", "rmse"]


def _solve_side(
    rows: np.ndarray, cols: np.ndarray, values: np.ndarray, other: np.ndarray, reg: float
) -> np.ndarray:
    """New factors of every row (``rows`` indexes them, 0 to the largest) given the
    factors ``other`` of the columns."""
    rank, count = other.shape[1], int(rows.max()) + 1
    factors = other[cols]
    normal = np.empty((count, rank, rank))
    for j in range(rank):
        for k in range(j, rank):
            column = np.bincount(rows, weights=factors[:, j] * factors[:, k], minlength=count)
            normal[:, j, k] = normal[:, k, j] = column
    rhs = np.empty((count, rank))
    for j in range(rank):
        rhs[:, j] = np.bincount(rows, weights=factors[:, j] * values, minlength=count)
    seen = np.bincount(rows, minlength=count).astype(np.float64)
    # A row nobody rated gets lambda*I (zero factors) rather than a singular system.
    normal += np.maximum(reg * seen, reg)[:, None, None] * np.eye(rank)
    solved: np.ndarray = np.linalg.solve(normal, rhs[:, :, None])[:, :, 0]
    return solved


def als_wr(
    train: Ratings, rank: int, reg: float, iterations: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """User and item factors after ``iterations`` sweeps (users, then items), from small
    random item factors drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    items = rng.normal(0.0, 1.0 / np.sqrt(rank), size=(train.items, rank))
    users = np.zeros((train.users, rank))
    for _ in range(iterations):
        users = _pad(_solve_side(train.user, train.item, train.rating, items, reg), train.users)
        items = _pad(_solve_side(train.item, train.user, train.rating, users, reg), train.items)
    return users, items


def _pad(factors: np.ndarray, count: int) -> np.ndarray:
    """Zero factors for rows past the last one rated (nobody rated them)."""
    if len(factors) == count:
        return factors
    return np.vstack([factors, np.zeros((count - len(factors), factors.shape[1]))])


def predict(users: np.ndarray, items: np.ndarray, part: Ratings) -> np.ndarray:
    predicted: np.ndarray = np.einsum("ij,ij->i", users[part.user], items[part.item])
    return predicted


def rmse(predicted: np.ndarray, actual: np.ndarray) -> float:
    return float(np.sqrt(np.mean((predicted - actual) ** 2)))

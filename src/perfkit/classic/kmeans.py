"""k-means: Lloyd's algorithm from k-means++ seeds (Arthur and Vassilvitskii, 2007), the
best of ``n_init`` seedings, as scikit-learn runs it.

Seeding: the first centre a random row; each next one drawn with probability proportional
to the squared distance to the nearest centre so far, the best of ``2 + ln k`` such draws
(the one that lowers the total most: greedy k-means++). Lloyd: assign every row to its
nearest centre (one matrix product: the argmin of ``|c|^2 - 2 x . c``), move each centre
to its rows' mean (a 0/1 membership matrix times ``x``), until no row changes centre, or
the centres move less than ``tolerance`` times the data's mean feature variance (squared,
summed), or ``max_iterations``. A centre left with no rows stays where it was. Inertia:
the sum of squared distances to the nearest centre."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["KMeansModel", "fit_kmeans", "inertia"]


def _squared_distances(x: np.ndarray, centres: np.ndarray, x_squared: np.ndarray) -> np.ndarray:
    squared = x_squared[:, None] - 2.0 * x @ centres.T + (centres**2).sum(axis=1)[None, :]
    return np.asarray(np.maximum(squared, 0.0))


@dataclass(frozen=True, slots=True)
class KMeansModel:
    centres: np.ndarray

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(
            np.argmin(_squared_distances(x, self.centres, (x**2).sum(axis=1)), axis=1)
        )


def inertia(x: np.ndarray, centres: np.ndarray) -> float:
    return float(_squared_distances(x, centres, (x**2).sum(axis=1)).min(axis=1).sum())


def _seeds(x: np.ndarray, k: int, x_squared: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    trials = 2 + int(np.log(k))
    centres = np.empty((k, x.shape[1]))
    centres[0] = x[rng.integers(len(x))]
    nearest = _squared_distances(x, centres[:1], x_squared)[:, 0]
    for j in range(1, k):
        total = nearest.sum()
        draws = np.searchsorted(np.cumsum(nearest), rng.random(trials) * total)
        draws = np.minimum(draws, len(x) - 1)
        candidates = np.minimum(nearest[:, None], _squared_distances(x, x[draws], x_squared))
        best = int(np.argmin(candidates.sum(axis=0)))
        centres[j], nearest = x[draws[best]], candidates[:, best]
    return centres


def _nearest(x_t: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Each row's nearest centre: ``|x|^2`` is the same for every centre, so the argmin
    of ``|c|^2 - 2 c . x`` (the rows as columns of ``x_t``: one product of k x d by
    d x n)."""
    scores = (centres**2).sum(axis=1)[:, None] - 2.0 * (centres @ x_t)
    nearest: np.ndarray = np.argmin(scores, axis=0)
    return nearest


def _lloyd(
    x: np.ndarray, centres: np.ndarray, x_squared: np.ndarray, tolerance: float, max_iterations: int
) -> tuple[np.ndarray, float]:
    k, rows, x_t = len(centres), np.arange(len(x)), np.ascontiguousarray(x.T)
    labels = np.full(len(x), -1)
    for _ in range(max_iterations):
        previous, labels = labels, _nearest(x_t, centres)
        if np.array_equal(labels, previous):
            break  # no row changed centre: the centres will not move
        counts = np.bincount(labels, minlength=k)
        membership = np.zeros((k, len(x)))
        membership[labels, rows] = 1.0
        sums = membership @ x  # each centre's rows summed, as one matrix product
        moved = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], centres)
        shift = float(((moved - centres) ** 2).sum())
        centres = moved
        if shift <= tolerance:
            break
    return centres, float(_squared_distances(x, centres, x_squared).min(axis=1).sum())


def fit_kmeans(
    x: np.ndarray,
    k: int,
    seed: int,
    *,
    n_init: int = 10,
    tolerance: float = 1e-4,
    max_iterations: int = 300,
) -> KMeansModel:
    rng = np.random.default_rng(seed)
    x_squared = (x**2).sum(axis=1)
    scaled = tolerance * float(x.var(axis=0).mean())
    best: tuple[np.ndarray, float] | None = None
    for _ in range(n_init):
        found = _lloyd(x, _seeds(x, k, x_squared, rng), x_squared, scaled, max_iterations)
        if best is None or found[1] < best[1]:
            best = found
    assert best is not None
    return KMeansModel(best[0])

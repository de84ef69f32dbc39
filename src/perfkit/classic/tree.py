"""CART classification tree (Breiman et al., 1984), grown depth first as scikit-learn
grows it: a node splits unless it is pure, at ``max_depth``, or smaller than
``min_samples_split``; its split is the feature and threshold with the lowest weighted
Gini impurity of the two children that leaves ``min_samples_leaf`` on each side.

The split search is vectorised over every feature at once. The training rows are sorted
by each feature once, at the root; a split keeps each feature's order for both children
by a stable partition (no sort below the root). At a node, the cumulative class counts
down each sorted column give every candidate split's left and right counts; minimising
the weighted impurity is maximising ``sum_k L_k^2 / n_L + sum_k R_k^2 / n_R``. Only
positions between two different values are candidates; the threshold is their midpoint.
Leaves predict their majority class (the lowest index on a tie)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Tree", "fit_tree"]

LEAF = -1


@dataclass(frozen=True, slots=True)
class Tree:
    feature: np.ndarray  # per node: the feature it splits on, LEAF for a leaf
    threshold: np.ndarray  # go left where x[feature] <= threshold
    left: np.ndarray
    right: np.ndarray
    counts: np.ndarray  # per node: training rows of each class

    @property
    def depth(self) -> int:
        depth = np.zeros(len(self.feature), dtype=np.int64)
        for node in range(len(self.feature)):  # children come after their parent
            if self.feature[node] != LEAF:
                depth[self.left[node]] = depth[self.right[node]] = depth[node] + 1
        return int(depth.max())

    def predict(self, x: np.ndarray) -> np.ndarray:
        node = np.zeros(len(x), dtype=np.int64)
        while True:
            inner = self.feature[node] != LEAF
            if not inner.any():
                break
            rows = np.flatnonzero(inner)
            at = node[rows]
            goes_left = x[rows, self.feature[at]] <= self.threshold[at]
            node[rows] = np.where(goes_left, self.left[at], self.right[at])
        return np.asarray(np.argmax(self.counts[node], axis=1))


def _best_split(
    order: np.ndarray, x: np.ndarray, y: np.ndarray, classes: int, min_leaf: int
) -> tuple[int, float] | None:
    """(feature, threshold) of the best split of the rows in ``order`` (one column of row
    indices per feature, each sorted by that feature), or None when there is none."""
    m = order.shape[0]
    labels = y[order]  # (m, d)
    counts = np.zeros((m, order.shape[1], classes))
    np.put_along_axis(counts, labels[:, :, None], 1.0, axis=2)
    left = np.cumsum(counts, axis=0)[:-1]  # split after position i: rows 0..i go left
    total = left[-1] + counts[-1]
    right = total - left
    n_left = np.arange(1, m, dtype=np.float64)[:, None]
    score = (left**2).sum(axis=2) / n_left + (right**2).sum(axis=2) / (m - n_left)
    values = np.take_along_axis(x, order, axis=0)  # (m, d): column f is x[:, f] sorted
    valid = values[1:] > values[:-1]
    valid[: min_leaf - 1] = False
    valid[m - min_leaf :] = False
    if not valid.any():
        return None
    score[~valid] = -np.inf
    position, feature = np.unravel_index(int(np.argmax(score)), score.shape)
    low, high = values[position, feature], values[position + 1, feature]
    threshold = (low + high) / 2.0
    if threshold == high:  # the midpoint rounded up to the higher value
        threshold = low
    return int(feature), float(threshold)


def fit_tree(
    x: np.ndarray,
    y: np.ndarray,
    classes: int,
    max_depth: int,
    *,
    min_samples_split: int = 2,
    min_samples_leaf: int = 1,
) -> Tree:
    feature: list[int] = []
    threshold: list[float] = []
    left: list[int] = []
    right: list[int] = []
    counts: list[np.ndarray] = []
    columns = x.shape[1]

    def add(rows: np.ndarray) -> int:
        feature.append(LEAF)
        threshold.append(0.0)
        left.append(LEAF)
        right.append(LEAF)
        counts.append(np.bincount(y[rows[:, 0]], minlength=classes).astype(np.float64))
        return len(feature) - 1

    root_order = np.argsort(x, axis=0, kind="stable")
    stack = [(add(root_order), root_order, 0)]
    while stack:
        node, order, depth = stack.pop()
        m = order.shape[0]
        pure = np.count_nonzero(counts[node]) <= 1
        if pure or depth >= max_depth or m < min_samples_split or m < 2 * min_samples_leaf:
            continue
        found = _best_split(order, x, y, classes, min_samples_leaf)
        if found is None:
            continue
        feature[node], threshold[node] = found
        goes_left = x[:, found[0]] <= found[1]
        by_feature = order.T  # (d, m): each row one feature's order
        keep = goes_left[by_feature]
        n_left = int(keep[0].sum())
        left_order = by_feature[keep].reshape(columns, n_left).T
        right_order = by_feature[~keep].reshape(columns, m - n_left).T
        left[node], right[node] = add(left_order), add(right_order)
        # Right pushed first, so the left child is grown first (depth first, like sklearn).
        stack.append((right[node], right_order, depth + 1))
        stack.append((left[node], left_order, depth + 1))
    return Tree(
        np.array(feature, dtype=np.int64),
        np.array(threshold),
        np.array(left, dtype=np.int64),
        np.array(right, dtype=np.int64),
        np.array(counts),
    )

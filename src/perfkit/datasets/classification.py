"""Labelled sets for the training workloads: scikit-learn's digits (the 8x8 images of the
UCI set, shipped inside scikit-learn) and seeded synthetic sets sized for a GPU, each split
into a stratified training and test part by the case's seed. Features are float32, labels
int64 (what ``torch.nn.functional.cross_entropy`` takes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Split", "digits", "stratified_split", "synthetic_images", "synthetic_vectors"]

TEST_FRACTION = 0.2


@dataclass(frozen=True, slots=True)
class Split:
    x_train: np.ndarray[Any, Any]
    y_train: np.ndarray[Any, Any]
    x_test: np.ndarray[Any, Any]
    y_test: np.ndarray[Any, Any]

    @property
    def classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max())) + 1


def stratified_split(
    x: np.ndarray[Any, Any], y: np.ndarray[Any, Any], rng: np.random.Generator
) -> Split:
    """``TEST_FRACTION`` of each class held out, both parts in a seeded random order."""
    test = np.zeros(len(y), dtype=bool)
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        test[members[: round(len(members) * TEST_FRACTION)]] = True
    train_rows = rng.permutation(np.flatnonzero(~test))
    test_rows = rng.permutation(np.flatnonzero(test))
    labels = y.astype(np.int64)
    return Split(x[train_rows], labels[train_rows], x[test_rows], labels[test_rows])


def digits(rng: np.random.Generator, images: bool = False, upsample: int = 1) -> Split:
    """The 1,797 digits, pixels scaled to [0, 1]: flat vectors of 64, or with ``images``
    1 x 8 x 8 images, each pixel repeated ``upsample`` times along both axes."""
    from sklearn.datasets import load_digits

    found = load_digits()
    x = (found.data / 16.0).astype(np.float32)
    if images:
        x = x.reshape(-1, 1, 8, 8)
        if upsample > 1:
            x = x.repeat(upsample, axis=2).repeat(upsample, axis=3)
    return stratified_split(np.ascontiguousarray(x), found.target, rng)


def synthetic_vectors(n: int, features: int, classes: int, rng: np.random.Generator) -> Split:
    """Gaussian classes: a random prototype per class, scaled so that neighbouring classes
    overlap (a network must fit, not look up), plus unit noise on every feature."""
    separation = 3.0 / np.sqrt(features)  # prototypes ~3 noise deviations apart
    prototypes = rng.normal(0.0, separation, size=(classes, features))
    y = rng.integers(0, classes, size=n)
    x = prototypes[y] + rng.normal(0.0, 1.0, size=(n, features))
    return stratified_split(x.astype(np.float32), y, rng)


def synthetic_images(
    n: int, side: int, classes: int, rng: np.random.Generator, patch: int = 5
) -> Split:
    """1 x side x side images: each class a random ``patch`` x ``patch`` template, stamped
    at a random place (so a convolution's shift invariance pays), on noise."""
    templates = rng.choice((-1.0, 1.0), size=(classes, patch, patch))
    y = rng.integers(0, classes, size=n)
    x = rng.normal(0.0, 0.5, size=(n, 1, side, side))
    rows = rng.integers(0, side - patch + 1, size=n)
    cols = rng.integers(0, side - patch + 1, size=n)
    for i in range(n):
        x[i, 0, rows[i] : rows[i] + patch, cols[i] : cols[i] + patch] += templates[y[i]]
    return stratified_split(x.astype(np.float32), y, rng)

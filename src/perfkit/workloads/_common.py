"""Pieces several workloads share: the array workloads' dtype axis, and the accuracy the
classifier workloads are scored by."""

from __future__ import annotations

from typing import Any

import numpy as np

from perfkit.model.axes import Axis, Params

FLOAT_DTYPES = ("float32", "float64")


def dtype_axis(values: tuple[str, ...] = FLOAT_DTYPES) -> Axis:
    return Axis("dtype", values, choices=values, doc="element type of inputs and outputs")


def dtype_of(params: Params) -> np.dtype[Any]:
    return np.dtype(str(params["dtype"]))


def itemsize(params: Params) -> int:
    return dtype_of(params).itemsize


def accuracy(predicted: Any, labels: Any) -> float:
    """The share of ``predicted`` class labels equal to ``labels``."""
    predicted, labels = np.asarray(predicted), np.asarray(labels)
    if predicted.shape != labels.shape:
        raise ValueError(f"{predicted.shape} predictions for {labels.shape} labels")
    return float(np.mean(predicted == labels)) if labels.size else 0.0

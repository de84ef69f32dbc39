"""Pieces the array workloads share: the dtype axis and its tolerances."""

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

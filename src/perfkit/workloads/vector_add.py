"""vector_add: z = a*x + y, the memory-bound streaming kernel (AXPY into a new vector)."""

from __future__ import annotations

from typing import Any

import numpy as np

from perfkit.axes import Axis, Params, ParamSpace
from perfkit.registry import register_workload
from perfkit.workload import Thunk, Work, relative_error, workload
from perfkit.workloads._common import dtype_axis, dtype_of, itemsize


def _inputs(params: Params, rng: np.random.Generator) -> dict[str, Any]:
    dtype = dtype_of(params)
    n = int(params["n"])
    return {
        "a": dtype.type(rng.uniform(0.5, 2.0)),
        "x": rng.random(n, dtype=np.float64).astype(dtype),
        "y": rng.random(n, dtype=np.float64).astype(dtype),
    }


def _truth(inputs: dict[str, Any], params: Params) -> Any:
    return float(inputs["a"]) * inputs["x"].astype(np.float64) + inputs["y"].astype(np.float64)


def _work(params: Params) -> Work:
    n = int(params["n"])
    # Two flops an element; read x and y, write z.
    return Work(flops=2 * n, bytes=3 * n * itemsize(params), items=n, dtype=str(params["dtype"]))


VECTOR_ADD = workload(
    name="vector_add",
    doc="z = a*x + y on vectors of n elements (memory bound)",
    space=ParamSpace(
        (
            Axis("n", (1 << 20, 1 << 22, 1 << 24), quick=(1 << 16,), doc="vector length"),
            dtype_axis(),
        )
    ),
    make_inputs=_inputs,
    expected=_truth,
    # Inputs are positive, so no cancellation: two roundings bound the error by ~1.2e-7.
    check=relative_error({"float32": 1e-6, "float64": 1e-14}),
    work=_work,
)


@VECTOR_ADD.port("numpy", reference=True)
def _numpy(inputs: dict[str, Any], params: Params) -> Thunk:
    """Two ufunc passes into a preallocated output (no temporaries)."""
    a, x, y = inputs["a"], inputs["x"], inputs["y"]
    out = np.empty_like(x)

    def run() -> Any:
        np.multiply(x, a, out=out)
        np.add(out, y, out=out)
        return out

    return run


register_workload(VECTOR_ADD)

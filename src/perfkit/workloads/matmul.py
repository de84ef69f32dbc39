"""matmul: C = A @ B, square or with a skinny inner dimension (compute bound)."""

from __future__ import annotations

from typing import Any

import numpy as np

from perfkit.axes import Axis, Params, ParamSpace
from perfkit.registry import register_workload
from perfkit.workload import Thunk, Work, relative_error, workload
from perfkit.workloads._common import dtype_axis, dtype_of, itemsize

SHAPES = ("square", "skinny_k")


def dims(params: Params) -> tuple[int, int, int]:
    """(m, k, n). ``skinny_k`` is (4n x n/4) @ (n/4 x n): the flops of the square case with
    a quarter of the inner dimension, where blocking pays less."""
    n = int(params["n"])
    if params["shape"] == "square":
        return n, n, n
    return 4 * n, max(1, n // 4), n


def _inputs(params: Params, rng: np.random.Generator) -> dict[str, Any]:
    m, k, n = dims(params)
    dtype = dtype_of(params)
    return {
        "a": rng.uniform(-1.0, 1.0, size=(m, k)).astype(dtype),
        "b": rng.uniform(-1.0, 1.0, size=(k, n)).astype(dtype),
    }


def _truth(inputs: dict[str, Any], params: Params) -> Any:
    return inputs["a"].astype(np.float64) @ inputs["b"].astype(np.float64)


def _work(params: Params) -> Work:
    m, k, n = dims(params)
    return Work(
        flops=2 * m * k * n,
        bytes=(m * k + k * n + m * n) * itemsize(params),
        items=m * n,
        dtype=str(params["dtype"]),
    )


MATMUL = workload(
    name="matmul",
    doc="C = A @ B (square n^3 or skinny inner dimension), relative Frobenius error",
    space=ParamSpace(
        (
            Axis("n", (256, 1024, 2048), quick=(256,), doc="matrix size"),
            dtype_axis(),
            Axis("shape", SHAPES, quick=("square",), choices=SHAPES, doc="square or skinny_k"),
        )
    ),
    make_inputs=_inputs,
    expected=_truth,
    # Rounding in a k-long dot product grows like eps*sqrt(k): ~4e-6 at k=4096 in float32.
    check=relative_error({"float32": 1e-4, "float64": 1e-12}, norm="fro"),
    work=_work,
)


@MATMUL.port("numpy", reference=True)
def _numpy(inputs: dict[str, Any], params: Params) -> Thunk:
    """``np.matmul`` into a preallocated output: the BLAS GEMM numpy links."""
    a, b = inputs["a"], inputs["b"]
    out = np.empty((a.shape[0], b.shape[1]), dtype=a.dtype)

    def run() -> Any:
        return np.matmul(a, b, out=out)

    return run


register_workload(MATMUL)

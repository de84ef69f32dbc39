"""softmax: the row-wise, numerically stable softmax of a matrix."""

from __future__ import annotations

from typing import Any

import numpy as np

from perfkit.axes import Axis, Params, ParamSpace
from perfkit.registry import register_workload
from perfkit.workload import Thunk, Work, relative_error, workload
from perfkit.workloads._common import dtype_axis, dtype_of, itemsize

# Logits sit around 80, where exp() overflows float32: a port that skips the max-subtraction
# returns inf/NaN and is marked invalid instead of looking fast.
_LOGIT_OFFSET = 80.0


def _inputs(params: Params, rng: np.random.Generator) -> dict[str, Any]:
    shape = (int(params["rows"]), int(params["cols"]))
    x = rng.normal(_LOGIT_OFFSET, 3.0, size=shape)
    return {"x": x.astype(dtype_of(params))}


def _truth(inputs: dict[str, Any], params: Params) -> Any:
    x = inputs["x"].astype(np.float64)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _work(params: Params) -> Work:
    rows, cols = int(params["rows"]), int(params["cols"])
    # Per element: max, subtract, exp, add, divide (exp counted as one flop); one read, one write.
    return Work(
        flops=5 * rows * cols,
        bytes=2 * rows * cols * itemsize(params),
        items=rows,
        dtype=str(params["dtype"]),
    )


SOFTMAX = workload(
    name="softmax",
    doc="row-wise stable softmax of a rows x cols matrix",
    space=ParamSpace(
        (
            Axis("rows", (2048, 8192), quick=(256,), doc="independent rows"),
            Axis("cols", (256, 2048), quick=(512,), doc="row length"),
            dtype_axis(),
        )
    ),
    make_inputs=_inputs,
    expected=_truth,
    check=relative_error({"float32": 1e-5, "float64": 1e-12}),
    work=_work,
)


@SOFTMAX.port("numpy", reference=True)
def _numpy(inputs: dict[str, Any], params: Params) -> Thunk:
    """Max, subtract, exp, sum, divide: four passes over the matrix, in place."""
    x = inputs["x"]
    out = np.empty_like(x)

    def run() -> Any:
        np.subtract(x, x.max(axis=1, keepdims=True), out=out)
        np.exp(out, out=out)
        np.divide(out, out.sum(axis=1, keepdims=True), out=out)
        return out

    return run


register_workload(SOFTMAX)

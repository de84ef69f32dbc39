"""reduce_sum: the sum of a vector, checked against a float64 sum."""

from __future__ import annotations

from typing import Any

import numpy as np

from perfkit.axes import Axis, Params, ParamSpace
from perfkit.registry import register_workload
from perfkit.workload import Thunk, Work, relative_error, workload
from perfkit.workloads._common import dtype_axis, dtype_of, itemsize


def _inputs(params: Params, rng: np.random.Generator) -> dict[str, Any]:
    return {"x": rng.random(int(params["n"]), dtype=np.float64).astype(dtype_of(params))}


def _truth(inputs: dict[str, Any], params: Params) -> Any:
    return np.asarray(inputs["x"].astype(np.float64).sum())


def _work(params: Params) -> Work:
    n = int(params["n"])
    return Work(flops=n, bytes=n * itemsize(params), items=n, dtype=str(params["dtype"]))


REDUCE_SUM = workload(
    name="reduce_sum",
    doc="sum of n elements (memory bound)",
    space=ParamSpace(
        (
            Axis("n", (1 << 20, 1 << 22, 1 << 24), quick=(1 << 16,), doc="vector length"),
            dtype_axis(),
        )
    ),
    make_inputs=_inputs,
    expected=_truth,
    # A float32 sum in a tree (pairwise, shared memory) errs by ~eps*log2(n): 1e-5 at 2^28;
    # a plain running float32 sum of 2^24 values fails, as it should.
    check=relative_error({"float32": 1e-5, "float64": 1e-12}),
    work=_work,
)


@REDUCE_SUM.port("numpy", reference=True)
def _numpy(inputs: dict[str, Any], params: Params) -> Thunk:
    """``np.sum``: pairwise summation in the input dtype."""
    x = inputs["x"]

    def run() -> Any:
        return np.sum(x)

    return run


register_workload(REDUCE_SUM)

"""softmax: the row-wise, numerically stable softmax of a matrix."""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from perfkit.model.axes import Axis, Params, ParamSpace
from perfkit.model.registry import register_workload
from perfkit.model.workload import Prepare, Thunk, Work, relative_error, workload
from perfkit.workloads._common import dtype_axis, dtype_of, itemsize
from perfkit.workloads._gpu import (
    BLOCK,
    Geometry,
    add_raw_ports,
    bind_numba,
    cupy_of,
    numba_type,
    raw_kernel,
    suffix,
)
from perfkit.workloads._loops import add_loop_ports

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
    suite="array",
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


def _raw(variant: str, geometry: Geometry) -> Prepare:
    def prepare(inputs: dict[str, Any], params: Params) -> Thunk:
        cp = cupy_of("cupy_raw")
        x = cp.asarray(inputs["x"])
        out = cp.empty_like(x)
        rows, cols = x.shape
        entry = f"softmax_{variant}_{suffix(x.dtype)}"
        function = raw_kernel("softmax", variant, entry, geometry)
        args = (x, out, np.int32(cols))

        def run() -> Any:
            function((rows,), geometry.block, args)
            return out

        return run

    return prepare


# One block a row; the fused kernel holds a row of up to THREADS x PER_THREAD in registers.
GEOMETRIES = {
    "three_pass": Geometry.of((BLOCK,)),
    "online_fused": Geometry.of((BLOCK,), PER_THREAD=8),
}
add_raw_ports(SOFTMAX, GEOMETRIES, _raw)

cuda: Any = None  # numba.cuda, bound by the first Numba port prepared (see bind_numba)
_NUMBA_BLOCK = 128


@functools.cache
def _numba_online(dtype: str) -> Any:
    bind_numba(globals())
    element = numba_type(np.dtype(dtype))

    @cuda.jit
    def online(x: Any, out: Any) -> None:
        tops = cuda.shared.array(_NUMBA_BLOCK, element)
        sums = cuda.shared.array(_NUMBA_BLOCK, element)
        row = cuda.blockIdx.x
        tid = cuda.threadIdx.x
        cols = x.shape[1]
        top = -math.inf
        total = 0.0
        for c in range(tid, cols, _NUMBA_BLOCK):
            value = x[row, c]
            if value > top:
                total = total * math.exp(top - value) + 1.0
                top = value
            else:
                total += math.exp(value - top)
        tops[tid] = top
        sums[tid] = total
        cuda.syncthreads()
        half = _NUMBA_BLOCK // 2
        while half > 0:
            if tid < half:
                other_top, other_sum = tops[tid + half], sums[tid + half]
                if other_sum > 0:
                    mine_top, mine_sum = tops[tid], sums[tid]
                    best = max(mine_top, other_top)
                    mine = mine_sum * math.exp(mine_top - best) if mine_sum > 0 else 0.0
                    tops[tid] = best
                    sums[tid] = mine + other_sum * math.exp(other_top - best)
            cuda.syncthreads()
            half //= 2
        top = tops[0]
        scale = 1.0 / sums[0]
        for c in range(tid, cols, _NUMBA_BLOCK):
            out[row, c] = math.exp(x[row, c] - top) * scale

    return online


@SOFTMAX.port("numba_cuda", "online")
def _numba(inputs: dict[str, Any], params: Params) -> Thunk:
    """A block a row: online max and sum in one read, a tree over the block, one write."""
    kernel = _numba_online(str(params["dtype"]))
    x = cuda.to_device(inputs["x"])
    out = cuda.device_array_like(x)
    launch = kernel[x.shape[0], _NUMBA_BLOCK]

    def run() -> Any:
        launch(x, out)
        return out

    return run


@SOFTMAX.port("torch_eager")
def _torch(inputs: dict[str, Any], params: Params) -> Thunk:
    """``torch.softmax(x, dim=1)``: ATen's fused row kernel."""
    import torch

    from perfkit.backends.torch_eager import torch_of

    x = torch_of(inputs["x"])

    def run() -> Any:
        return torch.softmax(x, dim=1)

    return run


add_loop_ports(SOFTMAX)
register_workload(SOFTMAX)

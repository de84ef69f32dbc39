"""reduce_sum: the sum of a vector, checked against a float64 sum."""

from __future__ import annotations

import functools
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
    numba_resident_blocks,
    raw_kernel,
    resident_blocks,
    suffix,
)
from perfkit.workloads._loops import add_loop_ports
from perfkit.workloads._spark import cached_frame


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
    suite="array",
)


@REDUCE_SUM.port("numpy", reference=True)
def _numpy(inputs: dict[str, Any], params: Params) -> Thunk:
    """``np.sum``: pairwise summation in the input dtype."""
    x = inputs["x"]

    def run() -> Any:
        return np.sum(x)

    return run


@REDUCE_SUM.port("spark_local", "dataframe")
def _spark(inputs: dict[str, Any], params: Params) -> Thunk:
    """``df.agg(sum(x))`` on a cached DataFrame column: one Spark job a call (Spark sums a
    float column in double)."""
    from pyspark.sql import functions as sf

    df = cached_frame({"x": inputs["x"]})

    def run() -> Any:
        return np.asarray(df.agg(sf.sum("x")).collect()[0][0])

    return run


@REDUCE_SUM.port("cupy", "cub")
def _cupy(inputs: dict[str, Any], params: Params) -> Thunk:
    """``cupy.sum`` with a float64 accumulator (a CUB device reduction)."""
    cp = cupy_of("cupy")
    x = cp.asarray(inputs["x"])

    def run() -> Any:
        return x.sum(dtype=cp.float64)

    return run


def _passes(variant: str, geometry: Geometry, x: Any) -> Thunk:
    """01 and 02: one launch per pass, two elements a thread, until one partial is left."""
    cp = cupy_of("cupy_raw")
    stem = {"smem_tree": "reduce_sum_tree", "warp_shuffle": "reduce_sum_shuffle"}[variant]
    launches: list[tuple[Any, int, tuple[Any, ...]]] = []
    source, count, dtype = x, x.size, x.dtype
    buffers: list[Any] = [None, None]
    while True:
        blocks = -(-count // (2 * geometry.threads))
        index = len(launches) % 2
        if buffers[index] is None or buffers[index].size < blocks:
            buffers[index] = cp.empty(blocks, dtype=cp.float64)
        target = buffers[index]
        function = raw_kernel("reduce_sum", variant, f"{stem}_{suffix(dtype)}", geometry)
        launches.append((function, blocks, (source, target, np.int64(count))))
        if blocks == 1:
            break
        source, count, dtype = target, blocks, np.dtype(np.float64)
    result = target[0]

    def run() -> Any:
        for function, blocks, args in launches:
            function((blocks,), geometry.block, args)
        return result

    return run


def _raw(variant: str, geometry: Geometry) -> Prepare:
    def prepare(inputs: dict[str, Any], params: Params) -> Thunk:
        cp = cupy_of("cupy_raw")
        x = cp.asarray(inputs["x"])
        if variant != "multi_element":
            return _passes(variant, geometry, x)
        entry = f"reduce_sum_multi_{suffix(x.dtype)}"
        function = raw_kernel("reduce_sum", variant, entry, geometry)
        out = cp.zeros((), dtype=cp.float64)
        threads = geometry.threads
        grid = min(resident_blocks(threads), -(-x.size // threads))
        args = (x, out, np.int64(x.size))

        def run() -> Any:
            cp.cuda.runtime.memsetAsync(out.data.ptr, 0, 8, cp.cuda.get_current_stream().ptr)
            function((grid,), geometry.block, args)
            return out

        return run

    return prepare


GEOMETRIES = {v: Geometry.of((BLOCK,)) for v in ("smem_tree", "warp_shuffle", "multi_element")}
add_raw_ports(REDUCE_SUM, GEOMETRIES, _raw)

cuda: Any = None  # numba.cuda, bound by the first Numba port prepared (see bind_numba)


@functools.cache
def _numba_kernels() -> tuple[Any, Any]:
    bind_numba(globals())
    from numba import float64

    @cuda.jit
    def zero(out: Any) -> None:
        out[0] = 0.0

    @cuda.jit
    def block_sum(x: Any, out: Any) -> None:
        buffer = cuda.shared.array(BLOCK, float64)
        tid = cuda.threadIdx.x
        total = 0.0
        for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
            total += x[i]
        buffer[tid] = total
        cuda.syncthreads()
        half = BLOCK // 2
        while half > 0:
            if tid < half:
                buffer[tid] += buffer[tid + half]
            cuda.syncthreads()
            half //= 2
        if tid == 0:
            cuda.atomic.add(out, 0, buffer[0])

    return zero, block_sum


@REDUCE_SUM.port("numba_cuda", "grid_stride_atomic")
def _numba(inputs: dict[str, Any], params: Params) -> Thunk:
    """Grid-stride sums in float64, a shared-memory tree a block, one atomic add a block."""
    zero, block_sum = _numba_kernels()
    x = cuda.to_device(inputs["x"])
    out = cuda.device_array(1, dtype=np.float64)
    result = out.reshape(())
    clear = zero[1, 1]
    launch = block_sum[min(-(-x.size // BLOCK), numba_resident_blocks()), BLOCK]

    def run() -> Any:
        clear(out)
        launch(x, out)
        return result

    return run


@REDUCE_SUM.port("torch_eager")
def _torch(inputs: dict[str, Any], params: Params) -> Thunk:
    """``torch.sum`` in the input dtype (a cascade sum, as NumPy's is pairwise)."""
    from perfkit.backends.torch_eager import torch_of

    x = torch_of(inputs["x"])

    def run() -> Any:
        return x.sum()

    return run


add_loop_ports(REDUCE_SUM)
register_workload(REDUCE_SUM)

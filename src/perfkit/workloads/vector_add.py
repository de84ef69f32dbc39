"""vector_add: z = a*x + y, the memory-bound streaming kernel (AXPY into a new vector)."""

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
    suite="array",
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


@VECTOR_ADD.port("spark_local", "dataframe")
def _spark(inputs: dict[str, Any], params: Params) -> Thunk:
    """``a*x + y`` as a column expression on a cached DataFrame, brought back to the driver
    in row order (Arrow): one Spark job a call."""
    from pyspark.sql import functions as sf

    df = cached_frame({"x": inputs["x"], "y": inputs["y"]})
    z = (sf.lit(float(inputs["a"])) * sf.col("x") + sf.col("y")).alias("z")

    def run() -> Any:
        return df.select("i", z).toPandas().sort_values("i")["z"].to_numpy()

    return run


@VECTOR_ADD.port("cupy", "elementwise")
def _cupy(inputs: dict[str, Any], params: Params) -> Thunk:
    """One CuPy ``ElementwiseKernel``: a*x + y fused into a preallocated output."""
    cp = cupy_of("cupy")
    x, y = cp.asarray(inputs["x"]), cp.asarray(inputs["y"])
    a = inputs["a"]
    z = cp.empty_like(x)
    axpy = cp.ElementwiseKernel("T a, T x, T y", "T z", "z = a * x + y", "perfkit_axpy")

    def run() -> Any:
        return axpy(a, x, y, z)

    return run


def _raw(variant: str, geometry: Geometry) -> Prepare:
    def prepare(inputs: dict[str, Any], params: Params) -> Thunk:
        cp = cupy_of("cupy_raw")
        x, y = cp.asarray(inputs["x"]), cp.asarray(inputs["y"])
        z = cp.empty_like(x)
        n = x.size
        entry = f"vector_add_{variant}_{suffix(x.dtype)}"
        function = raw_kernel("vector_add", variant, entry, geometry)
        threads = geometry.threads
        grid = -(-n // threads) if variant == "naive" else resident_blocks(threads)
        args = (x, y, z, inputs["a"], np.int64(n))

        def run() -> Any:
            function((grid,), geometry.block, args)
            return z

        return run

    return prepare


GEOMETRIES = {v: Geometry.of((BLOCK,)) for v in ("naive", "grid_stride", "vectorized")}
add_raw_ports(VECTOR_ADD, GEOMETRIES, _raw)


cuda: Any = None  # numba.cuda, bound by the first Numba port prepared (see bind_numba)


@functools.cache
def _numba_axpy() -> Any:
    bind_numba(globals())

    @cuda.jit
    def axpy(a: Any, x: Any, y: Any, z: Any) -> None:
        start, stride = cuda.grid(1), cuda.gridsize(1)
        for i in range(start, x.size, stride):
            z[i] = a * x[i] + y[i]

    return axpy


@VECTOR_ADD.port("numba_cuda", "grid_stride")
def _numba(inputs: dict[str, Any], params: Params) -> Thunk:
    """A grid-stride ``numba.cuda.jit`` kernel."""
    kernel = _numba_axpy()
    x, y = cuda.to_device(inputs["x"]), cuda.to_device(inputs["y"])
    z = cuda.device_array_like(x)
    a = inputs["a"]
    launch = kernel[min(-(-x.size // BLOCK), numba_resident_blocks()), BLOCK]

    def run() -> Any:
        launch(a, x, y, z)
        return z

    return run


@VECTOR_ADD.port("torch_eager")
def _torch(inputs: dict[str, Any], params: Params) -> Thunk:
    """``torch.add(y, x, alpha=a, out=z)``: one fused pass into a preallocated tensor."""
    import torch

    from perfkit.backends.torch_eager import torch_of

    x, y, a = torch_of(inputs["x"]), torch_of(inputs["y"]), float(inputs["a"])
    out = torch.empty_like(x)

    def run() -> Any:
        return torch.add(y, x, alpha=a, out=out)

    return run


add_loop_ports(VECTOR_ADD)
register_workload(VECTOR_ADD)

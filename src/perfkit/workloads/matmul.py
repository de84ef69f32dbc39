"""matmul: C = A @ B, square or with a skinny inner dimension (compute bound)."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from perfkit.model.axes import Axis, Params, ParamSpace, Skip
from perfkit.model.registry import register_workload
from perfkit.model.workload import Implementation, Prepare, Thunk, Work, relative_error, workload
from perfkit.workloads._common import dtype_axis, dtype_of, itemsize
from perfkit.workloads._gpu import (
    Geometry,
    add_raw_ports,
    bind_numba,
    cupy_of,
    need_multiple,
    numba_type,
    raw_kernel,
)
from perfkit.workloads._loops import add_loop_ports

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
    # TF32 and bfloat16 round each input (to 2^-11 and 2^-9; bfloat16 the output too):
    # 2.6e-4 and 2.7e-3 of the norm for uniform inputs at n = 256..2048.
    check=relative_error(
        {"float32": 1e-4, "float64": 1e-12, "tf32": 1e-3, "bfloat16": 1e-2}, norm="fro"
    ),
    work=_work,
    suite="array",
)


@MATMUL.port("numpy", reference=True)
def _numpy(inputs: dict[str, Any], params: Params) -> Thunk:
    """``np.matmul`` into a preallocated output: the BLAS GEMM numpy links."""
    a, b = inputs["a"], inputs["b"]
    out = np.empty((a.shape[0], b.shape[1]), dtype=a.dtype)

    def run() -> Any:
        return np.matmul(a, b, out=out)

    return run


@MATMUL.port("cupy", "cublas")
def _cupy(inputs: dict[str, Any], params: Params) -> Thunk:
    """``cupy.matmul``: cuBLAS GEMM (float32 without TF32 unless CUPY_TF32=1 is set)."""
    cp = cupy_of("cupy")
    a, b = cp.asarray(inputs["a"]), cp.asarray(inputs["b"])
    out = cp.empty((a.shape[0], b.shape[1]), dtype=a.dtype)

    def run() -> Any:
        return cp.matmul(a, b, out=out)

    return run


_ROWS_FIRST = ("naive",)  # a grid with blockIdx.x along M (the uncoalesced mapping)
_BOUNDS_CHECKED = ("naive", "coalesced")


def tiles(variant: str, **sizes: int) -> Geometry:
    """A matmul kernel's geometry from its tile sizes, its block following from them:
    TILE x TILE threads (01-03, one element of C each), one thread per TM elements of a
    BM x BN tile of C (04), per TM x TN piece (05, 06), or a warp per WM x WN tile (07).
    BK is the depth of a K step. The kernel asserts the same relations as it compiles."""
    if "TILE" in sizes:
        return Geometry.of((sizes["TILE"], sizes["TILE"]), **sizes)
    tile = sizes["BM"] * sizes["BN"]
    if variant == "warptiling":
        threads = 32 * tile // (sizes["WM"] * sizes["WN"])
    else:
        threads = tile // (sizes["TM"] * sizes.get("TN", 1))
    return Geometry.of((threads,), **sizes)


GEOMETRIES: dict[str, Geometry] = {
    "naive": tiles("naive", TILE=32),
    "coalesced": tiles("coalesced", TILE=32),
    "smem_tiled": tiles("smem_tiled", TILE=32),
    "1d_blocktiling": tiles("1d_blocktiling", BM=64, BN=64, BK=8, TM=8),
    "2d_blocktiling": tiles("2d_blocktiling", BM=128, BN=128, BK=8, TM=8, TN=8),
    "vectorized": tiles("vectorized", BM=128, BN=128, BK=8, TM=8, TN=8),
    "warptiling": tiles("warptiling", BM=128, BN=128, BK=16, WM=64, WN=64, WNITER=4, TM=8, TN=4),
}


def _raw(variant: str, geometry: Geometry) -> Prepare:
    sizes = dict(geometry.sizes)
    tile_m, tile_n = sizes.get("BM", sizes.get("TILE", 1)), sizes.get("BN", sizes.get("TILE", 1))
    tile_k = sizes.get("BK", sizes.get("TILE", 1))

    def prepare(inputs: dict[str, Any], params: Params) -> Thunk:
        if params["dtype"] != "float32":
            raise Skip("the hand-written GEMM kernels are float32 only")
        m, k, n = dims(params)
        if variant not in _BOUNDS_CHECKED:
            need_multiple("M", m, tile_m)
            need_multiple("N", n, tile_n)
            need_multiple("K", k, tile_k)
        cp = cupy_of("cupy_raw")
        a, b = cp.asarray(inputs["a"]), cp.asarray(inputs["b"])
        out = cp.empty((m, n), dtype=cp.float32)
        function = raw_kernel("matmul", variant, f"matmul_{variant}", geometry)
        blocks_m, blocks_n = -(-m // tile_m), -(-n // tile_n)
        grid = (blocks_m, blocks_n) if variant in _ROWS_FIRST else (blocks_n, blocks_m)
        args = (a, b, out, np.int32(m), np.int32(n), np.int32(k))

        def run() -> Any:
            function(grid, geometry.block, args)
            return out

        return run

    return prepare


add_raw_ports(MATMUL, GEOMETRIES, _raw)

cuda: Any = None  # numba.cuda, bound by the first Numba port prepared (see bind_numba)
_TILE = 16  # shared-tiled: 16 x 16 threads, one element of C each
_BM = _BN = 64  # register-blocked: a 64 x 64 block of C per 16 x 16 threads,
_BK = 8  # 8-deep K tiles,
_TM = _TN = 4  # 4 x 4 elements of C per thread


@functools.cache
def _numba_kernels(dtype: str) -> dict[str, Any]:
    bind_numba(globals())
    element = numba_type(np.dtype(dtype))

    @cuda.jit
    def naive(a: Any, b: Any, c: Any) -> None:
        col, row = cuda.grid(2)
        if row < c.shape[0] and col < c.shape[1]:
            total = element(0)
            for i in range(a.shape[1]):
                total += a[row, i] * b[i, col]
            c[row, col] = total

    @cuda.jit
    def shared_tiled(a: Any, b: Any, c: Any) -> None:
        a_tile = cuda.shared.array((_TILE, _TILE), element)
        b_tile = cuda.shared.array((_TILE, _TILE), element)
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        row = cuda.blockIdx.y * _TILE + ty
        col = cuda.blockIdx.x * _TILE + tx
        total = element(0)
        for k0 in range(0, a.shape[1], _TILE):
            a_tile[ty, tx] = a[row, k0 + tx]
            b_tile[ty, tx] = b[k0 + ty, col]
            cuda.syncthreads()
            for i in range(_TILE):
                total += a_tile[ty, i] * b_tile[i, tx]
            cuda.syncthreads()
        c[row, col] = total

    @cuda.jit
    def register_blocked(a: Any, b: Any, c: Any) -> None:
        a_tile = cuda.shared.array((_BM, _BK), element)
        b_tile = cuda.shared.array((_BK, _BN), element)
        acc = cuda.local.array((_TM, _TN), element)
        a_reg = cuda.local.array(_TM, element)
        b_reg = cuda.local.array(_TN, element)
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        tid = ty * (_BN // _TN) + tx
        row0 = cuda.blockIdx.y * _BM
        col0 = cuda.blockIdx.x * _BN
        for i in range(_TM):
            for j in range(_TN):
                acc[i, j] = 0
        for k0 in range(0, a.shape[1], _BK):
            # 256 threads load the 64 x 8 tile of A and the 8 x 64 tile of B, two values each.
            for step in range(2):
                index = tid + step * 256
                a_tile[index // _BK, index % _BK] = a[row0 + index // _BK, k0 + index % _BK]
                b_tile[index // _BN, index % _BN] = b[k0 + index // _BN, col0 + index % _BN]
            cuda.syncthreads()
            for kk in range(_BK):
                for i in range(_TM):
                    a_reg[i] = a_tile[ty * _TM + i, kk]
                for j in range(_TN):
                    b_reg[j] = b_tile[kk, tx * _TN + j]
                for i in range(_TM):
                    for j in range(_TN):
                        acc[i, j] += a_reg[i] * b_reg[j]
            cuda.syncthreads()
        for i in range(_TM):
            for j in range(_TN):
                c[row0 + ty * _TM + i, col0 + tx * _TN + j] = acc[i, j]

    return {
        "naive": naive,
        "shared_tiled": shared_tiled,
        "register_blocked": register_blocked,
    }


def _numba(variant: str) -> Prepare:
    def prepare(inputs: dict[str, Any], params: Params) -> Thunk:
        m, k, n = dims(params)
        if variant == "shared_tiled":
            for what, value in (("M", m), ("N", n), ("K", k)):
                need_multiple(what, value, _TILE)
            grid, threads = (n // _TILE, m // _TILE), (_TILE, _TILE)
        elif variant == "register_blocked":
            need_multiple("M", m, _BM)
            need_multiple("N", n, _BN)
            need_multiple("K", k, _BK)
            grid, threads = (n // _BN, m // _BM), (_BN // _TN, _BM // _TM)
        else:
            grid, threads = (-(-n // 16), -(-m // 16)), (16, 16)
        kernel = _numba_kernels(str(params["dtype"]))[variant]
        a, b = cuda.to_device(inputs["a"]), cuda.to_device(inputs["b"])
        out = cuda.device_array((m, n), dtype=inputs["a"].dtype)
        launch = kernel[grid, threads]

        def run() -> Any:
            launch(a, b, out)
            return out

        return run

    prepare.__doc__ = {
        "naive": "One thread an element of C, a dot product from global memory.",
        "shared_tiled": "16 x 16 tiles of A and B in shared memory, one element a thread.",
        "register_blocked": "64 x 64 blocks of C, 4 x 4 elements a thread in registers.",
    }[variant]
    return prepare


for _variant in ("naive", "shared_tiled", "register_blocked"):
    MATMUL.port("numba_cuda", _variant)(_numba(_variant))


def _spark_blocks(matrix: np.ndarray, size: int) -> Any:
    """``matrix`` as an MLlib BlockMatrix of ``size`` x ``size`` blocks (float64: MLlib's
    only element type), its blocks cached in the JVM and materialised."""
    from pyspark.mllib.linalg import Matrices
    from pyspark.mllib.linalg.distributed import BlockMatrix

    from perfkit.backends._spark import spark_session
    from perfkit.workloads._spark import PARTITIONS

    rows, cols = matrix.shape
    blocks = [
        ((i // size, j // size), Matrices.dense(
            min(size, rows - i), min(size, cols - j),
            # an array, not a list: a 1024 x 1024 block as Python floats took a minute
            matrix[i : i + size, j : j + size].astype(np.float64).ravel(order="F"),
        ))
        for i in range(0, rows, size) for j in range(0, cols, size)
    ]  # fmt: skip
    rdd = spark_session().sparkContext.parallelize(blocks, PARTITIONS)
    block_matrix = BlockMatrix(rdd, size, size, rows, cols)
    block_matrix._java_matrix_wrapper.call("cache")
    block_matrix.validate()  # a job over every block: the cache is filled outside timing
    return block_matrix


def _collected(product: Any, size: int, shape: tuple[int, int]) -> np.ndarray:
    """A BlockMatrix as one array, its blocks streamed a partition at a time: as one local
    matrix (``toLocalMatrix``) an 8192 x 2048 product ran the driver's heap out."""
    out = np.empty(shape)
    for (i, j), block in product.blocks.toLocalIterator():
        part = block.toArray()
        out[i * size : i * size + part.shape[0], j * size : j * size + part.shape[1]] = part
    return out


def _spark(size: int) -> Prepare:
    def prepare(inputs: dict[str, Any], params: Params) -> Thunk:
        a = _spark_blocks(inputs["a"], size)
        b = _spark_blocks(inputs["b"], size)
        shape = (inputs["a"].shape[0], inputs["b"].shape[1])

        def run() -> Any:
            return _collected(a.multiply(b), size, shape)

        return run

    prepare.__doc__ = (
        f"MLlib ``BlockMatrix.multiply`` of {size} x {size} float64 blocks (cached), the "
        "product collected to the driver block by block"
    )
    return prepare


# The block size is a variant, not an axis: an axis would repeat every other backend's
# cases once per block size, each measuring the same thing.
for _size in (256, 1024):
    MATMUL.add(
        Implementation(
            "matmul", "spark_local", f"blockmatrix_{_size}", _spark(_size),
            doc=f"MLlib BlockMatrix.multiply, {_size} x {_size} blocks",
        )
    )  # fmt: skip


@MATMUL.port("torch_eager")
def _torch(inputs: dict[str, Any], params: Params) -> Thunk:
    """``torch.matmul`` into a preallocated output: the GEMM PyTorch links (MKL or
    oneDNN on the CPU, cuBLAS with TF32 off on CUDA)."""
    import torch

    from perfkit.backends.torch_eager import torch_of

    a, b = torch_of(inputs["a"]), torch_of(inputs["b"])
    out = torch.empty((a.shape[0], b.shape[1]), dtype=a.dtype, device=a.device)

    def run() -> Any:
        return torch.matmul(a, b, out=out)

    return run


def _float32_only(params: Params, precision: str) -> None:
    if params["dtype"] != "float32":
        raise Skip(f"the {precision} GEMM takes float32 inputs")


@MATMUL.port("torch_eager", "tf32", precision="tf32")
def _torch_tf32(inputs: dict[str, Any], params: Params) -> Thunk:
    """float32 GEMM on tensor cores with TF32 inputs (10-bit mantissas), switched on for
    this call only; CUDA only."""
    import torch

    from perfkit.backends.torch_eager import compiled, selected_device, torch_of

    _float32_only(params, "tf32")
    if selected_device() != "cuda":
        raise Skip("TF32 is a CUDA tensor-core mode (--device cuda)")
    flags = torch.backends.cuda.matmul
    a, b = torch_of(inputs["a"]), torch_of(inputs["b"])
    out = torch.empty((a.shape[0], b.shape[1]), dtype=a.dtype, device=a.device)
    # compiled with the flag on (Inductor reads it when it compiles; Dynamo guards on it)
    product = compiled(lambda: torch.matmul(a, b, out=out))

    def run() -> Any:
        previous, flags.allow_tf32 = flags.allow_tf32, True
        try:
            return product()
        finally:
            flags.allow_tf32 = previous

    return run


@MATMUL.port("torch_eager", "bf16", precision="bfloat16")
def _torch_bf16(inputs: dict[str, Any], params: Params) -> Thunk:
    """bfloat16 GEMM (8-bit mantissas, float32 accumulation) of the float32 inputs
    rounded once in set-up; tensor cores on CUDA, AVX-512 BF16 or AMX where the CPU has
    them."""
    import torch

    from perfkit.backends.torch_eager import torch_of

    _float32_only(params, "bfloat16")
    a = torch_of(inputs["a"]).to(torch.bfloat16)
    b = torch_of(inputs["b"]).to(torch.bfloat16)
    out = torch.empty((a.shape[0], b.shape[1]), dtype=a.dtype, device=a.device)

    def run() -> Any:
        return torch.matmul(a, b, out=out)

    return run


add_loop_ports(MATMUL)
register_workload(MATMUL)

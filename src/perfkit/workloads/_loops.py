"""Hand-written CPU kernels compiled by Numba: the ``numba_cpu`` ports of the array workloads.

Each kernel is a plain loop nest, the CPU counterpart of the CUDA kernels: matmul climbs a
ladder (a naive triple loop, a cache-blocked loop nest, the blocked nest with its row blocks
spread over threads by ``prange``), the others are one parallel loop each. Kernels are made
per element type (their zero and accumulators are of the inputs' dtype, so float32 stays
float32) and compiled for the exact argument types in the port's set-up, never in a timed
call: ``compile_for`` does it and the backend records the seconds (``time/compile``).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from perfkit.model.axes import Params, Skip
from perfkit.model.workload import Prepare, Thunk, Workload

__all__ = ["add_loop_ports"]

# Row, inner and column tiles of the blocked matmul: a BK x BN tile of B (256 KiB in
# float64) stays in L2 while BM rows of A stream past it; the innermost loop runs along a
# row of B and of C, contiguous, so the compiler vectorises it.
BM, BK, BN = 64, 128, 256
# Chunks of the tree sum: every level sums CHUNK values in order, so a float32 sum of 2^24
# values rounds like a tree of depth 3, not a running sum of 2^24 terms.
CHUNK = 256
# The naive loop reads B down its columns: at n = 1024 that is 0.3 GFLOP/s, 6 s a call on
# a 2-core machine, for an answer ("far slower than blocked") that n = 256 already gives.
NAIVE_MAX_FLOPS = 2 * 256**3


def _numba() -> Any:
    import numba

    return numba


def compile_for(kernel: Any, *args: Any) -> float:
    """Compile ``kernel`` for the types of ``args`` now; the seconds it took (0 when this
    process compiled that signature before)."""
    numba = _numba()
    signature = tuple(numba.typeof(a) for a in args)
    start = time.perf_counter()
    kernel.compile(signature)
    return time.perf_counter() - start


@functools.cache
def _kernels(dtype: str) -> dict[str, Any]:
    numba = _numba()
    zero = np.dtype(dtype).type(0)
    njit, prange = numba.njit, numba.prange
    reassociate = {"reassoc", "contract"}  # lets a sum be vectorised (lanes, then a tree)

    @njit(nogil=True)
    def matmul_naive(a: Any, b: Any, c: Any) -> None:
        m, k = a.shape
        n = b.shape[1]
        for i in range(m):
            for j in range(n):
                total = zero
                for p in range(k):
                    total += a[i, p] * b[p, j]
                c[i, j] = total

    @njit(nogil=True, inline="never")
    def row_axpy(alpha: Any, x: Any, y: Any) -> None:
        # A call of its own on two 1-D rows: inlined into the loop nest, the compiler
        # cannot prove the rows apart and leaves this loop scalar (a sixth of the speed).
        for j in range(x.shape[0]):
            y[j] += alpha * x[j]

    @njit(nogil=True)
    def _block_rows(a: Any, b: Any, c: Any, i0: int) -> None:
        m, k = a.shape
        n = b.shape[1]
        i1 = min(i0 + BM, m)
        c[i0:i1, :] = zero
        for k0 in range(0, k, BK):
            k1 = min(k0 + BK, k)
            for j0 in range(0, n, BN):
                j1 = min(j0 + BN, n)
                for i in range(i0, i1):
                    c_row = c[i, j0:j1]
                    for p in range(k0, k1):
                        row_axpy(a[i, p], b[p, j0:j1], c_row)

    @njit(nogil=True)
    def matmul_blocked(a: Any, b: Any, c: Any) -> None:
        for i0 in range(0, a.shape[0], BM):
            _block_rows(a, b, c, i0)

    @njit(nogil=True, parallel=True)
    def matmul_parallel(a: Any, b: Any, c: Any) -> None:
        blocks = (a.shape[0] + BM - 1) // BM
        for block in prange(blocks):
            _block_rows(a, b, c, block * BM)

    @njit(nogil=True, parallel=True)
    def axpy(alpha: Any, x: Any, y: Any, out: Any) -> None:
        for i in prange(x.shape[0]):
            out[i] = alpha * x[i] + y[i]

    @njit(nogil=True, parallel=True, fastmath=reassociate)
    def chunk_sums(x: Any, out: Any) -> None:
        for chunk in prange(out.shape[0]):
            total = zero
            for i in range(chunk * CHUNK, min((chunk + 1) * CHUNK, x.shape[0])):
                total += x[i]
            out[chunk] = total

    @njit(nogil=True, parallel=True, fastmath=reassociate)
    def softmax_rows(x: Any, out: Any) -> None:
        for r in prange(x.shape[0]):
            top = x[r, 0]
            for c in range(1, x.shape[1]):
                top = max(top, x[r, c])
            total = zero
            for c in range(x.shape[1]):
                e = np.exp(x[r, c] - top)
                out[r, c] = e
                total += e
            for c in range(x.shape[1]):
                out[r, c] /= total

    return {
        "naive": matmul_naive,
        "blocked": matmul_blocked,
        "parallel": matmul_parallel,
        "axpy": axpy,
        "chunk_sums": chunk_sums,
        "softmax": softmax_rows,
    }


def _compiled(thunk: Thunk, seconds: float) -> Thunk:
    from perfkit.backends.numba_cpu import NUMBA_CPU

    NUMBA_CPU.compiled[id(thunk)] = seconds
    return thunk


def _matmul(variant: str) -> Prepare:
    def prepare(inputs: dict[str, Any], params: Params) -> Thunk:
        a, b = inputs["a"], inputs["b"]
        (m, k), n = a.shape, b.shape[1]
        if variant == "naive" and 2 * m * k * n > NAIVE_MAX_FLOPS:
            raise Skip(
                f"the naive loop is measured up to n = 256 ({NAIVE_MAX_FLOPS / 1e6:.0f} MFLOP a "
                f"call; this one is {2 * m * k * n / 1e6:.0f}): its calls take seconds past it"
            )
        kernel = _kernels(str(a.dtype))[variant]
        out = np.empty((m, n), dtype=a.dtype)
        seconds = compile_for(kernel, a, b, out)

        def run() -> Any:
            kernel(a, b, out)
            return out

        return _compiled(run, seconds)

    prepare.__doc__ = {
        "naive": "A triple loop, one dot product per element of C, B read down its columns.",
        "blocked": f"{BM} x {BK} x {BN} cache blocks, the inner loop along rows of B and C.",
        "parallel": f"The blocked loop nest, its {BM}-row blocks spread over threads (prange).",
    }[variant]
    return prepare


def _vector_add(inputs: dict[str, Any], params: Params) -> Thunk:
    """One parallel loop, out[i] = a * x[i] + y[i] (prange)."""
    a, x, y = inputs["a"], inputs["x"], inputs["y"]
    kernel = _kernels(str(x.dtype))["axpy"]
    out = np.empty_like(x)
    seconds = compile_for(kernel, a, x, y, out)

    def run() -> Any:
        kernel(a, x, y, out)
        return out

    return _compiled(run, seconds)


def _reduce_sum(inputs: dict[str, Any], params: Params) -> Thunk:
    """A tree of 256-element chunk sums in the input dtype, each level in parallel."""
    x = inputs["x"]
    kernel = _kernels(str(x.dtype))["chunk_sums"]
    levels = []
    length = x.shape[0]
    while length > 1:
        length = -(-length // CHUNK)
        levels.append(np.empty(length, dtype=x.dtype))
    if not levels:
        levels.append(np.empty(1, dtype=x.dtype))
    seconds = compile_for(kernel, x, levels[0])

    def run() -> Any:
        source = x
        for level in levels:
            kernel(source, level)
            source = level
        return source[0]

    return _compiled(run, seconds)


def _softmax(inputs: dict[str, Any], params: Params) -> Thunk:
    """One row a task (prange): max, exp and sum in one pass, then the divide."""
    x = inputs["x"]
    kernel = _kernels(str(x.dtype))["softmax"]
    out = np.empty_like(x)
    seconds = compile_for(kernel, x, out)

    def run() -> Any:
        kernel(x, out)
        return out

    return _compiled(run, seconds)


_PORTS: dict[str, dict[str, Callable[..., Any]]] = {
    "matmul": {variant: _matmul(variant) for variant in ("naive", "blocked", "parallel")},
    "vector_add": {"prange": _vector_add},
    "reduce_sum": {"chunk_tree": _reduce_sum},
    "softmax": {"prange": _softmax},
}


def add_loop_ports(workload: Workload) -> None:
    """Declare ``workload``'s ``numba_cpu`` ports."""
    for variant, prepare in _PORTS[workload.name].items():
        workload.port("numba_cpu", variant)(prepare)

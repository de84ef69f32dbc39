"""Measured ceilings of the GPU: device-to-device copy bandwidth and cuBLAS GEMM per dtype.

Cached beside the CPU's (``roofline.cache_path()``) under a key of the device name, the
driver and CuPy, so every GPU result can show its % of roof. GEMM peaks are cuBLAS through
CuPy for float32 (TF32 off, CuPy's default) and float64; with PyTorch at hand also TF32
and bfloat16, labelled as such: a float32 case is never held to a TF32 roof.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

from perfkit.engine.sampler import MeasurePolicy, measure_thunk
from perfkit.machine.ceilings import read_ceiling, store_ceiling
from perfkit.model.timers import Timer

__all__ = ["calibrate_gpu", "gpu_ceilings", "gpu_key"]

_FORMAT = 1
# Working sets (bytes read + written): inside L2, around it, and far past it (HBM).
_COPY_SIZES = (1 << 24, 1 << 26, 1 << 30, 1 << 32)
_COPY_SIZES_QUICK = (1 << 24, 1 << 30)
_GEMM_SIZES = (4096, 8192)
_GEMM_SIZES_QUICK = (4096,)


def _backend() -> Any:
    from perfkit.model.backend import get_backend

    return get_backend("cupy")


def _device_name(cupy: Any) -> str:
    name = cupy.cuda.runtime.getDeviceProperties(0)["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def gpu_key() -> str | None:
    """The cache key of device 0, or None when CuPy finds no usable device."""
    backend = _backend()
    if not backend.probe().ok:
        return None
    cupy = backend.cupy
    driver = cupy.cuda.runtime.driverGetVersion()
    text = f"v{_FORMAT}|{_device_name(cupy)}|{driver}|cupy {cupy.__version__}"
    return "cuda-" + hashlib.sha256(text.encode()).hexdigest()[:16]


def _best_rate(thunk: Callable[[], Any], amount: float, timer: Timer, quick: bool) -> float:
    policy = MeasurePolicy(
        min_sample_time=0.02, min_samples=5, max_samples=30, budget=0.2 if quick else 0.5
    )
    run = measure_thunk(thunk, timer, policy, policy.budget)
    return amount / min(run.samples)


def _copy(cupy: Any, total_bytes: int) -> Callable[[], Any]:
    """A device-to-device memcpy touching ``total_bytes`` (half read, half written)."""
    half = total_bytes // 2
    src = cupy.ones(half, dtype=cupy.uint8)
    dst = cupy.empty_like(src)
    runtime = cupy.cuda.runtime

    def run() -> None:
        stream = cupy.cuda.get_current_stream().ptr
        runtime.memcpyAsync(dst.data.ptr, src.data.ptr, half, runtime.memcpyDeviceToDevice, stream)

    return run


def _product(matmul: Callable[..., Any], a: Any, b: Any, out: Any) -> Callable[[], Any]:
    return lambda: matmul(a, b, out=out)


def _gemm_flops(cupy: Any, dtype: str, sizes: tuple[int, ...], timer: Timer, quick: bool) -> float:
    best = 0.0
    for n in sizes:
        a = cupy.random.default_rng(n).random((n, n), dtype=cupy.float64).astype(dtype)
        b = cupy.random.default_rng(n + 1).random((n, n), dtype=cupy.float64).astype(dtype)
        thunk = _product(cupy.matmul, a, b, cupy.empty((n, n), dtype=dtype))
        best = max(best, _best_rate(thunk, 2.0 * n**3, timer, quick))
        del a, b, thunk
        cupy.get_default_memory_pool().free_all_blocks()
    return best


def _torch_flops(sizes: tuple[int, ...], quick: bool) -> dict[str, float]:
    """TF32 and bfloat16 GEMM through PyTorch, when it has CUDA; {} otherwise."""
    try:
        import torch
    except ImportError:
        return {}
    if not torch.cuda.is_available():
        return {}
    from perfkit.model.timers import WallTimer

    timer = WallTimer(torch.cuda.synchronize)
    found: dict[str, float] = {}
    previous = torch.backends.cuda.matmul.allow_tf32
    try:
        for label, dtype, tf32 in (
            ("tf32", torch.float32, True),
            ("bfloat16", torch.bfloat16, False),
        ):
            torch.backends.cuda.matmul.allow_tf32 = tf32
            best = 0.0
            for n in sizes:
                a = torch.rand((n, n), device="cuda", dtype=dtype)
                b = torch.rand((n, n), device="cuda", dtype=dtype)
                thunk = _product(torch.matmul, a, b, torch.empty_like(a))
                best = max(best, _best_rate(thunk, 2.0 * n**3, timer, quick))
            found[label] = best
    finally:
        torch.backends.cuda.matmul.allow_tf32 = previous
        torch.cuda.empty_cache()
    return found


def calibrate_gpu(quick: bool = False) -> dict[str, Any]:
    """Measure device 0: copy bandwidth per working set and GEMM flop/s per dtype."""
    backend = _backend()
    cupy = backend.cupy
    with backend.session():
        timer = backend.timer()
        bandwidth = []
        for size in _COPY_SIZES_QUICK if quick else _COPY_SIZES:
            bandwidth.append([size, _best_rate(_copy(cupy, size), size, timer, quick)])
            cupy.get_default_memory_pool().free_all_blocks()
        sizes = _GEMM_SIZES_QUICK if quick else _GEMM_SIZES
        flops = {
            dtype: _gemm_flops(cupy, dtype, sizes, timer, quick) for dtype in ("float32", "float64")
        }
    flops.update(_torch_flops(sizes, quick))
    return {
        "device": _device_name(cupy),
        "bandwidth": bandwidth,
        "flops": flops,
        "quick": quick,
        "measured": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def gpu_ceilings(refresh: bool = False, quick: bool = False) -> dict[str, Any] | None:
    """Device 0's cached ceilings, measured (and cached) when missing or asked; None
    without a usable GPU."""
    key = gpu_key()
    if key is None:
        return None
    cached = None if refresh else read_ceiling(key)
    if cached is not None:
        return cached
    ceilings = calibrate_gpu(quick=quick)
    store_ceiling(key, ceilings)
    return ceilings

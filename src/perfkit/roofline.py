"""Measured ceilings of this machine (copy bandwidth, GEMM per dtype) and % of roof."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from perfkit._atomic import write_text_atomic
from perfkit.load import ContentionMeter
from perfkit.measure import MeasurePolicy, measure_thunk
from perfkit.timing import WallTimer
from perfkit.workload import Work

__all__ = [
    "cache_path",
    "calibrate_cpu",
    "cpu_ceilings",
    "load_cached_ceilings",
    "machine_key",
    "read_ceiling",
    "roof_fraction",
    "store_ceiling",
]

# Copy working sets (bytes read + written) from inside L2 to far past any last-level cache:
# a case is held to the bandwidth of the smallest working set at least as large as its own,
# so a vector that lives in cache is not credited 200% of the DRAM roof.
_COPY_SIZES = (1 << 18, 1 << 20, 1 << 22, 1 << 24, 1 << 26, 1 << 28)
_FORMAT = 2  # bumped when the cached ceilings change shape; older entries are ignored
_GEMM_SIZES = (1024, 2048)
_GEMM_SIZES_QUICK = (512,)


def roof_fraction(work: Work, seconds: float, ceiling: Mapping[str, Any] | None) -> float | None:
    """Achieved over attainable throughput: min(peak flops, intensity x bandwidth).

    Without flops (a pure copy) it is achieved bandwidth over the copy bandwidth. None when
    the ceiling for this device or dtype was never measured.
    """
    if not ceiling or seconds <= 0:
        return None
    bandwidth = bandwidth_for(ceiling, work.bytes)
    peak = ceiling.get("flops", {}).get(work.dtype or "")
    if work.flops:  # held to this dtype's peak: none measured (bfloat16 on a CPU), no roof
        if not (peak and bandwidth and work.bytes):
            return None
        attainable = min(float(peak), work.flops / work.bytes * bandwidth)
        return work.flops / seconds / attainable
    if work.bytes and bandwidth:
        return work.bytes / seconds / bandwidth
    return None


def bandwidth_for(ceiling: Mapping[str, Any], working_set: float) -> float:
    """Copy bandwidth measured at the smallest calibrated working set >= ``working_set``
    (the largest one's, DRAM, beyond them)."""
    table = sorted((float(size), float(bw)) for size, bw in ceiling.get("bandwidth", []))
    for size, bandwidth in table:
        if working_set <= size:
            return bandwidth
    return table[-1][1] if table else 0.0


def machine_key(threads: int) -> str:
    """Ceilings depend on the CPU, the thread count and the BLAS numpy links."""
    from perfkit.metadata import cpu_brand

    text = f"v{_FORMAT}|{cpu_brand()}|{os.cpu_count()}|{threads}|numpy {np.__version__}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cache_path() -> Path:
    root = os.environ.get("PERFKIT_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "perfkit"
    )
    return Path(root) / "ceilings.json"


def _read_cache() -> dict[str, Any]:
    try:
        data = json.loads(cache_path().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_ceiling(key: str) -> dict[str, Any] | None:
    """The cached ceilings stored under ``key``, or None."""
    entry = _read_cache().get(key)
    return entry if isinstance(entry, dict) else None


def store_ceiling(key: str, ceilings: dict[str, Any]) -> None:
    data = _read_cache()
    data[key] = ceilings
    write_text_atomic(cache_path(), json.dumps(data, indent=1))


def load_cached_ceilings(threads: int) -> dict[str, Any] | None:
    return read_ceiling(machine_key(threads))


def _rate(thunk: Callable[[], Any], amount: float, policy: MeasurePolicy) -> float:
    run = measure_thunk(thunk, WallTimer(lambda: None), policy, policy.budget)
    # A ceiling is what the machine can reach: the best sample, not the typical one.
    return amount / min(run.samples)


def _copy(total_bytes: int, pool: ThreadPoolExecutor | None, threads: int) -> Callable[[], Any]:
    """A copy touching ``total_bytes``; with a pool, split across ``threads`` threads (numpy
    releases the GIL in copyto), so large copies reach the machine's bandwidth, not one
    core's. Small ones are faster on one thread than the pool's hand-off costs."""
    src = np.ones(total_bytes // 16)
    dst = np.empty_like(src)
    if pool is None:
        return lambda: np.copyto(dst, src)
    bounds = np.linspace(0, src.size, threads + 1).astype(int)
    chunks = [(dst[a:b], src[a:b]) for a, b in itertools.pairwise(bounds)]
    return lambda: list(pool.map(lambda pair: np.copyto(*pair), chunks))


def _gemm(a: np.ndarray, b: np.ndarray) -> Callable[[], Any]:
    out = np.empty((a.shape[0], b.shape[1]), dtype=a.dtype)
    return lambda: np.matmul(a, b, out=out)


def calibrate_cpu(threads: int, quick: bool = False) -> dict[str, Any]:
    """Measure copy bandwidth (bytes read + written per second) per working-set size and
    GEMM flop/s per dtype with ``threads`` BLAS threads. A copy's ceiling is the better of
    one thread and ``threads`` threads."""
    from threadpoolctl import threadpool_limits

    policy = MeasurePolicy(
        min_sample_time=0.05,
        min_samples=5,
        max_samples=30,
        target_rel_ci=0.02,
        budget=0.2 if quick else 0.5,
    )
    meter = ContentionMeter()  # ceilings measured beside other work come out low
    with (
        meter,
        threadpool_limits(limits=threads),
        ThreadPoolExecutor(max_workers=threads) as pool,
    ):
        bandwidth = [
            [size, max(_rate(_copy(size, p, threads), size, policy) for p in (None, pool))]
            for size in _COPY_SIZES
        ]
        flops: dict[str, float] = {}
        for dtype in ("float32", "float64"):
            best = 0.0
            for n in _GEMM_SIZES_QUICK if quick else _GEMM_SIZES:
                rng = np.random.default_rng(n)
                a = rng.random((n, n)).astype(dtype)
                b = rng.random((n, n)).astype(dtype)
                best = max(best, _rate(_gemm(a, b), 2.0 * n**3, policy))
            flops[dtype] = best
    return {
        "bandwidth": bandwidth,
        "flops": flops,
        "threads": threads,
        "quick": quick,
        "measured": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "other_cpu": meter.other_cpu,
    }


def ceilings_warning(ceilings: Mapping[str, Any], limit: float = 0.25) -> str | None:
    """Why these ceilings may be low: other processes took CPU while they were measured."""
    other = ceilings.get("other_cpu")
    if not isinstance(other, (int, float)) or other <= limit:
        return None
    return (
        f"the ceilings were measured while other processes used {other:.2f} cores: they may "
        "be low (cases above 100% of roof); `perfkit calibrate` on a quiet machine measures "
        "them again"
    )


def cpu_ceilings(threads: int, refresh: bool = False, quick: bool = False) -> dict[str, Any]:
    """The cached ceilings for this machine, measured (and cached) when missing or asked."""
    cached = None if refresh else load_cached_ceilings(threads)
    if cached is not None:
        return cached
    ceilings = calibrate_cpu(threads, quick=quick)
    store_ceiling(machine_key(threads), ceilings)
    return ceilings

"""Measuring this machine's CPU ceilings: copy bandwidth per working set and GEMM flop/s per
dtype, with the sampler every case uses; cached in ``perfkit.machine.ceilings``."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from perfkit.engine.sampler import measure_thunk
from perfkit.machine.ceilings import (
    best_of,
    impossible,
    load_cached_ceilings,
    machine_key,
    settled_ceilings,
    store_ceiling,
)
from perfkit.machine.load import ContentionMeter
from perfkit.model.policy import MeasurePolicy
from perfkit.model.timers import WallTimer

__all__ = ["calibrate_cpu", "cpu_ceilings"]

# Copy working sets (bytes read + written) from inside L2 to far past any last-level cache:
# a case is held to the bandwidth of the smallest working set at least as large as its own,
# so a vector that lives in cache is not credited 200% of the DRAM roof.
_COPY_SIZES = (1 << 18, 1 << 20, 1 << 22, 1 << 24, 1 << 26, 1 << 28)
_GEMM_SIZES = (1024, 2048)
_GEMM_SIZES_QUICK = (512,)


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


# Measurements of an impossible set before it is kept as it is (with its warning).
_ATTEMPTS = 3


def cpu_ceilings(threads: int, refresh: bool = False, quick: bool = False) -> dict[str, Any]:
    """This machine's ceilings: the cached ones when they are final (``settled_ceilings``),
    else measured now and kept as the best of every measurement so far (``best_of``); a
    set that is impossible (``impossible``) is measured again, up to three times. Only a
    set measured on a quiet machine and possible is cached as final."""
    cached = load_cached_ceilings(threads)
    if cached is not None and not refresh and settled_ceilings(cached):
        return cached
    best = cached if cached is not None and not cached.get("quick") else None
    for _ in range(_ATTEMPTS):
        measured = calibrate_cpu(threads, quick=quick)
        best = best_of(best, measured)
        if impossible(best) is None:
            break
    assert best is not None
    store_ceiling(machine_key(threads), best)
    return best

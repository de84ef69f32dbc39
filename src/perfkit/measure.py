"""The sampling loop: warm-up, loop calibration, convergence (the policy is in ``policy``)."""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable
from typing import Any

from perfkit.policy import MeasurePolicy
from perfkit.record import SampleRun, StopReason
from perfkit.stats import relative_ci_width
from perfkit.timing import Timer

__all__ = ["MeasurePolicy", "calibrate_loops", "loops_for", "measure_thunk"]

# Samples from this many calls onwards are enough to compute a CI of the median that exists.
_MIN_CI_SAMPLES = 6


def _timed(timer: Timer, thunk: Callable[[], Any], loops: int) -> float:
    """One sample with the collector off, as timeit does: a cycle collection inside a
    sample would be charged to whichever case happened to trigger it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return timer.time(thunk, loops)
    finally:
        if enabled:
            gc.enable()


def _calibrate(timer: Timer, thunk: Callable[[], Any], min_sample_time: float) -> tuple[int, float]:
    """Calls per sample and the seconds per call seen at that count."""
    loops = 1
    while True:
        elapsed = _timed(timer, thunk, loops)
        if elapsed >= min_sample_time or loops >= 1 << 30:
            return loops, elapsed / loops
        # Aim 20% past the target, at most 10x per step so one lucky fast sample cannot overshoot.
        scale = 10.0 if elapsed <= 0 else min(10.0, min_sample_time / elapsed * 1.2)
        loops = max(loops + 1, math.ceil(loops * scale))


def calibrate_loops(timer: Timer, thunk: Callable[[], Any], min_sample_time: float) -> int:
    """The number of calls per sample that makes one sample last ``min_sample_time``."""
    return _calibrate(timer, thunk, min_sample_time)[0]


def loops_for(calibrated: int, per_call: float, min_samples: int, budget: float) -> int:
    """Calls per sample, fewer than calibrated where ``min_samples`` samples of the
    calibrated length would not fit in ``budget``: a 15 ms call gets 15 ms samples, not
    30 ms ones, when that is what it takes to have the samples a median needs."""
    if per_call <= 0:
        return calibrated
    fitting = math.floor(budget / (min_samples * per_call))
    return max(1, min(calibrated, fitting))


def measure_thunk(
    thunk: Callable[[], Any],
    timer: Timer,
    policy: MeasurePolicy,
    budget: float,
    process: int = 0,
) -> SampleRun:
    """Warm up, calibrate, then sample until the median's CI is narrow or the budget is spent.

    ``budget`` counts sampling only (warm-up and calibration come before it). Sampling never
    stops before ``policy.min_samples``: a call too slow for that many samples in the
    budget takes as long as they need (the per-case timeout still applies). A sample that is
    not a finite, non-negative number raises ValueError, so a broken timer fails its case
    instead of reaching the record.
    """
    for _ in range(policy.warmup):
        thunk()
    calibrated, per_call = _calibrate(timer, thunk, policy.min_sample_time)
    loops = loops_for(calibrated, per_call, policy.min_samples, budget)
    samples: list[float] = []
    stop: StopReason = "max_samples"
    gc.collect()
    start = time.perf_counter()
    while len(samples) < policy.max_samples:
        sample = _timed(timer, thunk, loops) / loops
        if not (math.isfinite(sample) and sample >= 0):
            raise ValueError(f"sample {len(samples) + 1} is {sample!r}, not a time")
        samples.append(sample)
        if len(samples) < policy.min_samples:
            continue
        if len(samples) >= _MIN_CI_SAMPLES and (
            relative_ci_width(samples, policy.confidence) <= policy.target_rel_ci
        ):
            stop = "converged"
            break
        if time.perf_counter() - start >= budget:
            stop = "budget"
            break
    return SampleRun(process=process, loops=loops, samples=tuple(samples), stop=stop)

"""MeasurePolicy and the sampling loop: warm-up, loop calibration, convergence."""

from __future__ import annotations

import dataclasses
import gc
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from perfkit.errors import UsageError
from perfkit.record import SampleRun, StopReason
from perfkit.stats import relative_ci_width
from perfkit.timing import Timer

__all__ = ["MeasurePolicy", "calibrate_loops", "measure_thunk"]

MEASURES = ("time", "instructions")

# Samples from this many calls onwards are enough to compute a CI of the median that exists.
_MIN_CI_SAMPLES = 6


@dataclass(frozen=True, slots=True)
class MeasurePolicy:
    """How long and how carefully to measure each case.

    ``budget`` is the sampling time per case in seconds, shared by its ``processes``
    worker processes; a process stops earlier once the 95% CI of its median is narrower
    than ``target_rel_ci`` of the median (and it has ``min_samples``), and never takes more
    than ``max_samples``. A CI inside one process cannot see how much processes differ
    from each other, so a case whose process medians spread wider than twice the target
    gets up to ``extra_processes`` more, each with the same share of the budget.
    """

    warmup: int = 1
    min_sample_time: float = 0.02
    min_samples: int = 10
    max_samples: int = 200
    target_rel_ci: float = 0.02
    budget: float = 4.0
    processes: int = 2
    extra_processes: int = 2
    timeout: float = 120.0
    blas_threads: int = 0  # 0: every CPU this process may run on
    seed: int = 0
    confidence: float = 0.95
    measure: str = "time"  # or "instructions": callgrind counts, CPU cases only
    instruction_loops: int = 20
    cold: bool = False  # GPU backends: flush the L2 cache before every timed call

    def __post_init__(self) -> None:
        for name in ("min_sample_time", "budget", "timeout", "target_rel_ci"):
            if not getattr(self, name) > 0:
                raise UsageError(f"{name} must be positive, got {getattr(self, name)}")
        if self.processes < 1 or self.min_samples < 1 or self.max_samples < self.min_samples:
            raise UsageError("need processes >= 1 and 1 <= min_samples <= max_samples")
        if self.extra_processes < 0:
            raise UsageError(f"extra_processes must be >= 0, got {self.extra_processes}")
        if self.measure not in MEASURES:
            raise UsageError(f"measure must be one of {', '.join(MEASURES)}, got {self.measure!r}")
        if not 0 < self.confidence < 1:
            raise UsageError(f"confidence must lie in (0, 1), got {self.confidence}")

    @classmethod
    def quick(cls, **changes: Any) -> MeasurePolicy:
        """Seconds, not minutes: one process, short samples, a loose CI."""
        base = cls(
            min_sample_time=0.005,
            min_samples=5,
            max_samples=50,
            target_rel_ci=0.05,
            budget=0.5,
            processes=1,
            extra_processes=0,
        )
        return dataclasses.replace(base, **changes)

    def replace(self, **changes: Any) -> MeasurePolicy:
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MeasurePolicy:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


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


def calibrate_loops(timer: Timer, thunk: Callable[[], Any], min_sample_time: float) -> int:
    """The number of calls per sample that makes one sample last ``min_sample_time``."""
    loops = 1
    while True:
        elapsed = _timed(timer, thunk, loops)
        if elapsed >= min_sample_time or loops >= 1 << 30:
            return loops
        # Aim 20% past the target, at most 10x per step so one lucky fast sample cannot overshoot.
        scale = 10.0 if elapsed <= 0 else min(10.0, min_sample_time / elapsed * 1.2)
        loops = max(loops + 1, math.ceil(loops * scale))


def measure_thunk(
    thunk: Callable[[], Any],
    timer: Timer,
    policy: MeasurePolicy,
    budget: float,
    process: int = 0,
) -> SampleRun:
    """Warm up, calibrate, then sample until the median's CI is narrow or the budget is spent.

    ``budget`` counts sampling only (warm-up and calibration come before it). A case stops
    at ``min_samples`` or later, unless the budget runs out first; it never stops under two
    samples, so a spread is always recorded.
    """
    for _ in range(policy.warmup):
        thunk()
    loops = calibrate_loops(timer, thunk, policy.min_sample_time)
    samples: list[float] = []
    stop: StopReason = "max_samples"
    gc.collect()
    start = time.perf_counter()
    while len(samples) < policy.max_samples:
        samples.append(_timed(timer, thunk, loops) / loops)
        elapsed = time.perf_counter() - start
        if len(samples) >= max(policy.min_samples, _MIN_CI_SAMPLES) and (
            relative_ci_width(samples, policy.confidence) <= policy.target_rel_ci
        ):
            stop = "converged"
            break
        if elapsed >= budget and len(samples) >= 2:
            stop = "budget"
            break
    return SampleRun(process=process, loops=loops, samples=tuple(samples), stop=stop)

"""The sampling loop: warm-up, loop calibration, convergence (the policy is in ``policy``)."""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable
from typing import Any

from perfkit.model.policy import MeasurePolicy
from perfkit.model.timers import Timer
from perfkit.records.run_record import SampleRun, StopReason
from perfkit.verdict.stats import relative_ci_width

__all__ = [
    "SLOW_CALL_SAMPLES",
    "MeasurePolicy",
    "Sampler",
    "calibrate_loops",
    "loops_for",
    "measure_thunk",
    "samples_needed",
]

# Samples from this many calls onwards are enough to compute a CI of the median that exists.
_MIN_CI_SAMPLES = 6
# The fewest samples of a call too slow for ``min_samples`` of them in its budget: a median
# of three, whose interval is wider (the results table says so), instead of a timeout.
SLOW_CALL_SAMPLES = 3
# A first (verifying) call this long has warmed what a warm-up call would: none is taken.
_WARM_AFTER = 0.25


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


def samples_needed(per_call: float, min_samples: int, budget: float) -> int:
    """The samples a case must take: ``min_samples``, or as many single calls as fit in
    ``budget`` when fewer do, but never under ``SLOW_CALL_SAMPLES``."""
    if per_call <= 0:
        return min_samples
    fitting = math.floor(budget / per_call)
    return max(min(min_samples, SLOW_CALL_SAMPLES), min(min_samples, fitting))


def loops_for(calibrated: int, per_call: float, min_samples: int, budget: float) -> int:
    """Calls per sample, fewer than calibrated where ``min_samples`` samples of the
    calibrated length would not fit in ``budget``: a 15 ms call gets 15 ms samples, not
    30 ms ones, when that is what it takes to have the samples a median needs."""
    if per_call <= 0:
        return calibrated
    fitting = math.floor(budget / (min_samples * per_call))
    return max(1, min(calibrated, fitting))


class Sampler:
    """The sampling loop of one case, a sample at a time: warm-up and calibration when made,
    then ``take`` until ``done``.

    ``budget`` counts this sampler's own sampling time only, so two samplers taking turns
    (the two sides of a comparison) each get the whole of theirs. Sampling
    is done once ``policy.min_samples`` are in and the median's CI is narrow, or the budget
    is spent, or ``policy.max_samples`` are in; a sampler asked for more once done goes on
    (up to ``max_samples``) but keeps the reason it first stopped for. A slow call that
    could not fit ``min_samples`` in the budget gets fewer calls per sample, and a call too
    slow for ``min_samples`` single calls gets fewer samples (``samples_needed``, at least
    three). A call of at least ``min_sample_time`` times one call to calibrate: that call
    is the first sample, unless ``keep_calibration`` is False (samples taken in turns are
    taken only when the runner says). Given ``first_call`` (the verifying call's seconds),
    a call that long has been warmed by it and no warm-up call is made. Given ``loops``
    (calls a sample that earlier repetitions of the run calibrated), there is no
    calibration: a timed warm-up says how long a call takes, and every sample has ``loops``
    calls (a side slower than the one that calibrated takes longer samples). A sample that
    is not a finite, non-negative number raises ValueError, so a broken timer fails its
    case instead of reaching the record.
    """

    def __init__(
        self,
        thunk: Callable[[], Any],
        timer: Timer,
        policy: MeasurePolicy,
        budget: float,
        process: int = 0,
        *,
        first_call: float | None = None,
        loops: int | None = None,
        keep_calibration: bool = True,
    ) -> None:
        self.thunk = thunk
        self.timer = timer
        self.policy = policy
        self.budget = budget
        self.process = process
        warmed = first_call is not None and first_call >= _WARM_AFTER
        start = time.perf_counter()
        if loops is not None and loops < 1:
            loops = None
        if loops is not None:
            # Calls a sample given (the run's earlier repetitions found them): no calibration.
            # A timed warm-up says how long a call takes, unless the verifying call warmed it.
            calibrated = loops
            if warmed:
                assert first_call is not None
                per_call = first_call
            else:
                per_call = _timed(timer, thunk, loops) / loops
            keep_calibration = False
        else:
            for _ in range(0 if warmed else policy.warmup):
                thunk()
            start = time.perf_counter()
            calibrated, per_call = _calibrate(timer, thunk, policy.min_sample_time)
        self.per_call = per_call
        self.min_samples = samples_needed(per_call, policy.min_samples, budget)
        self.loops = (
            calibrated
            if loops is not None
            else loops_for(calibrated, per_call, self.min_samples, budget)
        )
        self.samples: list[float] = []
        self.stop: StopReason | None = None
        self.spent = 0.0
        one_call = calibrated == 1 and self.loops == 1
        if keep_calibration and one_call and math.isfinite(per_call) and per_call >= 0:
            # one call, timed: the first sample
            self.spent = max(time.perf_counter() - start, per_call)
            self.samples.append(per_call)
        gc.collect()

    def seconds_left(self) -> float:
        """How long sampling may still take: the budget left, or the samples still needed."""
        needed = max(0, self.min_samples - len(self.samples)) * self.loops * self.per_call
        return max(self.budget - self.spent, needed) + self.loops * self.per_call

    @property
    def done(self) -> bool:
        return self.stop is not None

    @property
    def full(self) -> bool:
        return len(self.samples) >= self.policy.max_samples

    def take(self) -> None:
        """One more sample, unless ``max_samples`` are in."""
        if self.full:
            return
        start = time.perf_counter()
        timed = _timed(self.timer, self.thunk, self.loops)
        sample = timed / self.loops
        # The wall time, or the timed time where a timer says more (a device's clock)
        self.spent += max(time.perf_counter() - start, timed if math.isfinite(timed) else 0.0)
        if not (math.isfinite(sample) and sample >= 0):
            raise ValueError(f"sample {len(self.samples) + 1} is {sample!r}, not a time")
        self.samples.append(sample)
        if self.stop is None:
            self.stop = self._stop_reason()

    def take_until_done(self) -> None:
        """Sample on until the sampling rule is done (a sampler alone, not in turns)."""
        while not self.done:
            self.take()

    def _stop_reason(self) -> StopReason | None:
        count = len(self.samples)
        if count < self.min_samples:
            return None
        if count >= _MIN_CI_SAMPLES and (
            relative_ci_width(self.samples, self.policy.confidence) <= self.policy.target_rel_ci
        ):
            return "converged"
        if self.spent >= self.budget:
            return "budget"
        return "max_samples" if self.full else None

    def run(self) -> SampleRun:
        return SampleRun(
            process=self.process,
            loops=self.loops,
            samples=tuple(self.samples),
            stop=self.stop or "max_samples",
        )


def measure_thunk(
    thunk: Callable[[], Any],
    timer: Timer,
    policy: MeasurePolicy,
    budget: float,
    process: int = 0,
    *,
    first_call: float | None = None,
) -> SampleRun:
    """Warm up, calibrate, then sample until done (``Sampler``); ``budget`` counts sampling
    only (warm-up and calibration come before it), and the per-case timeout still applies
    to a call too slow for ``policy.min_samples`` in it."""
    sampler = Sampler(thunk, timer, policy, budget, process, first_call=first_call)
    sampler.take_until_done()
    return sampler.run()

"""The sampling loop: loop calibration, convergence stop, budget stop, policy validation."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from perfkit import MeasurePolicy, UsageError
from perfkit.engine.sampler import calibrate_loops, loops_for, measure_thunk
from perfkit.model.timers import WallTimer

# These tests compare times, CPU shares or rates: CI runs them again beside a CPU burner.
pytestmark = pytest.mark.measures


class ScriptedTimer:
    """A Timer whose per-call cost comes from a script: the loop logic, free of machine noise."""

    def __init__(self, per_call: Iterator[float]) -> None:
        self.per_call = per_call
        self.calls: list[int] = []

    def time(self, thunk: Callable[[], Any], loops: int) -> float:
        self.calls.append(loops)
        return next(self.per_call) * loops


def test_calibration_reaches_the_minimum_sample_time() -> None:
    timer = ScriptedTimer(itertools.repeat(1e-6))
    loops = calibrate_loops(timer, lambda: None, min_sample_time=0.01)
    assert loops * 1e-6 >= 0.01
    assert loops * 1e-6 < 0.05  # aims 20% past the target, not 5x past it
    assert all(b > a for a, b in itertools.pairwise(timer.calls))


def test_calibration_of_a_slow_call_keeps_one_loop() -> None:
    assert calibrate_loops(ScriptedTimer(itertools.repeat(0.5)), lambda: None, 0.01) == 1


class _Recording(WallTimer):
    """A real clock that remembers what it measured."""

    __slots__ = ("seen",)

    def __init__(self) -> None:
        super().__init__(lambda: None)
        self.seen: list[tuple[int, float]] = []

    def time(self, thunk: Callable[[], Any], loops: int) -> float:
        elapsed = super().time(thunk, loops)
        self.seen.append((loops, elapsed))
        return elapsed


def test_calibration_with_a_real_clock() -> None:
    """The loop count returned is the one whose sample reached the target on the clock,
    and every shorter count fell short (a loaded machine changes the count, not this)."""
    thunk = lambda: sum(range(100))  # noqa: E731
    timer = _Recording()
    loops = calibrate_loops(timer, thunk, 0.005)
    assert loops > 1
    assert timer.seen[-1] == (loops, timer.seen[-1][1])
    assert timer.seen[-1][1] >= 0.005
    assert all(elapsed < 0.005 for _, elapsed in timer.seen[:-1])


def test_identical_samples_converge_at_min_samples() -> None:
    policy = MeasurePolicy(min_samples=8, max_samples=100, budget=60.0, warmup=0)
    run = measure_thunk(lambda: None, ScriptedTimer(itertools.repeat(1e-3)), policy, 60.0)
    assert run.stop == "converged"
    assert len(run.samples) == 8


def test_noisy_samples_do_not_converge_and_stop_at_max_samples() -> None:
    # Alternating 1 ms / 3 ms: the median's CI stays as wide as the spread.
    noisy = itertools.cycle([1e-3, 3e-3])
    policy = MeasurePolicy(min_samples=5, max_samples=40, budget=60.0, warmup=0, target_rel_ci=0.01)
    run = measure_thunk(lambda: None, ScriptedTimer(noisy), policy, 60.0)
    assert run.stop == "max_samples"
    assert len(run.samples) == 40


def test_budget_stops_sampling() -> None:
    policy = MeasurePolicy(
        min_samples=5, max_samples=10000, min_sample_time=0.001, target_rel_ci=1e-9, warmup=0
    )
    start = time.perf_counter()
    run = measure_thunk(lambda: time.sleep(0.002), WallTimer(lambda: None), policy, 0.3)
    assert run.stop == "budget"
    assert 5 <= len(run.samples) < 1000
    assert time.perf_counter() - start < 5


def test_a_call_longer_than_the_budget_still_gives_the_minimum_samples() -> None:
    """The budget grows for a slow case: three samples of a 50 ms call against 10 ms."""
    policy = MeasurePolicy(min_samples=3, warmup=0, min_sample_time=0.001)
    run = measure_thunk(lambda: time.sleep(0.05), WallTimer(lambda: None), policy, 0.01)
    assert len(run.samples) == 3
    assert run.loops == 1
    assert run.stop == "budget"


def test_a_slow_case_gets_fewer_calls_per_sample_to_fit_its_minimum() -> None:
    """15 ms calls, 20 ms samples would take two calls each: ten samples need 300 ms,
    past a 200 ms budget, so each sample is one call (150 ms for ten)."""
    timer = ScriptedTimer(itertools.repeat(0.015))
    policy = MeasurePolicy(min_samples=10, warmup=0, target_rel_ci=1e-9, max_samples=10)
    run = measure_thunk(lambda: None, timer, policy, 0.2)
    assert run.loops == 1
    assert len(run.samples) == 10
    assert loops_for(100, 1e-4, 10, 0.2) == 100  # fits: calibrated loops kept
    assert loops_for(100, 1e-3, 10, 0.2) == 20
    assert loops_for(100, 1.0, 10, 0.2) == 1


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -1e-3])
def test_a_sample_that_is_not_a_time_fails_the_measurement(bad: float) -> None:
    timer = ScriptedTimer(itertools.chain([1e-3, 1e-3], itertools.repeat(bad)))
    policy = MeasurePolicy(warmup=0, min_sample_time=1e-4)
    with pytest.raises(ValueError, match="not a time"):
        measure_thunk(lambda: None, timer, policy, 1.0)


def test_samples_are_seconds_per_call() -> None:
    timer = ScriptedTimer(itertools.repeat(2e-6))
    run = measure_thunk(lambda: None, timer, MeasurePolicy(warmup=0), 1.0)
    assert run.loops > 1
    assert run.samples[0] == pytest.approx(2e-6)


@pytest.mark.parametrize(
    "changes",
    [
        {"budget": 0},
        {"processes": 0},
        {"min_samples": 5, "max_samples": 4},
        {"confidence": 1.5},
        {"target_rel_ci": -1},
    ],
)
def test_bad_policies_are_usage_errors(changes: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        MeasurePolicy(**changes)


def test_policy_round_trips_through_json() -> None:
    policy = MeasurePolicy.quick(seed=7)
    assert MeasurePolicy.from_json(policy.to_json()) == policy
    assert policy.processes == 1
    assert MeasurePolicy().processes >= 2


def test_calls_a_sample_given_by_an_earlier_repetition_skip_calibration() -> None:
    """Later repetitions of ``perfkit ab`` sample with the loops the first calibrated: one
    timed warm-up of that many calls, then every sample with that many calls, also on a
    side whose calls are slower than the calibrating side's; the warm-up is no sample."""
    from perfkit.engine.sampler import Sampler

    policy = MeasurePolicy(min_samples=4, max_samples=4, min_sample_time=0.01)
    timer = ScriptedTimer(itertools.repeat(1e-3))
    sampler = Sampler(lambda: None, timer, policy, 1.0, loops=7, keep_calibration=True)
    assert (sampler.loops, sampler.samples, timer.calls) == (7, [], [7])
    sampler.take_until_done()
    assert timer.calls == [7] * 5
    slow = ScriptedTimer(itertools.repeat(5e-3))  # five times the calibrating side's call
    assert Sampler(lambda: None, slow, policy, 0.01, loops=7).loops == 7
    # Without loops: calibrated, as before, and the budget may cut the calls.
    assert Sampler(lambda: None, ScriptedTimer(itertools.repeat(1e-3)), policy, 1.0).loops >= 10

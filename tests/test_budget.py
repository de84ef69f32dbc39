"""The time budget of a run, a slow call's sampling and timeout, and the plan it says."""

from __future__ import annotations

import itertools
import os
import subprocess
import time
from pathlib import Path

import pytest

from perfkit import MeasurePolicy
from perfkit.engine.budget import TimeBudget
from perfkit.engine.sampler import SLOW_CALL_SAMPLES, Sampler, measure_thunk, samples_needed
from perfkit.engine.supervisor import STOPPED
from perfkit.records.run_record import load_record
from tests.conftest import FAULTY, perfkit
from tests.test_measure import ScriptedTimer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_share_is_what_is_left_after_the_overheads_split_evenly() -> None:
    clock = Clock()
    budget = TimeBudget(60.0, clock)
    # Nothing seen yet: a second of overhead a case is assumed; 10 cases: (60 - 10) / 10.
    assert budget.share(10, most=100.0) == pytest.approx(5.0)
    assert budget.share(10, most=2.0) == 2.0, "never more than the policy's own share"
    clock.now += 20
    budget.spend("a", wall=20.0, sampling=16.0)  # 4 s of overhead a case from now on
    assert budget.share(5, most=100.0) == pytest.approx((40 - 5 * 4) / 5)
    clock.now += 100  # past the budget: the least there is, and the case still runs
    assert 0 < budget.share(5, most=100.0) < 0.1


def test_later_repetitions_take_the_cheapest_cases_that_fit_together() -> None:
    clock = Clock()
    budget = TimeBudget(30.0, clock)
    for case, cost in (("slow", 20.0), ("quick", 1.0), ("middling", 5.0)):
        budget.spend(case, wall=cost, sampling=0.0)
    clock.now += 24  # 6 s left
    assert budget.fitting(["slow", "quick", "middling", "never-run"]) == {"quick", "middling"}
    clock.now += 5.5
    assert budget.fitting(["slow", "quick", "middling"]) == set()


def test_a_budget_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        TimeBudget(0.0)


def test_a_call_of_seconds_takes_three_samples_and_no_extra_calls() -> None:
    """A 2 s call against a 1 s budget and ten samples wanted: three samples, the timed
    calibration call the first of them, and no warm-up after a verifying call that long."""
    timer = ScriptedTimer(itertools.repeat(2.0))
    policy = MeasurePolicy(min_samples=10, warmup=1, target_rel_ci=1e-9)
    calls = []
    sampler = Sampler(lambda: calls.append(1), timer, policy, 1.0, first_call=2.0)
    assert calls == [], "the verifying call warmed it: no warm-up call"
    assert sampler.min_samples == SLOW_CALL_SAMPLES
    assert len(sampler.samples) == 1, "the calibration call is the first sample"
    assert sampler.seconds_left() == pytest.approx(2 * 2.0 + 2.0)
    sampler.take_until_done()
    assert timer.calls == [1, 1, 1]
    assert sampler.run().stop == "budget"


def test_a_fast_call_is_warmed_up_and_keeps_its_minimum_samples() -> None:
    timer = ScriptedTimer(itertools.repeat(1e-4))
    calls = []
    policy = MeasurePolicy(min_samples=10, warmup=1, target_rel_ci=1e-9, max_samples=10)
    run = measure_thunk(lambda: calls.append(1), timer, policy, 1.0, first_call=1e-4)
    assert calls == [1], "one warm-up call"
    assert len(run.samples) == 10
    assert samples_needed(1e-4, 10, 1.0) == 10
    assert samples_needed(0.3, 10, 1.0) == 3
    assert samples_needed(0.05, 10, 1.0) == 10
    assert samples_needed(0.2, 2, 0.1) == 2, "never more than min_samples"


def _compare_slow(tmp_path: Path, seconds: str, *options: str) -> subprocess.CompletedProcess[str]:
    """``perfkit compare`` of the plugin's slow port (calls of ``seconds``) into out.json."""
    return perfkit(
        "compare", "-w", "faulty_probe", "-b", "python:slow", "--no-calibrate", "--no-report",
        "--plugin", str(FAULTY), "-o", "out.json", *options,
        cwd=tmp_path, env={**os.environ, "FAULTY_SLOW_SECONDS": seconds},
    )  # fmt: skip


@pytest.mark.slow
def test_a_slow_call_outlasting_the_timeout_is_measured_not_failed(tmp_path: Path) -> None:
    """1.5 s calls with a 4 s timeout: the verifying call fits; the worker then says how
    long its calls take and the limit grows with them (before, the case failed after 4 s)."""
    done = _compare_slow(tmp_path, "1.5", "--quick", "--timeout", "4")
    assert done.returncode == 0, done.stdout + done.stderr
    (result,) = load_record(tmp_path / "out.json").results
    assert result.status == "ok", result.reason
    assert result.measurement is not None
    assert len(result.measurement.samples) == SLOW_CALL_SAMPLES
    assert "3 samples" in done.stdout, "the table says the interval is wide"


@pytest.mark.slow
def test_a_spent_budget_trims_later_repetitions(tmp_path: Path) -> None:
    """One case of 3 s calls (12 s at the least) against a 10 s budget and two processes:
    the first repetition runs whole, the second does not fit. (10 s: a loaded machine may
    take seconds to start the first worker, and the budget counts them.)"""
    done = _compare_slow(tmp_path, "3", "--quick", "--processes", "2", "--time-budget", "10")
    assert done.returncode == 0, done.stdout + done.stderr
    (result,) = load_record(tmp_path / "out.json").results
    assert result.status == "ok", "a spent budget fails nothing"
    assert result.measurement is not None
    assert len(result.measurement.runs) == 1
    assert "time budget: 1 cases measured in fewer than 2 processes" in done.stdout
    assert "time budget 10 s" in done.stderr, "the plan is said before measuring"
    assert "[1/1] faulty_probe/" in done.stderr, "a progress line a case when piped"
    assert "left)" in done.stderr


@pytest.mark.slow
def test_a_case_that_no_longer_fits_is_skipped_saying_why(tmp_path: Path) -> None:
    """Two sizes of 3 s calls against a 10 s budget: the first takes 12 s at the least, so
    the second is not started; it is skipped with the reason, and the run exits 0."""
    done = _compare_slow(
        tmp_path, "3", "-p", "n=100,1000", "--processes", "1", "--time-budget", "10"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    first, second = load_record(tmp_path / "out.json").results
    assert first.status == "ok"
    assert second.status == "skipped"
    assert "time budget of 10 s" in second.reason
    assert "--time-budget" in second.reason, "it says how to measure it"
    assert "time budget: 1 cases not started, 0 stopped" in done.stdout


@pytest.mark.slow
def test_a_case_still_running_past_the_budget_and_its_grace_is_stopped(tmp_path: Path) -> None:
    """Calls of 6 s (24 s at the least) against a 4 s budget: its grace (10 s at the least)
    ends at 14 s, mid-sampling; the case is stopped and skipped, not failed, the worker is
    gone, and the run exits 0 well before the case would have ended."""
    started = time.monotonic()
    done = _compare_slow(tmp_path, "6", "--quick", "--processes", "1", "--time-budget", "4")
    assert done.returncode == 0, done.stdout + done.stderr
    (result,) = load_record(tmp_path / "out.json").results
    assert result.status == "skipped"
    assert result.reason == STOPPED
    assert "0 cases not started, 1 stopped" in done.stdout
    assert time.monotonic() - started < 24, "it did not wait for the case to end"


def test_the_stop_comes_a_quarter_of_the_budget_after_it_and_10_s_at_the_least() -> None:
    clock = Clock()
    assert TimeBudget(40.0, clock).stop_at() == pytest.approx(clock.now + 50.0)
    assert TimeBudget(400.0, clock).stop_at() == pytest.approx(clock.now + 500.0)


def test_a_case_is_predicted_from_its_port_at_another_size() -> None:
    clock = Clock()
    budget = TimeBudget(60.0, clock)
    assert budget.refusal("matmul", "numpy:default", 1e6) == "", "a port never seen is started"
    budget.observe("matmul", "numpy:default", size=1e6, overhead=2.0, call=0.5)
    # Four calls at the least, each 8 times longer at 8 times the work: 2 + 4 * 4 = 18 s.
    assert budget.predicted("matmul", "numpy:default", 8e6) == pytest.approx(18.0)
    clock.now += 50  # 10 s left
    assert "about 18 s" in budget.refusal("matmul", "numpy:default", 8e6)
    assert budget.refusal("matmul", "numpy:default", 1e6) == "", "the same size fits: 4 s"
    assert budget.refusal("matmul", "torch_eager:default", 8e6) == "", "nor a backend never seen"
    assert "about 18 s" in budget.refusal("matmul", "numpy:other", 8e6), (
        "a variant as its backend's"
    )
    assert "takes about 12 s to start" in budget.refusal(
        "wordcount", "spark_local:x", 1.0, start=12.0
    )
    assert budget.refusal("wordcount", "spark_local:x", 1.0, start=8.0) == "", "its start fits"
    clock.now += 10
    assert "was spent" in budget.refusal("matmul", "torch_eager:default", 1.0)


def test_another_workloads_case_predicts_nothing() -> None:
    """Work is counted in each workload's own units: 2000 operations of one allocation
    driver (large blocks, 0.1 s a call) say nothing of 10^6 of another (0.04 s a call)."""
    clock = Clock()
    budget = TimeBudget(1200.0, clock)
    budget.observe("large_blocks", "glibc:default", size=2000, overhead=1.0, call=0.1)
    assert budget.predicted("thread_churn", "glibc:default", 1e6) is None
    assert budget.predicted("thread_churn", "glibc:other", 1e6) is None
    assert budget.refusal("thread_churn", "glibc:default", 1e6) == ""
    assert budget.predicted("large_blocks", "glibc:default", 4000) == pytest.approx(1.8)


@pytest.mark.parametrize("bad", ["-1", "soon", "inf", "nan"])
def test_a_bad_time_budget_is_a_usage_error(tmp_path: Path, bad: str) -> None:
    done = perfkit("compare", "-w", "matmul", "--time-budget", bad, cwd=tmp_path)
    assert done.returncode == 2
    assert "--time-budget" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1

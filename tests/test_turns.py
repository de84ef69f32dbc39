"""Sampling in turns: two sides measure each case at once, sample by sample."""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

import pytest

from perfkit import MeasurePolicy, registry
from perfkit._runner import Side, run_sides
from perfkit._supervisor import Supervisor
from perfkit._turns import measure_in_turns
from perfkit.load import ContentionMeter
from tests.conftest import FAULTY

QUICK = MeasurePolicy.quick(timeout=60.0, processes=2)


@pytest.fixture(autouse=True)
def _registry(loaded: None) -> None:
    return None


def _case(key: str):
    workload = registry.get_workload("faulty_probe")
    (case,) = registry.expand_cases(workload, [key], quick=True)
    return case


def _switches(pids: list[str]) -> int:
    return sum(a != b for a, b in itertools.pairwise(pids))


def test_two_sides_sample_in_turns_not_one_after_the_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "calls"
    monkeypatch.setenv("FAULTY_CALL_LOG", str(log))
    policy = QUICK.replace(min_samples=8, processes=1)
    sides = {"a": Side(), "b": Side()}
    outcome = run_sides([_case("python:logged")], policy, sides, plugins=[str(FAULTY)])
    assert [out.results[0].status for out in outcome.values()] == ["ok", "ok"], outcome
    runs = {side: out.results[0].measurement.runs for side, out in outcome.items()}
    assert all(len(r[0].samples) >= 8 for r in runs.values())
    pids = log.read_text().split()
    assert len(set(pids)) == 2
    # Side after side switches once; in turns, at least once a sample on every side.
    assert _switches(pids) >= 8, _switches(pids)
    # Each side sampled until both were done, so their counts differ by at most one turn.
    counts = sorted(len(r[0].samples) for r in runs.values())
    assert counts[1] - counts[0] <= 1 or counts[1] == policy.max_samples


def test_a_side_that_crashes_while_sampled_fails_alone() -> None:
    sides = {"base": Side(), "cand": Side(env={"FAULTY_CRASH_LATER": "1"})}
    outcome = run_sides([_case("python:crash_later")], QUICK, sides, plugins=[str(FAULTY)])
    base, cand = outcome["base"].results[0], outcome["cand"].results[0]
    assert cand.status == "failed"
    assert "worker exited with code" in cand.reason
    assert base.status == "ok"
    assert len(base.measurement.runs) == 1  # a case failed on a side is not run again
    assert len(base.measurement.runs[0].samples) >= QUICK.min_samples


def test_a_worker_that_measures_the_case_whole_drops_out_of_the_turns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker that answers with its result straight away (as a worker of an older
    harness does) is taken at its word; the other worker samples on alone."""
    monkeypatch.setenv("BAD_WORKER", "one_then_exit")
    case = _case("python:good")
    real = Supervisor(QUICK, [str(FAULTY)], 0, Side())
    other = Supervisor(QUICK, [], 0, Side())
    other.command = [sys.executable, str(FAULTY.parent / "bad_worker.py")]
    try:
        whole, sampled = measure_in_turns([other, real], case)
    finally:
        real.close()
        other.abort()
    assert (whole.status, whole.reason) == ("skipped", "fine")
    assert sampled.status == "ok"
    assert sampled.run is not None
    assert len(sampled.run.samples) >= QUICK.min_samples


def test_a_malformed_turn_message_fails_its_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAD_WORKER", "bad_turn")
    case = _case("python:good")
    bad = Supervisor(QUICK, [], 0, Side())
    bad.command = [sys.executable, str(FAULTY.parent / "bad_worker.py")]
    real = Supervisor(QUICK, [str(FAULTY)], 0, Side())
    try:
        first, second = measure_in_turns([bad, real], case)
    finally:
        real.close()
        bad.abort()
    assert first.status == "failed"
    assert "malformed worker message: done is 'maybe'" in first.reason
    assert second.status == "ok"


def test_the_contention_meter_counts_its_windows_only() -> None:
    meter = ContentionMeter()
    for _ in range(2):
        with meter:
            time.sleep(0.1)
        time.sleep(0.5)  # between turns: not metered
    assert 0.2 <= meter.seconds < 0.5
    assert meter.other_cpu is not None
    assert meter.other_cpu >= 0

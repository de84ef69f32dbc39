"""Sampling in turns: two sides measure each case at once, sample by sample."""

from __future__ import annotations

import itertools
import os
import sys
import time
from pathlib import Path

import pytest

from perfkit import MeasurePolicy
from perfkit.engine.affinity import allowed_cpus, pinned, sampling_cpu
from perfkit.engine.runner import Side, run_sides
from perfkit.engine.settle import OwnThreads
from perfkit.engine.supervisor import Supervisor
from perfkit.engine.turns import measure_in_turns
from perfkit.machine.load import ContentionMeter
from perfkit.model import registry
from tests.conftest import FAULTY

# These tests compare times, CPU shares or rates: CI runs them again beside a CPU burner.
pytestmark = pytest.mark.measures

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


@pytest.mark.slow
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
    pids = [line.split()[0] for line in log.read_text().splitlines()]
    assert len(set(pids)) == 2
    # Side after side switches once; in turns, at least once a sample on every side.
    assert _switches(pids) >= 8, _switches(pids)
    # Each side sampled until both were done and the last A B B A cycle was whole: the
    # same count a side, a whole number of cycles of the block the runs record.
    counts = sorted(len(r[0].samples) for r in runs.values())
    (block,) = {r[0].block for r in runs.values()}
    assert block == 1  # a pure-Python call leaves no pool spinning
    assert counts[0] == counts[1] or counts[1] == policy.max_samples
    assert counts[0] % (2 * block) == 0 or counts[1] == policy.max_samples
    # Both runs are marked as sampled in turns with each other, so the gate pairs their
    # samples; a side measured alone is not.
    names = {r[0].turns for r in runs.values()}
    assert len(names) == 1, names
    assert None not in names
    alone = run_sides([_case("python:logged")], policy, {"a": Side()}, plugins=[str(FAULTY)])
    assert alone["a"].results[0].measurement.runs[0].turns is None


@pytest.mark.slow
@pytest.mark.skipif(len(allowed_cpus()) < 2, reason="pinning needs a choice of two CPUs")
def test_both_sides_sample_a_case_on_one_cpu_that_changes_with_the_round(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "calls"
    monkeypatch.setenv("FAULTY_CALL_LOG", str(log))
    policy = QUICK.replace(min_samples=6, processes=2, extra_processes=0)
    sides = {"a": Side(), "b": Side()}
    outcome = run_sides([_case("python:logged")], policy, sides, plugins=[str(FAULTY)])
    assert [len(out.results[0].measurement.runs) for out in outcome.values()] == [2, 2]
    calls = [line.split() for line in log.read_text().splitlines()]
    everywhere = ",".join(str(cpu) for cpu in allowed_cpus())
    workers = list(dict.fromkeys(pid for pid, _ in calls))  # in the order they first called
    assert len(workers) == 4, workers  # two sides, two rounds
    first = {pid: next(cpus for p, cpus in calls if p == pid) for pid in workers}
    last = {pid: next(cpus for p, cpus in reversed(calls) if p == pid) for pid in workers}
    # Verification and warm-up run where the worker likes; sampling on the round's one CPU.
    assert set(first.values()) == {everywhere}, first
    rounds = [{last[pid] for pid in workers[:2]}, {last[pid] for pid in workers[2:]}]
    assert all(len(cpus) == 1 for cpus in rounds), rounds  # both sides on one CPU
    (one,), (other,) = rounds
    assert "," not in one, rounds
    assert one != other, rounds


def test_pinning_holds_the_thread_on_one_cpu_and_gives_its_cpus_back() -> None:
    before = os.sched_getaffinity(0)
    cpu = max(before)
    with pinned(cpu) as held:
        assert held
        assert os.sched_getaffinity(0) == {cpu}
    assert os.sched_getaffinity(0) == before
    with pinned(None) as held:
        assert not held
        assert os.sched_getaffinity(0) == before
    with pinned(max(before) + 1) as held:  # not allowed here: left alone
        assert not held
        assert os.sched_getaffinity(0) == before


def test_the_sampling_cpu_goes_round_the_allowed_cpus() -> None:
    cpus = [3, 5, 7]
    assert [sampling_cpu(cpus, 0, r) for r in range(4)] == [3, 5, 7, 3]
    assert [sampling_cpu(cpus, n, 1) for n in range(3)] == [5, 7, 3]
    assert sampling_cpu([2], 4, 1) is None
    assert sampling_cpu([], 0, 0) is None


def _blas_threads() -> int:
    from threadpoolctl import threadpool_info

    return max((pool["num_threads"] for pool in threadpool_info()), default=1)


@pytest.mark.skipif(_blas_threads() < 2, reason="a BLAS pool of one thread has no helpers")
def test_settling_waits_until_the_blas_pool_stops_spinning() -> None:
    import numpy as np

    threads = OwnThreads()
    a = np.ones((512, 512))
    a @ a  # the pool's helpers spin for a while after the call
    assert threads.runnable(), "OpenBLAS's helper threads spin after a call"
    assert not threads.settle(limit=0.0)  # not quiet at once: the caller is told so
    assert threads.settle()
    assert threads.runnable() == 0


@pytest.mark.slow
def test_a_side_that_crashes_while_sampled_fails_alone() -> None:
    sides = {"base": Side(), "cand": Side(env={"FAULTY_CRASH_LATER": "1"})}
    outcome = run_sides([_case("python:crash_later")], QUICK, sides, plugins=[str(FAULTY)])
    base, cand = outcome["base"].results[0], outcome["cand"].results[0]
    assert cand.status == "failed"
    assert "worker exited with code" in cand.reason
    assert base.status == "ok"
    assert len(base.measurement.runs) == 1  # a case failed on a side is not run again
    assert len(base.measurement.runs[0].samples) >= QUICK.min_samples


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_the_contention_meter_counts_its_windows_only() -> None:
    meter = ContentionMeter()
    for _ in range(2):
        with meter:
            time.sleep(0.1)
        time.sleep(0.5)  # between turns: not metered
    # 0.2 s metered; the 1 s between the windows would make it 1.2 s or more (a busy
    # machine wakes a sleeper late, by milliseconds, not by half a second)
    assert 0.2 <= meter.seconds < 0.9
    assert meter.other_cpu is not None
    assert meter.other_cpu >= 0


_BURN = """
import os, sys, time
if len(sys.argv) > 1:
    os.fork()  # a child of the session's leader, as an executor is of a worker JVM
end = time.monotonic() + 20
while time.monotonic() < end:
    pass
"""


@pytest.mark.slow
def test_the_runs_own_sessions_are_not_contention() -> None:
    """A process session that burns CPU in its leader and a child (a Spark worker JVM and
    its executor), beside a process that meters, as a worker does: two meters over the
    same window, one told the session is the run's own, the other not. Only the other
    counts its CPU as contention."""
    import subprocess

    from tests.conftest import MeterBeside

    burner = subprocess.Popen(
        [sys.executable, "-c", _BURN, "fork"], start_new_session=True
    )  # fmt: skip
    meter = None
    try:
        time.sleep(0.5)  # the fork has happened
        meter = MeterBeside((burner.pid,))
        time.sleep(1.0)
        own, plain = meter.stop()
        # On a loaded machine the burners get less than two cores; a third of one is
        # still far above what two meters over one window can disagree by.
        assert plain - own > 0.3, (plain, own)
    finally:
        if meter is not None:
            meter.close()
        os.killpg(burner.pid, 9)  # the session: leader and child (deadline: 20 s burn)
        burner.wait(timeout=10)


def test_own_sessions_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from perfkit.machine.load import OWN_SESSIONS, own_sessions, own_sessions_value

    monkeypatch.setenv(OWN_SESSIONS, "12,x,34")
    assert own_sessions() == (12, 34)
    monkeypatch.setenv(OWN_SESSIONS, own_sessions_value([56, 78]))
    assert own_sessions() == (56, 78)
    monkeypatch.delenv(OWN_SESSIONS)
    assert own_sessions() == ()


def test_a_side_takes_samples_in_blocks_where_its_pools_outlast_a_sample() -> None:
    from perfkit.engine.turns import MAX_BLOCK, turn_block

    assert turn_block([(0.01, 0.0), (0.01, 0.0)]) == 1
    assert turn_block([(0.01, 0.005), (0.02, 0.0)]) == 1
    assert turn_block([(0.02, 0.05), (0.02, 0.0)]) == 3  # 130 ms of spin, 20 ms samples
    assert turn_block([(0.001, 0.13), (0.0, 0.0)]) == MAX_BLOCK
    assert turn_block([(0.0, 0.13)]) == 1  # a worker that says nothing of its samples

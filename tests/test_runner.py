"""Orchestration: verification before timing, crash and hang isolation, interleaving."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from perfkit import MeasurePolicy, SampleRun, load_record
from perfkit.engine.journal import journal_path
from perfkit.engine.protocol import WorkerReport
from perfkit.engine.runner import interleave, run_cases, schedule, settled, turns
from perfkit.model import registry
from tests.conftest import FAULTY, perfkit

# These tests compare times, CPU shares or rates: CI runs them again beside a CPU burner.
pytestmark = pytest.mark.measures

QUICK = MeasurePolicy.quick(timeout=20.0)


def _cases(*keys: str) -> list:
    workload = registry.get_workload("faulty_probe")
    return registry.expand_cases(workload, list(keys), quick=True)


@pytest.fixture(autouse=True)
def _registry(loaded: None) -> None:
    return None


def _by_variant(outcome) -> dict:
    return {r.variant: r for r in outcome.results}


@pytest.mark.slow
def test_good_case_is_measured_with_samples_and_metrics() -> None:
    outcome = run_cases(_cases("python:good"), QUICK, [FAULTY])
    (result,) = outcome.results
    assert result.status == "ok", result.reason
    assert result.measurement is not None
    assert len(result.measurement.samples) >= 2
    assert result.metric("time/median") > 0
    assert result.metric("mem/peak_rss") > 1e6  # a Python process holds megabytes
    assert result.metric("check/error") == 0.0
    assert not outcome.partial


@pytest.mark.slow
def test_wrong_answer_is_invalid_and_never_timed() -> None:
    outcome = run_cases(_cases("python:good", "python:wrong"), QUICK, [FAULTY])
    wrong = _by_variant(outcome)["wrong"]
    assert wrong.status == "invalid"
    assert "relative error" in wrong.reason
    assert wrong.measurement is not None
    assert wrong.measurement.runs == ()
    assert wrong.metric("time/median") is None
    assert wrong.metric("check/error") > 1e-12


def test_crashing_worker_fails_its_case_and_the_run_goes_on() -> None:
    outcome = run_cases(_cases("python:crash", "python:good"), QUICK, [FAULTY])
    results = _by_variant(outcome)
    assert results["crash"].status == "failed"
    assert f"code {-signal.SIGSEGV}" in results["crash"].reason
    assert "Segmentation fault" in results["crash"].reason  # the stderr tail is kept
    assert results["good"].status == "ok"


@pytest.mark.slow
def test_hanging_case_times_out_and_the_next_case_still_runs() -> None:
    policy = QUICK.replace(timeout=3.0)
    cases = _cases("python:good", "python:hang")
    # Put the hang first so the good case needs a fresh worker.
    start = time.monotonic()
    outcome = run_cases(list(reversed(cases)), policy, [FAULTY])
    results = _by_variant(outcome)
    assert results["hang"].status == "failed"
    assert results["hang"].reason == "timed out after 3 s"
    assert results["good"].status == "ok"
    assert time.monotonic() - start < 60


def test_exceptions_and_skips_in_prepare_are_reported_with_reasons() -> None:
    outcome = run_cases(_cases("python:raises", "python:skips"), QUICK, [FAULTY])
    results = _by_variant(outcome)
    assert results["raises"].status == "failed"
    assert "RuntimeError: prepare broke on purpose" in results["raises"].reason
    assert results["skips"].status == "skipped"
    assert results["skips"].reason == "needs hardware this test pretends to lack"


@pytest.mark.slow
def test_a_port_writing_into_its_inputs_fails_alone() -> None:
    outcome = run_cases(_cases("python:in_place", "python:good"), QUICK, [FAULTY])
    results = _by_variant(outcome)
    assert results["in_place"].status == "failed"
    assert "read-only" in results["in_place"].reason
    assert results["good"].status == "ok"


@pytest.mark.slow
def test_prints_on_stdout_do_not_corrupt_the_worker_protocol() -> None:
    outcome = run_cases(_cases("python:chatty", "python:good"), QUICK, [FAULTY])
    assert [r.status for r in outcome.results] == ["ok", "ok"]


@pytest.mark.slow
def test_samples_come_from_every_process_and_failures_are_not_rerun() -> None:
    policy = QUICK.replace(processes=2)
    outcome = run_cases(_cases("python:good", "python:wrong"), policy, [FAULTY])
    good = _by_variant(outcome)["good"]
    assert sorted(run.process for run in good.measurement.runs) == [0, 1]
    # The invalid case was judged once, in the first repetition, and not measured again.
    assert _by_variant(outcome)["wrong"].status == "invalid"


def test_interleave_rotates_backends_and_reverses_groups() -> None:
    cases = registry.expand_cases(
        registry.get_workload("vector_add"), overrides={"n": [10, 20]}, quick=True
    )
    first = [c.id for c in interleave(cases, 0)]
    second = [c.id for c in interleave(cases, 1)]
    assert first == [c.id for c in cases]
    assert sorted(first) == sorted(second)
    assert first[0] != second[0]
    groups = [registry.get_workload("faulty_probe")]
    faulty = registry.expand_cases(groups[0], ["python:good", "python:wrong"], quick=True)
    assert [c.implementation.variant for c in interleave(faulty, 1)] == ["wrong", "good"]


def test_timed_sides_take_turns_case_by_case_and_counted_sides_run_whole_rounds() -> None:
    cases = registry.expand_cases(
        registry.get_workload("faulty_probe"), ["python:good", "python:wrong"], quick=True
    ) + registry.expand_cases(
        registry.get_workload("vector_add"), overrides={"n": [10, 20, 30]}, quick=True
    )
    numbers = {case.id: i for i, case in enumerate(cases)}
    firsts: dict[str, list[str]] = {}
    for round_index in range(4):
        plan = turns(cases, round_index, ["a", "b"], numbers)
        # Every case on both sides at once, in the round's order.
        assert [case.id for case, _ in plan] == [c.id for c in interleave(cases, round_index)]
        assert all(sorted(order) == ["a", "b"] for _, order in plan)
        for case, order in plan:
            firsts.setdefault(case.id, []).append(order[0])
        # Half the cases of a round begin on each side.
        assert abs(sum(order[0] == "a" for _, order in plan) - len(cases) / 2) <= 0.5
    # Each case begins on each side in turn, round after round, though its place changes.
    assert all(f in (["a", "b"] * 2, ["b", "a"] * 2) for f in firsts.values()), firsts
    # A round with fewer cases (the undecided ones) keeps each case's turn.
    later = turns(cases[1:], 4, ["a", "b"], numbers)
    assert all(order[0] == firsts[case.id][0] for case, order in later)
    # One worker a side for the whole round otherwise, the first side alternating.
    whole = schedule(cases, 1, ["a", "b"])
    assert [side for side, _ in whole] == ["b", "a"]
    assert [c.id for c in whole[0][1]] == [c.id for c in interleave(cases, 1)]


def _compare_with_a_hang(tmp_path: Path, out: Path) -> tuple[subprocess.Popen[str], Path]:
    """``perfkit compare`` of a good case and then a hanging one, in its own session; the
    marker file appears when the hang has begun (the good case has finished by then)."""
    marker = tmp_path / "hanging"
    # A test run started in the background (``cmd &`` in a script) ignores SIGINT, and a
    # child would inherit that; a handler is not inherited, so the child heeds Ctrl-C.
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "perfkit", "compare", "-w", "faulty_probe", "--quick",
                "-b", "python:good", "python:hang", "--plugin", str(FAULTY), "--timeout", "120",
                "--no-calibrate", "--time-budget", "0", "-o", str(out),
            ],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "FAULTY_HANG_MARKER": str(marker)},
            start_new_session=True,
        )  # fmt: skip
    finally:
        signal.signal(signal.SIGINT, before)
    return proc, marker


def _wait_for(path: Path, proc: subprocess.Popen[str]) -> None:
    # Start-up, one quick case and the next one's start: seconds, minutes on a loaded machine.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not path.exists() and proc.poll() is None:
        time.sleep(0.1)
    assert path.exists(), proc.communicate(timeout=30)


def _output_within(proc: subprocess.Popen[str], seconds: float, what: str) -> str:
    """``proc``'s stdout once it ends within ``seconds``; else the test fails with the
    stacks of its threads (SIGUSR1: faulthandler), so a stuck run says where it is stuck."""
    try:
        return proc.communicate(timeout=seconds)[0]
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGUSR1)
        time.sleep(2)
        os.killpg(proc.pid, signal.SIGKILL)
        _, stderr = proc.communicate()
        pytest.fail(f"waited {seconds:g} s for {what}; its stacks: {stderr[-4000:]}")


@contextlib.contextmanager
def _cleaned_up(proc: subprocess.Popen[str]) -> Iterator[None]:
    """Whatever the test's outcome, the perfkit it started does not outlive it."""
    try:
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_keeps_finished_cases_in_a_partial_record(
    tmp_path: Path, signum: int, code: int
) -> None:
    out = tmp_path / "partial.json"
    proc, marker = _compare_with_a_hang(tmp_path, out)
    with _cleaned_up(proc):
        _wait_for(marker, proc)
        proc.send_signal(signum)
        stdout = _output_within(proc, 60, "perfkit to stop after the signal")
    assert proc.returncode == code
    assert "interrupted: partial record" in stdout
    record = load_record(out)
    assert record.partial
    assert [r.variant for r in record.results] == ["good"]
    assert not journal_path(out).exists()  # the record is written: the journal is gone
    # The report of what finished is written too, and says the record is partial.
    page = out.with_suffix(".html").read_text()
    assert "python:good" in page
    assert "partial" in page


@pytest.mark.slow
def test_a_killed_run_leaves_no_worker_and_a_journal_to_recover(tmp_path: Path) -> None:
    """SIGKILL gives the runner no chance to clean up: its worker must notice and go, and
    the finished case must still be there."""
    import psutil

    out = tmp_path / "r.json"
    proc, marker = _compare_with_a_hang(tmp_path, out)
    with _cleaned_up(proc):
        _wait_for(marker, proc)
        workers = psutil.Process(proc.pid).children(recursive=True)
        assert workers
        proc.kill()
        proc.wait()
        _, alive = psutil.wait_procs(workers, timeout=30)  # the watchdog's reaction time
        assert alive == []
    journal = journal_path(out)
    assert journal.is_file()
    done = perfkit("recover", str(journal), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    record = load_record(out)
    assert record.partial
    (good,) = record.results
    assert good.variant == "good"
    assert good.status == "ok"
    assert good.measurement is not None
    assert good.measurement.samples
    gated = perfkit("gate", str(journal), str(journal), cwd=tmp_path)  # journals read too
    assert gated.returncode == 0, gated.stdout + gated.stderr
    assert "UNDERPOWERED" in gated.stdout  # one repetition a side decides nothing


@pytest.mark.slow
def test_every_worker_is_gone_after_a_run() -> None:
    import psutil

    run_cases(_cases("python:hang"), QUICK.replace(timeout=2.0), [FAULTY])
    assert psutil.Process(os.getpid()).children(recursive=True) == []


def _report(*samples: float) -> WorkerReport:
    return WorkerReport("ok", "", {}, SampleRun(0, 1, samples, "budget"))


def test_settled_needs_the_planned_processes_and_agreeing_medians() -> None:
    policy = MeasurePolicy(processes=2, target_rel_ci=0.02)
    assert not settled([_report(1.0, 1.0)], policy)
    assert settled([_report(1.00, 1.01), _report(1.02, 1.03)], policy)
    assert not settled([_report(1.0), _report(1.1)], policy)  # 10% apart: not settled
    contended = WorkerReport("ok", "", {}, SampleRun(1, 1, (1.02,), "budget", 2.0, True))
    assert not settled([_report(1.0), contended], policy)  # a contended one does not count


@pytest.mark.slow
def test_disagreeing_processes_get_extra_rounds_up_to_the_limit() -> None:
    never = QUICK.replace(processes=2, extra_processes=2, target_rel_ci=1e-12)
    (result,) = run_cases(_cases("python:good"), never, [FAULTY]).results
    assert sorted(run.process for run in result.measurement.runs) == [0, 1, 2, 3]
    # Agreeing, and never flagged contended (a loaded machine must not add rounds here).
    always = QUICK.replace(
        processes=2, extra_processes=2, target_rel_ci=10.0, contention_cpu=float(1 << 20)
    )
    (result,) = run_cases(_cases("python:good"), always, [FAULTY]).results
    assert sorted(run.process for run in result.measurement.runs) == [0, 1]


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("garbage", "malformed worker message: worker message: not JSON"),
        ("stranger", "a case it was not given: 'who/is:this[n=1]'"),
        ("nan", ".run.samples[1]: nan is not a sample"),
        ("shape", ".status: 'great' is not one of"),
    ],
)
def test_a_malformed_worker_message_fails_its_case_not_the_run(
    mode: str, reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from perfkit.engine.supervisor import Side, Supervisor

    monkeypatch.setenv("BAD_WORKER", mode)
    got: dict[str, WorkerReport] = {}
    cases = _cases("python:good", "python:wrong")
    supervisor = Supervisor(QUICK, [], 0, Side(), lambda c, r: got.setdefault(c.id, r))
    supervisor.command = [sys.executable, str(FAULTY.parent / "bad_worker.py")]
    supervisor.run(cases)  # raises nothing
    assert sorted(got) == sorted(c.id for c in cases)  # each case in a fresh worker
    for report in got.values():
        assert report.status == "failed"
        assert reason in report.reason


def test_a_worker_that_ends_between_cases_costs_no_case(monkeypatch: pytest.MonkeyPatch) -> None:
    """The next case goes to a fresh worker, whether the end shows when the case is sent
    or only when its first message is awaited."""
    from perfkit.engine.supervisor import Side, Supervisor

    monkeypatch.setenv("BAD_WORKER", "one_then_exit")
    got: dict[str, WorkerReport] = {}
    cases = _cases("python:good", "python:wrong", "python:chatty")
    supervisor = Supervisor(QUICK, [], 0, Side(), lambda c, r: got.setdefault(c.id, r))
    supervisor.command = [sys.executable, str(FAULTY.parent / "bad_worker.py")]
    supervisor.run(cases)
    assert [got[c.id].status for c in cases] == ["skipped"] * 3
    assert {got[c.id].reason for c in cases} == {"fine"}

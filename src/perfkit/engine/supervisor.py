"""Worker processes, supervised: start, feed, read, time out, kill, and blame the right case.

A worker runs in its own session so that a kill reaches everything it started. It must not
outlive the runner either: the runner holds the write end of the worker's stdin open for the
worker's whole life, and the worker kills its own process group when that pipe reaches end
of file, which happens however the runner dies (SIGKILL included).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfkit.engine.protocol import WorkerReport, parse_message, read_report
from perfkit.engine.worker_process import STARTUP_SECONDS, Deadline, Stalled, WorkerProcess
from perfkit.model.policy import MeasurePolicy
from perfkit.model.workload import Case
from perfkit.records.typed import FieldError

__all__ = ["STOPPED", "Side", "Supervisor", "effective_threads"]

_SOURCE_ROOT = Path(__file__).resolve().parents[2]  # the folder holding perfkit/
# A case's time limit grows to this many times what its worker says its calls still need
# (``pace``), plus a grace: a loaded machine may run them several times slower.
_PACE_SLACK = 3.0
_PACE_GRACE = 30.0

OnResult = Callable[[Case, WorkerReport], None]


def effective_threads(policy: MeasurePolicy) -> int:
    return policy.blas_threads or len(os.sched_getaffinity(0))


@dataclass(frozen=True)
class Side:
    """Where a side's workers come from: the folder holding its ``perfkit`` package (this
    process's own when None), variables added to their environment, and, when ``harness``
    is set, the folder whose workloads and backends this process's harness measures (one
    harness for both sides of ``perfkit ab``), and the folder where its workers keep the
    inputs they made for the next ones (``stored_inputs``; None: each makes its own)."""

    source: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    ports_from: Path | None = None
    inputs: Path | None = None


def _worker_env(side: Side) -> dict[str, str]:
    env = {**os.environ, **side.env}
    src = str(side.source or _SOURCE_ROOT)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p)
    return env


# The reason of a case stopped because the run's time budget was spent, grace and all.
STOPPED = (
    "stopped: still running when the time budget and its grace were spent "
    "(--time-budget 0 measures it)"
)


class Supervisor:
    """One repetition's worker on one side, fed one case at a time: ``measure`` it whole,
    or ``begin``, ``sample`` and ``finish`` it when it is sampled in turns with other
    workers (``measure_in_turns``).

    The worker lives across the cases it is given, so a round on one side costs one worker
    start however its cases are interleaved with another side's. A crash, a hang past the
    per-case timeout or a malformed message fails the case it happened in; the next case
    starts a fresh worker. ``close`` ends the worker: every repetition is its own process.
    """

    def __init__(
        self,
        policy: MeasurePolicy,
        plugins: list[str],
        round_index: int,
        side: Side,
        on_result: OnResult | None = None,
    ) -> None:
        self.policy = policy
        self.side = side
        self.plugins = [str(Path(p).resolve()) for p in plugins]
        self.round_index = round_index
        self.on_result = on_result
        self.blas: list[dict[str, Any]] = []
        self.harness: str | None = None
        self.command = [sys.executable, "-m", "perfkit.engine.worker"]  # tests stand in their own
        self._worker: WorkerProcess | None = None
        self._spawned: WorkerProcess | None = None  # started, its greeting not yet read
        self._calibrated = False  # the case begun was calibrated without being told
        # The seconds a sample of the case begun takes and the seconds its pools took to go
        # quiet after calibrating (0 where the worker does not say: another harness's).
        self.last_sample = (0.0, 0.0)
        self._spent = 0.0  # seconds waited on the worker for the current case
        self._limit = policy.timeout  # the current case's limit, grown by its pace
        # When a run's time budget is past all grace (monotonic): a case still running
        # then is stopped and skipped, not failed (None: never).
        self.stop_at: float | None = None

    def run(self, cases: list[Case]) -> None:
        """Measure ``cases`` in order, telling ``on_result`` of each, then end the worker."""
        try:
            for case in cases:
                report = self.measure(case)
                if self.on_result is not None:
                    self.on_result(case, report)
        finally:
            self.close()

    def measure(self, case: Case, budget: float | None = None) -> WorkerReport:
        """The worker's report on ``case``, or a failed one saying what went wrong;
        ``budget``: its sampling seconds, where the runner plans them."""
        reply = self._hand_over(case, None if budget is None else {"budget": budget})
        assert isinstance(reply, WorkerReport)
        return reply

    def spawn(self) -> None:
        """Start the worker process now, without waiting for it to come up: the sides of a
        round start their workers at once, and the first case waits for the greeting."""
        if self._worker is None and self._spawned is None:
            with contextlib.suppress(OSError):  # started again, and failing, when needed
                self._spawned = self._launch()

    def begin(
        self, case: Case, cpu: int | None = None, loops: int | None = None
    ) -> WorkerReport | None:
        """Hand ``case`` over to be sampled in turns (``sample``, then ``finish``), on
        ``cpu`` when given, ``loops`` calls a sample when given (else calibrated): None once
        the worker is ready to sample, else the case's final report (it failed, was skipped
        or found invalid first, or the worker, of another harness, measured it whole)."""
        report = self.verify(case, cpu, loops)
        return report if report is not None else self.calibrate(case)

    def verify(
        self, case: Case, cpu: int | None = None, loops: int | None = None
    ) -> WorkerReport | None:
        """``begin`` in steps, the first: the worker verifies the case and waits to be told
        to calibrate it (``calibrate``), so that the runner orders the steps of several
        workers: each verifying, then each calibrating alone, the one to sample first
        last. None once verified, else the case's final report."""
        extra: dict[str, Any] = {"paired": True, "cpu": cpu, "stepwise": True}
        if loops is not None:
            extra["loops"] = loops
        self.last_sample = (0.0, 0.0)
        reply = self._hand_over(case, extra, whole=False)
        if isinstance(reply, WorkerReport):
            return reply
        # A worker of an older harness calibrates without being told, and says ready.
        self._calibrated = reply["event"] == "ready"
        return None

    def calibrate(self, case: Case, settle: bool = True) -> WorkerReport | None:
        """After ``verified``: the worker warms the case up and calibrates it, then lets its
        pools go quiet unless ``settle`` is False (it samples next); None once it is ready to
        sample, else the case's final report."""
        if self._calibrated:
            return None
        reply = self._command(case, {"calibrate": True, "settle": settle}, ("ready",))
        if isinstance(reply, WorkerReport):
            return reply
        self.last_sample = (_seconds(reply.get("seconds")), _seconds(reply.get("settled")))
        return None

    def sample(self, case: Case, settle: bool = True) -> bool | WorkerReport:
        """One more sample of the case begun, its thread pools let go quiet after it
        unless ``settle`` is False (its next sample comes next): whether the worker's
        sampling rule is done, or, where the sample failed, the case's final report."""
        reply = self._command(case, {"sample": True, "settle": settle}, ("sampled",))
        if isinstance(reply, WorkerReport):
            return reply
        done = reply.get("done")
        if not isinstance(done, bool):
            self._stop(kill=True)
            return WorkerReport.failed(f"malformed worker message: done is {done!r}")
        return done

    def finish(self, case: Case) -> WorkerReport:
        """The final report on the case begun, its samples all taken."""
        reply = self._command(case, {"finish": True}, ("result",))
        assert isinstance(reply, WorkerReport)
        return reply

    def _hand_over(
        self, case: Case, extra: dict[str, Any] | None, whole: bool = True
    ) -> WorkerReport | dict[str, Any]:
        """Give the worker ``case`` (with ``extra`` fields in its spec), to be measured
        whole or, not ``whole``, sampled in turns; its result, or its ``verified`` (its
        ``ready``, from an older harness)."""
        self._spent = 0.0
        self._limit = self.policy.timeout
        reason = ""
        for _ in range(2):  # once more when a worker ended before it began the case
            try:
                worker = self._send(case, extra)
            except _StartError as exc:
                return WorkerReport.failed(str(exc))
            try:
                until = ("result",) if whole else ("verified", "ready")
                reply, began = self._follow(worker, case, until)
            except BaseException:
                self._stop(kill=True)
                raise
            if began:
                return reply
            reason = reply.reason if isinstance(reply, WorkerReport) else ""
        return WorkerReport.failed(f"the worker ended before it began the case: {reason}")

    def _command(
        self, case: Case, command: dict[str, Any], until: tuple[str, ...]
    ) -> WorkerReport | dict[str, Any]:
        worker = self._worker
        if worker is None:
            return WorkerReport.failed("the worker is gone")
        try:
            worker.send(command)
        except OSError:  # it ended: its exit code and stderr say why
            reason = worker.failure()
            self._stop(kill=True)
            return WorkerReport.failed(reason)
        try:
            return self._follow(worker, case, until)[0]
        except BaseException:
            self._stop(kill=True)
            raise

    def _send(self, case: Case, turns: dict[str, Any] | None) -> WorkerProcess:
        """Hand ``case`` to the worker, starting one if there is none; a worker that ended
        while idle is not the case's fault: a fresh one gets it."""
        spec = {**case.to_json(), **(turns or {})}
        for _ in range(2):
            worker = self._worker or self._start()
            try:
                worker.send(spec)
            except OSError:  # the pipe is closed: it died between cases
                self._stop(kill=True)
                continue
            return worker
        raise _StartError("the worker ended before it could be given the case, twice")

    def close(self) -> None:
        """End the worker once it has finished (it is asked to, then waited for)."""
        self._stop(kill=False)

    def abort(self) -> None:
        """End the worker at once (the run is being interrupted)."""
        self._stop(kill=True)

    def _stop(self, kill: bool) -> None:
        worker, self._worker = self._worker, None
        spawned, self._spawned = self._spawned, None
        for process in (worker, spawned):
            if process is not None:
                process.end(kill)

    def _launch(self) -> WorkerProcess:
        job = {
            "policy": self.policy.to_json(),
            "plugins": self.plugins,
            "process": self.round_index,
            "ports_from": str(self.side.ports_from) if self.side.ports_from else None,
            "inputs": str(self.side.inputs) if self.side.inputs else None,
            # Under callgrind one BLAS thread: spinning helper threads make counts vary.
            "blas_threads": 1 if self.policy.counting else effective_threads(self.policy),
            "counting": self.policy.counting,
        }
        return WorkerProcess(list(self.command), _worker_env(self.side), job)

    def _start(self) -> WorkerProcess:
        worker, self._spawned = self._spawned or self._launch(), None
        # Start-up (imports, plugins, valgrind) has its own allowance, so a short per-case
        # timeout does not fail a worker that is merely slow to start.
        line = worker.lines.next(Deadline(STARTUP_SECONDS))
        try:
            if isinstance(line, Stalled):
                raise _StartError(f"worker did not start within {STARTUP_SECONDS:g} s")
            if line is None:
                raise _StartError(worker.failure())
            try:
                hello = parse_message(line)
            except FieldError as exc:
                raise _StartError(f"malformed worker message: {exc}") from None
            if hello["event"] != "hello":
                raise _StartError(f"malformed worker message: {hello['event']!r} before hello")
        except BaseException:  # a failed start, or a stop asked for while waiting
            worker.end(kill=True)
            raise
        self.blas = hello.get("blas", [])
        self.harness = hello.get("harness")
        self._worker = worker
        return worker

    def _follow(
        self, worker: WorkerProcess, case: Case, until: tuple[str, ...]
    ) -> tuple[WorkerReport | dict[str, Any], bool]:
        """Read the worker's messages about ``case`` until its result, or an ``until``
        event (returned whole); on a stall, an end or a bad message, end the worker and
        fail the case with the reason. Also whether the worker began the case (an end
        before that is not the case's doing). The per-case timeout counts the time spent
        waiting on this worker only, however many steps the case takes; it grows when the
        worker says its calls need longer (``pace``), so a slow call is not a failure."""
        started = time.monotonic()
        deadline = Deadline(self._limit - self._spent)
        began = False
        try:
            while True:
                line = worker.lines.next(self._sooner(deadline))
                if isinstance(line, Stalled):
                    self._stop(kill=True)
                    if self.stop_at is not None and self.stop_at < deadline.at:
                        return WorkerReport("skipped", STOPPED), True
                    reason = f"timed out after {self._limit:.0f} s"
                    return WorkerReport.failed(reason), True
                if line is None:
                    reason = worker.failure()
                    self._stop(kill=True)
                    return WorkerReport.failed(reason), began
                try:
                    message = parse_message(line)
                    if message.get("case") != case.id:
                        raise FieldError(
                            "worker message", f"a case it was not given: {message.get('case')!r}"
                        )
                    began = True
                    if message["event"] == "result":
                        return read_report(message, f"report on {case.id}"), True
                    if message["event"] in until:
                        return message, True
                    if message["event"] == "pace":
                        self._paced(message, started, deadline)
                except FieldError as exc:
                    self._stop(kill=True)
                    return WorkerReport.failed(f"malformed worker message: {exc}"), True
        finally:
            self._spent += time.monotonic() - started

    def _sooner(self, deadline: Deadline) -> Deadline:
        """The case's deadline, or the run's stop when that comes first."""
        if self.stop_at is None or deadline.at <= self.stop_at:
            return deadline
        sooner = Deadline(0.0)
        sooner.at = self.stop_at
        return sooner

    def _paced(self, message: dict[str, Any], started: float, deadline: Deadline) -> None:
        """Grow the case's limit to what the worker says its calls still need, with slack."""
        seconds = message.get("seconds")
        if not isinstance(seconds, int | float) or isinstance(seconds, bool):
            raise FieldError("worker message", f"pace of {seconds!r} seconds")
        if not 0 <= seconds < 1e7:
            raise FieldError("worker message", f"pace of {seconds!r} seconds")
        spent = self._spent + time.monotonic() - started
        self._limit = max(self._limit, spent + _PACE_SLACK * seconds + _PACE_GRACE)
        deadline.at = time.monotonic() + self._limit - spent


def _seconds(value: object) -> float:
    """A duration from a worker message: 0 where it is missing or not a sane number."""
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 1e7:
        return float(value)
    return 0.0


class _StartError(Exception):
    """The worker could not be started; the message says why."""

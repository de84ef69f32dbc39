"""Worker processes, supervised: start, feed, read, time out, kill, and blame the right case.

A worker runs in its own session so that a kill reaches everything it started. It must not
outlive the runner either: the runner holds the write end of the worker's stdin open for the
worker's whole life, and the worker kills its own process group when that pipe reaches end
of file, which happens however the runner dies (SIGKILL included).
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import perfkit
from perfkit._protocol import WorkerReport, parse_message, read_report
from perfkit._typed import FieldError
from perfkit.callgrind import valgrind_prefix
from perfkit.policy import MeasurePolicy
from perfkit.workload import Case

__all__ = ["Side", "Supervisor", "effective_threads"]

_STDERR_TAIL = 1500
_STARTUP_SECONDS = 120.0

OnResult = Callable[[Case, WorkerReport], None]


def effective_threads(policy: MeasurePolicy) -> int:
    return policy.blas_threads or len(os.sched_getaffinity(0))


@dataclass(frozen=True)
class Side:
    """Where a side's workers come from: the folder holding its ``perfkit`` package (this
    process's own when None), variables added to their environment, and, when ``harness``
    is set, the folder whose workloads and backends this process's harness measures (one
    harness for both sides of ``perfkit ab``)."""

    source: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    ports_from: Path | None = None


def _worker_env(side: Side) -> dict[str, str]:
    env = {**os.environ, **side.env}
    src = str(side.source or Path(perfkit.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p)
    return env


def _tail(handle: IO[bytes]) -> str:
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    handle.seek(max(0, size - 64 * _STDERR_TAIL))  # room for the lines filtered out below
    text = handle.read().decode("utf-8", "replace")
    # faulthandler ends a crash report with the list of loaded extension modules: noise.
    lines = [
        ln.strip()
        for ln in text.splitlines()
        if ln.strip() and not ln.startswith("Extension modules:")
    ]
    return " | ".join(lines)[-_STDERR_TAIL:]


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """End the worker and anything it started (it leads its own process group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


class _Deadline:
    """A per-case time limit that restarts whenever the worker begins a new case."""

    def __init__(self, seconds: float, first: float | None = None) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + max(seconds, first or 0.0)

    def restart(self) -> None:
        self.at = time.monotonic() + self.seconds


class _Stalled:
    """The deadline passed with no word from the worker."""


def _lines(stream: IO[bytes], deadline: _Deadline) -> Iterator[bytes | _Stalled]:
    """Yield protocol lines from ``stream``; a ``_Stalled`` once when the deadline passes."""
    selector = selectors.DefaultSelector()
    selector.register(stream, selectors.EVENT_READ)
    buffer = b""
    fd = stream.fileno()
    try:
        while True:
            remaining = deadline.at - time.monotonic()
            if remaining <= 0:
                yield _Stalled()
                return
            if not selector.select(timeout=min(remaining, 1.0)):
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                return
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                if line.strip():
                    yield line
    finally:
        selector.close()


@dataclass
class _State:
    """How far a worker got: results received, the case it is on, why it was stopped."""

    finished: int = 0
    current: Case | None = None
    failure: str | None = None


class Supervisor:
    """Runs one repetition's cases through as many workers as crashes and hangs require."""

    def __init__(
        self,
        policy: MeasurePolicy,
        plugins: list[str],
        round_index: int,
        on_result: OnResult,
        side: Side,
    ) -> None:
        self.policy = policy
        self.side = side
        self.plugins = [str(Path(p).resolve()) for p in plugins]
        self.round_index = round_index
        self.on_result = on_result
        self.blas: list[dict[str, Any]] = []
        self.harness: str | None = None
        self.command = [sys.executable, "-m", "perfkit._worker"]  # tests stand in their own

    def run(self, cases: list[Case]) -> None:
        pending = list(cases)
        while pending:
            done = self._one_worker(pending)
            pending = pending[done:]

    def _one_worker(self, pending: list[Case]) -> int:
        """Start a worker on ``pending``; return how many of them got a result."""
        job = {
            "policy": self.policy.to_json(),
            "plugins": self.plugins,
            "process": self.round_index,
            "ports_from": str(self.side.ports_from) if self.side.ports_from else None,
            # Under callgrind one BLAS thread: spinning helper threads make counts vary.
            "blas_threads": 1 if self.policy.counting else effective_threads(self.policy),
            "cases": [case.to_json() for case in pending],
        }
        command = list(self.command)
        scratch = None
        if self.policy.counting:
            # Each worker its own callgrind output: a restarted worker numbers dumps from 1.
            scratch = tempfile.TemporaryDirectory(prefix="perfkit-cg-")
            out_file = Path(scratch.name) / "callgrind.out"
            job["callgrind_out"] = str(out_file)
            command = [*valgrind_prefix(out_file), *command]
        try:
            return self._supervise(job, command, pending)
        finally:
            if scratch is not None:
                scratch.cleanup()

    def _supervise(self, job: dict[str, Any], command: list[str], pending: list[Case]) -> int:
        with tempfile.TemporaryFile() as stderr:
            proc = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=_worker_env(self.side),
                start_new_session=True,
            )
            try:
                assert proc.stdin is not None
                # One line, then the pipe stays open: its end tells the worker we are gone.
                proc.stdin.write(json.dumps(job).encode() + b"\n")
                proc.stdin.flush()
                state = self._read(proc, {case.id: case for case in pending})
                if state.failure is not None:
                    _kill(proc)
                code = proc.wait()
            except BaseException:
                _kill(proc)
                raise
            finally:
                for pipe in (proc.stdin, proc.stdout):
                    if pipe is not None:
                        with contextlib.suppress(OSError):
                            pipe.close()
            if state.finished == len(pending):
                return state.finished
            failure = state.failure or f"worker exited with code {code}: {_tail(stderr)}"
            # Blame the case it was running, or every case if it never began one.
            blamed = [state.current] if state.current is not None else pending[state.finished :]
            for case in blamed:
                self.on_result(case, WorkerReport.failed(failure))
            return state.finished + len(blamed)

    def _read(self, proc: subprocess.Popen[bytes], by_id: Mapping[str, Case]) -> _State:
        """Follow the worker's messages until ``done``, its end, a stall or a bad message."""
        assert proc.stdout is not None
        state = _State()
        # Start-up (imports, plugin loading, valgrind) has its own allowance, so a short
        # per-case timeout does not fail a worker that is merely slow to start.
        deadline = _Deadline(self.policy.timeout, first=_STARTUP_SECONDS)
        for line in _lines(proc.stdout, deadline):
            if isinstance(line, _Stalled):
                state.failure = self._stall_reason(state.current, state.finished)
                return state
            try:
                message = parse_message(line)
                event = message["event"]
                if event == "hello":
                    self.blas = message.get("blas", [])
                    self.harness = message.get("harness")
                elif event == "start":
                    state.current = self._case(by_id, message)
                    deadline.restart()
                elif event == "result":
                    case = self._case(by_id, message)
                    self.on_result(case, read_report(message, f"report on {case.id}"))
                    state.finished += 1
                    state.current = None
                    deadline.restart()
                elif event == "done":
                    return state
            except FieldError as exc:
                state.failure = f"malformed worker message: {exc}"
                return state
        return state

    def _stall_reason(self, current: Case | None, finished: int) -> str:
        if current is not None:
            return f"timed out after {self.policy.timeout:g} s"
        if finished == 0:
            return f"worker did not start within {_STARTUP_SECONDS:g} s"
        return "worker stalled between cases"

    @staticmethod
    def _case(by_id: Mapping[str, Case], message: Mapping[str, Any]) -> Case:
        case_id = message.get("case")
        if not isinstance(case_id, str) or case_id not in by_id:
            raise FieldError("worker message", f"a case it was not given: {case_id!r}")
        return by_id[case_id]

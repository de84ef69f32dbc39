"""Orchestration: probe backends, interleave cases, supervise worker processes, merge results."""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

import perfkit
from perfkit import callgrind
from perfkit.backend import Availability, get_backend
from perfkit.callgrind import valgrind_prefix
from perfkit.measure import MeasurePolicy
from perfkit.metrics import derive_metrics
from perfkit.record import CaseResult, Measurement, SampleRun
from perfkit.workload import Case

__all__ = [
    "RunOutcome",
    "Side",
    "effective_threads",
    "interleave",
    "run_cases",
    "run_sides",
    "schedule",
]

_STDERR_TAIL = 1500
_STARTUP_SECONDS = 120.0
# Precedence when worker processes disagree about a case: the worst status wins.
_SEVERITY = {"ok": 0, "skipped": 1, "failed": 2, "invalid": 3}


class Progress(Protocol):
    """What the runner tells a progress display: rounds as they are planned, cases as
    they finish."""

    def planned(self, cases: int) -> None: ...

    def finished(self, case_id: str) -> None: ...


def effective_threads(policy: MeasurePolicy) -> int:
    return policy.blas_threads or len(os.sched_getaffinity(0))


@dataclass
class RunOutcome:
    results: list[CaseResult]
    partial: bool
    blas: list[dict[str, Any]] = field(default_factory=list)


def _ordered_groups(cases: Sequence[Case], round_index: int) -> list[list[Case]]:
    """The parameter groups of one repetition in their order, each rotated by the round."""
    groups: dict[str, list[Case]] = {}
    for case in cases:
        groups.setdefault(case.group_key, []).append(case)
    ordered = list(groups.values())
    if round_index % 2:
        ordered.reverse()
    return [_rotated(group, round_index) for group in ordered]


def _rotated(items: Sequence[Any], shift: int) -> list[Any]:
    shift %= len(items)
    return [*items[shift:], *items[:shift]]


def interleave(cases: Sequence[Case], round_index: int) -> list[Case]:
    """The order of one repetition: grouped by parameters (inputs are made once a group),
    the implementations inside each group rotated by the round, so no backend is always
    first after fresh inputs, and the groups reversed on odd rounds, so drift over the run
    hits early and late groups alike."""
    return [case for group in _ordered_groups(cases, round_index) for case in group]


def schedule(
    active: Sequence[Case], round_index: int, sides: Sequence[str], *, by_group: bool
) -> list[tuple[str, list[Case]]]:
    """Which side runs which cases, in order, in one round: a worker process each entry.

    ``by_group`` False: each side runs the whole round in one worker, the first side
    alternating between rounds. True: the round's ``interleave`` order is cut into its
    parameter groups and every side runs each group before the next group starts, the
    first side turning with every group and every round (A B, B A, A B, ... then B A, A B,
    ... in the next round), so a side is never always first and the same group's
    measurements of both sides lie seconds apart, not a whole round. That costs a worker
    start per group and side (about 0.25 s here), which is why one side alone, and
    instruction counts that no load disturbs, keep one worker per round."""
    groups = _ordered_groups(active, round_index)
    if not by_group:
        ordered = [case for group in groups for case in group]
        return [(side, ordered) for side in _rotated(sides, round_index)]
    return [
        (side, group)
        for index, group in enumerate(groups)
        for side in _rotated(sides, round_index + index)
    ]


@dataclass(frozen=True)
class Side:
    """Where a side's workers come from: the folder holding its ``perfkit`` package (this
    process's own when None) and variables added to their environment."""

    source: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)


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


class _Supervisor:
    """Runs one repetition's cases through as many workers as crashes and hangs require."""

    def __init__(
        self,
        policy: MeasurePolicy,
        plugins: Sequence[str],
        round_index: int,
        on_result: Callable[[Case, dict[str, Any]], None],
        side: Side,
    ) -> None:
        self.policy = policy
        self.side = side
        self.plugins = [str(Path(p).resolve()) for p in plugins]
        self.round_index = round_index
        self.on_result = on_result
        self.blas: list[dict[str, Any]] = []

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
            # Under callgrind one BLAS thread: spinning helper threads make counts vary.
            "blas_threads": 1
            if self.policy.measure == "instructions"
            else effective_threads(self.policy),
            "cases": [case.to_json() for case in pending],
        }
        command = [sys.executable, "-m", "perfkit._worker"]
        scratch = None
        if self.policy.measure == "instructions":
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
        by_id = {case.id: case for case in pending}
        finished = 0
        timed_out = False
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
                assert proc.stdout is not None
                proc.stdin.write(json.dumps(job).encode())
                proc.stdin.close()
                current: Case | None = None
                # Start-up (imports, plugin loading, valgrind) has its own allowance, so a
                # short per-case timeout does not fail a worker that is merely slow to start.
                deadline = _Deadline(self.policy.timeout, first=_STARTUP_SECONDS)
                for message in _lines(proc.stdout, deadline):
                    if message is None:  # the deadline passed with no word
                        _kill(proc)
                        timed_out = True
                        break
                    event = message.get("event")
                    if event == "hello":
                        self.blas = message.get("blas", [])
                    elif event == "start":
                        current = by_id[message["case"]]
                        deadline.restart()
                    elif event == "result":
                        self.on_result(by_id[message["case"]], message)
                        finished += 1
                        current = None
                        deadline.restart()
                    elif event == "done":
                        break
                code = proc.wait()
            except BaseException:
                _kill(proc)
                raise
            finally:
                if proc.stdout is not None:
                    proc.stdout.close()
            if finished == len(pending):
                return finished
            # The worker died or was killed: blame the case it was running, or every case
            # if it never began one.
            if timed_out:
                if current is not None:
                    reason = f"timed out after {self.policy.timeout:g} s"
                else:
                    reason = (
                        f"worker did not start within {_STARTUP_SECONDS:g} s"
                        if finished == 0
                        else "worker stalled between cases"
                    )
            else:
                reason = f"worker exited with code {code}: {_tail(stderr)}"
            blamed = [current] if current is not None else pending[finished:]
            for case in blamed:
                self.on_result(case, {"status": "failed", "reason": reason})
            return finished + len(blamed)


class _Deadline:
    """A per-case time limit that restarts whenever the worker begins a new case."""

    def __init__(self, seconds: float, first: float | None = None) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + max(seconds, first or 0.0)

    def restart(self) -> None:
        self.at = time.monotonic() + self.seconds


def _lines(stream: IO[bytes], deadline: _Deadline) -> Iterator[dict[str, Any] | None]:
    """Yield JSON messages from ``stream``; yield None once when the deadline passes."""
    selector = selectors.DefaultSelector()
    selector.register(stream, selectors.EVENT_READ)
    buffer = b""
    fd = stream.fileno()
    try:
        while True:
            remaining = deadline.at - time.monotonic()
            if remaining <= 0:
                yield None
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
                    yield json.loads(line)
    finally:
        selector.close()


def _merge(
    case: Case, reports: list[dict[str, Any]], ceilings: dict[str, Any], measure: str = "time"
) -> CaseResult:
    """One CaseResult from the reports of every worker process that ran the case."""
    worst = max(reports, key=lambda r: _SEVERITY[r["status"]])
    runs = tuple(
        SampleRun(
            r["run"]["process"], r["run"]["loops"], tuple(r["run"]["samples"]), r["run"]["stop"]
        )
        for r in reports
        if r["status"] == "ok"
    )
    raw: dict[str, list[float]] = {}
    for report in reports:
        for key, value in report.get("metrics", {}).items():
            raw.setdefault(key, []).append(value)
    work = case.workload.work(case.params)
    measurement = None
    if worst["status"] == "ok":
        device = get_backend(case.implementation.backend).device
        metrics = derive_metrics(
            [s for r in runs for s in r.samples], raw, work, device, ceilings, measure=measure
        )
        measurement = Measurement(runs, metrics)
    elif raw:
        measurement = Measurement((), {k: max(v) for k, v in raw.items()})
    return CaseResult(
        case_id=case.id,
        workload=case.workload.name,
        backend=case.implementation.backend,
        variant=case.implementation.variant,
        params=dict(case.params),
        status=worst["status"],
        reason=worst.get("reason", ""),
        reference=case.implementation.reference,
        work={"flops": work.flops, "bytes": work.bytes, "items": work.items, "dtype": work.dtype},
        measurement=measurement,
    )


def settled(reports: Sequence[dict[str, Any]], policy: MeasurePolicy) -> bool:
    """Whether a case needs no more processes: it has the planned number and their medians
    lie within twice the CI target of each other (the spread a single process's CI
    cannot see: placement in memory, the machine's mood while it ran)."""
    medians = [statistics.median(r["run"]["samples"]) for r in reports if r["status"] == "ok"]
    if len(medians) < policy.processes:
        return False
    spread = float((max(medians) - min(medians)) / statistics.median(medians))
    return spread <= 2 * policy.target_rel_ci


def _probe(backend_name: str, counting: bool) -> Availability:
    backend = get_backend(backend_name)
    if counting and backend.device != "cpu":
        return Availability.no("instruction counts need a CPU backend")
    if counting and not getattr(backend, "in_process", True):
        return Availability.no("its work runs in a child process, which callgrind does not count")
    if counting and not callgrind.available().ok:
        return callgrind.available()
    return backend.probe()


def run_cases(
    cases: Sequence[Case],
    policy: MeasurePolicy,
    plugins: Sequence[str] = (),
    ceilings: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> RunOutcome:
    """Probe, verify and measure every case in ``policy.processes`` interleaved repetitions,
    plus up to ``policy.extra_processes`` for the cases that have not ``settled``.

    Unavailable backends are skipped without starting a worker. A case that is skipped,
    invalid or failed in one repetition is not run again. Ctrl-C ends the run early: the
    cases that finished are kept and the outcome is marked partial.
    """
    return run_sides(
        cases, policy, {"": Side()}, plugins=plugins, ceilings=ceilings, progress=progress
    )[""]


def run_sides(
    cases: Sequence[Case],
    policy: MeasurePolicy,
    sides: Mapping[str, Side],
    *,
    plugins: Sequence[str] = (),
    ceilings: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> dict[str, RunOutcome]:
    """``run_cases`` for several sides at once (perfkit source trees, environments),
    interleaved as ``schedule`` lays out: in every round each side runs every active case,
    and when timing, the sides take turns parameter group by parameter group, so load on
    the machine that comes and goes within minutes hits every side alike. This is how two
    commits are compared on a shared machine."""
    names = list(sides)
    reports: dict[tuple[str, str], list[dict[str, Any]]] = {
        (side, case.id): [] for side in names for case in cases
    }
    probes = {}
    counting = policy.measure == "instructions"
    if counting and callgrind.available().ok:
        callgrind.toggle_library()  # built here, once, not by every worker under valgrind
    for case in cases:
        name = case.implementation.backend
        if name not in probes:
            probes[name] = _probe(name, counting)
        if not probes[name].ok:
            for side in names:
                reports[side, case.id].append({"status": "skipped", "reason": probes[name].reason})

    def wanted(case: Case, round_index: int) -> bool:
        mine = [reports[side, case.id] for side in names]
        if not all(r["status"] == "ok" for side_reports in mine for r in side_reports):
            return False
        return round_index < policy.processes or not all(settled(r, policy) for r in mine)

    partial = False
    blas: dict[str, list[dict[str, Any]]] = {side: [] for side in names}
    try:
        for round_index in range(policy.processes + policy.extra_processes):
            active = [c for c in cases if wanted(c, round_index)]
            if not active:
                break
            if progress is not None:
                progress.planned(len(active) * len(names))
            by_group = len(names) > 1 and policy.measure == "time"
            for side, block in schedule(active, round_index, names, by_group=by_group):

                def on_result(case: Case, report: dict[str, Any], side: str = side) -> None:
                    reports[side, case.id].append(report)
                    if progress is not None:
                        progress.finished(case.id)

                supervisor = _Supervisor(policy, plugins, round_index, on_result, sides[side])
                supervisor.run(block)
                blas[side] = blas[side] or supervisor.blas
    except KeyboardInterrupt:
        partial = True
    return {
        side: RunOutcome(
            [
                _merge(c, reports[side, c.id], ceilings or {}, policy.measure)
                for c in cases
                if reports[side, c.id]
            ],
            partial,
            blas[side],
        )
        for side in names
    }

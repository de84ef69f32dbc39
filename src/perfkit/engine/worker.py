"""One worker process: verifies and measures cases, streaming JSON lines back to the runner.

Protocol: the runner writes one JSON job on stdin, then one case a line, then ``null``. The
worker answers on its original stdout, one JSON object a line: ``hello`` (pid, BLAS, harness),
``start`` and ``result`` for each case, ``done``. Everything the workloads print goes to
stderr, so it can never corrupt the stream.

A case sent with ``"paired": true`` is sampled on the runner's word, so that two workers (the
two sides of a comparison) can take turns: after verifying it says ``verified`` (with
``"stepwise": true``; it calibrates when told, ``{"calibrate": true}``, so that each side
calibrates alone), after calibrating ``ready`` (with how long a sample takes and how long
its pools took to go quiet), then answers each
``{"sample": true}`` with one sample taken and ``{"event": "sampled", "done": ...}``, and
``{"finish": true}`` with the case's ``result``. A paired case may give ``loops``, the calls a
sample that an earlier repetition calibrated. A
failure at any step ends the case with its ``result`` at once. A paired case may name a
``cpu``: the sampling thread is held on it while it samples (``_affinity``). After a
sample the worker waits for its own thread pools to stop spinning (``_settle``) before it
answers, so the other side samples without them, unless the command says
``"settle": false`` (its own next sample comes next).
"""

from __future__ import annotations

import contextlib
import dataclasses
import faulthandler
import json
import os
import queue
import signal
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from perfkit.engine.affinity import pinned
from perfkit.engine.callgrind import InstructionCounter
from perfkit.engine.harness import fingerprint, load_ports_from
from perfkit.engine.injected import injected_slowdowns, slowed
from perfkit.engine.protocol import WorkerReport, protocol_stream
from perfkit.engine.sampler import Sampler
from perfkit.engine.settle import OwnThreads
from perfkit.engine.verify import InputCache, failure_reason, verify
from perfkit.machine.load import ContentionMeter
from perfkit.model import registry
from perfkit.model.backend import Backend, get_backend
from perfkit.model.monitor import CaseMonitor
from perfkit.model.policy import MeasurePolicy
from perfkit.model.timers import CudaEventTimer
from perfkit.model.workload import Case, WrongOutputError
from perfkit.records.run_record import SampleRun

__all__ = ["main"]


def reset_peak_rss() -> bool:
    """Reset this process's peak RSS (Linux ``clear_refs`` 5); False where that is refused."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        return False
    return True


def peak_rss() -> float | None:
    """VmHWM: the high-water mark of resident memory since the last reset, in bytes."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def memory_metrics(peak_was_reset: bool) -> dict[str, float]:
    """``mem/peak_rss`` where the kernel let the peak be reset before the case; otherwise
    the resident size after it (psutil), since a lifetime peak would blame this case for
    an earlier one's memory."""
    peak = peak_rss() if peak_was_reset else None
    if peak is not None:
        return {"mem/peak_rss": peak}
    import psutil

    return {"mem/rss_after": float(psutil.Process().memory_info().rss)}


@dataclasses.dataclass(frozen=True)
class Turns:
    """A paired case's commands from the runner, the CPU to sample on and the calls a sample
    (each where the runner gives one)."""

    commands: Iterator[dict[str, Any]]
    cpu: int | None = None
    loops: int | None = None
    # Verified, the worker says so and calibrates only when told (the sides calibrate one
    # after the other, each alone on the machine).
    stepwise: bool = False

    @classmethod
    def of(cls, spec: dict[str, Any], commands: Iterator[dict[str, Any]]) -> Turns | None:
        if not spec.get("paired"):
            return None

        def count(name: str, least: int) -> int | None:
            value = spec.get(name)
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= least
            return value if ok else None

        stepwise = spec.get("stepwise") is True
        return cls(commands, count("cpu", 0), count("loops", 1), stepwise)


def _energy(gpu: dict[str, float], samples: list[float]) -> dict[str, float]:
    """The monitor's readings plus ``gpu/energy_per_call_j``: mean power while timed times
    the median seconds per call."""
    if "gpu/power_w" in gpu and samples:
        gpu = {**gpu, "gpu/energy_per_call_j": gpu["gpu/power_w"] * statistics.median(samples)}
    return gpu


class Worker:
    def __init__(
        self, policy: MeasurePolicy, process: int, out: IO[str], inputs: Path | None = None
    ) -> None:
        self.policy = policy
        self.process = process
        self.out = out
        self.inputs = InputCache(policy.seed, inputs)
        self.sessions = contextlib.ExitStack()
        self.session_start: dict[str, float] = {}  # seconds to open each backend's session
        self.open_sessions: dict[str, contextlib.ExitStack] = {}
        self.counter: InstructionCounter | None = None
        self.peak_was_reset = False

    def _reset_peak(self) -> None:
        """Just before a case is prepared: its peak RSS is its own, not an earlier case's."""
        self.peak_was_reset = reset_peak_rss()

    def emit(self, event: str, **fields: Any) -> None:
        self.out.write(json.dumps({"event": event, **fields}) + "\n")
        self.out.flush()

    def session(self, backend: Backend) -> None:
        """Enter a backend's session once per worker (a Spark session, a CUDA context),
        first closing any open session of its ``session_group`` (one Spark session a
        process: a worker given local and cluster cases in turn opens each again)."""
        if backend.name in self.session_start:
            return
        # getattr: a backend of another side's older tree (perfkit ab) may predate these
        group = getattr(backend, "session_group", None)
        if group is not None:
            for name in list(self.open_sessions):
                if getattr(get_backend(name), "session_group", None) == group:
                    self.open_sessions.pop(name).close()
                    del self.session_start[name]
        stack = contextlib.ExitStack()
        self.sessions.callback(stack.close)  # a no-op once closed above
        start = time.perf_counter()
        stack.enter_context(backend.session())
        self.session_start[backend.name] = time.perf_counter() - start
        self.open_sessions[backend.name] = stack

    def run_case(
        self, case: Case, turns: Turns | None = None, budget: float | None = None
    ) -> WorkerReport:
        """Verify and measure ``case``; with ``turns``, sample when the runner says (a
        paired case); ``budget``: its sampling seconds, where the runner plans them (else
        the policy's share of a process)."""
        backend = get_backend(case.implementation.backend)
        availability = backend.probe()
        if not availability.ok:
            return WorkerReport("skipped", availability.reason)
        try:
            self.session(backend)  # before the monitor, so a context is not this case's memory
        except Exception as exc:
            return WorkerReport.failed(failure_reason(exc))
        monitor = backend.monitor()
        with monitor:
            report = self._verify_and_measure(case, backend, monitor, turns, budget)
        if report.status == "ok" and report.run is not None:
            extra = _energy(monitor.metrics(), list(report.run.samples))
            report = dataclasses.replace(report, metrics={**report.metrics, **extra})
        return report

    def _verify_and_measure(
        self,
        case: Case,
        backend: Backend,
        monitor: CaseMonitor,
        turns: Turns | None,
        budget: float | None = None,
    ) -> WorkerReport:
        verified = verify(case, backend, self.inputs, before_prepare=self._reset_peak)
        if verified.report is not None:
            return verified.report
        thunk, metrics = verified.thunk, dict(verified.metrics)
        peak_was_reset = self.peak_was_reset
        try:
            if self.counter is not None:
                run = self._count_instructions(thunk)
            else:
                fraction = injected_slowdowns().get(case.workload.name)
                timed = thunk if fraction is None else slowed(thunk, fraction)
                run = self._time(
                    case, timed, backend, monitor, metrics=metrics, turns=turns, budget=budget
                )
        except WrongOutputError as exc:  # a timed call whose output was checked and wrong
            return WorkerReport("invalid", str(exc), metrics)
        except Exception as exc:
            return WorkerReport.failed(failure_reason(exc))
        metrics.update(memory_metrics(peak_was_reset))
        metrics["time/session_start"] = self.session_start[backend.name]
        call_metrics = getattr(backend, "call_metrics", None)
        if self.counter is None and call_metrics is not None:
            try:
                metrics.update(call_metrics(thunk))
            except WrongOutputError as exc:  # an extra call checks its output too
                return WorkerReport("invalid", str(exc), metrics)
            except Exception as exc:  # the measurement stands; say what could not be read
                print(
                    f"perfkit: {case.id}: no call metrics: {failure_reason(exc)}", file=sys.stderr
                )
        return WorkerReport("ok", "", metrics, run)

    def _time(
        self,
        case: Case,
        thunk: Any,
        backend: Backend,
        monitor: CaseMonitor,
        *,
        metrics: dict[str, float],
        turns: Turns | None,
        budget: float | None = None,
    ) -> SampleRun:
        """The timed samples, all at once or, with ``turns``, one each time the runner asks;
        other processes' CPU is metered over this worker's own sampling only. The runner
        hears how long the calls take (``pace``) before warm-up and again before sampling,
        so its timeout follows a slow call instead of failing it."""
        if budget is None:
            budget = self.policy.budget / self.policy.processes
        timer = backend.timer(cold=self.policy.cold)
        meter = ContentionMeter()
        first_call = metrics.get("time/first_call")
        if first_call is not None:
            calls = self.policy.warmup + 2  # warm-up, and calibration at one call or more
            self.emit("pace", case=case.id, seconds=calls * first_call)
        settle = True  # after calibrating, before the first sample in turns
        if turns is not None and turns.stepwise:
            OwnThreads().settle()  # the other side verifies or calibrates next
            self.emit("verified", case=case.id)
            command = next(turns.commands, None)
            if command is None or not command.get("calibrate"):
                raise RuntimeError(f"the runner sent {command!r} where it was to calibrate")
            settle = command.get("settle") is not False
        with monitor.timed():
            sampler = Sampler(
                thunk,
                timer,
                self.policy,
                budget,
                self.process,
                first_call=first_call,
                loops=turns.loops if turns is not None else None,
                keep_calibration=turns is None,
            )
            self.emit("pace", case=case.id, seconds=sampler.seconds_left())
            if turns is None:
                with meter:
                    sampler.take_until_done()
            else:
                with pinned(turns.cpu):
                    self._sample_in_turns(case, sampler, meter, turns, settle)
        other = meter.other_cpu
        contended = other is not None and other > self.policy.contention_cpu
        if isinstance(timer, CudaEventTimer) and timer.samples:
            metrics["gpu/launch_bound"] = timer.launch_bound / timer.samples
        return dataclasses.replace(sampler.run(), other_cpu=other, contended=contended)

    def _sample_in_turns(
        self, case: Case, sampler: Sampler, meter: ContentionMeter, turns: Turns, settle: bool
    ) -> None:
        """Say ``ready``, then one sample each time the runner asks, until it says
        ``finish``. Before answering, this process's thread pools are let go quiet
        (``_settle``) unless the runner says the next sample is this worker's again, so
        the other side never samples beside them spinning."""
        threads = OwnThreads()
        start = time.perf_counter()
        patient = threads.settle() if settle else True  # after calibrating, unless it samples next
        # How long a sample will take and how long the pools took to go quiet after the
        # calibration's calls: the runner sizes its turns by them.
        seconds = {
            "seconds": sampler.per_call * sampler.loops,
            "settled": time.perf_counter() - start if settle else 0.0,
        }
        self.emit("ready", case=case.id, **seconds)
        for command in turns.commands:
            if not command.get("sample"):
                break
            with meter:
                sampler.take()
            if command.get("settle", True):
                patient = patient and threads.settle()
            self.emit("sampled", case=case.id, done=sampler.done)

    def _count_instructions(self, thunk: Any) -> SampleRun:
        """Three counts of ``instruction_loops`` calls each, after one warm-up call; each
        sample is instructions per call. They agree exactly when the thunk is deterministic."""
        assert self.counter is not None
        for _ in range(3):  # past the interpreter's specialisation of the calling code
            thunk()
        loops = self.policy.instruction_loops
        counts = tuple(self.counter.count(thunk, loops) for _ in range(3))
        return SampleRun(self.process, loops, counts, "converged")

    def run(self, specs: Iterator[dict[str, Any]]) -> None:
        with self.sessions:
            for spec in specs:
                case = registry.resolve_case(spec)
                self.emit("start", case=case.id)
                turns = Turns.of(spec, specs) if self.counter is None else None
                budget = spec.get("budget")
                if not isinstance(budget, int | float) or isinstance(budget, bool) or budget <= 0:
                    budget = None
                report = self.run_case(case, turns, budget)
                self.emit("result", case=case.id, **report.to_json())
        self.emit("done")


def _blas_info() -> list[dict[str, Any]]:
    from threadpoolctl import threadpool_info

    keep = (
        "user_api",
        "internal_api",
        "prefix",
        "version",
        "num_threads",
        "threading_layer",
        "architecture",
    )
    return [{k: v for k, v in pool.items() if k in keep} for pool in threadpool_info()]


def _commands(stream: IO[bytes]) -> Iterator[dict[str, Any]]:
    """The cases the runner sends, one JSON line each, until its ``null``.

    A thread reads the pipe, so that its end is seen while a case runs: the runner keeps it
    open for the worker's whole life, and an end before the ``null`` means the runner is
    gone (however it died). Then the worker kills its process group: it must not go on
    measuring, or hold a GPU, for nobody.
    """
    lines: queue.Queue[dict[str, Any] | None] = queue.Queue()

    def read() -> None:
        for line in stream:
            spec = json.loads(line)
            lines.put(spec)
            if spec is None:
                return
        os.killpg(os.getpgid(0), signal.SIGKILL)

    threading.Thread(target=read, name="perfkit-runner-pipe", daemon=True).start()
    while (spec := lines.get()) is not None:
        yield spec


def main() -> None:
    faulthandler.enable()  # a segfault leaves a Python stack in the stderr tail the runner keeps
    job = json.loads(sys.stdin.buffer.readline())
    policy = MeasurePolicy.from_json(job["policy"])
    # Engines with thread pools of their own (Spark's local[N]) size them from this.
    os.environ["PERFKIT_THREADS"] = str(job["blas_threads"])
    with protocol_stream() as out:
        if job.get("ports_from"):
            load_ports_from(Path(job["ports_from"]))
        registry.load(job.get("plugins", []))
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=job["blas_threads"]):
            stored = job.get("inputs")
            worker = Worker(policy, int(job["process"]), out, Path(stored) if stored else None)
            if job.get("callgrind_out"):
                worker.counter = InstructionCounter(Path(job["callgrind_out"]))
            worker.emit("hello", pid=os.getpid(), blas=_blas_info(), harness=fingerprint())
            worker.run(_commands(sys.stdin.buffer))


if __name__ == "__main__":
    main()

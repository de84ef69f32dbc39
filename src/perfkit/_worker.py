"""One worker process: verifies and measures cases, streaming JSON lines back to the runner.

Protocol: the runner writes one JSON job on stdin, then one case a line, then ``null``. The
worker answers on its original stdout, one JSON object a line: ``hello`` (pid, BLAS, harness),
``start`` and ``result`` for each case, ``done``. Everything the workloads print goes to
stderr, so it can never corrupt the stream.

A case sent with ``"paired": true`` is sampled on the runner's word, so that two workers (the
two sides of a comparison) can take turns sample by sample: after verifying and calibrating,
the worker says ``ready``, then answers each ``{"sample": true}`` with one sample taken and
``{"event": "sampled", "done": ...}``, and ``{"finish": true}`` with the case's ``result``. A
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
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from perfkit import registry
from perfkit._affinity import pinned
from perfkit._protocol import WorkerReport
from perfkit._settle import OwnThreads
from perfkit.axes import Skip
from perfkit.backend import Backend, get_backend
from perfkit.callgrind import InstructionCounter
from perfkit.gpu_monitor import CaseMonitor
from perfkit.harness import fingerprint, load_ports_from
from perfkit.load import ContentionMeter
from perfkit.measure import Sampler
from perfkit.policy import MeasurePolicy
from perfkit.record import SampleRun
from perfkit.timing import CudaEventTimer
from perfkit.workload import Case, WrongOutputError

__all__ = ["main"]


def _reason(exc: BaseException) -> str:
    """The exception as one line: type, message and where it was raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno}" if frames else ""
    message = " ".join(str(exc).split())[:300]
    return f"{type(exc).__name__}: {message}{where}"


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


def freeze(value: Any) -> Any:
    """Make every NumPy array in ``value`` (nested dicts, lists, tuples) read-only.

    Inputs are shared by every port of a parameter group; a port that wrote into them would
    hand the next port corrupted inputs and get *it* marked invalid. Frozen, the writing
    port fails itself with NumPy's "assignment destination is read-only".
    """
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    elif isinstance(value, dict):
        for item in value.values():
            freeze(item)
    elif isinstance(value, list | tuple):
        for item in value:
            freeze(item)
    return value


@dataclasses.dataclass(frozen=True)
class Turns:
    """A paired case's commands from the runner, and the CPU to sample on (if any)."""

    commands: Iterator[dict[str, Any]]
    cpu: int | None = None

    @classmethod
    def of(cls, spec: dict[str, Any], commands: Iterator[dict[str, Any]]) -> Turns | None:
        if not spec.get("paired"):
            return None
        cpu = spec.get("cpu")
        return cls(commands, cpu if isinstance(cpu, int) and not isinstance(cpu, bool) else None)


class _InputCache:
    """Inputs and truth for the current parameters only: cases arrive grouped by them."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.key: str | None = None
        self.value: tuple[Any, Any] | None = None

    def get(self, case: Case) -> tuple[Any, Any]:
        key = case.group_key
        if key != self.key or self.value is None:
            self.value = None  # free the old arrays before making the new ones
            rng = np.random.default_rng(case.workload.seed(case.params, self.seed))
            inputs = freeze(case.workload.make_inputs(case.params, rng))
            self.value = (inputs, case.workload.expected(inputs, case.params))
            self.key = key
        return self.value


def _energy(gpu: dict[str, float], samples: list[float]) -> dict[str, float]:
    """The monitor's readings plus ``gpu/energy_per_call_j``: mean power while timed times
    the median seconds per call."""
    if "gpu/power_w" in gpu and samples:
        gpu = {**gpu, "gpu/energy_per_call_j": gpu["gpu/power_w"] * statistics.median(samples)}
    return gpu


class Worker:
    def __init__(self, policy: MeasurePolicy, process: int, out: IO[str]) -> None:
        self.policy = policy
        self.process = process
        self.out = out
        self.inputs = _InputCache(policy.seed)
        self.sessions = contextlib.ExitStack()
        self.session_start: dict[str, float] = {}  # seconds to open each backend's session
        self.open_sessions: dict[str, contextlib.ExitStack] = {}
        self.counter: InstructionCounter | None = None

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

    def run_case(self, case: Case, turns: Turns | None = None) -> WorkerReport:
        """Verify and measure ``case``; with ``turns``, sample when the runner says (a
        paired case)."""
        backend = get_backend(case.implementation.backend)
        availability = backend.probe()
        if not availability.ok:
            return WorkerReport("skipped", availability.reason)
        try:
            self.session(backend)  # before the monitor, so a context is not this case's memory
        except Exception as exc:
            return WorkerReport.failed(_reason(exc))
        monitor = backend.monitor()
        with monitor:
            report = self._verify_and_measure(case, backend, monitor, turns)
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
    ) -> WorkerReport:
        metrics: dict[str, float] = {}
        try:
            inputs, truth = self.inputs.get(case)
            peak_was_reset = reset_peak_rss()
            start = time.perf_counter()
            thunk = case.implementation.prepare(inputs, case.params)
            metrics["time/prepare"] = time.perf_counter() - start
            start = time.perf_counter()
            output = thunk()
            backend.sync()
            metrics["time/first_call"] = time.perf_counter() - start
            check = case.workload.check(backend.from_device(output), truth, case.check_params)
            del output
        except Skip as exc:
            return WorkerReport("skipped", str(exc) or "not supported")
        except Exception as exc:
            return WorkerReport.failed(_reason(exc))
        if check.error is not None:
            metrics["check/error"] = check.error
        metrics.update(check.metrics)
        if not check.ok:
            return WorkerReport("invalid", check.detail, metrics)
        try:
            if self.counter is not None:
                run = self._count_instructions(thunk)
            else:
                run = self._time(case, thunk, backend, monitor, metrics=metrics, turns=turns)
        except WrongOutputError as exc:  # a timed call whose output was checked and wrong
            return WorkerReport("invalid", str(exc), metrics)
        except Exception as exc:
            return WorkerReport.failed(_reason(exc))
        metrics.update(memory_metrics(peak_was_reset))
        metrics["time/session_start"] = self.session_start[backend.name]
        call_metrics = getattr(backend, "call_metrics", None)
        if self.counter is None and call_metrics is not None:
            try:
                metrics.update(call_metrics(thunk))
            except Exception as exc:  # the measurement stands; say what could not be read
                print(f"perfkit: {case.id}: no call metrics: {_reason(exc)}", file=sys.stderr)
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
    ) -> SampleRun:
        """The timed samples, all at once or, with ``turns``, one each time the runner asks;
        other processes' CPU is metered over this worker's own sampling only."""
        budget = self.policy.budget / self.policy.processes
        timer = backend.timer(cold=self.policy.cold)
        meter = ContentionMeter()
        with monitor.timed():
            sampler = Sampler(thunk, timer, self.policy, budget, self.process)
            if turns is None:
                with meter:
                    sampler.take_until_done()
            else:
                with pinned(turns.cpu):
                    self._sample_in_turns(case, sampler, meter, turns)
        other = meter.other_cpu
        contended = other is not None and other > self.policy.contention_cpu
        if isinstance(timer, CudaEventTimer) and timer.samples:
            metrics["gpu/launch_bound"] = timer.launch_bound / timer.samples
        return dataclasses.replace(sampler.run(), other_cpu=other, contended=contended)

    def _sample_in_turns(
        self, case: Case, sampler: Sampler, meter: ContentionMeter, turns: Turns
    ) -> None:
        """Say ``ready``, then one sample each time the runner asks, until it says
        ``finish``. Before answering, this process's thread pools are let go quiet
        (``_settle``) unless the runner says the next sample is this worker's again, so
        the other side never samples beside them spinning."""
        threads = OwnThreads()
        patient = threads.settle()  # after calibrating, too
        self.emit("ready", case=case.id)
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
                self.emit("result", case=case.id, **self.run_case(case, turns).to_json())
        self.emit("done")


@contextlib.contextmanager
def _protocol_stream() -> Iterator[IO[str]]:
    """Keep the real stdout for the protocol and point fd 1 (C libraries too) at stderr."""
    out = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    try:
        yield out
    finally:
        out.close()


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
    with _protocol_stream() as out:
        if job.get("ports_from"):
            load_ports_from(Path(job["ports_from"]))
        registry.load(job.get("plugins", []))
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=job["blas_threads"]):
            worker = Worker(policy, int(job["process"]), out)
            if job.get("callgrind_out"):
                worker.counter = InstructionCounter(Path(job["callgrind_out"]))
            worker.emit("hello", pid=os.getpid(), blas=_blas_info(), harness=fingerprint())
            worker.run(_commands(sys.stdin.buffer))


if __name__ == "__main__":
    main()

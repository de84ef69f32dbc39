"""One profiling worker: prepares and verifies a case as the measuring worker does, calls it
in a loop for a stated time under one profiler, then times it unprofiled.

The runner writes one JSON job on stdin and reads one JSON line back from the worker's
original stdout; everything the case prints goes to stderr. The loop's frame,
``_profiled_loop``, is where every profile's stacks are cut: what is above it is the worker.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from perfkit.engine.harness import load_ports_from
from perfkit.engine.protocol import protocol_stream
from perfkit.engine.verify import InputCache, failure_reason, verify
from perfkit.model import registry
from perfkit.model.backend import Backend, get_backend
from perfkit.model.workload import Case
from perfkit.profiling.profilers import Profiler, get_profiler

__all__ = ["LOOP_FRAME", "main", "profile_case"]

LOOP_FRAME = "_profiled_loop"


def _profiled_loop(thunk: Callable[[], Any], sync: Callable[[], None], seconds: float) -> int:
    """Call the thunk until ``seconds`` have passed, at least once; the number of calls."""
    calls = 0
    deadline = time.perf_counter() + seconds
    while True:
        thunk()
        sync()
        calls += 1
        if time.perf_counter() >= deadline:
            return calls


def _unprofiled(
    thunk: Callable[[], Any], sync: Callable[[], None], seconds: float, at_least: int = 3
) -> float:
    """The mean seconds a call, over calls for ``seconds`` (``at_least`` calls): the mean,
    as the profiled loop's time a call is (its total over its calls), so a case whose calls
    vary (a JVM's garbage collection) is not charged its spread as overhead."""
    times: list[float] = []
    deadline = time.perf_counter() + seconds
    while len(times) < at_least or time.perf_counter() < deadline:
        times.append(_timed_call(thunk, sync))
    return statistics.fmean(times)


def _timed_call(thunk: Callable[[], Any], sync: Callable[[], None]) -> float:
    """The seconds one call takes, its device work included."""
    start = time.perf_counter()
    thunk()
    sync()
    return time.perf_counter() - start


def _warm_up(
    thunk: Callable[[], Any], sync: Callable[[], None], seconds: float, at_most: float
) -> None:
    """Call for ``seconds``, then on until the calls stop getting faster (the median of the
    last three within 5% of the three before), for ``at_most`` seconds in all: a JVM's or
    PyTorch's JIT keeps speeding calls up for seconds."""
    times: list[float] = []
    started = time.perf_counter()
    while True:
        times.append(_timed_call(thunk, sync))
        elapsed = time.perf_counter() - started
        if elapsed >= at_most:
            return
        settled = len(times) >= 6 and statistics.median(times[-3:]) >= 0.95 * statistics.median(
            times[-6:-3]
        )
        if settled and elapsed >= seconds:
            return


def _prepared(case: Case, backend: Backend, seed: int) -> tuple[dict[str, Any], Any]:
    """The case's verified thunk, as the measuring worker verifies it, or the report of why
    there is none."""
    verified = verify(case, backend, InputCache(seed))
    if verified.report is not None:
        return {"status": verified.report.status, "reason": verified.report.reason}, None
    return {"status": "ok", "metrics": {"time/prepare": verified.metrics["time/prepare"]}}, (
        verified.thunk
    )


def profile_case(
    case: Case, profiler: Profiler, folder: Path, *, seed: int, duration: float
) -> dict[str, Any]:
    """Verify ``case``, profile ``duration`` seconds of calls, then time it unprofiled."""
    backend = get_backend(case.implementation.backend)
    availability = backend.probe()
    if not availability.ok:
        return {"status": "skipped", "reason": availability.reason}
    with backend.session():
        report, thunk = _prepared(case, backend, seed)
        if thunk is None:
            return report
        try:
            _warm_up(thunk, backend.sync, min(0.5, duration / 10), duration)
            profiler.start(case, folder)
            started = time.perf_counter()
            try:
                calls = _profiled_loop(thunk, backend.sync, duration)
            finally:
                seconds = time.perf_counter() - started
                profiler.stop()
            # The unprofiled time after the loop: any warming left charges the profiler no
            # less than it cost.
            baseline = _unprofiled(thunk, backend.sync, min(1.0, duration / 4))
        except Exception as exc:
            return {"status": "failed", "reason": failure_reason(exc)}
    return {
        **report,
        "calls": calls,
        "seconds": seconds,
        "per_call_s": seconds / calls,
        "baseline_s": baseline,
    }


def main() -> None:
    job = json.loads(sys.stdin.buffer.readline())
    os.environ["PERFKIT_THREADS"] = str(job["threads"])
    with protocol_stream() as out:
        if job.get("ports_from"):
            load_ports_from(Path(job["ports_from"]))
        registry.load(job.get("plugins", []))
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=job["threads"]):
            case = registry.resolve_case(job["case"])
            profiler = get_profiler(job["profiler"])
            result = profile_case(
                case,
                profiler,
                Path(job["folder"]),
                seed=int(job["seed"]),
                duration=float(job["duration"]),
            )
        out.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()

"""What the allocator backends share: a driver from ``native/bench`` run as a child process
with the allocator preloaded, timed by the driver's own clock.

Every allocator runs the very same driver binary; only ``LD_PRELOAD`` (and, for a variant,
an environment variable such as ``MALLOC_ARENA_MAX``) differs. The driver's JSON line is
the thunk's output: the checker reads ``corrupt`` from it, the timer its ``seconds`` (so
process start-up is not timed), and the monitor its peak RSS, faults and operations/s.
After the timed runs, one run of the driver's probe build gives latency tails and memory
over time (``_allocator_probe``).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from perfkit.backends._allocator_probe import probe_metrics
from perfkit.model.backend import Availability, CpuBackend
from perfkit.model.monitor import CaseMonitor, NullMonitor
from perfkit.model.timers import Timer
from perfkit.model.workload import WrongOutputError

__all__ = ["DRIVER_WRAPPER", "AllocatorBackend", "driver_problem", "find_library", "run_driver"]

# A JSON list of words to run each driver under (the instructions profiler sets it to its
# callgrind command while it profiles, so the very driver the case runs is counted).
DRIVER_WRAPPER = "PERFKIT_DRIVER_WRAPPER"

_LIBRARY_DIRS = ("/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib")


def find_library(soname: str) -> Path | None:
    """A shared library by file name in the usual folders (``ldconfig``'s), or None."""
    for folder in _LIBRARY_DIRS:
        path = Path(folder) / soname
        if path.is_file():
            return path
    return None


def run_driver(
    driver: Path, args: Sequence[str], preload: Path | None, env: Mapping[str, str]
) -> dict[str, Any]:
    """Run a driver once; its JSON line plus ``exit`` (the exit status)."""
    environment = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", DRIVER_WRAPPER)}
    environment.update(env)
    if preload is not None:
        environment["LD_PRELOAD"] = str(preload)
    wrapper = json.loads(os.environ.get(DRIVER_WRAPPER, "[]"))
    done = subprocess.run(
        [*wrapper, str(driver), *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=600,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode not in (0, 3) or not lines:
        tail = " ".join(done.stderr.split())[-300:]
        raise RuntimeError(f"{driver.name} exited with {done.returncode}: {tail}")
    return {**json.loads(lines[-1]), "exit": done.returncode}


class _DriverRuns:
    """The driver results of the case running now (one case at a time per worker)."""

    def __init__(self) -> None:
        self.results: list[dict[str, Any]] = []


def driver_problem(result: Mapping[str, Any]) -> str | None:
    """What is wrong with a driver run (None: it ran to the end with every block intact)."""
    if result.get("exit") != 0 or result.get("corrupt"):
        return f"{result.get('corrupt')} corrupted blocks (exit {result.get('exit')})"
    return None


class _DriverTimer:
    """Sums the seconds each driver run measured itself, and checks every run: a corrupted
    block in a timed run makes the case invalid as surely as one in the verification run."""

    def __init__(self, runs: _DriverRuns) -> None:
        self._runs = runs

    def time(self, thunk: Callable[[], Any], loops: int) -> float:
        total = 0.0
        for _ in range(loops):
            result = thunk()
            problem = driver_problem(result)
            if problem is not None:
                raise WrongOutputError(f"a timed run: {problem}")
            self._runs.results.append(result)
            total += float(result["seconds"])
        return total


class _DriverMonitor(NullMonitor):
    """Metrics from the timed driver runs: peak RSS (the largest), resident memory at the
    end, page faults and operations per second (medians)."""

    def __init__(self, runs: _DriverRuns) -> None:
        self._runs = runs

    def __enter__(self) -> _DriverMonitor:
        self._runs.results.clear()
        return self

    def metrics(self) -> dict[str, float]:
        results = self._runs.results
        if not results:
            return {}
        out = {"mem/peak_rss": float(max(r["peak_rss_bytes"] for r in results))}
        for key, name in (
            ("rss_end_bytes", "mem/rss_end"),
            ("minor_faults", "alloc/minor_faults"),
            ("major_faults", "alloc/major_faults"),
            ("ops_per_s", "alloc/ops_per_s"),
            ("rss_after_free_bytes", "mem/rss_after_free"),
            ("rss_refilled_bytes", "mem/rss_refilled"),
        ):
            values = [float(r[key]) for r in results if key in r]
            if values:
                out[name] = statistics.median(values)
        return out


class AllocatorBackend(CpuBackend):
    """An allocator preloaded into the drivers. ``soname`` names a system library (None:
    glibc's own malloc, nothing preloaded); ``package`` says what to install."""

    soname: str | None = None
    package = ""
    # The work is a child process: ``--measure instructions`` cannot see it (the
    # instructions profiler runs the driver itself under callgrind: DRIVER_WRAPPER).
    in_process = False

    def __init__(self) -> None:
        self._runs = _DriverRuns()
        self._probing = False

    def locate(self) -> None:
        """Raise RuntimeError, saying what to install, when the library is not here."""
        self.preload()

    def preload(self) -> Path | None:
        if self.soname is None:
            return None
        found = find_library(self.soname)
        if found is None:
            raise RuntimeError(f"{self.soname} not installed (apt-get install {self.package})")
        return found

    def probe(self) -> Availability:
        """Whether the drivers can be built and the allocator loaded; builds nothing, so
        that read-only commands (``perfkit list``, ``perfkit env``) stay read-only. The
        drivers are built on their first run."""
        from perfkit.native.build import buildable

        try:
            buildable()
            self.locate()
        except RuntimeError as exc:
            return Availability.no(str(exc))
        return Availability.yes()

    def run(self, pattern: str, args: Sequence[str], env: Mapping[str, str]) -> dict[str, Any]:
        from perfkit.native.build import driver

        return run_driver(driver(pattern, probe=self._probing), args, self.preload(), env)

    def call_metrics(self, thunk: Callable[[], Any]) -> dict[str, float]:
        """One run of the case's driver in its probe build (every call timed, memory sampled),
        after the timed runs; a corrupted block there makes the case invalid like any other.
        Nothing under a driver wrapper (the instructions profiler counts the timed build)."""
        if os.environ.get(DRIVER_WRAPPER):
            return {}
        self._probing = True
        try:
            result = thunk()
        finally:
            self._probing = False
        problem = driver_problem(result)
        if problem is not None:
            raise WrongOutputError(f"the probe run: {problem}")
        return probe_metrics(result, [float(r["seconds"]) for r in self._runs.results])

    def timer(self, cold: bool = False) -> Timer:
        return _DriverTimer(self._runs)

    def monitor(self) -> CaseMonitor:
        return _DriverMonitor(self._runs)

    def versions(self) -> dict[str, str]:
        out: dict[str, str] = {}
        path = self.preload() if self.soname else None
        if path:
            out["library"] = str(path)
        version = debian_version(self.package) if self.package else None
        if version:
            out["package"] = f"{self.package} {version}"
        return out


def debian_version(package: str) -> str | None:
    """The installed version of a Debian package (``dpkg-query``), or None where there is
    no dpkg or no such package."""
    try:
        done = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Version}", package],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (done.stdout.strip() or None) if done.returncode == 0 else None

"""``counters``: hardware counters over the profiled loop with ``perf stat`` (cycles,
instructions, IPC, cache and branch misses) where the machine has a PMU, its software
counters (task clock, context switches, page faults) otherwise; the output says which."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from perfkit.model.backend import Availability
from perfkit.model.workload import Case
from perfkit.profiling.profilers import Summary, register_profiler
from perfkit.profiling.record import Counter

__all__ = ["CountersProfiler", "read_perf_stat"]

HARDWARE = ("cycles", "instructions", "cache-references", "cache-misses", "branches",
            "branch-misses")  # fmt: skip
SOFTWARE = ("task-clock", "context-switches", "cpu-migrations", "page-faults")
_OUT = "perf-stat.csv"
_ATTACH_SECONDS = 0.3  # perf stat -p opens its counters within milliseconds; margin


class CountersProfiler:
    name = "counters"
    doc = "perf stat over the loop: hardware counters, or software ones without a PMU"
    threads = 0

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None

    def probe(self, case: Case) -> Availability:
        if shutil.which("perf") is None:
            return Availability.no("perf not found (Debian: apt-get install linux-perf)")
        try:
            paranoid = int(Path("/proc/sys/kernel/perf_event_paranoid").read_text())
        except (OSError, ValueError):
            paranoid = 2
        if paranoid > 2 and os.geteuid() != 0:
            return Availability.no(f"perf_event_paranoid is {paranoid}: perf may not count")
        return Availability.yes()

    def wrapper(self, case: Case, folder: Path) -> list[str]:
        return []

    def start(self, case: Case, folder: Path) -> None:
        events = ",".join((*HARDWARE, *SOFTWARE))
        command = ["perf", "stat", "-x,", "-e", events, "-p", str(os.getpid())]
        command += ["-o", str(folder / _OUT)]
        self._proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(_ATTACH_SECONDS)
        if self._proc.poll() is not None:
            err = self._proc.stderr.read() if self._proc.stderr else b""
            raise RuntimeError(f"perf stat ended: {' '.join(err.decode().split())[-300:]}")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        assert proc is not None
        proc.send_signal(signal.SIGINT)  # perf stat prints its counts on Ctrl-C
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise RuntimeError("perf stat did not stop within 30 s") from None

    def summarize(self, folder: Path, calls: int) -> Summary:
        counters = read_perf_stat((folder / _OUT).read_text(), calls)
        counted = {c.name for c in counters if c.value is not None}
        hardware = any(name in counted for name in HARDWARE)
        if hardware and {"cycles", "instructions"} <= counted:
            by_name = {c.name: c.value for c in counters}
            cycles, instructions = by_name["cycles"], by_name["instructions"]
            if cycles and instructions is not None:
                counters += (Counter("IPC", instructions / cycles, "instructions/cycle"),)
        kind = (
            "hardware counters (PMU)"
            if hardware
            else "software counters only: this machine exposes no PMU (a VM, most often)"
        )
        return Summary(counters=counters, notes=(f"perf stat: {kind}",))


def read_perf_stat(text: str, calls: int) -> tuple[Counter, ...]:
    """``perf stat -x,`` output as counters, per call as well; an event the machine cannot
    count keeps perf's word for why (``<not supported>``)."""
    counters = []
    for line in text.splitlines():
        fields = line.split(",")
        if line.startswith("#") or len(fields) < 3 or not fields[2]:
            continue
        raw, unit, event = fields[0], fields[1], fields[2].removesuffix(":u")
        try:
            value: float | None = float(raw)
        except ValueError:
            value = None
        per_call = value / calls if value is not None and calls else None
        note = raw if value is None else ""
        counters.append(Counter(event, value, unit, per_call, note))
    return tuple(counters)


register_profiler(CountersProfiler())

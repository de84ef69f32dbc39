"""Is the machine quiet? Other processes' CPU before a run and during each repetition.

A timing taken while another job holds the cores measures the scheduler as much as the
code. pyperf's ``system show`` checks the machine before a run; perfkit does that and also
meters every repetition: the CPU time the whole system spent busy (steal time, CPU a
hypervisor gave to other guests, included) less what the measuring process and its
children spent, over the repetition's wall time, is the CPU other processes took, in cores.

Processes the run itself set to work are not others: the daemons and executors of a Spark
cluster the run started, or ``perfkit cluster up`` keeps, live in process sessions of their
own (the executors are children of the worker JVMs, not of the measuring process), which
the run names in ``$PERFKIT_OWN_SESSIONS`` (``OWN_SESSIONS``); their CPU counts as the
measurement's own.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import psutil

from perfkit.records.environment import SystemLoad

__all__ = [
    "OWN_SESSIONS",
    "ContentionMeter",
    "other_cpu_warning",
    "own_sessions",
    "own_sessions_value",
    "system_load",
]

OWN_SESSIONS = "PERFKIT_OWN_SESSIONS"  # comma-separated session ids of the run's own daemons

_GOVERNOR = Path("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")


def _busy_seconds() -> tuple[float, float, float]:
    """(busy, steal, total) CPU seconds of the whole machine since boot, over all CPUs."""
    times = psutil.cpu_times()
    total = float(sum(times))
    idle = times.idle + getattr(times, "iowait", 0.0)
    # Linux counts guest time inside user time already; leave it out of the sum's busy part.
    guest = getattr(times, "guest", 0.0) + getattr(times, "guest_nice", 0.0)
    return total - idle - guest, getattr(times, "steal", 0.0), total - guest


def own_sessions_value(sessions: Sequence[int]) -> str:
    """``sessions`` as ``$PERFKIT_OWN_SESSIONS`` holds them (``own_sessions`` reads it)."""
    return ",".join(str(session) for session in sessions)


def own_sessions() -> tuple[int, ...]:
    """The session ids ``$PERFKIT_OWN_SESSIONS`` names (none where it is unset or bad)."""
    found = []
    for part in os.environ.get(OWN_SESSIONS, "").split(","):
        if part.strip().isdigit():
            found.append(int(part))
    return tuple(found)


def _tree(process: psutil.Process) -> list[psutil.Process]:
    """``process`` and its live descendants (none when it is gone)."""
    try:
        return [process, *process.children(recursive=True)]
    except psutil.Error:
        return []


def _own_seconds(process: psutil.Process, leaders: tuple[psutil.Process, ...]) -> float:
    """CPU seconds of the measuring process's tree and of the trees its own sessions'
    leaders head, each process once (a leader may be the measuring process's child), with
    what their reaped children spent."""
    found: dict[int, psutil.Process] = {}
    for root in (process, *leaders):
        found.update((p.pid, p) for p in _tree(root))
    seconds = 0.0
    for member in found.values():
        try:
            times = member.cpu_times()
        except psutil.Error:
            continue
        seconds += times.user + times.system + times.children_user + times.children_system
    return seconds


def _leaders(sessions: tuple[int, ...]) -> tuple[psutil.Process, ...]:
    """The live leaders of ``sessions`` (a session's id is its leader's pid)."""
    found = []
    for session in sessions:
        try:
            leader = psutil.Process(session)
            if os.getsid(session) == session:
                found.append(leader)
        except (psutil.Error, OSError):
            continue
    return tuple(found)


class ContentionMeter:
    """Meters the CPU other processes take while the block runs: ``other_cpu`` in cores.

    The meter may be entered again: it then sums its windows, so a worker that samples in
    turns with another (which is idle meanwhile) meters only its own turns. The processes
    of ``sessions`` (default: ``own_sessions()``) and their descendants count as its own.
    """

    def __init__(self, sessions: tuple[int, ...] | None = None) -> None:
        self._process = psutil.Process()
        self._leaders = _leaders(own_sessions() if sessions is None else sessions)
        self.other_cpu: float | None = None
        self.steal: float | None = None
        self.seconds = 0.0  # the wall time metered, over every window
        self._others = self._steal = self._spent = 0.0

    def __enter__(self) -> ContentionMeter:
        self._start = time.monotonic()
        self._busy = _busy_seconds()
        self._own = _own_seconds(self._process, self._leaders)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        wall = time.monotonic() - self._start
        busy, steal, total = _busy_seconds()
        own = _own_seconds(self._process, self._leaders) - self._own
        if wall <= 0:
            return
        self._others += max(0.0, (busy - self._busy[0]) - own)
        self.seconds += wall
        self._steal += steal - self._busy[1]
        self._spent += total - self._busy[2]
        self.other_cpu = self._others / self.seconds
        self.steal = self._steal / self._spent if self._spent > 0 else 0.0


def other_cpu_warning(other_cpu: float, limit: float) -> str | None:
    if other_cpu <= limit:
        return None
    return f"other processes used {other_cpu:.2f} cores"


def system_load(look: float = 0.3, limit: float = 0.25) -> SystemLoad:
    """One look at the machine before a run: other processes' CPU over ``look`` seconds,
    steal time, the frequency governor, swap in use and the load average; ``warnings`` in
    words for whatever is not quiet."""
    with ContentionMeter() as meter:
        time.sleep(look)
    governor = None
    with contextlib.suppress(OSError):
        governor = _GOVERNOR.read_text().strip()
    swap = psutil.swap_memory().used
    load = os.getloadavg()[0]
    warnings = []
    other = meter.other_cpu or 0.0
    if (note := other_cpu_warning(other, limit)) is not None:
        warnings.append(note)
    if meter.steal is not None and meter.steal > 0.05:
        warnings.append(f"{meter.steal:.0%} of CPU time was stolen by the hypervisor")
    if governor is not None and governor != "performance":
        warnings.append(f"CPU frequency governor is {governor!r}, not 'performance'")
    if swap > 0:
        warnings.append(f"{swap / 2**20:.0f} MiB of swap in use")
    return SystemLoad(
        other_cpu=meter.other_cpu,
        steal=meter.steal,
        governor=governor,
        swap_used_bytes=int(swap),
        load_average=load,
        warnings=tuple(warnings),
    )

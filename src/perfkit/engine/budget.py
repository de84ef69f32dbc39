"""A whole run's time budget, spent case by case.

``compare`` and ``run`` give a run a budget of seconds. Before each case the runner asks
for the case's sampling share: the time left, less what every case still to come will
cost beyond its sampling (worker start, inputs, set-up, the verifying call and warm-up, as
seen so far), split evenly, and never more than the policy's own share. A case always takes
the samples its median needs (``Sampler``): the budget shortens sampling, it never cuts a
call short or fails a case. Repetitions after the first run a case only while its cost so
far fits in what is left, and the extra repetitions of unsettled cases likewise.

The budget is also a limit on starting cases. What a case will cost is predicted from the
last case of the same port of the same workload: its overhead as it was, its calls scaled by
the work (flops, else bytes, else items) of the new size over the old, ``CALLS_AT_LEAST`` of
them (the verifying call and the fewest samples a slow call takes). Another workload's case
predicts nothing: its work is counted in other units (an allocation pattern's items are
operations of one driver, not of the next). A case predicted to cost more than is left, or
any case once nothing is left, is not started: it is skipped, saying so.
A case still running a grace past the budget (a quarter of it, at least ``_GRACE``) is
stopped and skipped, saying so: a first call of minutes (a port never seen) cannot hold a
run of seconds for minutes.

A port never seen is predicted from the last case of its backend in the workload (another
variant at that size costs about the same: a compile mode, a block size); the first case of a
backend
is started while the time its session takes to open (``start_seconds``: a JVM, a
compiler's warm-up) is left, so every engine gets a figure before the budget is spent on
large sizes.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from perfkit.model.workload import Work

__all__ = ["CALLS_AT_LEAST", "TimeBudget", "work_size"]

# Calls a case makes at the fewest: the verifying call and three samples of a slow call.
CALLS_AT_LEAST = 4

# Sampling seconds a case gets when the budget has none left: enough for a few samples of
# a fast call; a slow call takes its minimum samples whatever this says.
_FLOOR = 0.05
# The least grace past the budget before a case still running is stopped.
_GRACE = 10.0
# What a case is guessed to cost beyond its sampling before any case has finished.
_FIRST_OVERHEAD = 1.0


def work_size(work: Work) -> float:
    """What a call's time is assumed to grow with: its flops, else bytes, else items."""
    return work.flops or work.bytes or work.items


class TimeBudget:
    """``seconds`` from now (``clock``'s), spent by the cases of one run."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        if not seconds > 0:
            raise ValueError(f"a time budget must be positive, got {seconds!r}")
        self.seconds = seconds
        self.clock = clock
        self.start = clock()
        self.overheads: list[float] = []
        self.costs: dict[str, float] = {}  # by case id: the wall seconds of its last run
        # By (workload, port): its last case's size and costs; by (workload, backend): the
        # last case of any of the backend's ports.
        self.ports: dict[tuple[str, str], _Seen] = {}
        self.backends: dict[tuple[str, str], _Seen] = {}

    def stop_at(self) -> float:
        """When a case still running is stopped (``clock``'s time): the budget's end and a
        grace of a quarter of it, 10 s at the least; calls are cut short only then."""
        return self.start + self.seconds + max(_GRACE, self.seconds / 4)

    def left(self) -> float:
        return self.seconds - self.elapsed()

    def elapsed(self) -> float:
        return self.clock() - self.start

    def share(self, runs_left: int, most: float) -> float:
        """Sampling seconds for the next case of ``runs_left`` (itself included)."""
        runs = max(1, runs_left)
        overhead = statistics.fmean(self.overheads) if self.overheads else _FIRST_OVERHEAD
        spare = (self.left() - runs * overhead) / runs
        return max(_FLOOR, min(most, spare))

    def spend(self, case_id: str, wall: float, sampling: float) -> None:
        """A case finished: ``wall`` seconds in all, ``sampling`` of them sampling."""
        self.costs[case_id] = wall
        self.overheads.append(max(0.0, wall - sampling))

    def observe(self, workload: str, port: str, size: float, overhead: float, call: float) -> None:
        """A case of ``workload``'s ``port`` of ``size`` (its work) cost ``overhead`` seconds
        besides its calls (and its backend's session start), each of about ``call`` seconds."""
        seen = _Seen(size, max(0.0, overhead), max(0.0, call))
        self.ports[workload, port] = self.backends[workload, _backend(port)] = seen

    def predicted(self, workload: str, port: str, size: float) -> float | None:
        """The least a case of ``workload``'s ``port`` of ``size`` is expected to cost, or
        None when no case of the port or its backend has run in that workload."""
        seen = self.ports.get((workload, port)) or self.backends.get((workload, _backend(port)))
        if seen is None:
            return None
        ratio = size / seen.size if size > 0 and seen.size > 0 else 1.0
        return seen.overhead + CALLS_AT_LEAST * seen.call * ratio

    def refusal(self, workload: str, port: str, size: float, start: float = 0.0) -> str:
        """Why a case of ``workload``'s ``port`` of ``size`` is not started, or ``""`` when
        it fits (``start``: the seconds its backend's session takes to open, when none has)."""
        left = self.left()
        if left <= 0:
            return f"the time budget of {self.seconds:g} s was spent before it (--time-budget)"
        expected = self.predicted(workload, port, size)
        if expected is None and start > left:
            return (
                f"its backend takes about {start:g} s to start, more than the {left:.0f} s left "
                f"of the time budget of {self.seconds:g} s (--time-budget)"
            )
        if expected is not None and expected > left:
            return (
                f"it would take about {expected:.0f} s, more than the {left:.0f} s left of the "
                f"time budget of {self.seconds:g} s (--time-budget)"
            )
        return ""

    def fitting(self, case_ids: list[str]) -> set[str]:
        """The cases whose next runs fit in what is left together, at what their last runs
        cost: the cheapest first, so a slow case gives way to many quick ones."""
        room = self.left()
        chosen: set[str] = set()
        for case_id in sorted(case_ids, key=lambda c: self.costs.get(c, float("inf"))):
            cost = self.costs.get(case_id)
            if cost is None or cost > room:
                break
            room -= cost
            chosen.add(case_id)
        return chosen


@dataclass(frozen=True, slots=True)
class _Seen:
    size: float
    overhead: float
    call: float


def _backend(port: str) -> str:
    return port.partition(":")[0]

"""A whole run's time budget, spent case by case.

``compare`` and ``run`` give a run a budget of seconds. Before each case the runner asks
for the case's sampling share: the time left, less what every case still to come will
cost beyond its sampling (worker start, inputs, set-up, the verifying call and warm-up, as
seen so far), split evenly, and never more than the policy's own share. A case always takes
the samples its median needs (``Sampler``): the budget shortens sampling, it never cuts a
call short or fails a case. Repetitions after the first run a case only while its cost so
far fits in what is left, and the extra repetitions of unsettled cases likewise.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

__all__ = ["TimeBudget"]

# Sampling seconds a case gets when the budget has none left: enough for a few samples of
# a fast call; a slow call takes its minimum samples whatever this says.
_FLOOR = 0.05
# What a case is guessed to cost beyond its sampling before any case has finished.
_FIRST_OVERHEAD = 1.0


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

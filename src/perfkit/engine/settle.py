"""Let a worker's own thread pools go quiet before the other side samples.

A BLAS or OpenMP pool does not sleep the moment its call returns: OpenBLAS's helper threads
spin for about 2^28 cycles (here some 130 ms) waiting for the next call. Sampling in turns,
the side that just sampled would leave its pool spinning on the CPUs the other side is about
to sample on, and every sample taken right after a switch would carry the other side's spin;
NumPy's 2048x2048 matmul sampled that way gave pair ratios from 0.78 to 1.5 between two
identical sides. So after a sample that the other side's follows, a worker waits until none
of its other threads is runnable (Linux thread state ``R``: a spinning thread is, even while
another process holds its CPU; a pool asleep on its condition variable is not) before it
answers. Spinning inside
a sample, between its own calls, is part of what is measured and is left alone.
"""

from __future__ import annotations

import os
import threading
import time

__all__ = ["OwnThreads"]

_POLL = 0.001
_LIMIT = 1.0  # seconds at most: OpenBLAS's longest spin is 2^30 cycles


class OwnThreads:
    """This process's threads other than the calling one, as Linux shows them in
    ``/proc/self/task``."""

    def __init__(self) -> None:
        self.me = str(threading.get_native_id())

    def runnable(self) -> int | None:
        """How many of them are running or waiting for a CPU; None where that cannot be
        read."""
        try:
            tids = os.listdir("/proc/self/task")
        except OSError:
            return None
        count = 0
        for tid in tids:
            if tid == self.me:
                continue
            try:
                with open(f"/proc/self/task/{tid}/stat", encoding="utf-8") as handle:
                    stat = handle.read()
            except OSError:
                continue  # the thread ended meanwhile
            # "tid (name) S ...": the name may hold spaces and parentheses; the state follows
            # the last ")".
            state = stat.rfind(")") + 2
            count += stat[state : state + 1] == "R"
        return count

    def settle(self, limit: float = _LIMIT) -> bool:
        """Wait until none of them is runnable, at most ``limit`` seconds; whether they
        went quiet (a thread busy for good does not: its caller stops waiting for it)."""
        start = time.perf_counter()
        while busy := self.runnable():
            if time.perf_counter() - start >= limit:
                return False
            time.sleep(_POLL)
        return busy is not None

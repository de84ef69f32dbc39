"""Timers: wall clock around a synchronised backend (CUDA-event timers come with the GPU)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["CudaEventTimer", "EventClock", "Timer", "WallTimer"]


class Timer(Protocol):
    """Time ``loops`` back-to-back calls of ``thunk``; return the total in seconds."""

    def time(self, thunk: Callable[[], Any], loops: int) -> float: ...


class WallTimer:
    """``perf_counter`` around the loop, with the backend synced before and after.

    The loop is ``for _ in repeat(None, loops)``, the one ``timeit`` uses: it costs about
    10 ns a call, 1% of a 1 µs function.
    """

    __slots__ = ("_sync",)

    def __init__(self, sync: Callable[[], None]) -> None:
        self._sync = sync

    def time(self, thunk: Callable[[], Any], loops: int) -> float:
        sync = self._sync
        calls = itertools.repeat(None, loops)
        sync()
        start = time.perf_counter()
        for _ in calls:
            thunk()
        sync()
        return time.perf_counter() - start


class EventClock(Protocol):
    """A GPU runtime's events: ``event()`` makes one (with ``record()`` and
    ``synchronize()``), ``seconds(start, end)`` the time between two recorded ones."""

    def event(self) -> Any: ...

    def seconds(self, start: Any, end: Any) -> float: ...


class CudaEventTimer:
    """CUDA events recorded around the loop on the current stream: the GPU's own clock,
    blind to the host's launch jitter once the queue is full.

    A kernel shorter than its launch cost leaves the GPU waiting for the host, and then the
    events measure how fast the host launches, not the kernel. The timer watches for it:
    the host's time to queue the first calls of a sample (at most ``_PROBE``, too few to
    fill the launch queue, so the host is never held back by the GPU) gives the launch cost
    per call; a sample whose GPU time per call is within 10% of it is launch-bound.
    ``samples`` and ``launch_bound`` count them; the worker records the share as the metric
    ``gpu/launch_bound``.

    With ``flush`` (``--cold``) every call is timed on its own, with the flush (a write
    over a buffer larger than L2) queued before its start event, so no call finds its
    inputs in cache and the flush is never counted.
    """

    _PROBE = 64

    __slots__ = ("_clock", "_end", "_flush", "_start", "_sync", "launch_bound", "samples")

    def __init__(
        self,
        clock: EventClock,
        sync: Callable[[], None],
        flush: Callable[[], None] | None = None,
    ) -> None:
        self._clock = clock
        self._sync = sync
        self._flush = flush
        self._start = clock.event()
        self._end = clock.event()
        self.samples = 0
        self.launch_bound = 0

    def time(self, thunk: Callable[[], Any], loops: int) -> float:
        start, end = self._start, self._end
        self._sync()
        if self._flush is None:
            probe = min(loops, self._PROBE)
            start.record()
            queued = time.perf_counter()
            for _ in itertools.repeat(None, probe):
                thunk()
            launch = (time.perf_counter() - queued) / probe
            for _ in itertools.repeat(None, loops - probe):
                thunk()
            end.record()
            end.synchronize()
            elapsed = self._clock.seconds(start, end)
            self.samples += 1
            self.launch_bound += elapsed / loops <= 1.1 * launch
            return elapsed
        total = 0.0
        for _ in itertools.repeat(None, loops):
            self._flush()
            start.record()
            thunk()
            end.record()
            end.synchronize()
            total += self._clock.seconds(start, end)
        return total

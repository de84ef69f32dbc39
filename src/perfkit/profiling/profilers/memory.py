"""``memory``: allocations by stack and the peak, with memray (its file opens in ``memray
flamegraph``); tracemalloc's peak alone where memray is not installed."""

from __future__ import annotations

import importlib.util
import json
import tracemalloc
from pathlib import Path
from typing import Any

from perfkit.model.backend import Availability
from perfkit.model.workload import Case
from perfkit.profiling.profilers import Summary, register_profiler
from perfkit.profiling.profilers.python import frame_name
from perfkit.profiling.record import Counter
from perfkit.profiling.stacks import Stack, Stacks

__all__ = ["MemoryProfiler"]

_MEMRAY = "memory.memray"
_FALLBACK = "tracemalloc.json"
_PEAK = "peak_stacks.txt"


def _has_memray() -> bool:
    return importlib.util.find_spec("memray") is not None


class MemoryProfiler:
    name = "memory"
    doc = "allocations by stack at the peak (memray; tracemalloc's peak without it)"
    threads = 0

    def __init__(self) -> None:
        self._tracker: Any = None
        self._folder = Path()

    def probe(self, case: Case) -> Availability:
        return Availability.yes()

    def wrapper(self, case: Case, folder: Path) -> list[str]:
        return []

    def start(self, case: Case, folder: Path) -> None:
        self._folder = folder
        if _has_memray():
            import memray

            # Aggregated: the file holds totals by stack and the peak's, not every call, so
            # seconds of a Python-heavy loop stay megabytes, not gigabytes.
            self._tracker = memray.Tracker(
                str(folder / _MEMRAY),
                file_format=memray.FileFormat.AGGREGATED_ALLOCATIONS,
            )
            self._tracker.__enter__()
        else:
            tracemalloc.start(64)

    def stop(self) -> None:
        if self._tracker is not None:
            tracker, self._tracker = self._tracker, None
            tracker.__exit__(None, None, None)
            return
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        (self._folder / _FALLBACK).write_text(json.dumps({"peak_bytes": peak}))

    def summarize(self, folder: Path, calls: int) -> Summary:
        if (folder / _FALLBACK).is_file():
            peak = float(json.loads((folder / _FALLBACK).read_text())["peak_bytes"])
            note = "tracemalloc (memray is not installed): the peak, no stacks"
            return Summary(counters=(Counter("peak traced memory", peak, "bytes"),), notes=(note,))
        return _memray_summary(folder)


def _memray_summary(folder: Path) -> Summary:
    """The bytes live at the peak by Python stack, cut below the profiled loop."""
    import memray

    from perfkit.profiling.worker import LOOP_FRAME

    reader = memray.FileReader(str(folder / _MEMRAY))
    stacks = []
    for record in reader.get_high_watermark_allocation_records(merge_threads=True):
        frames = tuple(frame_name(f, line, fn) for fn, f, line in reversed(record.stack_trace()))
        stacks.append(Stack(frames or ("(no Python frame)",), float(record.size)))
    whole = Stacks("bytes", tuple(stacks))
    (folder / _PEAK).write_text(whole.to_collapsed())
    peak = float(reader.metadata.peak_memory)
    below = whole.below(f"{LOOP_FRAME} (")
    counters = (
        Counter("peak memory", peak, "bytes"),
        Counter("allocations", float(reader.metadata.total_allocations), "", None),
    )
    notes = (
        f"memray: {below.total / peak if peak else 0:.0%} of the peak's bytes were "
        "allocated under the profiled loop",
    )
    return Summary(stacks=below, counters=counters, notes=notes)


register_profiler(MemoryProfiler())

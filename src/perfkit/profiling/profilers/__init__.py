"""The Profiler protocol and the profiler registry: one module a profiler, registered once.

A profiler runs in the worker that prepared and verified a case, around the loop of calls
it profiles (``start`` and ``stop``), or wraps the worker's command (callgrind); its files
stay in its tool's own format, and the runner reads them back into a :class:`Summary`
(stacks, counters, kernels or stages) for the record and the page.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from perfkit.model.backend import Availability
from perfkit.model.errors import UsageError
from perfkit.model.workload import Case
from perfkit.profiling.record import Counter, Kernel, StageCost
from perfkit.profiling.stacks import Stacks

__all__ = [
    "Profiler",
    "Summary",
    "get_profiler",
    "load_profilers",
    "profilers",
    "register_profiler",
]


@dataclass(frozen=True, slots=True)
class Summary:
    """What a profiler's files say, parsed: any of a flame graph's stacks, counters,
    GPU kernels and Spark stages, and notes on how it was taken."""

    stacks: Stacks | None = None
    counters: tuple[Counter, ...] = ()
    kernels: tuple[Kernel, ...] = ()
    stages: tuple[StageCost, ...] = ()
    notes: tuple[str, ...] = ()
    metrics: dict[str, float] = field(default_factory=dict)


@runtime_checkable
class Profiler(Protocol):
    """One profiling tool. ``probe`` says why it cannot profile a case here; ``wrapper``
    is the command the case's worker runs under ([] for none); ``start`` and ``stop`` run
    in the worker around the profiled loop, writing into ``folder``; ``summarize`` runs in
    the runner, once the worker has ended, and reads the files back."""

    name: str
    doc: str
    # The worker's BLAS threads: 0 for the run's, 1 where helper threads would blur it.
    threads: int

    def probe(self, case: Case) -> Availability: ...

    def wrapper(self, case: Case, folder: Path) -> list[str]: ...

    def start(self, case: Case, folder: Path) -> None: ...

    def stop(self) -> None: ...

    def summarize(self, folder: Path, calls: int) -> Summary: ...


_PROFILERS: dict[str, Profiler] = {}


def register_profiler(profiler: Profiler) -> Profiler:
    if profiler.name in _PROFILERS:
        raise ValueError(f"profiler {profiler.name!r} is registered twice")
    _PROFILERS[profiler.name] = profiler
    return profiler


def load_profilers() -> None:
    """Import every profiler module of this package once (each registers itself)."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


def profilers() -> dict[str, Profiler]:
    load_profilers()
    return dict(_PROFILERS)


def get_profiler(name: str) -> Profiler:
    known = profilers()
    if name not in known:
        raise UsageError(f"unknown profiler {name!r}; profilers: {', '.join(sorted(known))}")
    return known[name]


def get_profilers(names: Sequence[str]) -> list[Profiler]:
    return [get_profiler(name) for name in dict.fromkeys(names)]

"""``instructions``: each function's self and inclusive instruction counts under valgrind's
callgrind, collected only around the profiled loop (the machinery of ``--measure
instructions``); KCachegrind and ``callgrind_annotate`` open the file."""

from __future__ import annotations

import ctypes
import json
import os
from pathlib import Path
from typing import Any

from perfkit.engine import callgrind
from perfkit.model.backend import Availability, get_backend
from perfkit.model.workload import Case
from perfkit.profiling.profilers import Summary, register_profiler
from perfkit.profiling.record import Counter
from perfkit.profiling.stacks import CallGraph, unfold

__all__ = ["InstructionsProfiler", "read_callgrind"]

_OUT = "callgrind.out"
_DRIVER_OUT = "driver.callgrind.%p.out"
# Names in full; and glibc's start-up functions under their own names, not merged into one
# "(below main)" whose calls to itself tangle the call graph.
_PLAIN_NAMES = ("--compress-strings=no", "--compress-pos=no", "--show-below-main=yes")
_DUMP = "perfkit-profile"
_ROOT = "(profiled loop)"


def _driven(case: Case) -> bool:
    """Whether the case's work is an allocator driver, a child process of the worker."""
    from perfkit.backends._allocator import AllocatorBackend

    return isinstance(get_backend(case.implementation.backend), AllocatorBackend)


class InstructionsProfiler:
    """In-process cases: the worker runs under callgrind, collecting only around the loop.
    Allocator patterns: each driver the loop starts runs under callgrind, whole."""

    name = "instructions"
    doc = "instructions by function, self and inclusive (valgrind's callgrind)"
    threads = 1  # helper threads spinning in BLAS would count as the case's instructions

    def __init__(self) -> None:
        self._lib: Any = None
        self._driven = False

    def probe(self, case: Case) -> Availability:
        backend = get_backend(case.implementation.backend)
        if backend.device != "cpu":
            return Availability.no("callgrind counts CPU instructions only")
        if not getattr(backend, "in_process", True) and not _driven(case):
            return Availability.no("its work runs in a child process, which callgrind misses")
        return callgrind.available()

    def wrapper(self, case: Case, folder: Path) -> list[str]:
        if _driven(case):
            return []
        return [*callgrind.valgrind_prefix(folder / _OUT), *_PLAIN_NAMES]

    def start(self, case: Case, folder: Path) -> None:
        if _driven(case):
            from perfkit.backends._allocator import DRIVER_WRAPPER

            out = folder / _DRIVER_OUT
            command = ["valgrind", "--tool=callgrind", "--quiet", f"--callgrind-out-file={out}"]
            os.environ[DRIVER_WRAPPER] = json.dumps([*command, *_PLAIN_NAMES])
            self._driven = True
            return
        self._lib = ctypes.CDLL(str(callgrind.toggle_library()))
        if not self._lib.pk_cg_running():
            raise RuntimeError("the instructions profiler needs the worker under valgrind")
        self._lib.pk_cg_dump.argtypes = [ctypes.c_char_p]
        self._lib.pk_cg_zero()
        self._lib.pk_cg_toggle()

    def stop(self) -> None:
        if self._driven:
            from perfkit.backends._allocator import DRIVER_WRAPPER

            os.environ.pop(DRIVER_WRAPPER, None)
            return
        self._lib.pk_cg_toggle()
        self._lib.pk_cg_dump(_DUMP.encode())

    def summarize(self, folder: Path, calls: int) -> Summary:
        drivers = sorted(folder.glob(_DRIVER_OUT.replace("%p", "*")))
        if drivers:
            graph, total = _merged([read_callgrind(path) for path in drivers])
            note = f"callgrind over each of the {len(drivers)} driver runs, whole"
        else:
            graph, total = read_callgrind(folder / f"{_OUT}.1")
            note = "callgrind around the profiled loop, one BLAS thread"
        stacks = unfold(graph, _ROOT, "instructions").below(_ROOT)
        counters = (Counter("instructions", total, "", total / calls if calls else None),)
        return Summary(stacks=stacks, counters=counters, notes=(note,))


def _merged(graphs: list[tuple[CallGraph, float]]) -> tuple[CallGraph, float]:
    own: dict[str, float] = {}
    calls: dict[tuple[str, str], float] = {}
    for graph, _ in graphs:
        for name, cost in graph.own.items():
            own[name] = own.get(name, 0.0) + cost
        for edge, cost in graph.calls.items():
            calls[edge] = calls.get(edge, 0.0) + cost
    return CallGraph(own, calls), sum(total for _, total in graphs)


def read_callgrind(path: Path) -> tuple[CallGraph, float]:
    """The call graph of a callgrind file written with ``--compress-strings=no`` and
    ``--compress-pos=no``, under one root joining the functions no recorded call reached,
    and the file's total instructions."""
    own: dict[str, float] = {}
    calls: dict[tuple[str, str], float] = {}
    function = callee = ""
    in_call = False
    total = 0.0
    for line in path.read_text(errors="replace").splitlines():
        if not line or line[0] == "#":
            continue
        if line.startswith(("totals:", "summary:")):
            total = float(line.split()[1])
        elif line.startswith("fn="):
            function = line[3:]
        elif line.startswith("cfn="):
            callee = line[4:]
        elif line.startswith("calls="):
            in_call = True
        elif line[0].isdigit() or line[0] in "+-*":
            fields = line.split()
            cost = float(fields[1]) if len(fields) > 1 else 0.0
            if in_call:
                calls[(function, callee)] = calls.get((function, callee), 0.0) + cost
                in_call = False
            else:
                own[function] = own.get(function, 0.0) + cost
    graph = CallGraph(own, calls)
    inclusive = graph.inclusive()
    called = {c for (caller, c) in calls if caller != c}
    tops = {(_ROOT, name): inclusive[name] for name in inclusive if name not in called}
    return CallGraph(own, {**calls, **tops}), total


register_profiler(InstructionsProfiler())

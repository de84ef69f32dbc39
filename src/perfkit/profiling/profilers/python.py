"""``python``: every Python call, deterministically (cProfile), as a pstats file and a call
tree; snakeviz and ``python -m pstats`` open the file."""

from __future__ import annotations

import cProfile
import os
import pstats
from pathlib import Path

from perfkit.model.backend import Availability
from perfkit.model.workload import Case
from perfkit.profiling.profilers import Summary, register_profiler
from perfkit.profiling.stacks import CallGraph, Stacks, unfold

__all__ = ["PythonProfiler", "frame_name"]

_FILE = "profile.pstats"
_TREE = "calltree.txt"


def frame_name(file: str, line: int, function: str) -> str:
    """A frame as py-spy names it, ``function (file.py:line)``; built-ins by name alone."""
    if file == "~" or not line:
        return function
    return f"{function} ({os.path.basename(file)}:{line})"


class PythonProfiler:
    name = "python"
    doc = "deterministic Python calls (cProfile): pstats file and call tree"
    threads = 0

    def __init__(self) -> None:
        self._profile: cProfile.Profile | None = None
        self._folder: Path | None = None

    def probe(self, case: Case) -> Availability:
        return Availability.yes()

    def wrapper(self, case: Case, folder: Path) -> list[str]:
        return []

    def start(self, case: Case, folder: Path) -> None:
        self._folder = folder
        self._profile = cProfile.Profile()
        self._profile.enable()

    def stop(self) -> None:
        assert self._profile is not None
        assert self._folder is not None
        self._profile.disable()
        self._profile.dump_stats(self._folder / _FILE)

    def summarize(self, folder: Path, calls: int) -> Summary:
        from perfkit.profiling.worker import LOOP_FRAME

        stats = pstats.Stats(str(folder / _FILE)).stats  # type: ignore[attr-defined]
        own: dict[str, float] = {}
        edges: dict[tuple[str, str], float] = {}
        root = None
        for key, (_cc, _nc, tt, _ct, callers) in stats.items():
            name = frame_name(*key)
            own[name] = own.get(name, 0.0) + tt
            if key[2] == LOOP_FRAME:
                root = name
            for caller_key, caller_stats in callers.items():
                edge = (frame_name(*caller_key), name)
                edges[edge] = edges.get(edge, 0.0) + caller_stats[3]
        if root is None:
            return Summary(notes=("cProfile saw no call of the profiled loop",))
        stacks = unfold(CallGraph(own, edges), root, "seconds").below(root)
        (folder / _TREE).write_text(_call_tree(stacks))
        return Summary(stacks=stacks, notes=("cProfile: time includes its own hooks",))


def _call_tree(stacks: Stacks) -> str:
    """The unfolded stacks as an indented tree of inclusive seconds."""
    lines = []
    for node in sorted(stacks.nodes(), key=lambda n: n.id.split(";")):
        depth = node.id.count(";")
        lines.append(f"{node.value:12.6f}  {'  ' * depth}{node.label}")
    return "\n".join(lines) + "\n"


register_profiler(PythonProfiler())

"""Call stacks with costs: the one shape every profiler's flame graph takes.

A profile is a list of stacks (root frame first) each with a cost in one unit: samples,
seconds, instructions or bytes. Per-function self and total cost, a function's share, the
icicle's nodes and the difference of two profiles are all computed from it, so every
profiler gets the same tables and graphs. Profilers that record a call graph instead of
stacks (cProfile, callgrind) are unfolded into stacks by :func:`unfold`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "CallGraph",
    "FunctionCost",
    "Node",
    "NodeChange",
    "Stack",
    "Stacks",
    "Unit",
    "difference",
    "unfold",
]

Unit = Literal["samples", "seconds", "instructions", "bytes"]
_SEPARATOR = ";"  # of frames in collapsed stacks (Brendan Gregg's format, py-spy's raw)


@dataclass(frozen=True, slots=True)
class Stack:
    frames: tuple[str, ...]  # root first
    cost: float


@dataclass(frozen=True, slots=True)
class FunctionCost:
    """A function's own cost and its cost with its callees (counted once a stack, so a
    recursive function is not counted twice)."""

    name: str
    self_cost: float
    total_cost: float


@dataclass(frozen=True, slots=True)
class Node:
    """One frame of the icicle: ``id`` is the path of frames from the root."""

    id: str
    parent: str
    label: str
    value: float  # inclusive


@dataclass(frozen=True, slots=True)
class NodeChange:
    """A frame's inclusive cost per call on each side, and its share of each side's total."""

    id: str
    parent: str
    label: str
    base: float
    candidate: float
    base_share: float
    candidate_share: float

    @property
    def change(self) -> float:
        return self.candidate - self.base


@dataclass(frozen=True, slots=True)
class Stacks:
    unit: Unit
    stacks: tuple[Stack, ...]

    @classmethod
    def from_collapsed(cls, text: str, unit: Unit) -> Stacks:
        """Collapsed stacks, one ``frame;frame;frame COST`` a line; equal stacks merged."""
        costs: dict[tuple[str, ...], float] = {}
        for line in text.splitlines():
            path, _, cost = line.rstrip().rpartition(" ")
            if not path:
                continue
            frames = tuple(path.split(_SEPARATOR))
            costs[frames] = costs.get(frames, 0.0) + float(cost)
        return cls(unit, tuple(Stack(f, c) for f, c in costs.items()))

    def to_collapsed(self) -> str:
        return "".join(f"{_SEPARATOR.join(s.frames)} {s.cost:g}\n" for s in self.stacks if s.frames)

    @property
    def total(self) -> float:
        return sum(s.cost for s in self.stacks)

    def below(self, root: str) -> Stacks:
        """The stacks under the first frame that starts with ``root`` (the frames above it,
        the profiling loop's callers, dropped); stacks without it are left out."""
        kept = []
        for stack in self.stacks:
            for i, frame in enumerate(stack.frames):
                if frame.startswith(root):
                    if i + 1 < len(stack.frames):
                        kept.append(Stack(stack.frames[i + 1 :], stack.cost))
                    break
        return Stacks(self.unit, tuple(kept))

    def functions(self) -> list[FunctionCost]:
        """Every function's self and total cost, the costliest total first."""
        own: dict[str, float] = {}
        total: dict[str, float] = {}
        for stack in self.stacks:
            if not stack.frames:
                continue
            own[stack.frames[-1]] = own.get(stack.frames[-1], 0.0) + stack.cost
            for frame in set(stack.frames):
                total[frame] = total.get(frame, 0.0) + stack.cost
        rows = [FunctionCost(name, own.get(name, 0.0), cost) for name, cost in total.items()]
        return sorted(rows, key=lambda r: (-r.total_cost, -r.self_cost, r.name))

    def share(self, prefix: str) -> float:
        """The fraction of the cost in stacks holding a frame that starts with ``prefix``."""
        whole = self.total
        if whole <= 0:
            return 0.0
        inside = sum(s.cost for s in self.stacks if any(f.startswith(prefix) for f in s.frames))
        return inside / whole

    def nodes(self, min_fraction: float = 0.001) -> list[Node]:
        """The icicle's frames, parents before children; frames under ``min_fraction`` of
        the total are left out (a page of thousands of slivers draws slowly and says
        nothing)."""
        values = _inclusive(self.stacks)
        floor = self.total * min_fraction
        return [
            Node(_join(path), _join(path[:-1]), path[-1], value)
            for path, value in sorted(values.items(), key=lambda item: len(item[0]))
            if value >= floor and value > 0
        ]

    def scaled(self, factor: float) -> Stacks:
        return Stacks(self.unit, tuple(Stack(s.frames, s.cost * factor) for s in self.stacks))


def _join(path: tuple[str, ...]) -> str:
    return _SEPARATOR.join(path)


def _inclusive(stacks: Iterable[Stack]) -> dict[tuple[str, ...], float]:
    values: dict[tuple[str, ...], float] = {}
    for stack in stacks:
        for depth in range(1, len(stack.frames) + 1):
            path = stack.frames[:depth]
            values[path] = values.get(path, 0.0) + stack.cost
    return values


def difference(
    base: Stacks, candidate: Stacks, base_per_call: float, candidate_per_call: float
) -> list[NodeChange]:
    """Each frame's inclusive cost per call on both sides (its share of the side's profile
    times the side's cost per call), the frames that grew most first.

    Shares alone cannot show a slowdown of the whole: a thunk twice as slow in the same
    proportions has the same shares. Scaled by each side's cost per call, the frames that
    grew are the ones whose cost rose, and their shares say whether the mix changed too.
    """
    sides = []
    for stacks, per_call in ((base, base_per_call), (candidate, candidate_per_call)):
        whole = stacks.total
        scale = per_call / whole if whole > 0 else 0.0
        values = _inclusive(stacks.stacks)
        sides.append({p: v * scale for p, v in values.items()})
    base_values, cand_values = sides
    changes = []
    for path in set(base_values) | set(cand_values):
        b, c = base_values.get(path, 0.0), cand_values.get(path, 0.0)
        changes.append(
            NodeChange(
                _join(path),
                _join(path[:-1]),
                path[-1],
                b,
                c,
                b / base_per_call if base_per_call > 0 else 0.0,
                c / candidate_per_call if candidate_per_call > 0 else 0.0,
            )
        )
    return sorted(changes, key=lambda n: (-n.change, n.id))


@dataclass(frozen=True, slots=True)
class CallGraph:
    """What cProfile and callgrind record: each function's own cost, and each call edge's
    inclusive cost (the callee's cost when called from that caller)."""

    own: Mapping[str, float]
    calls: Mapping[tuple[str, str], float]

    def inclusive(self) -> dict[str, float]:
        """Every function's own cost plus its calls' (a recursive call counted again)."""
        values = dict(self.own)
        for (caller, callee), cost in self.calls.items():
            values.setdefault(callee, 0.0)
            values[caller] = values.get(caller, 0.0) + cost
        return values


def unfold(
    graph: CallGraph, root: str, unit: Unit, min_fraction: float = 0.0005, max_depth: int = 64
) -> Stacks:
    """Stacks from a call graph, from ``root`` down: a callee's cost under a caller is the
    edge's, split among the callee's own callees in the proportions the callee has over all
    its callers (the usual approximation: the graph does not keep whole stacks). A call
    under ``min_fraction`` of the root's cost stays in its caller's own cost."""
    callees: dict[str, list[tuple[str, float]]] = {}
    for (caller, callee), cost in graph.calls.items():
        callees.setdefault(caller, []).append((callee, cost))
    inclusive = graph.inclusive()
    floor = inclusive.get(root, 0.0) * min_fraction
    out: list[Stack] = []

    def walk(path: tuple[str, ...], name: str, amount: float) -> None:
        here = (*path, name)
        # A call back into the stack is recursion, whose cost the outer call's edge holds
        # already: left out, or every recursive function would count twice.
        onward = [(callee, cost) for callee, cost in callees.get(name, []) if callee not in here]
        whole = graph.own.get(name, 0.0) + sum(cost for _, cost in onward)
        scale = amount / whole if whole > 0 else 0.0
        own = graph.own.get(name, 0.0) * scale
        for callee, cost in onward:
            part = cost * scale
            if part < floor or len(here) >= max_depth:
                own += part
            else:
                walk(here, callee, part)
        if own > 0:
            out.append(Stack(here, own))

    if inclusive.get(root, 0.0) <= 0:
        return Stacks(unit, ())
    walk((), root, inclusive[root])
    # A call whose callees are all back on the stack has nowhere to put its cost (it was
    # the recursion's double count); scaled back, the stacks add up to the root's cost.
    found = sum(s.cost for s in out)
    return Stacks(unit, tuple(out)).scaled(inclusive[root] / found if found > 0 else 0.0)

"""Why it got slower: both sides of a comparison profiled in turn, and each frame's change.

The sides alternate case by case and profiler by profiler (base, then candidate), as
``perfkit ab`` interleaves its repetitions, so drift in the machine's load falls on both.
A difference scales each side's shares by its cost a call (time, or instructions), so a
frame that grew shows as grown even when the whole thunk slowed in the same proportions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfkit.model.workload import Case
from perfkit.profiling.profilers import Profiler
from perfkit.profiling.record import CaseProfile, ProfileRun
from perfkit.profiling.run import ProfileOptions, profile_cases
from perfkit.profiling.stacks import NodeChange, difference
from perfkit.profiling.tables import format_amount

__all__ = [
    "SIDES",
    "Difference",
    "GrownFunction",
    "differences",
    "grown_functions",
    "grown_markdown",
    "profile_sides",
    "profile_slower",
]  # fmt: skip

SIDES = ("base", "cand")
TOP_GROWN = 5
PROFILE_SECONDS = 3.0  # a side, for perfkit ab --profile


@dataclass(frozen=True)
class Difference:
    case: str
    profiler: str
    unit: str
    base_per_call: float
    cand_per_call: float
    changes: list[NodeChange]

    @property
    def title(self) -> str:
        return f"{self.case} · {self.profiler}: base → candidate"


@dataclass(frozen=True)
class GrownFunction:
    """A function's own cost a call on each side."""

    name: str
    base: float
    cand: float

    @property
    def change(self) -> float:
        return self.cand - self.base


def profile_sides(
    cases: Sequence[Case],
    chosen: Sequence[Profiler],
    folder: Path,
    options: Mapping[str, ProfileOptions],
    finished: Callable[[CaseProfile], None] = lambda profile: None,
) -> list[CaseProfile]:
    """Every case under every profiler on both sides, the sides taking turns."""
    out = []
    for case in cases:
        for profiler in chosen:
            for side in SIDES:
                out += profile_cases(
                    [case], [profiler], folder, options[side], side=side, finished=finished
                )
    return out


def differences(run: ProfileRun) -> list[Difference]:
    """A difference for each case and profiler that both sides profiled into stacks."""
    found = []
    for base in run.profiles:
        if base.side != "base" or base.stacks is None:
            continue
        cand = run.of(base.case, base.profiler, "cand")
        if cand is None or cand.stacks is None:
            continue
        b, c = base.per_call_cost, cand.per_call_cost
        if b is None or c is None:
            continue
        changes = difference(base.stacks, cand.stacks, b, c)
        found.append(Difference(base.case, base.profiler, base.stacks.unit, b, c, changes))
    return found


def grown_functions(run: ProfileRun, diff: Difference) -> list[GrownFunction]:
    """The functions whose own cost a call grew most, the largest growth first."""
    sides = []
    for side, per_call in (("base", diff.base_per_call), ("cand", diff.cand_per_call)):
        profile = run.of(diff.case, diff.profiler, side)
        assert profile is not None
        assert profile.stacks is not None
        total = profile.stacks.total
        scale = per_call / total if total > 0 else 0.0
        own: dict[str, float] = {}
        for stack in profile.stacks.stacks:
            if stack.frames:
                leaf = _leaf_name(stack.frames)
                own[leaf] = own.get(leaf, 0.0) + stack.cost * scale
        sides.append(own)
    base, cand = sides
    rows = [GrownFunction(n, base.get(n, 0.0), cand.get(n, 0.0)) for n in set(base) | set(cand)]
    return sorted((r for r in rows if r.change > 0), key=lambda r: -r.change)


def _leaf_name(frames: tuple[str, ...]) -> str:
    """The frame a stack's cost is in; a library frame with no symbol (``[libm.so.6]``)
    named with its nearest named caller, or every libm call would be one function."""
    leaf = frames[-1]
    if not leaf.startswith("["):
        return leaf
    for frame in reversed(frames[:-1]):
        if not frame.startswith("["):
            return f"{frame} → {leaf}"
    return leaf


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell of a pull-request comment."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("`", "'").replace("\n", " ")


def grown_markdown(run: ProfileRun, diffs: Sequence[Difference], top: int = TOP_GROWN) -> str:
    """The pull-request comment's section: per case, the functions that grew most."""
    if not diffs:
        return ""
    lines = ["### Why it got slower", ""]
    for diff in diffs:
        unit = "seconds" if diff.unit == "samples" else diff.unit
        lines += [
            f"**{_cell(diff.case)}** ({diff.profiler}): "
            f"{format_amount(diff.base_per_call, unit)} → "
            f"{format_amount(diff.cand_per_call, unit)} a call",
            "",
            "| function | base, own a call | candidate | change |",
            "| --- | ---: | ---: | ---: |",
        ]
        for row in grown_functions(run, diff)[:top]:
            lines.append(
                f"| `{_cell(row.name)}` | {format_amount(row.base, unit)} | "
                f"{format_amount(row.cand, unit)} | +{format_amount(row.change, unit)} |"
            )
        lines.append("")
    return "\n".join(lines)


def profile_slower(
    args: Any, cases: Sequence[Case], slower: Sequence[str], *, sides: Mapping[str, Any],
    folder: Path, counting: bool,
) -> tuple[ProfileRun, list[Difference]]:  # fmt: skip
    """``perfkit ab --profile``: both sides of every case the gate called ``SLOWER``, under
    the sampling profiler (callgrind's when the run counted instructions), in turns."""
    import dataclasses
    import time

    from perfkit.machine.capture import capture_environment
    from perfkit.profiling.profilers import get_profiler
    from perfkit.profiling.record import PROFILE_SCHEMA

    chosen = [get_profiler("instructions" if counting else "sample")]
    options = ProfileOptions(
        duration=PROFILE_SECONDS, seed=args.seed, threads=args.threads or 0,
        plugins=tuple(args.plugin),
    )  # fmt: skip
    by_side = {name: dataclasses.replace(options, side=side) for name, side in sides.items()}
    picked = [c for c in cases if c.id in set(slower)]
    created = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    profiles = profile_sides(picked, chosen, folder, by_side)
    environment = capture_environment()
    run = ProfileRun(
        PROFILE_SCHEMA, folder.name, created, ("perfkit", *args.argv), PROFILE_SECONDS,
        environment.machine.cpu or "unknown CPU", environment.git.sha, tuple(profiles),
    )  # fmt: skip
    return run, differences(run)

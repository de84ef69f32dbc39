"""The profile record: what one ``perfkit profile`` run took, versioned JSON like run records."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from perfkit.model.errors import RecordError, not_json
from perfkit.profiling.stacks import Stacks
from perfkit.records.atomic import write_text_atomic
from perfkit.records.typed import FieldError, from_json, to_json

__all__ = [
    "PROFILE_SCHEMA",
    "CaseProfile",
    "Counter",
    "Kernel",
    "ProfileRun",
    "StageCost",
    "dump_profile_run",
    "load_profile_run",
]

PROFILE_SCHEMA = 1
ProfileStatus = Literal["ok", "skipped", "invalid", "failed"]


@dataclass(frozen=True, slots=True)
class Counter:
    """One counter over the profiled loop; ``value`` None where the machine has no such
    counter (``note`` says so)."""

    name: str
    value: float | None
    unit: str = ""
    per_call: float | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class Kernel:
    """One GPU kernel over the profiled loop."""

    name: str
    launches: int
    total_s: float
    mean_s: float
    grid: str = ""
    block: str = ""
    registers: int | None = None
    shared_bytes: int | None = None
    occupancy: float | None = None


@dataclass(frozen=True, slots=True)
class StageCost:
    """One Spark stage's task time, split by where it went."""

    stage: int
    name: str
    tasks: int
    run_s: float
    deserialize_s: float
    gc_s: float
    shuffle_read_s: float
    shuffle_write_s: float
    result_serialize_s: float


@dataclass(frozen=True, slots=True)
class CaseProfile:
    """One case under one profiler. ``per_call_s`` is the profiled loop's time a call and
    ``baseline_s`` the same worker's unprofiled mean, so ``overhead`` is their ratio.
    ``files`` are relative to the run's folder. ``side`` tells the two sides of a
    differential run apart (``base``, ``cand``)."""

    case: str
    profiler: str
    status: ProfileStatus
    reason: str = ""
    side: str = ""
    calls: int = 0
    seconds: float = 0.0
    per_call_s: float | None = None
    baseline_s: float | None = None
    files: tuple[str, ...] = ()
    stacks: Stacks | None = None
    counters: tuple[Counter, ...] = ()
    kernels: tuple[Kernel, ...] = ()
    stages: tuple[StageCost, ...] = ()
    notes: tuple[str, ...] = ()
    metrics: dict[str, float] | None = None

    @property
    def overhead(self) -> float | None:
        if self.per_call_s is None or not self.baseline_s:
            return None
        return self.per_call_s / self.baseline_s

    @property
    def per_call_cost(self) -> float | None:
        """The profile's own unit a call: what a differential graph scales shares by."""
        if self.stacks is None or not self.calls:
            return None
        if self.stacks.unit in ("instructions", "bytes"):
            return self.stacks.total / self.calls
        return self.per_call_s


@dataclass(frozen=True, slots=True)
class ProfileRun:
    schema: int
    run_id: str
    created: str
    command: tuple[str, ...]
    duration: float
    machine: str
    git_sha: str | None
    profiles: tuple[CaseProfile, ...]

    def of(self, case: str, profiler: str, side: str = "") -> CaseProfile | None:
        for profile in self.profiles:
            if (profile.case, profile.profiler, profile.side) == (case, profiler, side):
                return profile
        return None


def dump_profile_run(run: ProfileRun, path: Path) -> Path:
    write_text_atomic(path, json.dumps(to_json(run), indent=1) + "\n")
    return path


def load_profile_run(path: Path) -> ProfileRun:
    """A profile record, validated; a bad one is a one-line error naming the field."""
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecordError(f"{path}: no such profile record") from None
    except json.JSONDecodeError as exc:
        raise not_json(path, exc) from None
    if not isinstance(data, dict) or data.get("schema") != PROFILE_SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else None
        raise RecordError(
            f"{path}: not a perfkit profile record of schema {PROFILE_SCHEMA} (schema {found!r})"
        )
    try:
        return from_json(ProfileRun, data, "profile")
    except FieldError as exc:
        raise RecordError(f"{path}: {exc}") from None

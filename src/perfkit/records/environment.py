"""The environment of a run, typed, and the one definition of what makes two runs comparable.

A record stores an ``Environment``; the gate asks ``comparability_keys`` which facts must
agree for a case's timings to be compared. A fact that is unknown on both sides is not
taken as equal: two records that both lack the GPU's name cannot show that they ran on the
same GPU.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "BackendInfo",
    "Environment",
    "GitState",
    "Gpu",
    "Machine",
    "PythonInfo",
    "SystemLoad",
    "comparability_keys",
    "environment_mismatches",
]


@dataclass(frozen=True, slots=True)
class Machine:
    cpu: str | None = None
    arch: str | None = None
    flags: tuple[str, ...] = ()
    l2_cache_bytes: int | None = None
    l3_cache_bytes: int | None = None
    cores_logical: int | None = None
    cores_physical: int | None = None
    cores_usable: int | None = None
    memory_bytes: int | None = None
    os: str | None = None
    hostname: str | None = None


@dataclass(frozen=True, slots=True)
class PythonInfo:
    version: str | None = None
    implementation: str | None = None


@dataclass(frozen=True, slots=True)
class GitState:
    sha: str | None = None
    dirty: bool | None = None


@dataclass(frozen=True, slots=True)
class Gpu:
    index: int = 0
    name: str | None = None
    driver: str | None = None
    memory_bytes: int | None = None
    sm_clock_max_mhz: int | None = None
    sm_clock_mhz: int | None = None
    power_limit_w: float | None = None
    temperature_c: int | None = None


@dataclass(frozen=True, slots=True)
class BackendInfo:
    available: bool = False
    reason: str = ""
    device: str = "cpu"
    versions: Mapping[str, str] = field(default_factory=dict)
    # What the engine was set up with (Spark's master and key configs); not comparability
    settings: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SystemLoad:
    """How quiet the machine was before the run, as ``pyperf system show`` would judge it.

    ``other_cpu`` is the CPU other processes used over a short look, in cores; ``steal`` the
    share of CPU time the hypervisor gave to other guests. ``warnings`` says in words what
    is not quiet.
    """

    other_cpu: float | None = None
    steal: float | None = None
    governor: str | None = None
    swap_used_bytes: int | None = None
    load_average: float | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Environment:
    machine: Machine = field(default_factory=Machine)
    python: PythonInfo = field(default_factory=PythonInfo)
    libraries: Mapping[str, str] = field(default_factory=dict)
    git: GitState = field(default_factory=GitState)
    gpus: tuple[Gpu, ...] = ()
    backends: Mapping[str, BackendInfo] = field(default_factory=dict)
    blas: tuple[Mapping[str, Any], ...] = ()
    blas_threads: int | None = None
    ceilings: Mapping[str, Any] = field(default_factory=dict)
    load: SystemLoad | None = None
    # A hash of the measuring code (loop, timers, worker) that took the samples.
    harness: str | None = None
    imported_from: str | None = None


def _leading(version: str | None, parts: int) -> str | None:
    """``2.4.6`` -> ``2`` (parts=1) or ``2.4`` (parts=2); a version without dots as it is."""
    if version is None:
        return None
    return ".".join(version.split(".")[:parts])


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def comparability_keys(env: Environment, backend: str, device: str) -> dict[str, str | None]:
    """The facts that must agree for a case on ``backend`` to be compared across records.

    Every case: the CPU, its logical cores, the BLAS threads, Python's minor version and
    NumPy's major version, and the device its backend ran on. GPU cases: the GPU's name and
    driver. And the major version of
    every library the case's backend reports (CuPy and the CUDA runtime, torch, pyspark ...),
    so a new backend brings its own keys without a list kept here.
    """
    keys = {
        "cpu": env.machine.cpu,
        "logical cores": _text(env.machine.cores_logical),
        "BLAS threads": _text(env.blas_threads),
        "Python": _leading(env.python.version, 2),
        "NumPy": _leading(env.libraries.get("numpy"), 1),
    }
    if device == "cuda":
        gpu = env.gpus[0] if env.gpus else Gpu()
        keys["GPU"] = gpu.name
        keys["GPU driver"] = gpu.driver
    info = env.backends.get(backend)
    if info is not None:  # PyTorch's is chosen per run (--device)
        keys[f"{backend} device"] = info.device
    for library, version in sorted((info.versions if info else {}).items()):
        keys[f"{backend} {library}"] = _leading(version, 1)
    return keys


def environment_mismatches(
    base: Environment, cand: Environment, backend: str, device: str
) -> list[str]:
    """``name: base != candidate`` for every comparability key that differs or is unknown
    on both sides; empty when the case's timings can be compared."""
    old = comparability_keys(base, backend, device)
    new = comparability_keys(cand, backend, device)
    out = []
    for name in sorted(old.keys() | new.keys(), key=list({**old, **new}).index):
        a, b = old.get(name), new.get(name)
        if a is None and b is None:
            out.append(f"{name}: unknown on both sides")
        elif a != b:
            out.append(f"{name}: {a!r} != {b!r}")
    return out

"""The Backend protocol, availability probes, derived backends and the backend registry."""

from __future__ import annotations

import atexit
import contextlib
import importlib.metadata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast, runtime_checkable

from perfkit.model.monitor import CaseMonitor, NullMonitor
from perfkit.model.timers import Timer, WallTimer
from perfkit.model.workload import Implementation

__all__ = [
    "Availability",
    "Backend",
    "CpuBackend",
    "DerivedBackend",
    "Device",
    "backends",
    "get_backend",
    "package_versions",
    "register_backend",
]

Device = Literal["cpu", "cuda"]


@dataclass(frozen=True, slots=True)
class Availability:
    ok: bool
    reason: str = ""

    @classmethod
    def yes(cls) -> Availability:
        return cls(True)

    @classmethod
    def no(cls, reason: str) -> Availability:
        return cls(False, reason)


@runtime_checkable
class Backend(Protocol):
    """A runtime adapter: how to reach an engine, move data, wait for it and time it."""

    name: str
    label: str
    color: str
    # Backends whose sessions cannot share a process (one SparkContext a process): a worker
    # that opens one closes the others of its group first. None: no such limit.
    session_group: str | None

    @property
    def device(self) -> Device:
        """Where the ports run (PyTorch's is chosen per run: ``--device``)."""
        ...

    def probe(self) -> Availability: ...

    def session(self) -> contextlib.AbstractContextManager[Any]: ...

    def to_device(self, value: Any) -> Any: ...

    def from_device(self, value: Any) -> Any: ...

    def sync(self) -> None: ...

    def timer(self, cold: bool = False) -> Timer: ...

    def monitor(self) -> CaseMonitor: ...

    def versions(self) -> dict[str, str]: ...

    def settings(self) -> dict[str, str]:
        """What the run's engine was set up with (a master URL, executors, key configs),
        kept in the record beside the versions but never part of comparability."""
        ...

    def call_metrics(self, thunk: Callable[[], Any]) -> dict[str, float]:
        """Metrics of one more call of a measured thunk, outside every timed one (a Spark
        call's stages, tasks and shuffle bytes); empty where a backend has none."""
        ...


@runtime_checkable
class DerivedBackend(Backend, Protocol):
    """A backend defined as a transform of another's implementations.

    ``torch_compile`` wraps each ``torch_eager`` thunk; the registry calls ``derive`` for every
    implementation on ``base`` and adds what it returns, so no workload declares them twice.
    """

    base: str

    def derive(self, implementation: Implementation) -> Sequence[Implementation]: ...


def package_versions(*names: str) -> dict[str, str]:
    """Installed distribution versions, leaving out the ones that are not installed."""
    found = {}
    for name in names:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[name] = importlib.metadata.version(name)
    return found


class CpuBackend:
    """Shared behaviour of in-process CPU backends: nothing to move, nothing to wait for."""

    name = ""
    label = ""
    color = "#888888"
    device: Device = "cpu"
    packages: tuple[str, ...] = ()
    session_group: str | None = None
    # Seconds its session takes to open on a quiet machine, before its first case can run
    # (a JVM, a compiler's warm-up): a time budget starts no backend it has not this left.
    start_seconds = 0.0

    def probe(self) -> Availability:
        return Availability.yes()

    def session(self) -> contextlib.AbstractContextManager[Any]:
        return contextlib.nullcontext()

    def to_device(self, value: Any) -> Any:
        return value

    def from_device(self, value: Any) -> Any:
        return value

    def sync(self) -> None:
        return None

    def timer(self, cold: bool = False) -> Timer:
        return WallTimer(self.sync)

    def monitor(self) -> CaseMonitor:
        return NullMonitor()

    def versions(self) -> dict[str, str]:
        return package_versions(*self.packages)

    def settings(self) -> dict[str, str]:
        return {}

    def call_metrics(self, thunk: Callable[[], Any]) -> dict[str, float]:
        return {}


_BACKENDS: dict[str, Backend] = {}


_ADAPTER_SESSIONS = contextlib.ExitStack()
_ADAPTER_OPENED: set[str] = set()


def ensure_session(backend: Backend) -> None:
    """Enter ``backend``'s session once in this process and keep it until the process exits:
    for the adapters that run ports outside perfkit's workers (asv, pytest-benchmark), as a
    worker does before its first case."""
    if backend.name in _ADAPTER_OPENED:
        return
    if not _ADAPTER_OPENED:
        atexit.register(_ADAPTER_SESSIONS.close)
    _ADAPTER_SESSIONS.enter_context(backend.session())
    _ADAPTER_OPENED.add(backend.name)


def register_backend(backend: Backend) -> Backend:
    """Make a backend known to perfkit. Its name must be new."""
    if backend.name in _BACKENDS:
        raise ValueError(f"backend {backend.name!r} is registered twice")
    _BACKENDS[backend.name] = backend
    return backend


def backends() -> dict[str, Backend]:
    """Every registered backend by name (call ``registry.load()`` first)."""
    return dict(_BACKENDS)


def get_backend(name: str) -> Backend:
    return _BACKENDS[name]


def iter_derived() -> Iterator[DerivedBackend]:
    """The backends that derive implementations from another's. Told by their class's
    ``derive`` and ``base``, not by ``isinstance`` against the protocol, which reads every
    attribute of the instance: ``device`` of a torch backend imports torch (a second of a
    worker's start, where no torch case is run)."""
    for backend in _BACKENDS.values():
        if callable(getattr(type(backend), "derive", None)) and hasattr(type(backend), "base"):
            yield cast(DerivedBackend, backend)

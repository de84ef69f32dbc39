"""What a backend watches while one of its cases runs, beside the timer.

A ``CaseMonitor`` brackets one case in the worker (``with monitor:``) and its timed
sampling (``with monitor.timed():``), then reports metrics under slash keys. GPU backends
watch their device through NVML (``perfkit.machine.nvml``), Spark backends their executors
(``perfkit.integrations.spark.jobs``), allocators their driver; CPU backends get the null
monitor.
"""

from __future__ import annotations

import contextlib
from types import TracebackType
from typing import Protocol

__all__ = ["CaseMonitor", "NullMonitor"]


class CaseMonitor(Protocol):
    def __enter__(self) -> CaseMonitor: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    def timed(self) -> contextlib.AbstractContextManager[None]: ...

    def metrics(self) -> dict[str, float]: ...


class NullMonitor:
    """Watches nothing and reports nothing."""

    def __enter__(self) -> NullMonitor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def timed(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def metrics(self) -> dict[str, float]:
        return {}

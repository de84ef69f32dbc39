"""Hand-written loop kernels compiled for the CPU by Numba (``numba.njit``).

The session imports Numba and sizes its thread pool to the run's threads (``prange`` loops
use that many). A port compiles its kernel for its inputs' types in its set-up and says
how long that took (``compiled``); the backend records it as ``time/compile``, the seconds
this case's set-up spent compiling (0 where an earlier case in the same process compiled
that kernel for the same types).
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator
from typing import Any

from perfkit.model.backend import Availability, CpuBackend, register_backend

__all__ = ["NUMBA_CPU", "NumbaCpuBackend"]


@functools.cache
def _import_error() -> str:
    try:
        import numba  # noqa: F401
    except ImportError as exc:
        return f"numba is not importable: {exc}"
    return ""


class NumbaCpuBackend(CpuBackend):
    name = "numba_cpu"
    label = "Numba loops (CPU)"
    color = "#e8a33d"
    packages = ("numba", "llvmlite")

    def __init__(self) -> None:
        self.compiled: dict[int, float] = {}  # compile seconds by id of the thunk

    def probe(self) -> Availability:
        reason = _import_error()
        return Availability.no(reason) if reason else Availability.yes()

    @contextlib.contextmanager
    def _session(self) -> Iterator[None]:
        import numba

        config: Any = numba.config
        wanted = int(os.environ.get("PERFKIT_THREADS") or os.cpu_count() or 1)
        numba.set_num_threads(max(1, min(wanted, int(config.NUMBA_NUM_THREADS))))
        yield

    def session(self) -> contextlib.AbstractContextManager[Any]:
        return self._session()

    def settings(self) -> dict[str, str]:
        import numba

        config: Any = numba.config
        return {
            "threads": str(numba.get_num_threads()),
            "threading_layer": str(config.THREADING_LAYER),
        }

    def call_metrics(self, thunk: Callable[[], Any]) -> dict[str, float]:
        seconds = self.compiled.get(id(thunk))
        return {} if seconds is None else {"time/compile": seconds}


NUMBA_CPU = NumbaCpuBackend()
register_backend(NUMBA_CPU)

"""Kernels written in Python with ``numba.cuda.jit``.

Under ``NUMBA_ENABLE_CUDASIM=1`` Numba runs them in its CPU simulator: the tests use that to
check them without a GPU, but a simulated run is never a measurement, so the probe says
so and the cases are skipped.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

from perfkit.backends._cuda import import_numba_cuda, l2_flush_bytes, simulated
from perfkit.machine.nvml import device_monitor
from perfkit.model.backend import Availability, Device, package_versions, register_backend
from perfkit.model.monitor import CaseMonitor
from perfkit.model.timers import CudaEventTimer, Timer

__all__ = ["NumbaCudaBackend"]


@functools.cache
def _state() -> tuple[Any, str]:
    try:
        cuda = import_numba_cuda()
    except ImportError:
        return None, "numba-cuda is not installed (pip install -e '.[gpu]')"
    except Exception as exc:
        return None, f"numba.cuda not usable: {type(exc).__name__}: {str(exc)[:160]}"
    if simulated():
        return None, "NUMBA_ENABLE_CUDASIM is set: simulated kernels are not measured"
    try:
        available = cuda.is_available()
    except Exception as exc:
        return None, f"no CUDA device: {str(exc)[:160]}"
    return (cuda, "") if available else (None, "no CUDA device (numba.cuda.is_available())")


class _NumbaClock:
    def __init__(self, cuda: Any) -> None:
        self._cuda = cuda

    def event(self) -> Any:
        return self._cuda.event(timing=True)

    def seconds(self, start: Any, end: Any) -> float:
        return float(self._cuda.event_elapsed_time(start, end)) / 1000.0


class NumbaCudaBackend:
    name = "numba_cuda"
    label = "Numba CUDA"
    color = "#00a3e0"
    device: Device = "cuda"
    session_group: str | None = None

    def probe(self) -> Availability:
        cuda, reason = _state()
        return Availability.yes() if cuda is not None else Availability.no(reason)

    @property
    def cuda(self) -> Any:
        """``numba.cuda``; in the simulator too, where the tests run the kernels."""
        return import_numba_cuda()

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        self.cuda.current_context()
        yield

    def to_device(self, value: Any) -> Any:
        return self.cuda.to_device(value)

    def from_device(self, value: Any) -> Any:
        return value.copy_to_host() if hasattr(value, "copy_to_host") else value

    def sync(self) -> None:
        self.cuda.synchronize()

    def timer(self, cold: bool = False) -> Timer:
        cuda = self.cuda
        flush = None
        if cold:
            l2 = int(getattr(cuda.get_current_device(), "L2_CACHE_SIZE", 0))
            size = l2_flush_bytes(l2)
            buffer = cuda.device_array(size, dtype="uint8")
            from numba.cuda.cudadrv import driver

            device_memset: Any = driver.device_memset

            def flush() -> None:
                device_memset(buffer, 0, size)

        return CudaEventTimer(_NumbaClock(cuda), self.sync, flush)

    def monitor(self) -> CaseMonitor:
        return device_monitor(0)

    def versions(self) -> dict[str, str]:
        return package_versions("numba", "numba-cuda", "llvmlite", "nvidia-ml-py")

    def settings(self) -> dict[str, str]:
        return {}

    def call_metrics(self, thunk: Callable[[], Any]) -> dict[str, float]:
        return {}


register_backend(NumbaCudaBackend())

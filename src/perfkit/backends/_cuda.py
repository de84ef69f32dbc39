"""What the GPU backends share: probing CuPy and Numba, CUDA-event timers, L2 flushes and
the NVML monitor. Frameworks are imported on first use, never by ``import perfkit``."""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator
from typing import Any

from perfkit.machine.nvml import device_monitor
from perfkit.model.backend import Availability, Device, package_versions
from perfkit.model.monitor import CaseMonitor
from perfkit.model.timers import CudaEventTimer, Timer

__all__ = [
    "CupyBackendBase",
    "import_numba_cuda",
    "l2_flush_bytes",
    "simulated",
]

# Larger than the L2 of any current GPU (H100 50 MB, H200 60 MB), twice over.
_MIN_FLUSH_BYTES = 128 << 20


def simulated() -> bool:
    """Whether Numba runs CUDA kernels in its CPU simulator (``NUMBA_ENABLE_CUDASIM=1``)."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")


def l2_flush_bytes(l2_bytes: int) -> int:
    return max(_MIN_FLUSH_BYTES, 2 * l2_bytes)


@functools.cache
def _cupy_state() -> tuple[Any, str]:
    """(cupy module, "") when CuPy and a device answer, else (None, the reason)."""
    try:
        import cupy
    except ImportError:
        return None, "cupy is not installed (pip install -e '.[gpu]')"
    except Exception as exc:  # a CUDA library it cannot load
        return None, f"cupy not usable: {type(exc).__name__}: {' '.join(str(exc).split())[:160]}"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        return None, f"no CUDA device: {' '.join(str(exc).split())[:160]}"
    if count < 1:
        return None, "no CUDA device"
    return cupy, ""


class _CupyClock:
    def __init__(self, cupy: Any) -> None:
        self._cupy = cupy

    def event(self) -> Any:
        return self._cupy.cuda.Event()

    def seconds(self, start: Any, end: Any) -> float:
        return float(self._cupy.cuda.get_elapsed_time(start, end)) / 1000.0


class CupyBackendBase:
    """A backend running on the current CuPy device: data moves with ``cupy.asarray`` and
    ``cupy.asnumpy``, sync waits for the whole device, CUDA events time the thunks."""

    name = ""
    label = ""
    color = "#76b900"
    device: Device = "cuda"
    packages: tuple[str, ...] = ("cupy-cuda13x", "cupy-cuda12x", "cupy", "nvidia-ml-py")
    session_group: str | None = None

    def probe(self) -> Availability:
        cupy, reason = _cupy_state()
        return Availability.yes() if cupy is not None else Availability.no(reason)

    @property
    def cupy(self) -> Any:
        cupy, reason = _cupy_state()
        if cupy is None:
            raise RuntimeError(reason)
        return cupy

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        cupy = self.cupy
        cupy.cuda.Device(0).use()
        cupy.zeros(1).sum()  # create the context and load the first kernels here
        self.sync()
        yield
        cupy.get_default_memory_pool().free_all_blocks()

    def to_device(self, value: Any) -> Any:
        return self.cupy.asarray(value)

    def from_device(self, value: Any) -> Any:
        """CuPy arrays, also inside tuples, lists and dicts, as NumPy arrays."""
        if isinstance(value, (tuple, list)):
            return type(value)(self.from_device(v) for v in value)
        if isinstance(value, dict):
            return {k: self.from_device(v) for k, v in value.items()}
        return self.cupy.asnumpy(value)

    def sync(self) -> None:
        self.cupy.cuda.runtime.deviceSynchronize()

    def timer(self, cold: bool = False) -> Timer:
        return CudaEventTimer(_CupyClock(self.cupy), self.sync, self._flush() if cold else None)

    def _flush(self) -> Callable[[], None]:
        cupy = self.cupy
        l2 = int(cupy.cuda.Device(0).attributes.get("L2CacheSize", 0))
        buffer = cupy.empty(l2_flush_bytes(l2), dtype=cupy.uint8)

        def flush() -> None:
            buffer.fill(0)

        return flush

    def monitor(self) -> CaseMonitor:
        return device_monitor(0, before_case=self.cupy.get_default_memory_pool().free_all_blocks)

    def versions(self) -> dict[str, str]:
        found = package_versions(*self.packages)
        cupy, _ = _cupy_state()
        if cupy is not None:
            with contextlib.suppress(Exception):
                found["cuda_runtime"] = str(cupy.cuda.runtime.runtimeGetVersion())
                found["cuda_driver"] = str(cupy.cuda.runtime.driverGetVersion())
        return found

    def settings(self) -> dict[str, str]:
        return {}

    def call_metrics(self, thunk: Callable[[], Any]) -> dict[str, float]:
        return {}

    def multiprocessors(self) -> int:
        return int(self.cupy.cuda.Device(0).attributes["MultiProcessorCount"])


def import_numba_cuda() -> Any:
    """``numba.cuda``, importable against NumPy releases newer than it knows.

    numba-cuda 0.30 uses ``np.row_stack``, which NumPy 2.5 removed; it is the same function
    as ``np.vstack``, so the alias is put back before the import (and only when missing).
    """
    import numpy as np

    if not hasattr(np, "row_stack"):
        setattr(np, "row_stack", np.vstack)  # noqa: B010 (a name NumPy 2.5 removed)
    from numba import cuda

    return cuda

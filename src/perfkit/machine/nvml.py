"""NVIDIA devices through NVML: what a GPU case does to its device while it runs (memory
peak, SM clock, power, temperature) and the devices a record lists.

The NVML ``CaseMonitor`` polls the device from a thread: device memory in use over the
whole case (its peak above the level at the start is ``gpu/mem_peak``), and clocks, power
and temperature while the case is timed.
"""

from __future__ import annotations

import contextlib
import statistics
import threading
from collections.abc import Callable, Iterator
from typing import Any

from perfkit.model.monitor import CaseMonitor, NullMonitor

__all__ = [
    "THROTTLE_FRACTION",
    "NvmlMonitor",
    "device_monitor",
    "gpu_environment",
    "nvml_handle",
]

# An SM clock under this fraction of the device's maximum during timing flags the case.
THROTTLE_FRACTION = 0.75
_INTERVAL = 0.01


_NVML_LOCK = threading.Lock()
_NVML_READY: list[bool] = []


def nvml_handle(index: int = 0) -> Any | None:
    """The NVML handle of device ``index``; None without nvidia-ml-py or a driver."""
    try:
        import pynvml
    except ImportError:
        return None
    with _NVML_LOCK:
        if not _NVML_READY:
            try:
                pynvml.nvmlInit()
            except pynvml.NVMLError:
                return None
            _NVML_READY.append(True)
    try:
        return pynvml.nvmlDeviceGetHandleByIndex(index)
    except pynvml.NVMLError:
        return None


def device_monitor(index: int = 0, before_case: Callable[[], None] | None = None) -> CaseMonitor:
    """An NVML monitor of device ``index``; the null monitor without NVML."""
    handle = nvml_handle(index)
    return NullMonitor() if handle is None else NvmlMonitor(handle, before_case)


class NvmlMonitor:
    """Polls NVML every 10 ms from a thread while a case runs.

    ``before_case`` runs first (a memory pool handing its cached blocks back to the driver,
    so the level the peak is counted from is this case's own start).
    """

    def __init__(self, handle: Any, before_case: Callable[[], None] | None = None) -> None:
        self._handle = handle
        self._before_case = before_case
        self._stop = threading.Event()
        self._timing = threading.Event()
        self._thread: threading.Thread | None = None
        self._base = 0.0
        self._peak = 0.0
        self._clocks: list[float] = []
        self._power: list[float] = []
        self._temps: list[float] = []
        self._max_clock = 0.0

    def __enter__(self) -> NvmlMonitor:
        import pynvml

        if self._before_case is not None:
            self._before_case()
        self._base = self._peak = float(pynvml.nvmlDeviceGetMemoryInfo(self._handle).used)
        with contextlib.suppress(pynvml.NVMLError):
            self._max_clock = float(
                pynvml.nvmlDeviceGetMaxClockInfo(self._handle, pynvml.NVML_CLOCK_SM)
            )
        self._thread = threading.Thread(target=self._poll, name="perfkit-nvml", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    @contextlib.contextmanager
    def timed(self) -> Iterator[None]:
        self._timing.set()
        try:
            yield
        finally:
            self._timing.clear()
            self._sample(timing=True)  # a case shorter than one interval still gets a reading

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._sample(timing=self._timing.is_set())
            self._stop.wait(_INTERVAL)

    def _sample(self, timing: bool) -> None:
        import pynvml

        try:
            used = float(pynvml.nvmlDeviceGetMemoryInfo(self._handle).used)
            self._peak = max(self._peak, used)
            if timing:
                self._clocks.append(
                    float(pynvml.nvmlDeviceGetClockInfo(self._handle, pynvml.NVML_CLOCK_SM))
                )
                self._power.append(pynvml.nvmlDeviceGetPowerUsage(self._handle) / 1000.0)
                self._temps.append(
                    float(
                        pynvml.nvmlDeviceGetTemperature(self._handle, pynvml.NVML_TEMPERATURE_GPU)
                    )
                )
        except pynvml.NVMLError:
            return

    def metrics(self) -> dict[str, float]:
        """``gpu/mem_peak`` (bytes above the case's start), and from the timed part the
        median SM clock, its minimum, mean power, peak temperature and ``gpu/throttled``
        (1 when the clock fell under 75% of the device's maximum)."""
        out = {"gpu/mem_peak": max(0.0, self._peak - self._base)}
        if self._clocks:
            out["gpu/sm_clock_mhz"] = statistics.median(self._clocks)
            out["gpu/sm_clock_min_mhz"] = min(self._clocks)
            out["gpu/power_w"] = statistics.fmean(self._power)
            out["gpu/temperature_c"] = max(self._temps)
            out["gpu/samples"] = float(len(self._clocks))
            if self._max_clock:
                out["gpu/sm_clock_max_mhz"] = self._max_clock
                out["gpu/throttled"] = float(
                    min(self._clocks) < THROTTLE_FRACTION * self._max_clock
                )
        return out


def gpu_environment() -> list[dict[str, Any]]:
    """Every NVIDIA device NVML sees: name, driver, memory, clocks, power, temperature.
    Empty without nvidia-ml-py or a driver."""
    if nvml_handle(0) is None:
        return []
    import pynvml

    def read(call: Callable[..., Any], *args: Any) -> Any:
        try:
            value = call(*args)
        except pynvml.NVMLError:
            return None
        return value.decode() if isinstance(value, bytes) else value

    devices = []
    for index in range(pynvml.nvmlDeviceGetCount()):
        h = pynvml.nvmlDeviceGetHandleByIndex(index)
        memory = read(pynvml.nvmlDeviceGetMemoryInfo, h)
        limit = read(pynvml.nvmlDeviceGetPowerManagementLimit, h)
        devices.append(
            {
                "index": index,
                "name": read(pynvml.nvmlDeviceGetName, h),
                "driver": read(pynvml.nvmlSystemGetDriverVersion),
                "memory_bytes": memory.total if memory is not None else None,
                "sm_clock_max_mhz": read(pynvml.nvmlDeviceGetMaxClockInfo, h, pynvml.NVML_CLOCK_SM),
                "sm_clock_mhz": read(pynvml.nvmlDeviceGetClockInfo, h, pynvml.NVML_CLOCK_SM),
                "power_limit_w": limit / 1000.0 if limit is not None else None,
                "temperature_c": read(
                    pynvml.nvmlDeviceGetTemperature, h, pynvml.NVML_TEMPERATURE_GPU
                ),
            }
        )
    return devices

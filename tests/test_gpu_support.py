"""GPU support that runs without a GPU: event-timer logic, energy, the NumPy 2.5 shim for
numba-cuda, probes that say why, ceilings that stay absent, a CPU suite unaffected."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from perfkit.engine.metrics import derive_metrics
from perfkit.engine.worker import _energy
from perfkit.model import registry
from perfkit.model.backend import get_backend
from perfkit.model.monitor import NullMonitor
from perfkit.model.timers import CudaEventTimer
from perfkit.model.workload import Work
from tests.conftest import perfkit

ROOT = Path(__file__).resolve().parent.parent
GPU_BACKENDS = ("cupy", "cupy_raw", "numba_cuda")


class _HostEvent:
    """An event on the host clock: the timer's bookkeeping, without a device."""

    def __init__(self) -> None:
        self.at = 0.0
        self.waited = False

    def record(self) -> None:
        self.at = time.perf_counter()

    def synchronize(self) -> None:
        self.waited = True


class _HostClock:
    def event(self) -> _HostEvent:
        return _HostEvent()

    def seconds(self, start: _HostEvent, end: _HostEvent) -> float:
        return end.at - start.at


@pytest.mark.measures
def test_cold_event_timing_flushes_before_every_call_and_never_counts_the_flush() -> None:
    flushes: list[float] = []
    syncs: list[float] = []

    def flush() -> None:
        flushes.append(time.perf_counter())
        time.sleep(0.02)

    def thunk() -> None:
        time.sleep(0.001)

    cold = CudaEventTimer(_HostClock(), lambda: syncs.append(0.0), flush)
    elapsed = cold.time(thunk, 5)
    assert len(flushes) == 5
    assert syncs  # the device is drained before timing starts
    # Five 1 ms calls, none of the 100 ms of flushing (a busy machine wakes a sleeper late,
    # by milliseconds: still well under the flushing).
    assert 0.005 <= elapsed < 0.09
    hot = CudaEventTimer(_HostClock(), lambda: None)
    assert 0.005 <= hot.time(thunk, 5) < 0.09


class _GpuClock(_HostClock):
    """A device that takes ``per_call`` seconds a call, whatever the host does."""

    def __init__(self, per_call: float) -> None:
        self.per_call = per_call
        self.calls = 0

    def seconds(self, start: _HostEvent, end: _HostEvent) -> float:
        return self.per_call * self.calls


@pytest.mark.measures
def test_a_kernel_shorter_than_its_launch_is_flagged_launch_bound() -> None:
    """The host takes 1 ms to launch each call. A device that needs 0.2 ms a call waited
    on the host (the events measured the launch rate); one that needs 10 ms did not."""
    for per_call, flagged in ((0.0002, 1), (0.01, 0)):
        clock = _GpuClock(per_call)

        def thunk(clock: _GpuClock = clock) -> None:
            clock.calls += 1
            time.sleep(0.001)

        timer = CudaEventTimer(clock, lambda: None)
        clock.calls = 0
        timer.time(thunk, 5)
        assert (timer.samples, timer.launch_bound) == (1, flagged)


def test_energy_per_call_is_mean_power_times_the_median_call() -> None:
    metrics = _energy({"gpu/power_w": 300.0, "gpu/mem_peak": 1.0}, [0.001, 0.002, 0.010])
    assert metrics["gpu/energy_per_call_j"] == pytest.approx(0.6)
    assert _energy({}, [0.001]) == {}  # no power readings, no energy
    assert NullMonitor().metrics() == {}


def test_gpu_peaks_combine_as_the_worst_process() -> None:
    per_process = {
        "gpu/mem_peak": [1.0, 5.0, 2.0],
        "gpu/throttled": [0.0, 1.0],
        "gpu/power_w": [100.0, 300.0, 200.0],
    }
    metrics = derive_metrics([[1e-3], [1e-3]], per_process, Work(bytes=10), "cuda", {})
    assert metrics["gpu/mem_peak"] == 5.0
    assert metrics["gpu/throttled"] == 1.0
    assert metrics["gpu/power_w"] == 200.0


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.slow
def test_numba_cuda_imports_against_a_numpy_without_row_stack() -> None:
    pytest.importorskip("numba", reason="needs numba and numba-cuda (pip install -e '.[test]')")
    # NumPy 2.5 removed np.row_stack; numba-cuda 0.30 registers an overload for it.
    simulate = "import numpy as np; del np.row_stack\n"
    broken = _python(simulate + "from numba import cuda\nimport numba.cuda.np.arrayobj")
    assert "has no attribute 'row_stack'" in broken.stderr
    fixed = _python(
        simulate + "from perfkit.backends._cuda import import_numba_cuda\nimport_numba_cuda()\n"
        "import numba.cuda.np.arrayobj\nprint('imported')"
    )
    assert fixed.stdout.strip() == "imported", fixed.stderr


def test_gpu_backends_say_why_they_cannot_run_here() -> None:
    registry.load([])
    for name in GPU_BACKENDS:
        backend = get_backend(name)
        assert backend.device == "cuda"
        availability = backend.probe()
        if availability.ok:
            pytest.skip("a CUDA device is present: the gpu tests cover it")
        assert availability.reason


@pytest.mark.slow
def test_without_a_gpu_the_cpu_suite_runs_and_gpu_cases_are_skipped(tmp_path: Path) -> None:
    if get_backend("cupy").probe().ok:
        pytest.skip("a CUDA device is present")
    out = tmp_path / "r.json"
    done = perfkit(
        "compare",
        "-w",
        "reduce_sum",
        "--quick",
        "--no-report",
        "--no-calibrate",
        "-o",
        str(out),
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())["results"]
    by_backend: dict[str, set[str]] = {}
    for r in results:
        by_backend.setdefault(r["backend"], set()).add(r["status"])
        if r["backend"] in GPU_BACKENDS:
            assert r["reason"]
    assert by_backend["numpy"] == {"ok"}
    assert {b: s for b, s in by_backend.items() if b in GPU_BACKENDS} == {
        b: {"skipped"} for b in GPU_BACKENDS
    }
    assert json.loads(out.read_text())["environment"]["ceilings"].get("cuda") is None


def test_calibrate_says_there_is_no_gpu() -> None:
    if get_backend("cupy").probe().ok:
        pytest.skip("a CUDA device is present")
    from perfkit.engine.gpu_ceilings import gpu_ceilings, gpu_key

    assert gpu_key() is None
    assert gpu_ceilings() is None


class _FakeNvml:
    """NVML's calls as the monitor makes them, with readings a test scripts (no NVIDIA
    driver here). Memory rises while the case runs; the SM clock drops during timing."""

    NVML_CLOCK_SM = 1
    NVML_TEMPERATURE_GPU = 0

    class NVMLError(Exception):
        pass

    def __init__(self) -> None:
        self.used = 1_000.0
        self.clock = 1980.0

    def nvmlDeviceGetMemoryInfo(self, handle: object) -> object:  # noqa: N802 (NVML's name)
        return type("Memory", (), {"used": self.used, "total": 80e9})()

    def nvmlDeviceGetMaxClockInfo(self, handle: object, kind: int) -> float:  # noqa: N802
        return 1980.0

    def nvmlDeviceGetClockInfo(self, handle: object, kind: int) -> float:  # noqa: N802
        return self.clock

    def nvmlDeviceGetPowerUsage(self, handle: object) -> float:  # noqa: N802
        return 350_000.0  # milliwatts

    def nvmlDeviceGetTemperature(self, handle: object, kind: int) -> float:  # noqa: N802
        return 61.0


def test_nvml_monitor_reads_peak_memory_over_the_case_and_clocks_while_timed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from perfkit.machine.nvml import NvmlMonitor

    fake = _FakeNvml()
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    freed: list[bool] = []
    monitor = NvmlMonitor(handle=object(), before_case=lambda: freed.append(True))
    with monitor:
        fake.used = 5_000.0  # the case's inputs arrive
        time.sleep(0.05)
        fake.clock = 1200.0  # under 75% of 1980 MHz
        with monitor.timed():
            time.sleep(0.05)
        fake.used = 1_500.0
    metrics = monitor.metrics()
    assert freed == [True]
    assert metrics["gpu/mem_peak"] == 4_000.0  # above the level at the case's start
    assert metrics["gpu/power_w"] == pytest.approx(350.0)
    assert metrics["gpu/sm_clock_min_mhz"] == 1200.0
    assert metrics["gpu/throttled"] == 1.0
    assert metrics["gpu/temperature_c"] == 61.0


def test_nvml_monitor_does_not_flag_a_steady_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    from perfkit.machine.nvml import NvmlMonitor

    fake = _FakeNvml()
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    monitor = NvmlMonitor(handle=object())
    with monitor:
        fake.clock = 1000.0  # idle clocks before timing do not count
        time.sleep(0.03)
        fake.clock = 1755.0
        with monitor.timed():
            time.sleep(0.03)
    metrics = monitor.metrics()
    assert metrics["gpu/throttled"] == 0.0
    assert metrics["gpu/sm_clock_mhz"] == 1755.0

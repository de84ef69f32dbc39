"""On a CUDA device (marker ``gpu``): every GPU port against its checker with poisoned
outputs at two sizes, CUDA-event timing, the NVML monitor and the GPU ceilings."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from perfkit import MeasurePolicy
from perfkit.engine.runner import run_cases
from perfkit.model import registry
from perfkit.model.backend import get_backend
from tests.conftest import perfkit
from tests.gpu_ports import check_port

registry.load([])
CUPY = get_backend("cupy").probe()
NUMBA = get_backend("numba_cuda").probe()
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not CUPY.ok, reason=f"needs a CUDA device and CuPy: {CUPY.reason}"),
]
ROOT = Path(__file__).resolve().parent.parent
GPU_BACKENDS = ("cupy", "cupy_raw", "numba_cuda")
# Two sizes a workload: a ragged small one and one of some millions of elements.
SIZES: dict[str, list[dict[str, Any]]] = {
    "vector_add": [{"n": 1003}, {"n": (1 << 22) + 3}],
    "reduce_sum": [{"n": 3001}, {"n": (1 << 24) + 5}],
    "softmax": [{"rows": 5, "cols": 301}, {"rows": 4096, "cols": 2048}],
    "matmul": [{"n": 256, "shape": "skinny_k"}, {"n": 1024, "shape": "square"}],
}


def _ports() -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for workload, sizes in SIZES.items():
        for implementation in registry.get_workload(workload).implementations:
            if implementation.backend not in GPU_BACKENDS:
                continue
            for size in sizes:
                for dtype in ("float32", "float64"):
                    found.append((workload, implementation.key, {**size, "dtype": dtype}))
    return found


@pytest.mark.parametrize(
    ("workload", "key", "params"),
    _ports(),
    ids=lambda v: v if isinstance(v, str) else ",".join(f"{k}={x}" for k, x in v.items()),
)
def test_gpu_port_passes_its_checker_with_poisoned_output(
    workload: str, key: str, params: dict[str, Any]
) -> None:
    if key.startswith("numba_cuda") and not NUMBA.ok:
        pytest.skip(NUMBA.reason)
    verdict = check_port(workload, key, params)
    if verdict["status"] == "skipped":
        # Only the limits the ports declare: float32-only GEMM kernels, and kernels whose
        # tiles need a dimension to be a multiple of their size. Any other skip is a bug.
        float32_only = workload == "matmul" and params["dtype"] == "float64"
        assert key.startswith(("cupy_raw:", "numba_cuda:")), verdict
        assert (float32_only and "float32 only" in verdict["reason"]) or (
            "a multiple of" in verdict["reason"]
        ), verdict
        return
    assert verdict["status"] == "ok", verdict


def test_event_timer_agrees_with_the_wall_clock_on_a_long_kernel() -> None:
    backend = get_backend("cupy")
    cp = backend.cupy  # type: ignore[attr-defined]
    a = cp.ones((4096, 4096), dtype=cp.float32)
    timer = backend.timer()
    thunk = lambda: cp.matmul(a, a)  # noqa: E731
    thunk()
    backend.sync()
    start = time.perf_counter()
    events = timer.time(thunk, 5)
    wall = time.perf_counter() - start
    assert 0.5 * wall < events <= wall


def test_cold_timer_flushes_the_cache_a_resident_input_lives_in() -> None:
    """16 MiB lives in an H100's or H200's L2 (50 MiB and more). Timed call by call, once
    with the flush and once with a flush that does nothing, the flushed calls read from
    memory and take longer; the launch gaps are the same in both, so only the cache can
    make the difference."""
    from perfkit.backends._cuda import _CupyClock
    from perfkit.model.timers import CudaEventTimer

    backend = get_backend("cupy_raw")
    cp = backend.cupy  # type: ignore[attr-defined]
    l2 = int(cp.cuda.Device(0).attributes["L2CacheSize"])
    x = cp.ones(min(16 << 20, l2 // 2) // 4, dtype=cp.float32)
    clock = _CupyClock(cp)
    flush = backend._flush()  # type: ignore[attr-defined]
    cold = CudaEventTimer(clock, backend.sync, flush)
    warm = CudaEventTimer(clock, backend.sync, x.sum)  # touches x: it stays resident
    x.sum()
    backend.sync()
    cold_time = min(cold.time(x.sum, 20) for _ in range(5))
    warm_time = min(warm.time(x.sum, 20) for _ in range(5))
    assert cold_time > 1.2 * warm_time, (cold_time, warm_time)


def test_a_measured_gpu_case_has_memory_clock_power_and_energy() -> None:
    spec = registry.get_workload("vector_add")
    cases = registry.expand_cases(spec, ["cupy_raw:vectorized"], overrides={"n": [1 << 24]})
    outcome = run_cases(cases, MeasurePolicy.quick())
    for result in outcome.results:
        assert result.status == "ok", result.reason
        metrics = result.measurement.metrics
        assert metrics["gpu/mem_peak"] >= 3 * (1 << 24) * np.dtype(result.params["dtype"]).itemsize
        if "gpu/power_w" in metrics:
            assert metrics["gpu/sm_clock_mhz"] > 0
            assert metrics["gpu/energy_per_call_j"] > 0
            assert metrics["gpu/throttled"] in (0.0, 1.0)


def test_gpu_ceilings_and_percent_of_roof_in_a_record(tmp_path: Path) -> None:
    from perfkit.engine.gpu_ceilings import calibrate_gpu

    ceilings = calibrate_gpu(quick=True)
    assert all(bandwidth > 1e11 for _, bandwidth in ceilings["bandwidth"])
    assert ceilings["flops"]["float32"] > 1e12
    out = tmp_path / "run.json"
    done = perfkit(
        "compare",
        "--workload",
        "vector_add",
        "--backends",
        "cupy_raw",
        "--quick",
        "--no-report",
        "-o",
        str(out),
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    record = json.loads(out.read_text())
    assert "cuda" in record["environment"]["ceilings"]
    fractions = [
        r["measurement"]["metrics"]["roof/fraction"]
        for r in record["results"]
        if r["backend"] == "cupy_raw"
    ]
    assert fractions
    assert all(0 < f < 1.5 for f in fractions)

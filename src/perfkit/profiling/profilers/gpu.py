"""``gpu``: a kernel-level timeline of a GPU case through CUPTI, as a Chrome trace and a
table: per kernel, launches, total and mean time, grid and block, registers a thread,
shared memory and theoretical occupancy (from CUPTI's record; a ``cupy_raw`` kernel's from
CuPy where the record lacks them).

CUPTI comes through PyTorch's profiler where PyTorch sees a CUDA device, else through
cupti-python's activity API (``pip install cupti-python``), whose kernel records are written
as the same Chrome trace."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from perfkit.model.backend import Availability, get_backend
from perfkit.model.workload import Case
from perfkit.profiling.occupancy import DeviceLimits, theoretical_occupancy
from perfkit.profiling.profilers import Summary, register_profiler
from perfkit.profiling.record import Kernel
from perfkit.profiling.stacks import Stack, Stacks

__all__ = ["GpuProfiler", "kernel_event", "kernels_from_trace"]

_TRACE = "kernels_trace.json"
_RESOURCES = "kernel_resources.json"
_TORCH = "torch.profiler"
_CUPTI = "cupti-python"


def _tracer() -> str | None:
    """Which CUPTI client can trace kernels here: PyTorch's (where it sees a CUDA device),
    cupti-python's, or none."""
    try:
        import torch

        if torch.cuda.is_available():
            return _TORCH
    except ImportError:
        pass
    return _CUPTI if importlib.util.find_spec("cupti") is not None else None


def kernel_event(activity: Any) -> dict[str, Any]:
    """A CUPTI kernel activity record as a Chrome trace event (microseconds), with the args
    PyTorch's trace gives a kernel."""
    return {
        "ph": "X",
        "cat": "kernel",
        "name": str(activity.name),
        "ts": activity.start / 1e3,
        "dur": (activity.end - activity.start) / 1e3,
        "args": {
            "grid": [activity.grid_x, activity.grid_y, activity.grid_z],
            "block": [activity.block_x, activity.block_y, activity.block_z],
            "registers per thread": activity.registers_per_thread,
            "shared memory": activity.static_shared_memory + activity.dynamic_shared_memory,
        },
    }


class _CuptiActivities:
    """CUPTI's activity API through cupti-python: the kernels run between enter and exit."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def _requested(self) -> tuple[int, int]:
        return 8 * 2**20, 0  # an 8 MiB buffer, records unbounded

    def _completed(self, activities: list[Any]) -> None:
        from cupti import cupti

        kernel = cupti.ActivityKind.CONCURRENT_KERNEL
        self.events.extend(kernel_event(a) for a in activities if a.kind == kernel)

    def __enter__(self) -> _CuptiActivities:
        from cupti import cupti

        cupti.activity_register_callbacks(self._requested, self._completed)
        cupti.activity_enable(cupti.ActivityKind.CONCURRENT_KERNEL)
        return self

    def __exit__(self, *_: object) -> None:
        from cupti import cupti

        cupti.activity_flush_all(1)
        cupti.activity_disable(cupti.ActivityKind.CONCURRENT_KERNEL)

    def export_chrome_trace(self, path: str) -> None:
        Path(path).write_text(json.dumps({"traceEvents": self.events}))


class GpuProfiler:
    name = "gpu"
    doc = "GPU kernels through CUPTI: launches, time, grid, block, registers, occupancy"
    threads = 0

    def __init__(self) -> None:
        self._profile: Any = None
        self._folder = Path()
        self._tracer: str | None = None

    def probe(self, case: Case) -> Availability:
        backend = get_backend(case.implementation.backend)
        if backend.device != "cuda":
            return Availability.no(f"a {backend.name} case runs on the CPU: no kernels")
        found = backend.probe()
        if not found.ok:
            return found
        if _tracer() is None:
            return Availability.no(
                "kernel timelines need CUPTI: PyTorch seeing a CUDA device, or cupti-python "
                "(pip install cupti-python)"
            )
        return Availability.yes()

    def wrapper(self, case: Case, folder: Path) -> list[str]:
        return []

    def start(self, case: Case, folder: Path) -> None:
        from perfkit.profiling.profilers.torch import torch_profile

        self._folder = folder
        self._tracer = _tracer()
        self._profile = (
            torch_profile(cuda_only=True) if self._tracer == _TORCH else _CuptiActivities()
        )
        self._profile.__enter__()

    def stop(self) -> None:
        profile, self._profile = self._profile, None
        profile.__exit__(None, None, None)
        profile.export_chrome_trace(str(self._folder / _TRACE))
        resources = {**_resources(), "tracer": self._tracer}
        (self._folder / _RESOURCES).write_text(json.dumps(resources))

    def summarize(self, folder: Path, calls: int) -> Summary:
        trace = json.loads((folder / _TRACE).read_text())
        resources = json.loads((folder / _RESOURCES).read_text())
        kernels = kernels_from_trace(trace, resources)
        stacks = Stacks("seconds", tuple(Stack((k.name,), k.total_s) for k in kernels))
        note = f"CUPTI via {resources.get('tracer') or _TORCH}"
        return Summary(stacks=stacks, kernels=tuple(kernels), notes=(note,))


def _resources() -> dict[str, Any]:
    """The device's limits, and each loaded ``cupy_raw`` kernel's registers and shared
    memory (none where CuPy was not used)."""
    try:
        import cupy

        from perfkit.backends.cupy_raw import loaded_kernels
    except ImportError:
        return {"device": None, "kernels": {}}
    attributes = cupy.cuda.Device().attributes
    device = {
        "max_threads": attributes["MaxThreadsPerMultiProcessor"],
        "registers": attributes["MaxRegistersPerMultiprocessor"],
        "shared_bytes": attributes["MaxSharedMemoryPerMultiprocessor"],
        "max_blocks": attributes.get("MaxBlocksPerMultiprocessor", 32),
        "warp_size": attributes["WarpSize"],
    }
    kernels = {
        name: {"registers": int(f.num_regs), "shared_bytes": int(f.shared_size_bytes)}
        for name, f in loaded_kernels().items()
    }
    return {"device": device, "kernels": kernels}


def _dims(value: Any) -> tuple[int, ...]:
    return tuple(int(v) for v in value) if isinstance(value, list) else ()


def kernels_from_trace(trace: dict[str, Any], resources: dict[str, Any]) -> list[Kernel]:
    """Kernel events of a Chrome trace (``cat`` ``kernel``), summed by name, the costliest
    first. A kernel's registers and shared memory come from the trace's args where it has
    them (CUPTI's record: static and dynamic shared memory), else from ``resources`` (a
    ``cupy_raw`` kernel's attributes: static shared memory only); with the device's limits
    known, it gets its theoretical occupancy at its block size."""
    found: dict[str, dict[str, Any]] = {}
    for event in trace.get("traceEvents", []):
        if event.get("cat") != "kernel":
            continue
        args = event.get("args", {})
        entry = found.setdefault(
            event["name"],
            {"launches": 0, "seconds": 0.0, "grid": _dims(args.get("grid")),
             "block": _dims(args.get("block")), "registers": args.get("registers per thread"),
             "shared_bytes": args.get("shared memory")},
        )  # fmt: skip
        entry["launches"] += 1
        entry["seconds"] += float(event.get("dur", 0.0)) / 1e6
    limits = DeviceLimits(**resources["device"]) if resources.get("device") else None
    kernels = []
    for name, entry in found.items():
        own = resources.get("kernels", {}).get(name, {})
        registers = entry["registers"] if entry["registers"] is not None else own.get("registers")
        shared = entry["shared_bytes"]
        if shared is None:
            shared = own.get("shared_bytes")
        occupancy = None
        threads = 1
        for size in entry["block"]:
            threads *= size
        if registers is not None and limits is not None and entry["block"]:
            occupancy = theoretical_occupancy(threads, registers, shared or 0, limits).fraction
        kernels.append(
            Kernel(
                name=name,
                launches=entry["launches"],
                total_s=entry["seconds"],
                mean_s=entry["seconds"] / entry["launches"],
                grid="x".join(map(str, entry["grid"])),
                block="x".join(map(str, entry["block"])),
                registers=registers,
                shared_bytes=shared,
                occupancy=occupancy,
            )
        )
    return sorted(kernels, key=lambda k: -k.total_s)


register_profiler(GpuProfiler())

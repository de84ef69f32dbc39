"""``gpu``: a kernel-level timeline of a GPU case through CUPTI (PyTorch's profiler), as a
Chrome trace and a table: per kernel, launches, total and mean time, grid and block; for
``cupy_raw`` kernels also registers a thread, shared memory and theoretical occupancy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from perfkit.backend import Availability, get_backend
from perfkit.profilers import Summary, register_profiler
from perfkit.profiling.occupancy import DeviceLimits, theoretical_occupancy
from perfkit.profiling.record import Kernel
from perfkit.profiling.stacks import Stack, Stacks
from perfkit.workload import Case

__all__ = ["GpuProfiler", "kernels_from_trace"]

_TRACE = "kernels_trace.json"
_RESOURCES = "kernel_resources.json"


class GpuProfiler:
    name = "gpu"
    doc = "GPU kernels through CUPTI: launches, time, grid, block, registers, occupancy"
    threads = 0

    def __init__(self) -> None:
        self._profile: Any = None
        self._folder = Path()

    def probe(self, case: Case) -> Availability:
        backend = get_backend(case.implementation.backend)
        if backend.device != "cuda":
            return Availability.no(f"a {backend.name} case runs on the CPU: no kernels")
        found = backend.probe()
        if not found.ok:
            return found
        try:
            import torch
        except ImportError:
            return Availability.no("kernel timelines come through PyTorch's CUPTI: no torch")
        if not torch.cuda.is_available():
            return Availability.no("PyTorch sees no CUDA device (a CPU build?)")
        return Availability.yes()

    def wrapper(self, case: Case, folder: Path) -> list[str]:
        return []

    def start(self, case: Case, folder: Path) -> None:
        from perfkit.profilers.torch import torch_profile

        self._folder = folder
        self._profile = torch_profile(cuda_only=True)
        self._profile.__enter__()

    def stop(self) -> None:
        profile, self._profile = self._profile, None
        profile.__exit__(None, None, None)
        profile.export_chrome_trace(str(self._folder / _TRACE))
        (self._folder / _RESOURCES).write_text(json.dumps(_resources()))

    def summarize(self, folder: Path, calls: int) -> Summary:
        trace = json.loads((folder / _TRACE).read_text())
        resources = json.loads((folder / _RESOURCES).read_text())
        kernels = kernels_from_trace(trace, resources)
        stacks = Stacks("seconds", tuple(Stack((k.name,), k.total_s) for k in kernels))
        return Summary(stacks=stacks, kernels=tuple(kernels), notes=("CUPTI via torch.profiler",))


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
    first; a kernel with known resources gets its theoretical occupancy at its block size
    (a dynamic shared-memory size at launch is not in the trace, so not counted)."""
    found: dict[str, dict[str, Any]] = {}
    for event in trace.get("traceEvents", []):
        if event.get("cat") != "kernel":
            continue
        args = event.get("args", {})
        entry = found.setdefault(
            event["name"],
            {"launches": 0, "seconds": 0.0, "grid": _dims(args.get("grid")),
             "block": _dims(args.get("block"))},
        )  # fmt: skip
        entry["launches"] += 1
        entry["seconds"] += float(event.get("dur", 0.0)) / 1e6
    limits = DeviceLimits(**resources["device"]) if resources.get("device") else None
    kernels = []
    for name, entry in found.items():
        own = resources.get("kernels", {}).get(name)
        registers = shared = occupancy = None
        threads = 1
        for size in entry["block"]:
            threads *= size
        if own is not None:
            registers, shared = own["registers"], own["shared_bytes"]
            if limits is not None and entry["block"]:
                occupancy = theoretical_occupancy(threads, registers, shared, limits).fraction
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

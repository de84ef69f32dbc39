"""``torch``: PyTorch's own profiler over the loop: operators with their input shapes, key
averages and a Chrome trace (chrome://tracing, Perfetto), CPU and, on a GPU, CUDA."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from perfkit.model.backend import Availability
from perfkit.model.workload import Case
from perfkit.profiling.profilers import Summary, register_profiler
from perfkit.profiling.stacks import Stack, Stacks

__all__ = ["TorchProfiler", "torch_profile"]

_TRACE = "trace.json"
_OPS = "operators.json"
_TABLE = "key_averages.txt"
TORCH_BACKENDS = ("torch_eager", "torch_compile")


def torch_profile(cuda_only: bool = False) -> Any:
    """A ``torch.profiler.profile`` of the CPU and, where there is one, the GPU."""
    import torch

    activity = torch.profiler.ProfilerActivity
    activities = [] if cuda_only else [activity.CPU]
    if torch.cuda.is_available():
        activities.append(activity.CUDA)
    return torch.profiler.profile(activities=activities, record_shapes=not cuda_only)


class TorchProfiler:
    name = "torch"
    doc = "torch.profiler: operators by input shape, key averages, Chrome trace"
    threads = 0

    def __init__(self) -> None:
        self._profile: Any = None
        self._folder = Path()

    def probe(self, case: Case) -> Availability:
        backend = case.implementation.backend
        if backend not in TORCH_BACKENDS:
            return Availability.no(
                f"torch.profiler sees PyTorch operators; a {backend} case has none"
            )
        try:
            import torch  # noqa: F401
        except ImportError:
            return Availability.no("PyTorch is not installed (pip install 'perfkit[torch]')")
        return Availability.yes()

    def wrapper(self, case: Case, folder: Path) -> list[str]:
        return []

    def start(self, case: Case, folder: Path) -> None:
        self._folder = folder
        self._profile = torch_profile()
        self._profile.__enter__()

    def stop(self) -> None:
        profile, self._profile = self._profile, None
        profile.__exit__(None, None, None)
        profile.export_chrome_trace(str(self._folder / _TRACE))
        averages = profile.key_averages(group_by_input_shape=True)
        (self._folder / _TABLE).write_text(
            averages.table(sort_by="self_cpu_time_total", row_limit=60)
        )
        rows = [
            {
                "name": str(row.key),
                "shapes": str(row.input_shapes or ""),
                "count": int(row.count),
                "self_cpu_s": row.self_cpu_time_total / 1e6,
                "cpu_total_s": row.cpu_time_total / 1e6,
                "self_device_s": getattr(row, "self_device_time_total", 0.0) / 1e6,
            }
            for row in averages
        ]
        (self._folder / _OPS).write_text(json.dumps(rows))

    def summarize(self, folder: Path, calls: int) -> Summary:
        rows = json.loads((folder / _OPS).read_text())
        stacks = tuple(
            Stack((f"{r['name']} {r['shapes']}".strip(),), float(r["self_cpu_s"]))
            for r in rows
            if r["self_cpu_s"] > 0
        )
        note = "self CPU time by operator and input shapes (one level: operators, not stacks)"
        return Summary(stacks=Stacks("seconds", stacks), notes=(note,))


register_profiler(TorchProfiler())

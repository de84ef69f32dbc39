"""Hand-written CUDA C from ``kernels/`` run through ``cupy.RawModule``.

Every ``kernels/<workload>/<NN>_<variant>.cu`` is compiled by NVRTC once per process and
set of ``-D`` sizes (the module cache below; the sizes are its port's launch geometry), and
its ``extern "C"`` entry points are looked up by name.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from perfkit.backends._cuda import CupyBackendBase
from perfkit.model.backend import Availability, register_backend
from perfkit.native.shipped import shipped_folder

__all__ = [
    "NVRTC_OPTIONS",
    "CupyRawBackend",
    "define_options",
    "entry_points",
    "kernel",
    "kernel_file",
    "kernels_dir",
    "loaded_kernels",
]

NVRTC_OPTIONS = ("-std=c++17",)


def kernels_dir() -> Path:
    """``$PERFKIT_KERNELS_DIR``, else the installed copy, else this source tree's
    ``kernels/``."""
    return shipped_folder("kernels", "PERFKIT_KERNELS_DIR")


def kernel_file(workload: str, variant: str) -> Path:
    """The one ``kernels/<workload>/<NN>_<variant>.cu``."""
    found = sorted((kernels_dir() / workload).glob(f"[0-9][0-9]_{variant}.cu"))
    if len(found) != 1:
        raise FileNotFoundError(
            f"expected one kernels/{workload}/NN_{variant}.cu, found {len(found)}"
        )
    return found[0]


_ENTRY = re.compile(r'extern "C" __global__ void(?: __launch_bounds__\(\w+\))?\s+(\w+)\(')


def entry_points(path: Path) -> list[str]:
    """The ``extern "C"`` kernels a file defines, in order."""
    return _ENTRY.findall(path.read_text())


def define_options(defines: Mapping[str, int]) -> tuple[str, ...]:
    """Compile-time sizes as NVRTC's (and nvcc's) ``-D`` options, in a stable order."""
    return tuple(f"-D{name}={value}" for name, value in sorted(defines.items()))


@functools.cache
def _module(path: Path, options: tuple[str, ...]) -> Any:
    import cupy

    return cupy.RawModule(code=path.read_text(), options=(*NVRTC_OPTIONS, *options))


_LOADED: dict[str, Any] = {}


def kernel(
    workload: str, variant: str, function: str, defines: Mapping[str, int] | None = None
) -> Any:
    """The entry point ``function`` of a workload's kernel file, compiled with ``defines``
    as ``-D`` options (cached)."""
    options = define_options(defines or {})
    found = _module(kernel_file(workload, variant), options).get_function(function)
    _LOADED[function] = found
    return found


def loaded_kernels() -> dict[str, Any]:
    """Every entry point this process has looked up, by name (the gpu profiler reads their
    registers and shared memory)."""
    return dict(_LOADED)


class CupyRawBackend(CupyBackendBase):
    name = "cupy_raw"
    label = "CUDA C (CuPy RawModule)"
    color = "#d62728"

    def probe(self) -> Availability:
        if not kernels_dir().is_dir():
            return Availability.no(
                f"no kernels folder at {kernels_dir()} (set PERFKIT_KERNELS_DIR)"
            )
        return super().probe()


register_backend(CupyRawBackend())

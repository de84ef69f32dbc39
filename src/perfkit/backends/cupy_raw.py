"""Hand-written CUDA C from ``kernels/`` run through ``cupy.RawModule``.

Every ``kernels/<workload>/<NN>_<variant>.cu`` is compiled once per process by NVRTC (the
module cache below) and its ``extern "C"`` entry points are looked up by name.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from perfkit._shipped import shipped_folder
from perfkit.backend import Availability, register_backend
from perfkit.backends._cuda import CupyBackendBase

__all__ = [
    "NVRTC_OPTIONS",
    "CupyRawBackend",
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


@functools.cache
def _module(path: Path) -> Any:
    import cupy

    return cupy.RawModule(code=path.read_text(), options=NVRTC_OPTIONS)


_LOADED: dict[str, Any] = {}


def kernel(workload: str, variant: str, function: str) -> Any:
    """The compiled entry point ``function`` of a workload's kernel file (cached)."""
    found = _module(kernel_file(workload, variant)).get_function(function)
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

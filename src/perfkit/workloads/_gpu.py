"""Pieces the GPU ports of the array workloads share: raw-kernel ports, launch sizes,
and lazily built Numba kernels (``numba`` is imported when a port is prepared, never when
the workload module is)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from perfkit.model.axes import Skip
from perfkit.model.backend import get_backend
from perfkit.model.workload import Implementation, Prepare, Workload

__all__ = [
    "BLOCK",
    "Geometry",
    "add_geometry_port",
    "add_raw_ports",
    "bind_numba",
    "cupy_of",
    "kernel_geometry",
    "need_multiple",
    "numba_of",
    "numba_resident_blocks",
    "numba_type",
    "raw_kernel",
    "raw_ports",
    "resident_blocks",
    "suffix",
]

BLOCK = 256  # threads per block of the one-dimensional kernels


@dataclass(frozen=True, slots=True)
class Geometry:
    """A raw kernel's launch geometry, its one source: the thread block's shape and the
    kernel's compile-time sizes. NVRTC gets the sizes as ``-D`` options, with ``THREADS``
    (the block's thread count, the kernel's ``__launch_bounds__``); a kernel file defines
    none of them, and compiled without them stops at an ``#error``."""

    block: tuple[int, ...]
    sizes: tuple[tuple[str, int], ...] = ()

    @classmethod
    def of(cls, block: tuple[int, ...], **sizes: int) -> Geometry:
        return cls(block, tuple(sizes.items()))

    @property
    def threads(self) -> int:
        return math.prod(self.block)

    def defines(self) -> dict[str, int]:
        return {**dict(self.sizes), "THREADS": self.threads}

    def label(self) -> str:
        return ",".join(f"{name}={value}" for name, value in self.defines().items())


# Every cupy_raw port, (workload, port variant) -> (kernel file's variant, geometry): a kernel
# file's own port has the file's variant; a sweep's ports are named after their sizes.
_RAW_PORTS: dict[tuple[str, str], tuple[str, Geometry]] = {}
_MAKERS: dict[tuple[str, str], Callable[[str, Geometry], Prepare]] = {}


def kernel_geometry(workload: str, variant: str) -> Geometry:
    """The geometry the ``cupy_raw`` port of a kernel file compiles and launches it with."""
    return _RAW_PORTS[(workload, variant)][1]


def raw_ports() -> list[tuple[str, str, str, Geometry]]:
    """Every registered ``cupy_raw`` port as (workload, port variant, kernel file's variant,
    geometry): each kernel file's own, then any a sweep added."""
    return [(w, port, variant, g) for (w, port), (variant, g) in _RAW_PORTS.items()]


def cupy_of(backend: str) -> Any:
    """The ``cupy`` module, through the backend (it raises with the probe's reason)."""
    return get_backend(backend).cupy  # type: ignore[attr-defined]


def numba_of() -> Any:
    """``numba.cuda``, with the NumPy compatibility alias in place."""
    return get_backend("numba_cuda").cuda  # type: ignore[attr-defined]


def bind_numba(namespace: dict[str, Any]) -> Any:
    """Bind ``numba.cuda`` to the global ``cuda`` of a workload module and return it.

    Numba kernels must reach ``cuda`` as a module global: the CUDA simulator swaps the
    globals of a kernel that name the real module for its own, and cannot see a local.
    Binding on first use keeps ``import perfkit`` free of Numba.
    """
    namespace["cuda"] = cuda = numba_of()
    return cuda


def numba_type(dtype: np.dtype[Any]) -> Any:
    from numba import from_dtype

    return from_dtype(dtype)


def suffix(dtype: np.dtype[Any]) -> str:
    """The entry-point suffix of a kernel instantiated for ``dtype``."""
    return {"float32": "f32", "float64": "f64"}[np.dtype(dtype).name]


def raw_kernel(workload: str, variant: str, function: str, geometry: Geometry) -> Any:
    """The entry point compiled with ``geometry``'s sizes, checked against the compiled
    function: its launch bound must be the block the port launches."""
    from perfkit.backends.cupy_raw import kernel

    found = kernel(workload, variant, function, geometry.defines())
    bound = int(found.max_threads_per_block)
    if bound != geometry.threads:
        raise RuntimeError(
            f"{function} is compiled for blocks of {bound} threads, but its port launches "
            f"{geometry.threads} ({geometry.label()})"
        )
    return found


def resident_blocks(threads_per_block: int = BLOCK) -> int:
    """A grid that fills the device once: multiprocessors x resident blocks per
    multiprocessor (2048 threads each on every GPU since Volta)."""
    sms = int(get_backend("cupy_raw").multiprocessors())  # type: ignore[attr-defined]
    return sms * max(1, 2048 // threads_per_block)


def numba_resident_blocks(threads_per_block: int = BLOCK) -> int:
    """``resident_blocks`` for Numba's current device (a small grid in the simulator)."""
    device = numba_of().get_current_device()
    sms = int(getattr(device, "MULTIPROCESSOR_COUNT", 1))
    return sms * max(1, 2048 // threads_per_block)


def need_multiple(what: str, value: int, multiple: int) -> None:
    """Skip a case whose size a tiled kernel does not cover."""
    if value % multiple:
        raise Skip(f"needs {what} a multiple of {multiple}, got {value}")


def _header(workload: str, variant: str) -> str:
    """The first line of a kernel file's header comment, after its ``<workload> NN``."""
    from perfkit.backends.cupy_raw import kernel_file

    try:
        first = kernel_file(workload, variant).read_text().splitlines()[0]
    except (OSError, IndexError):
        return ""
    return first.removeprefix("//").strip().partition(": ")[2]


def add_raw_ports(
    workload: Workload,
    geometries: Mapping[str, Geometry],
    make: Callable[[str, Geometry], Prepare],
) -> None:
    """Register one ``cupy_raw`` port per kernel file, documented by its header, which
    compiles and launches its kernel with the variant's geometry."""
    for variant, geometry in geometries.items():
        _RAW_PORTS[(workload.name, variant)] = (variant, geometry)
        _MAKERS[(workload.name, variant)] = make
        workload.add(
            Implementation(
                workload.name,
                "cupy_raw",
                variant,
                make(variant, geometry),
                False,
                _header(workload.name, variant),
            )
        )


def add_geometry_port(workload: Workload, variant: str, geometry: Geometry) -> str:
    """Register one more ``cupy_raw`` port of a kernel file, compiled and launched with
    another geometry (a tuning sweep's configuration); its variant name, which says the
    sizes (``2d_blocktiling_bm64_bn64_bk8_tm8_tn8_threads64``), is returned."""
    make = _MAKERS[(workload.name, variant)]
    sizes = "_".join(f"{k.lower().replace('_', '')}{v}" for k, v in geometry.defines().items())
    name = f"{variant}_{sizes}"
    doc = f"{_header(workload.name, variant)} Sweep: {geometry.label()}."
    _RAW_PORTS[(workload.name, name)] = (variant, geometry)
    workload.add(
        Implementation(workload.name, "cupy_raw", name, make(variant, geometry), False, doc)
    )
    return name

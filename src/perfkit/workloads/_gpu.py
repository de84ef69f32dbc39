"""Pieces the GPU ports of the array workloads share: raw-kernel ports, launch sizes,
and lazily built Numba kernels (``numba`` is imported when a port is prepared, never when
the workload module is)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from perfkit.axes import Skip
from perfkit.backend import get_backend
from perfkit.workload import Implementation, Prepare, Workload

__all__ = [
    "BLOCK",
    "add_raw_ports",
    "bind_numba",
    "cupy_of",
    "need_multiple",
    "numba_of",
    "numba_resident_blocks",
    "numba_type",
    "raw_kernel",
    "resident_blocks",
    "suffix",
]

BLOCK = 256  # threads per block of the one-dimensional kernels


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


def raw_kernel(workload: str, variant: str, function: str) -> Any:
    from perfkit.backends.cupy_raw import kernel

    return kernel(workload, variant, function)


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
    workload: Workload, variants: tuple[str, ...], make: Callable[[str], Prepare]
) -> None:
    """Register one ``cupy_raw`` port per kernel file, documented by its header."""
    for variant in variants:
        workload.add(
            Implementation(
                workload.name,
                "cupy_raw",
                variant,
                make(variant),
                False,
                _header(workload.name, variant),
            )
        )

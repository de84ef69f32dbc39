"""CuPy library calls on the GPU (cuBLAS, CUB, elementwise kernels): the vendor ceiling."""

from __future__ import annotations

from perfkit.backends._cuda import CupyBackendBase
from perfkit.model.backend import register_backend


class CupyBackend(CupyBackendBase):
    name = "cupy"
    label = "CuPy (cuBLAS, CUB)"
    color = "#76b900"


register_backend(CupyBackend())

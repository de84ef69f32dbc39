"""NumPy on the CPU: the reference port of the array workloads."""

from __future__ import annotations

from perfkit.model.backend import CpuBackend, register_backend


class NumpyBackend(CpuBackend):
    name = "numpy"
    label = "NumPy (CPU)"
    color = "#4d77cf"
    packages = ("numpy", "scipy")


register_backend(NumpyBackend())

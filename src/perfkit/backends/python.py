"""Plain Python on the CPU: the baseline the data workloads start from."""

from __future__ import annotations

import platform

from perfkit.model.backend import CpuBackend, register_backend


class PythonBackend(CpuBackend):
    name = "python"
    label = "Python"
    color = "#ffd43b"

    def versions(self) -> dict[str, str]:
        return {platform.python_implementation(): platform.python_version()}


register_backend(PythonBackend())

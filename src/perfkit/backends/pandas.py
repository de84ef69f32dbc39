"""pandas on the CPU: what a data workload is usually written in before it needs Spark."""

from __future__ import annotations

from perfkit.model.backend import Availability, CpuBackend, register_backend


class PandasBackend(CpuBackend):
    name = "pandas"
    label = "pandas"
    color = "#150458"
    packages = ("pandas", "pyarrow")

    def probe(self) -> Availability:
        try:
            import pandas  # noqa: F401
        except ImportError:
            return Availability.no("pandas is not installed (pip install -e '.[spark]')")
        return Availability.yes()


register_backend(PandasBackend())

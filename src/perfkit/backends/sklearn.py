"""scikit-learn on the CPU: the library the from-scratch classic-ML ports are held to, for
quality on the same split and seed, and for fit time."""

from __future__ import annotations

from perfkit.model.backend import CpuBackend, register_backend


class SklearnBackend(CpuBackend):
    name = "sklearn"
    label = "scikit-learn"
    color = "#f7931e"
    packages = ("scikit-learn", "scipy", "threadpoolctl")


register_backend(SklearnBackend())

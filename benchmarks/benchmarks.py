"""The asv suite, generated from the perfkit registry: one class per workload.

Nothing here knows a workload: params are the workload's implementations and axes, the timed
body is the implementation's thunk, and each class's ``version`` is its workload's, so editing
this adapter does not reset the benchmarks' history (asv's default hashes the source). It lives
here, not in the package, so asv can run it against older commits of perfkit too.
"""

from __future__ import annotations

import statistics
from typing import Any, ClassVar

import numpy as np

from perfkit import registry
from perfkit.axes import ParamValue, Skip
from perfkit.backend import get_backend
from perfkit.measure import MeasurePolicy, measure_thunk
from perfkit.workload import Workload

# track_throughput measures with perfkit's own loop, briefly: asv only keeps one number.
_TRACK_POLICY = MeasurePolicy.quick(budget=0.3)


def make_class(workload: Workload) -> type:
    """One asv class: params are implementation x every axis (default values)."""
    axes = workload.space.axes
    implementations = [impl.key for impl in workload.implementations]

    class Benchmark:
        params: ClassVar = [implementations, *[list(axis.values) for axis in axes]]
        param_names: ClassVar = ["implementation", *[axis.name for axis in axes]]
        version = f"{workload.name}-v{workload.version}"
        timeout = 600.0
        thunk: Any = None

        def setup(self, key: str, *values: ParamValue) -> None:
            params = dict(zip((axis.name for axis in axes), values, strict=True))
            if workload.space.exclude is not None and workload.space.exclude(params):
                raise NotImplementedError("parameter combination excluded by the workload")
            impl = workload.implementation(key)
            backend = get_backend(impl.backend)
            availability = backend.probe()
            if not availability.ok:
                raise NotImplementedError(availability.reason)  # asv marks it skipped
            rng = np.random.default_rng(workload.seed(params, 0))
            inputs = workload.make_inputs(params, rng)
            self.thunk = None
            try:
                thunk = impl.prepare(inputs, params)
            except Skip as exc:
                raise NotImplementedError(str(exc)) from None
            result = workload.check(
                backend.from_device(thunk()), workload.expected(inputs, params), params
            )
            if not result.ok:  # a wrong answer is never timed
                raise ValueError(f"{workload.name} {key}: {result.detail}")
            self.thunk = thunk
            self.backend = backend
            self.work = workload.work(params)

        def time_call(self, key: str, *values: ParamValue) -> None:
            self.thunk()
            self.backend.sync()

        def track_throughput(self, key: str, *values: ParamValue) -> float:
            """GFLOP/s (GB/s for memory-bound work, G operations/s for work counted in
            operations), timed with the backend's own timer."""
            run = measure_thunk(self.thunk, self.backend.timer(), _TRACK_POLICY, 0.3)
            median = statistics.median(run.samples)
            if not self.work.flops and not self.work.bytes:
                return float(self.work.items / median / 1e9)
            if self.work.flops and self.work.flops >= self.work.bytes:
                return float(self.work.flops / median / 1e9)
            return float(self.work.bytes / median / 1e9)

        track_throughput.unit = "G/s"  # type: ignore[attr-defined]

    Benchmark.__name__ = Benchmark.__qualname__ = workload.name
    return Benchmark


registry.load()
globals().update({name: make_class(w) for name, w in sorted(registry.workloads().items())})

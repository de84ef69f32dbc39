"""The asv suite, generated from the perfkit registry: one class per workload.

Nothing here knows a workload: params are the workload's implementations and axes, the timed
body is the implementation's thunk, and each class's ``version`` is its workload's, so editing
this adapter does not reset the benchmarks' history (asv's default hashes the source). It lives
here, not in the package, so asv can run it against older commits of perfkit too.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
from typing import Any, ClassVar, NoReturn

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from perfkit.model import registry
from perfkit.model.axes import ParamValue, Skip
from perfkit.model.backend import Backend, get_backend

try:
    from perfkit.model.backend import ensure_session
except ImportError:  # a perfkit from before it: asv runs this suite against older commits

    def ensure_session(backend: Backend) -> None:
        return None


from perfkit.engine.sampler import MeasurePolicy, measure_thunk
from perfkit.model.workload import Workload
from perfkit.records.format import BYTE_RATE, FLOP_RATE, ITEM_RATE, rate_of

# track_throughput measures with perfkit's own loop, briefly: asv only keeps one number.
_TRACK_POLICY = MeasurePolicy.quick(budget=0.3)
# BLAS threads as perfkit's workers pin them: every usable CPU, fixed for the whole run, so
# a pool that grew or shrank between benchmarks cannot move the numbers.
BLAS_THREADS = len(os.sched_getaffinity(0))
# Units of track_throughput: the rate each case is bound by (perfkit.records.format.rate_of).
_RATE_SCALE = {FLOP_RATE[1]: "flops", BYTE_RATE[1]: "bytes", ITEM_RATE[1]: "items"}


def _unit(workload: Workload) -> str:
    """track_throughput's unit: GFLOP/s, GB/s or G items/s (asv keeps one a benchmark; a
    workload whose cases are bound by different rates says so)."""
    units = sorted({rate_of(workload.work(p))[1] for p in workload.space.expand()})
    return " or ".join(f"G{u}" if u == ITEM_RATE[1] else u for u in units)


def _skip(reason: str) -> NoReturn:
    """Skip a case: asv shows it as ``n/a`` in its tables and the reason, which names the
    backend or port, under ``asv run --show-stderr``."""
    raise NotImplementedError(reason)


def make_class(workload: Workload) -> type:
    """One asv class: params are implementation x every axis (default values)."""
    axes = workload.space.axes
    implementations = [impl.key for impl in workload.implementations]

    class Benchmark:
        params: ClassVar = [implementations, *[list(axis.values) for axis in axes]]
        param_names: ClassVar = ["implementation", *[axis.name for axis in axes]]
        version = f"{workload.name}-v{workload.version}"
        timeout = 600.0
        # Enough samples for asv's own statistics: 20 ms samples, as perfkit's (asv picks
        # the calls per sample), at least 10 a round and two rounds in separate processes;
        # the allocator drivers (a process each call, up to seconds) at least 3. asv's
        # timer switches the cycle collector off while it times, as perfkit's loop does.
        sample_time = 0.02
        warmup_time = 0.1
        rounds = 2
        repeat = (3, 10, 20.0) if getattr(workload, "suite", "") == "alloc" else (10, 50, 20.0)
        thunk: Any = None
        limits: Any = None

        def setup(self, key: str, *values: ParamValue) -> None:
            self.limits = threadpool_limits(limits=BLAS_THREADS)
            params = dict(zip((axis.name for axis in axes), values, strict=True))
            if workload.space.exclude is not None and workload.space.exclude(params):
                raise NotImplementedError("parameter combination excluded by the workload")
            impl = workload.implementation(key)
            backend = get_backend(impl.backend)
            availability = backend.probe()
            if not availability.ok:
                _skip(f"{impl.backend}: {availability.reason}")
            ensure_session(backend)  # a Spark session: once a process, as perfkit's workers do
            rng = np.random.default_rng(workload.seed(params, 0))
            inputs = workload.make_inputs(params, rng)
            self.thunk = None
            try:
                thunk = impl.prepare(inputs, params)
            except Skip as exc:
                _skip(f"{key}: {exc}")
            # a port computing below its dtype (tf32, bfloat16): its tolerance and roof
            precision = getattr(impl, "precision", None)  # None in older perfkits
            checked = params if precision is None else {**params, "precision": precision}
            result = workload.check(
                backend.from_device(thunk()), workload.expected(inputs, params), checked
            )
            if not result.ok:  # a wrong answer is never timed
                raise ValueError(f"{workload.name} {key}: {result.detail}")
            self.thunk = thunk
            self.backend = backend
            self.work = workload.work(params)
            if precision is not None:
                self.work = dataclasses.replace(self.work, dtype=precision)

        def teardown(self, key: str, *values: ParamValue) -> None:
            if self.limits is not None:
                self.limits.restore_original_limits()

        def time_call(self, key: str, *values: ParamValue) -> None:
            self.thunk()
            self.backend.sync()

        def track_throughput(self, key: str, *values: ParamValue) -> float:
            """The rate the case is bound by (GFLOP/s, GB/s or G items/s: the unit), timed
            with the backend's own timer."""
            run = measure_thunk(self.thunk, self.backend.timer(), _TRACK_POLICY, 0.3)
            amount = getattr(self.work, _RATE_SCALE[rate_of(self.work)[1]])
            return float(amount / statistics.median(run.samples) / 1e9)

        track_throughput.unit = _unit(workload)  # type: ignore[attr-defined]

        def track_blas_threads(self, key: str, *values: ParamValue) -> int:
            """The BLAS threads the case ran with (pinned: ``BLAS_THREADS``), recorded with
            every result."""
            return max(
                (p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"), default=0
            )

        track_blas_threads.unit = "threads"  # type: ignore[attr-defined]

    Benchmark.__name__ = Benchmark.__qualname__ = workload.name
    return Benchmark


registry.load()
globals().update({name: make_class(w) for name, w in sorted(registry.workloads().items())})

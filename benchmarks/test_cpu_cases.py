"""The CPU cases through pytest-benchmark: ``pytest benchmarks/ --benchmark-only``.

Each case is verified against its truth before pytest-benchmark times it, and carries its
perfkit id, parameters and work in ``extra_info``, so ``perfkit import`` turns the JSON
(``--benchmark-json``; add ``--benchmark-save-data`` to keep raw samples) into a record the
gate and the reports read. asv imports every module in this folder too; its environments have
no pytest, so then this module defines nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

try:
    import pytest
except ImportError:  # imported by asv's discovery
    pytest = None  # type: ignore[assignment]

from perfkit.model import registry
from perfkit.model.backend import ensure_session, get_backend
from perfkit.records.typed import to_json

registry.load()
CPU_CASES = [
    case
    for workload in registry.workloads().values()
    for case in registry.expand_cases(workload)
    if get_backend(case.implementation.backend).device == "cpu"
]

if pytest is not None:

    @pytest.mark.parametrize("case", CPU_CASES, ids=lambda case: case.id)
    def test_case(benchmark: Any, case: Any) -> None:
        backend = get_backend(case.implementation.backend)
        availability = backend.probe()
        if not availability.ok:
            pytest.skip(availability.reason)
        ensure_session(backend)  # a Spark session: once, as a perfkit worker opens it
        rng = np.random.default_rng(case.workload.seed(case.params, 0))
        inputs = case.workload.make_inputs(case.params, rng)
        thunk = case.implementation.prepare(inputs, case.params)
        truth = case.workload.expected(inputs, case.params)
        check = case.workload.check(backend.from_device(thunk()), truth, case.check_params)
        assert check.ok, check.detail  # a wrong answer is never timed
        work = case.work()
        benchmark.extra_info.update(
            perfkit_case=case.id,
            params=dict(case.params),
            reference=case.implementation.reference,
            work=to_json(work),
        )
        benchmark(thunk)

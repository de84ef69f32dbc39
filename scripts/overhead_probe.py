"""Plugin: a pure-Python function at about 1 µs and 1 ms, to measure the harness itself.

Loaded by ``perfkit --plugin scripts/overhead_probe.py`` and imported by
``harness_overhead.py`` for timeit and pyperf, so all three time the very same function.
"""

from __future__ import annotations

from typing import Any

from perfkit import Axis, ParamSpace, Work, exact_match, register_workload, workload
from perfkit.model.axes import Params

# Loop lengths giving about 1 µs and 1 ms a call with CPython 3.11 on a 2020s x86 core.
SPINS = {"1us": 25, "1ms": 25_000}


def spin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i
    return total


PROBE = workload(
    name="overhead_probe",
    doc="a pure-Python loop of about 1 µs or 1 ms, to measure harness overhead",
    space=ParamSpace((Axis("cost", tuple(SPINS), choices=tuple(SPINS)),)),
    make_inputs=lambda params, rng: SPINS[str(params["cost"])],
    expected=lambda n, params: n * (n - 1) // 2,
    check=exact_match,
    work=lambda params: Work(items=1),
)


@PROBE.port("python", reference=True)
def _python(n: Any, params: Params) -> Any:
    return lambda: spin(n)


register_workload(PROBE)

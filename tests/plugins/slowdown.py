"""Test-only workloads that slow down on demand.

``slowdown_probe``'s cost is scaled by ``PERFKIT_SLOWDOWN`` (1.2: 20% more work): it measures
the gate, an A/B run whose candidate side sets the variable being a regression of a known
size, and one without it an A/A run. ``slowed_function`` slows one of its two functions in
the working tree, for the differential profile to find.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from perfkit import Axis, ParamSpace, Work, register_workload, relative_error, workload
from perfkit.model.axes import Params

SLOWDOWN = workload(
    name="slowdown_probe",
    doc="sin() over n cached float64 values, plus PERFKIT_SLOWDOWN - 1 times as many more",
    space=ParamSpace((Axis("n", (1 << 15,), quick=(1 << 13,)),)),
    make_inputs=lambda params, rng: rng.random(5 * int(params["n"])),
    expected=lambda x, params: np.sin(x[: int(params["n"])]),
    check=relative_error({"float64": 1e-12}),
    work=lambda params: Work(flops=int(params["n"]), bytes=16 * int(params["n"])),
)


@SLOWDOWN.port("numpy", "scaled", reference=True)
def _scaled(x: Any, params: Params) -> Any:
    n = int(params["n"])
    factor = float(os.environ.get("PERFKIT_SLOWDOWN", "1"))
    if not 1 <= factor <= 5:
        raise ValueError(f"PERFKIT_SLOWDOWN must lie in [1, 5], got {factor}")
    m = round(n * factor)
    out = np.empty_like(x)

    def run() -> Any:
        np.sin(x[:m], out=out[:m])
        return out[:n]

    return run


SLOWED = workload(
    name="slowed_function",
    doc="steady() then slowed(): sin and cos over n values each; slowed() 3x in a candidate",
    space=ParamSpace((Axis("n", (1 << 15,), quick=(1 << 13,)),)),
    make_inputs=lambda params, rng: rng.random(5 * int(params["n"])),
    expected=lambda x, params: np.sin(x[: int(params["n"])]),
    check=relative_error({"float64": 1e-12}),
    work=lambda params: Work(flops=2 * int(params["n"]), bytes=32 * int(params["n"])),
)


@SLOWED.port("numpy", "cand_slower", reference=True)
def _cand_slower(x: Any, params: Params) -> Any:
    """``steady()`` does the same on both sides of a ``perfkit ab`` or ``perfkit profile
    --base``; ``slowed()`` does three times its work in the working tree (the candidate:
    its ports do not come from a worktree), a pull request that slowed one function."""
    import perfkit.workloads

    n = int(params["n"])
    factor = 1 if "perfkit-ab-" in perfkit.workloads.__path__[0] else 3
    out = np.empty_like(x)

    def steady() -> None:
        np.sin(x[:n], out=out[:n])

    def slowed() -> None:
        np.cos(x[n : n + factor * n], out=out[n : n + factor * n])

    def run() -> Any:
        steady()
        slowed()
        return out[:n]

    return run


register_workload(SLOWDOWN)
register_workload(SLOWED)

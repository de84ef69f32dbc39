"""Test-only workloads whose profiles are known in advance.

``known_shares`` spends 80% of each call in ``heavy`` and 20% in ``light``: one adds two
float64 arrays, the other subtracts a quarter as many elements. NumPy's add and subtract
loops are the same code but for the operation, so the shares hold for time, samples and
instructions alike, and each loop has its own native name for callgrind. ``holds_64mib``
allocates 64 MiB in ``hold_64mib``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from perfkit import Axis, ParamSpace, Work, exact_match, register_workload, workload
from perfkit.model.axes import Params

HEAVY_SHARE = 0.8
MIB_64 = 64 * 2**20


def _split(params: Params) -> tuple[int, int]:
    whole = int(params["n"])
    heavy = round(whole * HEAVY_SHARE)
    return heavy, whole - heavy


def _expected(inputs: Any, params: Params) -> Any:
    a, b = inputs
    heavy_n, light_n = _split(params)
    out = a[:heavy_n] + b[:heavy_n]
    out[:light_n] = a[:light_n] - b[:light_n]
    return out


SHARES = workload(
    name="known_shares",
    doc="80% of a call in heavy() (an add), 20% in light() (a subtract of a quarter as many)",
    space=ParamSpace((Axis("n", (2_500_000,), quick=(1_250_000,)),)),
    make_inputs=lambda params, rng: (rng.random(int(params["n"])), rng.random(int(params["n"]))),
    expected=_expected,
    check=exact_match,
    work=lambda params: Work(items=int(params["n"])),
)


@SHARES.port("numpy", "ufuncs", reference=True)
def _shares(inputs: Any, params: Params) -> Any:
    a, b = inputs
    heavy_n, light_n = _split(params)
    out = np.empty(heavy_n)

    def heavy() -> None:
        np.add(a[:heavy_n], b[:heavy_n], out=out)

    def light() -> None:
        np.subtract(a[:light_n], b[:light_n], out=out[:light_n])

    def run() -> Any:
        heavy()
        light()
        return out

    return run


ALLOCATES = workload(
    name="holds_64mib",
    doc="allocates 64 MiB in hold_64mib(), touches it, frees it",
    space=ParamSpace((Axis("mib", (64,)),)),
    make_inputs=lambda params, rng: None,
    expected=lambda inputs, params: np.array([float(params["mib"]) * 2**20]),
    check=exact_match,
    work=lambda params: Work(bytes=int(params["mib"]) * 2**20),
)


@ALLOCATES.port("numpy", "ones", reference=True)
def _allocates(inputs: Any, params: Params) -> Any:
    size = int(params["mib"]) * 2**20

    def hold_64mib() -> float:
        block = np.ones(size, np.uint8)
        return float(block.sum(dtype=np.float64))

    def run() -> Any:
        return np.array([hold_64mib()])

    return run


register_workload(SHARES)
register_workload(ALLOCATES)

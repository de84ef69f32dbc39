"""Test-only workload whose PyTorch port breaks Dynamo's graph once and makes it recompile
while it is measured (a Python number the graph depends on changes every call)."""

from __future__ import annotations

from typing import Any

from perfkit.model.axes import Axis, Params, ParamSpace
from perfkit.model.registry import register_workload
from perfkit.model.workload import Thunk, Work, relative_error, workload

BREAKS = workload(
    name="torch_breaks",
    doc="2x + 1 with a graph break and a recompile in its PyTorch port",
    space=ParamSpace((Axis("n", (1024,)),)),
    make_inputs=lambda params, rng: {"x": rng.random(int(params["n"]))},
    expected=lambda inputs, params: 2 * inputs["x"] + 1,
    check=relative_error({"float64": 1e-12}),
    work=lambda params: Work(items=float(params["n"])),
)


@BREAKS.port("numpy", reference=True)
def _numpy(inputs: dict[str, Any], params: Params) -> Thunk:
    x = inputs["x"]
    return lambda: 2 * x + 1


@BREAKS.port("torch_eager")
def _torch(inputs: dict[str, Any], params: Params) -> Thunk:
    import torch

    x = torch.from_numpy(inputs["x"])
    flag = [False]

    def run() -> Any:
        flag[0] = not flag[0]
        doubled = x * 2
        torch._dynamo.graph_break()
        # Odd calls add 1: the checked call is the first of eager's and the third of the
        # compiled port's (its set-up makes two). Dynamo guards on the flag, so the
        # second call compiles again.
        return doubled + (1.0 if flag[0] else 0.0)

    return run


register_workload(BREAKS)

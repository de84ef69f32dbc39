"""The allocation-pattern workloads: one driver in ``native/bench`` each, run under every
allocator backend. A workload module only names its driver, sizes and operation counts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from perfkit.backends._allocator import driver_problem
from perfkit.model.axes import Axis, Params, ParamSpace
from perfkit.model.backend import get_backend
from perfkit.model.registry import register_workload
from perfkit.model.workload import (
    CheckResult,
    Implementation,
    Prepare,
    Thunk,
    Work,
    Workload,
    workload,
)

__all__ = ["ALLOCATORS", "allocation_workload"]

# (backend, variant, environment): every allocator runs the same driver binary.
ALLOCATORS: tuple[tuple[str, str, Mapping[str, str]], ...] = (
    ("glibc", "default", {}),
    ("glibc", "arena_max_2", {"MALLOC_ARENA_MAX": "2"}),
    ("pkmalloc", "default", {}),
    ("jemalloc", "default", {}),
    ("mimalloc", "default", {}),
    ("tcmalloc", "default", {}),
)


def _check(output: Any, truth: Any, params: Params) -> CheckResult:
    """The driver ran to the end and every block came back as it was written."""
    problem = driver_problem(output)
    return CheckResult(True, 0.0) if problem is None else CheckResult(False, None, problem)


def _port(pattern: str, backend: str, env: Mapping[str, str]) -> Prepare:
    def prepare(args: list[str], params: Params) -> Thunk:
        runner = get_backend(backend)

        def run() -> Any:
            return runner.run(pattern, args, env)  # type: ignore[attr-defined]

        return run

    return prepare


def allocation_workload(
    name: str,
    doc: str,
    sizes: Mapping[str, tuple[int, int]],
    ops: int,
    threads: tuple[int, ...] = (1, 2),
) -> Workload:
    """Declare, port to every allocator and register the workload of driver ``name``.

    ``sizes`` names block-size ranges (the first is the default); ``ops`` is the driver's
    ``--ops`` (a tenth of it with ``--quick``).
    """
    presets = tuple(sizes)

    def make_inputs(params: Params, rng: np.random.Generator) -> list[str]:
        low, high = sizes[str(params["sizes"])]
        seed = int(rng.integers(1, 2**62))
        return [
            "--threads", str(params["threads"]), "--ops", str(params["ops"]),
            "--min-size", str(low), "--max-size", str(high), "--seed", str(seed),
        ]  # fmt: skip

    spec = workload(
        name=name,
        doc=doc,
        space=ParamSpace(
            (
                Axis("threads", threads, quick=(1,), doc="threads of the driver"),
                Axis(
                    "sizes",
                    presets[:1],
                    choices=presets,
                    doc="block sizes: "
                    + ", ".join(f"{k} {lo}-{hi} B" for k, (lo, hi) in sizes.items()),
                ),
                Axis("ops", (ops,), quick=(max(1, ops // 10),), doc="operations asked for"),
            )
        ),
        make_inputs=make_inputs,
        expected=lambda args, params: None,
        check=_check,
        work=lambda params: Work(items=int(params["ops"])),
        suite="alloc",
    )
    for backend, variant, env in ALLOCATORS:
        spec.add(
            Implementation(
                name,
                backend,
                variant,
                _port(name, backend, env),
                reference=(backend, variant) == ("glibc", "default"),
                doc=" ".join(f"{k}={v}" for k, v in env.items()) or "LD_PRELOAD only",
            )
        )
    register_workload(spec)
    return spec

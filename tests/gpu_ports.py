"""Checking GPU ports with poisoned outputs, shared by the simulator and the GPU tests.

A port's thunk writes into a buffer it allocated in ``prepare``. Filling that buffer with
NaN after a first call and checking the second call's output catches a kernel that leaves
elements unwritten (a grid or a tail too short), which a fresh zeroed buffer would hide.
It runs in a child process of its own too (``python -m tests.gpu_ports``), where the CUDA
simulator has to be switched on before Numba is imported.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np

from perfkit.model import registry
from perfkit.model.axes import Skip
from perfkit.model.backend import get_backend

BOTH = ("float32", "float64")
# Small sizes with ragged edges (not multiples of a block or a vector width), and the
# smallest that the tiled GEMM kernels cover (one dtype each: the simulator runs every
# thread as a Python thread).
TINY: dict[str, list[tuple[dict[str, Any], tuple[str, ...]]]] = {
    "vector_add": [({"n": 1003}, BOTH)],
    "reduce_sum": [({"n": 3001}, BOTH)],
    "softmax": [({"rows": 3, "cols": 301}, BOTH), ({"rows": 2, "cols": 40}, ("float32",))],
    "matmul": [
        ({"n": 64, "shape": "square"}, ("float32",)),
        ({"n": 64, "shape": "skinny_k"}, ("float64",)),
    ],
}


def poison(output: Any) -> None:
    """Fill a device array (CuPy or Numba) with NaN."""
    if hasattr(output, "copy_to_device"):
        output.copy_to_device(np.full(output.shape, np.nan, dtype=output.dtype))
    else:
        output.fill(np.nan)


def check_port(workload: str, key: str, params: dict[str, Any]) -> dict[str, Any]:
    """Prepare, run, poison, run again, check; the verdict as a JSON-able dict."""
    spec = registry.get_workload(workload)
    implementation = spec.implementation(key)
    backend = get_backend(implementation.backend)
    inputs = spec.make_inputs(params, np.random.default_rng(7))
    truth = spec.expected(inputs, params)
    try:
        thunk = implementation.prepare(inputs, params)
    except Skip as exc:
        return {"status": "skipped", "reason": str(exc)}
    poison(thunk())
    backend.sync()
    output = thunk()
    backend.sync()
    result = spec.check(backend.from_device(output), truth, params)
    return {
        "status": "ok" if result.ok else "invalid",
        "error": result.error,
        "detail": result.detail,
    }


def cases_for(backend: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(workload, implementation key, params) for every port of ``backend`` at TINY sizes."""
    found = []
    for workload, sizes in TINY.items():
        for implementation in registry.get_workload(workload).implementations:
            if implementation.backend != backend:
                continue
            for size, dtypes in sizes:
                for dtype in dtypes:
                    found.append((workload, implementation.key, {**size, "dtype": dtype}))
    return found


def main() -> None:
    """Check every port of the backend named in argv[1] and print one JSON line each."""
    registry.load([])
    for workload, key, params in cases_for(sys.argv[1]):
        verdict = check_port(workload, key, params)
        print(
            json.dumps({"workload": workload, "key": key, "params": params, **verdict}), flush=True
        )


if __name__ == "__main__":
    main()

"""A test-only knob that makes real ports slower: how the gate's detection is measured.

``PERFKIT_INJECT_SLOWDOWN=matmul=10%,softmax=0.05`` makes every timed call of those
workloads' cases in this worker last that much longer than it did: after the call, the
worker spins until the call's own time times ``1 + fraction`` has passed. The port, its
inputs and its answer are untouched, so a regression of a known size goes through every
real port (``perfkit ab`` gives the variable to the candidate's workers only, through
``Side.env``). Spinning holds one CPU, so it is a CPU slowdown; a GPU timer does not see
it. Nothing in perfkit sets the variable: only tests and ``scripts/gate_error_rates.py``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["INJECT_SLOWDOWN", "injected_slowdowns", "slowed"]

INJECT_SLOWDOWN = "PERFKIT_INJECT_SLOWDOWN"


def injected_slowdowns(environ: Mapping[str, str] = os.environ) -> dict[str, float]:
    """Workload name to the fraction its calls are slowed by; a malformed entry raises
    ValueError naming it (a test that asks for a slowdown must get it, or fail)."""
    text = environ.get(INJECT_SLOWDOWN, "").strip()
    found: dict[str, float] = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = entry.partition("=")
        try:
            fraction = float(value[:-1]) / 100 if value.endswith("%") else float(value)
        except ValueError:
            fraction = -1.0
        if not sep or not name.strip() or not 0 <= fraction <= 10:
            raise ValueError(f"{INJECT_SLOWDOWN}: {entry!r} is not WORKLOAD=FRACTION (0 to 10)")
        found[name.strip()] = fraction
    return found


def slowed(thunk: Callable[[], Any], fraction: float) -> Callable[[], Any]:
    """``thunk``, each call followed by a spin of ``fraction`` of its own time."""
    clock = time.perf_counter

    def call() -> Any:
        start = clock()
        out = thunk()
        end = start + (clock() - start) * (1 + fraction)
        while clock() < end:
            pass
        return out

    return call

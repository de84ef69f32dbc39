"""The test-only knob that slows real ports by a known fraction."""

from __future__ import annotations

import pytest


def test_the_injected_slowdown_knob_parses_and_slows() -> None:
    import time

    from perfkit.engine.injected import INJECT_SLOWDOWN, injected_slowdowns, slowed

    assert injected_slowdowns({INJECT_SLOWDOWN: "matmul=10%, softmax=0.05"}) == {
        "matmul": pytest.approx(0.1),
        "softmax": 0.05,
    }
    assert injected_slowdowns({}) == {}
    for bad in ("matmul", "matmul=x", "=1", "matmul=-1"):
        with pytest.raises(ValueError, match="is not WORKLOAD=FRACTION"):
            injected_slowdowns({INJECT_SLOWDOWN: bad})
    call = slowed(lambda: time.sleep(0.02), 1.0)
    start = time.perf_counter()
    call()
    assert time.perf_counter() - start >= 0.04

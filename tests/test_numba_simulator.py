"""The Numba CUDA kernels, run in Numba's CUDA simulator on the CPU against their checkers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from perfkit.model import registry

pytest.importorskip("numba", reason="the simulator needs numba (pip install -e '.[test]')")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def verdicts() -> list[dict[str, object]]:
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1", "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-m", "tests.gpu_ports", "numba_cuda"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.mark.slow
def test_every_numba_port_passes_its_checker_with_poisoned_outputs(
    verdicts: list[dict[str, object]],
) -> None:
    registry.load([])
    ports = {
        (w.name, i.key)
        for w in registry.workloads().values()
        for i in w.implementations
        if i.backend == "numba_cuda"
    }
    assert {(v["workload"], v["key"]) for v in verdicts} == ports
    assert len(ports) >= 6  # vector_add, reduce_sum, softmax, three matmul kernels
    bad = [v for v in verdicts if v["status"] != "ok"]
    assert not bad, bad


def test_the_simulator_is_never_measured() -> None:
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1", "PYTHONPATH": str(ROOT / "src")}
    code = (
        "from perfkit.model import registry; registry.load([]);"
        "from perfkit.model.backend import get_backend;"
        "print(get_backend('numba_cuda').probe().reason)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert "simulated kernels are not measured" in done.stdout

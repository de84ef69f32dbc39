"""The asv suite: discovered by asv itself, one class per workload, versions from workloads."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

from perfkit import registry

ROOT = Path(__file__).resolve().parent.parent


def _suite() -> object:
    spec = importlib.util.spec_from_file_location(
        "asv_benchmarks", ROOT / "benchmarks" / "benchmarks.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_asv_check_finds_no_problems() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "asv", "check", "-E", "existing"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No problems found" in done.stdout


def test_one_class_per_workload_with_its_version_and_params() -> None:
    suite = _suite()
    for name in ("matmul", "reduce_sum", "softmax", "vector_add"):
        workload = registry.get_workload(name)
        cls = getattr(suite, name)
        assert cls.version == f"{name}-v{workload.version}"
        assert cls.param_names == ["implementation", *[a.name for a in workload.space.axes]]
        assert cls.params[0] == [i.key for i in workload.implementations]


def test_setup_times_only_a_verified_thunk() -> None:
    bench = _suite().vector_add()
    bench.setup("numpy:default", 1024, "float32")
    bench.time_call("numpy:default", 1024, "float32")
    assert bench.track_throughput("numpy:default", 1024, "float32") > 0

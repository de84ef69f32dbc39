"""The asv suite: discovered by asv itself, one class per workload, versions from workloads."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from perfkit.model import registry

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


@pytest.mark.slow
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
    """A wrong answer stops setup (asv then times nothing), a port's skip becomes asv's
    skip, and what is timed is the thunk whose output was checked."""
    import numpy as np
    import pytest

    from tests.conftest import FAULTY

    registry.load([FAULTY])
    suite = _suite()
    workload = registry.get_workload("faulty_probe")
    bench = suite.make_class(workload)()  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="relative error"):
        bench.setup("python:wrong", 100)
    assert bench.thunk is None
    with pytest.raises(NotImplementedError, match="needs hardware"):
        bench.setup("python:skips", 100)
    bench.setup("python:good", 100)
    x = workload.make_inputs({"n": 100}, np.random.default_rng(workload.seed({"n": 100}, 0)))
    np.testing.assert_array_equal(bench.thunk(), 2.0 * x)
    bench.time_call("python:good", 100)
    rate = bench.track_throughput("python:good", 100)
    assert 1e-3 < rate < 1e3  # GB/s of a 1.6 kB call: bounded, not merely positive


def test_the_suite_measures_as_perfkit_does_and_states_its_units() -> None:
    """BLAS threads pinned for every case and recorded, enough samples for asv's own
    statistics, and a unit for every track_ benchmark."""
    from threadpoolctl import threadpool_info, threadpool_limits

    suite = _suite()
    units = {name: getattr(suite, name).track_throughput.unit for name in ("matmul", "vector_add")}
    assert units == {"matmul": "GFLOP/s", "vector_add": "GB/s"}
    assert suite.larson_like.track_throughput.unit == "Gitems/s"  # type: ignore[attr-defined]
    for name in ("matmul", "larson_like"):
        cls = getattr(suite, name)
        assert cls.track_blas_threads.unit == "threads"
        assert cls.sample_time == 0.02
        assert cls.rounds == 2
        assert cls.repeat[0] >= 3
    assert suite.matmul.repeat[0] >= 10  # type: ignore[attr-defined]
    pinned = suite.BLAS_THREADS  # type: ignore[attr-defined]
    with threadpool_limits(limits=1):  # a pool left small by whatever ran before
        bench = suite.matmul()  # type: ignore[attr-defined]
        bench.setup("numpy:default", 256, "float32", "square")
        blas = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
        assert blas, "NumPy's BLAS is loaded"
        assert set(blas) == {pinned}
        assert bench.track_blas_threads("numpy:default", 256, "float32", "square") == pinned
        bench.teardown("numpy:default", 256, "float32", "square")
        assert {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"} == {1}

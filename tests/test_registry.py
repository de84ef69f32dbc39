"""Registry invariants: one list of workloads and backends, consistent everywhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perfkit import UsageError
from perfkit.model import registry
from perfkit.model.backend import Backend, backends
from tests.conftest import DERIVED, perfkit

pytestmark = pytest.mark.usefixtures("loaded")

ARRAY_WORKLOADS = ("vector_add", "reduce_sum", "softmax", "matmul")


def test_the_array_workloads_have_a_numpy_reference() -> None:
    for name in ARRAY_WORKLOADS:
        assert registry.get_workload(name).reference.key == "numpy:default"


def test_every_workload_has_exactly_one_reference() -> None:
    for workload in registry.workloads().values():
        assert sum(i.reference for i in workload.implementations) == 1, workload.name


def test_every_implementation_names_a_registered_backend() -> None:
    known = backends()
    for workload in registry.workloads().values():
        for impl in workload.implementations:
            assert impl.backend in known, f"{workload.name}: {impl.key}"
            assert impl.workload == workload.name


def test_backends_follow_the_protocol_and_say_why_when_unavailable() -> None:
    for name, backend in backends().items():
        assert isinstance(backend, Backend)
        assert backend.name == name
        availability = backend.probe()
        assert availability.ok or availability.reason


@pytest.mark.parametrize("quick", [False, True])
def test_case_ids_are_unique_across_the_whole_suite(quick: bool) -> None:
    ids = [
        case.id
        for workload in registry.workloads().values()
        for case in registry.expand_cases(workload, quick=quick)
    ]
    assert len(ids) == len(set(ids)) > 0


def test_case_ids_have_the_documented_shape() -> None:
    (case,) = registry.expand_cases(
        registry.get_workload("matmul"),
        ["numpy"],
        {"n": [4096], "dtype": ["float32"], "shape": ["square"]},
    )
    assert case.id == "matmul/numpy:default[n=4096,dtype=float32,shape=square]"
    assert registry.resolve_case(case.to_json()) == case


def test_reference_comes_first_and_selection_errors_name_the_choices() -> None:
    faulty = registry.get_workload("faulty_probe")
    cases = registry.expand_cases(faulty, ["python:wrong", "python:good"])
    assert [c.implementation.variant for c in cases] == ["good", "wrong"]
    with pytest.raises(UsageError, match=r"unknown backend 'nope'; valid backends: .*numpy"):
        registry.expand_cases(faulty, ["nope"])
    with pytest.raises(UsageError, match="has no port 'numpy'"):
        registry.expand_cases(faulty, ["numpy"])
    with pytest.raises(UsageError, match=r"valid workloads: .*matmul"):
        registry.get_workload("matmull")


def test_workload_versions_are_positive_integers() -> None:
    for workload in registry.workloads().values():
        assert isinstance(workload.version, int)
        assert workload.version >= 1


@pytest.mark.slow
def test_derived_backends_gain_a_port_for_every_port_of_their_base(tmp_path: Path) -> None:
    # In a child process: the derived plugin adds ports to the built-in workloads.
    done = perfkit("list", "--plugin", str(DERIVED), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    # One derived port per workload with a numpy port: the four array workloads.
    assert done.stdout.count("numpy_copied: default") == len(ARRAY_WORKLOADS)
    run = perfkit(
        "compare",
        "-w",
        "vector_add",
        "--quick",
        "--plugin",
        str(DERIVED),
        "--backends",
        "numpy",
        "numpy_copied",
        "--param",
        "dtype=float64",
        "--no-calibrate",
        "-o",
        "r.json",
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    results = json.loads((tmp_path / "r.json").read_text())["results"]
    assert {r["backend"]: r["status"] for r in results} == {"numpy": "ok", "numpy_copied": "ok"}


def test_suites_come_from_the_workloads_and_gpu_from_the_backends() -> None:
    found = registry.suites()
    for name, spec in registry.workloads().items():
        assert name in found[spec.suite].workloads
    assert set(found["array"].workloads) == set(ARRAY_WORKLOADS)
    assert "larson_like" in found["alloc"].workloads
    assert found["alloc"].backends is None
    accelerated = {n for n, b in backends().items() if b.device != "cpu"}
    assert set(found["gpu"].backends or ()) == accelerated
    for name in found["gpu"].workloads:
        ports = {i.backend for i in registry.get_workload(name).implementations}
        assert ports & accelerated, name


def test_a_suite_selects_its_workloads_and_gpu_its_backends() -> None:
    from perfkit.cli.parser import _build_parser
    from perfkit.cli.selection import resolve_selection

    parser = _build_parser()
    args = parser.parse_args(["run", "--suite", "gpu"])
    names, label = resolve_selection(args)
    # the array workloads and the training ones with a GPU port (CuPy's MLP; PyTorch's on
    # a machine where its device is cuda)
    assert set(ARRAY_WORKLOADS) | {"mlp_train"} <= set(names)
    assert set(names) == set(registry.suites()["gpu"].workloads)
    assert label == "gpu"
    assert args.backends == sorted(registry.suites()["gpu"].backends or ())
    args = parser.parse_args(["ab", "--base", "main", "--suite", "gpu", "-b", "cupy"])
    resolve_selection(args)
    assert args.backends == ["cupy"], "-b chooses over the suite's backends"
    args = parser.parse_args(["run", "--suite", "alloc,array"])
    names, _ = resolve_selection(args)
    assert set(names) == set(registry.suites()["alloc"].workloads) | set(ARRAY_WORKLOADS)
    assert args.backends is None
    args = parser.parse_args(["run", "-w", "softmax,matmul", "-w", "softmax", "-b", "numpy,"])
    assert resolve_selection(args) == (["softmax", "matmul"], "softmax-matmul")
    assert args.backends == ["numpy"]


def test_loading_the_registry_imports_no_engine_a_case_may_not_use() -> None:
    """A worker loads the registry before every round; with torch imported there (a torch
    backend's ``device`` read while derived backends were found) a NumPy-only worker took
    1.8 s to start instead of 0.3 s. Engines load when a case of theirs runs."""
    import subprocess
    import sys

    code = (
        "import sys; from perfkit.model import registry; registry.load(); "
        "print(sorted(m for m in ('torch', 'pyspark', 'cupy', 'numba') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    assert out.strip() == "[]"
    compiled = [
        i
        for i in registry.get_workload("cnn_classify").implementations
        if i.backend == "torch_compile"
    ]
    assert compiled, "torch_compile still derives its ports from torch_eager's"

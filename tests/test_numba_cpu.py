"""The numba_cpu ports: hand-written loops, compiled in set-up, held to the same checkers."""

from __future__ import annotations

import numpy as np
import pytest

from perfkit.backends.numba_cpu import NUMBA_CPU
from perfkit.model import registry
from perfkit.model.axes import Params, Skip
from perfkit.workloads import _loops

pytestmark = pytest.mark.usefixtures("loaded")

_SMALL: dict[str, list[Params]] = {
    "vector_add": [{"n": 1000}, {"n": 1 << 16}],
    "reduce_sum": [{"n": 1}, {"n": 255}, {"n": 1 << 20}],
    "softmax": [{"rows": 3, "cols": 1}, {"rows": 64, "cols": 300}],
    "matmul": [
        {"n": 64, "shape": "square"},
        {"n": 100, "shape": "skinny_k"},  # sizes that are no multiple of any block
        {"n": 256, "shape": "square"},
    ],
}


def _run(name: str, variant: str, params: Params) -> tuple[object, object, object]:
    workload = registry.get_workload(name)
    rng = np.random.default_rng(workload.seed(params, 0))
    inputs = workload.make_inputs(params, rng)
    thunk = workload.implementation(f"numba_cpu:{variant}").prepare(inputs, params)
    return workload, thunk, (inputs, workload.expected(inputs, params))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(_SMALL))
def test_every_loop_port_passes_its_workloads_checker(name: str, dtype: str) -> None:
    workload = registry.get_workload(name)
    variants = [i.variant for i in workload.implementations if i.backend == "numba_cpu"]
    assert variants, f"{name} has no numba_cpu port"
    for variant in variants:
        for sizes in _SMALL[name]:
            params = {**sizes, "dtype": dtype}
            workload, thunk, (_, truth) = _run(name, variant, params)
            for _ in range(2):  # a second call reuses its buffers and still answers right
                output = thunk()
                result = workload.check(output, truth, params)
                assert result.ok, f"{variant} {params}: {result.detail}"
            assert str(np.asarray(output).dtype) == dtype, "the kernel kept its inputs' dtype"


def test_the_matmul_ladder_has_naive_blocked_and_parallel_kernels() -> None:
    matmul = registry.get_workload("matmul")
    assert [i.variant for i in matmul.implementations if i.backend == "numba_cpu"] == [
        "naive", "blocked", "parallel"
    ]  # fmt: skip


def test_the_naive_loop_is_skipped_with_a_reason_past_its_size() -> None:
    matmul = registry.get_workload("matmul")
    params = {"n": 1024, "dtype": "float32", "shape": "square"}
    inputs = {"a": np.ones((1024, 1024), np.float32), "b": np.ones((1024, 1024), np.float32)}
    with pytest.raises(Skip, match="n = 256"):
        matmul.implementation("numba_cpu:naive").prepare(inputs, params)


def test_compilation_happens_in_set_up_and_is_recorded() -> None:
    # float64 softmax on a new shape of array type: nothing is compiled until prepare.
    params = {"rows": 4, "cols": 8, "dtype": "float64"}
    _, thunk, _ = _run("softmax", "prange", params)
    kernel = _loops._kernels("float64")["softmax"]
    assert len(kernel.signatures) == 1, "prepare compiled the kernel for its inputs' types"
    metrics = NUMBA_CPU.call_metrics(thunk)
    assert metrics["time/compile"] >= 0.0
    calls_before = kernel.signatures
    thunk()
    assert kernel.signatures == calls_before, "a timed call compiled nothing new"


def test_a_wrong_kernel_is_caught_by_the_checker() -> None:
    # The blocked kernel with one k block dropped: the answer differs, the checker says so.
    params = {"n": 256, "dtype": "float32", "shape": "square"}
    workload, thunk, (inputs, truth) = _run("matmul", "blocked", params)
    output = np.array(thunk())
    a, b = inputs["a"], inputs["b"]  # type: ignore[index]
    output -= a[:, : _loops.BK] @ b[: _loops.BK, :]
    assert not workload.check(output, truth, params).ok

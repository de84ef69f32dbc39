"""The array workloads: seeded inputs, float64 truths, checkers that catch wrong ports."""

from __future__ import annotations

import numpy as np
import pytest

from perfkit.model import registry
from perfkit.model.axes import Params

pytestmark = pytest.mark.usefixtures("loaded")


def _inputs(name: str, params: Params, seed: int = 0):
    workload = registry.get_workload(name)
    rng = np.random.default_rng(workload.seed(params, seed))
    inputs = workload.make_inputs(params, rng)
    return workload, inputs, workload.expected(inputs, params)


@pytest.mark.parametrize("name", ["vector_add", "reduce_sum", "softmax", "matmul"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_numpy_port_passes_its_checker_at_quick_sizes(name: str, dtype: str) -> None:
    workload = registry.get_workload(name)
    for params in workload.space.expand(quick=True, overrides={"dtype": [dtype]}):
        _, inputs, truth = _inputs(name, params)
        output = workload.reference.prepare(inputs, params)()
        result = workload.check(output, truth, params)
        assert result.ok, result.detail
        assert str(np.asarray(output).dtype) == dtype


def test_inputs_are_the_same_for_the_same_params_and_seed() -> None:
    params = {"n": 1000, "dtype": "float32"}
    _, a, _ = _inputs("vector_add", params)
    _, b, _ = _inputs("vector_add", params)
    _, c, _ = _inputs("vector_add", params, seed=1)
    assert np.array_equal(a["x"], b["x"])
    assert not np.array_equal(a["x"], c["x"])


def test_softmax_without_max_subtraction_is_caught_in_float32() -> None:
    params = {"rows": 8, "cols": 64, "dtype": "float32"}
    workload, inputs, truth = _inputs("softmax", params)
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(inputs["x"])  # overflows: logits sit near 80
        naive = e / e.sum(axis=1, keepdims=True)
    assert not workload.check(naive, truth, params).ok


def test_reduce_sum_running_float32_sum_is_caught() -> None:
    params = {"n": 1 << 24, "dtype": "float32"}
    workload, inputs, truth = _inputs("reduce_sum", params)
    running = np.cumsum(inputs["x"], dtype=np.float32)[-1]  # sequential: error ~ n*eps
    result = workload.check(running, truth, params)
    assert not result.ok
    assert "relative error" in result.detail


def test_matmul_checker_rejects_a_transposed_product_and_wrong_shapes() -> None:
    params = {"n": 64, "dtype": "float64", "shape": "square"}
    workload, inputs, truth = _inputs("matmul", params)
    assert not workload.check(inputs["a"].T @ inputs["b"], truth, params).ok
    assert "shape" in workload.check(truth[:-1], truth, params).detail
    skinny = {"n": 64, "dtype": "float32", "shape": "skinny_k"}
    _, inputs, truth = _inputs("matmul", skinny)
    assert inputs["a"].shape == (256, 16)
    assert truth.shape == (256, 64)


def test_vector_add_checker_rejects_nan() -> None:
    params = {"n": 100, "dtype": "float64"}
    workload, _, truth = _inputs("vector_add", params)
    broken = truth.copy()
    broken[3] = np.nan
    assert workload.check(broken, truth, params).detail == "output holds NaN or inf"


@pytest.mark.parametrize(
    ("name", "params", "flops", "nbytes"),
    [
        ("vector_add", {"n": 10, "dtype": "float32"}, 20, 120),
        ("reduce_sum", {"n": 10, "dtype": "float64"}, 10, 80),
        ("softmax", {"rows": 2, "cols": 5, "dtype": "float32"}, 50, 80),
        ("matmul", {"n": 8, "dtype": "float64", "shape": "square"}, 1024, 1536),
    ],
)
def test_work(name: str, params: Params, flops: int, nbytes: int) -> None:
    work = registry.get_workload(name).work(params)
    assert (work.flops, work.bytes) == (flops, nbytes)


@pytest.mark.parametrize("norm", ["max", "fro"])
def test_relative_error_reads_every_chunk_of_a_large_output(norm: str) -> None:
    """The check converts the output to float64 a chunk at a time: the error it finds is
    the whole array's, and a NaN or a wrong element in the last chunk is seen."""
    from perfkit.model.workload import _CHECK_CHUNK, relative_error

    rng = np.random.default_rng(3)
    truth = rng.standard_normal((3 * _CHECK_CHUNK + 17) // 17 * 17).reshape(-1, 17)
    out = (truth * (1 + 1e-7 * rng.standard_normal(truth.shape))).astype(np.float32)
    check = relative_error({"float32": 1e-4}, norm=norm)
    params = {"dtype": "float32"}
    result = check(out, truth, params)
    error = out.astype(np.float64) - truth
    whole = (
        np.linalg.norm(error) / np.linalg.norm(truth)
        if norm == "fro"
        else np.max(np.abs(error)) / np.max(np.abs(truth))
    )
    assert result.ok
    assert result.error == pytest.approx(whole, rel=1e-9)
    wrong = out.copy()
    wrong[-1, -1] += 1e3
    assert not check(wrong, truth, params).ok
    wrong[-1, -1] = np.nan
    assert check(wrong, truth, params).detail == "output holds NaN or inf"
    assert not check(out[:-1], truth, params).ok

"""The PyTorch ports through the real harness on the CPU: every compiled port of the array
workloads passes the same checker as eager; each training workload's eager and compiled
ports (the model compiled, the whole step compiled) fit from the same start to the same
accuracy band, with steps/s, the accuracy and the compile's cost recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfkit.records.run_record import CaseResult, load_record
from tests.conftest import perfkit, torch_marks

pytestmark = torch_marks()

_COMMON = ("--quick", "--budget", "0.2", "--threads", "2", "--device", "cpu", "--no-report",
           "--no-calibrate")  # fmt: skip


def _run(tmp_path: Path, *args: str) -> dict[str, CaseResult]:
    path = tmp_path / "record.json"
    # A worker compiles each torch_compile case from a cold Inductor cache (seconds each):
    # ten minutes is far beyond what these small cases take even on a loaded machine.
    done = perfkit(*args, *_COMMON, "-o", str(path), cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return {r.case_id: r for r in load_record(path).results}


def test_compiled_array_ports_pass_their_checkers(tmp_path: Path) -> None:
    results = _run(
        tmp_path, "run", "--suite", "array", "-b", "torch_compile:default",
        "-b", "torch_compile:bf16-default", "-p", "n=64", "-p", "rows=64", "-p", "dtype=float32",
    )  # fmt: skip
    assert {r.workload for r in results.values()} == {
        "vector_add",
        "reduce_sum",
        "softmax",
        "matmul",
    }
    for result in results.values():
        assert result.status == "ok", (result.case_id, result.reason)
        assert result.metric("compile/graphs") == 1  # one graph, no break, no recompile
        assert result.metric("compile/graph_breaks") == 0
        assert result.metric("compile/recompiles") == 0
    bf16 = [r for r in results.values() if r.variant == "bf16-default"]
    assert len(bf16) == 1
    assert bf16[0].work.dtype == "bfloat16"  # held to its own precision's roof


def _training(results: dict[str, CaseResult]) -> None:
    """Every port ok; the same band and, from the same start on the same batches, the same
    accuracy to a point; steps/s and the fit's losses recorded; compiles counted."""
    accuracies = []
    for result in results.values():
        assert result.status == "ok", (result.case_id, result.reason)
        assert (result.metric("throughput/steps_per_s") or 0) > 0
        assert (result.metric("train/loss_last") or 9) < (result.metric("train/loss_first") or 0)
        accuracies.append(result.metric("train/test_accuracy") or 0.0)
        if result.backend == "torch_compile":
            assert result.metric("time/compile") is not None
            assert result.metric("compile/recompiles") == 0
    assert max(accuracies) - min(accuracies) <= 0.01, accuracies


def test_mlp_train_from_scratch_eager_and_compiled_agree(tmp_path: Path) -> None:
    results = _run(tmp_path, "compare", "-w", "mlp_train", "-b", "numpy,torch_eager,torch_compile")
    ports = {r.implementation for r in results.values() if r.status != "skipped"}
    assert ports == {
        "numpy:scratch", "torch_eager:module", "torch_eager:step",
        *(f"torch_compile:{part}-{mode}" for part in ("module", "step")
          for mode in ("default", "reduce-overhead", "max-autotune-no-cudagraphs")),
    }  # fmt: skip
    _training({k: r for k, r in results.items() if r.status != "skipped"})
    whole_step = [r for r in results.values() if r.variant == "step-default"]
    assert whole_step[0].metric("compile/graphs") == 1  # forward, backward, update: one graph
    assert whole_step[0].metric("compile/graph_breaks") == 0


@pytest.mark.parametrize(
    ("workload", "backends", "params", "cases"),
    [
        # torch_eager: its module and step ports, then the model and the step compiled
        ("cnn_classify", "torch_eager,torch_compile:module-default,torch_compile:step-default",
         (), 4),
        # the LSTM (the faster cell on CPUs); not its eager functional step: seconds a call
        ("rnn_classify", "torch_eager:module,torch_compile:module-default,"
         "torch_compile:step-default", ("-p", "cell=lstm"), 3),
    ],
)  # fmt: skip
def test_torch_classifiers_eager_and_compiled_reach_the_band(
    tmp_path: Path, workload: str, backends: str, params: tuple[str, ...], cases: int
) -> None:
    results = _run(tmp_path, "compare", "-w", workload, "-b", backends, *params)
    assert len(results) == cases
    _training(results)

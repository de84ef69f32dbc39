"""PyTorch eager as a backend: its ports of the four array workloads run through the real
harness and pass the same checkers as NumPy's, at two sizes, with the intra-op threads
pinned to the run's --threads and recorded."""

from __future__ import annotations

from pathlib import Path

from perfkit.records.run_record import load_record
from tests.conftest import perfkit, torch_marks

pytestmark = torch_marks()


def test_every_eager_port_passes_its_checker_at_two_sizes(tmp_path: Path) -> None:
    path = tmp_path / "torch.json"
    done = perfkit(
        # n is the vectors' length and matmul's size: small enough for both
        "run", "--suite", "array", "-b", "torch_eager", "-p", "n=64,256",
        "-p", "rows=64,256", "--quick", "--budget", "0.2", "--threads", "1",
        "--device", "cpu", "--no-report", "--no-calibrate", "-o", str(path), cwd=tmp_path,
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    record = load_record(path)
    ported = {r.workload for r in record.results}
    assert ported == {"vector_add", "reduce_sum", "softmax", "matmul"}
    for result in record.results:
        if result.variant == "tf32" or (
            result.variant == "bf16" and result.params["dtype"] != "float32"
        ):
            assert result.status == "skipped", result.case_id  # CUDA only; float32 inputs only
            continue
        assert result.status == "ok", (result.case_id, result.reason)
        assert result.metric("torch/threads") == 1  # pinned to --threads
    assert len({r.params.get("n") for r in record.results if r.workload == "reduce_sum"}) == 2
    assert record.environment.backends["torch_eager"].settings == {"device": "cpu"}
    assert "torch" in record.environment.backends["torch_eager"].versions


def test_compiled_ports_match_eager_and_count_compiles_breaks_and_recompiles(
    tmp_path: Path,
) -> None:
    path = tmp_path / "compiled.json"
    done = perfkit(
        "compare", "-w", "torch_breaks", "-b", "numpy,torch_eager,torch_compile:default",
        "--plugin", str(Path(__file__).parent / "plugins" / "torch_breaks.py"),
        "--quick", "--budget", "0.2", "--threads", "1", "--no-report", "--no-calibrate",
        "-o", str(path), cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    by_port = {r.implementation: r for r in load_record(path).results}
    for result in by_port.values():
        assert result.status == "ok", (result.case_id, result.reason)
    compiled = by_port["torch_compile:default"]
    assert (compiled.metric("time/compile") or 0) > 0
    assert (compiled.metric("compile/graph_breaks") or 0) >= 1
    assert (compiled.metric("compile/recompiles") or 0) >= 1
    assert by_port["torch_eager:default"].metric("compile/graphs") is None


def test_a_port_that_writes_its_tensor_in_place_leaves_the_groups_inputs_alone() -> None:
    """Inputs are frozen (``freeze``) so a NumPy port that writes into them fails; a tensor
    cannot be read-only, so ``torch_of`` copies a frozen array instead of sharing it."""
    import numpy as np

    from perfkit.backends.torch_eager import torch_of
    from perfkit.engine.verify import freeze

    inputs = freeze({"x": np.arange(8, dtype=np.float32)})
    tensor = torch_of(inputs["x"])
    tensor.add_(100.0)  # a port writing in place
    assert inputs["x"].tolist() == list(range(8))
    writable = np.zeros(4)
    torch_of(writable).add_(1.0)  # an array the port made itself is still shared, not copied
    assert writable.tolist() == [1.0] * 4

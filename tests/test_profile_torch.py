"""``perfkit profile --profiler torch`` on a real PyTorch CPU build."""

from __future__ import annotations

from pathlib import Path

from perfkit.profiling.record import load_profile_run
from tests.conftest import perfkit, torch_marks

pytestmark = torch_marks()
DEADLINE = 900  # a worker's start-up and PyTorch's import on a busy 2-core machine


def test_torch_profile_lists_operators_with_shapes(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    done = perfkit(
        "profile", "-w", "softmax", "-b", "torch_eager", "--quick", "-p", "dtype=float32",
        "--profiler", "torch", "--duration", "1", "-o", str(folder), "--no-report",
        "--device", "cpu", cwd=tmp_path, timeout=DEADLINE,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    profile = load_profile_run(folder / "profile.json").profiles[0]
    assert profile.status == "ok", profile.reason
    assert profile.stacks is not None
    assert profile.stacks.share("aten::_softmax [[256, 512]") > 0.5
    assert (folder / profile.files[0]).parent.joinpath("trace.json").is_file()

"""Environment capture."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from perfkit.metadata import capture_environment, cpu_brand, git_state


@pytest.mark.usefixtures("loaded")
def test_environment_has_machine_libraries_backends_and_git() -> None:
    env = capture_environment()
    machine = env.machine
    assert machine.cpu == cpu_brand()
    assert machine.cores_logical >= 1
    assert machine.memory_bytes > 2**28
    assert env.libraries["numpy"]
    assert env.backends["numpy"].available is True
    assert env.backends["numpy"].versions["numpy"] == env.libraries["numpy"]
    assert env.load is not None
    assert env.load.other_cpu is not None
    assert env.load.other_cpu >= 0


def test_git_state_of_a_fresh_repository(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    assert git_state(tmp_path) == {"sha": None, "dirty": None}
    git("init", "-q")
    git(
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.invalid",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "empty",
    )
    state = git_state(tmp_path)
    assert len(state["sha"]) == 40
    assert state["dirty"] is False
    (tmp_path / "f").write_text("x")
    git("add", "f")
    assert git_state(tmp_path)["dirty"] is True

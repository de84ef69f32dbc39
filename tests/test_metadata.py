"""Environment capture."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from perfkit.machine.capture import capture_environment, cpu_brand, git_state


@pytest.mark.measures
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


def test_cpu_facts_come_from_the_kernel_not_a_cpuinfo_module() -> None:
    """py-cpuinfo and pytest-benchmark's py-cpuinfo2 install one ``cpuinfo`` module over the
    other; perfkit imports neither, and still records flags and cache sizes."""
    code = (
        "import sys; from perfkit.machine.capture import capture_environment; "
        "m = capture_environment(probe_backends=False).machine; "
        "print('cpuinfo' in sys.modules, len(m.flags), m.l2_cache_bytes or 0, m.cpu)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    imported, flags, l2, brand = done.stdout.split(maxsplit=3)
    assert imported == "False"
    if Path("/proc/cpuinfo").exists():
        assert int(flags) > 0
        assert brand.strip() != "unknown"
    if list(Path("/sys/devices/system/cpu").glob("cpu0/cache/index*/level")):
        assert int(l2) > 0


def test_cache_sizes_count_each_shared_cache_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from perfkit.machine import cpu as cpu_facts

    for cpu in (0, 1):
        for index, (level, kind, size, shared) in enumerate(
            [(1, "Instruction", "32K", str(cpu)), (2, "Unified", "2048K", str(cpu)),
             (3, "Unified", "32M", "0-1")]
        ):  # fmt: skip
            folder = tmp_path / f"cpu{cpu}" / "cache" / f"index{index}"
            folder.mkdir(parents=True)
            for name, text in (("level", level), ("type", kind), ("size", size)):
                (folder / name).write_text(f"{text}\n")
            (folder / "shared_cpu_list").write_text(shared + "\n")
    monkeypatch.setattr(cpu_facts, "_SYS", tmp_path)
    cpu_facts.cache_bytes.cache_clear()
    try:
        assert cpu_facts.cache_bytes(2) == 2 * 2048 * 1024
        assert cpu_facts.cache_bytes(3) == 32 << 20
        assert cpu_facts.cache_bytes(1) is None  # instruction caches are not counted
    finally:
        cpu_facts.cache_bytes.cache_clear()

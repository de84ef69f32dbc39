"""``perfkit profile`` end to end on workloads whose profiles are known (tests/plugins/
profiled.py): each profiler attributes the known shares, finds the known allocation, states
its overhead; one that cannot run here says why and the rest still run."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from perfkit.profiling.record import CaseProfile, ProfileRun, load_profile_run
from perfkit.report.browser import find_chromium, inspect_report
from tests.conftest import PLUGINS, perfkit

# These tests compare times, CPU shares or rates: CI runs them again beside a CPU burner.
pytestmark = pytest.mark.measures

PROFILED = PLUGINS / "profiled.py"
HEAVY = 0.8
TOLERANCE = 0.05  # the 5 points
# Under valgrind the worker's start-up alone takes tens of seconds on a busy 2-core machine.
DEADLINE = 900


def _profile(run: ProfileRun, profiler: str) -> CaseProfile:
    (found,) = [p for p in run.profiles if p.profiler == profiler]
    return found


@pytest.fixture(scope="module")
def shares(tmp_path_factory: pytest.TempPathFactory) -> tuple[ProfileRun, Path, str]:
    folder = tmp_path_factory.mktemp("shares") / "run"
    done = perfkit(
        "profile", "--plugin", str(PROFILED), "-w", "known_shares", "--quick",
        "--profiler", "sample,python,instructions,gpu,counters", "--duration", "3",
        "-o", str(folder),
        cwd=folder.parent, timeout=DEADLINE,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return load_profile_run(folder / "profile.json"), folder, done.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    ("profiler", "heavy", "light"),
    [
        ("sample", "_shares.<locals>.heavy (", "_shares.<locals>.light ("),  # py-spy: qualnames
        ("python", "heavy (", "light ("),
        # callgrind sees native code only: NumPy's add and subtract loops.
        ("instructions", "DOUBLE_add", "DOUBLE_subtract"),
    ],
)
def test_each_profiler_attributes_the_known_shares(
    shares: tuple[ProfileRun, Path, str], profiler: str, heavy: str, light: str
) -> None:
    profile = _profile(shares[0], profiler)
    assert profile.status == "ok", profile.reason
    assert profile.stacks is not None
    assert profile.stacks.share(heavy) == pytest.approx(HEAVY, abs=TOLERANCE)
    assert profile.stacks.share(light) == pytest.approx(1 - HEAVY, abs=TOLERANCE)


@pytest.mark.slow
def test_every_profile_states_its_overhead_and_its_files(
    shares: tuple[ProfileRun, Path, str],
) -> None:
    run, folder, _ = shares
    for profile in run.profiles:
        if profile.status != "ok":
            continue
        assert profile.calls >= 1
        assert profile.overhead is not None
        assert profile.overhead > 0
        assert profile.files
        assert all((folder / name).is_file() for name in profile.files)
    names = {Path(f).name for p in run.profiles for f in p.files}
    assert {"profile.speedscope.json", "stacks.txt", "profile.pstats", "callgrind.out.1"} <= names


@pytest.mark.slow
def test_a_profiler_that_cannot_run_says_why_and_the_rest_run(
    shares: tuple[ProfileRun, Path, str],
) -> None:
    run, _, stdout = shares
    gpu = _profile(run, "gpu")
    assert gpu.status == "skipped"
    assert "runs on the CPU" in gpu.reason
    assert sum(p.status == "ok" for p in run.profiles) >= 3
    assert "skipped" in stdout


@pytest.mark.slow
def test_counters_say_which_kind_they_are(shares: tuple[ProfileRun, Path, str]) -> None:
    counters = _profile(shares[0], "counters")
    if shutil.which("perf") is None:
        assert counters.status == "skipped"
        assert "perf not found" in counters.reason
        return
    assert counters.status == "ok", counters.reason
    assert counters.notes[0].startswith(("perf stat: hardware", "perf stat: software"))
    clock = next(c for c in counters.counters if c.name == "task-clock")
    assert clock.value is not None
    assert clock.per_call is not None
    # The loop's CPU time, in milliseconds: the loop spins, so it ran for a good part of
    # its wall time even when two other processes kept both cores busy (a third of a core
    # each), and never for more than every core's.
    wall_ms = counters.seconds * 1e3
    assert 0.1 * wall_ms < clock.value <= 1.05 * wall_ms * (os.cpu_count() or 1)


@pytest.mark.slow
def test_memory_finds_the_known_allocation_and_the_peak(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    done = perfkit(
        "profile", "--plugin", str(PROFILED), "-w", "holds_64mib", "--profiler", "memory",
        "--duration", "1", "-o", str(folder), "--no-report",
        cwd=tmp_path, timeout=DEADLINE,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    profile = _profile(load_profile_run(folder / "profile.json"), "memory")
    assert profile.status == "ok", profile.reason
    assert profile.stacks is not None
    at_the_site = sum(
        s.cost for s in profile.stacks.stacks if any(f.startswith("hold_64mib (") for f in s.frames)
    )
    assert at_the_site == pytest.approx(64 * 2**20, rel=0.05)
    peak = next(c for c in profile.counters if c.name == "peak memory")
    assert peak.value == pytest.approx(64 * 2**20, rel=0.05)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-w", "known_shares", "--profiler", "flame"], "unknown profiler 'flame'"),
        (["-w", "known_shares", "--duration", "0"], "--duration"),
        (["-w", "no_such_workload"], "no_such_workload"),
        (["-w", "known_shares", "--rate", "0"], "--rate"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    done = perfkit("profile", "--plugin", str(PROFILED), *args, cwd=tmp_path, timeout=120)
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.skipif(find_chromium() is None, reason="Debian chromium is not installed")
def test_the_profile_page_draws_in_chromium(shares: tuple[ProfileRun, Path, str]) -> None:
    _, folder, _ = shares
    check = inspect_report(folder / "profile.html")
    assert check.console_errors == []
    assert check.network_requests == []
    assert check.figures == 3  # one flame graph a profile that ran
    assert check.rendered == check.figures
    assert "DOUBLE_add" in check.text
    assert "skipped" in check.text


@pytest.mark.slow
def test_instructions_follow_an_allocator_pattern_into_its_driver(tmp_path: Path) -> None:
    """An allocator pattern's work is a child process (the driver): the instructions
    profiler runs that very driver under callgrind, and counts its allocator calls."""
    folder = tmp_path / "run"
    done = perfkit(
        "profile", "-w", "alloc_churn", "-b", "glibc:default", "--quick", "--profiler",
        "instructions", "--duration", "1", "-o", str(folder), "--no-report",
        cwd=tmp_path, timeout=DEADLINE,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    profile = _profile(load_profile_run(folder / "profile.json"), "instructions")
    assert profile.status == "ok", profile.reason
    assert profile.stacks is not None
    names = {f.name for f in profile.stacks.functions()}
    assert {"main", "malloc", "free"} <= names
    assert profile.stacks.share("main") > 0.3  # at --quick sizes the loader takes much of it
    assert len([f for f in profile.files if "driver.callgrind" in f]) == profile.calls

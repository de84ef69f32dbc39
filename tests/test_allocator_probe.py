"""The probe build of the allocation-pattern drivers (``native/bench/probe.h``) and what
perfkit makes of it: latency tails, memory over time, what is given back, fragmentation."""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from perfkit.backends._allocator import AllocatorBackend, run_driver
from perfkit.backends._allocator_probe import SERIES_POINTS, probe_metrics, series_key
from perfkit.model import registry
from perfkit.model.backend import get_backend
from perfkit.model.workload import WrongOutputError
from tests.conftest import perfkit
from tests.test_allocators import ALLOCATORS, PATTERNS

pytestmark = [
    pytest.mark.native,
    pytest.mark.skipif(
        shutil.which("make") is None or shutil.which("gcc") is None, reason="needs make and gcc"
    ),
]
ROOT = Path(__file__).resolve().parent.parent
RELEASE_CALLS = {
    "glibc": "malloc_trim(0)",
    "pkmalloc": "malloc_trim(0)",
    "jemalloc": "mallctl arena.<all>.purge",
    "mimalloc": "mi_collect(true)",
    "tcmalloc": "MallocExtension_ReleaseFreeMemory()",
}


def _probe(pattern: str, args: list[str], preload: Path | None = None, **env: str) -> Any:
    from perfkit.native.build import driver

    result = run_driver(driver(pattern, probe=True), args, preload, env)
    assert (result["exit"], result["corrupt"]) == (0, 0)
    return result


@pytest.mark.parametrize("pattern", PATTERNS)
def test_every_probe_build_times_every_call_and_keeps_the_checks(pattern: str) -> None:
    """Every malloc the driver makes has its free (the drivers free all they allocate), so
    the two counts match and the bytes held go back to zero by the end."""
    ops = "8" if pattern == "large_blocks" else "20000"
    result = _probe(pattern, ["--threads", "2", "--ops", ops])
    probe = result["probe"]
    assert probe["malloc"]["count"] == probe["free"]["count"] > 0
    assert probe["timer"] in ("rdtscp", "clock_gettime")
    assert 0 < probe["timer_ns"] < 10_000
    for call in ("malloc", "free"):
        figures = probe[call]
        assert 0 < figures["p50_ns"] <= figures["p99_ns"] <= figures["p999_ns"]
        assert figures["p999_ns"] <= figures["max_ns"] * 1.0001
    assert probe["series"], "no memory sample"
    assert probe["series"][-1][2] == 0  # nothing live once the driver freed everything
    assert probe["live_end_bytes"] >= 0
    assert probe["work_end_ns"] > 0


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the cycle counter is x86-64's")
@pytest.mark.skipif(shutil.which("objdump") is None, reason="needs objdump (binutils)")
def test_only_the_probe_build_reads_the_cycle_counter() -> None:
    """The timed build is the bare calls: no timer instruction anywhere in it."""
    from perfkit.native.build import driver

    def disassembly(path: Path) -> str:
        done = subprocess.run(
            ["objdump", "-d", str(path)], capture_output=True, text=True, timeout=60, check=True
        )
        return done.stdout

    assert "rdtscp" not in disassembly(driver("same_size"))
    assert "rdtscp" in disassembly(driver("same_size", probe=True))


def _stalling_malloc(tmp_path: Path) -> Path:
    library = tmp_path / "libstall.so"
    source = ROOT / "tests" / "native" / "stallmalloc.c"
    subprocess.run(
        ["gcc", "-O1", "-shared", "-fPIC", "-o", str(library), str(source)],
        check=True, timeout=120,
    )  # fmt: skip
    return library


def test_a_stall_of_one_call_in_five_hundred_shows_at_p999_and_not_below(tmp_path: Path) -> None:
    """A malloc that stalls 50 us once in 500 calls (0.2%): p99.9 sees the stall, the
    median and p99 do not, and the largest call is at least the stall."""
    stall = _stalling_malloc(tmp_path)
    args = ["--ops", "2000000"]
    figures = _probe("same_size", args, stall, STALL_EVERY="500", STALL_NS="50000")["probe"]
    malloc = figures["malloc"]
    assert malloc["p999_ns"] >= 45_000  # a bucket is 1/16 wide
    assert malloc["max_ns"] >= 50_000
    assert malloc["p99_ns"] < 45_000
    assert malloc["p50_ns"] < 5_000
    assert figures["free"]["p999_ns"] < 45_000  # free is glibc's own, never stalled


@pytest.mark.parametrize("allocator", ALLOCATORS)
def test_what_each_allocator_gives_back_is_measured_after_its_own_release_call(
    allocator: str,
) -> None:
    registry.load([])
    backend = get_backend(allocator)
    if not backend.probe().ok:
        pytest.skip(f"{allocator} is not installed: {backend.probe().reason}")
    assert isinstance(backend, AllocatorBackend)
    result = _probe("fragmentation", ["--ops", "20000"], backend.preload())
    probe = result["probe"]
    assert probe["release"] == RELEASE_CALLS[allocator]
    metrics = probe_metrics(result, [result["seconds"]])
    # The driver holds its blocks at the end of the work (its teardown comes after): live
    # bytes are most of RSS and never more (every page of them is written).
    assert 0.3 < metrics["mem/live_over_rss_end"] <= 1.0
    assert 0.3 < metrics["mem/live_over_rss_peak"] <= 1.0
    assert metrics["mem/rss_released"] <= metrics["mem/rss_freed"] * 1.05
    if allocator == "glibc":  # malloc_trim gives back what free kept
        assert metrics["mem/rss_released"] < metrics["mem/rss_freed"] / 2


def _line(series: list[list[float]], **probe: Any) -> dict[str, Any]:
    figures = {"count": 10, "p50_ns": 20.0, "p99_ns": 40.0, "p999_ns": 80.0, "max_ns": 900.0}
    return {
        "seconds": 0.5,
        "probe": {
            "timer": "rdtscp", "timer_ns": 15.0, "malloc": figures, "free": figures,
            "live_end_bytes": 800, "rss_work_end_bytes": 1000, "work_end_ns": 70,
            "rss_freed_bytes": 900, "rss_released_bytes": 300, "series": series, **probe,
        },
    }  # fmt: skip


def test_memory_over_time_keeps_a_spike_between_two_points() -> None:
    """Forty-one points of a run sampled 1001 times: a one-sample spike still shows (each
    point is the largest of its window), and the time axis is the run's share."""
    series = [[t, 100 + (5000 if t == 333 else 0), 10] for t in range(1001)]
    metrics = probe_metrics(_line(series, work_end_ns=1000), [0.25])
    points = [metrics[series_key("rss", i)] for i in range(SERIES_POINTS)]
    assert max(points) == 5100
    assert points.count(5100) == 1
    assert points[0] == points[-1] == 100
    assert metrics["alloc/probe_slowdown"] == pytest.approx(2.0)
    assert metrics["lat/malloc_p999_ns"] == 80.0
    assert metrics["lat/timer_ns"] == 15.0


def test_fragmentation_at_the_peak_is_read_from_the_work_not_the_teardown() -> None:
    """RSS keeps growing while the driver frees at the end (its teardown): the peak's live
    bytes are those where RSS was highest before the work ended."""
    series = [[0, 100, 0], [50, 1000, 900], [70, 1000, 800], [90, 1200, 0], [100, 1300, 0]]
    metrics = probe_metrics(_line(series), [0.5])
    assert metrics["mem/live_over_rss_peak"] == pytest.approx(0.9)
    assert metrics["mem/live_over_rss_end"] == pytest.approx(0.8)
    assert metrics["mem/rss_released"] == 300


def test_a_line_without_a_probe_gives_no_probe_metrics() -> None:
    assert probe_metrics({"seconds": 0.1}, [0.1]) == {}


def test_a_corrupted_block_in_the_probe_run_makes_the_case_invalid() -> None:
    registry.load([])
    backend = get_backend("glibc")
    assert isinstance(backend, AllocatorBackend)
    with pytest.raises(WrongOutputError, match="the probe run: 2 corrupted blocks"):
        backend.call_metrics(lambda: {"exit": 3, "corrupt": 2, "seconds": 0.1})


@pytest.mark.slow
def test_a_run_records_the_probe_metrics_and_the_report_draws_them(tmp_path: Path) -> None:
    out = tmp_path / "alloc.json"
    done = perfkit(
        "run", "-w", "same_size", "--quick", "-b", "glibc:default", "pkmalloc",
        "--no-calibrate", "-o", str(out), cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(out.read_text())["results"]
    assert {r["backend"] for r in results} == {"glibc", "pkmalloc"}
    for result in results:
        metrics = result["measurement"]["metrics"]
        for key in (
            "lat/malloc_p99_ns",
            "lat/free_max_ns",
            "mem/rss_released",
            series_key("rss", 40),
        ):
            assert key in metrics, key
        assert metrics["alloc/probe_slowdown"] > 1.0  # every call timed costs time
    page = out.with_suffix(".html").read_text()
    for title in ("latency of one call", "memory over the run", "memory given back"):
        assert title in page

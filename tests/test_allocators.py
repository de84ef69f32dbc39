"""The allocator half: pkmalloc's own C tests, the drivers under every allocator, real
programs under LD_PRELOAD, and the native build perfkit does on first use."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from perfkit.backends._allocator import run_driver
from perfkit.model import registry
from perfkit.model.backend import get_backend
from perfkit.native.build import NativeBuildError, build, library, native_dir
from tests.conftest import perfkit

pytestmark = [
    pytest.mark.native,
    pytest.mark.skipif(
        shutil.which("make") is None or shutil.which("gcc") is None, reason="needs make and gcc"
    ),
]
ROOT = Path(__file__).resolve().parent.parent
ALLOCATORS = ("glibc", "pkmalloc", "jemalloc", "mimalloc", "tcmalloc")
PATTERNS = (
    "alloc_churn", "larson_like", "producer_consumer", "mstress_like",
    "fifo_lifo", "large_blocks", "thread_churn", "fragmentation", "thread_generations",
    "same_size",
)  # fmt: skip


def _make(*targets: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "-C", str(native_dir()), f"BUILD={build()}", *targets],
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


@pytest.mark.slow
def test_pkmalloc_passes_its_c_tests_against_itself_glibc_and_under_sanitizers() -> None:
    done = _make("check")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert done.stdout.count("test_api: ok") == 3  # pkmalloc, glibc, ASan
    assert done.stdout.count("test_fork: ok") == 3
    assert done.stdout.count("test_threads: ok") == 4  # and ThreadSanitizer
    assert done.stdout.count("test_reuse: ok") == 2  # pkmalloc and ASan only
    assert done.stdout.count("test_check: ok") == 2
    assert done.stdout.count("test_generations: ok") == 3  # pkmalloc, ASan, ThreadSanitizer


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_pkmalloc_is_memcheck_clean() -> None:
    done = _make("memcheck")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "test_threads: ok" in done.stdout
    assert "test_generations: ok" in done.stdout


def test_every_allocator_is_available_or_says_what_to_install() -> None:
    registry.load([])
    for name in ALLOCATORS:
        availability = get_backend(name).probe()
        assert availability.ok or "apt-get install" in availability.reason, availability


@pytest.mark.parametrize("pattern", PATTERNS)
def test_every_driver_runs_clean_under_pkmalloc(pattern: str) -> None:
    from perfkit.native.build import driver

    ops = "40" if pattern == "large_blocks" else "20000"
    result = run_driver(driver(pattern), ["--threads", "2", "--ops", ops], library(), {})
    assert result["exit"] == 0
    assert result["corrupt"] == 0
    assert result["ops"] > 0
    assert result["peak_rss_bytes"] > 0


@pytest.mark.measures
@pytest.mark.slow
def test_pkmalloc_memory_does_not_grow_with_thread_generations() -> None:
    """Generations of threads that hand blocks to each other and exit, beside a long-lived
    main thread: pkmalloc once grew by about 50 KiB a generation (58 MiB after 1000, glibc
    under 4 MiB), its main thread adopting pages of classes it never allocated. Its peak
    after 1000 generations stays within 1 MiB of its peak after 100 (that growth was 45
    MiB), and within three times glibc's: pkmalloc's fixed arenas put it at about twice
    glibc's 3.7 MiB here, too close to a bound of two for a machine under load."""
    from perfkit.native.build import driver

    def args(generations: int) -> list[str]:
        return ["--threads", "2", "--ops", str(2 * generations * 2 * (512 + 64 + 64))]

    peaks: dict[tuple[str, int], list[int]] = {}
    for _ in range(3):  # medians of three runs, taken in turns: a peak RSS varies by a few %
        for generations in (100, 1000):
            for name, preload in (("glibc", None), ("pkmalloc", library())):
                result = run_driver(driver("thread_generations"), args(generations), preload, {})
                assert (result["exit"], result["corrupt"]) == (0, 0)
                assert result["generations"] == generations
                peaks.setdefault((name, generations), []).append(result["peak_rss_bytes"])
    median = {key: statistics.median(values) for key, values in peaks.items()}
    assert median["pkmalloc", 1000] <= median["pkmalloc", 100] + 2**20, peaks
    assert median["pkmalloc", 1000] <= 3 * median["glibc", 1000], peaks


@pytest.mark.parametrize("pattern", PATTERNS)
def test_the_drivers_checks_pass_under_glibc_down_to_one_byte_blocks(pattern: str) -> None:
    """glibc is the reference: a block it hands back intact must pass the driver's check,
    also where the tag word and the last byte share a block of 1 to 9 bytes."""
    from perfkit.native.build import driver

    ops = "8" if pattern == "large_blocks" else "20000"
    args = ["--threads", "2", "--ops", ops, "--min-size", "1", "--max-size", "9"]
    result = run_driver(driver(pattern), args, None, {})
    assert (result["exit"], result["corrupt"]) == (0, 0)
    assert result["ops"] > 0


def test_a_broken_allocator_is_caught_by_the_drivers_checks(tmp_path: Path) -> None:
    from perfkit.native.build import driver

    bad = tmp_path / "libbad.so"
    subprocess.run(
        [
            "gcc",
            "-O1",
            "-shared",
            "-fPIC",
            "-o",
            str(bad),
            str(ROOT / "tests" / "native" / "badmalloc.c"),
            "-ldl",
        ],
        check=True,
    )
    result = run_driver(driver("alloc_churn"), ["--ops", "20000"], bad, {})
    assert result["exit"] == 3
    assert result["corrupt"] > 0
    spec = registry.get_workload("alloc_churn")
    verdict = spec.check(result, None, {})
    assert not verdict.ok
    assert "corrupted blocks" in verdict.detail


def test_every_timed_driver_run_is_checked() -> None:
    """The verification run came back clean; a later, timed run does not: the timer stops
    with the problem, and the worker makes the case invalid."""
    from perfkit.backends._allocator import _DriverRuns, _DriverTimer
    from perfkit.model.workload import WrongOutputError

    clean = {"exit": 0, "corrupt": 0, "seconds": 0.01}
    runs = iter([clean, clean, {"exit": 3, "corrupt": 2, "seconds": 0.01}])
    timer = _DriverTimer(_DriverRuns())
    assert timer.time(lambda: next(runs), 2) == pytest.approx(0.02)
    with pytest.raises(WrongOutputError, match="2 corrupted blocks"):
        timer.time(lambda: next(runs), 1)


def test_a_wrong_output_while_timing_makes_the_case_invalid() -> None:
    from perfkit import MeasurePolicy
    from perfkit.engine.runner import run_cases
    from tests.conftest import FAULTY

    registry.load([FAULTY])
    cases = registry.expand_cases(
        registry.get_workload("faulty_probe"), ["python:wrong_later"], quick=True
    )
    (result,) = run_cases(cases, MeasurePolicy.quick(timeout=60.0), [FAULTY]).results
    assert result.status == "invalid"
    assert "went wrong on call" in result.reason


@pytest.mark.measures
@pytest.mark.slow
def test_compare_ranks_the_allocators(tmp_path: Path) -> None:
    out = tmp_path / "larson.json"
    done = perfkit(
        "compare", "--workload", "larson_like", "--quick", "--no-report", "--no-calibrate",
        "-o", str(out), cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())["results"]
    by_port = {f"{r['backend']}:{r['variant']}": r for r in results}
    assert by_port["glibc:default"]["reference"]
    assert {"glibc:arena_max_2", "pkmalloc:default"} <= set(by_port)
    for r in results:
        if r["status"] == "skipped":
            assert "apt-get install" in r["reason"]
            continue
        assert r["status"] == "ok", r["reason"]
        metrics = r["measurement"]["metrics"]
        # Peak RSS is the driver's own (VmHWM), not its Python parent's.
        assert 0 < metrics["mem/peak_rss"] < 64 << 20
        assert metrics["alloc/ops_per_s"] > 0


@pytest.mark.slow
def test_python_runs_part_of_perfkits_tests_under_pkmalloc(tmp_path: Path) -> None:
    env = {**os.environ, "LD_PRELOAD": str(library()), "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_stats.py",
         "tests/test_axes.py", "tests/test_record.py", "tests/test_gate.py"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert " passed" in done.stdout


@pytest.mark.slow
def test_a_coreutils_pipeline_gives_glibcs_output_under_pkmalloc(tmp_path: Path) -> None:
    import numpy as np

    rng = np.random.default_rng(11)
    words = np.array([f"w{i:05d}" for i in range(20000)])
    text = tmp_path / "words.txt"
    with text.open("w") as handle:
        for _ in range(20):
            handle.write("\n".join(rng.choice(words, 100_000, p=None)) + "\n")
    pipeline = (
        f"sort {text} | uniq -c | sort -k1,1nr -k2 | head -50; "
        f"tr a-z A-Z < {text} | sort -u | wc -l"
    )
    outputs = []
    for preload in ("", str(library())):
        env = {**os.environ, "LD_PRELOAD": preload, "LC_ALL": "C"}
        done = subprocess.run(
            ["bash", "-c", "set -o pipefail; " + pipeline],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    assert len(outputs[0].splitlines()) == 51


@pytest.mark.slow
def test_a_sides_allocator_runs_in_this_harnesss_drivers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``perfkit ab`` sets ``PERFKIT_PKMALLOC_DIR`` to a side's ``native/``: pkmalloc is built
    from there alone, the drivers still from this harness (so a new driver measures an
    allocator of a commit that never had it)."""
    from perfkit.native.build import PKMALLOC_DIR, _library_of, driver, library

    other = tmp_path / "native"
    shutil.copytree(native_dir(), other, ignore=shutil.ignore_patterns("build"))
    (other / "bench" / "same_size.c").unlink()  # an older commit: no such driver
    source = other / "src" / "alloc.c"
    source.write_text(source.read_text() + "\n/* another commit's allocator */\n")
    monkeypatch.setenv(PKMALLOC_DIR, str(other))
    _library_of.cache_clear()
    try:
        theirs = library()
        assert theirs.is_file()
        assert theirs.parent != build()
        assert not (theirs.parent / "bench").exists()  # the library alone was built there
        assert driver("same_size").parent == build() / "bench"
        done = subprocess.run(
            [str(driver("same_size")), "--ops", "20000"], capture_output=True, text=True,
            env={**os.environ, "LD_PRELOAD": str(theirs)}, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert '"corrupt": 0' in done.stdout
    finally:
        _library_of.cache_clear()


@pytest.mark.slow
def test_the_build_follows_the_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "native"
    shutil.copytree(native_dir(), copy, ignore=shutil.ignore_patterns("build"))
    monkeypatch.setenv("PERFKIT_NATIVE_DIR", str(copy))
    build.cache_clear()
    try:
        first = build()
        assert (first / "libpkmalloc.so").is_file()
        assert (first / "bench" / "alloc_churn").is_file()
        source = copy / "src" / "alloc.c"
        source.write_text(source.read_text() + "\n/* an edit */\n")
        build.cache_clear()
        second = build()
        assert second != first
        assert (second / "libpkmalloc.so").is_file()
        source.write_text(source.read_text() + "\n#error broken on purpose\n")
        build.cache_clear()
        with pytest.raises(NativeBuildError, match="broken on purpose"):
            build()
    finally:
        build.cache_clear()

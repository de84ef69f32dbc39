"""Ceilings: measured on this machine, cached per machine, and % of roof."""

from __future__ import annotations

import contextlib
import json

import pytest

from perfkit import Work
from perfkit.engine.calibrate import cpu_ceilings
from perfkit.machine.ceilings import (
    bandwidth_for,
    best_of,
    cache_path,
    ceilings_warning,
    impossible,
    load_cached_ceilings,
    roof_fraction,
    settled_ceilings,
)

# These tests compare times, CPU shares or rates: CI runs them again beside a CPU burner.
pytestmark = pytest.mark.measures

CEILING = {"bandwidth": [[1 << 20, 200e9], [1 << 30, 20e9]], "flops": {"float64": 100e9}}


def test_bandwidth_is_chosen_by_working_set() -> None:
    assert bandwidth_for(CEILING, 1000) == 200e9
    assert bandwidth_for(CEILING, 1 << 20) == 200e9
    assert bandwidth_for(CEILING, (1 << 20) + 1) == 20e9
    assert bandwidth_for(CEILING, 1 << 40) == 20e9  # past the table: the largest (DRAM)
    assert bandwidth_for({}, 10) == 0.0


def test_compute_bound_fraction_uses_the_peak() -> None:
    work = Work(flops=2e9, bytes=1e8, dtype="float64")  # 20 flop/byte: compute bound
    assert roof_fraction(work, 0.04, CEILING) == pytest.approx(0.5)


def test_memory_bound_fraction_uses_intensity_times_bandwidth() -> None:
    work = Work(flops=1e8, bytes=1.2e9, dtype="float64")  # DRAM-sized, 1/12 flop/byte
    seconds = 1.2e9 / 10e9  # 10 GB/s achieved of 20 GB/s
    assert roof_fraction(work, seconds, CEILING) == pytest.approx(0.5)


def test_no_ceiling_or_unknown_dtype_gives_none() -> None:
    assert roof_fraction(Work(flops=1, bytes=1, dtype="float64"), 1.0, None) is None
    # float16 peak unknown: the bandwidth roof alone would make a compute-bound GEMM look
    # a few % efficient, so there is no roof at all
    work = Work(flops=1e6, bytes=1e6, dtype="float16")
    assert roof_fraction(work, 1e6 / 100e9, CEILING) is None
    # a pure copy has no flops: bandwidth is its roof whatever its dtype
    copy = Work(bytes=1e6, dtype="float16")
    assert roof_fraction(copy, 1e6 / 100e9, CEILING) == pytest.approx(0.5)
    assert roof_fraction(Work(), 1.0, CEILING) is None


def test_a_dram_bandwidth_above_the_caches_is_impossible() -> None:
    assert impossible(CEILING) is None
    upside_down = {**CEILING, "bandwidth": [[1 << 20, 20e9], [1 << 30, 200e9]]}
    reason = impossible(upside_down)
    assert reason is not None
    assert "faster than" in reason
    assert impossible({**CEILING, "flops": {"float64": 0.0}}) is not None
    assert impossible({**CEILING, "bandwidth": []}) is not None


def test_only_quiet_possible_ceilings_are_final() -> None:
    assert settled_ceilings({**CEILING, "other_cpu": 0.05})
    assert not settled_ceilings({**CEILING, "other_cpu": 1.9}), "measured under load"
    assert not settled_ceilings({**CEILING}), "load never measured"
    upside_down = {**CEILING, "other_cpu": 0.0, "bandwidth": [[1, 1e9], [2, 9e9]]}
    assert not settled_ceilings(upside_down)


def test_measurements_keep_the_best_of_each_ceiling() -> None:
    low = {"bandwidth": [[1 << 20, 50e9], [1 << 30, 25e9]], "flops": {"float64": 80e9}}
    better = best_of(best_of(None, low), {**CEILING, "other_cpu": 0.1})
    assert better["bandwidth"] == [[1 << 20, 200e9], [1 << 30, 25e9]]
    assert better["flops"] == {"float64": 100e9}
    assert better["measurements"] == 2
    assert better["other_cpu"] == 0.1, "the load of the newest measurement"


@pytest.mark.slow
def test_calibration_measures_this_machine_and_is_cached() -> None:
    first = cpu_ceilings(threads=1, quick=True)
    sizes = [size for size, _ in first["bandwidth"]]
    assert sizes == sorted(sizes)
    assert all(bw > 1e8 for _, bw in first["bandwidth"])  # over 0.1 GB/s on any machine
    assert set(first["flops"]) == {"float32", "float64"}
    assert all(f > 1e8 for f in first["flops"].values())

    assert load_cached_ceilings(1) == first
    if settled_ceilings(first):
        assert cpu_ceilings(threads=1) == first  # cached and final: not measured again
    else:  # measured under load (CI runs this beside a burner): measured again and cached
        again = cpu_ceilings(threads=1)
        assert again["measured"] >= first["measured"]
        assert load_cached_ceilings(1) == again
    assert json.loads(cache_path().read_text())  # a real file in the private cache
    again = cpu_ceilings(threads=1, refresh=True, quick=True)
    assert again["measured"] >= first["measured"]
    assert load_cached_ceilings(1) == again


@pytest.mark.slow
def test_ceilings_measured_beside_other_work_say_so() -> None:
    """Ceilings measured while another process burns a core come out low; they keep the
    CPU other processes took, and the warning says what to do."""
    import os
    import signal
    import subprocess
    import sys

    # The meter counts this process's descendants as its own work, so the burner must be
    # another process's: a shell starts it in the background and exits, leaving it orphaned.
    # It stops by itself after 120 s (a deadline should this test die first) and is killed
    # by its pid when the test ends.
    burn = "import time\nend = time.monotonic() + 120\nwhile time.monotonic() < end: pass"
    started = subprocess.run(
        ["sh", "-c", f'"{sys.executable}" -c "$0" >/dev/null 2>&1 & echo $!', burn],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    burner = int(started.stdout)
    try:
        ceilings = cpu_ceilings(threads=1, refresh=True, quick=True)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(burner, signal.SIGKILL)
    assert ceilings["other_cpu"] > 0.5
    warning = ceilings_warning(ceilings)
    assert warning is not None
    assert "perfkit calibrate" in warning
    assert ceilings_warning({**ceilings, "other_cpu": 0.01}) is None
    assert ceilings_warning({"bandwidth": [], "flops": {}}) is None  # cached before the meter

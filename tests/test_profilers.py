"""Each profiler's reading of its tool's output, the occupancy calculation, the registry and
the profile record: the parts that need no GPU, PMU or cluster to check."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from perfkit.model.errors import RecordError, UsageError
from perfkit.profiling.occupancy import DeviceLimits, theoretical_occupancy
from perfkit.profiling.profilers import get_profiler, profilers
from perfkit.profiling.profilers.counters import read_perf_stat
from perfkit.profiling.profilers.gpu import kernel_event, kernels_from_trace
from perfkit.profiling.profilers.instructions import read_callgrind
from perfkit.profiling.profilers.sample import speedscope
from perfkit.profiling.record import (
    PROFILE_SCHEMA,
    CaseProfile,
    Counter,
    ProfileRun,
    dump_profile_run,
    load_profile_run,
)
from perfkit.profiling.stacks import CallGraph, Stack, Stacks, unfold

H100 = DeviceLimits(max_threads=2048, registers=65536, shared_bytes=233472, max_blocks=32)


def test_every_profiler_of_the_issue_is_registered_once() -> None:
    names = set(profilers())
    assert names == {"sample", "python", "memory", "instructions", "counters", "torch", "gpu",
                     "spark"}  # fmt: skip
    for name, profiler in profilers().items():
        assert profiler.name == name
        assert profiler.doc


def test_an_unknown_profiler_is_a_usage_error_naming_the_choices() -> None:
    with pytest.raises(UsageError, match=r"unknown profiler 'flame'.*counters"):
        get_profiler("flame")


PERF_SOFTWARE = """\
# started on Tue Dec  1 18:42:31 2026

<not supported>,,cycles,0,100.00,,
<not supported>,,instructions,0,100.00,,
4058.96,msec,task-clock,4058962904,100.00,1.790,CPUs utilized
71,,context-switches,4058959219,100.00,17.492,/sec
0,,page-faults,4058953119,100.00,0.000,/sec
"""


def test_perf_stat_output_keeps_what_the_machine_could_not_count() -> None:
    counters = {c.name: c for c in read_perf_stat(PERF_SOFTWARE, calls=10)}
    assert counters["cycles"].value is None
    assert counters["cycles"].note == "<not supported>"
    assert counters["task-clock"].value == pytest.approx(4058.96)
    assert counters["task-clock"].unit == "msec"
    assert counters["context-switches"].per_call == pytest.approx(7.1)


def test_perf_stat_summary_says_software_without_a_pmu(tmp_path: Path) -> None:
    (tmp_path / "perf-stat.csv").write_text(PERF_SOFTWARE)
    summary = get_profiler("counters").summarize(tmp_path, calls=10)
    assert "software counters only" in summary.notes[0]
    hardware = PERF_SOFTWARE.replace("<not supported>,,cycles", "2000,,cycles").replace(
        "<not supported>,,instructions", "3000,,instructions:u"
    )
    (tmp_path / "perf-stat.csv").write_text(hardware)
    summary = get_profiler("counters").summarize(tmp_path, calls=10)
    assert "hardware counters" in summary.notes[0]
    ipc = next(c for c in summary.counters if c.name == "IPC")
    assert ipc.value == pytest.approx(1.5)


CALLGRIND = """\
# callgrind format
version: 1
creator: callgrind-3.19.0
positions: line
events: Ir
summary: 1000

ob=/usr/bin/python3
fl=???
fn=main
0 10
cfn=eval
calls=1 0
0 990

fn=eval
0 40
cfn=add_loop
calls=3 0
0 760
cfn=sub_loop
calls=3 0
0 190

ob=/lib/numpy.so
fn=add_loop
0 760

fn=sub_loop
0 190
totals: 1000
"""


def test_callgrind_graph_and_its_shares(tmp_path: Path) -> None:
    path = tmp_path / "callgrind.out.1"
    path.write_text(CALLGRIND)
    graph, total = read_callgrind(path)
    assert total == 1000
    assert graph.own == {"main": 10, "eval": 40, "add_loop": 760, "sub_loop": 190}
    summary = get_profiler("instructions").summarize(tmp_path, calls=4)
    assert summary.stacks is not None
    assert summary.stacks.total == pytest.approx(1000)
    assert summary.stacks.share("add_loop") == pytest.approx(0.76)
    assert summary.counters[0].per_call == pytest.approx(250)


def test_occupancy_is_bounded_by_the_scarcest_resource() -> None:
    full = theoretical_occupancy(256, 32, 0, H100)
    assert (full.blocks, full.fraction) == (8, 1.0)
    by_registers = theoretical_occupancy(256, 64, 0, H100)
    assert (by_registers.blocks, by_registers.fraction, by_registers.limit) == (
        4, 0.5, "registers",
    )  # fmt: skip
    by_shared = theoretical_occupancy(256, 32, 100 * 1024, H100)
    assert (by_shared.blocks, by_shared.limit) == (2, "shared memory")
    assert by_shared.fraction == pytest.approx(0.25)
    small = theoretical_occupancy(32, 16, 0, H100)
    assert (small.blocks, small.limit) == (32, "blocks")
    assert small.fraction == pytest.approx(0.5)
    with pytest.raises(ValueError, match="needs threads"):
        theoretical_occupancy(0, 32, 0, H100)


def test_kernels_from_a_chrome_trace() -> None:
    trace = {
        "traceEvents": [
            {"cat": "kernel", "name": "sgemm_tiled", "dur": 100.0,
             "args": {"grid": [64, 64, 1], "block": [16, 16, 1]}},
            {"cat": "kernel", "name": "sgemm_tiled", "dur": 120.0,
             "args": {"grid": [64, 64, 1], "block": [16, 16, 1]}},
            {"cat": "kernel", "name": "ampere_sgemm", "dur": 50.0, "args": {}},
            {"cat": "cpu_op", "name": "aten::mm", "dur": 999.0},
        ]
    }  # fmt: skip
    resources = {
        "device": dataclasses.asdict(H100),
        "kernels": {"sgemm_tiled": {"registers": 64, "shared_bytes": 8192}},
    }  # fmt: skip
    kernels = kernels_from_trace(trace, resources)
    assert [k.name for k in kernels] == ["sgemm_tiled", "ampere_sgemm"]
    tiled = kernels[0]
    assert tiled.launches == 2
    assert tiled.total_s == pytest.approx(220e-6)
    assert tiled.mean_s == pytest.approx(110e-6)
    assert (tiled.grid, tiled.block, tiled.registers) == ("64x64x1", "16x16x1", 64)
    assert tiled.occupancy == pytest.approx(0.5)
    assert kernels[1].occupancy is None  # a library kernel: its resources are unknown


KERNEL_RECORD = {
    "name": "sgemm_tiled", "start": 1_000, "end": 101_000, "grid_x": 64, "grid_y": 64,
    "grid_z": 1, "block_x": 16, "block_y": 16, "block_z": 1, "registers_per_thread": 64,
    "static_shared_memory": 8192, "dynamic_shared_memory": 1024,
}  # fmt: skip


def test_a_cupti_kernel_record_is_a_trace_event_with_its_own_resources() -> None:
    """cupti-python's kernel records carry registers and shared memory for every kernel
    (a library's too): with the device's limits known, each gets its occupancy."""
    event = kernel_event(SimpleNamespace(**KERNEL_RECORD))
    assert (event["cat"], event["dur"]) == ("kernel", 100.0)
    resources = {"device": dataclasses.asdict(H100)}
    (kernel,) = kernels_from_trace({"traceEvents": [event]}, resources)
    assert (kernel.grid, kernel.block, kernel.registers) == ("64x64x1", "16x16x1", 64)
    assert kernel.shared_bytes == 9216
    assert kernel.mean_s == pytest.approx(100e-6)
    assert kernel.occupancy == pytest.approx(0.5)  # 64 registers: 4 blocks of 256


def test_the_record_fields_read_are_those_of_cupti_python() -> None:
    bindings = pytest.importorskip("cupti.cupti", reason="cupti-python is not installed")
    newest = max(
        (n for n in dir(bindings) if n.startswith("ActivityKernel") and n[14:].isdigit()),
        key=lambda n: int(n[14:]),
    )
    record_class = getattr(bindings, newest)
    assert [f for f in KERNEL_RECORD if not hasattr(record_class, f)] == []


def test_speedscope_file_indexes_frames_and_weights_samples() -> None:
    stacks = Stacks("samples", (Stack(("a", "b"), 3.0), Stack(("a", "c"), 1.0)))
    data = speedscope(stacks, "t")
    frames = [f["name"] for f in data["shared"]["frames"]]
    assert frames == ["a", "b", "c"]
    profile = data["profiles"][0]
    assert profile["samples"] == [[0, 1], [0, 2]]
    assert profile["weights"] == [3.0, 1.0]
    assert profile["endValue"] == 4.0


@pytest.mark.usefixtures("loaded")
def test_memory_without_memray_states_tracemallocs_peak(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where memray cannot run, the memory profiler falls back on tracemalloc, which NumPy
    reports its buffers to: a 64 MiB array held inside the loop is the peak."""
    import numpy as np

    from perfkit.model import registry
    from perfkit.profiling.profilers import memory

    monkeypatch.setattr(memory, "_has_memray", lambda: False)
    case = registry.expand_cases(registry.get_workload("matmul"), ["numpy"], quick=True)[0]
    profiler = memory.MemoryProfiler()
    profiler.start(case, tmp_path)
    held = np.ones(64 * 2**20 // 8)
    del held
    profiler.stop()
    summary = profiler.summarize(tmp_path, calls=1)
    (peak,) = summary.counters
    assert peak.value == pytest.approx(64 * 2**20, rel=0.05)
    assert "tracemalloc" in summary.notes[0]
    assert summary.stacks is None


def _run() -> ProfileRun:
    stacks = unfold(CallGraph({"loop": 1.0, "f": 3.0}, {("loop", "f"): 3.0}), "loop", "seconds")
    profile = CaseProfile(
        "w/numpy:x[n=1]", "python", "ok", calls=10, seconds=1.0, per_call_s=0.1,
        baseline_s=0.08, stacks=stacks, counters=(Counter("task-clock", None, "msec"),),
    )  # fmt: skip
    return ProfileRun(PROFILE_SCHEMA, "r1", "now", ("perfkit", "profile"), 5.0, "cpu", None,
                      (profile,))  # fmt: skip


def test_profile_record_round_trips(tmp_path: Path) -> None:
    run = _run()
    back = load_profile_run(dump_profile_run(run, tmp_path / "profile.json"))
    assert back == run
    profile = back.profiles[0]
    assert profile.overhead == pytest.approx(1.25)
    assert back.of("w/numpy:x[n=1]", "python") is profile


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not valid JSON"),
        ('{"schema": 99}', "schema 99"),
        (json.dumps({"schema": PROFILE_SCHEMA, "run_id": 3}), "run_id"),
    ],
)
def test_a_bad_profile_record_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "profile.json"
    path.write_text(text)
    with pytest.raises(RecordError, match=message):
        load_profile_run(path)


def test_a_report_links_the_profile_pages_of_its_cases(tmp_path: Path) -> None:
    from perfkit.records.run_record import load_record
    from perfkit.report.html import write_report
    from perfkit.report.profile_page import profile_links

    record = load_record(Path(__file__).parent / "data" / "record_v5.json")
    case = record.results[0].case_id
    reports = tmp_path / "reports"
    for run_id, profiled in (("r1", case), ("r2", "other/numpy:x[n=1]")):
        run = _run()
        only = dataclasses.replace(run.profiles[0], case=profiled)
        run = dataclasses.replace(run, run_id=run_id, profiles=(only,))
        dump_profile_run(run, reports / "profiles" / run_id / "profile.json")
        (reports / "profiles" / run_id / "profile.html").write_text("<html></html>")
    (reports / "profiles" / "r3").mkdir()
    (reports / "profiles" / "r3" / "profile.json").write_text("{")  # unreadable: passed over
    links = profile_links(reports / "report.html", {case})
    assert links == [("profiles/r1/profile.html", f"r1: {case} (python)")]
    page = write_report([record], reports / "report.html").read_text()
    assert 'href="./profiles/r1/profile.html"' in page
    assert "profiles/r2" not in page

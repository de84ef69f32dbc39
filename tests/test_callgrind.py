"""Instruction-count mode: callgrind counts that repeat exactly, and a gate that uses them."""

from __future__ import annotations

import dataclasses

import pytest

from perfkit import MeasurePolicy
from perfkit.engine.callgrind import available, toggle_library
from perfkit.engine.runner import Side, run_sides
from perfkit.machine.capture import capture_environment
from perfkit.model import registry
from perfkit.records.run_record import RunRecord
from perfkit.verdict.gate import GatePolicy, run_gate
from tests.conftest import PLUGINS

pytestmark = pytest.mark.skipif(not available().ok, reason=available().reason)
SLOWDOWN = PLUGINS / "slowdown.py"
COUNTING = MeasurePolicy.quick(measure="instructions", processes=2, timeout=300.0)
# One BLAS thread, as instruction mode pins it.
ENV = dataclasses.replace(capture_environment(probe_backends=False), blas_threads=1)


def _record(name: str, outcome: object) -> RunRecord:
    return RunRecord(name, "now", "test", False, ENV, COUNTING, tuple(outcome.results))  # type: ignore[attr-defined]


def test_the_toggle_library_is_built_once_and_cached() -> None:
    first = toggle_library()
    assert first.is_file()
    assert toggle_library() == first


@pytest.mark.slow
def test_counts_repeat_across_processes_and_a_2_percent_slowdown_is_found() -> None:
    registry.load([SLOWDOWN])
    cases = registry.expand_cases(registry.get_workload("slowdown_probe"), quick=True)
    # Two sides of two valgrind workers each (a worker under callgrind starts in seconds):
    # the base's own processes show the counts repeat.
    sides = {"base": Side(), "cand": Side(env={"PERFKIT_SLOWDOWN": "1.02"})}
    out = run_sides(cases, COUNTING, sides, plugins=[str(SLOWDOWN)])
    records = {side: _record(side, outcome) for side, outcome in out.items()}
    (base,) = records["base"].results
    # The same code counted by other processes: the base's processes in the other order.
    runs = base.measurement.runs if base.measurement else ()
    swapped = dataclasses.replace(base.measurement, runs=tuple(reversed(runs)))
    records["same"] = dataclasses.replace(
        records["base"], results=(dataclasses.replace(base, measurement=swapped),)
    )
    assert base.status == "ok", base.reason
    per_process = [sorted(run.samples)[1] for run in base.measurement.runs]
    assert len(per_process) == 2
    assert per_process[0] == pytest.approx(per_process[1], rel=1e-3)  # deterministic
    assert base.metric("instructions/per_call") > 1000
    assert base.metric("time/median") is None  # no timing pretended
    policy = GatePolicy(threshold=0.01)
    assert [c.verdict for c in run_gate(records["base"], records["same"], policy).comparisons] == [
        "SAME"
    ]
    (slower,) = run_gate(records["base"], records["cand"], policy).comparisons
    assert slower.verdict == "SLOWER"
    assert slower.ratio == pytest.approx(1.02, abs=0.005)
    assert slower.unit == "instructions"


def test_time_and_instruction_records_are_not_compared() -> None:
    from perfkit.records.run_record import CaseResult, Measurement, SampleRun

    result = CaseResult(
        "w/b:v[n=1]",
        "w",
        "b",
        "v",
        {"n": 1},
        "ok",
        measurement=Measurement((SampleRun(0, 1, (1.0,) * 10, "converged"),), {}),
    )
    timed = RunRecord("t", "now", "test", False, ENV, MeasurePolicy(), (result,))
    counted = RunRecord("c", "now", "test", False, ENV, COUNTING, (result,))
    (comparison,) = run_gate(timed, counted, GatePolicy()).comparisons
    assert comparison.verdict == "INCOMPARABLE"
    assert "one record counts instructions, the other measures time" in comparison.reason


def test_allocator_cases_are_not_counted_since_their_work_is_a_child_process() -> None:
    registry.load([])
    cases = registry.expand_cases(
        registry.get_workload("alloc_churn"), ["glibc:default"], quick=True
    )
    (result,) = run_sides(cases, COUNTING, {"": Side()})[""].results
    assert result.status == "skipped"
    assert "child process" in result.reason

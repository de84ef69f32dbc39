"""scripts/allocator_table.py: ratios over rounds with their ranges, and a ranking that
only orders allocators whose ranges part."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from perfkit.records.run_record import CaseResult, Measurement, RunRecord, load_record

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "reports" / "baselines" / "allocators-2core-vm" / "round-1.json"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "allocator_table", ROOT / "scripts" / "allocator_table.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["allocator_table"] = module  # dataclasses looks the module up
    spec.loader.exec_module(module)
    return module


def _scaled(record: RunRecord, implementation: str, factor: float) -> RunRecord:
    """``record`` with ``implementation``'s throughput times ``factor`` in every case."""

    def scale(result: CaseResult) -> CaseResult:
        if result.implementation != implementation or result.measurement is None:
            return result
        metrics = dict(result.measurement.metrics)
        metrics["alloc/ops_per_s"] *= factor
        return dataclasses.replace(
            result, measurement=Measurement(result.measurement.runs, metrics)
        )

    return dataclasses.replace(record, results=tuple(scale(r) for r in record.results))


def _speed(record: RunRecord, workload: str, implementation: str) -> float:
    (result,) = [
        r for r in record.results
        if (r.workload, r.implementation, r.params["threads"]) == (workload, implementation, 1)
    ]  # fmt: skip
    value = result.metric("alloc/ops_per_s")
    assert value is not None
    return value


def test_a_ratio_is_the_median_of_the_rounds_with_its_range() -> None:
    script = _script()
    base = load_record(BASELINE)
    text = script.table(
        [base, _scaled(base, "pkmalloc:default", 1.2), _scaled(base, "pkmalloc:default", 0.9)]
    )
    # alloc_churn, 1 thread: pkmalloc's ratio to glibc in the baseline, 1.2 and 0.9 times it.
    row = next(line for line in text.splitlines() if line.startswith("| alloc_churn | 1 |"))
    ratio = _speed(base, "alloc_churn", "pkmalloc:default") / _speed(
        base, "alloc_churn", "glibc:default"
    )
    assert f"{ratio:.2f}x ({0.9 * ratio:.2f}-{1.2 * ratio:.2f})" in row
    assert "Rounds: 3." in text


def test_the_ranking_orders_only_allocators_whose_ranges_part() -> None:
    script = _script()
    base = load_record(BASELINE)
    # mimalloc's rounds sweep from 0.5x to 2x of its baseline speed: its range covers its
    # neighbours' on alloc_churn, so it is level with them there, not ranked.
    rounds = [_scaled(base, "mimalloc:default", f) for f in (0.5, 1.0, 2.0)]
    ranking = next(
        line
        for line in script.table(rounds).splitlines()
        if line.startswith("- alloc_churn, 1 thread:")
    )
    assert "~ mimalloc" in ranking or "mimalloc ~" in ranking
    steady = next(
        line
        for line in script.table([base, base]).splitlines()
        if line.startswith("- alloc_churn, 1 thread:")
    )
    assert "~" not in steady  # one value a round, the same in both: every range is a point


def test_a_pkmalloc_slower_than_glibc_is_named_as_a_missed_target() -> None:
    script = _script()
    base = load_record(BASELINE)
    text = script.table([_scaled(base, "pkmalloc:default", 0.5)])
    assert "pkmalloc targets missed: " in text
    ratio = _speed(base, "alloc_churn", "pkmalloc:default") / _speed(
        base, "alloc_churn", "glibc:default"
    )
    assert f"alloc_churn/1: {0.5 * ratio:.2f}x glibc's speed" in text
    assert "glibc's speed" not in script.table([base])  # as measured, no pattern slower


def _with(record: RunRecord, metric: str, value_of: dict[str, float]) -> RunRecord:
    """``record`` with ``metric`` set to ``value_of[implementation]`` in every case."""

    def add(result: CaseResult) -> CaseResult:
        if result.measurement is None or result.implementation not in value_of:
            return result
        metrics = {**result.measurement.metrics, metric: value_of[result.implementation]}
        return dataclasses.replace(
            result, measurement=Measurement(result.measurement.runs, metrics)
        )

    return dataclasses.replace(record, results=tuple(add(r) for r in record.results))


def test_the_probe_tables_give_each_allocators_own_median_and_range() -> None:
    script = _script()
    base = load_record(BASELINE)
    rounds = [
        _with(base, "lat/malloc_p999_ns", {"glibc:default": g, "pkmalloc:default": p})
        for g, p in ((900.0, 100.0), (1000.0, 120.0), (1500.0, 110.0))
    ]
    text = script.detail_table(rounds, "malloc p99.9", "lat/malloc_p999_ns", "{:.0f}")
    row = next(line for line in text.splitlines() if line.startswith("| alloc_churn | 1 |"))
    assert row.split(" | ")[2:4] == ["1000 (900-1500)", "-"]  # glibc, then arena_max_2
    assert row.split(" | ")[4] == "110 (100-120)"
    released = _with(base, "mem/rss_released", {"jemalloc:default": 3 * 2**20})
    assert "| 3.0 |" in script.detail_table([released], "t", "mem/rss_released", "MIB")
    assert script.detail_table([base], "t", "lat/free_p999_ns", "{:.0f}") == ""  # not measured

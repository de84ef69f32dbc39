"""Report figures: pure functions from records, every record string escaped."""

from __future__ import annotations

import json
from typing import Any

import pytest

from perfkit import load_record
from perfkit.model.workload import Work
from perfkit.records.run_record import CaseResult, Measurement, RunRecord, record_from_dict
from perfkit.report import figures, overview
from tests.conftest import DATA

EVIL = '<img src=x onerror="alert(1)">'


def fixture() -> RunRecord:
    return load_record(DATA / "record_v1.json")


def evil_record() -> RunRecord:
    """The fixture with markup in every string a page shows."""
    data: dict[str, Any] = json.loads((DATA / "record_v1.json").read_text())
    for result in data["results"]:
        result["variant"] = result["variant"] + EVIL
        result["case_id"] = result["case_id"] + EVIL
        result["reason"] = result["reason"] + EVIL
    data["command"] += EVIL
    data["environment"]["machine"]["cpu"] = EVIL
    return record_from_dict(data)


def test_time_bars_has_one_trace_per_implementation_sorted_fastest_first() -> None:
    record = fixture()
    figure = figures.time_bars(record.results, "faulty_probe", {})
    names = [trace.name for trace in figure.data]
    assert set(names) == {"python:good", "python:chatty"}
    medians = {
        r.implementation: r.metric("time/median")
        for r in record.results
        if r.workload == "faulty_probe" and r.status == "ok"
    }
    assert names == sorted(names, key=lambda n: medians[n])
    assert figure.layout.yaxis.type == "log"


def test_speedup_heatmap_is_relative_to_the_reference() -> None:
    record = fixture()
    figure = figures.speedup_heatmap(record.results, "faulty_probe")
    heat = figure.data[0]
    text = {name: list(row) for name, row in zip(heat.y, heat.text, strict=True)}
    assert text["python:good"] == ["1.00x"]
    chatty = next(r for r in record.results if r.variant == "chatty")
    good = next(r for r in record.results if r.variant == "good")
    expected = good.metric("time/median") / chatty.metric("time/median")
    assert text["python:chatty"] == [f"{expected:.2f}x"]


def test_throughput_lines_split_by_dtype_and_are_log_log() -> None:
    figure = figures.throughput_lines(fixture().results, "vector_add", {"numpy": "#123456"})
    assert {t.name for t in figure.data} == {
        "numpy:default dtype=float32",
        "numpy:default dtype=float64",
    }
    assert {t.line.color for t in figure.data} == {"#123456"}
    assert len({t.line.dash for t in figure.data}) == 2
    assert (figure.layout.xaxis.type, figure.layout.yaxis.type) == ("log", "log")


def test_roofline_draws_every_measured_ceiling() -> None:
    record = fixture()
    ceiling = record.environment.ceilings["cpu"]
    figure = overview.roofline(record.results, ceiling, {})
    lines = [t for t in figure.data if t.mode == "lines"]
    assert len(lines) == len(ceiling["bandwidth"]) + len(ceiling["flops"])
    points = [t for t in figure.data if t.mode == "markers+text"]
    assert sum(len(t.x) for t in points) == sum(
        1 for r in record.results if r.status == "ok" and r.work.flops
    )
    for trace in points:  # a trace an implementation, a point a case
        assert len(set(trace.text)) == len(trace.text), "each point names its own case"
    assert "vector_add 4096 float32" in [text for t in points for text in t.text]
    assert overview.roofline([], ceiling, {}) is None


def test_no_speedup_heat_map_when_the_reference_is_alone() -> None:
    record = fixture()
    assert figures.speedup_heatmap(record.results, "vector_add") is None  # numpy only
    assert figures.speedup_heatmap(record.results, "faulty_probe") is not None


def test_samples_metric_view_and_history() -> None:
    record = fixture()
    boxes = figures.sample_boxes(record.results, "vector_add", {})
    assert sum(len(t.y) for t in boxes.data) == sum(
        len(r.measurement.samples) for r in record.results if r.workload == "vector_add"
    )
    view = figures.metric_view(record.results, "vector_add", {})
    keys = [b.label for b in view.layout.updatemenus[0].buttons]
    assert keys[0] == "mem/peak_rss"
    assert "time/first_call" in keys
    assert "time/median" not in keys
    assert overview.history([record], "vector_add") is None
    later = record_from_dict(
        {**json.loads((DATA / "record_v1.json").read_text()), "created": "2099-01-01T00:00:00+0000"}
    )
    history = overview.history([later, record], "vector_add")
    assert len(history.data) == 2
    assert history.data[0].x[0].startswith(record.created[:16])


@pytest.mark.parametrize("workload", ["faulty_probe", "vector_add"])
def test_record_strings_reach_figures_escaped(workload: str) -> None:
    record = evil_record()
    produced = [
        figures.time_bars(record.results, workload, {}),
        figures.sample_boxes(record.results, workload, {}),
        figures.metric_view(record.results, workload, {}),
        overview.roofline(record.results, record.environment.ceilings["cpu"], {}),
    ]
    text = json.dumps([f.to_plotly_json() for f in produced if f is not None], default=str)
    assert "onerror" in text  # the names are there …
    assert "<img" not in text  # … but never as markup


def _gpu_result(backend: str, variant: str, n: int, median: float) -> CaseResult:
    return CaseResult(
        case_id=f"matmul/{backend}:{variant}[n={n}]",
        workload="matmul",
        backend=backend,
        variant=variant,
        params={"n": n, "dtype": "float32"},
        status="ok",
        reason="",
        reference=False,
        work=Work(flops=2 * n**3, bytes=12 * n * n, items=n * n, dtype="float32"),
        measurement=Measurement((), {"time/median": median}),
    )


def test_vendor_ladder_is_each_kernel_as_a_fraction_of_cublas_in_declared_order() -> None:
    results = [
        _gpu_result("cupy", "cublas", 4096, 0.002),
        _gpu_result("cupy_raw", "naive", 4096, 0.100),
        _gpu_result("cupy_raw", "warptiling", 4096, 0.0025),
        _gpu_result("numba_cuda", "register_blocked", 4096, 0.005),
        _gpu_result("numpy", "default", 1024, 0.05),  # no vendor result at n=1024: left out
    ]
    figure = figures.vendor_ladder(results, "matmul", {})
    assert figure is not None
    (bars,) = figure.data
    assert list(bars.y) == ["cupy_raw:naive", "cupy_raw:warptiling", "numba_cuda:register_blocked"]
    assert list(bars.x) == pytest.approx([0.02, 0.8, 0.4])
    assert list(bars.text) == ["2%", "80%", "40%"]
    assert figures.vendor_ladder(results[1:], "matmul", {}) is None


def _alloc_result(backend: str, threads: int, median: float, probe: bool = True) -> CaseResult:
    from perfkit.backends._allocator_probe import SERIES_POINTS, series_key

    metrics = {"time/median": median, "mem/peak_rss": 8e6, "mem/rss_end": 6e6}
    if probe:
        metrics |= {"lat/timer_ns": 18.0, "mem/rss_freed": 6e6, "mem/rss_released": 2e6 + threads}
        for call in ("malloc", "free"):
            metrics |= {
                f"lat/{call}_{q}_ns": v
                for q, v in zip(("p50", "p99", "p999", "max"), (25, 40, 900, 5e4), strict=True)
            }
        for i in range(SERIES_POINTS):
            metrics |= {series_key("rss", i): 1e6 * (1 + i), series_key("live", i): 5e5 * i}
    return CaseResult(
        case_id=f"same_size/{backend}:default[threads={threads}]",
        workload="same_size",
        backend=backend,
        variant="default",
        params={"threads": threads},
        status="ok",
        work=Work(items=1000),
        measurement=Measurement((), metrics),
    )


def test_allocator_figures_show_one_case_at_a_time_every_allocator_side_by_side() -> None:
    from perfkit.report import allocator_figures

    results = [
        _alloc_result(b, t, m) for b, m in (("glibc", 0.4), ("pkmalloc", 0.1)) for t in (1, 2)
    ]
    tails = allocator_figures.latency_tails(results, "same_size", {})
    assert tails is not None
    bars = [t for t in tails.data if t.type == "bar"]
    assert [t.name for t in bars] == ["pkmalloc:default", "glibc:default"] * 2  # fastest first
    assert list(bars[0].x) == [
        f"{c} {q}" for c in ("malloc", "free") for q in ("p50", "p99", "p99.9", "max")
    ]
    assert [t.visible for t in bars] == [True, True, False, False]
    (menu,) = tails.layout.updatemenus
    assert [b.label for b in menu.buttons] == ["threads=1", "threads=2"]
    assert menu.buttons[1].args[0]["visible"] == [
        False,
        False,
        True,
        True,
        True,
    ]  # the timer's line stays
    memory = allocator_figures.memory_over_time(results, "same_size", {})
    assert memory is not None
    assert len(memory.data) == 8  # RSS and live, two allocators, two cases
    assert memory.data[0].y[-1] == pytest.approx(41e6 / 2**20)
    returned = allocator_figures.memory_returned(results, "same_size", {})
    assert returned is not None
    assert list(returned.data[0].x) == ["peak", "everything freed", "after the release call"]
    keys = [
        b.label for b in figures.metric_view(results, "same_size", {}).layout.updatemenus[0].buttons
    ]
    assert not [k for k in keys if k.startswith(("lat/", "mem/rss_at/", "mem/live_at/"))]


def test_no_allocator_figures_for_a_run_without_the_probe() -> None:
    from perfkit.report import allocator_figures

    results = [_alloc_result("glibc", 1, 0.4, probe=False)]
    for draw in (
        allocator_figures.latency_tails,
        allocator_figures.memory_over_time,
        allocator_figures.memory_returned,
    ):
        assert draw(results, "same_size", {}) is None

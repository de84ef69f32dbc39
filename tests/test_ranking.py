"""The answer first: sizes ranked fastest first, "N x slower", noisy figures flagged, in
the terminal and in the report."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console

from perfkit.cli.console import answer_table, results_table
from perfkit.model.workload import Work
from perfkit.records.ranking import (
    UNLIKE_LEGEND,
    legends,
    noise_flags,
    rankings,
    size_labels,
    slower_text,
)
from perfkit.records.run_record import CaseResult, Measurement, SampleRun
from perfkit.report.cases import answer_table as report_answer_table
from perfkit.report.figures import port_colors


def _case(
    port: str,
    median: float | None,
    params: dict[str, Any],
    *,
    iqr: float = 0.0,
    runs: tuple[tuple[float, ...], ...] = ((1.0,) * 10,),
    status: str = "ok",
    unlike: str = "",
) -> CaseResult:
    backend, variant = port.split(":")
    sample_runs = tuple(SampleRun(i, 1, samples, "converged") for i, samples in enumerate(runs))
    metrics = {"time/median": median, "time/iqr": iqr}
    measurement = Measurement(sample_runs, metrics) if median else None
    pid = ",".join(f"{k}={v}" for k, v in params.items())
    return CaseResult(
        f"matmul/{port}[{pid}]", "matmul", backend, variant, params,
        status, "not here" if status != "ok" else "",  # type: ignore[arg-type]
        backend == "numpy", Work(flops=100.0, bytes=10.0), measurement, unlike=unlike,
    )  # fmt: skip


SQUARE = {"n": 256, "dtype": "float32", "shape": "square"}
SKINNY = {"n": 256, "dtype": "float32", "shape": "skinny_k"}


def _results() -> list[CaseResult]:
    return [
        _case("numpy:default", 2e-3, SQUARE),
        _case("numba_cpu:blocked", 8e-3, SQUARE),
        _case("numba_cpu:parallel", 1e-3, SQUARE, iqr=3e-4),
        _case("cupy:cublas", None, SQUARE, status="skipped"),
        _case("numpy:default", 5e-3, SKINNY),
        _case("spark_local:blockmatrix_256", 5.0, SKINNY, runs=((1.0, 1.0), (2.0,))),
    ]


def test_each_size_is_ranked_fastest_first_in_one_direction() -> None:
    square, skinny = rankings(_results())
    assert [r.result.implementation for r in square.ranked] == [
        "numba_cpu:parallel", "numpy:default", "numba_cpu:blocked"
    ]  # fmt: skip
    assert [round(r.slower, 6) for r in square.ranked] == [1.0, 2.0, 8.0]
    assert [r.status for r in square.unmeasured] == ["skipped"]
    assert skinny.fastest is not None
    assert skinny.fastest.result.backend == "numpy"
    assert skinny.ranked[1].slower == 1000.0
    assert [slower_text(r.slower) for r in skinny.ranked] == ["fastest", "1,000x slower"]
    assert slower_text(1.04) == "1.04x slower"


def test_sizes_are_labelled_by_the_parameters_that_differ() -> None:
    labels = size_labels(_results())
    assert set(labels.values()) == {"square", "skinny_k"}
    alone = size_labels([_case("numpy:default", 1e-3, SQUARE)])
    assert list(alone.values()) == ["n=256 float32 square"], "one size: every parameter"


def test_noisy_figures_say_why() -> None:
    square, skinny = rankings(_results())
    assert square.ranked[0].flags == ("IQR 30%",)
    assert square.ranked[1].flags == ()
    spark = skinny.ranked[1]
    assert "3 samples" in spark.flags
    assert any(flag.startswith("processes ") for flag in spark.flags)
    loaded = _case("numpy:default", 1e-3, SQUARE)
    assert loaded.measurement is not None
    metrics = {**loaded.measurement.metrics, "load/contended_repetitions": 1.0}
    loaded = _with_metrics(loaded, metrics)
    assert "under load" in noise_flags(loaded)


def _with_metrics(result: CaseResult, metrics: dict[str, float | None]) -> CaseResult:
    import dataclasses

    assert result.measurement is not None
    measurement = dataclasses.replace(result.measurement, metrics=metrics)
    return dataclasses.replace(result, measurement=measurement)


def _text(table: Any, width: int = 200) -> str:
    out = io.StringIO()
    Console(file=out, width=width).print(table)
    return out.getvalue()


def test_the_terminal_tables_show_the_answer_and_never_cut_a_port_name() -> None:
    text = _text(results_table(_results()), width=140)
    lines = [line for line in text.splitlines() if "numba_cpu:" in line or "numpy:" in line]
    assert "numba_cpu:parallel" in lines[0]
    assert "fastest" in lines[0]
    assert "8.00x slower" in text
    assert "spark_local:blockmatrix_256" in text, "ids wrap, never cut"
    assert "IQR 30%" in text
    assert "notes: IQR N%" in text, "the notes have their legend"
    answer = _text(answer_table(_results()))
    assert "numba_cpu:parallel" in answer.splitlines()[3]
    assert "numpy:default 2.00x slower" in answer


def test_every_port_of_a_backend_gets_its_own_colour() -> None:
    colors = port_colors(_results(), {"numba_cpu": "#e8a33d", "numpy": "#4d77cf"})
    blocked, parallel = colors["numba_cpu:blocked"], colors["numba_cpu:parallel"]
    assert blocked == "#e8a33d", "a backend's first port keeps its colour"
    assert parallel != blocked
    assert colors["numpy:default"] == "#4d77cf"
    ports = [r.implementation for r in _results()]
    assert len({colors[p] for p in ports}) == len(set(ports))


def _with_bfloat16() -> list[CaseResult]:
    return [
        _case("numpy:default", 2e-3, SQUARE),
        _case("torch_eager:bf16", 5e-4, SQUARE, unlike="computes in bfloat16"),
        _case("numba_cpu:blocked", 8e-3, SQUARE),
    ]


def test_a_case_that_is_not_like_for_like_is_never_named_the_fastest() -> None:
    (size,) = rankings(_with_bfloat16())
    assert [r.result.implementation for r in size.ranked] == [
        "torch_eager:bf16", "numpy:default", "numba_cpu:blocked"
    ], "ranked by its time"  # fmt: skip
    assert size.fastest is not None
    assert size.fastest.result.implementation == "numpy:default"
    assert [r.result.implementation for r in size.others] == [
        "numba_cpu:blocked", "torch_eager:bf16"
    ], "like for like first"  # fmt: skip
    bf16 = size.ranked[0]
    assert round(bf16.slower, 6) == 0.25, "measured against the like-for-like fastest"
    assert slower_text(bf16.slower) == "4.00x faster"
    assert "not like for like: computes in bfloat16" in bf16.flags
    answer = _text(answer_table(_with_bfloat16()), width=160)
    row = next(line for line in answer.splitlines() if "256" in line)
    assert row.index("numpy:default") < row.index("torch_eager:bf16")
    assert "torch_eager:bf16 4.00x faster (not like for like)" in answer
    report = report_answer_table(_fake_record(_with_bfloat16()))
    assert "<strong>numpy:default</strong>" in report
    assert "not like for like: computes in bfloat16" in report
    assert legends(rankings(_with_bfloat16())) == [UNLIKE_LEGEND], "no noise, no noise legend"


def test_a_size_with_only_unlike_cases_still_has_an_answer() -> None:
    (size,) = rankings([_case("torch_eager:bf16", 5e-4, SQUARE, unlike="computes in bfloat16")])
    assert size.fastest is not None
    assert size.fastest.slower == 1.0


def _fake_record(results: list[CaseResult]) -> Any:
    from types import SimpleNamespace

    return SimpleNamespace(results=tuple(results))

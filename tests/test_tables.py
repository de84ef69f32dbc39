"""The terminal table: units, speedups against the reference, escaping."""

from __future__ import annotations

import dataclasses
import io

import pytest
from rich.console import Console

from perfkit.cli.console import results_table
from perfkit.model.workload import Work
from perfkit.records.format import format_seconds, speedups
from perfkit.records.run_record import CaseResult, Measurement


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(2.5, "2.5 s"), (0.0123, "12.3 ms"), (4.56e-6, "4.56 µs"), (7e-9, "7 ns"), (None, "-")],
)
def test_format_seconds(seconds: float | None, text: str) -> None:
    assert format_seconds(seconds) == text


def _result(
    backend: str,
    median: float | None,
    *,
    status: str = "ok",
    reference: bool = False,
    reason: str = "",
    n: int = 1,
) -> CaseResult:
    measurement = Measurement((), {"time/median": median, "time/iqr": 0.0}) if median else None
    return CaseResult(
        f"w/{backend}:v[n={n}]",
        "w",
        backend,
        "v",
        {"n": n},
        status,  # type: ignore[arg-type]
        reason,
        reference,
        Work(flops=10.0, bytes=1.0),
        measurement,
    )


def test_speedups_are_against_the_reference_with_the_same_params() -> None:
    results = [
        _result("numpy", 2.0, reference=True),
        _result("fast", 0.5),
        _result("other_size", 1.0, n=2),
        _result("broken", None, status="failed"),
    ]
    assert speedups(results) == {"w/numpy:v[n=1]": 1.0, "w/fast:v[n=1]": 4.0}


def test_table_escapes_markup_and_shows_reasons() -> None:
    results = [
        _result("numpy", 2.0, reference=True),
        _result("evil", None, status="invalid", reason="[bold]x[/bold] " + "y" * 80),
    ]
    console = Console(file=io.StringIO(), width=200)
    console.print(results_table(results))
    text = console.file.getvalue()
    assert "[bold]x[/bold]" in text  # shown as text, not interpreted
    assert "…" in text  # long reasons are cut in the table
    assert "4.00x" not in text
    assert "1.00x" in text


def test_a_backend_skipped_throughout_for_one_reason_takes_one_row() -> None:
    results = [
        _result("numpy", 2.0, reference=True),
        *[_result("cupy", None, status="skipped", reason="no CUDA device", n=n) for n in (1, 2, 3)],
        _result("numba", None, status="skipped", reason="float64 unsupported", n=1),
        _result("numba", 1.0, n=2),
    ]
    console = Console(file=io.StringIO(), width=200)
    console.print(results_table(results))
    lines = console.file.getvalue().splitlines()
    cupy = [line for line in lines if "cupy" in line]
    assert len(cupy) == 1
    assert "3 cases" in cupy[0]
    assert "no CUDA device" in cupy[0]  # short enough to show whole
    # A backend that ran some of its cases keeps a row a case.
    assert sum("numba" in line for line in lines) == 2


def test_a_case_above_its_roof_is_marked_and_explained() -> None:
    above = _result("numpy", 2.0, reference=True)
    metrics = {**above.measurement.metrics, "roof/fraction": 1.32}  # type: ignore[union-attr]
    above = dataclasses.replace(above, measurement=Measurement((), metrics))
    below = _result("numpy", 1.0, reference=True, n=2)
    metrics = {**below.measurement.metrics, "roof/fraction": 0.5}  # type: ignore[union-attr]
    below = dataclasses.replace(below, measurement=Measurement((), metrics))
    console = Console(file=io.StringIO(), width=200)
    console.print(results_table([above, below]))
    text = console.file.getvalue()
    assert "132%*" in text
    assert "50%" in text
    assert "50%*" not in text
    assert "above 100% of roof" in text
    console = Console(file=io.StringIO(), width=200)
    console.print(results_table([below]))
    assert "above 100% of roof" not in console.file.getvalue()


def test_a_ratio_far_below_one_keeps_two_significant_digits() -> None:
    from perfkit.records.format import ratio_text

    assert ratio_text(1.4249) == "1.42x"
    assert ratio_text(0.5) == "0.50x"
    assert ratio_text(0.000132) == "0.00013x"  # Spark against NumPy on a small vector

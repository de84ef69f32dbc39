"""The gate's verdicts on synthetic records whose truth is known, its outputs, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from perfkit import UsageError
from perfkit.gate import GatePolicy, parse_thresholds, run_gate
from perfkit.record import CaseResult, Measurement, RunRecord, SampleRun, dump_record
from tests.conftest import perfkit

ENV = {
    "machine": {"cpu": "Test CPU", "cores_logical": 2},
    "blas_threads": 2,
    "python": {"version": "3.11.7"},
    "libraries": {"numpy": "2.4.6"},
}


def _result(
    case: str, samples: np.ndarray | None, status: str = "ok", workload: str = "w"
) -> CaseResult:
    measurement = None
    if samples is not None:
        measurement = Measurement(
            (SampleRun(0, 1, tuple(float(s) for s in samples), "converged"),), {}
        )
    return CaseResult(
        f"{workload}/b:v[{case}]",
        workload,
        "b",
        "v",
        {"case": case},
        status,
        "wrong" if status == "invalid" else "",
        False,
        {},
        measurement,
    )  # type: ignore[arg-type]


def _record(run_id: str, results: list[CaseResult], env: dict | None = None) -> RunRecord:
    return RunRecord(
        run_id, "2026-01-01T00:00:00+0000", "test", False, env or ENV, {}, tuple(results)
    )


def _noise(rng: np.random.Generator, scale: float = 1.0, n: int = 60) -> np.ndarray:
    return scale * (1e-3 + rng.exponential(2e-5, size=n))  # a floor and a right tail


def _verdicts(report) -> dict[str, str]:
    return {c.case_id.split("[")[1].rstrip("]"): c.verdict for c in report.comparisons}


def test_clear_regression_and_improvement_are_found() -> None:
    rng = np.random.default_rng(0)
    base = _record(
        "a",
        [_result("slow", _noise(rng)), _result("fast", _noise(rng)), _result("same", _noise(rng))],
    )
    cand = _record(
        "b",
        [
            _result("slow", _noise(rng, 1.2)),
            _result("fast", _noise(rng, 0.8)),
            _result("same", _noise(rng)),
        ],
    )
    report = run_gate(base, cand, GatePolicy())
    assert _verdicts(report) == {"slow": "SLOWER", "fast": "FASTER", "same": "SAME"}
    assert report.exit_code == 1
    slow = next(c for c in report.comparisons if c.verdict == "SLOWER")
    assert slow.ratio == pytest.approx(1.2, rel=0.02)
    assert slow.ratio_low < slow.ratio < slow.ratio_high


def test_noise_alone_flags_nothing_across_many_cases() -> None:
    rng = np.random.default_rng(1)
    names = [f"c{i}" for i in range(40)]
    base = _record("a", [_result(n, _noise(rng)) for n in names])
    cand = _record("b", [_result(n, _noise(rng)) for n in names])
    report = run_gate(base, cand, GatePolicy(threshold=0.001))  # any size counts
    assert set(_verdicts(report).values()) <= {"SAME", "AMBIGUOUS"}
    assert report.exit_code == 0


def test_a_slowdown_past_the_threshold_without_significance_is_ambiguous() -> None:
    base = _record("a", [_result("x", np.array([1.0, 2.0, 1.0, 2.0, 1.5]))])
    cand = _record("b", [_result("x", np.array([1.2, 2.4, 1.1, 2.2, 1.8]))])
    report = run_gate(base, cand, GatePolicy())
    assert _verdicts(report) == {"x": "AMBIGUOUS"}
    assert report.exit_code == 0
    assert run_gate(base, cand, GatePolicy(fail_on_ambiguous=True)).exit_code == 1


def test_unknowns_missing_cases_too_few_samples_and_failures() -> None:
    rng = np.random.default_rng(2)
    base = _record(
        "a",
        [
            _result("gone", _noise(rng)),
            _result("few", _noise(rng)),
            _result("crashed", _noise(rng)),
        ],
    )
    cand = _record(
        "b",
        [
            _result("new", _noise(rng)),
            _result("few", _noise(rng, n=3)),
            _result("crashed", None, status="failed"),
        ],
    )
    report = run_gate(base, cand, GatePolicy())
    assert set(_verdicts(report).values()) == {"UNKNOWN"}
    reasons = {c.case_id: c.reason for c in report.comparisons}
    assert reasons["w/b:v[gone]"] == "missing from the candidate"
    assert reasons["w/b:v[new]"] == "missing from the baseline"
    assert reasons["w/b:v[few]"] == "3 samples in the candidate, fewer than 5"
    assert reasons["w/b:v[crashed]"].startswith("failed in the candidate")
    assert report.exit_code == 0
    assert run_gate(base, cand, GatePolicy(fail_on_unknown=True)).exit_code == 1


def test_different_environments_are_not_compared() -> None:
    rng = np.random.default_rng(3)
    other = {**ENV, "machine": {"cpu": "Other CPU", "cores_logical": 2}}
    base = _record("a", [_result("x", _noise(rng))])
    cand = _record("b", [_result("x", _noise(rng, 2.0))], other)
    (comparison,) = run_gate(base, cand, GatePolicy()).comparisons
    assert comparison.verdict == "UNKNOWN"
    assert "machine.cpu: 'Test CPU' != 'Other CPU'" in comparison.reason
    patch = {**ENV, "libraries": {"numpy": "2.4.7"}}  # same major version: comparable
    cand = _record("b", [_result("x", _noise(rng))], patch)
    assert run_gate(base, cand, GatePolicy()).comparisons[0].verdict == "SAME"


def test_wrong_answers_fail_the_gate() -> None:
    rng = np.random.default_rng(4)
    base = _record("a", [_result("x", _noise(rng))])
    cand = _record("b", [_result("x", None, status="invalid")])
    report = run_gate(base, cand, GatePolicy())
    assert _verdicts(report) == {"x": "INVALID"}
    assert report.exit_code == 1


def test_per_workload_thresholds() -> None:
    rng = np.random.default_rng(5)
    base = _record(
        "a",
        [
            _result("x", _noise(rng), workload="matmul"),
            _result("x", _noise(rng), workload="softmax"),
        ],
    )
    cand = _record(
        "b",
        [
            _result("x", _noise(rng, 1.1), workload="matmul"),
            _result("x", _noise(rng, 1.1), workload="softmax"),
        ],
    )
    default, per = parse_thresholds(["5%", "matmul=15%"])
    report = run_gate(base, cand, GatePolicy(threshold=default, per_workload=per))
    assert {c.workload: c.verdict for c in report.comparisons} == {
        "matmul": "SAME",
        "softmax": "SLOWER",
    }


@pytest.mark.parametrize("bad", ["fast", "0%", "-5%", "matmul=", "2000%"])
def test_bad_thresholds(bad: str) -> None:
    with pytest.raises(UsageError):
        parse_thresholds([bad])


def test_markdown_escapes_record_strings() -> None:
    rng = np.random.default_rng(6)
    evil = "x](https://evil.example)<img src=x>|"
    base = _record("a", [_result(evil, _noise(rng))])
    cand = _record("b", [_result(evil, _noise(rng, 1.5))])
    text = run_gate(base, cand, GatePolicy()).markdown()
    assert "](https://evil" not in text
    assert "<img" not in text
    assert "&lt;img" in text
    row = next(line for line in text.splitlines() if line.startswith("| SLOWER"))
    assert row.count(" | ") == 5  # the | in the name did not add a column


def test_gate_command_exit_codes_and_outputs(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    dump_record(_record("a", [_result("x", _noise(rng))]), tmp_path / "a.json")
    dump_record(_record("b", [_result("x", _noise(rng, 1.3))]), tmp_path / "b.json")
    dump_record(_record("c", [_result("x", _noise(rng))]), tmp_path / "c.json")
    slower = perfkit(
        "gate", "a.json", "b.json", "--markdown", "pr.md", "--json", "g.json", cwd=tmp_path
    )
    assert slower.returncode == 1, slower.stderr
    assert "SLOWER" in slower.stdout
    assert (tmp_path / "pr.md").read_text().startswith("### perfkit gate: FAIL")
    assert json.loads((tmp_path / "g.json").read_text())["passed"] is False
    same = perfkit("gate", "a.json", "c.json", cwd=tmp_path)
    assert same.returncode == 0, same.stdout
    for args, message in [
        (["a.json", "nope.json"], "no such record file"),
        (["a.json", "c.json", "--threshold", "lots"], "not a number"),
        (["a.json", "c.json", "--alpha", "2"], "--alpha must lie in"),
    ]:
        done = perfkit("gate", *args, cwd=tmp_path)
        assert done.returncode == 2
        assert message in done.stderr


def _runs(case: str, *processes: np.ndarray) -> CaseResult:
    runs = tuple(
        SampleRun(i, 1, tuple(float(s) for s in samples), "converged")
        for i, samples in enumerate(processes)
    )
    return CaseResult(
        f"w/b:v[{case}]", "w", "b", "v", {"case": case}, "ok", "", False, {}, Measurement(runs, {})
    )


def test_one_unlucky_process_is_not_a_regression_but_a_consistent_one_is() -> None:
    rng = np.random.default_rng(8)
    # The baseline drew one slow process (memory placement); the candidate drew two.
    base = _record(
        "a",
        [_runs("luck", _noise(rng), _noise(rng, 1.15)), _runs("real", _noise(rng), _noise(rng))],
    )
    cand = _record(
        "b",
        [
            _runs("luck", _noise(rng, 1.15), _noise(rng, 1.15)),
            _runs("real", _noise(rng, 1.2), _noise(rng, 1.2)),
        ],
    )
    report = run_gate(base, cand, GatePolicy())
    assert _verdicts(report) == {"luck": "AMBIGUOUS", "real": "SLOWER"}

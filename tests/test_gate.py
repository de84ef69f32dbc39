"""The gate's verdicts on synthetic records whose truth is known, its outputs, exit codes."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from perfkit import MeasurePolicy, UsageError
from perfkit.records.environment import BackendInfo, Environment, Gpu, Machine, PythonInfo
from perfkit.records.run_record import CaseResult, Measurement, RunRecord, SampleRun, dump_record
from perfkit.verdict.gate import GatePolicy, parse_fail_on, parse_thresholds, run_gate
from tests.conftest import perfkit

ENV = Environment(
    machine=Machine(cpu="Test CPU", cores_logical=2),
    blas_threads=2,
    python=PythonInfo("3.11.7"),
    libraries={"numpy": "2.4.6"},
)

Runs = Sequence[np.ndarray]


def _result(
    case: str,
    runs: Runs | None,
    *,
    status: str = "ok",
    workload: str = "w",
    backend: str = "b",
    version: int = 1,
    contended: Sequence[int] = (),
) -> CaseResult:
    measurement = None
    if runs is not None:
        measurement = Measurement(
            tuple(
                SampleRun(i, 1, tuple(float(s) for s in samples), "converged", None, i in contended)
                for i, samples in enumerate(runs)
            ),
            {},
        )
    return CaseResult(
        f"{workload}/{backend}:v[{case}]",
        workload,
        backend,
        "v",
        {"case": case},
        status,  # type: ignore[arg-type]
        "wrong" if status == "invalid" else ("crashed" if status == "failed" else ""),
        measurement=measurement,
        version=version,
    )


def _record(run_id: str, results: list[CaseResult], env: Environment = ENV) -> RunRecord:
    return RunRecord(
        run_id, "2026-01-01T00:00:00+0000", "test", False, env, MeasurePolicy(), tuple(results)
    )


def _reps(
    rng: np.random.Generator,
    scale: float = 1.0,
    *,
    k: int = 8,
    n: int = 20,
    process_spread: float = 0.0,
    states: Sequence[float] = (1.0,),
) -> list[np.ndarray]:
    """``k`` repetitions of ``n`` samples: a floor and a right tail, each repetition moved
    by its own process effect (lognormal ``process_spread``, times one of ``states``, the
    discrete placements a process can land in)."""
    out = []
    for _ in range(k):
        effect = float(rng.lognormal(0, process_spread)) * float(rng.choice(states))
        out.append(scale * effect * (1e-3 + rng.exponential(2e-5, size=n)))
    return out


def _verdicts(report) -> dict[str, str]:
    return {c.case_id.split("[")[1].rstrip("]"): c.verdict for c in report.comparisons}


def test_clear_regression_and_improvement_are_found() -> None:
    rng = np.random.default_rng(0)
    base = _record("a", [_result(x, _reps(rng)) for x in ("slow", "fast", "same")])
    cand = _record(
        "b",
        [
            _result("slow", _reps(rng, 1.2)),
            _result("fast", _reps(rng, 0.8)),
            _result("same", _reps(rng)),
        ],
    )
    report = run_gate(base, cand, GatePolicy())
    assert _verdicts(report) == {"slow": "SLOWER", "fast": "FASTER", "same": "SAME"}
    assert report.exit_code == 1
    slow = next(c for c in report.comparisons if c.verdict == "SLOWER")
    assert slow.ratio == pytest.approx(1.2, rel=0.02)
    assert 1 < slow.ratio_low < slow.ratio < slow.ratio_high
    assert (slow.pairs, slow.test) == (8, "paired")


def test_process_luck_is_not_a_verdict_across_many_a_a_cases() -> None:
    """Processes land in one of two placements 15% apart. With a few samples a process,
    tests over samples (pooled, or per repetition pair) call the sides different whenever
    chance puts them in different placements; the test over repetition pairs does not."""
    rng = np.random.default_rng(1)
    names = [f"c{i}" for i in range(60)]
    states = (1.0, 1.15)
    base = _record("a", [_result(n, _reps(rng, states=states, process_spread=0.01)) for n in names])
    cand = _record("b", [_result(n, _reps(rng, states=states, process_spread=0.01)) for n in names])
    report = run_gate(base, cand, GatePolicy())
    verdicts = set(_verdicts(report).values())
    assert verdicts <= {"SAME", "AMBIGUOUS", "UNDERPOWERED"}, verdicts
    # A case whose pairs put its ratio past the threshold is not cleared: it fails, as a
    # regression the evidence cannot rule out, and says so; no other case fails.
    for c in report.comparisons:
        assert report.fails(c) == c.crosses
        assert ("not cleared" in c.reason) == c.crosses


def _slowed_pairs(slow: int, rest: float):
    """One case of eight repetition pairs: the first ``slow`` at 1.5x, the rest at ``rest``
    times the baseline; the gate's report on it."""
    base_runs = _reps(np.random.default_rng(14), k=8)
    cand_runs = [run * (1.5 if i < slow else rest) for i, run in enumerate(base_runs)]
    base, cand = _result("x", base_runs), _result("x", cand_runs)
    return run_gate(_record("a", [base]), _record("b", [cand]), GatePolicy())


def test_the_1_5x_regression_the_sign_test_left_ambiguous_is_slower() -> None:
    """Eight pairs, six at 1.5x and two at 0.95x: the sign test's p was 0.29 and the gate
    passed it. The trimmed t over the pairs finds it."""
    report = _slowed_pairs(slow=6, rest=0.95)
    (c,) = report.comparisons
    assert (c.verdict, c.test) == ("SLOWER", "paired"), c
    assert c.p_value is not None
    assert c.p_value < 0.05
    assert report.exit_code == 1


def test_a_regression_past_the_threshold_fails_unless_cleared() -> None:
    """Five pairs at 1.5x and three at 0.9x: not significant (no SLOWER), but a ratio past
    the threshold that an interval reaching below 1 cannot clear: it fails all the same,
    and says why."""
    report = _slowed_pairs(slow=5, rest=0.9)
    (c,) = report.comparisons
    assert c.verdict in ("AMBIGUOUS", "UNDERPOWERED"), c
    assert c.p_value is not None
    assert c.p_value > 0.05
    assert c.ratio is not None
    assert c.ratio > 1.05
    assert c.ratio_low is not None
    assert c.ratio_low < 1
    assert c.uncleared
    assert "not cleared" in c.reason
    assert report.fails(c)
    assert report.exit_code == 1
    assert report.summary().startswith("FAIL (1 failing")


def test_a_3x_regression_with_one_process_a_side_fails_by_the_spread_test() -> None:
    """One process a side, so no pairs for the paired test: the spread test decides, with a
    prior process spread, and a 3x change stands far outside it."""
    base = _record("a", [_result("x", [np.array([1.0, 1.1, 1.05])])])
    cand = _record("b", [_result("x", [np.array([3.0, 3.3, 3.1])])])
    report = run_gate(base, cand, GatePolicy())
    (c,) = report.comparisons
    assert (c.verdict, c.test) == ("SLOWER", "spread"), c
    assert c.ratio_low > 1.05
    assert report.exit_code == 1
    assert "spread test, 1 and 1 processes" in c.test_words()
    # 10% with one process a side is inside what one process's luck can do: it passes,
    # saying what the evidence could see.
    mild = _record("b", [_result("x", [np.array([1.1, 1.21, 1.155])])])
    report = run_gate(base, mild, GatePolicy())
    (c,) = report.comparisons
    assert c.verdict == "UNDERPOWERED", c
    assert c.detectable is not None
    assert c.detectable > 0.1
    assert f"sees only changes of {c.detectable:.0%}" in c.reason
    assert report.exit_code == 0


def test_two_plain_records_of_identical_code_rarely_fail() -> None:
    """Two processes a side, processes 1%-20% apart (lognormal), 200 cases of identical
    code: the spread test fails at most 1% of them, while a 3x slowdown among them (in a
    case whose processes are 3% apart) is found."""
    rng = np.random.default_rng(15)
    names = [f"c{i}" for i in range(200)]
    spreads = rng.choice([0.01, 0.03, 0.1, 0.2], size=len(names))
    spreads[0] = 0.03
    base = _record("a", [
        _result(n, _reps(rng, k=2, process_spread=s)) for n, s in zip(names, spreads, strict=True)
    ])  # fmt: skip
    cand = _record("b", [
        _result(n, _reps(rng, 3.0 if n == "c0" else 1.0, k=2, process_spread=s))
        for n, s in zip(names, spreads, strict=True)
    ])  # fmt: skip
    report = run_gate(base, cand, GatePolicy())
    failing = [c.case_id for c in report.failing]
    assert "w/b:v[c0]" in failing
    assert len(failing) - 1 <= 0.01 * len(names), failing
    assert all(c.test == "spread" for c in report.comparisons)


def test_broken_and_missing_candidates_fail_the_gate() -> None:
    rng = np.random.default_rng(3)
    names = ("crashed", "gone", "skipped", "invalid", "new")
    base = _record("a", [_result(n, _reps(rng)) for n in names if n != "new"])
    cand = _record(
        "b",
        [
            _result("crashed", None, status="failed"),
            _result("skipped", None, status="skipped"),
            _result("invalid", None, status="invalid"),
            _result("new", _reps(rng)),
        ],
    )
    report = run_gate(base, cand, GatePolicy())
    assert _verdicts(report) == {
        "crashed": "BROKEN",
        "gone": "MISSING",
        "skipped": "MISSING",
        "invalid": "INVALID",
        "new": "UNKNOWN",
    }
    assert report.exit_code == 1
    assert {c.case_id.split("[")[1][:-1] for c in report.failing} == set(names) - {"new"}
    # A case removed on purpose is allowed by name; a crash never is.
    allowed = GatePolicy(allow_missing=("w/b:v[gone]", "w/b:v[skip*"))
    still = {c.case_id.split("[")[1][:-1] for c in run_gate(base, cand, allowed).failing}
    assert still == {"crashed", "invalid"}


def test_skipped_on_both_sides_is_unknown_and_passes() -> None:
    base = _record("a", [_result("gpu", None, status="skipped")])
    cand = _record("b", [_result("gpu", None, status="skipped")])
    report = run_gate(base, cand, GatePolicy())
    assert _verdicts(report) == {"gpu": "UNKNOWN"}
    assert report.exit_code == 0


def test_cases_skipped_on_both_sides_are_one_line_and_case_ids_are_never_cut() -> None:
    import io

    from rich.console import Console

    rng = np.random.default_rng(13)
    skipped = [
        dataclasses.replace(
            _result(f"n={n}", None, status="skipped", backend="cupy"), reason="no CUDA device"
        )
        for n in range(3)
    ]
    names = [f"n=1048576,shape=skinny_k,dtype={d}" for d in ("float32", "float64")]
    base = _record("a", [*skipped, *(_result(n, _reps(rng)) for n in names)])
    cand = _record("b", [*skipped, *(_result(n, _reps(rng)) for n in names)])
    report = run_gate(base, cand, GatePolicy())
    assert report.exit_code == 0
    line = "3 cases skipped on both sides, not compared (cupy): no CUDA device"
    console = Console(file=io.StringIO(), width=70, record=True)
    console.print(report.table())
    text = console.export_text()
    assert "…" not in text, "nothing in the table is cut short"
    assert line in " ".join(text.split())
    assert "n=0" not in text, "the skipped cases have no rows"
    cells = "".join(row.split("│")[2].strip() for row in text.splitlines() if "│" in row)
    for name in names:
        assert f"w/b:v[{name}]" in cells, "each case id whole, folded over lines"
    markdown = report.markdown()
    assert f"> {line}" in markdown.replace("\\", "")
    assert "n\\=0" not in markdown


def test_same_needs_the_interval_inside_the_band() -> None:
    """Equal medians, but processes 10% apart: not shown to be the same."""
    rng = np.random.default_rng(4)
    base = _record("a", [_result("x", _reps(rng, process_spread=0.1))])
    cand = _record("b", [_result("x", _reps(rng, process_spread=0.1))])
    (c,) = run_gate(base, cand, GatePolicy()).comparisons
    assert c.verdict in ("AMBIGUOUS", "UNDERPOWERED"), c
    assert c.ratio_low < 1 / 1.05 or c.ratio_high > 1.05
    tight = _record("b", [_result("x", _reps(rng))])
    snug = _record("a", [_result("x", _reps(rng))])
    (c,) = run_gate(snug, tight, GatePolicy()).comparisons
    assert c.verdict == "SAME"
    assert 1 / 1.05 <= c.ratio_low <= c.ratio_high <= 1.05


def test_a_zero_median_is_never_same() -> None:
    base = _record("a", [_result("x", [np.zeros(5)] * 8)])
    cand = _record("b", [_result("x", [np.ones(5)] * 8)])
    (c,) = run_gate(base, cand, GatePolicy()).comparisons
    assert c.verdict == "UNKNOWN"
    assert "median is 0" in c.reason


def test_the_interval_agrees_with_the_verdict() -> None:
    """Every SLOWER interval lies above 1 and every FASTER one below; pooling samples of
    processes that differ made the old bootstrap interval far too narrow."""
    rng = np.random.default_rng(5)
    cases = [f"c{i}" for i in range(30)]
    scales = rng.choice([0.8, 1.0, 1.1, 1.25], size=len(cases))
    base = _record("a", [_result(n, _reps(rng, process_spread=0.03)) for n in cases])
    cand = _record(
        "b",
        [
            _result(n, _reps(rng, s, process_spread=0.03))
            for n, s in zip(cases, scales, strict=True)
        ],
    )
    report = run_gate(base, cand, GatePolicy())
    for c in report.comparisons:
        if c.verdict == "SLOWER":
            assert c.ratio_low > 1
        if c.verdict == "FASTER":
            assert c.ratio_high < 1
        if c.verdict == "SAME":
            assert c.ratio_low >= 1 / 1.05
            assert c.ratio_high <= 1.05
    assert {"SLOWER", "FASTER"} <= set(_verdicts(report).values())


def test_fail_on_names_the_conditions() -> None:
    assert parse_fail_on(["slower,broken", "missing"]) == ("slower", "broken", "missing")
    assert "ambiguous" in parse_fail_on(["all"])
    with pytest.raises(UsageError, match="unknown condition 'slowr'"):
        parse_fail_on(["slowr"])
    assert "undecided" in parse_fail_on(["all"])
    rng = np.random.default_rng(0)
    base = _record("a", [_result("x", _reps(rng, k=12, process_spread=0.03))])
    cand = _record("b", [_result("x", _reps(rng, 1.02, k=12, process_spread=0.03))])
    (c,) = run_gate(base, cand, GatePolicy()).comparisons
    assert c.verdict == "AMBIGUOUS", c
    assert run_gate(base, cand, GatePolicy()).exit_code == 0  # within the threshold: passes
    assert run_gate(base, cand, GatePolicy(fail_on=("ambiguous",))).exit_code == 1
    gone = _record("b", [])
    assert run_gate(base, gone, GatePolicy(fail_on=("slower",))).exit_code == 0


def test_a_changed_workload_version_is_not_compared() -> None:
    rng = np.random.default_rng(7)
    base = _record("a", [_result("x", _reps(rng))])
    cand = _record("b", [_result("x", _reps(rng, 2.0), version=2)])
    (c,) = run_gate(base, cand, GatePolicy()).comparisons
    assert c.verdict == "CHANGED"
    assert "version 1 -> 2" in c.reason


def test_environments_that_differ_or_are_unknown_are_not_compared() -> None:
    rng = np.random.default_rng(8)
    cpu = Environment(
        machine=Machine(cpu="Other CPU", cores_logical=2),
        blas_threads=2,
        python=PythonInfo("3.11.7"),
        libraries={"numpy": "2.4.6"},
    )
    base = _record("a", [_result("x", _reps(rng))])
    cand = _record("b", [_result("x", _reps(rng, 2.0))], cpu)
    report = run_gate(base, cand, GatePolicy())
    (c,) = report.comparisons
    assert c.verdict == "INCOMPARABLE"
    assert "cpu: 'Test CPU' != 'Other CPU'" in c.reason
    assert report.exit_code == 1
    patch = Environment(
        machine=ENV.machine, blas_threads=2, python=ENV.python, libraries={"numpy": "2.4.7"}
    )  # the same major version: comparable
    cand = _record("b", [_result("x", _reps(rng))], patch)
    assert run_gate(base, cand, GatePolicy()).comparisons[0].verdict == "SAME"
    # A GPU case: the GPU's name and driver must be known and equal, and its backend's
    # libraries (CuPy, CUDA) of the same major version.
    gpu_backend = {"cupy": BackendInfo(True, "", "cuda", {"cupy-cuda13x": "14.2.0"})}
    h100 = Environment(
        **{**_fields(ENV), "gpus": (Gpu(0, "H100", "580"),), "backends": gpu_backend}
    )
    h200 = Environment(**{**_fields(h100), "gpus": (Gpu(0, "H200", "580"),)})
    nogpu = Environment(**{**_fields(ENV), "backends": gpu_backend})
    base = _record("a", [_result("x", _reps(rng), backend="cupy")], h100)
    (c,) = run_gate(
        base, _record("b", [_result("x", _reps(rng), backend="cupy")], h200), GatePolicy()
    ).comparisons
    assert c.verdict == "INCOMPARABLE"
    assert "GPU: 'H100' != 'H200'" in c.reason
    unknown = _record("a", [_result("x", _reps(rng), backend="cupy")], nogpu)
    (c,) = run_gate(unknown, unknown, GatePolicy()).comparisons
    assert "GPU: unknown on both sides" in c.reason
    # PyTorch's device is chosen per run: the same machine on cpu and on cuda is no pair
    torch_on = {
        device: Environment(
            **{**_fields(h100), "backends": {"torch_eager": BackendInfo(True, "", device)}}
        )
        for device in ("cpu", "cuda")
    }
    results = {d: _record(d, [_result("x", _reps(rng), backend="torch_eager")], torch_on[d])
               for d in ("cpu", "cuda")}  # fmt: skip
    (c,) = run_gate(results["cpu"], results["cuda"], GatePolicy()).comparisons
    assert c.verdict == "INCOMPARABLE"
    assert "torch_eager device: 'cpu' != 'cuda'" in c.reason


def _fields(env: Environment) -> dict:
    return {name: getattr(env, name) for name in env.__dataclass_fields__}


def _spelled(
    rng: np.random.Generator, slowdown: float, turns: tuple[str | None, str | None]
) -> tuple[CaseResult, CaseResult]:
    """Eight repetition pairs sampled in turns, 21 samples a side, through a slow spell
    (1.6x) that both sides share sample for sample but that begins between the two
    samples of one turn: one side has 11 samples in it and its median is slow, the other
    10 and its median fast, the side alternating from pair to pair."""
    runs: dict[str, list[SampleRun]] = {"base": [], "cand": []}
    for i in range(8):
        spell = np.where(np.arange(21) >= 10, 1.6, 1.0)
        late = "base" if i % 2 else "cand"  # the side whose sample 10 came before the spell
        for side, scale, name in (("base", 1.0, turns[0]), ("cand", slowdown, turns[1])):
            times = scale * 1e-3 * spell * (1 + rng.normal(0, 0.003, 21))
            if side == late:
                times[10] /= 1.6
            runs[side].append(SampleRun(i, 1, tuple(times), "budget", turns=name))
    base, cand = (_result("spell", None), _result("spell", None))
    return tuple(  # type: ignore[return-value]
        dataclasses.replace(r, measurement=Measurement(tuple(runs[side]), {}))
        for r, side in ((base, "base"), (cand, "cand"))
    )


def test_samples_taken_in_turns_are_compared_sample_by_sample() -> None:
    rng = np.random.default_rng(4)
    for slowdown, expected in ((1.1, "SLOWER"), (1.0, "SAME")):
        base, cand = _spelled(rng, slowdown, ("run1", "run1"))
        (c,) = run_gate(_record("a", [base]), _record("b", [cand]), GatePolicy()).comparisons
        assert c.verdict == expected, c
        assert c.ratio == pytest.approx(slowdown, rel=0.01)
        # Medians alone: each pair's ratio is 1.6 times too high or too low, by turns.
        for names in ((None, None), ("run1", "run2")):  # not in turns; not with each other
            base, cand = _spelled(rng, slowdown, names)
            (c,) = run_gate(_record("a", [base]), _record("b", [cand]), GatePolicy()).comparisons
            assert c.verdict in ("AMBIGUOUS", "UNDERPOWERED"), c


def test_contended_repetitions_are_left_out_where_enough_remain() -> None:
    rng = np.random.default_rng(9)
    base_runs = _reps(rng, k=10)
    cand_runs = _reps(rng, k=10)
    cand_runs[3] = cand_runs[3] * 3  # another job took the CPU in this one
    base = _record("a", [_result("x", base_runs)])
    cand = _record("b", [_result("x", cand_runs, contended=(3,))])
    (c,) = run_gate(base, cand, GatePolicy()).comparisons
    assert c.pairs == 9
    assert c.contended == 1
    assert c.verdict == "SAME"


def test_per_workload_thresholds() -> None:
    rng = np.random.default_rng(10)
    base = _record(
        "a",
        [_result("x", _reps(rng), workload="matmul"), _result("x", _reps(rng), workload="softmax")],
    )
    cand = _record(
        "b",
        [
            _result("x", _reps(rng, 1.1), workload="matmul"),
            _result("x", _reps(rng, 1.1), workload="softmax"),
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
    rng = np.random.default_rng(11)
    evil = "x](https://evil.example)<img src=x>|"
    base = _record("a", [_result(evil, _reps(rng))])
    cand = _record("b", [_result(evil, _reps(rng, 1.5))])
    report = run_gate(base, cand, GatePolicy()).with_notes(["note <b>x</b>"], rounds=8)
    text = report.markdown()
    assert "](https://evil" not in text
    assert "<img" not in text
    assert "<b>" not in text
    assert "&lt;img" in text
    assert "measured in up to 8 repetitions a side" in text
    row = next(line for line in text.splitlines() if line.startswith("| **SLOWER**"))
    assert row.count(" | ") == 6  # the | in the name did not add a column


@pytest.mark.slow
def test_gate_command_exit_codes_and_outputs(tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    dump_record(_record("a", [_result("x", _reps(rng))]), tmp_path / "a.json")
    dump_record(_record("b", [_result("x", _reps(rng, 1.3))]), tmp_path / "b.json")
    dump_record(_record("c", [_result("x", _reps(rng))]), tmp_path / "c.json")
    dump_record(_record("d", [_result("x", None, status="failed")]), tmp_path / "d.json")
    slower = perfkit(
        "gate", "a.json", "b.json", "--markdown", "pr.md", "--json", "g.json", cwd=tmp_path
    )
    assert slower.returncode == 1, slower.stderr
    assert "SLOWER" in slower.stdout
    assert (tmp_path / "pr.md").read_text().startswith("### perfkit gate: FAIL")
    gate = json.loads((tmp_path / "g.json").read_text())
    assert gate["passed"] is False
    assert gate["failing"] == ["w/b:v[x]"]
    same = perfkit("gate", "a.json", "c.json", cwd=tmp_path)
    assert same.returncode == 0, same.stdout
    crashed = perfkit("gate", "a.json", "d.json", cwd=tmp_path)
    assert crashed.returncode == 1
    assert "BROKEN" in crashed.stdout
    relaxed = perfkit("gate", "a.json", "d.json", "--fail-on", "slower", cwd=tmp_path)
    assert relaxed.returncode == 0
    for args, message in [
        (["a.json", "nope.json"], "no such record file"),
        (["a.json", "c.json", "--threshold", "lots"], "not a number"),
        (["a.json", "c.json", "--alpha", "2"], "--alpha must lie in"),
        (["a.json", "c.json", "--fail-on", "nothing"], "unknown condition 'nothing'"),
    ]:
        done = perfkit("gate", *args, cwd=tmp_path)
        assert done.returncode == 2
        assert message in done.stderr


def test_six_pairs_are_judged_by_the_paired_test_and_fewer_by_the_spread() -> None:
    """Looking at alpha/3: six consistent pairs are enough for the paired test (where the
    sign test needed eight: 2/64 > 0.05/3), and five are judged by the spread test."""
    rng = np.random.default_rng(13)
    for k, test in ((6, "paired"), (5, "spread")):
        base = _record("a", [_result("x", _reps(rng, k=k))])
        cand = _record("b", [_result("x", _reps(rng, 1.3, k=k))])
        (c,) = run_gate(base, cand, GatePolicy(looks=3)).comparisons
        assert (c.verdict, c.test) == ("SLOWER", test), c


def test_nothing_decided_is_never_called_a_pass() -> None:
    """Two undecided cases and the rest new or skipped: the summary says nothing was
    decided, counts each verdict, and ``--fail-on undecided`` fails it."""
    rng = np.random.default_rng(16)
    names = ("a", "b")
    base = _record("a", [_result(n, _reps(rng, k=8, process_spread=0.2)) for n in names])
    cand = _record("b", [
        *(_result(n, _reps(rng, k=8, process_spread=0.2)) for n in names),
        _result("new", _reps(rng)),
    ])  # fmt: skip
    report = run_gate(base, cand, GatePolicy(fail_on=("slower",)))
    assert not any(c.decided for c in report.comparisons), report.comparisons
    assert report.nothing_decided
    summary = report.summary()
    assert not summary.startswith("PASS"), summary
    assert "no case shown SAME, FASTER or SLOWER" in summary
    assert "1 UNKNOWN" in summary
    if not report.failing:
        assert summary.startswith("NOTHING DECIDED")
        assert report.exit_code == 0
    strict = run_gate(base, cand, GatePolicy(fail_on=("slower", "undecided")))
    assert strict.exit_code == 1
    assert strict.summary().startswith("FAIL")
    # One case decided: the rest undecided does not stop a pass.
    same = _record("c", [_result("x", _reps(rng))])
    assert run_gate(same, same, GatePolicy(fail_on=("undecided",))).summary().startswith("PASS")


def _in_cycles(
    rng: np.random.Generator, slowdown: float, block: int, samples: int = 12
) -> tuple[CaseResult, CaseResult]:
    """Eight repetition pairs sampled in turns, ``block`` samples a side at a time (A B B
    A ...), where a sample taken right after the other side's runs 1.35x as long as one
    taken right after the same side's (what the other's 16 MB of data did to the cache)."""
    runs: dict[str, list[SampleRun]] = {"base": [], "cand": []}
    for i in range(8):
        order: list[str] = []
        turn = 0
        while len(order) < 2 * samples:
            sides = ["base", "cand"] if turn % 2 == 0 else ["cand", "base"]
            order += [side for side in sides for _ in range(block)]
            turn += 1
        times: dict[str, list[float]] = {"base": [], "cand": []}
        for place, side in enumerate(order):
            after_other = place > 0 and order[place - 1] != side
            scale = slowdown if side == "cand" else 1.0
            noise = 1 + rng.normal(0, 0.002)
            times[side].append(1e-3 * scale * (1.35 if after_other else 1.0) * noise)
        for side, kept in runs.items():
            run = SampleRun(i, 1, tuple(times[side][:samples]), "budget", turns="t", block=block)
            kept.append(run)
    base, cand = (_result("cycles", None), _result("cycles", None))
    return tuple(  # type: ignore[return-value]
        dataclasses.replace(r, measurement=Measurement(tuple(runs[side]), {}))
        for r, side in ((base, "base"), (cand, "cand"))
    )


@pytest.mark.parametrize("block", [1, 3])
def test_samples_taken_in_turns_are_compared_cycle_by_cycle(block: int) -> None:
    """Each A B B A cycle holds, for each side, samples taken after its own and after the
    other's: compared cycle by cycle, a 1.35x order effect cancels and a 10% slowdown is
    found. Sample i against sample i paired the two kinds, so each ratio was 1.35 or
    1/1.35, and their median depended on which kind happened to be the more numerous."""
    from perfkit.verdict.comparison import pair_ratio

    rng = np.random.default_rng(21)
    for slowdown, expected in ((1.1, "SLOWER"), (1.0, "SAME")):
        base, cand = _in_cycles(rng, slowdown, block)
        (c,) = run_gate(_record("a", [base]), _record("b", [cand]), GatePolicy()).comparisons
        assert c.verdict == expected, c
        assert c.ratio == pytest.approx(slowdown, rel=0.01)
        old, new = base.measurement.runs[0], cand.measurement.runs[0]
        by_sample = np.asarray(new.samples) / np.asarray(old.samples)
        assert by_sample.max() / by_sample.min() > 1.3  # what the old pairing compared
        assert pair_ratio(old, new) == pytest.approx(slowdown, rel=0.01)

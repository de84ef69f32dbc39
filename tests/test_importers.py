"""Records from asv result files and pytest-benchmark JSON, with perfkit's case ids."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from perfkit import RecordError, load_record
from perfkit.records.importers import import_file
from perfkit.verdict.gate import GatePolicy, run_gate
from tests.conftest import DATA, perfkit

ROOT = Path(__file__).resolve().parent.parent


def test_asv_results_become_a_record_with_perfkit_case_ids() -> None:
    record = import_file(DATA / "asv" / "vm" / "result.json")
    ids = {r.case_id for r in record.results}
    assert "matmul/numpy:default[n=2048,dtype=float64,shape=skinny_k]" in ids
    assert len(record.results) == 32
    assert all(r.status == "ok" and r.metric("time/median") > 0 for r in record.results)
    assert record.environment.machine.cpu == "AMD EPYC"
    assert record.environment.git.sha.startswith("500d9d25")
    # asv kept no raw samples (no --record-samples): the gate cannot judge, and says so.
    report = run_gate(record, record, GatePolicy())
    assert {c.verdict for c in report.comparisons} == {"UNKNOWN"}


@pytest.mark.slow
def test_pytest_benchmark_json_round_trips_through_perfkit(tmp_path: Path) -> None:
    out = tmp_path / "pb.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "benchmarks/test_cpu_cases.py",
            "--benchmark-only",
            "-q",
            "-p",
            "no:cacheprovider",
            "-k",
            "vector_add and numpy and 1048576 and float32",
            f"--benchmark-json={out}",
            "--benchmark-save-data",
            "--benchmark-max-time=0.2",
        ],
        cwd=ROOT,
        # A nested run, not one of this run's parallel workers: pytest-benchmark measures
        # nothing in a process that says it is one.
        env={k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:]
    imported = perfkit("import", str(out), "-o", "rec.json", cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    record = load_record(tmp_path / "rec.json")
    (result,) = record.results
    assert result.case_id == "vector_add/numpy:default[n=1048576,dtype=float32]"
    assert result.params == {"n": 1048576, "dtype": "float32"}
    assert len(result.measurement.samples) >= 5
    assert result.metric("time/median") == pytest.approx(
        sorted(result.measurement.samples)[len(result.measurement.samples) // 2], rel=0.5
    )
    # pytest-benchmark records neither the BLAS threads nor NumPy's version: two such
    # records cannot be shown to be comparable, and the gate says so.
    (comparison,) = run_gate(record, record, GatePolicy()).comparisons
    assert comparison.verdict == "INCOMPARABLE"
    assert "BLAS threads: unknown on both sides" in comparison.reason


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[]", "neither an asv result file nor pytest-benchmark JSON"),
        ('{"benchmarks": 3}', "no 'benchmarks' list"),
        ('{"benchmarks": [{"name": "x"}]}', "benchmarks[0]: no 'stats'"),
        ("{oops", "not valid JSON at line 1, column 2: Expecting property name"),
    ],
)
def test_bad_input_is_a_one_line_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "in.json"
    path.write_text(content)
    with pytest.raises(RecordError, match=message.replace("[", r"\[").replace("]", r"\]")):
        import_file(path)
    done = perfkit("import", str(path), cwd=tmp_path)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1

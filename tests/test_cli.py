"""The command line, run as a real child process: outputs, records, errors, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from perfkit import load_record
from tests.conftest import FAULTY, perfkit


def _one_line_error(done: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("perfkit: error: ")
    assert "Traceback" not in done.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["compare", "--workload", "nope"], ["unknown workload 'nope'", "matmul", "vector_add"]),
        (
            ["compare", "-w", "matmul", "-b", "cuda_magic"],
            ["unknown backend 'cuda_magic'", "numpy"],
        ),
        (["compare", "-w", "matmul", "-b", "python"], ["no port 'python'", "numpy:default"]),
        (
            ["compare", "-w", "matmul", "-p", "size=3"],
            ["unknown parameter 'size'", "n, dtype, shape"],
        ),
        (["compare", "-w", "matmul", "-p", "dtype=float8"], ["not one of: float32, float64"]),
        (["compare", "-w", "matmul", "-p", "n=lots"], ["'lots' is not a valid int"]),
        (["compare", "-w", "matmul", "-p", "n"], ["expected NAME=VALUE"]),
        (["compare", "-w", "matmul", "--budget", "0"], ["budget must be positive"]),
        (["compare"], ["--workload", "matmul", "larson_like"]),
        (["compare", "-w", "matmul,softmax"], ["compare measures one workload"]),
        (["run", "-w", "matmul,nope"], ["unknown workload 'nope'"]),
        (["run", "--suite", "nope"], ["unknown suite 'nope'", "alloc, array, classic, data, nn"]),
        (["run", "-w", "matmul", "--suite", "array"], ["not allowed with argument"]),
        (["run", "-w", "matmul", "-p", "rows=3"], ["no selected workload has a parameter"]),
        (["frobnicate"], ["invalid choice: 'frobnicate'"]),
        (["compare", "-w", "matmul", "--plugin", "missing.py"], ["plugin missing.py: no such"]),
        (["calibrate", "--threads", "0"], ["--threads: must be at least 1, got 0"]),
        (["compare", "-w", "matmul", "--processes", "x"], ["'x' is not an integer"]),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(
    tmp_path: Path, args: list[str], fragments: list[str]
) -> None:
    _one_line_error(perfkit(*args, cwd=tmp_path), *fragments)
    assert not (tmp_path / "reports").exists()  # nothing written on bad usage


@pytest.mark.parametrize("argv", [["--help"], []], ids=["--help", "bare"])
def test_help_lists_the_commands(tmp_path: Path, argv: list[str]) -> None:
    done = perfkit(*argv, cwd=tmp_path)
    assert done.returncode == 0
    for command in ("list", "compare", "run", "env", "calibrate", "gate", "ab"):
        assert command in done.stdout


@pytest.mark.slow
def test_compare_quick_prints_a_table_and_writes_a_record(tmp_path: Path) -> None:
    done = perfkit(
        "compare",
        "--workload",
        "matmul",
        "--quick",
        "--no-calibrate",
        "--param",
        "n=64",
        # Every backend but Spark's (where pyspark is installed: their tests are its own)
        "-b",
        "numpy,cupy,cupy_raw,numba_cuda",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    # Sizes are labelled by what differs between them; the answer comes last.
    assert "float32" in done.stdout
    assert "numpy:default" in done.stdout
    assert "GFLOP/s" in done.stdout
    assert "fastest per size" in done.stdout
    path = Path(
        next(line for line in done.stdout.splitlines() if line.startswith("record: ")).removeprefix(
            "record: "
        )
    )
    record = load_record(tmp_path / path)
    assert path.parent == Path("reports/runs")
    assert [r.status for r in record.results if r.backend == "numpy"] == ["ok", "ok"]
    assert record.policy.processes == 1
    assert record.environment.blas_threads >= 1
    assert record.environment.blas, "the worker's BLAS pools are recorded"
    assert "compare --workload matmul" in record.command


@pytest.mark.slow
def test_broken_ports_make_compare_exit_1_and_are_listed(tmp_path: Path) -> None:
    done = perfkit(
        "compare",
        "-w",
        "faulty_probe",
        "--quick",
        "--no-calibrate",
        "-b",
        "python:good",
        "python:wrong",
        "python:raises",
        "python:skips",
        "--plugin",
        str(FAULTY),
        "-o",
        "out.json",
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stderr
    assert "invalid: faulty_probe/python:wrong[n=100]: relative error" in done.stdout
    assert "failed: faulty_probe/python:raises[n=100]: RuntimeError" in done.stdout
    statuses = {r.variant: r.status for r in load_record(tmp_path / "out.json").results}
    assert statuses == {"good": "ok", "wrong": "invalid", "raises": "failed", "skips": "skipped"}
    assert (tmp_path / "out.html").exists(), "the report goes beside the record -o names"
    assert not (tmp_path / "reports").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    "selection",
    [["-b", "python:good,python:skips"], ["-b", "python:good", "-b", "python:skips"]],
    ids=["comma-list", "repeated"],
)
def test_backends_may_be_comma_lists_or_repeated(tmp_path: Path, selection: list[str]) -> None:
    done = perfkit(
        "compare", "-w", "faulty_probe", "--quick", "--no-calibrate", "--no-report",
        *selection, "--plugin", str(FAULTY), "-o", "out.json", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    variants = [r.variant for r in load_record(tmp_path / "out.json").results]
    assert variants == ["good", "skips"]


@pytest.mark.measures
@pytest.mark.slow
def test_run_all_quick_calibrates_once_and_reports_roof(tmp_path: Path) -> None:
    # Every workload on every backend installed: where pyspark and PyTorch are, Spark
    # sessions and a compile per torch_compile case make this minutes, not seconds.
    done = perfkit(
        "run", "--all", "--quick", "-o", "suite.json", "--threads", "1", cwd=tmp_path,
        timeout=1200,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    record = load_record(tmp_path / "suite.json")
    arrays = {"vector_add", "reduce_sum", "softmax", "matmul"}
    assert arrays | {"alloc_churn", "larson_like", "fragmentation"} <= {
        r.workload for r in record.results
    }
    on_cpu = [r for r in record.results if r.workload in arrays and r.backend == "numpy"]
    assert len(on_cpu) == 8  # two dtypes a workload at the --quick sizes
    assert all(r.status == "ok" for r in on_cpu)
    assert all(r.metric("roof/fraction") > 0 for r in on_cpu)
    # Everything else ran or says why not (no GPU here; an allocator not installed).
    assert all(
        r.status in ("ok", "skipped") and (r.status == "ok" or r.reason) for r in record.results
    )
    assert record.environment.ceilings["cpu"]["threads"] == 1
    assert all(
        on_cpu[0].metric(k) is not None
        for k in (
            "time/median",
            "time/iqr",
            "time/ci_low",
            "mem/peak_rss",
            "time/first_call",
            "time/prepare",
            "throughput/gbps",
        )
    )


@pytest.mark.slow
def test_list_and_env_only_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """They report, and build nothing: not the native code, whose build they once ran."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("PERFKIT_CACHE_DIR", str(cache))
    listing = perfkit("list", cwd=tmp_path)
    assert listing.returncode == 0
    assert "numpy: default (ref)" in listing.stdout
    assert "backends" in listing.stdout
    gpu_row = next(line for line in listing.stdout.splitlines() if line.startswith("│ gpu "))
    assert "│ matmul, mlp_train, reduce_sum, softmax, vector_add " in gpu_row
    env = perfkit("env", "--json", cwd=tmp_path)
    assert env.returncode == 0
    data = json.loads(env.stdout)
    assert data["backends"]["numpy"]["available"] is True
    assert data["load"]["other_cpu"] >= 0
    plain = perfkit("env", cwd=tmp_path)
    assert plain.stdout.startswith("cpu ")
    assert "load " in plain.stdout
    for done in (listing, env, plain):
        assert "building" not in done.stderr
    assert not (cache / "native").exists()


def test_import_and_help_need_only_numpy() -> None:
    heavy = ["scipy", "rich", "psutil", "cpuinfo", "threadpoolctl"]
    code = (
        "import sys, contextlib, io\n"
        "import perfkit\n"
        "from perfkit.cli.parser import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main(['--help'])\n"
        f"print([m for m in {heavy!r} if m in sys.modules])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"

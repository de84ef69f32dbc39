"""Spark in local mode as a backend: the array workloads' DataFrame ports run through the
real harness (a worker process, its own Spark session), are verified against the
reference at two sizes, and the session's start-up is recorded apart from the timed calls."""

from __future__ import annotations

from pathlib import Path

from perfkit.records.run_record import load_record
from tests.conftest import perfkit, spark_marks

pytestmark = spark_marks()


def test_spark_local_ports_are_verified_and_their_session_start_is_not_timed(
    tmp_path: Path,
) -> None:
    record = tmp_path / "spark.json"
    done = perfkit(
        "run", "-w", "reduce_sum,vector_add", "-b", "spark_local", "-p", "n=4096,65536",
        "-p", "dtype=float64", "--threads", "2", "--budget", "1", "--processes", "1",
        "--extra-processes", "0", "--no-report", "-o", str(record),
        cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    results = [r for r in load_record(record).results if r.backend == "spark_local"]
    assert len(results) == 4  # two workloads at two sizes
    for result in results:
        assert result.status == "ok", (result.case_id, result.reason)
        start, median = result.metric("time/session_start"), result.metric("time/median")
        assert start is not None
        assert median is not None
        # A JVM and a Spark context take seconds to start; a call on 64 Ki rows, a job of
        # tens of milliseconds. The start is measured once per worker, outside every call.
        assert start > 0.5
        assert median < start
    environment = load_record(record).environment
    assert "pyspark" in environment.backends["spark_local"].versions

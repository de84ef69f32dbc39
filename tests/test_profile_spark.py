"""``perfkit profile --profiler spark`` on a real local Spark session."""

from __future__ import annotations

from pathlib import Path

from perfkit.profiling.record import load_profile_run
from tests.conftest import perfkit, spark_marks

pytestmark = spark_marks()
DEADLINE = 900  # a worker's start-up and a Spark session on a busy 2-core machine


def test_spark_profile_splits_task_time_by_stage(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    done = perfkit(
        "profile", "-w", "groupby_agg", "-b", "spark_local", "--quick", "--profiler", "spark",
        "--duration", "2", "-o", str(folder), "--no-report",
        cwd=tmp_path, timeout=DEADLINE,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    run = load_profile_run(folder / "profile.json")
    assert run.profiles
    for profile in run.profiles:
        assert profile.status == "ok", profile.reason
        assert profile.stages
        assert all(s.tasks >= 1 and s.run_s >= 0 for s in profile.stages)
        jobs = next(c for c in profile.counters if c.name == "jobs")
        assert jobs.per_call is not None
        assert jobs.per_call >= 1

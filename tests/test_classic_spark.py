"""The MLlib ports of the classic-ML workloads, through the real harness (a worker and its
own Spark session): each passes scikit-learn's band on generated data and on a bundled set,
and its predict time is recorded apart from the fit."""

from __future__ import annotations

from pathlib import Path

from perfkit.record import load_record
from tests.conftest import perfkit, spark_marks

pytestmark = spark_marks()


def test_mllib_ports_pass_their_bands(tmp_path: Path) -> None:
    record = tmp_path / "classic.json"
    done = perfkit(
        "run", "--suite", "classic", "-b", "spark_local", "--quick", "--threads", "2",
        "--budget", "0.2", "--processes", "1", "--extra-processes", "0", "--no-report",
        "--no-calibrate", "--timeout", "300", "-o", str(record),
        cwd=tmp_path, timeout=1200,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    results = load_record(record).results
    assert {r.workload for r in results} == {
        "linear_regression", "logistic_regression", "decision_tree", "svm", "kmeans",
    }  # fmt: skip
    for result in results:
        assert result.status == "ok", (result.case_id, result.reason)
        assert (result.metric("time/predict") or 0) > 0
        assert (result.metric("spark/jobs") or 0) >= 1, result.case_id  # the fit ran jobs

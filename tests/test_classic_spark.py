"""The MLlib ports of the classic-ML workloads, through the real harness (a worker and its
own Spark session): each passes scikit-learn's band on generated data and on a bundled set,
and its predict time is recorded apart from the fit."""

from __future__ import annotations

from pathlib import Path

from perfkit.records.run_record import load_record
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


BUNDLED = [("linear_regression", "diabetes"), ("svm", "breast_cancer")] + [
    (workload, dataset)
    for workload in ("logistic_regression", "decision_tree", "kmeans")
    for dataset in ("iris", "wine", "breast_cancer", "digits")
]


def test_mllib_ports_pass_their_bands_on_the_bundled_sets() -> None:
    """Each MLlib port fitted once per bundled set in one Spark session (MLlib's linear SVM
    on the two-class set only: one-vs-rest on more classes is a minute a fit)."""
    import numpy as np

    from perfkit.model import registry
    from perfkit.model.axes import ParamValue
    from perfkit.model.backend import get_backend

    registry.load()
    failures = []
    with get_backend("spark_local").session():
        for workload_name, dataset in BUNDLED:
            workload = registry.get_workload(workload_name)
            params: dict[str, ParamValue] = {"dataset": dataset, "n": 1000, "d": 20, "target": ""}
            inputs = workload.make_inputs(params, np.random.default_rng(workload.seed(params, 0)))
            truth = workload.expected(inputs, params)
            port = next(i for i in workload.implementations if i.backend == "spark_local")
            result = workload.check(port.prepare(inputs, params)(), truth, params)
            if not result.ok:
                failures.append((workload_name, dataset, result.detail))
    assert not failures

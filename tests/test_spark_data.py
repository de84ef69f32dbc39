"""The data workloads and the Spark backends through the real command line: pandas, Spark
local and Spark on a standalone cluster of real JVMs give the reference's answers at two
sizes; a real-format log given with --data runs on every engine; ALS on Spark lands in the
same band as ALS-WR from scratch; a run on a cluster records where it ran, what each call's
jobs did, and the executor it lost; Ctrl-C stops the cluster a run started and keeps the
partial record; no JVM outlives a run."""

from __future__ import annotations

import contextlib
import gzip
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from perfkit.engine.journal import journal_path
from perfkit.integrations.spark.cluster import (
    ClusterSpec,
    ClusterState,
    StandaloneCluster,
    group_alive,
)
from perfkit.records.run_record import RunRecord, load_record
from tests.conftest import perfkit, spark_marks

pytestmark = spark_marks()

# One repetition, short sampling: these tests check answers and records, not speed.
# (--quick: five samples a case, one process; its sizes are replaced by each test's own.)
FAST = (
    "--quick", "--budget", "0.3", "--threads", "2", "--no-report", "--no-calibrate",
    "--time-budget", "0",
)  # fmt: skip


def _marked(tmp_path: Path) -> dict[str, str]:
    """The environment of a perfkit run whose JVMs can be found afterwards: every process
    it starts (daemons, drivers, executors through their workers) inherits the mark."""
    return {**os.environ, _MARK: str(tmp_path)}


_MARK = "PERFKIT_TEST_RUN"


def _jvms_of(tmp_path: Path) -> set[int]:
    """Live JVMs that carry ``tmp_path``'s mark."""
    found = set()
    for process in psutil.process_iter(["pid", "name"]):
        with contextlib.suppress(psutil.Error):
            if (
                process.info["name"] == "java"
                and process.status() != psutil.STATUS_ZOMBIE
                and process.environ().get(_MARK) == str(tmp_path)
            ):
                found.add(process.pid)
    return found


def _left_behind(tmp_path: Path, seconds: float = 60) -> set[int]:
    """The run's JVMs still alive after up to ``seconds`` (a JVM takes a moment to stop
    after its parent asked); killed, by PID, so a failure leaves nothing either."""
    deadline = time.monotonic() + seconds
    alive = _jvms_of(tmp_path)
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = _jvms_of(tmp_path)
    for pid in alive:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    return alive


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterState]:
    """An existing cluster, as a user's would be: perfkit is pointed at it by URL."""
    runner = StandaloneCluster(tmp_path_factory.mktemp("given"), ClusterSpec(workers=2))
    state = runner.start()
    try:
        yield state
    finally:
        runner.stop()


def _given(cluster: ClusterState) -> tuple[str, ...]:
    return ("--spark-master", cluster.master_url, "--spark-secret-file", cluster.secret_file)


def _ok(record: RunRecord) -> None:
    for result in record.results:
        assert result.status == "ok", (result.case_id, result.status, result.reason)


def test_pandas_spark_local_and_a_given_cluster_agree_on_every_data_workload(
    cluster: ClusterState, tmp_path: Path
) -> None:
    path = tmp_path / "data.json"
    done = perfkit(
        "run", "-w", "log_analysis,wordcount,groupby_agg",
        "-b", "python,pandas,spark_local,spark_cluster", "-p", "n=3000,20000",
        *_given(cluster), *FAST, "-o", str(path), cwd=tmp_path, timeout=900,
        env=_marked(tmp_path),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    record = load_record(path)
    _ok(record)  # every port's answer equals the reference's (exact checkers)
    ports = {(r.workload, r.implementation) for r in record.results}
    assert ("wordcount", "spark_cluster:rdd") in ports
    assert ("wordcount", "spark_cluster:dataframe") in ports
    assert len({r.params["n"] for r in record.results}) == 2
    settings = record.environment.backends["spark_cluster"].settings
    assert settings["master"] == cluster.master_url
    assert settings["cluster"] == "given"
    assert Path(cluster.secret_file).read_text().strip() not in path.read_text()
    for result in record.results:
        if result.backend != "spark_cluster":
            continue
        assert result.metric("spark/executors") == 2
        assert (result.metric("spark/stages") or 0) >= 1
        assert (result.metric("spark/tasks") or 0) >= 1
        assert result.metric("spark/executors_lost") is None
    # groupby shuffles: its per-call job metrics show the exchange
    shuffled = [r for r in record.results if r.workload == "groupby_agg" and r.backend != "pandas"]
    assert all((r.metric("spark/shuffle_write_bytes") or 0) > 0 for r in shuffled)
    assert not _left_behind(tmp_path), "a run left a JVM behind"


def test_a_gzipped_real_format_log_runs_on_every_engine(
    cluster: ClusterState, tmp_path: Path
) -> None:
    import numpy as np

    from perfkit.datasets.logs import generate_log

    log = tmp_path / "access.log.gz"
    with gzip.open(log, "wt") as f:
        f.write("\n".join(generate_log(5000, np.random.default_rng(1), malformed=0.05)) + "\n")
    path = tmp_path / "log.json"
    done = perfkit(
        "compare", "-w", "log_analysis", "-b", "python,pandas,spark_local,spark_cluster",
        "--data", str(log), *_given(cluster), *FAST, "-o", str(path), cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    record = load_record(path)
    assert len(record.results) == 4
    _ok(record)


def test_spark_als_lands_in_the_band_of_als_wr_from_scratch(
    cluster: ClusterState, tmp_path: Path
) -> None:
    path = tmp_path / "als.json"
    done = perfkit(
        "compare", "-w", "als_recommend", "-b", "numpy,spark_local,spark_cluster",
        "-p", "dataset=generated,movielens_sample", "-p", "n=100000",
        *_given(cluster), *FAST, "-o", str(path), cwd=tmp_path, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    record = load_record(path)
    assert len(record.results) == 6
    _ok(record)
    generated = [r for r in record.results if r.params["dataset"] == "generated"]
    for result in generated:  # the held-out RMSE: within 10% of the generator's noise
        assert 0.45 < (result.metric("check/error") or 0) <= 0.55


def test_a_case_survives_a_lost_worker_and_the_record_says_so(tmp_path: Path) -> None:
    runner = StandaloneCluster(tmp_path / "cluster", ClusterSpec(workers=2))
    state = runner.start()
    path = tmp_path / "lost.json"
    log = (tmp_path / "run.log").open("w")
    run = subprocess.Popen(
        [sys.executable, "-m", "perfkit", "compare", "-w", "groupby_agg", "-b", "spark_cluster",
         "-p", "n=200000", "-p", "keys=1000", *_given(state), *FAST, "--budget", "12",
         "-o", str(path)],
        cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    victim = state.sessions[-1]  # the last worker's process group: its JVM and executor
    try:
        # A task runs on the victim's executor once the case has begun (its input is
        # cached by a job in the case's set-up): kill the worker then. 300 s: a loaded
        # 2-core machine starts JVMs slowly.
        deadline = time.monotonic() + 300
        while not _given_a_task(Path(state.folder) / "work" / f"worker-{len(state.sessions) - 1}"):
            assert run.poll() is None, (tmp_path / "run.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "no task ran on the worker"
            time.sleep(0.2)
        os.killpg(victim, signal.SIGKILL)
        assert run.wait(timeout=600) == 0, (tmp_path / "run.log").read_text()[-3000:]
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(timeout=30)
        log.close()
        runner.stop()
    assert not any(group_alive(group) for group in state.sessions)
    (result,) = load_record(path).results
    assert result.status == "ok", result.reason
    assert result.metric("spark/executors_lost") == 1
    assert result.metric("spark/executors") == 1


def _given_a_task(work: Path) -> bool:
    """Whether an executor under a worker's work folder has been given a task (its log
    says so)."""
    return any("Got assigned task" in log.read_text(errors="replace")
               for log in work.glob("app-*/*/stderr"))  # fmt: skip


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """Children started inside get Ctrl-C's default action even where this test runs with
    SIGINT ignored (a background job): Python in them turns it into KeyboardInterrupt, as
    in a terminal."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


_SPARK_ENTRY = '"case": "groupby_agg/spark_cluster:dataframe'  # a journal's finished case


def test_ctrl_c_stops_the_cluster_a_run_started_and_keeps_the_partial_record(
    tmp_path: Path,
) -> None:
    path = tmp_path / "partial.json"
    log = (tmp_path / "run.log").open("w")
    with _interruptible():
        run = subprocess.Popen(
            [sys.executable, "-m", "perfkit", "run", "-w", "groupby_agg",
             "-b", "pandas,spark_cluster", "-p", "n=20000,40000,80000,160000,320000",
             "-p", "keys=1000", *FAST, "--budget", "3", "-o", str(path)],
            cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env=_marked(tmp_path),
        )  # fmt: skip
    journal = journal_path(path)
    try:
        # Ctrl-C once a Spark case has finished; 600 s: cluster, session and first case on a
        # loaded machine.
        deadline = time.monotonic() + 600
        while _SPARK_ENTRY not in (journal.read_text() if journal.exists() else ""):
            assert run.poll() is None, (tmp_path / "run.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "no Spark case finished"
            time.sleep(0.5)
        os.killpg(run.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends: the whole group
        assert run.wait(timeout=180) == 130, (tmp_path / "run.log").read_text()[-3000:]
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(timeout=30)
        log.close()
        left = _left_behind(tmp_path)
    assert not left, "the run left a JVM behind"
    record = load_record(path)
    assert record.partial
    assert any(r.backend == "spark_cluster" and r.status == "ok" for r in record.results)
    assert record.environment.backends["spark_cluster"].settings["cluster"] == (
        "started for the run"
    )


def test_without_java_the_cluster_cases_are_skipped_with_the_reason(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = str(tmp_path)  # no java there; perfkit itself runs by absolute path
    path = tmp_path / "nojava.json"
    done = perfkit(
        "compare", "-w", "groupby_agg", "-b", "pandas,spark_cluster", "-p", "n=1000",
        *FAST, "-o", str(path), cwd=tmp_path, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    by_backend = {r.backend: r for r in load_record(path).results}
    assert by_backend["pandas"].status == "ok"
    assert by_backend["spark_cluster"].status == "skipped"
    assert "no java on PATH" in by_backend["spark_cluster"].reason

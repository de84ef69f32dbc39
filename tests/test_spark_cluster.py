"""A real Spark standalone cluster (separate JVMs from the pip-installed pyspark): it starts,
runs a job, listens on the loopback address only, keeps its secret off every command line,
refuses a driver without the secret, and leaves no process behind."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from perfkit.integrations.spark.cluster import (
    ClusterError,
    ClusterSpec,
    ClusterState,
    StandaloneCluster,
    alive_workers,
    group_alive,
)
from perfkit.integrations.spark.session import cluster_settings, session_settings, start_session
from tests.conftest import perfkit, spark_marks

pytestmark = spark_marks()


def _processes(state: ClusterState) -> list[psutil.Process]:
    """Every live process of the cluster's sessions: master, workers and their executors."""
    groups = set(state.sessions)
    found = []
    for process in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(process.pid) in groups:
                found.append(process)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return found


def _command(process: psutil.Process) -> str:
    """A process's command line; empty for one that ended (or is a zombie) meanwhile."""
    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return ""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterState]:
    folder = tmp_path_factory.mktemp("cluster")
    # Two workers of one core: a JVM each (three with the master), as a user's would run.
    runner = StandaloneCluster(folder, ClusterSpec(workers=2, cores=1, memory="512m"))
    state = runner.start()
    try:
        yield state
    finally:
        runner.stop()
        assert not any(group_alive(group) for group in state.sessions)


@pytest.fixture(scope="module")
def spark(cluster: ClusterState) -> Iterator[Any]:
    folder = Path(cluster.folder)
    settings = session_settings(
        cluster.master_url, folder / "local", extra=cluster_settings(cluster)
    )
    session = start_session(settings, cluster.secret())
    try:
        yield session
    finally:
        session.stop()


def test_every_worker_registers_and_a_job_runs_on_them(cluster: ClusterState, spark: Any) -> None:
    assert alive_workers(cluster.web_url) == 2
    total = spark.range(0, 200_000, numPartitions=4).selectExpr("sum(id) AS s").collect()[0]["s"]
    assert total == 200_000 * 199_999 // 2
    executors = [p for p in _processes(cluster) if "CoarseGrainedExecutorBackend" in _command(p)]
    assert len(executors) == 2  # one a worker, each in its worker's session


def test_the_cluster_listens_on_the_loopback_address_only(
    cluster: ClusterState, spark: Any
) -> None:
    listening = []
    for process in _processes(cluster):
        try:
            listening += [
                c for c in process.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN
            ]
        except psutil.Error:  # ended meanwhile
            continue
    assert listening  # the master's port and web status at least
    addresses = {c.laddr.ip for c in listening}
    assert addresses <= {"127.0.0.1", "::ffff:127.0.0.1"}, addresses
    assert 6066 not in {c.laddr.port for c in listening}  # the REST submission server is off


def test_the_secret_is_on_no_command_line(cluster: ClusterState, spark: Any) -> None:
    secret = cluster.secret()
    assert len(secret) == 64
    seen = 0
    for process in psutil.process_iter():
        command = _command(process)
        if "java" in command:
            seen += 1
            assert secret not in command
    assert seen >= 4  # master, two workers, the driver's JVM (and the executors)
    assert oct(Path(cluster.secret_file).stat().st_mode & 0o777) == "0o600"


def test_a_driver_without_the_secret_is_refused(cluster: ClusterState, tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        from perfkit.integrations.spark.session import session_settings, start_session
        from pathlib import Path
        settings = session_settings({cluster.master_url!r}, Path({str(tmp_path)!r}))
        settings["spark.executor.memory"] = "512m"
        spark = start_session(settings)  # no secret
        print("ANSWER", spark.range(10).count(), flush=True)
    """)
    master_log = Path(cluster.folder) / "logs" / "master.log"
    refusal = "Expected SaslMessage, received something else"
    before = master_log.read_text(errors="replace").count(refusal)
    output = tmp_path / "driver.out"
    with output.open("w") as sink:
        child = subprocess.Popen(
            [sys.executable, "-c", script], stdout=sink, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        # The master refuses the connection at once; the driver would retry for a minute
        # before giving up. 120 s covers a JVM's start on a loaded 2-core machine.
        deadline = time.monotonic() + 120
        while master_log.read_text(errors="replace").count(refusal) == before:
            assert child.poll() is None, output.read_text()[-2000:]
            assert time.monotonic() < deadline, "the master never saw the driver"
            time.sleep(0.5)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)  # the driver and its JVM
        child.wait(timeout=30)
    assert "ANSWER" not in output.read_text()


def test_a_cluster_that_cannot_start_in_time_leaves_no_process(tmp_path: Path) -> None:
    runner = StandaloneCluster(tmp_path, ClusterSpec(workers=1), start_timeout=0.5)
    with pytest.raises(ClusterError, match="in vain"):
        runner.start()
    assert runner.state is not None
    assert not any(group_alive(group) for group in runner.state.sessions)


def _cached(cache: Path) -> dict[str, str]:
    """This environment with ``cache`` as perfkit's cache: where `cluster up` keeps state."""
    return {**os.environ, "PERFKIT_CACHE_DIR": str(cache)}


def _cluster_up(cache: Path) -> ClusterState:
    """`perfkit cluster up` of one worker, with ``cache`` as perfkit's cache; its state."""
    up = perfkit(
        "cluster", "up", "--workers", "1", "--memory", "512m", env=_cached(cache), cwd=cache,
        timeout=240,
    )  # fmt: skip
    assert up.returncode == 0, up.stderr
    return ClusterState.load(cache / "spark" / "cluster.json")


def test_cluster_up_status_down_from_the_command_line(tmp_path: Path) -> None:
    env = _cached(tmp_path)
    state = _cluster_up(tmp_path)
    try:
        again = perfkit("cluster", "up", env=env, cwd=tmp_path)
        assert again.returncode == 2
        assert "already up" in again.stderr
        status = perfkit("cluster", "status", env=env, cwd=tmp_path)
        assert status.returncode == 0, status.stdout + status.stderr
        assert "1 of 1 alive" in status.stdout
        assert state.master_url in status.stdout
    finally:
        down = perfkit("cluster", "down", env=env, cwd=tmp_path, timeout=60)
    assert down.returncode == 0, down.stderr
    assert not any(group_alive(group) for group in state.sessions)
    assert not (tmp_path / "spark" / "cluster.json").exists()
    gone = perfkit("cluster", "status", env=env, cwd=tmp_path)
    assert gone.returncode == 2
    assert "no cluster is up" in gone.stderr


def _cluster_up_in_background(cache: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "perfkit", "cluster", "up", "--workers", "1", "--memory", "512m"],
        cwd=cache, env=_cached(cache), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL])
def test_cluster_up_killed_while_starting_leaves_no_daemon(tmp_path: Path, signum: int) -> None:
    """Killed as soon as its master has started (a JVM takes seconds more to answer, and a
    worker to register): SIGTERM stops what started; SIGKILL takes the keeper, and so the
    daemons, with it. Either way `status` then finds no cluster and no secret stays."""
    state_file = tmp_path / "spark" / "cluster.json"
    proc = _cluster_up_in_background(tmp_path)
    sessions: list[int] = []
    try:
        deadline = time.monotonic() + 120  # python, perfkit and spark-class on a loaded machine
        while time.monotonic() < deadline and not state_file.exists() and proc.poll() is None:
            time.sleep(0.05)
        assert state_file.exists(), proc.communicate(timeout=30)
        assert proc.poll() is None, "`up` finished before it could be killed while starting"
        state = ClusterState.load(state_file)
        assert state.sessions  # the master, written down as it started, and its keeper
        assert state.keeper
        sessions = [*state.sessions, state.keeper]
        proc.send_signal(signum)
        proc.communicate(timeout=90)
        assert proc.returncode == (130 if signum == signal.SIGTERM else -signal.SIGKILL)
        deadline = time.monotonic() + 60  # a JVM's shutdown
        while time.monotonic() < deadline and any(_process_alive(p) for p in sessions):
            time.sleep(0.1)
        assert not any(_process_alive(p) for p in sessions)
        status = perfkit("cluster", "status", env=_cached(tmp_path), cwd=tmp_path)
        assert status.returncode == 2, status.stdout
        assert "no cluster is up" in status.stderr
        assert not state_file.exists()
        assert not list(tmp_path.glob("spark/cluster-*/conf/secret"))
        assert not list(tmp_path.glob("spark/cluster-*/conf/spark.properties"))
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        for group in sessions:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)
        proc.wait()


def _process_alive(pid: int) -> bool:
    """Alive and not a zombie (an ended child of another process, not yet reaped)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_the_kept_cluster_dies_with_its_keeper(tmp_path: Path) -> None:
    """A keeper killed outright (SIGKILL) leaves no daemon: they die with it."""
    env = _cached(tmp_path)
    state = _cluster_up(tmp_path)
    try:
        assert state.keeper is not None
        assert _process_alive(state.keeper)
        os.kill(state.keeper, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(_process_alive(g) for g in state.sessions):
            time.sleep(0.1)
        assert not any(_process_alive(g) for g in state.sessions)
        status = perfkit("cluster", "status", env=env, cwd=tmp_path)
        assert "no cluster is up" in status.stderr
    finally:
        for group in [*state.sessions, *([state.keeper] if state.keeper else [])]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)


def test_a_run_killed_outright_leaves_its_clusters_secret_only_until_the_next_start(
    tmp_path: Path,
) -> None:
    """SIGKILL gives a run no chance to remove its cluster's folder: its daemons die with
    it (parent-death signal), and the next start removes the folder, secret and all."""
    from perfkit.integrations.spark.daemons import RUN_CLUSTER_PREFIX, sweep_run_clusters

    temp = tmp_path / "tmp"
    temp.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "perfkit", "compare", "-w", "groupby_agg", "-b", "spark_cluster",
         "--quick", "--no-calibrate", "--time-budget", "0", "-o", str(tmp_path / "r.json")],
        cwd=tmp_path, env={**os.environ, "TMPDIR": str(temp)}, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    pattern = f"{RUN_CLUSTER_PREFIX}{proc.pid}-*/conf/secret"
    try:
        deadline = time.monotonic() + 180  # perfkit, then a master JVM, on a loaded machine
        while time.monotonic() < deadline and not list(temp.glob(pattern)):
            assert proc.poll() is None, "the run ended before its cluster started"
            time.sleep(0.1)
        (secret,) = temp.glob(pattern)
        folder = secret.parent.parent
        daemons: list[psutil.Process] = []
        while time.monotonic() < deadline and not daemons:  # the master, at least
            daemons = [
                p for p in psutil.process_iter(["cmdline"])
                if str(folder) in " ".join(p.info["cmdline"] or [])
            ]  # fmt: skip
            time.sleep(0.1)
        assert daemons, "no Spark daemon started"
        proc.kill()
        proc.wait()
        _, alive = psutil.wait_procs(daemons, timeout=60)  # their parent-death signal
        assert alive == []
        assert secret.exists()  # nothing could remove it: SIGKILL
        assert sweep_run_clusters(temp) == [folder]
        assert not folder.exists()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_a_job_survives_the_loss_of_a_worker(cluster: ClusterState, spark: Any) -> None:
    """Kill one worker's JVM (and its executor) while a job runs: the job still finishes,
    with the right answer, on the worker that is left. Last in the module: the cluster
    keeps one worker after it."""
    import threading

    def slow(i: int) -> int:
        import time as clock

        clock.sleep(0.25)
        return i

    answer: dict[str, Any] = {}
    job = threading.Thread(
        target=lambda: answer.update(
            total=spark.sparkContext.parallelize(range(48), 48).map(slow).sum()
        )
    )
    job.start()
    victim = cluster.sessions[-1]  # the second worker's process session
    # Kill once the job's tasks are running on both executors (a few of its 48 tasks done).
    deadline = time.monotonic() + 60
    while not spark.sparkContext.statusTracker().getActiveStageIds():
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.1)
    time.sleep(1.0)
    os.killpg(victim, signal.SIGKILL)
    job.join(timeout=240)  # the lost tasks run again on the other executor
    assert not job.is_alive(), "the job did not finish without its second worker"
    assert answer["total"] == sum(range(48))
    # The master saw the worker go (its connection dropped): one worker alive, not two.
    deadline = time.monotonic() + 60
    while alive_workers(cluster.web_url) != 1:
        assert time.monotonic() < deadline, "the master still lists the killed worker"
        time.sleep(0.5)


def test_the_clusters_executors_are_the_runs_own_work(cluster: ClusterState, spark: Any) -> None:
    """The executors a job runs on are children of the worker JVMs, not of the measuring
    process (a run's worker, beside the cluster): metered with the cluster's sessions as
    its own, a repetition does not count their CPU as contention; metered without, it does."""
    from tests.conftest import MeterBeside

    meter = MeterBeside(tuple(cluster.sessions))
    try:
        spark.range(0, 200_000_000, numPartitions=4).selectExpr("sum(id * id % 7)").collect()
        own, plain = meter.stop()
    finally:
        meter.close()
    assert plain - own > 0.2, (plain, own)

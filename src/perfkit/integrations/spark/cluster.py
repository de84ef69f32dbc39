"""A Spark standalone cluster on this machine: one master and N workers, each a JVM started
from the pip-installed pyspark (``bin/spark-class``) in a process session of its own, and
stopped with its whole session (the executors a worker launched included) on success, on
error and on Ctrl-C.

Safe by default: every daemon binds to 127.0.0.1 (``--host`` and ``SPARK_LOCAL_IP``, which
the web UIs follow); the master's REST submission server is off; ``spark.authenticate`` is
on with a fresh random secret per cluster, which reaches the daemons through a 0600
properties file and the driver through its in-JVM configuration, never a command line;
the secret's files go with the cluster (``daemons``). Logs, work and local folders live
under the cluster's folder.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from perfkit.integrations.spark.daemons import (
    death_signal,
    is_spark_daemon,
    remove_secrets,
    started_at,
    write_private,
)
from perfkit.model.errors import RunError
from perfkit.model.stopping import check_stop
from perfkit.records.atomic import write_text_atomic

__all__ = [
    "ClusterError", "ClusterSpec", "ClusterState", "StandaloneCluster", "alive_workers",
    "group_alive", "spark_home", "stop_sessions",
]  # fmt: skip

LOOPBACK = "127.0.0.1"
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"


class ClusterError(RunError):
    """A cluster that could not start (no Java, no pyspark, a port taken, a worker that never
    registered): what happened, in one line, with the end of the log that says why."""


@dataclass(frozen=True)
class ClusterSpec:
    """What to start: ``workers`` workers of ``cores`` cores and ``memory`` (Spark's
    notation, ``1g``) each."""

    workers: int = 2
    cores: int = 1
    memory: str = "1g"

    def __post_init__(self) -> None:
        if self.workers < 1 or self.cores < 1:
            raise ValueError("a cluster needs at least one worker of one core")


@dataclass
class ClusterState:
    """A running cluster as a file can keep it (``perfkit cluster up`` / ``status`` /
    ``down``): where it is and which process sessions are its own. No secret: that stays in
    the 0600 file ``secret_file`` names."""

    master_url: str
    web_url: str
    folder: str
    secret_file: str
    spec: dict[str, Any]
    sessions: list[int] = field(default_factory=list)  # process-group ids, master first
    started: float = 0.0
    session_starts: list[float | None] = field(default_factory=list)  # each one's start time
    keeper: int | None = None  # the process `cluster up` leaves to hold the daemons
    keeper_started: float | None = None

    def own_sessions(self) -> list[int]:
        """The sessions that are still the daemons this cluster started (``is_spark_daemon``):
        the only ones ``down`` may signal."""
        starts = [*self.session_starts, *[None] * len(self.sessions)]
        return [g for g, t in zip(self.sessions, starts, strict=False) if is_spark_daemon(g, t)]

    def secret(self) -> str:
        return Path(self.secret_file).read_text().strip()

    def save(self, path: Path) -> None:
        write_text_atomic(path, json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> ClusterState:
        data = json.loads(path.read_text())
        return cls(**data)


def spark_home() -> Path:
    """The pip-installed pyspark's folder, which holds ``bin/spark-class`` and the jars."""
    try:
        import pyspark
    except ImportError as exc:
        raise ClusterError("pyspark is not installed (pip install -e '.[spark]')") from exc
    return Path(pyspark.__file__).resolve().parent


def free_port() -> int:
    """A TCP port free on the loopback address now (the daemon binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def _properties(secret: str, folder: Path) -> str:
    lines = {
        "spark.authenticate": "true",
        "spark.authenticate.secret": secret,
        "spark.master.rest.enabled": "false",
        "spark.local.dir": str(folder / "local"),
        "spark.worker.cleanup.enabled": "false",
        "spark.ui.killEnabled": "false",  # its web UIs (loopback) cannot stop a run's jobs
    }
    return "".join(f"{key} {value}\n" for key, value in lines.items())


def _fetch_status(web_url: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"{web_url}/json/", timeout=5) as response:
            data: dict[str, Any] = json.loads(response.read())
            return data
    except (OSError, urllib.error.URLError, ValueError):
        return None


def alive_workers(web_url: str) -> int | None:
    """Workers the master lists as ALIVE (its JSON status); None when it does not answer."""
    status = _fetch_status(web_url)
    if status is None:
        return None
    return sum(1 for w in status.get("workers", []) if w.get("state") == "ALIVE")


def stop_sessions(
    sessions: list[int], grace: float = 15.0, reap: Callable[[], object] | None = None
) -> None:
    """SIGTERM every process group in ``sessions``, then SIGKILL what is left after
    ``grace`` seconds (a JVM normally stops in one or two). ``reap`` collects the exit
    status of children of this process (a zombie still counts as a member of its group)."""
    for group in reversed(sessions):  # workers first, then the master
        _signal_group(group, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if reap is not None:
            reap()
        if not any(group_alive(g) for g in sessions):
            break
        time.sleep(0.1)
    for group in sessions:
        _signal_group(group, signal.SIGKILL)


def _signal_group(group: int, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(group, sig)


def group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class StandaloneCluster:
    """``with StandaloneCluster(folder, spec) as state:`` starts the master and workers and
    waits until every worker is registered; leaving the block stops them all."""

    def __init__(
        self,
        folder: Path,
        spec: ClusterSpec | None = None,
        start_timeout: float = 180.0,
        tied: bool = False,
        on_launch: Callable[[ClusterState], None] | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.spec = spec or ClusterSpec()
        self.start_timeout = start_timeout
        self.tied = tied  # the daemons die with this process, even a SIGKILLed one
        self.on_launch = on_launch  # told of every daemon the moment it starts
        self._processes: list[subprocess.Popen[bytes]] = []
        self.state: ClusterState | None = None

    def __enter__(self) -> ClusterState:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> ClusterState:
        home = spark_home()
        for sub in ("conf", "logs", "work", "local"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        secret = secrets.token_hex(32)
        conf = self.folder / "conf" / "spark.properties"
        write_private(conf, _properties(secret, self.folder))
        secret_file = self.folder / "conf" / "secret"
        write_private(secret_file, secret + "\n")
        port, web_port = free_port(), free_port()
        master_url = f"spark://{LOOPBACK}:{port}"
        web_url = f"http://{LOOPBACK}:{web_port}"
        self.state = ClusterState(
            master_url=master_url,
            web_url=web_url,
            folder=str(self.folder),
            secret_file=str(secret_file),
            spec=asdict(self.spec),
            started=time.time(),
        )
        try:
            master = [MASTER_CLASS, "--host", LOOPBACK, "--port", str(port),
                      "--webui-port", str(web_port), "--properties-file", str(conf)]  # fmt: skip
            self._launch(home, "master", master)
            self._wait(lambda: alive_workers(web_url) is not None, "the master to answer")
            for number in range(1, self.spec.workers + 1):
                work = self.folder / "work" / f"worker-{number}"
                work.mkdir(parents=True, exist_ok=True)
                self._launch(
                    home,
                    f"worker-{number}",
                    [WORKER_CLASS, "--host", LOOPBACK, "--cores", str(self.spec.cores),
                     "--memory", self.spec.memory, "--work-dir", str(work),
                     "--webui-port", str(free_port()), "--properties-file", str(conf), master_url],
                )  # fmt: skip
            self._wait(
                lambda: (alive_workers(web_url) or 0) >= self.spec.workers,
                f"{self.spec.workers} workers to register",
            )
        except BaseException:
            self.stop()
            raise
        return self.state

    def _launch(self, home: Path, name: str, arguments: list[str]) -> None:
        log = open(self.folder / "logs" / f"{name}.log", "wb")  # noqa: SIM115 - the process owns it
        env = daemon_environment(home, self.folder)
        try:
            process = subprocess.Popen(
                [str(home / "bin" / "spark-class"), *arguments],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=env, start_new_session=True,
                preexec_fn=death_signal(signal.SIGKILL) if self.tied else None,  # noqa: PLW1509
            )  # fmt: skip
        except OSError as exc:
            raise ClusterError(f"could not start the Spark {name}: {exc}") from exc
        finally:
            log.close()
        self._processes.append(process)
        assert self.state is not None
        self.state.sessions.append(process.pid)  # its own session: its pid is its group id
        self.state.session_starts.append(started_at(process.pid))
        if self.on_launch is not None:
            self.on_launch(self.state)

    def _wait(self, ready: Callable[[], bool], what: str) -> None:
        """Poll ``ready`` until it holds; a daemon that exits, or ``start_timeout`` seconds
        (a JVM's start on a loaded 2-core machine takes a few), is a ClusterError."""
        deadline = time.monotonic() + self.start_timeout
        while not ready():
            check_stop()  # SIGINT or SIGTERM while starting: stop what started
            for process in self._processes:
                if process.poll() is not None:
                    raise ClusterError(
                        f"a Spark daemon exited ({process.returncode}) while waiting for {what}: "
                        f"{self._log_tail()}"
                    )
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"waited {self.start_timeout:.0f} s for {what} in vain: {self._log_tail()}"
                )
            time.sleep(0.25)

    def _reap(self) -> None:
        for process in self._processes:
            process.poll()

    def _log_tail(self) -> str:
        lines: list[str] = []
        for log in sorted((self.folder / "logs").glob("*.log")):
            text = log.read_text(errors="replace").strip().splitlines()
            errors = [line for line in text if "ERROR" in line or "Exception" in line]
            if errors:
                lines.append(f"{log.name}: {errors[-1].strip()}")
        return "; ".join(lines) or f"see the logs in {self.folder / 'logs'}"

    def stop(self) -> None:
        if self.state is not None:
            stop_sessions(self.state.sessions, reap=self._reap)
        for process in self._processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
        self._processes.clear()
        remove_secrets(self.folder)


def daemon_environment(
    home: Path, folder: Path, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment a Spark daemon starts with: the pyspark it comes from, loopback
    binding, and its logs, work and local folders under ``folder``."""
    env = dict(os.environ if base is None else base)
    env.update(
        SPARK_HOME=str(home),
        SPARK_LOCAL_IP=LOOPBACK,
        SPARK_LOG_DIR=str(folder / "logs"),
        SPARK_WORKER_DIR=str(folder / "work"),
        SPARK_LOCAL_DIRS=str(folder / "local"),
        SPARK_NO_DAEMONIZE="1",
        PYSPARK_PYTHON=sys.executable,
    )
    return env

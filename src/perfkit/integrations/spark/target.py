"""Which Spark cluster a ``spark_cluster`` session joins, and with which secret.

In order: a master given by URL (``--spark-master``, or ``PERFKIT_SPARK_MASTER``) with the
secret from ``PERFKIT_SPARK_SECRET`` or the file ``PERFKIT_SPARK_SECRET_FILE`` names; a
cluster whose state file ``PERFKIT_SPARK_STATE`` names (the one a run started for itself);
the cluster ``perfkit cluster up`` keeps running; else none, and the session starts one of
its own. The secret never travels on a command line: workers inherit these variables.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from perfkit.integrations.spark.cluster import ClusterState, group_alive
from perfkit.model.errors import UsageError

__all__ = [
    "ENV_CONF",
    "ENV_MASTER",
    "ENV_SECRET",
    "ENV_SECRET_FILE",
    "ENV_STATE",
    "ENV_UI",
    "ENV_UNAVAILABLE",
    "ClusterTarget",
    "extra_settings",
    "kept_cluster",
    "public_master",
    "read_secret",
    "spark_missing",
    "state_path",
    "target_from_environment",
]

ENV_MASTER = "PERFKIT_SPARK_MASTER"
ENV_SECRET = "PERFKIT_SPARK_SECRET"
ENV_SECRET_FILE = "PERFKIT_SPARK_SECRET_FILE"
ENV_STATE = "PERFKIT_SPARK_STATE"
ENV_CONF = "PERFKIT_SPARK_CONF"  # --spark-conf settings, a JSON object
ENV_UI = "PERFKIT_SPARK_UI"  # "1": the driver's web UI on (on 127.0.0.1), off otherwise
# Why spark_cluster cannot run this time (no cluster to run on, or the run's did not start).
ENV_UNAVAILABLE = "PERFKIT_SPARK_CLUSTER_UNAVAILABLE"


def state_path() -> Path:
    """The state file of the cluster ``perfkit cluster up`` keeps."""
    from perfkit.machine.cache import cache_dir

    return cache_dir() / "spark" / "cluster.json"


def spark_missing() -> str | None:
    """Why Spark cannot run here (no pyspark, no java), or None when it can."""
    import shutil

    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install -e '.[spark]')"
    if shutil.which("java") is None:
        return "no java on PATH (Spark 4 needs Java 17: apt-get install openjdk-17-jre-headless)"
    return None


def extra_settings() -> dict[str, str]:
    """The run's ``--spark-conf`` settings."""
    text = os.environ.get(ENV_CONF)
    if not text:
        return {}
    return {str(k): str(v) for k, v in json.loads(text).items()}


@dataclass(frozen=True)
class ClusterTarget:
    """A cluster to join: its master URL, its secret, what to ask of it (``settings``),
    how many executors to wait for (None: whatever it grants), and where it came from."""

    master: str
    secret: str = field(repr=False)
    settings: dict[str, str] = field(default_factory=dict)
    executors: int | None = None
    source: str = "given"


def public_master(url: str) -> str:
    """The master URL as a record may keep it: any user name or password dropped."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def check_master(url: str) -> str:
    """A ``spark://HOST:PORT`` URL, or a one-line UsageError."""
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme != "spark" or not parts.hostname or port is None:
        raise UsageError(f"--spark-master {url!r}: expected spark://HOST:PORT")
    return url


def read_secret(env: dict[str, str] | None = None) -> str:
    """The secret from ``PERFKIT_SPARK_SECRET``, else from the file
    ``PERFKIT_SPARK_SECRET_FILE`` names; a UsageError when neither gives one."""
    env = dict(os.environ) if env is None else env
    if env.get(ENV_SECRET):
        return env[ENV_SECRET]
    path = env.get(ENV_SECRET_FILE)
    if not path:
        raise UsageError(
            "a Spark master given by URL needs its cluster's secret: set "
            f"{ENV_SECRET} or --spark-secret-file FILE"
        )
    try:
        secret = Path(path).read_text().strip()
    except OSError as exc:
        raise UsageError(f"--spark-secret-file {path}: {exc.strerror or exc}") from None
    if not secret:
        raise UsageError(f"--spark-secret-file {path}: the file is empty")
    return secret


def state_target(state: ClusterState, source: str) -> ClusterTarget:
    from perfkit.integrations.spark.session import cluster_settings

    return ClusterTarget(
        master=state.master_url,
        secret=state.secret(),
        settings=cluster_settings(state),
        executors=int(state.spec["workers"]),
        source=source,
    )


def kept_cluster() -> ClusterState | None:
    """The cluster ``perfkit cluster up`` keeps, when its processes are alive."""
    path = state_path()
    if not path.is_file():
        return None
    try:
        state = ClusterState.load(path)
    except (OSError, ValueError, TypeError):
        return None
    return state if any(group_alive(group) for group in state.sessions) else None


def target_from_environment() -> ClusterTarget | None:
    """The cluster this process is told to join, or None (the session starts its own)."""
    env = dict(os.environ)
    if env.get(ENV_MASTER):
        return ClusterTarget(check_master(env[ENV_MASTER]), read_secret(env))
    if env.get(ENV_STATE):
        return state_target(ClusterState.load(Path(env[ENV_STATE])), "started for the run")
    kept = kept_cluster()
    return state_target(kept, "perfkit cluster up") if kept is not None else None

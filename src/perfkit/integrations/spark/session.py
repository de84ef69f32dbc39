"""Spark sessions for perfkit: local (``local[N]``) or on a standalone cluster, with the
settings every run records, bound to the loopback address, the UI off unless asked for.

The cluster's secret reaches the driver's JVM through its in-JVM configuration: the JVM is
started first without it (pyspark would otherwise put every setting on the
``spark-submit`` command line, where ``ps`` shows it to every user).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from perfkit.integrations.spark.cluster import LOOPBACK, ClusterState

__all__ = [
    "ENCRYPTED", "SAFE_SETTINGS", "cluster_settings", "on_loopback", "session_settings",
    "start_session",
]  # fmt: skip

# Settings every perfkit session sets, and records.
SAFE_SETTINGS: Mapping[str, str] = {
    "spark.driver.host": LOOPBACK,
    "spark.driver.bindAddress": LOOPBACK,
    "spark.ui.enabled": "false",
    "spark.ui.killEnabled": "false",  # a UI on a shared host must not stop a run's jobs
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.pyspark.fallback.enabled": "false",
    # Local mode runs every task in the driver: Spark's 1g default runs out on matmul's
    # 256-blocks at n = 2048. Set on the JVM's command line (see start_session).
    "spark.driver.memory": "2g",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
}


def session_settings(
    master: str, local_dir: Path, ui: bool = False, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The settings of a session on ``master``, without any secret."""
    settings = dict(SAFE_SETTINGS)
    settings["spark.master"] = master
    settings["spark.local.dir"] = str(local_dir)
    settings["spark.pyspark.python"] = sys.executable
    settings["spark.pyspark.driver.python"] = sys.executable
    if ui:
        settings["spark.ui.enabled"] = "true"
    if not on_loopback(master):  # traffic that leaves the machine is encrypted too
        settings.update(ENCRYPTED)
    settings.update(extra or {})
    return settings


# What a session whose cluster is not on this machine's loopback sets (``--spark-conf``
# can turn it off for a cluster that does not encrypt): AES-encrypted RPC, and encrypted
# shuffle and spill files.
ENCRYPTED: Mapping[str, str] = {
    "spark.network.crypto.enabled": "true",
    "spark.io.encryption.enabled": "true",
}


def on_loopback(master: str) -> bool:
    """Whether ``master`` (``local[...]`` or ``spark://host:port``) is on this machine's
    loopback address."""
    if not master.startswith("spark://"):
        return True
    host = master.removeprefix("spark://").rsplit(":", 1)[0]
    return host in (LOOPBACK, "localhost", "::1", "[::1]") or host.startswith("127.")


def cluster_settings(state: ClusterState) -> dict[str, str]:
    """What a session on a cluster perfkit started asks of it: one executor per worker,
    each with the worker's cores and memory (a default 1 GiB executor would not fit a
    smaller worker, and the job would wait for resources forever)."""
    spec = state.spec
    return {
        "spark.executor.memory": str(spec["memory"]),
        "spark.executor.cores": str(spec["cores"]),
        "spark.cores.max": str(int(spec["cores"]) * int(spec["workers"])),
    }


def start_session(
    settings: Mapping[str, str], secret: str | None = None, app: str = "perfkit"
) -> Any:
    """A SparkSession with ``settings``; with ``secret``, authenticated to a cluster whose
    daemons share it (set in the running JVM, never on a command line)."""
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    os.environ.setdefault("SPARK_LOCAL_IP", LOOPBACK)
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    memory = settings.get("spark.driver.memory")
    if memory is not None:  # the JVM's heap is set at its start, not later: on its command line
        os.environ["PYSPARK_SUBMIT_ARGS"] = f"--driver-memory {memory} pyspark-shell"
    SparkContext._ensure_initialized()  # the JVM, started with no secret on its command line
    builder = SparkSession.builder.appName(app)
    for key, value in settings.items():
        builder = builder.config(key, value)
    if secret is not None:
        builder = builder.config("spark.authenticate", "true").config(
            "spark.authenticate.secret", secret
        )
    return builder.getOrCreate()

"""Spark on a standalone cluster of separate JVM processes: the master given with
``--spark-master`` (and its secret), else the cluster ``perfkit cluster up`` keeps, else
one the run starts for itself (see ``perfkit.integrations.spark.target``). Every
``spark_local`` port runs here too, unchanged: this backend derives its implementations from
that one's."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from perfkit.backends._spark import SparkBackend
from perfkit.model.backend import Availability, register_backend
from perfkit.model.errors import UsageError
from perfkit.model.workload import Implementation

__all__ = ["SPARK_CLUSTER"]

_EXECUTOR_WAIT = 120.0  # an executor JVM starts in seconds, slower on a loaded 2-core machine


class SparkClusterBackend(SparkBackend):
    name = "spark_cluster"
    label = "Spark (cluster)"
    color = "#8c3a0e"
    base = "spark_local"

    def probe(self) -> Availability:
        from perfkit.integrations.spark.target import ENV_UNAVAILABLE

        if os.environ.get(ENV_UNAVAILABLE):
            return Availability.no(os.environ[ENV_UNAVAILABLE])
        return super().probe()

    def derive(self, implementation: Implementation) -> Sequence[Implementation]:
        return [dataclasses.replace(implementation, backend=self.name, reference=False)]

    def open_session(self, stack: contextlib.ExitStack) -> Any:
        from perfkit.integrations.spark.cluster import ClusterSpec, StandaloneCluster
        from perfkit.integrations.spark.daemons import (
            run_cluster_folder_prefix,
            sweep_run_clusters,
        )
        from perfkit.integrations.spark.session import session_settings, start_session
        from perfkit.integrations.spark.target import (
            extra_settings,
            state_target,
            target_from_environment,
        )

        # Named by this process, so a later run sweeps it (and the secret in it) if this
        # process is killed outright.
        sweep_run_clusters()
        prefix = run_cluster_folder_prefix()
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=prefix)))
        target = target_from_environment()
        if target is None:  # no cluster given or kept: one of its own, for this process
            cluster = StandaloneCluster(folder / "cluster", ClusterSpec(), tied=True)
            state = stack.enter_context(cluster)
            target = state_target(state, "started for the session")
        extra = {**target.settings, **extra_settings()}
        settings = session_settings(target.master, folder / "local", self.ui(), extra)
        spark = start_session(settings, target.secret)
        stack.callback(spark.stop)
        _wait_for_executors(spark, target.executors or 1)  # a given cluster: at least one
        return spark

    def settings(self) -> dict[str, str]:
        """Where the run's cluster is (without secrets) and what it was asked for."""
        from perfkit.integrations.spark.target import public_master, target_from_environment

        try:
            target = target_from_environment()
        except (UsageError, OSError, ValueError) as exc:
            return {"master": f"unusable: {exc}"}
        if target is None:
            return {"master": "none given or kept up: a run naming it starts one"}
        found = {"master": public_master(target.master), "cluster": target.source}
        if target.executors:
            found["executors"] = str(target.executors)
        return {**found, **target.settings, **self.key_settings(target.master)}


def _wait_for_executors(spark: Any, count: int) -> None:
    """Until ``count`` executors have registered, so the first timed job runs on all."""
    from perfkit.model.errors import RunError

    tracker = spark.sparkContext.statusTracker()
    deadline = time.monotonic() + _EXECUTOR_WAIT
    while len(tracker.getExecutorInfos()) - 1 < count:  # the driver is listed too
        if time.monotonic() > deadline:
            raise RunError(
                f"{count} executor(s) did not register within {_EXECUTOR_WAIT:g} s: are the "
                "cluster's workers alive, and large enough for one (spark.executor.memory "
                "and spark.executor.cores, settable with --spark-conf)?"
            )
        time.sleep(0.2)


SPARK_CLUSTER = SparkClusterBackend()
register_backend(SPARK_CLUSTER)

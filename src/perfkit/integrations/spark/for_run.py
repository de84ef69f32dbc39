"""The Spark cluster a run's ``spark_cluster`` cases use, arranged before any worker
starts: the master given with ``--spark-master`` (its secret checked now, so a missing one
is a usage error, not a failed case per worker), the cluster ``perfkit cluster up`` keeps,
or one started for the run and stopped when it ends, Ctrl-C included. Workers learn which
through variables they inherit (``perfkit.integrations.spark.target``); a cluster that cannot start
makes the backend unavailable, with the reason, and leaves no process behind."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from perfkit.model.workload import Case

__all__ = ["add_spark_options", "spark_for_run"]


def add_spark_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("spark")
    group.add_argument(
        "--spark-master",
        metavar="URL",
        help="spark_cluster: an existing standalone master, spark://HOST:PORT (also "
        "PERFKIT_SPARK_MASTER; its secret from PERFKIT_SPARK_SECRET or --spark-secret-file); "
        "default: the cluster 'perfkit cluster up' keeps, else one started for the run",
    )
    group.add_argument(
        "--spark-secret-file",
        type=Path,
        metavar="FILE",
        help="a file holding the cluster's spark.authenticate secret",
    )
    group.add_argument(
        "--spark-workers",
        type=int,
        default=2,
        metavar="N",
        help="workers of the cluster a run starts for itself (default 2, one core each)",
    )
    group.add_argument(
        "--spark-conf",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a Spark setting for the sessions of the run (spark.executor.memory=512m for "
        "small workers); repeatable, recorded",
    )
    group.add_argument(
        "--spark-ui", action="store_true", help="turn the driver's web UI on (127.0.0.1)"
    )


def parse_spark_conf(assignments: Sequence[str]) -> dict[str, str]:
    """``--spark-conf`` values as settings, or a one-line UsageError."""
    from perfkit.model.errors import UsageError

    settings = {}
    for assignment in assignments:
        key, sep, value = assignment.partition("=")
        key = key.strip()
        if not sep or not key.startswith("spark.") or not value:
            raise UsageError(f"--spark-conf {assignment!r}: expected spark.KEY=VALUE")
        if "secret" in key.lower():
            raise UsageError(
                f"--spark-conf {key}: a secret on the command line is visible to every user; "
                "use PERFKIT_SPARK_SECRET or --spark-secret-file"
            )
        settings[key] = value
    return settings


@contextlib.contextmanager
def _environment(updates: Mapping[str, str]) -> Iterator[None]:
    before = {key: os.environ.get(key) for key in updates}
    os.environ.update(updates)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def spark_for_run(args: argparse.Namespace, cases: Sequence[Case]) -> Iterator[None]:
    from perfkit.integrations.spark.target import (
        ENV_CONF,
        ENV_MASTER,
        ENV_UI,
        ENV_UNAVAILABLE,
        kept_cluster,
    )

    updates: dict[str, str] = {ENV_UI: "1"} if getattr(args, "spark_ui", False) else {}
    conf = parse_spark_conf(getattr(args, "spark_conf", []))
    if conf:
        updates[ENV_CONF] = json.dumps(conf)
    master = getattr(args, "spark_master", None) or os.environ.get(ENV_MASTER) or None
    if master is None and not any(c.implementation.backend == "spark_cluster" for c in cases):
        with _environment(updates):
            yield
        return
    with contextlib.ExitStack() as stack:
        if master is not None:
            updates.update(_given_master(master, getattr(args, "spark_secret_file", None)))
        elif not _named(getattr(args, "backends", None)) and kept_cluster() is None:
            updates[ENV_UNAVAILABLE] = (
                "no cluster to run on: give --spark-master, keep one up with 'perfkit "
                "cluster up', or name -b spark_cluster to start one for the run"
            )
        else:
            updates.update(_cluster_for_run(stack, getattr(args, "spark_workers", 2)))
        stack.enter_context(_environment(updates))
        yield


def _named(selectors: Sequence[str] | None) -> bool:
    """Whether ``-b`` names spark_cluster: a run starts a cluster only when asked to."""
    names = [part.strip() for value in selectors or () for part in value.split(",")]
    return any(name.partition(":")[0] == "spark_cluster" for name in names)


def _given_master(master: str, secret_file: Path | None) -> dict[str, str]:
    from perfkit.integrations.spark.target import (
        ENV_MASTER,
        ENV_SECRET_FILE,
        check_master,
        read_secret,
    )

    updates = {ENV_MASTER: check_master(master)}
    if secret_file is not None:
        updates[ENV_SECRET_FILE] = str(secret_file.resolve())
    read_secret({**os.environ, **updates})  # a usage error now when there is none
    return updates


def _cluster_for_run(stack: contextlib.ExitStack, workers: int) -> dict[str, str]:
    from perfkit.integrations.spark.cluster import ClusterError, ClusterSpec, StandaloneCluster
    from perfkit.integrations.spark.daemons import run_cluster_folder_prefix, sweep_run_clusters
    from perfkit.integrations.spark.target import (
        ENV_STATE,
        ENV_UNAVAILABLE,
        kept_cluster,
        spark_missing,
    )
    from perfkit.machine.load import OWN_SESSIONS, own_sessions_value
    from perfkit.model.errors import UsageError

    if workers < 1:
        raise UsageError(f"--spark-workers {workers}: a cluster needs at least one worker")
    kept = kept_cluster()
    if kept is not None:  # the kept cluster is used: its processes are the run's own work
        return {OWN_SESSIONS: own_sessions_value(kept.sessions)}
    if spark_missing() is not None:
        return {}  # the probe says why the cases are skipped
    sweep_run_clusters()  # the folders (and secrets) of runs that were killed outright
    prefix = run_cluster_folder_prefix()
    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=prefix)))
    print(f"perfkit: starting a Spark master and {workers} workers for the run", file=sys.stderr)
    try:
        cluster = StandaloneCluster(folder, ClusterSpec(workers=workers), tied=True)
        state = stack.enter_context(cluster)
    except ClusterError as exc:
        print(f"perfkit: the run's Spark cluster did not start: {exc}", file=sys.stderr)
        return {ENV_UNAVAILABLE: f"the run's Spark cluster did not start: {exc}"}
    state.save(folder / "cluster.json")
    own = own_sessions_value(state.sessions)
    return {ENV_STATE: str(folder / "cluster.json"), OWN_SESSIONS: own}

"""``perfkit cluster up | status | down``: a Spark standalone cluster kept running between
runs. Its state (master URL, process sessions, folder; no secret) is a small JSON file
under perfkit's cache folder; the secret sits in a 0600 file beside the cluster's logs."""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import time
from pathlib import Path
from typing import Any

from perfkit.integrations.spark.cluster import (
    ClusterSpec,
    ClusterState,
    alive_workers,
    stop_sessions,
)
from perfkit.integrations.spark.daemons import is_spark_daemon, remove_secrets
from perfkit.integrations.spark.keeper import KEEPER_MODULE, start_kept_cluster
from perfkit.integrations.spark.target import state_path
from perfkit.model.errors import ExitCode, UsageError
from perfkit.model.stopping import stop_on_signals

__all__ = ["add_cluster_parser", "cluster_command"]


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return value


def _memory(text: str) -> str:
    if not re.fullmatch(r"[1-9][0-9]*[kmgt]?", text.lower()):
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount of memory such as 512m or 2g")
    return text.lower()


def add_cluster_parser(sub: argparse._SubParsersAction[Any]) -> None:
    cluster = sub.add_parser("cluster", help="a Spark standalone cluster kept up between runs")
    actions = cluster.add_subparsers(dest="action", required=True)
    up = actions.add_parser("up", help="start a master and workers on 127.0.0.1")
    up.add_argument("--workers", type=_positive, default=2, metavar="N", help="workers (default 2)")
    up.add_argument(
        "--cores", type=_positive, default=1, metavar="C", help="cores a worker (default 1)"
    )
    up.add_argument(
        "--memory",
        type=_memory,
        default="1g",
        metavar="M",
        help="memory a worker, as 1g or 512m (default 1g)",
    )
    actions.add_parser("status", help="the running cluster's master URL and live workers")
    actions.add_parser("down", help="stop every process of the running cluster")


def _running() -> ClusterState | None:
    path = state_path()
    if not path.is_file():
        return None
    state = ClusterState.load(path)
    if not state.own_sessions():
        # Its daemons are gone (a reboot, a kill), whatever now has their ids: nothing to keep.
        remove_secrets(Path(state.folder))
        path.unlink()
        return None
    return state


def cluster_command(args: argparse.Namespace) -> int:
    if args.action == "up":
        return _up(args)
    state = _running()
    if state is None:
        raise UsageError("no cluster is up (perfkit cluster up starts one)")
    if args.action == "status":
        alive = alive_workers(state.web_url)
        workers = (
            "the master does not answer"
            if alive is None
            else f"{alive} of {state.spec['workers']} alive"
        )
        print(f"master   {state.master_url}")
        cores = int(state.spec["cores"])
        each = f"{cores} core{'s' if cores > 1 else ''}, {state.spec['memory']} each"
        print(f"workers  {workers} ({each})")
        print(f"secret   {state.secret_file}")
        print(f"logs     {Path(state.folder) / 'logs'}")
        print(f"up since {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(state.started))}")
        return ExitCode.OK if alive == state.spec["workers"] else ExitCode.FAILED
    own = state.own_sessions()
    _stop_keeper(state)
    stop_sessions(own)  # what the keeper left, or a cluster kept by none
    remove_secrets(Path(state.folder))
    state_path().unlink(missing_ok=True)
    print(f"stopped the cluster at {state.master_url}")
    if len(own) < len(state.sessions):
        others = len(state.sessions) - len(own)
        print(f"left alone: {others} of its process ids, no longer its Spark daemons")
    return ExitCode.OK


def _stop_keeper(state: ClusterState, grace: float = 60.0) -> None:
    """SIGTERM the cluster's keeper, if it is still the one that started (it stops its
    daemons and exits), and wait for it to go."""
    keeper = state.keeper
    if keeper is None or not is_spark_daemon(keeper, state.keeper_started, KEEPER_MODULE):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(keeper, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and is_spark_daemon(
        keeper, state.keeper_started, KEEPER_MODULE
    ):
        time.sleep(0.1)


def _up(args: argparse.Namespace) -> int:
    if (state := _running()) is not None:
        raise UsageError(
            f"a cluster is already up at {state.master_url} (perfkit cluster down stops it)"
        )
    spec = ClusterSpec(workers=args.workers, cores=args.cores, memory=args.memory)
    for old in state_path().parent.glob("cluster-*"):  # no cluster is up: none needs one
        remove_secrets(old)
    folder = state_path().parent / time.strftime("cluster-%Y%m%d-%H%M%S")
    print(
        f"perfkit: starting a Spark master and {spec.workers} workers (logs in {folder / 'logs'})"
    )
    # A keeper process holds the daemons (they die with it) and is tied to this one until
    # the cluster is up: SIGINT, SIGTERM and SIGKILL while starting leave no daemon.
    try:
        with stop_on_signals():
            state = start_kept_cluster(folder, state_path(), spec)
    except BaseException:
        state_path().unlink(missing_ok=True)
        raise
    print(f"master   {state.master_url}")
    print(f"secret   {state.secret_file}")
    return ExitCode.OK

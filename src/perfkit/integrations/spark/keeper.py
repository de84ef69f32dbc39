"""The keeper of the cluster ``perfkit cluster up`` leaves running: a small process, in a
session of its own, that starts the daemons tied to itself (``PR_SET_PDEATHSIG``), so
whatever ends it (``cluster down``'s SIGTERM, or a SIGKILL) ends them too.

While the cluster starts, the keeper is itself tied to ``up``: ``up`` killed outright
(SIGKILL) takes the keeper with it, and so every daemon started so far. Once every worker
has registered it says ``ready``; ``up`` answers ``keep``, the keeper unties itself from
``up`` and says ``kept``, and ``up`` may exit. Any other answer (``up`` ended) stops the
cluster. Each daemon is written into the state file the moment it starts, with the keeper's
process id and start time, so ``status`` and ``down`` know the cluster from its first JVM.

    python -m perfkit.integrations.spark.keeper FOLDER STATE WORKERS CORES MEMORY
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from perfkit.integrations.spark.cluster import (
    ClusterError,
    ClusterSpec,
    ClusterState,
    StandaloneCluster,
)
from perfkit.integrations.spark.daemons import death_signal, started_at
from perfkit.model.stopping import check_stop, stop_on_signals

__all__ = ["KEEPER_MODULE", "main", "start_kept_cluster"]

KEEPER_MODULE = "perfkit.integrations.spark.keeper"
_ENDS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}


def start_kept_cluster(
    folder: Path, state_file: Path, spec: ClusterSpec, timeout: float = 240.0
) -> ClusterState:
    """Start the keeper (``main``) and its cluster, hand it the cluster, and return the
    cluster's state once the keeper holds it. A ClusterError says why it did not start;
    SIGINT or SIGTERM while it starts (under ``stop_on_signals``), or ``timeout``
    seconds, ends the keeper and everything it started."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "keeper.log", "wb") as log:
        keeper = subprocess.Popen(
            [sys.executable, "-m", KEEPER_MODULE, str(folder), str(state_file),
             str(spec.workers), str(spec.cores), spec.memory],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, start_new_session=True,
            preexec_fn=death_signal(signal.SIGKILL),  # noqa: PLW1509 - libc only
        )  # fmt: skip
    assert keeper.stdin is not None
    assert keeper.stdout is not None
    deadline = time.monotonic() + timeout
    try:
        word = _heard(keeper, deadline)
        if word != "ready":
            raise ClusterError(word.removeprefix("error ") if word else _ended(keeper, folder))
        keeper.stdin.write(b"keep\n")
        keeper.stdin.flush()
        if _heard(keeper, deadline) != "kept":
            raise ClusterError(_ended(keeper, folder))
    except BaseException:
        _end(keeper)
        raise
    finally:
        keeper.stdin.close()
        keeper.stdout.close()
    return ClusterState.load(state_file)


def _heard(keeper: subprocess.Popen[bytes], deadline: float) -> str:
    """The keeper's next line ("" when it ended), waiting at most until ``deadline``."""
    assert keeper.stdout is not None
    line = b""
    while not line.endswith(b"\n"):
        check_stop()
        left = deadline - time.monotonic()
        if left <= 0:
            raise ClusterError("the cluster's keeper did not start the cluster in time")
        ready, _, _ = select.select([keeper.stdout], [], [], min(left, 0.5))
        if ready:
            chunk = os.read(keeper.stdout.fileno(), 1)
            if not chunk:
                return ""
            line += chunk
    return line.decode(errors="replace").strip()


def _ended(keeper: subprocess.Popen[bytes], folder: Path) -> str:
    code = keeper.wait()
    tail = (folder / "keeper.log").read_text(errors="replace").strip().splitlines()[-1:]
    return f"the cluster's keeper ended ({code}): {' '.join(tail) or 'no output'}"


def _end(keeper: subprocess.Popen[bytes]) -> None:
    """Stop the keeper (it stops its daemons), killing it if it does not go in time."""
    if keeper.poll() is None:
        keeper.terminate()
        try:
            keeper.wait(timeout=60)
        except subprocess.TimeoutExpired:
            keeper.kill()  # its daemons die with it (their parent-death signal)
            keeper.wait()


def _say(word: str) -> None:
    sys.stdout.write(word + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    folder, state_file, workers, cores, memory = argv or sys.argv[1:]
    spec = ClusterSpec(workers=int(workers), cores=int(cores), memory=memory)
    me, born = os.getpid(), started_at(os.getpid())

    def written(state: ClusterState) -> None:
        state.keeper, state.keeper_started = me, born
        state.save(Path(state_file))

    cluster = StandaloneCluster(Path(folder), spec, tied=True, on_launch=written)
    try:
        with stop_on_signals():
            state = cluster.start()  # stops what started, on an error or a signal
    except ClusterError as exc:
        _say(f"error {' '.join(str(exc).split())}")
        return 1
    except KeyboardInterrupt:
        return 130
    written(state)
    signal.pthread_sigmask(signal.SIG_BLOCK, _ENDS)  # from here on, taken by sigwait
    _say("ready")
    if sys.stdin.readline().strip() != "keep":
        cluster.stop()  # `up` is gone or gave up
        return 1
    untie = death_signal(0)
    if untie is not None:
        untie()  # `up` may now exit: the cluster outlives it
    _say("kept")
    devnull = os.open(os.devnull, os.O_RDWR)
    for stream in (0, 1):
        os.dup2(devnull, stream)  # `up`'s pipes: whoever reads them sees them end
    signal.sigwait(_ENDS)
    cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

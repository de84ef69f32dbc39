"""What a Spark cluster leaves on this machine, kept to what it needs while it runs: its
daemons known by process id and start time (an id read back from a file after a reboot may
belong to anything of the user's, so a daemon is signalled only while it is still the JVM
that was started), and its secret in files written privately and removed with it, or swept
on the next start after a run that was killed outright."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

__all__ = [
    "RUN_CLUSTER_PREFIX",
    "death_signal",
    "is_spark_daemon",
    "remove_secrets",
    "run_cluster_folder_prefix",
    "started_at",
    "sweep_run_clusters",
    "write_private",
]

DAEMON_CLASSES = "org.apache.spark.deploy."  # the master's and the workers' main classes
RUN_CLUSTER_PREFIX = "perfkit-cluster-"
SECRET_FILES = ("secret", "spark.properties")  # both hold the secret


def death_signal(signum: int) -> Callable[[], None] | None:
    """A function for a child to run before exec: Linux's ``PR_SET_PDEATHSIG`` sends it
    ``signum`` when its parent dies (``spark-class`` execs the JVM, which keeps it), so a
    process killed outright leaves no daemon; ``signum`` 0 (called by a process on itself)
    takes that back. Prepared in the parent: the child only calls into libc. None where
    there is no such call."""
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def set_death_signal() -> None:
        prctl(1, signum)  # PR_SET_PDEATHSIG

    return set_death_signal


def started_at(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), None when it is gone."""
    import psutil

    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def is_spark_daemon(pid: int, started: float | None, marker: str = DAEMON_CLASSES) -> bool:
    """Whether ``pid`` is still a Spark daemon perfkit started: alive, a Spark deploy class
    (or ``marker``) on its command line, and started when it was recorded to (``started``;
    a state written before start times were recorded is checked by its command line)."""
    import psutil

    try:
        process = psutil.Process(pid)
        command = " ".join(process.cmdline())
        created = process.create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    if marker not in command:
        return False
    return started is None or abs(created - started) < 0.05


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to a new file only its owner may read: whatever was at ``path`` (a
    file of another mode, a symbolic link) is removed first, never written through."""
    if os.path.lexists(path):
        path.unlink()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    descriptor = os.open(path, flags, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)


def remove_secrets(folder: Path) -> None:
    """Remove the secret files of the cluster whose folder is ``folder``."""
    for name in SECRET_FILES:
        with suppress(FileNotFoundError):
            (folder / "conf" / name).unlink()


def run_cluster_folder_prefix() -> str:
    """The prefix of a run's own cluster folder: it names the run's process, so a later
    run can tell a folder whose run was killed (``sweep_run_clusters``)."""
    return f"{RUN_CLUSTER_PREFIX}{os.getpid()}-"


def sweep_run_clusters(root: Path | None = None) -> list[Path]:
    """Remove the cluster folders (secrets, logs, work) that runs killed outright left in
    the temporary folder ``root``: those whose run's process is gone. The removed ones."""
    import psutil

    root = Path(root or tempfile.gettempdir())
    removed = []
    pattern = re.compile(rf"{RUN_CLUSTER_PREFIX}(\d+)-")
    for folder in root.glob(f"{RUN_CLUSTER_PREFIX}*"):
        found = pattern.match(folder.name)
        if found is None or not folder.is_dir() or folder.is_symlink():
            continue
        with suppress(OSError):
            if folder.stat().st_uid != os.getuid():
                continue
        if psutil.pid_exists(int(found.group(1))):
            continue
        remove_secrets(folder)
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed

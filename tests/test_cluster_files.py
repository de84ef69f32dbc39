"""What a Spark cluster leaves on the machine, without starting one: its secret files are
written privately and never through a link, a killed run's cluster folder is swept, and a
process id read back from a file is signalled only while it is still a Spark daemon."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

from perfkit.integrations.spark.cluster import ClusterState
from perfkit.integrations.spark.daemons import (
    RUN_CLUSTER_PREFIX,
    is_spark_daemon,
    remove_secrets,
    run_cluster_folder_prefix,
    started_at,
    sweep_run_clusters,
    write_private,
)


def test_a_private_file_replaces_a_readable_file_and_a_link_without_following_it(
    tmp_path: Path,
) -> None:
    readable = tmp_path / "spark.properties"
    readable.write_text("old\n")
    readable.chmod(0o644)
    write_private(readable, "spark.authenticate.secret s3cret\n")
    assert stat.S_IMODE(readable.stat().st_mode) == 0o600
    target = tmp_path / "elsewhere"
    target.write_text("not yours\n")
    link = tmp_path / "secret"
    link.symlink_to(target)
    write_private(link, "s3cret\n")
    assert target.read_text() == "not yours\n"
    assert not link.is_symlink()
    assert link.read_text() == "s3cret\n"
    assert stat.S_IMODE(link.stat().st_mode) == 0o600


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_killed_runs_cluster_folder_is_swept_and_a_live_runs_kept(tmp_path: Path) -> None:
    dead = tmp_path / f"{RUN_CLUSTER_PREFIX}{_dead_pid()}-abcd"
    live = tmp_path / f"{run_cluster_folder_prefix()}efgh"
    unrelated = tmp_path / f"{RUN_CLUSTER_PREFIX}notapid"
    for folder in (dead, live, unrelated):
        (folder / "conf").mkdir(parents=True)
        write_private(folder / "conf" / "secret", "s3cret\n")
    assert sweep_run_clusters(tmp_path) == [dead]
    assert not dead.exists()
    assert (live / "conf" / "secret").is_file()
    assert (unrelated / "conf" / "secret").is_file()


def test_removing_a_clusters_secrets_removes_both_files_that_hold_it(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    for name in ("secret", "spark.properties", "log4j2.properties"):
        (tmp_path / "conf" / name).write_text("x")
    remove_secrets(tmp_path)
    assert [p.name for p in (tmp_path / "conf").iterdir()] == ["log4j2.properties"]
    remove_secrets(tmp_path)  # again: nothing to remove is no error


def _sleeper(*argv: str) -> subprocess.Popen[bytes]:
    code = "import time; time.sleep(60)"
    return subprocess.Popen([sys.executable, "-c", code, *argv], start_new_session=True)


def test_a_process_id_is_a_daemon_only_while_it_is_the_one_started() -> None:
    daemon = _sleeper("org.apache.spark.deploy.master.Master", "--host", "127.0.0.1")
    other = _sleeper("something", "else")
    try:
        deadline = time.monotonic() + 30  # until the interpreter shows its arguments
        while time.monotonic() < deadline and not is_spark_daemon(daemon.pid, None):
            time.sleep(0.05)
        started = started_at(daemon.pid)
        assert started is not None
        assert is_spark_daemon(daemon.pid, started)
        assert not is_spark_daemon(daemon.pid, started - 3600)  # the id, reused later
        assert not is_spark_daemon(other.pid, started_at(other.pid))
        state = ClusterState(
            "spark://127.0.0.1:1", "http://127.0.0.1:2", "/nowhere", "/nowhere/secret", {},
            sessions=[daemon.pid, other.pid], session_starts=[started, None],
        )  # fmt: skip
        assert state.own_sessions() == [daemon.pid]
    finally:
        for process in (daemon, other):
            os.killpg(process.pid, 9)
            process.wait()
    assert not is_spark_daemon(daemon.pid, started)


def test_a_session_on_a_cluster_off_this_machine_encrypts_and_no_ui_kills(tmp_path: Path) -> None:
    from perfkit.integrations.spark.cluster import _properties
    from perfkit.integrations.spark.session import session_settings

    remote = session_settings("spark://spark-master:7077", tmp_path)
    assert remote["spark.network.crypto.enabled"] == "true"
    assert remote["spark.io.encryption.enabled"] == "true"
    for master in ("spark://127.0.0.1:7077", "spark://localhost:7077", "local[2]"):
        assert "spark.network.crypto.enabled" not in session_settings(master, tmp_path), master
    given = session_settings(
        "spark://10.0.0.5:7077", tmp_path, extra={"spark.network.crypto.enabled": "false"}
    )
    assert given["spark.network.crypto.enabled"] == "false"  # --spark-conf has the last word
    assert remote["spark.ui.killEnabled"] == "false"
    assert "spark.ui.killEnabled false\n" in _properties("s3cret", tmp_path)

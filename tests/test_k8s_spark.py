"""The Spark pods' commands, as the local overlay renders them, make a real standalone cluster
(separate JVMs from the pip-installed pyspark) that the runner Job's own command joins,
authenticated, and measures on. Only what a pod provides is mapped onto this machine: the
addresses (the master's Service name and the pod IP become the loopback address), the ports
(free ones, so a run beside another cluster cannot collide) and the mounted folders (the
secret's volume, the emptyDirs, the reports volume become folders of the test)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from perfkit.integrations.spark.cluster import alive_workers, free_port, spark_home, stop_sessions
from tests.conftest import spark_marks
from tests.k8s_checks import (
    container_variables,
    copy_with_secret,
    expand,
    one,
    render_overlay,
    why_not_rendered,
)

_NOT_RENDERED = why_not_rendered()
pytestmark = [
    *spark_marks(),
    pytest.mark.slow,
    pytest.mark.skipif(_NOT_RENDERED is not None, reason=_NOT_RENDERED or ""),
]

LOOPBACK = "127.0.0.1"
# The cluster starts in seconds here; a minute allows a machine whose cores are both busy.
START_DEADLINE_S = 120
# One quick workload through the harness (minimum samples, Spark jobs): a minute here.
RUN_DEADLINE_S = 900


class Pod:
    """A container of a rendered pod run here: its mounts as folders under ``root``, its
    address the loopback's, its ports as ``ports`` maps them."""

    def __init__(self, spec: dict[str, Any], root: Path, ports: dict[str, str]) -> None:
        self.spec = spec
        self.container = spec["containers"][0]
        self.root = root
        self.ports = ports
        self.folders: dict[str, Path] = {}
        for mount in self.container.get("volumeMounts", []):
            folder = root / mount["mountPath"].strip("/").replace("/", "-")
            folder.mkdir(parents=True, exist_ok=True)
            self.folders[mount["mountPath"]] = folder

    def local(self, text: str) -> str:
        """A command or value with the pod's paths, names and ports made this machine's."""
        paths = "|".join(re.escape(p) for p in sorted(self.folders, key=len, reverse=True))
        if paths:  # in one pass, where a path begins: a mapped folder is not mapped again
            text = re.sub(rf"(?<![\w/])({paths})(?![\w-])", lambda m: str(self.folders[m[1]]), text)
        text = re.sub(r"(?<![-\w])spark-master(?![-\w])", LOOPBACK, text)  # as a host
        for pod_port, port in self.ports.items():  # a port after a space, colon or "="
            text = re.sub(rf"(?<=[\s:=]){pod_port}(?!\d)", port, text)
        return text

    def environment(self) -> dict[str, str]:
        """This machine's environment with the container's variables (a pod's own IP is
        the loopback address) and what the image sets: pyspark's bin on the PATH."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PERFKIT_", "SPARK_"))}
        home = spark_home()
        env.update(SPARK_HOME=str(home), PATH=f"{home / 'bin'}{os.pathsep}{env['PATH']}")
        env.update(PYSPARK_PYTHON=sys.executable)
        variables = container_variables(self.container, pod_ip=LOOPBACK)
        env.update({name: self.local(value) for name, value in variables.items()})
        return env


def _put_secret(pod: Pod, secret: str) -> None:
    """The Secret volume's file: the generator's key, ``secret``."""
    for volume in pod.spec["volumes"]:
        if "secret" in volume:
            mount = next(m for m in pod.container["volumeMounts"] if m["name"] == volume["name"])
            (pod.folders[mount["mountPath"]] / "secret").write_text(secret)


@contextlib.contextmanager
def _started(pod: Pod, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The pod's command running in a session of its own; the session ended after."""
    argv = [pod.local(arg) for arg in pod.container["command"] + pod.container["args"]]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            argv, env=pod.environment(), stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    try:
        yield process
    finally:
        stop_sessions([process.pid], reap=process.poll)  # the JVM, its executors too


def _wait_for(ready: Any, what: str, logs: list[Path]) -> None:
    deadline = time.monotonic() + START_DEADLINE_S
    while not ready():
        if time.monotonic() > deadline:
            tails = "\n".join(f"{p.name}: {p.read_text()[-1500:]}" for p in logs)
            pytest.fail(f"no {what} within {START_DEADLINE_S} s\n{tails}")
        time.sleep(0.5)


def test_the_spark_pods_make_a_cluster_the_runner_jobs_command_measures_on(
    tmp_path: Path,
) -> None:
    folder, secret = copy_with_secret(tmp_path)
    objects = render_overlay(folder, "local")
    master_port, web_port = str(free_port()), str(free_port())
    ports = {"7077": master_port, "8080": web_port, "8081": "0"}
    master = Pod(one(objects, "Deployment", "spark-master")["spec"]["template"]["spec"],
                 tmp_path / "master", ports)  # fmt: skip
    workers_spec = one(objects, "Deployment", "spark-worker")["spec"]
    workers = [
        Pod(workers_spec["template"]["spec"], tmp_path / f"worker-{n}", ports)
        for n in range(workers_spec["replicas"])
    ]
    job = one(objects, "Job", "perfkit-runner")["spec"]["template"]["spec"]
    runner_ports = {**ports, "7078": str(free_port()), "7178": str(free_port())}
    runner = Pod(job, tmp_path / "runner", runner_ports)
    for pod in (master, *workers, runner):
        _put_secret(pod, secret)
    logs = [tmp_path / "master.log"] + [tmp_path / f"worker-{n}.log" for n in range(len(workers))]
    web = f"http://{LOOPBACK}:{web_port}"
    with contextlib.ExitStack() as stack:
        stack.enter_context(_started(master, logs[0]))
        _wait_for(lambda: alive_workers(web) is not None, "master", logs)
        for pod, log in zip(workers, logs[1:], strict=True):
            stack.enter_context(_started(pod, log))
        _wait_for(lambda: (alive_workers(web) or 0) >= len(workers), "workers", logs)
        # The Job's command with its selection narrowed to one quick workload.
        variables = container_variables(runner.container, pod_ip=LOOPBACK)
        argv = [expand(runner.local(arg), variables) for arg in runner.container["args"]]
        suite = argv.index("--suite")
        argv[suite : suite + 2] = ["--workload", "groupby_agg", "--quick"]
        assert argv[0] == "perfkit"
        # The working folder is the image's (read-only) with the reports volume in it.
        working = runner.root / "working"
        working.mkdir()
        reports = runner.folders[f"{runner.container['workingDir']}/reports"]
        (working / "reports").symlink_to(reports, target_is_directory=True)
        done = subprocess.run(
            [sys.executable, "-m", "perfkit", *argv[1:]], cwd=working, env=runner.environment(),
            capture_output=True, text=True, timeout=RUN_DEADLINE_S, check=False,
        )  # fmt: skip
        assert done.returncode == 0, f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    # Nothing but the reports volume was written to (the root file system is read-only).
    assert sorted(os.listdir(working)) == ["reports"]
    (record_path,) = (reports / "runs").glob("*.json")
    assert list(reports.glob("*.html")), "no HTML report on the reports volume"
    results = json.loads(record_path.read_text())["results"]
    assert results
    assert {(r["workload"], r["backend"]) for r in results} == {("groupby_agg", "spark_cluster")}
    assert [r["status"] for r in results] == ["ok"] * len(results)

"""The Kubernetes manifests (deploy/k8s): every overlay renders with the real kustomize
(kubectl's), every object it renders validates against the Kubernetes schemas, every container
runs locked down, the network policies let only workers and runners reach the master, the
Spark secret comes from the user's file and never from the repository, and the runner Job's
command is one perfkit's own parser accepts and resolves to cases."""

from __future__ import annotations

import base64
import copy
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.k8s_checks import (
    K8S,
    SETTINGS,
    container_variables,
    copy_with_secret,
    drop_setting,
    effective,
    expand,
    one,
    pod_specs,
    render,
    render_overlay,
    security_problems,
    selects,
    why_not_rendered,
)

ROOT = Path(__file__).resolve().parent.parent
OVERLAYS = sorted(path.name for path in (K8S / "overlays").iterdir() if path.is_dir())
# The oldest Kubernetes release the manifests are checked against (docs/kubernetes.md says
# 1.31 or newer); each rendered object is also validated against the newest release the
# installed kubernetes-validate knows.
SCHEMA_VERSION = "1.31.0"
_NOT_RENDERED = why_not_rendered()
pytestmark = pytest.mark.skipif(_NOT_RENDERED is not None, reason=_NOT_RENDERED or "")


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A copy of deploy/k8s with the secret file a user makes (the repository has none)."""
    return copy_with_secret(tmp_path_factory.mktemp("k8s"))


@pytest.fixture(scope="module")
def rendered(checkout: tuple[Path, str]) -> dict[str, list[dict[str, Any]]]:
    """Every overlay's objects, as `kubectl kustomize` renders them."""
    folder, _ = checkout
    return {overlay: render_overlay(folder, overlay) for overlay in OVERLAYS}


def _pods(objects: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for obj in objects:
        for spec in pod_specs(obj):
            yield f"{obj['kind']}/{obj['metadata']['name']}", spec


def test_there_are_overlays() -> None:
    assert {"local", "large", "gpu"} <= set(OVERLAYS)


def test_every_overlay_renders_the_whole_application(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    expected = sorted(
        ["Namespace", "PersistentVolumeClaim", "Secret", "Job"]
        + ["Service"] * 2 + ["Deployment"] * 3 + ["NetworkPolicy"] * 7
    )  # fmt: skip
    for overlay, objects in rendered.items():
        assert sorted(o["kind"] for o in objects) == expected, overlay
        for obj in objects:
            if obj["kind"] != "Namespace":
                assert obj["metadata"]["namespace"] == "perfkit", (overlay, obj["kind"])
            assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "perfkit"
        namespace = one(objects, "Namespace", "perfkit")
        assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == (
            "restricted"
        )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_validates_against_the_kubernetes_schemas(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    kubernetes_validate = pytest.importorskip(
        "kubernetes_validate", reason="pip install kubernetes-validate (the test extra has it)"
    )
    for version in (SCHEMA_VERSION, kubernetes_validate.latest_version()):
        for obj in rendered[overlay]:
            # strict: an unknown field (a typo, a field in the wrong place) is an error too.
            kubernetes_validate.validate(obj, version, strict=True)


def test_the_schema_check_can_fail(rendered: dict[str, list[dict[str, Any]]]) -> None:
    """A misplaced field (the container's security context one level too high) and a wrong
    type are errors: the check above is not vacuous."""
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    job = copy.deepcopy(one(rendered["local"], "Job", "perfkit-runner"))
    job["spec"]["template"]["spec"]["readOnlyRootFilesystem"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, SCHEMA_VERSION, strict=True)
    job = copy.deepcopy(one(rendered["local"], "Job", "perfkit-runner"))
    job["spec"]["backoffLimit"] = "none"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, SCHEMA_VERSION, strict=True)


def test_every_container_of_every_overlay_runs_locked_down(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    seen = 0
    for overlay, objects in rendered.items():
        for where, spec in _pods(objects):
            assert security_problems(spec) == [], f"{overlay} {where}"
            seen += 1
    assert seen == 4 * len(OVERLAYS)  # master, workers, runner, report server


@pytest.mark.parametrize("setting", sorted(SETTINGS))
def test_removing_any_security_setting_from_any_pod_is_caught(
    rendered: dict[str, list[dict[str, Any]]], setting: str
) -> None:
    for overlay, objects in rendered.items():
        for where, spec in _pods(objects):
            broken = copy.deepcopy(spec)
            drop_setting(broken, setting)
            problems = security_problems(broken)
            assert any(setting in p for p in problems), f"{overlay} {where} {setting}"


def test_a_second_container_without_the_settings_is_caught(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    """The settings are patched onto each pod's first container: a sidecar added later
    would lack them, and the check names it."""
    (_, spec), *_ = _pods(rendered["local"])
    spec = copy.deepcopy(spec)
    spec["containers"].append({"name": "sidecar", "image": "perfkit"})
    problems = security_problems(spec)
    assert problems
    assert all("sidecar" in p for p in problems)


def test_only_workers_and_runners_reach_the_master_port(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    for overlay, objects in rendered.items():
        policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
        pods = {where: spec_labels for where, spec_labels in _pod_labels(objects)}
        master = pods["Deployment/spark-master"]
        deny = [p for p in policies if p["spec"]["podSelector"] == {}]
        assert sorted(p["spec"]["policyTypes"] for p in deny) == [["Egress"], ["Ingress"]]
        assert all("ingress" not in p["spec"] and "egress" not in p["spec"] for p in deny)
        allowed: set[str] = set()
        for policy in policies:
            if not selects(policy["spec"]["podSelector"], master):
                continue
            for rule in policy["spec"].get("ingress", []):
                ports = {p["port"] for p in rule.get("ports", [])}
                assert ports == {7077}, f"{overlay}: the master opens {ports or 'every port'}"
                assert rule.get("from"), f"{overlay}: the master's port is open to all"
                for peer in rule["from"]:
                    assert set(peer) == {"podSelector"}, f"{overlay}: {peer} is not a pod"
                    allowed |= {w for w, labels in pods.items()
                                if selects(peer["podSelector"], labels)}  # fmt: skip
        assert allowed == {"Deployment/spark-worker", "Job/perfkit-runner"}, overlay


def _pod_labels(objects: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, str]]]:
    for obj in objects:
        if obj["kind"] in ("Deployment", "Job"):
            labels = obj["spec"]["template"]["metadata"]["labels"]
            yield f"{obj['kind']}/{obj['metadata']['name']}", labels


def test_every_pod_that_takes_connections_has_a_policy_that_lets_them_in(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    """Default deny, then one policy per role: a pod no policy selects could not be reached
    at all (the workers by the driver, the runner by its executors, the report server)."""
    for overlay, objects in rendered.items():
        policies = [o for o in objects if o["kind"] == "NetworkPolicy" and o["spec"].get("ingress")]
        for where, labels in _pod_labels(objects):
            assert any(selects(p["spec"]["podSelector"], labels) for p in policies), (
                f"{overlay}: nothing may reach {where}"
            )


_SPARK_ROLES = {"spark-master", "spark-worker", "runner"}


def _egress_peers(policies: list[dict[str, Any]], labels: dict[str, str]) -> list[dict[str, Any]]:
    """The ``to`` peers (with their ports) of every egress rule that applies to a pod."""
    peers = []
    for policy in policies:
        if "Egress" in policy["spec"]["policyTypes"] and selects(
            policy["spec"]["podSelector"], labels
        ):
            for rule in policy["spec"].get("egress", []):
                assert rule.get("to"), f"{policy['metadata']['name']}: egress to anywhere"
                peers += [{**peer, "ports": rule.get("ports", [])} for peer in rule["to"]]
    return peers


def test_pods_reach_out_only_to_the_spark_pods_and_the_cluster_dns(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    for overlay, objects in rendered.items():
        policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
        pods = dict(_pod_labels(objects))
        for where, labels in pods.items():
            peers = _egress_peers(policies, labels)
            role = labels["perfkit.dev/role"]
            if role not in _SPARK_ROLES:
                assert peers == [], f"{overlay}: {where} may connect out"
                continue
            reached = set()
            for peer in peers:
                if "namespaceSelector" in peer:  # the cluster's DNS, port 53 only
                    assert peer["namespaceSelector"]["matchLabels"] == {
                        "kubernetes.io/metadata.name": "kube-system"
                    }
                    assert {p["port"] for p in peer["ports"]} == {53}, overlay
                    continue
                assert set(peer) == {"podSelector", "ports"}, f"{overlay}: {peer}"
                reached |= {pods[w]["perfkit.dev/role"] for w in pods
                            if selects(peer["podSelector"], pods[w])}  # fmt: skip
            assert reached == _SPARK_ROLES, f"{overlay}: {where} reaches {reached}"


def _spark_properties(obj: dict[str, Any]) -> dict[str, str]:
    """The Spark properties a daemon's pod writes at start (its ``printf`` line)."""
    script = " ".join(obj["spec"]["template"]["spec"]["containers"][0]["args"])
    printed = script.split("printf '", 1)[1].split("'", 1)[0]
    return dict(line.split(" ", 1) for line in printed.split("\\n") if line)


def test_spark_traffic_between_pods_is_encrypted_and_the_ui_cannot_kill(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    for overlay, objects in rendered.items():
        for name in SPARK:
            properties = _spark_properties(one(objects, "Deployment", name))
            assert properties["spark.authenticate"] == "true", (overlay, name)
            assert properties["spark.network.crypto.enabled"] == "true", (overlay, name)
            assert properties["spark.io.encryption.enabled"] == "true", (overlay, name)
            assert properties["spark.ui.killEnabled"] == "false", (overlay, name)
        if overlay == "gpu":
            continue  # its runner uses no Spark
        _, runner = _runner(objects)
        settings = [runner["args"][i + 1] for i, a in enumerate(runner["args"])
                    if a == "--spark-conf"]  # fmt: skip
        assert "spark.network.crypto.enabled=true" in settings, overlay
        assert "spark.io.encryption.enabled=true" in settings, overlay


def _node_rules(spec: dict[str, Any]) -> tuple[Any, Any]:
    return spec.get("nodeSelector"), spec.get("tolerations")


def test_the_pods_that_mount_a_read_write_once_volume_share_a_node(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    """A ReadWriteOnce volume attaches to one node: the runner Job must be placed on the
    report server's (a required pod affinity), and where the runner goes to GPU nodes the
    report server must be able to go there too (else Multi-Attach, or never placed)."""
    for overlay, objects in rendered.items():
        (claim,) = [o for o in objects if o["kind"] == "PersistentVolumeClaim"]
        runner_spec, _ = _runner(objects)
        server = one(objects, "Deployment", "report-server")
        server_spec = server["spec"]["template"]["spec"]
        if claim["spec"]["accessModes"] == ["ReadWriteMany"]:
            continue
        assert claim["spec"]["accessModes"] == ["ReadWriteOnce"], overlay
        (term,) = runner_spec["affinity"]["podAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"
        ]
        assert term["topologyKey"] == "kubernetes.io/hostname", overlay
        assert selects(term["labelSelector"], server["spec"]["template"]["metadata"]["labels"])
        assert _node_rules(runner_spec) == _node_rules(server_spec), overlay


def test_the_secret_comes_from_the_users_file_and_is_never_committed(
    checkout: tuple[Path, str], rendered: dict[str, list[dict[str, Any]]]
) -> None:
    folder, secret = checkout
    for _overlay, objects in rendered.items():
        made = one(objects, "Secret", "spark-auth")
        assert base64.b64decode(made["data"]["secret"]).decode() == secret
        for where, spec in _pods(objects):
            for volume in spec.get("volumes", []):
                if "secret" in volume:  # mounts the generated (hash-suffixed) name
                    assert volume["secret"]["secretName"] == made["metadata"]["name"], where
    tracked = subprocess.run(
        ["git", "ls-files", "deploy"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert tracked
    assert not any(path.endswith("spark-secret.txt") for path in tracked)
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "deploy/k8s/base/spark-secret.txt"], cwd=ROOT, check=False
    )
    assert ignored.returncode == 0, "deploy/k8s/base/spark-secret.txt is not gitignored"
    # Without the file, rendering stops and names it.
    bare = folder.parent / "bare"
    shutil.copytree(folder, bare)
    (bare / "base" / "spark-secret.txt").unlink()
    done = render(bare / "overlays" / "local")
    assert done.returncode != 0
    assert "spark-secret.txt" in done.stderr


def _runner(objects: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    job = one(objects, "Job", "perfkit-runner")
    spec = job["spec"]["template"]["spec"]
    return spec, spec["containers"][0]


def _mounts(spec: dict[str, Any], container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each mount path of a container, with the volume mounted there."""
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    return {m["mountPath"]: {**volumes[m["name"]], **m} for m in container["volumeMounts"]}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_runner_jobs_command_is_one_perfkit_parses_and_runs(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    from perfkit.cli.parser import _build_parser
    from perfkit.cli.selection import cases_from, resolve_selection
    from perfkit.integrations.spark.for_run import parse_spark_conf
    from perfkit.model import registry

    registry.load()
    objects = rendered[overlay]
    spec, container = _runner(objects)
    env = container_variables(container, pod_ip="10.1.2.3")
    argv = [expand(arg, env) for arg in container.get("command", []) + container["args"]]
    assert argv[0] == "perfkit", argv
    args = _build_parser().parse_args(argv[1:])
    assert args.command == "run"
    cases = cases_from(args, resolve_selection(args)[0])
    assert cases
    assert {c.implementation.backend for c in cases} <= set(args.backends)
    mounts = _mounts(spec, container)
    # The record and report go to reports/ under the working folder: the shared volume.
    reports = mounts[f"{container['workingDir']}/reports"]
    assert reports["persistentVolumeClaim"]["claimName"] == "reports"
    assert not reports.get("readOnly")
    if "spark_cluster" not in args.backends:
        return
    services = {
        o["metadata"]["name"]: {p["port"] for p in o["spec"]["ports"]}
        for o in objects if o["kind"] == "Service"
    }  # fmt: skip
    assert args.spark_master == "spark://spark-master:7077"
    assert 7077 in services["spark-master"]
    secret_folder = str(args.spark_secret_file.parent)
    assert "secret" in mounts[secret_folder], "the secret file is not on the secret's volume"
    assert args.spark_secret_file.name == "secret"  # the generator's key
    conf = parse_spark_conf(args.spark_conf)
    assert conf["spark.driver.host"] == "10.1.2.3"  # the pod's own address
    assert {"spark.driver.port", "spark.blockManager.port"} <= set(conf)


def test_the_report_server_serves_the_volume_the_runner_writes(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    for overlay, objects in rendered.items():
        deployment = one(objects, "Deployment", "report-server")
        spec = deployment["spec"]["template"]["spec"]
        (server,) = spec["containers"]
        folder = server["args"][server["args"].index("--directory") + 1]
        mount = _mounts(spec, server)[folder]
        assert mount["persistentVolumeClaim"]["claimName"] == "reports", overlay
        assert mount["readOnly"], overlay
        assert mount["persistentVolumeClaim"]["readOnly"], overlay
        port = server["ports"][0]
        service = one(objects, "Service", "report-server")
        assert service["spec"]["ports"][0]["targetPort"] == port["name"]
        assert selects({"matchLabels": service["spec"]["selector"]},
                       deployment["spec"]["template"]["metadata"]["labels"])  # fmt: skip


SPARK = ("spark-master", "spark-worker")


def test_each_overlay_makes_its_change(rendered: dict[str, list[dict[str, Any]]]) -> None:
    local, large, gpu = rendered["local"], rendered["large"], rendered["gpu"]
    for _, spec in _pods(local):
        assert all(c["imagePullPolicy"] == "IfNotPresent" for c in spec["containers"])
    assert one(large, "Deployment", "spark-worker")["spec"]["replicas"] == 8
    assert one(large, "PersistentVolumeClaim", "reports")["spec"]["accessModes"] == [
        "ReadWriteMany"
    ]
    images = {c["image"] for _, spec in _pods(large) for c in spec["containers"]}
    assert len(images) == 1
    assert images.pop().startswith("registry.example.com/perfkit:")
    spec, container = _runner(gpu)
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec[
        "tolerations"
    ]
    assert spec["nodeSelector"]
    assert container["image"].startswith("perfkit-gpu:")
    # The GPU runner uses no Spark: no master or worker pods run beside it.
    assert [one(gpu, "Deployment", name)["spec"]["replicas"] for name in SPARK] == [0, 0]
    assert [one(local, "Deployment", name)["spec"]["replicas"] for name in SPARK] == [1, 2]


def test_the_pod_security_patch_names_the_images_user(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    """The UID the pods run as is the one the image creates (Dockerfile's USER)."""
    from tests.test_dockerfile import final_user

    uid = final_user(ROOT / "Dockerfile").split(":")[0]
    for _, spec in _pods(rendered["local"]):
        for container in spec["containers"]:
            assert str(effective(spec, container, "runAsUser")) == uid

"""The Kubernetes tests' tools: rendering an overlay with kubectl's kustomize (in a copy of
deploy/k8s with a generated secret file), the security settings every container must carry
(each named, so a test can remove one and see it caught), and how a NetworkPolicy's pod
selector matches labels."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "K8S",
    "KUBECTL",
    "SETTINGS",
    "container_variables",
    "copy_with_secret",
    "drop_setting",
    "effective",
    "expand",
    "one",
    "pod_specs",
    "render",
    "render_overlay",
    "security_problems",
    "selects",
    "why_not_rendered",
]

K8S = Path(__file__).resolve().parent.parent / "deploy" / "k8s"
KUBECTL = shutil.which("kubectl")
# Rendering takes a second here; the deadline allows a machine whose cores are both busy.
RENDER_DEADLINE_S = 120


def _kustomize_major() -> int | None:
    """The major version of the kustomize built into kubectl (None: too old to say)."""
    assert KUBECTL is not None
    done = subprocess.run(
        [KUBECTL, "version", "--client", "-o", "json"],
        capture_output=True, text=True, timeout=RENDER_DEADLINE_S, check=False,
    )  # fmt: skip
    version = json.loads(done.stdout or "{}").get("kustomizeVersion", "")
    return int(version.lstrip("v").split(".")[0]) if version[1:2].isdigit() else None


def why_not_rendered() -> str | None:
    """Why the overlays cannot be rendered here (None: they can)."""
    if KUBECTL is None:
        return "kubectl is not installed (apt-get install kubectl; .ci/run installs it)"
    major = _kustomize_major()
    if major is None or major < 4:
        return (
            "this kubectl embeds a kustomize older than v4, which lacks the `patches`, "
            "`labels` and `replicas` fields the overlays use; install kubectl 1.22 or newer"
        )
    return None


def copy_with_secret(folder: Path) -> tuple[Path, str]:
    """A copy of deploy/k8s under ``folder`` with the secret file a user makes (the
    repository has none), and the secret."""
    copy = folder / "k8s"
    shutil.copytree(K8S, copy)
    secret = secrets.token_urlsafe(32)
    (copy / "base" / "spark-secret.txt").write_text(secret)
    return copy, secret


def render(folder: Path) -> subprocess.CompletedProcess[str]:
    """``kubectl kustomize FOLDER``, finished."""
    assert KUBECTL is not None
    return subprocess.run(
        [KUBECTL, "kustomize", str(folder)],
        capture_output=True, text=True, timeout=RENDER_DEADLINE_S, check=False,
    )  # fmt: skip


def render_overlay(copy: Path, overlay: str) -> list[dict[str, Any]]:
    """The objects an overlay of a copy renders to."""
    done = render(copy / "overlays" / overlay)
    assert done.returncode == 0, f"{overlay}: {done.stderr}"
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def one(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """The one object of that kind whose name is ``name`` (with a generator's suffix)."""
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"].startswith(name)]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} objects"
    return found[0]


# Settings a container may inherit from its pod's security context.
_INHERITED = ("runAsNonRoot", "runAsUser", "runAsGroup", "seccompProfile")


def pod_specs(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The pod specs an object makes (none for a Service, a policy ...)."""
    kind, spec = obj["kind"], obj.get("spec", {})
    if kind == "Pod":
        return [spec]
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        return [spec["template"]["spec"]]
    if kind == "CronJob":
        return [spec["jobTemplate"]["spec"]["template"]["spec"]]
    return []


def container_variables(container: dict[str, Any], pod_ip: str) -> dict[str, str]:
    """A container's environment variables as its pod sees them, ``pod_ip`` its address
    (the one value the manifests take from the downward API)."""
    variables = {}
    for variable in container.get("env", []):
        if "valueFrom" in variable:
            assert variable["valueFrom"] == {"fieldRef": {"fieldPath": "status.podIP"}}
            variables[variable["name"]] = pod_ip
        else:
            variables[variable["name"]] = variable["value"]
    return variables


def expand(arg: str, variables: dict[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion of a container's command and args."""
    for name, value in variables.items():
        arg = arg.replace(f"$({name})", value)
    assert "$(" not in arg, f"{arg}: a variable the container does not define"
    return arg


def effective(pod: dict[str, Any], container: dict[str, Any], key: str) -> Any:
    """A security setting as it applies to the container: its own, else its pod's."""
    own = container.get("securityContext", {})
    if key in own:
        return own[key]
    return pod.get("securityContext", {}).get(key) if key in _INHERITED else None


def _resources(kind: str) -> Callable[[dict[str, Any], dict[str, Any]], bool]:
    def check(pod: dict[str, Any], container: dict[str, Any]) -> bool:
        given = container.get("resources", {}).get(kind, {})
        return {"cpu", "memory"} <= set(given)

    return check


# Each setting, and whether a container satisfies it.
SETTINGS: dict[str, Callable[[dict[str, Any], dict[str, Any]], bool]] = {
    "runAsNonRoot": lambda p, c: effective(p, c, "runAsNonRoot") is True,
    "runAsUser": lambda p, c: (
        isinstance(effective(p, c, "runAsUser"), int) and effective(p, c, "runAsUser") > 0
    ),
    "allowPrivilegeEscalation": lambda p, c: effective(p, c, "allowPrivilegeEscalation") is False,
    "capabilities": lambda p, c: "ALL" in (effective(p, c, "capabilities") or {}).get("drop", []),
    "seccompProfile": lambda p, c: (
        (effective(p, c, "seccompProfile") or {}).get("type") == "RuntimeDefault"
    ),
    "readOnlyRootFilesystem": lambda p, c: effective(p, c, "readOnlyRootFilesystem") is True,
    "requests": _resources("requests"),
    "limits": _resources("limits"),
}


def _containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return list(pod.get("initContainers", [])) + list(pod["containers"])


def security_problems(pod: dict[str, Any]) -> list[str]:
    """``container: setting`` for each setting a container of the pod lacks."""
    return [
        f"{container['name']}: {name}"
        for container in _containers(pod)
        for name, holds in SETTINGS.items()
        if not holds(pod, container)
    ]


def drop_setting(pod: dict[str, Any], name: str) -> None:
    """Remove a setting everywhere the pod gives it (its own context and its containers')."""
    pod.get("securityContext", {}).pop(name, None)
    for container in _containers(pod):
        if name in ("requests", "limits"):
            container.get("resources", {}).pop(name, None)
        else:
            container.get("securityContext", {}).pop(name, None)


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels, matchExpressions) matches the labels."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values", [])
        holds = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[operator]
        if not holds:
            return False
    return True

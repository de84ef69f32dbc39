"""What the Kubernetes tests check of a rendered pod: the security settings every container
must carry (each setting named, so a test can remove one and see it caught), and how a
NetworkPolicy's pod selector matches labels."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["SETTINGS", "drop_setting", "effective", "pod_specs", "security_problems", "selects"]

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
    "runAsUser": lambda p, c: isinstance(effective(p, c, "runAsUser"), int)
    and effective(p, c, "runAsUser") > 0,
    "allowPrivilegeEscalation": lambda p, c: effective(p, c, "allowPrivilegeEscalation") is False,
    "capabilities": lambda p, c: "ALL"
    in (effective(p, c, "capabilities") or {}).get("drop", []),
    "seccompProfile": lambda p, c: (effective(p, c, "seccompProfile") or {}).get("type")
    == "RuntimeDefault",
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

"""The one list of workloads and backends: discovered once, enumerated into cases."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import pkgutil
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from perfkit.model import backend as backend_module
from perfkit.model.axes import ParamValue
from perfkit.model.errors import UsageError
from perfkit.model.workload import Case, Workload

__all__ = [
    "Suite",
    "expand_cases",
    "get_suite",
    "get_workload",
    "load",
    "register_workload",
    "resolve_case",
    "suites",
    "workloads",
]

_WORKLOADS: dict[str, Workload] = {}
# What load() has imported: "perfkit" for the built-in packages, then plugin paths.
_LOADED: set[str] = set()


def register_workload(workload: Workload) -> Workload:
    """Make a workload known to perfkit. Its name must be new and it needs one reference."""
    if workload.name in _WORKLOADS:
        raise ValueError(f"workload {workload.name!r} is registered twice")
    _ = workload.reference  # raises unless exactly one reference implementation
    _WORKLOADS[workload.name] = workload
    return workload


def load(plugins: Sequence[str | Path] = ()) -> None:
    """Import every ``perfkit.backends.*`` and ``perfkit.workloads.*`` module, then plugin files.

    A plugin is a Python file that registers workloads or backends the way the built-in
    modules do; tests use them for deliberately broken implementations.
    """
    if "perfkit" not in _LOADED:
        _LOADED.add("perfkit")
        for package in ("perfkit.backends", "perfkit.workloads"):
            module = importlib.import_module(package)
            for info in sorted(pkgutil.iter_modules(module.__path__), key=lambda m: m.name):
                if info.name.startswith("_"):  # shared helpers, not registrations
                    continue
                importlib.import_module(f"{package}.{info.name}")
    for plugin in plugins:
        _load_plugin(Path(plugin))
    _derive_implementations()


def _load_plugin(path: Path) -> None:
    resolved = str(path.resolve())
    if resolved in _LOADED:
        return
    if not path.is_file():
        raise UsageError(f"plugin {path}: no such file")
    digest = hashlib.sha1(resolved.encode()).hexdigest()[:8]
    name = f"perfkit_plugin_{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"plugin {path}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    _LOADED.add(resolved)


def _derive_implementations() -> None:
    """Add the implementations of derived backends to every workload that has their base."""
    for workload in _WORKLOADS.values():
        if workload._derived:
            continue
        for derived in backend_module.iter_derived():
            for impl in [i for i in workload.implementations if i.backend == derived.base]:
                for new in derived.derive(impl):
                    workload.add(new)
        workload._derived = True


def workloads() -> dict[str, Workload]:
    return dict(_WORKLOADS)


@dataclass(frozen=True)
class Suite:
    """Workloads run together: those that name the suite, or (``gpu``) every workload with a
    port on an accelerator, run on those backends only (``backends``; None: every one)."""

    name: str
    workloads: tuple[str, ...]
    backends: tuple[str, ...] | None = None


def suites() -> dict[str, Suite]:
    """Every suite the registered workloads make: each workload's ``suite``, and ``gpu``."""
    found: dict[str, list[str]] = {}
    for name, spec in sorted(_WORKLOADS.items()):
        found.setdefault(spec.suite, []).append(name)
    out = {name: Suite(name, tuple(names)) for name, names in sorted(found.items())}
    devices = {name: b.device for name, b in backend_module.backends().items()}
    accelerated = sorted({n for n, device in devices.items() if device != "cpu"})
    ported = [
        name
        for name, spec in sorted(_WORKLOADS.items())
        if any(impl.backend in accelerated for impl in spec.implementations)
    ]
    if ported:
        out["gpu"] = Suite("gpu", tuple(ported), tuple(accelerated))
    return out


def get_suite(name: str) -> Suite:
    found = suites()
    if name not in found:
        valid = ", ".join(found)
        raise UsageError(f"unknown suite {name!r}; valid suites: {valid}")
    return found[name]


def get_workload(name: str) -> Workload:
    try:
        return _WORKLOADS[name]
    except KeyError:
        valid = ", ".join(sorted(_WORKLOADS))
        raise UsageError(f"unknown workload {name!r}; valid workloads: {valid}") from None


def _select_implementations(workload: Workload, selectors: Sequence[str] | None) -> list[str]:
    """Implementation keys for ``--backends numpy torch_eager:default`` (all when None)."""
    keys = [impl.key for impl in workload.implementations]
    if not selectors:
        return keys
    known = backend_module.backends()
    chosen: list[str] = []
    for selector in selectors:
        backend_name = selector.split(":", 1)[0]
        if backend_name not in known:
            valid = ", ".join(sorted(known))
            raise UsageError(f"unknown backend {backend_name!r}; valid backends: {valid}")
        matches = [k for k in keys if k == selector or k.split(":", 1)[0] == selector]
        if not matches:
            raise UsageError(
                f"workload {workload.name} has no port {selector!r}; its ports: {', '.join(keys)}"
            )
        chosen.extend(m for m in matches if m not in chosen)
    return chosen


def parse_param_overrides(
    workload: Workload, assignments: Iterable[str]
) -> dict[str, list[ParamValue]]:
    """``["n=512,1024", "dtype=float32"]`` into typed values, or a one-line UsageError."""
    overrides: dict[str, list[ParamValue]] = {}
    for assignment in assignments:
        name, sep, values = assignment.partition("=")
        if not sep or not values:
            raise UsageError(f"--param {assignment!r}: expected NAME=VALUE[,VALUE...]")
        axis = workload.space.axis(name.strip())
        overrides.setdefault(axis.name, []).extend(
            axis.parse(v.strip()) for v in values.split(",") if v.strip()
        )
    return overrides


def expand_cases(
    workload: Workload,
    selectors: Sequence[str] | None = None,
    overrides: Mapping[str, Sequence[ParamValue]] | None = None,
    quick: bool = False,
) -> list[Case]:
    """Every case of one workload for a run, grouped by parameters, reference first."""
    keys = _select_implementations(workload, selectors)
    ref_key = workload.reference.key
    keys.sort(key=lambda k: k != ref_key)
    cases = []
    for params in workload.space.expand(quick=quick, overrides=overrides):
        for key in keys:
            cases.append(Case(workload, workload.implementation(key), params))
    return cases


def resolve_case(spec: Mapping[str, object]) -> Case:
    """The inverse of ``Case.to_json``, used by workers."""
    workload = get_workload(str(spec["workload"]))
    params = spec["params"]
    if not isinstance(params, dict):
        raise ValueError(f"bad case spec {spec!r}")
    return Case(workload, workload.implementation(str(spec["implementation"])), params)

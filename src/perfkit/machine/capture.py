"""Machine and software environment of a run, for records and for must-match checks."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from perfkit.machine.cpu import cache_bytes, cpu_brand, cpu_flags
from perfkit.model.backend import backends, package_versions
from perfkit.records.environment import BackendInfo, Environment, GitState, Gpu, Machine, PythonInfo

__all__ = ["capture_environment", "cpu_brand", "git_state"]

_LIBRARIES = ("numpy", "scipy", "threadpoolctl", "psutil", "perfkit")


def git_state(start: Path | None = None) -> dict[str, Any]:
    """The commit and dirty flag of the checkout perfkit runs from (None outside git)."""
    folder = start or Path(__file__).resolve().parent

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(folder), *args],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    sha = git("rev-parse", "HEAD")
    if sha is None:
        return {"sha": None, "dirty": None}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"sha": sha, "dirty": bool(status)}


def _settings(backend: Any) -> dict[str, str]:
    settings = getattr(backend, "settings", None)  # a side's older tree may lack it
    return dict(settings()) if settings is not None else {}


def capture_environment(probe_backends: bool = True) -> Environment:
    """CPU, memory, OS, Python, library versions, GPUs (NVML), backends, git state and how
    quiet the machine is. Probing backends builds nothing (``perfkit env`` only reads)."""
    import psutil

    from perfkit.machine.load import system_load
    from perfkit.machine.nvml import gpu_environment

    machine = Machine(
        cpu=cpu_brand(),
        arch=platform.machine(),
        flags=cpu_flags(),
        l2_cache_bytes=cache_bytes(2),
        l3_cache_bytes=cache_bytes(3),
        cores_logical=psutil.cpu_count(logical=True),
        cores_physical=psutil.cpu_count(logical=False),
        cores_usable=len(os.sched_getaffinity(0)),
        memory_bytes=psutil.virtual_memory().total,
        os=platform.platform(),
        hostname=platform.node(),
    )
    table = {}
    if probe_backends:
        for name, backend in sorted(backends().items()):
            availability = backend.probe()
            table[name] = BackendInfo(
                available=availability.ok,
                reason=availability.reason,
                device=backend.device,
                versions=backend.versions() if availability.ok else {},
                settings=_settings(backend) if availability.ok else {},
            )
    git = git_state()
    return Environment(
        machine=machine,
        python=PythonInfo(platform.python_version(), platform.python_implementation()),
        libraries=package_versions(*_LIBRARIES),
        git=GitState(git["sha"], git["dirty"]),
        gpus=tuple(Gpu(**gpu) for gpu in gpu_environment()),
        backends=table,
        load=system_load(),
    )

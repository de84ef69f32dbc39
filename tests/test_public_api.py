"""The public API stays where plugins find it: every name ``from perfkit import ...`` gave
before the package was laid out by responsibility, and the plugin API of
``docs/extending.md``."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import perfkit

# The names of ``perfkit.__all__`` plugins and users rely on: a name may be added, never
# removed or moved.
PUBLIC = (
    "SCHEMA_VERSION", "Availability", "Axis", "Backend", "Case", "CaseResult", "CheckResult",
    "CpuBackend", "DerivedBackend", "Implementation", "MeasurePolicy", "Measurement",
    "ParamSpace", "RecordError", "RunRecord", "SampleRun", "Skip", "UsageError", "Work",
    "Workload", "exact_match", "load_record", "register_backend", "register_workload",
    "relative_error", "workload",
)  # fmt: skip


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_name_imports_from_the_package(name: str) -> None:
    assert name in perfkit.__all__
    namespace: dict[str, object] = {}
    exec(f"from perfkit import {name}", namespace)
    assert namespace[name] is getattr(perfkit, name)


def test_all_names_only_what_the_package_has() -> None:
    missing = [name for name in perfkit.__all__ if not hasattr(perfkit, name)]
    assert missing == []


def test_the_plugin_api_of_the_extending_guide() -> None:
    """What docs/extending.md tells a plugin to use, beside ``from perfkit import``."""
    torch_eager = importlib.import_module("perfkit.backends.torch_eager")
    assert callable(torch_eager.compiled)
    backend = perfkit.CpuBackend()
    for method in ("probe", "session", "to_device", "from_device", "sync", "timer", "monitor",
                   "versions", "settings"):  # fmt: skip
        assert callable(getattr(backend, method)), method
    assert issubclass(perfkit.Skip, Exception)


def test_the_command_line_entry_points() -> None:
    """``perfkit`` (the console script's ``perfkit.cli:main``) and ``python -m perfkit``."""
    from perfkit.cli import main

    assert main(["list"]) == 0
    # 120 s: a Python start-up, slow only on a loaded machine
    command = [sys.executable, "-m", "perfkit", "--help"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "compare" in done.stdout

"""The measuring harness, told apart from the ports it measures.

The harness is the code that turns a thunk into samples: the sampling loop, the timers, the
worker, the policy, the load meter. The ports are the workloads and backends. ``perfkit ab``
measures both sides with one harness (this one) over each side's ports, so that a pull
request that changes the harness cannot shift every verdict; where a side's ports cannot be
loaded by this harness, that side runs its own, and the fingerprints below tell whether the
two harnesses differ.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

__all__ = ["HARNESS_FILES", "fingerprint", "load_ports_from", "ports_load", "workloads_taken"]

# Paths inside the package folder; an older tree keeps them elsewhere, so its fingerprint differs.
HARNESS_FILES = (
    "engine/sampler.py",
    "model/timers.py",
    "engine/worker.py",
    "model/policy.py",
    "machine/load.py",
    "verdict/stats.py",
)
_PACKAGE = Path(__file__).resolve().parents[1]


def fingerprint(package: Path | None = None) -> str:
    """A short hash of the harness files of the ``perfkit`` package folder ``package``
    (this one by default); files missing from an older tree count as empty."""
    folder = package or _PACKAGE
    digest = hashlib.sha256()
    for name in HARNESS_FILES:
        path = folder / name
        digest.update(name.encode())
        digest.update(path.read_bytes() if path.is_file() else b"")
    return digest.hexdigest()[:12]


def load_ports_from(source: Path) -> None:
    """Make ``perfkit.workloads`` and ``perfkit.backends`` import from the ``perfkit``
    package under ``source`` (a side's tree) instead of this one: call before
    ``registry.load``. Everything else, the harness, stays this process's own. A workload
    module the side lacks comes from this harness (``workloads_taken``): a workload added
    since, such as an allocation pattern, then measures that side's backends too."""
    import perfkit.backends
    import perfkit.workloads

    for package in (perfkit.workloads, perfkit.backends):
        name = package.__name__.rsplit(".", 1)[1]
        own = list(package.__path__) if package is perfkit.workloads else []
        package.__path__[:] = [str(source / "perfkit" / name), *own]


def workloads_taken(source: Path) -> list[str]:
    """The workload modules of this harness that the tree ``source`` lacks, which
    ``load_ports_from`` takes from here."""
    import perfkit.workloads

    def modules(folder: Path) -> set[str]:
        return {p.stem for p in folder.glob("*.py") if not p.name.startswith("_")}

    side = modules(source / "perfkit" / "workloads")
    ours = set().union(*(modules(Path(f)) for f in perfkit.workloads.__path__))
    return sorted(ours - side)


def ports_load(source: Path, plugins: list[str]) -> str | None:
    """Whether this harness can load the ports under ``source``: None when it can, else the
    reason (the error's last line), found in a child process so that nothing is imported
    here."""
    code = (
        "import sys; from pathlib import Path; from perfkit.engine import harness; "
        "from perfkit.model import registry; "
        "harness.load_ports_from(Path(sys.argv[1])); registry.load(sys.argv[2:])"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", code, str(source), *plugins],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "loading its ports took more than 300 s"
    if done.returncode == 0:
        return None
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    return lines[-1] if lines else f"exit code {done.returncode}"

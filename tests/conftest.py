"""Shared fixtures: a private ceilings cache, the test plugins, a perfkit subprocess runner."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from perfkit.model import registry

PLUGINS = Path(__file__).parent / "plugins"
FAULTY = PLUGINS / "faulty.py"
DERIVED = PLUGINS / "derived.py"
DATA = Path(__file__).parent / "data"


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """With ``-n`` (the README's command), a module's tests share one worker, so its module
    fixtures (a profiled run, the Numba simulator's verdicts) are made once, not once a
    worker. Set here rather than in ``addopts``, so that pytest without pytest-xdist still
    runs the suite."""
    numprocesses = getattr(config.option, "numprocesses", None)
    if numprocesses and getattr(config.option, "dist", "no") in ("no", "load"):
        config.option.dist = "loadscope"


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Ceilings measured by tests never touch the user's cache."""
    path = tmp_path_factory.mktemp("cache")
    old = os.environ.get("PERFKIT_CACHE_DIR")
    os.environ["PERFKIT_CACHE_DIR"] = str(path)
    yield path
    if old is None:
        os.environ.pop("PERFKIT_CACHE_DIR", None)
    else:
        os.environ["PERFKIT_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def loaded() -> None:
    """The registry with the built-in modules and the faulty plugin (not the derived one,
    which adds ports to the built-in workloads and is tested in a subprocess)."""
    registry.load([FAULTY])


def perfkit(
    *args: str, cwd: Path, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real command line in a child process (in ``env`` when given). A ``run`` or
    ``compare`` that names no ``--time-budget`` gets none: what a test checks must not hang
    on how fast the machine that runs it is (the budget's own tests name theirs)."""
    if args[:1] in (("run",), ("compare",)) and not any(
        a.startswith("--time-budget") for a in args
    ):
        args = (*args, "--time-budget", "0")
    return subprocess.run(
        [sys.executable, "-m", "perfkit", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
    )


def spark_marks() -> list[pytest.MarkDecorator]:
    """A Spark test's marks: the ``spark`` marker, and a skip with the ``spark_local``
    backend's own reason where pyspark or Java is missing."""
    from perfkit.backends.spark_local import SPARK_LOCAL

    availability = SPARK_LOCAL.probe()
    return [pytest.mark.spark, pytest.mark.skipif(not availability.ok, reason=availability.reason)]


def torch_marks() -> list[pytest.MarkDecorator]:
    """A PyTorch test's marks: the ``torch`` marker, and a skip with ``torch_eager``'s own
    reason where PyTorch is missing."""
    from perfkit.backends.torch_eager import TORCH_EAGER

    availability = TORCH_EAGER.probe()
    return [pytest.mark.torch, pytest.mark.skipif(not availability.ok, reason=availability.reason)]


_METER = """
import json, sys
from perfkit.machine.load import ContentionMeter
sessions = tuple(int(s) for s in sys.argv[1:])
own, plain = ContentionMeter(sessions), ContentionMeter(())
print("metering", flush=True)
with own, plain:
    sys.stdin.readline()
print(json.dumps([own.other_cpu, plain.other_cpu]), flush=True)
"""


class MeterBeside:
    """Two contention meters in a process of their own, as a run's worker is: a sibling of
    the processes the test starts, not their parent. One counts ``sessions`` as its own,
    the other does not; ``stop()`` ends the window and gives (own's, plain's) other CPU."""

    def __init__(self, sessions: tuple[int, ...]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _METER, *map(str, sessions)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "metering"

    def stop(self) -> tuple[float, float]:
        import json

        # Deadline: the meter answers at once once told; 60 s covers a loaded machine.
        out, _ = self.process.communicate("stop\n", timeout=60)
        own, plain = json.loads(out.strip().splitlines()[-1])
        return float(own), float(plain)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

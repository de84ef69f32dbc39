"""The wheel is whole: it carries the C allocator and the CUDA kernels, and a perfkit
installed from it (as pip and asv install it) builds and runs the allocator drivers and
finds the kernels with no checkout beside it and no environment variable."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_the_package_list_names_every_subpackage() -> None:
    """pyproject.toml lists the packages (two are mapped onto top-level folders, which
    find cannot do): a subpackage left off it would be missing from every wheel."""
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(path.parent.relative_to(ROOT / "src").parts)
        for path in (ROOT / "src" / "perfkit").rglob("__init__.py")
    }
    assert listed == found | {"perfkit._native", "perfkit._kernels"}


def _run(argv: list[str], cwd: Path, env: dict[str, str], timeout: float) -> str:
    done = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{argv[:3]}: {done.stdout[-1500:]}{done.stderr[-1500:]}"
    return done.stdout


@pytest.mark.slow
@pytest.mark.native
@pytest.mark.skipif(
    shutil.which("make") is None or shutil.which("gcc") is None,
    reason="the allocator needs make and gcc (apt-get install make gcc)",
)
def test_an_installed_wheel_runs_the_allocators_and_lists_the_kernels(tmp_path: Path) -> None:
    # Deadlines: building a wheel, a venv and the native code each take seconds here, a
    # few minutes on a loaded machine; subprocess.run kills its child when one passes.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERFKIT_")}
    env["PERFKIT_CACHE_DIR"] = str(tmp_path / "cache")
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "dist"), str(ROOT)],
        tmp_path, env, 600,
    )  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("perfkit-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shipped = [
        "perfkit/_native/Makefile",
        "perfkit/_native/src/alloc.c",
        "perfkit/_native/src/internal.h",
        "perfkit/_native/bench/larson_like.c",
        "perfkit/_kernels/matmul/01_naive.cu",
    ]
    for name in shipped:
        assert name in names, name
    # The venv sees this environment's packages for perfkit's dependencies (nothing to
    # download) through a .pth file, which puts them after its own: its perfkit, from the
    # wheel, comes first, and the .pth files out there (an editable perfkit's) are not read.
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path, env, 300)
    (inner,) = venv.glob("lib/python*/site-packages")
    (inner / "outer.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    python = str(venv / "bin" / "python")
    _run([python, "-m", "pip", "install", "--no-deps", "-q", str(wheel)], tmp_path, env, 300)
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = _run([python, "-c", "import perfkit; print(perfkit.__file__)"], work, env, 120)
    assert where.strip().startswith(str(venv)), where
    _run(
        [python, "-m", "perfkit", "compare", "-w", "larson_like", "-b", "glibc,pkmalloc",
         "--quick", "--no-calibrate", "--no-report", "--time-budget", "0", "-o", "alloc.json"],
        work, env, 600,
    )  # fmt: skip
    from perfkit import load_record

    record = load_record(work / "alloc.json")
    assert {(r.backend, r.status) for r in record.results} == {("glibc", "ok"), ("pkmalloc", "ok")}
    listing = _run(
        [python, "-c", "from perfkit.backends.cupy_raw import kernels_dir; "
         "print(sorted(p.stem for p in kernels_dir().glob('*/*.cu')))"],
        work, env, 120,
    )  # fmt: skip
    assert "07_warptiling" in listing
    assert "perfkit/_kernels" in _run(
        [python, "-c", "from perfkit.backends.cupy_raw import kernels_dir; print(kernels_dir())"],
        work, env, 120,
    )  # fmt: skip

"""The C code in ``native/``: built with ``make`` on first use, rebuilt when it changes.

The build lands in ``$PERFKIT_CACHE_DIR/native/<hash>`` (``~/.cache/perfkit`` by default),
where the hash covers every source file, the Makefile and the compiler's version, so an
edit or a new compiler means a fresh build and two checkouts never share a stale one. A
file lock keeps concurrent worker processes from building at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from perfkit.machine.cache import cache_dir
from perfkit.native.shipped import shipped_folder

__all__ = [
    "PKMALLOC_DIR", "NativeBuildError", "build", "buildable", "driver", "library", "native_dir",
]  # fmt: skip

_SOURCES = ("Makefile", "include", "src", "bench")
# The native sources pkmalloc alone is built from, when not the drivers' (``library``).
PKMALLOC_DIR = "PERFKIT_PKMALLOC_DIR"


class NativeBuildError(RuntimeError):
    """``make`` failed or is missing; the message holds the end of its output."""


def native_dir() -> Path:
    """``$PERFKIT_NATIVE_DIR``, else the installed copy, else this source tree's ``native/``."""
    return shipped_folder("native", "PERFKIT_NATIVE_DIR")


def _compiler() -> str:
    try:
        done = subprocess.run(
            [os.environ.get("CC", "gcc"), "--version"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "no compiler"
    return done.stdout.splitlines()[0] if done.stdout else "unknown compiler"


def _fingerprint(root: Path) -> str:
    digest = hashlib.sha256(_compiler().encode())
    for name in _SOURCES:
        entry = root / name
        files = sorted(entry.rglob("*")) if entry.is_dir() else [entry]
        for path in files:
            if path.is_file():
                digest.update(str(path.relative_to(root)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def buildable() -> None:
    """Raise NativeBuildError when the native code could not be built here (no sources, no
    ``make``, no compiler); build nothing. A build that is merely missing is not an error."""
    root = native_dir()
    if not (root / "Makefile").is_file():
        raise NativeBuildError(f"no native sources at {root} (set PERFKIT_NATIVE_DIR)")
    for tool in ("make", os.environ.get("CC", "gcc")):
        if shutil.which(tool) is None:
            raise NativeBuildError(f"{tool} is not installed (apt-get install {tool})")


@functools.cache
def build() -> Path:
    """The build folder of the current sources, running ``make`` first if needed."""
    return _built(native_dir(), "all", ".built")


def _built(root: Path, target: str, marker: str) -> Path:
    """The build folder of the sources ``root``, after ``make target`` there if needed."""
    if not (root / "Makefile").is_file():
        raise NativeBuildError(f"no native sources at {root} (set PERFKIT_NATIVE_DIR)")
    folder = cache_dir() / "native" / _fingerprint(root)
    done_marker = folder / marker
    if done_marker.is_file():
        return folder
    with _locked(folder.parent / f"{folder.name}.lock"):
        if done_marker.is_file():  # another process built it while this one waited
            return folder
        print(f"perfkit: building {root} (first use; cached in {folder})", file=sys.stderr)
        try:
            result = subprocess.run(
                ["make", "-C", str(root), f"BUILD={folder}", target.format(build=folder)],
                check=False,
                capture_output=True,
                text=True,
                timeout=600,
            )
        except FileNotFoundError:
            raise NativeBuildError("make is not installed") from None
        if result.returncode != 0:
            tail = " ".join((result.stderr or result.stdout).split())[-300:]
            raise NativeBuildError(f"make failed: {tail}")
        done_marker.write_text("ok\n")
    return folder


def library() -> Path:
    """``libpkmalloc.so``, built when missing or stale: from the sources
    ``$PERFKIT_PKMALLOC_DIR`` names (a side of ``perfkit ab``: that commit's allocator, run
    in this harness's drivers), else from ``native_dir()`` with the drivers."""
    other = os.environ.get(PKMALLOC_DIR)
    if other:
        return _library_of(Path(other))
    return build() / "libpkmalloc.so"


@functools.cache
def _library_of(root: Path) -> Path:
    return _built(root, "{build}/libpkmalloc.so", ".built-library") / "libpkmalloc.so"


def driver(pattern: str, probe: bool = False) -> Path:
    """The allocation-pattern driver ``native/bench/<pattern>.c``, built; ``probe``: its
    probe build (each call timed, memory sampled: ``native/bench/probe.h``)."""
    path = build() / "bench" / (f"{pattern}.probe" if probe else pattern)
    if not path.is_file():
        raise NativeBuildError(f"no driver named {pattern!r} in {native_dir() / 'bench'}")
    return path

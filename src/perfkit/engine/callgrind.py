"""Instruction counts under valgrind's callgrind: a deterministic measure for CPU cases.

The worker runs inside ``valgrind --tool=callgrind --collect-atstart=no`` and switches
collection on only around the thunk, through callgrind's client requests, which a few lines of
C expose to Python. The library is built with the machine's C compiler on first use and cached
by the hash of its source, so a changed source is rebuilt and no step is manual.
"""

from __future__ import annotations

import ctypes
import gc
import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from perfkit.model.backend import Availability

__all__ = ["InstructionCounter", "available", "toggle_library", "valgrind_prefix"]

_SOURCE = """\
/* Callgrind client requests for perfkit's instruction-count mode. */
#include <valgrind/callgrind.h>

int pk_cg_running(void) { return RUNNING_ON_VALGRIND; }
void pk_cg_zero(void) { CALLGRIND_ZERO_STATS; }
void pk_cg_toggle(void) { CALLGRIND_TOGGLE_COLLECT; }
void pk_cg_dump(const char *name) { CALLGRIND_DUMP_STATS_AT(name); }
"""
_HEADER = Path("/usr/include/valgrind/callgrind.h")


def available() -> Availability:
    for tool in ("valgrind", "gcc"):
        if shutil.which(tool) is None:
            return Availability.no(f"{tool} not found (Debian: apt-get install {tool})")
    if not _HEADER.is_file():
        return Availability.no(f"{_HEADER} not found (Debian: apt-get install valgrind)")
    return Availability.yes()


def _build_dir() -> Path:
    from perfkit.machine.cache import cache_dir

    return cache_dir() / "build"


def toggle_library() -> Path:
    """The shared library of client requests, built when missing or stale."""
    digest = hashlib.sha256(_SOURCE.encode()).hexdigest()[:12]
    target = _build_dir() / f"pk_callgrind-{digest}.so"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    source = target.with_suffix(".c")
    source.write_text(_SOURCE)
    partial = target.with_suffix(f".{os.getpid()}.tmp")
    subprocess.run(
        [
            "gcc",
            "-O2",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-shared",
            "-fPIC",
            "-o",
            str(partial),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    os.replace(partial, target)
    return target


def valgrind_prefix(out_file: Path) -> list[str]:
    """The command that runs a worker under callgrind, collecting nothing until told."""
    return [
        "valgrind",
        "--tool=callgrind",
        "--collect-atstart=no",
        "--quiet",
        f"--callgrind-out-file={out_file}",
    ]


class InstructionCounter:
    """Counts the instructions of ``loops`` calls of a thunk, inside a callgrind worker."""

    def __init__(self, out_file: Path) -> None:
        self.out_file = out_file
        self.lib = ctypes.CDLL(str(toggle_library()))
        if not self.lib.pk_cg_running():
            raise RuntimeError("instruction counts need the worker to run under valgrind")
        self.dumps = 0
        self.lib.pk_cg_dump.argtypes = [ctypes.c_char_p]

    def count(self, thunk: Callable[[], Any], loops: int) -> float:
        """Instructions per call, over ``loops`` calls after the ones already made. The
        cycle collector is off meanwhile: when it runs depends on allocations made before."""
        enabled = gc.isenabled()
        gc.disable()
        try:
            self.lib.pk_cg_zero()
            self.lib.pk_cg_toggle()
            for _ in range(loops):
                thunk()
            self.lib.pk_cg_toggle()
        finally:
            if enabled:
                gc.enable()
        self.dumps += 1
        self.lib.pk_cg_dump(f"perfkit-{self.dumps}".encode())
        return _totals(Path(f"{self.out_file}.{self.dumps}")) / loops


def _totals(dump: Path) -> float:
    for line in dump.read_text().splitlines():
        if line.startswith(("totals:", "summary:")):
            return float(line.split()[1])
    raise RuntimeError(f"{dump}: no totals line in the callgrind output")

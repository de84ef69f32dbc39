"""A case's inputs and truth kept between the worker processes of one run.

Every repetition is its own worker process, and each made its cases' inputs and float64
truth again: for the 32 cases of the CPU array suite that was some 7 s a repetition a side
(a 2048-wide float64 GEMM for one truth, 0.35 s), more than half of a ``perfkit ab``
round's time outside sampling. So the first process to make a parameter group's inputs
stores them, with their truth, in a folder private to the run and to its side (created by
the runner, mode 0700, removed with the run), and the later ones read them back.

What is read back is the same as what was made: the generators are seeded, and the folder
belongs to one side's code. Arrays are written as out-of-band pickle buffers and read into
fresh NumPy allocations, so each process's inputs sit in memory of its own, placed and
aligned as freshly made ones are (an array viewing the bytes of a pickle would start 32
bytes into a heap block and be read-only). A folder that would pass ``LIMIT`` bytes stores
no more: those groups are made in every process, as before.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psutil

__all__ = ["LIMIT", "inputs_folder", "load", "store"]

LIMIT = 4 << 30  # bytes a run's folder of one side may hold
_MAGIC = b"perfkit-inputs-1\n"


def _used(folder: Path) -> int:
    total = 0
    for entry in os.scandir(folder):
        with contextlib.suppress(OSError):
            total += entry.stat().st_size
    return total


def store(path: Path, value: Any) -> bool:
    """Write ``value`` to ``path`` (whole or not at all); False where it cannot be pickled
    or the folder has no room left."""
    buffers: list[pickle.PickleBuffer] = []
    try:
        meta = pickle.dumps(value, protocol=5, buffer_callback=buffers.append)
        raw = [buffer.raw() for buffer in buffers]
    except Exception:  # an input that does not pickle: made in every process
        return False
    size = len(meta) + sum(view.nbytes for view in raw)
    if _used(path.parent) + size > LIMIT:
        return False
    header = json.dumps({"meta": len(meta), "buffers": [v.nbytes for v in raw]}).encode()
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    try:
        with open(partial, "wb") as handle:
            handle.write(_MAGIC + header + b"\n" + meta)
            for view in raw:
                handle.write(view)
        os.replace(partial, path)
    except OSError:
        partial.unlink(missing_ok=True)
        return False
    return True


def load(path: Path) -> Any | None:
    """The value ``store`` wrote at ``path``, its arrays in fresh allocations; None where
    there is none or it cannot be read."""
    try:
        with open(path, "rb") as handle:
            if handle.readline() != _MAGIC:
                return None
            header = json.loads(handle.readline())
            meta = handle.read(int(header["meta"]))
            buffers = []
            for size in header["buffers"]:
                buffer = np.empty(int(size), dtype=np.uint8)
                if handle.readinto(buffer.data) != buffer.nbytes:
                    return None
                buffers.append(buffer)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return pickle.loads(meta, buffers=buffers)  # the run's own private folder


_PREFIX = "perfkit-inputs-"


def _sweep(parent: Path) -> None:
    """Remove the folders of runs that ended without removing theirs (killed): each is
    named after the process that made it, and that process is gone."""
    for entry in parent.glob(f"{_PREFIX}*-*"):
        pid = entry.name.removeprefix(_PREFIX).split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not psutil.pid_exists(int(pid)):
            shutil.rmtree(entry, ignore_errors=True)


@contextlib.contextmanager
def inputs_folder() -> Iterator[Path]:
    """A folder for one side's stored inputs, private (0700), removed on leaving; the
    folders of killed runs are swept first."""
    parent = Path(tempfile.gettempdir())
    _sweep(parent)
    folder = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)

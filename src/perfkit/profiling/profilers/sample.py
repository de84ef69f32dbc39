"""``sample``: a sampling profile of Python and native frames (py-spy ``--native``), as
collapsed stacks and speedscope JSON (https://www.speedscope.app opens it)."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from perfkit.model.backend import Availability
from perfkit.model.workload import Case
from perfkit.profiling.profilers import Summary, register_profiler
from perfkit.profiling.stacks import Stacks

__all__ = ["DEFAULT_RATE", "SampleProfiler", "speedscope"]

DEFAULT_RATE = 250  # samples a second: 1,250 in the default 5 s, a share to about 1 point
_RAW = "stacks.txt"
_SPEEDSCOPE = "profile.speedscope.json"
_LOG = "py-spy.log"
# A native frame with no symbol, ``0x7f45bfdae2db (libm.so.6)``: its address differs from
# process to process (ASLR), so it is named by its library alone, ``[libm.so.6]``.
_UNNAMED = re.compile(r"\b0x[0-9a-f]+ \(([^();]+)\)")
_ATTACH_SECONDS = 30.0
_PR_SET_PTRACER = 0x59616D61
_PR_SET_PTRACER_ANY = -1


def rate() -> int:
    return int(os.environ.get("PERFKIT_SAMPLE_RATE", DEFAULT_RATE))


def _py_spy() -> str | None:
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.is_file() else shutil.which("py-spy")


def _allow_tracing_by_children() -> None:
    """Let a child (py-spy) trace this process where Yama allows only parents to."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PTRACER, ctypes.c_ulong(_PR_SET_PTRACER_ANY), 0, 0, 0)


class SampleProfiler:
    name = "sample"
    doc = "sampling of Python and native frames (py-spy --native): speedscope JSON"
    threads = 0

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = Path(_LOG)

    def probe(self, case: Case) -> Availability:
        if _py_spy() is None:
            return Availability.no("py-spy not found (pip install 'perfkit[profile]')")
        try:
            scope = Path("/proc/sys/kernel/yama/ptrace_scope").read_text().strip()
        except OSError:
            scope = "0"
        if scope == "3":
            return Availability.no("ptrace is disabled on this machine (yama ptrace_scope 3)")
        return Availability.yes()

    def wrapper(self, case: Case, folder: Path) -> list[str]:
        return []

    def start(self, case: Case, folder: Path) -> None:
        tool = _py_spy()
        assert tool is not None
        _allow_tracing_by_children()
        command = [tool, "record", "--pid", str(os.getpid()), "--rate", str(rate())]
        command += ["--native", "--function", "--format", "raw", "-o", str(folder / _RAW)]
        self._log = folder / _LOG
        with self._log.open("wb") as log:  # a file, not a pipe: nobody reads it meanwhile
            self._proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        _wait_for_attach(self._proc, self._log)

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        assert proc is not None
        proc.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise RuntimeError("py-spy did not finish writing within 60 s") from None
        said = self._log.read_text(errors="replace")
        if "Wrote raw" not in said:
            raise RuntimeError(f"py-spy failed: {' '.join(said.split())[-300:]}")

    def summarize(self, folder: Path, calls: int) -> Summary:
        from perfkit.profiling.worker import LOOP_FRAME

        raw = _UNNAMED.sub(r"[\1]", (folder / _RAW).read_text())
        whole = Stacks.from_collapsed(raw, "samples")
        (folder / _SPEEDSCOPE).write_text(json.dumps(speedscope(whole, "perfkit sample")))
        stacks = whole.below(f"{LOOP_FRAME} (")
        notes = (f"py-spy --native at {rate()} Hz: {stacks.total:.0f} samples in the loop",)
        return Summary(stacks=stacks, notes=notes)


def _wait_for_attach(proc: subprocess.Popen[bytes], log: Path) -> None:
    """Block until py-spy says it samples (its first line), so the loop that follows is
    sampled from its first call; a py-spy that ends or stays silent instead is an error."""
    deadline = time.monotonic() + _ATTACH_SECONDS
    while time.monotonic() < deadline and proc.poll() is None:
        if "Sampling process" in log.read_text(errors="replace"):
            return
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    why = " ".join(log.read_text(errors="replace").split())[-300:]
    raise RuntimeError(f"py-spy could not attach: {why or f'silent for {_ATTACH_SECONDS:g} s'}")


def speedscope(stacks: Stacks, name: str) -> dict[str, Any]:
    """Stacks in speedscope's file format: one sampled profile, weights in the stacks' unit."""
    index: dict[str, int] = {}
    samples = []
    for stack in stacks.stacks:
        samples.append([index.setdefault(frame, len(index)) for frame in stack.frames])
    weights = [stack.cost for stack in stacks.stacks]
    return {
        "$schema": "https://www.speedscope.app/file-format-schema.json",
        "name": name,
        "exporter": "perfkit",
        "shared": {"frames": [{"name": frame} for frame in index]},
        "profiles": [
            {
                "type": "sampled",
                "name": name,
                "unit": "bytes" if stacks.unit == "bytes" else "none",
                "startValue": 0,
                "endValue": sum(weights),
                "samples": samples,
                "weights": weights,
            }
        ],
    }


register_profiler(SampleProfiler())

"""A worker process and the pipes to it: start it in its own session, send it lines, read
its lines under a deadline, and end it (asked, or killed with everything it started).

The supervisor (``supervisor``) decides what to send and what a silence or an end means.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO, Any

from perfkit.engine.callgrind import valgrind_prefix
from perfkit.model.stopping import check_stop

__all__ = [
    "STARTUP_SECONDS",
    "Deadline",
    "LineReader",
    "Stalled",
    "WorkerProcess",
    "kill_group",
    "stderr_tail",
]

_STDERR_TAIL = 1500
STARTUP_SECONDS = 120.0


def stderr_tail(handle: IO[bytes]) -> str:
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    handle.seek(max(0, size - 64 * _STDERR_TAIL))  # room for the lines filtered out below
    text = handle.read().decode("utf-8", "replace")
    # faulthandler ends a crash report with the list of loaded extension modules: noise.
    lines = [
        ln.strip()
        for ln in text.splitlines()
        if ln.strip() and not ln.startswith("Extension modules:")
    ]
    return " | ".join(lines)[-_STDERR_TAIL:]


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """End the worker and anything it started (it leads its own process group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


class Deadline:
    """A time limit in seconds from now."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds


class Stalled:
    """The deadline passed with no word from the worker."""


class LineReader:
    """Protocol lines from a worker's stdout, across calls, each read under a deadline."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._fd = stream.fileno()
        self._selector = selectors.DefaultSelector()
        self._selector.register(stream, selectors.EVENT_READ)
        self._buffer = b""

    def next(self, deadline: Deadline) -> bytes | Stalled | None:
        """The next non-empty line; ``Stalled`` past the deadline; None at end of file;
        ``KeyboardInterrupt`` when a signal asked the run to stop (``check_stop``)."""
        while True:
            if b"\n" in self._buffer:
                line, self._buffer = self._buffer.split(b"\n", 1)
                if line.strip():
                    return line
                continue
            check_stop()  # a signal's stop, acted on while waiting (at least once a second)
            remaining = deadline.at - time.monotonic()
            if remaining <= 0:
                return Stalled()
            if not self._selector.select(timeout=min(remaining, 1.0)):
                continue
            chunk = os.read(self._fd, 65536)
            if not chunk:
                return None
            self._buffer += chunk

    def close(self) -> None:
        self._selector.close()


class WorkerProcess:
    """One live worker: its process, where its stderr goes, its line reader."""

    def __init__(self, command: list[str], env: dict[str, str], job: dict[str, Any]) -> None:
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in end())
        self.scratch: tempfile.TemporaryDirectory[str] | None = None
        if job.get("counting"):
            # Each worker its own callgrind output: a restarted worker numbers dumps from 1.
            self.scratch = tempfile.TemporaryDirectory(prefix="perfkit-cg-")
            out_file = Path(self.scratch.name) / "callgrind.out"
            job = {**job, "callgrind_out": str(out_file)}
            command = [*valgrind_prefix(out_file), *command]
        self.proc = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            env=env,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        self.lines = LineReader(self.proc.stdout)
        self.send(job)

    def send(self, message: object) -> None:
        """One line to the worker; the pipe stays open (its end tells the worker we are
        gone)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        self.proc.stdin.flush()

    def failure(self) -> str:
        """Why the worker ended: its exit code and the tail of its stderr."""
        code = self.proc.wait()
        return f"worker exited with code {code}: {stderr_tail(self.stderr)}"

    def end(self, kill: bool) -> None:
        """Stop the worker (kill it, or ask it to finish and wait) and free what it held."""
        try:
            if not kill:
                with contextlib.suppress(OSError):
                    self.send(None)  # the end of the cases: the worker says done and exits
                try:
                    self.proc.wait(timeout=STARTUP_SECONDS)
                except subprocess.TimeoutExpired:
                    kill = True
            if kill:
                kill_group(self.proc)
        finally:
            for pipe in (self.proc.stdin, self.proc.stdout):
                if pipe is not None:
                    with contextlib.suppress(OSError):
                        pipe.close()
            self.lines.close()
            self.stderr.close()
            if self.scratch is not None:
                self.scratch.cleanup()

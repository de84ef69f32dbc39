"""Test-only workload whose ports misbehave on purpose: wrong answers, crashes, hangs."""

from __future__ import annotations

import ctypes
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from perfkit import Axis, ParamSpace, Skip, Work, register_workload, relative_error, workload
from perfkit.model.axes import Params
from perfkit.model.workload import WrongOutputError

FAULTY = workload(
    name="faulty_probe",
    doc="doubles a vector; its ports fail in every way a port can",
    space=ParamSpace((Axis("n", (1000,), quick=(100,)),)),
    make_inputs=lambda params, rng: rng.random(int(params["n"])),
    expected=lambda x, params: 2.0 * x,
    check=relative_error({"float64": 1e-12}),
    work=lambda params: Work(flops=int(params["n"]), bytes=16 * int(params["n"])),
)


@FAULTY.port("python", "good", reference=True)
def _good(x: Any, params: Params) -> Any:
    out = np.empty_like(x)
    return lambda: np.multiply(x, 2.0, out=out)


@FAULTY.port("python", "wrong")
def _wrong(x: Any, params: Params) -> Any:
    return lambda: 2.0 * x + 1e-3


@FAULTY.port("python", "crash")
def _crash(x: Any, params: Params) -> Any:
    def run() -> Any:
        ctypes.string_at(0)  # a real segmentation fault, not an exception

    return run


@FAULTY.port("python", "hang")
def _hang(x: Any, params: Params) -> Any:
    def run() -> Any:
        marker = os.environ.get("FAULTY_HANG_MARKER")
        if marker:  # tells a test that the hang has begun
            Path(marker).touch()
        time.sleep(3600)

    return run


@FAULTY.port("python", "cand_breaks")
def _cand_breaks(x: Any, params: Params) -> Any:
    """Good where its ports come from a ``perfkit ab`` worktree (the baseline), broken in
    the working tree (the candidate): a pull request that breaks a case."""
    import perfkit.workloads

    if "perfkit-ab-" not in perfkit.workloads.__path__[0]:
        raise RuntimeError("the candidate broke this case")
    return _good(x, params)


@FAULTY.port("python", "wrong_later")
def _wrong_later(x: Any, params: Params) -> Any:
    """Right when verified, wrong from its fifth call on, where only a check of every timed
    call (as the allocator drivers have) can see it."""
    calls = [0]

    def run() -> Any:
        calls[0] += 1
        if calls[0] >= 5:
            raise WrongOutputError(f"went wrong on call {calls[0]}")
        return 2.0 * x

    return run


@FAULTY.port("python", "logged")
def _logged(x: Any, params: Params) -> Any:
    """Good, and writes its process id and the CPUs its thread may run on to
    ``FAULTY_CALL_LOG`` on every call: shows which worker ran when, and where."""
    log = os.environ["FAULTY_CALL_LOG"]
    out = np.empty_like(x)

    def run() -> Any:
        cpus = ",".join(str(cpu) for cpu in sorted(os.sched_getaffinity(0)))
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()} {cpus}\n")
        return np.multiply(x, 2.0, out=out)

    return run


@FAULTY.port("python", "crash_later")
def _crash_later(x: Any, params: Params) -> Any:
    """Good, or where ``FAULTY_CRASH_LATER`` is set, a segmentation fault on its tenth
    call: after verification and calibration, while it is being sampled."""
    calls = [0]
    crash = bool(os.environ.get("FAULTY_CRASH_LATER"))
    out = np.empty_like(x)

    def run() -> Any:
        calls[0] += 1
        if crash and calls[0] >= 10:
            ctypes.string_at(0)
        return np.multiply(x, 2.0, out=out)

    return run


@FAULTY.port("python", "raises")
def _raises(x: Any, params: Params) -> Any:
    raise RuntimeError("prepare broke on purpose")


@FAULTY.port("python", "skips")
def _skips(x: Any, params: Params) -> Any:
    raise Skip("needs hardware this test pretends to lack")


@FAULTY.port("python", "in_place")
def _in_place(x: Any, params: Params) -> Any:
    """Doubles its input where it lies: it would corrupt the inputs of the next port."""

    def run() -> Any:
        return np.multiply(x, 2.0, out=x)

    return run


@FAULTY.port("python", "chatty")
def _chatty(x: Any, params: Params) -> Any:
    """Prints to stdout on every call: the worker's protocol must not be disturbed."""

    def run() -> Any:
        print('{"event": "done"}')
        sys.stdout.flush()
        return 2.0 * x

    return run


@FAULTY.port("python", "slow")
def _slow(x: Any, params: Params) -> Any:
    """Right, and slow: each call sleeps FAULTY_SLOW_SECONDS (default 1.5) first."""
    seconds = float(os.environ.get("FAULTY_SLOW_SECONDS", "1.5"))
    out = np.empty_like(x)

    def run() -> Any:
        time.sleep(seconds)
        return np.multiply(x, 2.0, out=out)

    return run


register_workload(FAULTY)

"""Verify before timing: a case's seeded inputs and true answer, its prepared thunk, one call
checked against the truth. The measuring worker and the profiling worker both start here,
so a profile is of the very thunk a measurement times."""

from __future__ import annotations

import hashlib
import json
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from perfkit.engine.protocol import WorkerReport
from perfkit.engine.stored_inputs import load, store
from perfkit.model.axes import Skip
from perfkit.model.backend import Backend
from perfkit.model.workload import Case

__all__ = ["InputCache", "Verified", "failure_reason", "freeze", "verify"]


def failure_reason(exc: BaseException) -> str:
    """The exception as one line: type, message and where it was raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno}" if frames else ""
    message = " ".join(str(exc).split())[:300]
    return f"{type(exc).__name__}: {message}{where}"


def freeze(value: Any) -> Any:
    """Make every NumPy array in ``value`` (nested dicts, lists, tuples) read-only.

    Inputs are shared by every port of a parameter group; a port that wrote into them would
    hand the next port corrupted inputs and get *it* marked invalid. Frozen, the writing
    port fails itself with NumPy's "assignment destination is read-only".
    """
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    elif isinstance(value, dict):
        for item in value.values():
            freeze(item)
    elif isinstance(value, list | tuple):
        for item in value:
            freeze(item)
    return value


class InputCache:
    """Inputs and truth for the current parameters only: cases arrive grouped by them.
    With a ``folder`` (``stored_inputs``), what the run's first process made is read back
    by the later ones instead of being made again."""

    def __init__(self, seed: int, folder: Path | None = None) -> None:
        self.seed = seed
        self.folder = folder
        self.key: str | None = None
        self.value: tuple[Any, Any] | None = None

    def get(self, case: Case) -> tuple[Any, Any]:
        key = case.group_key
        if key != self.key or self.value is None:
            self.value = None  # free the old arrays before making the new ones
            path = self._path(case)
            stored = load(path) if path is not None else None
            if stored is None:
                rng = np.random.default_rng(case.workload.seed(case.params, self.seed))
                inputs = case.workload.make_inputs(case.params, rng)
                stored = (inputs, case.workload.expected(inputs, case.params))
                if path is not None:
                    store(path, stored)
            self.value = (freeze(stored[0]), stored[1])
            self.key = key
        return self.value

    def _path(self, case: Case) -> Path | None:
        if self.folder is None:
            return None
        name = [case.workload.name, case.workload.version, case.group_key, self.seed]
        digest = hashlib.sha256(json.dumps(name, default=str).encode()).hexdigest()[:32]
        return self.folder / f"{digest}.inputs"


@dataclass(frozen=True)
class Verified:
    """A case's verified thunk and what verifying it measured; or, with no thunk, the report
    of why it cannot be timed (skipped, failed, or invalid: a wrong answer)."""

    thunk: Any
    metrics: dict[str, float] = field(default_factory=dict)
    report: WorkerReport | None = None


def verify(
    case: Case,
    backend: Backend,
    inputs: InputCache,
    before_prepare: Callable[[], None] | None = None,
) -> Verified:
    """Prepare ``case`` on its own inputs (``before_prepare()`` first, if given), call it
    once and check the answer: ``time/prepare``, ``time/first_call`` and the checker's
    metrics."""
    metrics: dict[str, float] = {}
    try:
        given, truth = inputs.get(case)
        if before_prepare is not None:
            before_prepare()
        start = time.perf_counter()
        thunk = case.implementation.prepare(given, case.params)
        metrics["time/prepare"] = time.perf_counter() - start
        start = time.perf_counter()
        output = thunk()
        backend.sync()
        metrics["time/first_call"] = time.perf_counter() - start
        check = case.workload.check(backend.from_device(output), truth, case.check_params)
        del output
    except Skip as exc:
        return Verified(None, report=WorkerReport("skipped", str(exc) or "not supported"))
    except Exception as exc:
        return Verified(None, report=WorkerReport.failed(failure_reason(exc)))
    if check.error is not None:
        metrics["check/error"] = check.error
    metrics.update(check.metrics)
    if not check.ok:
        return Verified(None, metrics, WorkerReport("invalid", check.detail, metrics))
    return Verified(thunk, metrics)

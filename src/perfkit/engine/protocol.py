"""What workers tell the runner, typed: a worker's report on one case, and the facts of a
case a record needs, so results can be merged with or without the registry (a journal).

Messages are JSON lines, read through the same typed reader as records: a message that does
not fit fails the case it is about, with the reason, and never the run.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from perfkit.engine.metrics import derive_metrics
from perfkit.model.workload import Case, Work
from perfkit.records.run_record import CaseResult, Measurement, SampleRun, Status, check_samples
from perfkit.records.typed import FieldError, from_json, to_json

__all__ = ["CasePlan", "WorkerReport", "merge", "parse_message", "protocol_stream", "read_report"]

# Precedence when worker processes disagree about a case: the worst status wins.
_SEVERITY = {"ok": 0, "skipped": 1, "failed": 2, "invalid": 3}


@dataclass(frozen=True, slots=True)
class WorkerReport:
    """One worker process's outcome for one case: a status, and for ``ok`` its samples."""

    status: Status
    reason: str = ""
    metrics: Mapping[str, float] = field(default_factory=dict)
    run: SampleRun | None = None

    @classmethod
    def failed(cls, reason: str) -> WorkerReport:
        return cls("failed", reason)

    def to_json(self) -> dict[str, Any]:
        return to_json(self)  # type: ignore[no-any-return]


def read_report(message: Mapping[str, Any], where: str = "worker report") -> WorkerReport:
    """A WorkerReport from a decoded message, or FieldError naming what does not fit."""
    fields = {k: v for k, v in message.items() if k in ("status", "reason", "metrics", "run")}
    report: WorkerReport = from_json(WorkerReport, fields, where)
    if report.status == "ok":
        if report.run is None:
            raise FieldError(where, "an ok report without a run")
        check_samples(report.run, f"{where}.run")
    return report


def parse_message(line: bytes) -> dict[str, Any]:
    """One protocol line as a JSON object with an ``event``, or FieldError."""
    try:
        message = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FieldError("worker message", f"not JSON: {line[:80]!r} ({exc})") from None
    if not isinstance(message, dict) or not isinstance(message.get("event"), str):
        raise FieldError("worker message", f"not an event: {line[:80]!r}")
    return message


@dataclass(frozen=True, slots=True)
class CasePlan:
    """The facts of a case that its record holds, besides what was measured."""

    case_id: str
    workload: str
    version: int
    backend: str
    variant: str
    device: str
    params: Mapping[str, Any]
    reference: bool
    work: Work
    unlike: str = ""

    @classmethod
    def of(cls, case: Case, device: str) -> CasePlan:
        return cls(
            case_id=case.id,
            workload=case.workload.name,
            version=case.workload.version,
            backend=case.implementation.backend,
            variant=case.implementation.variant,
            device=device,
            params=dict(case.params),
            reference=case.implementation.reference,
            work=case.work(),
            unlike=case.implementation.not_like_for_like,
        )


def settled_medians(reports: Sequence[WorkerReport]) -> list[float]:
    return [statistics.median(r.run.samples) for r in reports if r.run is not None]


def merge(
    plan: CasePlan,
    reports: Sequence[WorkerReport],
    ceilings: Mapping[str, Any],
    measure: str = "time",
) -> CaseResult:
    """One CaseResult from the reports of every worker process that ran the case."""
    worst = max(reports, key=lambda r: _SEVERITY[r.status])
    runs = tuple(r.run for r in reports if r.status == "ok" and r.run is not None)
    raw: dict[str, list[float]] = {}
    for report in reports:
        for key, value in report.metrics.items():
            raw.setdefault(key, []).append(value)
    measurement = None
    if worst.status == "ok":
        metrics = derive_metrics(
            [r.samples for r in runs],
            raw,
            plan.work,
            plan.device,
            ceilings,
            measure=measure,
        )
        contended = sum(r.contended for r in runs)
        if contended:
            metrics["load/contended_repetitions"] = float(contended)
        measurement = Measurement(runs, metrics)
    elif raw:
        measurement = Measurement((), {k: max(v) for k, v in raw.items()})
    return CaseResult(
        case_id=plan.case_id,
        workload=plan.workload,
        backend=plan.backend,
        variant=plan.variant,
        params=dict(plan.params),
        status=worst.status,
        reason=worst.reason,
        reference=plan.reference,
        work=plan.work,
        measurement=measurement,
        version=plan.version,
        unlike=plan.unlike,
    )


@contextlib.contextmanager
def protocol_stream() -> Iterator[IO[str]]:
    """Keep the real stdout for the protocol and point fd 1 (C libraries too) at stderr."""
    out = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    try:
        yield out
    finally:
        out.close()

"""Run records: frozen dataclasses, JSON in and out, validation, migration, atomic writes."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from perfkit._atomic import write_text_atomic
from perfkit.errors import RecordError

__all__ = [
    "SCHEMA_VERSION",
    "STATUSES",
    "STOP_REASONS",
    "CaseResult",
    "Measurement",
    "RunRecord",
    "SampleRun",
    "Status",
    "StopReason",
    "dump_record",
    "load_record",
    "record_from_dict",
]

SCHEMA_VERSION = 1

Status = Literal["ok", "skipped", "invalid", "failed"]
STATUSES: tuple[str, ...] = get_args(Status)
StopReason = Literal["converged", "budget", "max_samples"]
STOP_REASONS: tuple[str, ...] = get_args(StopReason)


@dataclass(frozen=True, slots=True)
class SampleRun:
    """Samples from one worker process, each the mean of ``loops`` calls: seconds per call,
    or instructions per call in a record whose policy has ``measure == "instructions"``."""

    process: int
    loops: int
    samples: tuple[float, ...]
    stop: StopReason


@dataclass(frozen=True, slots=True)
class Measurement:
    runs: tuple[SampleRun, ...]
    metrics: Mapping[str, float] = field(default_factory=dict)

    @property
    def samples(self) -> tuple[float, ...]:
        return tuple(s for run in self.runs for s in run.samples)

    def metric(self, key: str) -> float | None:
        return self.metrics.get(key)


@dataclass(frozen=True, slots=True)
class CaseResult:
    case_id: str
    workload: str
    backend: str
    variant: str
    params: Mapping[str, Any]
    status: Status
    reason: str = ""
    reference: bool = False
    work: Mapping[str, Any] = field(default_factory=dict)
    measurement: Measurement | None = None

    @property
    def implementation(self) -> str:
        return f"{self.backend}:{self.variant}"

    def metric(self, key: str) -> float | None:
        return self.measurement.metric(key) if self.measurement else None


@dataclass(frozen=True, slots=True)
class RunRecord:
    run_id: str
    created: str
    command: str
    partial: bool
    environment: Mapping[str, Any]
    policy: Mapping[str, Any]
    results: tuple[CaseResult, ...]
    schema_version: int = SCHEMA_VERSION

    def result(self, case_id: str) -> CaseResult | None:
        for result in self.results:
            if result.case_id == case_id:
                return result
        return None


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def record_to_dict(record: RunRecord) -> dict[str, Any]:
    def result(r: CaseResult) -> dict[str, Any]:
        m = r.measurement
        return {
            "case_id": r.case_id,
            "workload": r.workload,
            "backend": r.backend,
            "variant": r.variant,
            "params": dict(r.params),
            "status": r.status,
            "reason": r.reason,
            "reference": r.reference,
            "work": dict(r.work),
            "measurement": None
            if m is None
            else {
                "runs": [
                    {
                        "process": s.process,
                        "loops": s.loops,
                        "samples": list(s.samples),
                        "stop": s.stop,
                    }
                    for s in m.runs
                ],
                # JSON has no NaN: an undefined metric (a CI from 2 samples) is null.
                "metrics": {k: _finite_or_none(v) for k, v in m.metrics.items()},
            },
        }

    return {
        "schema_version": record.schema_version,
        "run_id": record.run_id,
        "created": record.created,
        "command": record.command,
        "partial": record.partial,
        "environment": dict(record.environment),
        "policy": dict(record.policy),
        "results": [result(r) for r in record.results],
    }


def dump_record(record: RunRecord, path: Path) -> Path:
    """Write atomically (a temporary file in the same folder, then a rename)."""
    text = json.dumps(record_to_dict(record), indent=1, allow_nan=False)
    return write_text_atomic(path, text, fsync=True)


# Migrations from schema N to N+1, applied in order on load. Version 1 is the first.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


class _Reader:
    """Typed access to untrusted JSON that names the offending field in its errors."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> RecordError:
        return RecordError(f"{self.source}: {where}: {problem}")

    def get(
        self, obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str
    ) -> Any:
        if key not in obj:
            raise self.fail(where, f"missing field {key!r}")
        value = obj[key]
        if isinstance(value, bool) and kind in (int, float, (int, float)):
            raise self.fail(f"{where}.{key}", f"expected a number, got {value!r}")
        if not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise self.fail(f"{where}.{key}", f"expected {names}, got {type(value).__name__}")
        return value

    def number(self, value: Any, where: str) -> float:
        if value is None:
            return math.nan
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(where, f"expected a number, got {value!r}")
        return float(value)


def _read_result(reader: _Reader, raw: Any, where: str) -> CaseResult:
    if not isinstance(raw, dict):
        raise reader.fail(where, "expected an object")
    status = reader.get(raw, "status", str, where)
    if status not in STATUSES:
        raise reader.fail(f"{where}.status", f"{status!r} is not one of {', '.join(STATUSES)}")
    measurement = None
    raw_m = raw.get("measurement")
    if raw_m is not None:
        mwhere = f"{where}.measurement"
        if not isinstance(raw_m, dict):
            raise reader.fail(mwhere, "expected an object or null")
        runs = []
        for i, raw_run in enumerate(reader.get(raw_m, "runs", list, mwhere)):
            rwhere = f"{mwhere}.runs[{i}]"
            if not isinstance(raw_run, dict):
                raise reader.fail(rwhere, "expected an object")
            stop = reader.get(raw_run, "stop", str, rwhere)
            if stop not in STOP_REASONS:
                raise reader.fail(
                    f"{rwhere}.stop", f"{stop!r} is not one of {', '.join(STOP_REASONS)}"
                )
            samples = reader.get(raw_run, "samples", list, rwhere)
            runs.append(
                SampleRun(
                    process=reader.get(raw_run, "process", int, rwhere),
                    loops=reader.get(raw_run, "loops", int, rwhere),
                    samples=tuple(reader.number(s, f"{rwhere}.samples") for s in samples),
                    stop=stop,
                )
            )
        raw_metrics = reader.get(raw_m, "metrics", dict, mwhere)
        metrics = {
            str(k): reader.number(v, f"{mwhere}.metrics.{k}") for k, v in raw_metrics.items()
        }
        measurement = Measurement(tuple(runs), metrics)
    return CaseResult(
        case_id=reader.get(raw, "case_id", str, where),
        workload=reader.get(raw, "workload", str, where),
        backend=reader.get(raw, "backend", str, where),
        variant=reader.get(raw, "variant", str, where),
        params=reader.get(raw, "params", dict, where),
        status=status,
        reason=reader.get(raw, "reason", str, where),
        reference=reader.get(raw, "reference", bool, where),
        work=reader.get(raw, "work", dict, where),
        measurement=measurement,
    )


def record_from_dict(data: Any, source: str = "record") -> RunRecord:
    """Validate untrusted JSON into a RunRecord, migrating older schemas first."""
    reader = _Reader(source)
    if not isinstance(data, dict) or "schema_version" not in data:
        raise RecordError(f"{source}: not a perfkit record (no 'schema_version')")
    version = data["schema_version"]
    if not isinstance(version, int) or isinstance(version, bool):
        raise reader.fail("schema_version", f"expected an integer, got {version!r}")
    if version > SCHEMA_VERSION:
        raise RecordError(
            f"{source}: schema version {version} is newer than this perfkit reads "
            f"({SCHEMA_VERSION}); upgrade perfkit"
        )
    while version < SCHEMA_VERSION:
        if version not in MIGRATIONS:
            raise RecordError(f"{source}: schema version {version} is not supported")
        data = MIGRATIONS[version](data)
        version += 1
    results = reader.get(data, "results", list, "record")
    return RunRecord(
        run_id=reader.get(data, "run_id", str, "record"),
        created=reader.get(data, "created", str, "record"),
        command=reader.get(data, "command", str, "record"),
        partial=reader.get(data, "partial", bool, "record"),
        environment=reader.get(data, "environment", dict, "record"),
        policy=reader.get(data, "policy", dict, "record"),
        results=tuple(_read_result(reader, r, f"results[{i}]") for i, r in enumerate(results)),
        schema_version=SCHEMA_VERSION,
    )


def load_record(path: Path | str) -> RunRecord:
    """Read a record file, or raise a one-line RecordError naming the file and the problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecordError(f"{path}: no such record file") from None
    except IsADirectoryError:
        raise RecordError(f"{path}: is a directory, not a record file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordError(f"{path}: cannot read: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    return record_from_dict(data, str(path))

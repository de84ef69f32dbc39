"""Run records: frozen dataclasses, JSON in and out, validation, migration, atomic writes."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from perfkit.model.errors import RecordError, UsageError, not_json
from perfkit.model.policy import MeasurePolicy
from perfkit.model.workload import Work
from perfkit.records.atomic import write_text_atomic
from perfkit.records.environment import Environment
from perfkit.records.typed import FieldError, from_json, to_json

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
    "check_samples",
    "dump_record",
    "load_record",
    "record_from_dict",
]

SCHEMA_VERSION = 7

Status = Literal["ok", "skipped", "invalid", "failed"]
STATUSES: tuple[str, ...] = get_args(Status)
StopReason = Literal["converged", "budget", "max_samples"]
STOP_REASONS: tuple[str, ...] = get_args(StopReason)


@dataclass(frozen=True, slots=True)
class SampleRun:
    """Samples from one worker process (a repetition), each the mean of ``loops`` calls:
    seconds per call, or instructions per call in a record whose policy counts them.

    ``other_cpu`` is the CPU other processes took while the samples were taken, in cores
    (steal time included; None where it was not measured); ``contended`` says it passed
    the policy's ``contention_cpu``. ``turns`` names the sampling in turns the run took
    part in (``perfkit ab``): another side's run of the same case, process and ``turns``
    took its samples alternately with this one, ``block`` samples a side at a time, in
    the order A B B A: its samples ``[2kb, 2kb + 2b)`` and this one's, b the block, were
    taken in the k-th such cycle.
    """

    process: int
    loops: int
    samples: tuple[float, ...]
    stop: StopReason
    other_cpu: float | None = None
    contended: bool = False
    turns: str | None = None
    block: int = 1


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
    """One case of a run. ``version`` is the workload's: results of different versions
    measure different things and are never compared."""

    case_id: str
    workload: str
    backend: str
    variant: str
    params: Mapping[str, Any]
    status: Status
    reason: str = ""
    reference: bool = False
    work: Work = field(default_factory=Work)
    measurement: Measurement | None = None
    version: int = 1
    unlike: str = ""  # why it is not like for like with the reference ("" when it is)

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
    environment: Environment
    policy: MeasurePolicy
    results: tuple[CaseResult, ...]
    schema_version: int = SCHEMA_VERSION

    def result(self, case_id: str) -> CaseResult | None:
        for result in self.results:
            if result.case_id == case_id:
                return result
        return None


def _result_to_dict(r: CaseResult) -> dict[str, Any]:
    m = r.measurement
    return {
        "case_id": r.case_id,
        "workload": r.workload,
        "version": r.version,
        "backend": r.backend,
        "variant": r.variant,
        "params": dict(r.params),
        "status": r.status,
        "reason": r.reason,
        "reference": r.reference,
        "work": to_json(r.work),
        "unlike": r.unlike,
        # JSON has no NaN: an undefined metric (a CI from two samples) is null.
        "measurement": None
        if m is None
        else {"runs": to_json(m.runs), "metrics": to_json(m.metrics)},
    }


def record_to_dict(record: RunRecord) -> dict[str, Any]:
    return {
        "schema_version": record.schema_version,
        "run_id": record.run_id,
        "created": record.created,
        "command": record.command,
        "partial": record.partial,
        "environment": to_json(record.environment),
        "policy": record.policy.to_json(),
        "results": [_result_to_dict(r) for r in record.results],
    }


def dump_record(record: RunRecord, path: Path) -> Path:
    """Write atomically (a temporary file in the same folder, then a rename)."""
    text = json.dumps(record_to_dict(record), indent=1, allow_nan=False)
    return write_text_atomic(path, text, fsync=True)


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 2 adds each result's workload ``version``; every workload was at version 1
    while schema 1 was written (none declared another), so that is what they get."""
    results = data.get("results")
    if isinstance(results, list):
        data = {**data, "results": [
            {**r, "version": 1} if isinstance(r, dict) else r for r in results
        ]}  # fmt: skip
    return data


def _v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 3 marks the runs sampled in turns (``SampleRun.turns``), which the gate
    compares cycle by cycle; schema 2 marked none, so none is: unchanged."""
    return data


def _v3_to_v4(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 4 keeps what each backend's engine was set up with (``settings``: Spark's
    master and key configs); schema 3 kept none: each backend gets an empty one."""
    environment = data.get("environment")
    if not isinstance(environment, dict) or not isinstance(environment.get("backends"), dict):
        return data
    backends = {
        name: {**info, "settings": {}} if isinstance(info, dict) else info
        for name, info in environment["backends"].items()
    }
    return {**data, "environment": {**environment, "backends": backends}}


def _v4_to_v5(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 5 counts the training steps a call takes (``work.steps``, for steps/s);
    schema 4 measured no training: every result's work takes 0."""
    results = data.get("results")
    if not isinstance(results, list):
        return data
    return {**data, "results": [
        {**r, "work": {**r["work"], "steps": 0.0}}
        if isinstance(r, dict) and isinstance(r.get("work"), dict) else r
        for r in results
    ]}  # fmt: skip


def _v5_to_v6(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 6 says why a case is not like for like with its reference (``unlike``);
    schema 5 said nothing, and a ranking of it marks nothing: every result takes ``""``."""
    results = data.get("results")
    if not isinstance(results, list):
        return data
    return {**data, "results": [
        {**r, "unlike": ""} if isinstance(r, dict) else r for r in results
    ]}  # fmt: skip


def _v6_to_v7(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 7 says how many samples a side took at a time in turns (``SampleRun.block``);
    schema 6 took one, the default: unchanged."""
    return data


# Migrations from schema N to N+1, applied in order on load.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
    1: _v1_to_v2, 2: _v2_to_v3, 3: _v3_to_v4, 4: _v4_to_v5, 5: _v5_to_v6, 6: _v6_to_v7,
}  # fmt: skip


def check_samples(run: SampleRun, where: str) -> None:
    """Refuse a sample that is not a finite, positive number, and a run of fewer than one
    loop a sample: one NaN would make every statistic of its case undefined, a time of 0 a
    ratio of infinity, and a comparison with either could claim anything."""
    if run.loops < 1:
        raise FieldError(f"{where}.loops", f"{run.loops!r}: a sample is at least one call")
    if run.block < 1:
        raise FieldError(f"{where}.block", f"{run.block!r}: a turn is at least one sample")
    for i, sample in enumerate(run.samples):
        if not (math.isfinite(sample) and sample > 0):
            raise FieldError(f"{where}.samples[{i}]", f"{sample!r} is not a sample")


def _read_run(raw: Any, where: str) -> SampleRun:
    run = from_json(SampleRun, raw, where)
    check_samples(run, where)
    return run


def _check_metrics(metrics: Mapping[str, float | None], where: str) -> None:
    """A metric is a finite number, or null where it is undefined (an interval from too
    few samples): a NaN or an infinity written as a number is refused."""
    for key, value in metrics.items():
        if value is not None and not math.isfinite(value):
            raise FieldError(f"{where}.{key}", f"{value!r} is not a finite number")


def _check_work(work: Work, where: str) -> None:
    for name in ("flops", "bytes", "items", "steps"):
        value = getattr(work, name)
        if not (math.isfinite(value) and value >= 0):
            raise FieldError(f"{where}.work.{name}", f"{value!r}: work is a count, 0 or more")


def _check_judgeable(result: CaseResult, where: str) -> None:
    """An ``ok`` case carries what it was measured with: samples to compare."""
    if result.status == "ok" and (result.measurement is None or not result.measurement.samples):
        raise FieldError(where, "status 'ok' without samples: nothing was measured")


def _check_unique(results: tuple[CaseResult, ...]) -> None:
    """One result a case id: a second copy would be silently ignored by every lookup."""
    seen: set[str] = set()
    for i, result in enumerate(results):
        if result.case_id in seen:
            raise FieldError(f"results[{i}]", f"case id {result.case_id!r} appears twice")
        seen.add(result.case_id)


def _read_result(raw: Any, where: str) -> CaseResult:
    if not isinstance(raw, dict):
        raise FieldError(where, "expected an object")
    if isinstance(raw.get("case_id"), str):
        where = f"{where} ({raw['case_id']})"
    measurement = None
    raw_m = raw.get("measurement")
    if raw_m is not None:
        mwhere = f"{where}.measurement"
        if not isinstance(raw_m, dict):
            raise FieldError(mwhere, "expected an object or null")
        runs = from_json(list[Any] | None, raw_m.get("runs"), f"{mwhere}.runs")
        if runs is None:
            raise FieldError(mwhere, "missing field 'runs'")
        metrics = from_json(
            Mapping[str, float | None], raw_m.get("metrics", {}), f"{mwhere}.metrics"
        )
        _check_metrics(metrics, f"{mwhere}.metrics")
        measurement = Measurement(
            tuple(_read_run(r, f"{mwhere}.runs[{i}]") for i, r in enumerate(runs)),
            {k: math.nan if v is None else v for k, v in metrics.items()},
        )
    plain = {k: v for k, v in raw.items() if k != "measurement"}
    result = dataclasses.replace(from_json(CaseResult, plain, where), measurement=measurement)
    _check_work(result.work, where)
    _check_judgeable(result, where)
    return result


def record_from_dict(data: Any, source: str = "record") -> RunRecord:
    """Validate untrusted JSON into a RunRecord, migrating older schemas first."""
    if not isinstance(data, dict) or "schema_version" not in data:
        raise RecordError(f"{source}: not a perfkit record (no 'schema_version')")
    version = data["schema_version"]
    if not isinstance(version, int) or isinstance(version, bool):
        raise RecordError(f"{source}: schema_version: expected an integer, got {version!r}")
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
    try:
        results = from_json(list[Any], _field(data, "results"), "record.results")
        read = tuple(_read_result(r, f"results[{i}]") for i, r in enumerate(results))
        _check_unique(read)
        return RunRecord(
            run_id=from_json(str, _field(data, "run_id"), "record.run_id"),
            created=from_json(str, _field(data, "created"), "record.created"),
            command=from_json(str, _field(data, "command"), "record.command"),
            partial=from_json(bool, _field(data, "partial"), "record.partial"),
            environment=from_json(Environment, _field(data, "environment"), "environment"),
            policy=from_json(MeasurePolicy, _field(data, "policy"), "policy"),
            results=read,
            schema_version=SCHEMA_VERSION,
        )
    except FieldError as exc:
        raise RecordError(f"{source}: {exc}") from None
    except UsageError as exc:  # a policy whose values MeasurePolicy refuses
        raise RecordError(f"{source}: policy: {exc}") from None


def _field(data: Mapping[str, Any], key: str) -> Any:
    if key not in data:
        raise FieldError("record", f"missing field {key!r}")
    return data[key]


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
        raise not_json(path, exc) from None
    return record_from_dict(data, str(path))

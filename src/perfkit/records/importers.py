"""Run records from other tools' results: asv result files and pytest-benchmark JSON.

Both are untrusted input: parsed as JSON, checked field by field, never evaluated. Timings
become the record's metrics; raw samples come along where the tool kept them (asv
``--record-samples``, pytest-benchmark ``--benchmark-save-data``), and without them the gate
calls the case UNKNOWN rather than guess.
"""

from __future__ import annotations

import datetime
import itertools
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from perfkit.model.axes import ParamValue, params_id
from perfkit.model.errors import RecordError, not_json
from perfkit.model.policy import MeasurePolicy
from perfkit.model.workload import Work
from perfkit.records.environment import Environment
from perfkit.records.run_record import CaseResult, Measurement, RunRecord, SampleRun
from perfkit.records.typed import FieldError, from_json

T = TypeVar("T")

__all__ = ["from_asv", "from_pytest_benchmark", "import_file"]


def _measurement(samples: list[float], metrics: Mapping[str, float | None]) -> Measurement:
    runs = (SampleRun(0, 1, tuple(samples), "budget"),) if samples else ()
    return Measurement(
        runs,
        {
            k: float(v)
            for k, v in metrics.items()
            if isinstance(v, int | float) and math.isfinite(v)
        },
    )


def _obj(mapping: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = mapping.get(key)
    return value if isinstance(value, dict) else {}


def _seq(mapping: Mapping[str, Any], key: str) -> list[Any]:
    value = mapping.get(key)
    return value if isinstance(value, list) else []


def _numbers(value: Any) -> list[float]:
    if not isinstance(value, list):
        return []
    return [float(v) for v in value if isinstance(v, int | float) and not isinstance(v, bool)]


def _case_parts(case_id: str) -> tuple[str, str, str]:
    """(workload, backend, variant) from ``workload/backend:variant[...]``, or the id's
    own name when it does not follow perfkit's shape."""
    head = case_id.split("[", 1)[0]
    workload, _, impl = head.partition("/")
    backend, _, variant = impl.partition(":")
    return workload or head, backend or "imported", variant or "default"


def _typed(kind: type[T], raw: Any, source: str) -> T:
    try:
        return from_json(kind, raw, kind.__name__.lower())
    except FieldError as exc:
        raise RecordError(f"{source}: {exc}") from None


def from_pytest_benchmark(data: Mapping[str, Any], source: str) -> RunRecord:
    benchmarks = data.get("benchmarks")
    if not isinstance(benchmarks, list):
        raise RecordError(f"{source}: not pytest-benchmark output (no 'benchmarks' list)")
    results = []
    for i, bench in enumerate(benchmarks):
        if not isinstance(bench, dict) or not isinstance(bench.get("stats"), dict):
            raise RecordError(f"{source}: benchmarks[{i}]: no 'stats'")
        extra = _obj(bench, "extra_info")
        case_id = str(extra.get("perfkit_case") or bench.get("fullname") or bench.get("name"))
        stats = bench["stats"]
        workload, backend, variant = _case_parts(case_id)
        metrics = {
            "time/median": stats.get("median"),
            "time/mean": stats.get("mean"),
            "time/min": stats.get("min"),
            "time/q1": stats.get("q1"),
            "time/q3": stats.get("q3"),
            "time/iqr": stats.get("iqr"),
            "time/stdev": stats.get("stddev"),
        }
        results.append(
            CaseResult(
                case_id,
                workload,
                backend,
                variant,
                _obj(extra, "params"),
                "ok",
                "",
                bool(extra.get("reference", False)),
                _typed(Work, _obj(extra, "work"), source),
                _measurement(_numbers(stats.get("data")), metrics),
            )
        )
    machine = _obj(data, "machine_info")
    cpu = _obj(machine, "cpu")
    commit = _obj(data, "commit_info")
    environment = {
        "machine": {
            "cpu": cpu.get("brand_raw"),
            "cores_logical": cpu.get("count"),
            "hostname": machine.get("node"),
        },
        "python": {"version": machine.get("python_version")},
        "git": {"sha": commit.get("id"), "dirty": commit.get("dirty")},
        "imported_from": "pytest-benchmark",
    }
    return RunRecord(
        f"pytest-benchmark-{Path(source).stem}",
        str(data.get("datetime", "")),
        f"imported {source}",
        False,
        _typed(Environment, environment, source),
        MeasurePolicy(),
        tuple(results),
    )


def _asv_value(text: Any) -> ParamValue:
    """asv stores parameter values as their repr: a quoted string or a number."""
    raw = str(text)
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        return raw[1:-1]
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            pass
    return raw


def from_asv(
    data: Mapping[str, Any], source: str, param_names: Mapping[str, list[str]] | None = None
) -> RunRecord:
    """``param_names`` (from asv's ``benchmarks.json`` beside the machine folders) turns
    positional parameters into perfkit's named ones, so imported case ids match perfkit's."""
    columns = data.get("result_columns")
    entries = data.get("results")
    if not isinstance(columns, list) or not isinstance(entries, dict):
        raise RecordError(f"{source}: not an asv result file (no 'result_columns'/'results')")
    results = []
    for name, row in sorted(entries.items()):
        if not isinstance(row, list) or not str(name).split(".")[-1].startswith("time_"):
            continue
        field = dict(zip(columns, row, strict=False))
        workload = str(name).split(".")[-2] if "." in str(name) else str(name)
        raw_params = _seq(field, "params")
        combos = list(
            itertools.product(*[[_asv_value(v) for v in values] for values in raw_params])
        ) or [()]
        values = _seq(field, "result")
        q1s, q3s = _seq(field, "stats_q_25"), _seq(field, "stats_q_75")
        samples = _seq(field, "samples")
        for i, combo in enumerate(combos):
            median = values[i] if i < len(values) else None
            impl = str(combo[0]) if combo else "asv:default"
            names = (param_names or {}).get(str(name)) or ["implementation"] + [
                f"p{j}" for j in range(1, len(combo))
            ]
            params = dict(zip(names[1:], combo[1:], strict=False))
            backend, _, variant = impl.partition(":")
            case_id = f"{workload}/{impl}[{params_id(params)}]"
            measured = isinstance(median, int | float)
            measurement = None
            if measured:
                metrics = {
                    "time/median": median,
                    "time/q1": q1s[i] if i < len(q1s) else None,
                    "time/q3": q3s[i] if i < len(q3s) else None,
                }
                raw = _numbers(samples[i] if i < len(samples) else None)
                measurement = _measurement(raw, metrics)
            results.append(
                CaseResult(
                    case_id,
                    workload,
                    backend,
                    variant or "default",
                    params,
                    "ok" if measured else "skipped",
                    "" if measured else "no result in asv",
                    False,
                    Work(),
                    measurement,
                )
            )
    machine = _obj(data, "params")
    stamp = data.get("date")
    created = (
        datetime.datetime.fromtimestamp(stamp / 1000, datetime.UTC).isoformat()
        if isinstance(stamp, int | float)
        else ""
    )
    environment = {
        "machine": {"cpu": machine.get("cpu"), "cores_logical": _asv_value(machine.get("num_cpu"))},
        "python": {"version": data.get("python")},
        "git": {"sha": data.get("commit_hash"), "dirty": None},
        "imported_from": "asv",
    }
    return RunRecord(
        f"asv-{str(data.get('commit_hash', ''))[:8]}",
        created,
        f"imported {source}",
        False,
        _typed(Environment, environment, source),
        MeasurePolicy(),
        tuple(results),
    )


def _asv_param_names(path: Path) -> dict[str, list[str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        str(k): [str(n) for n in v["param_names"]]
        for k, v in data.items()
        if isinstance(v, dict) and isinstance(v.get("param_names"), list)
    }


def import_file(path: Path) -> RunRecord:
    """A RunRecord from an asv result file or a pytest-benchmark JSON file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecordError(f"{path}: no such file") from None
    except json.JSONDecodeError as exc:
        raise not_json(path, exc) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordError(f"{path}: cannot read: {exc}") from None
    if isinstance(data, dict) and "benchmarks" in data:
        return from_pytest_benchmark(data, str(path))
    if isinstance(data, dict) and "result_columns" in data:
        return from_asv(data, str(path), _asv_param_names(path.parent.parent / "benchmarks.json"))
    raise RecordError(f"{path}: neither an asv result file nor pytest-benchmark JSON")

"""Records: round trips, the frozen fixture of every schema version, one-line load errors."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from perfkit import SCHEMA_VERSION, MeasurePolicy, RecordError, load_record
from perfkit.records.environment import Environment
from perfkit.records.run_record import (
    STATUSES,
    CaseResult,
    Measurement,
    RunRecord,
    SampleRun,
    dump_record,
    record_from_dict,
    record_to_dict,
)
from tests.conftest import DATA, perfkit

FIXTURES = sorted(DATA.glob("record_v*.json"))


def _fixture() -> dict[str, Any]:
    return json.loads((DATA / f"record_v{SCHEMA_VERSION}.json").read_text())


def test_there_is_a_frozen_fixture_for_every_schema_version() -> None:
    versions = sorted(int(p.stem.removeprefix("record_v")) for p in FIXTURES)
    assert versions == list(range(1, SCHEMA_VERSION + 1))


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_every_fixture_loads(path: Path) -> None:
    record = load_record(path)
    assert record.schema_version == SCHEMA_VERSION
    assert {r.status for r in record.results} == set(STATUSES)
    ok = next(r for r in record.results if r.status == "ok")
    assert ok.measurement is not None
    assert ok.measurement.samples
    assert ok.metric("time/median") > 0


def test_current_fixture_round_trips_exactly(tmp_path: Path) -> None:
    record = load_record(DATA / f"record_v{SCHEMA_VERSION}.json")
    out = dump_record(record, tmp_path / "again.json")
    assert json.loads(out.read_text()) == _fixture()
    assert load_record(out) == record


def test_nan_metrics_are_written_as_null_and_read_back_as_nan(tmp_path: Path) -> None:
    result = CaseResult(
        "w/b:v[n=1]",
        "w",
        "b",
        "v",
        {"n": 1},
        "ok",
        measurement=Measurement(
            (SampleRun(0, 1, (1.0, 2.0), "budget"),), {"time/ci_low": math.nan}
        ),
    )
    record = RunRecord("id", "now", "perfkit", False, Environment(), MeasurePolicy(), (result,))
    path = dump_record(record, tmp_path / "r.json")
    assert json.loads(path.read_text())["results"][0]["measurement"]["metrics"] == {
        "time/ci_low": None
    }
    assert math.isnan(load_record(path).results[0].metric("time/ci_low"))


def test_atomic_write_leaves_no_temporary_files(tmp_path: Path) -> None:
    record = load_record(DATA / f"record_v{SCHEMA_VERSION}.json")
    dump_record(record, tmp_path / "deep" / "r.json")
    assert [p.name for p in (tmp_path / "deep").iterdir()] == ["r.json"]


def _broken(change: Any) -> dict[str, Any]:
    data = _fixture()
    change(data)
    return data


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("schema_version"), "not a perfkit record"),
        (lambda d: d.update(schema_version=99), "schema version 99 is newer"),
        (lambda d: d.update(schema_version=0), "schema version 0 is not supported"),
        (lambda d: d.update(schema_version="1"), "schema_version: expected an integer"),
        (lambda d: d.pop("results"), "record: missing field 'results'"),
        (lambda d: d["results"][0].update(status="great"), "]).status: 'great' is not"),
        (lambda d: d["results"][1].update(params=[1]), ".params: expected an object, got list"),
        (
            lambda d: d["results"][0]["measurement"]["runs"][0].update(samples=["1"]),
            ".measurement.runs[0].samples[0]: expected a number, got '1'",
        ),
        (
            lambda d: d["results"][0]["measurement"]["runs"][0]["samples"].append(None),
            "]).measurement.runs[0].samples[6]: expected a number, got None",
        ),
        (
            lambda d: d["results"][0]["measurement"]["runs"][0]["samples"].append(float("nan")),
            ".measurement.runs[0].samples[6]: nan is not a sample",
        ),
        (
            lambda d: d["results"][0]["measurement"]["runs"][0]["samples"].append(-1.0),
            ".measurement.runs[0].samples[6]: -1.0 is not a sample",
        ),
        (lambda d: d["results"][0].update(version="2"), "version: expected an integer"),
        (lambda d: d["environment"]["machine"].update(cores_logical="2"), "environment.machine"),
        (lambda d: d["policy"].update(processes=0), "policy: need processes >= 1"),
        (
            lambda d: d["results"][0]["measurement"]["runs"][0].update(stop="bored"),
            "runs[0].stop: 'bored' is not one of",
        ),
        (lambda d: d.update(partial="no"), "record.partial: expected bool"),
        # What the gate cannot judge: refused on load rather than turned into a verdict.
        (
            lambda d: d["results"][0]["measurement"]["runs"][0]["samples"].append(0.0),
            ".measurement.runs[0].samples[6]: 0.0 is not a sample",
        ),
        (
            lambda d: d["results"][0]["measurement"]["runs"][0].update(loops=0),
            ".measurement.runs[0].loops: 0: a sample is at least one call",
        ),
        (
            lambda d: d["results"][0]["measurement"]["metrics"].update({"time/median": math.nan}),
            ".measurement.metrics.time/median: nan is not a finite number",
        ),
        (
            lambda d: d["results"][0]["measurement"]["metrics"].update({"time/min": math.inf}),
            ".measurement.metrics.time/min: inf is not a finite number",
        ),
        (lambda d: d["results"][0]["work"].update(flops=-1.0), ".work.flops: -1.0: work is a"),
        (lambda d: d["results"][0]["work"].update(bytes=math.nan), ".work.bytes: nan: work is"),
        (lambda d: d["results"][0].update(measurement=None), "status 'ok' without samples"),
        (
            lambda d: d["results"][0]["measurement"].update(runs=[]),
            "status 'ok' without samples",
        ),
        (
            lambda d: d["results"].append(dict(d["results"][0])),
            "appears twice",
        ),
        (lambda d: d["results"][0].update(reference=1), "]).reference: expected bool"),
    ],
)
def test_invalid_records_give_one_line_errors(change: Any, message: str) -> None:
    data = _broken(change)
    text = json.dumps(data)  # NaN survives as the token JSON readers accept
    with pytest.raises(RecordError) as info:
        record_from_dict(json.loads(text), "pr.json")
    text = str(info.value)
    assert message in text
    assert text.startswith("pr.json")
    assert "\n" not in text


def test_load_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match="no such record file"):
        load_record(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text('{"run_id": "x",\n "results": [1,,2]}')
    where = "bad.json: not valid JSON at line 2, column 16: Expecting value$"
    with pytest.raises(RecordError, match=where):
        load_record(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(RecordError, match="not a perfkit record"):
        load_record(tmp_path / "list.json")
    with pytest.raises(RecordError, match="is a directory"):
        load_record(tmp_path)


def test_record_to_dict_is_plain_json() -> None:
    record = load_record(DATA / f"record_v{SCHEMA_VERSION}.json")
    text = json.dumps(record_to_dict(record), allow_nan=False)
    assert json.loads(text)["run_id"] == record.run_id


def test_a_bad_sample_is_refused_with_the_case_named(tmp_path: Path) -> None:
    """A null sample once turned a 3x slower case into SAME: refused on load, exit 2,
    naming the case and the field."""
    data = _fixture()
    ok = next(r for r in data["results"] if r["status"] == "ok")
    ok["measurement"]["runs"][0]["samples"][2] = None
    (tmp_path / "bad.json").write_text(json.dumps(data))
    done = perfkit("gate", "bad.json", "bad.json", cwd=tmp_path)
    assert done.returncode == 2
    assert ok["case_id"] in done.stderr
    assert "samples[2]: expected a number, got None" in done.stderr
    assert "Traceback" not in done.stderr


def test_schema_1_records_migrate_with_workload_version_1() -> None:
    record = load_record(DATA / "record_v1.json")
    assert {r.version for r in record.results} == {1}
    assert record.results[0].work.flops > 0
    assert record.environment.machine.cpu == "AMD EPYC"


def test_schema_2_runs_migrate_as_not_sampled_in_turns() -> None:
    old, new = load_record(DATA / "record_v2.json"), load_record(DATA / "record_v3.json")
    runs = [run for r in old.results if r.measurement for run in r.measurement.runs]
    assert runs
    assert {run.turns for run in runs} == {None}
    marked = {run.turns for r in new.results if r.measurement for run in r.measurement.runs}
    assert marked == {"3f9c2a71d04e"}


def test_a_journal_line_that_is_not_json_is_named_by_line_and_column(tmp_path: Path) -> None:
    from perfkit.engine.journal import recover

    path = tmp_path / "run.journal.jsonl"
    path.write_text('{"journal": 1, oops}\n{"side": "base"}\n')
    with pytest.raises(
        RecordError, match="not valid JSON at line 1, column 16: Expecting property name"
    ):
        recover(path)

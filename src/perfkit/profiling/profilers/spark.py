"""``spark``: where a Spark case's task time goes, per stage of its jobs: executor run,
deserialisation, GC, shuffle read and write, result serialisation, from the driver's status
store (the data behind Spark's REST status API); so a job's fixed cost is plain."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from perfkit.model.backend import Availability, get_backend
from perfkit.model.workload import Case
from perfkit.profiling.profilers import Summary, register_profiler
from perfkit.profiling.record import Counter, StageCost

__all__ = ["SparkProfiler"]

_OUT = "stages.json"
_GROUP = "perfkit-profile"
_LISTENER_WAIT_MS = 10_000


class SparkProfiler:
    name = "spark"
    doc = "Spark task time per stage: run, deserialise, GC, shuffle, result serialisation"
    threads = 0

    def __init__(self) -> None:
        self._folder = Path()

    def probe(self, case: Case) -> Availability:
        backend = case.implementation.backend
        if not backend.startswith("spark"):
            return Availability.no(f"a {backend} case runs no Spark jobs")
        return get_backend(backend).probe()

    def wrapper(self, case: Case, folder: Path) -> list[str]:
        return []

    def start(self, case: Case, folder: Path) -> None:
        from perfkit.backends._spark import spark_session

        self._folder = folder
        spark_session().sparkContext.setJobGroup(_GROUP, "perfkit: profiled calls", False)

    def stop(self) -> None:
        from perfkit.backends._spark import spark_session
        from perfkit.integrations.spark.jobs import _stage_attempts, _status_store

        spark = spark_session()
        sc = spark.sparkContext
        sc._jsc.clearJobGroup()
        sc._jsc.sc().listenerBus().waitUntilEmpty(_LISTENER_WAIT_MS)
        tracker, store = sc.statusTracker(), _status_store(spark)
        rows: list[dict[str, Any]] = []
        jobs = tracker.getJobIdsForGroup(_GROUP)
        for job in jobs:
            info = tracker.getJobInfo(job)
            for stage in info.stageIds if info is not None else ():
                for attempt in _stage_attempts(store, stage):
                    if attempt.status().toString() == "COMPLETE":
                        rows.append(_stage_row(stage, attempt))
        (self._folder / _OUT).write_text(json.dumps({"jobs": len(jobs), "stages": rows}))

    def summarize(self, folder: Path, calls: int) -> Summary:
        data = json.loads((folder / _OUT).read_text())
        by_name: dict[str, list[dict[str, Any]]] = {}
        for row in data["stages"]:
            by_name.setdefault(row["name"], []).append(row)
        stages = []
        for name, rows in by_name.items():

            def total(key: str, rows: list[dict[str, Any]] = rows) -> float:
                return sum(float(r[key]) for r in rows) / max(calls, 1)

            stages.append(
                StageCost(
                    stage=min(int(r["stage"]) for r in rows),
                    name=name,
                    tasks=round(sum(int(r["tasks"]) for r in rows) / max(calls, 1)),
                    run_s=total("run_s"),
                    deserialize_s=total("deserialize_s"),
                    gc_s=total("gc_s"),
                    shuffle_read_s=total("shuffle_read_s"),
                    shuffle_write_s=total("shuffle_write_s"),
                    result_serialize_s=total("result_serialize_s"),
                )
            )
        task_s = sum(s.run_s + s.deserialize_s + s.result_serialize_s for s in stages)
        counters = (
            Counter("jobs", float(data["jobs"]), "", data["jobs"] / max(calls, 1)),
            Counter("stages", float(len(data["stages"])), "", len(data["stages"]) / max(calls, 1)),
            Counter("task time a call", task_s, "s", task_s),
        )
        note = "per call: each stage's task time summed over its tasks, averaged over calls"
        return Summary(stages=tuple(stages), counters=counters, notes=(note,))


def _stage_row(stage: int, attempt: Any) -> dict[str, Any]:
    return {
        "stage": stage,
        "name": str(attempt.name()),
        "tasks": int(attempt.numCompleteTasks()),
        "run_s": attempt.executorRunTime() / 1e3,
        "deserialize_s": attempt.executorDeserializeTime() / 1e3,
        "gc_s": attempt.jvmGcTime() / 1e3,
        "shuffle_read_s": attempt.shuffleFetchWaitTime() / 1e3,
        "shuffle_write_s": attempt.shuffleWriteTime() / 1e9,  # Spark keeps this one in ns
        "result_serialize_s": attempt.resultSerializationTime() / 1e3,
    }


register_profiler(SparkProfiler())

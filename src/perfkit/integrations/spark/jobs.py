"""What one call's Spark jobs did, read from the driver's status store (the data behind
Spark's REST status API, there with the UI off): stages, tasks, shuffle bytes, executor
run and GC time. And which executors a case lost while it ran."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from perfkit.model.monitor import NullMonitor

__all__ = ["ExecutorWatch", "observe_call"]

_GROUPS = itertools.count()
_LISTENER_WAIT_MS = 10_000  # the listener bus is normally empty within milliseconds


def _status_store(spark: Any) -> Any:
    return spark.sparkContext._jsc.sc().statusStore()


def _stage_attempts(store: Any, stage: int) -> list[Any]:
    """Every attempt of ``stage`` (no task details, no quantiles)."""
    data = store.stageData(
        stage,
        False,
        getattr(store, "stageData$default$3")(),
        False,
        getattr(store, "stageData$default$5")(),
    )
    return [data.apply(i) for i in range(data.size())]


def observe_call(spark: Any, call: Callable[[], Any]) -> dict[str, float]:
    """Call ``call`` once under a job group of its own, then sum over that group's jobs
    the stages that ran (skipped ones, whose shuffle output was reused, not counted),
    their tasks, shuffle bytes and executor time."""
    sc = spark.sparkContext
    group = f"perfkit-observe-{next(_GROUPS)}"
    sc.setJobGroup(group, "perfkit: one observed call", False)
    try:
        call()
    finally:
        sc._jsc.clearJobGroup()
    sc._jsc.sc().listenerBus().waitUntilEmpty(_LISTENER_WAIT_MS)
    tracker = sc.statusTracker()
    store = _status_store(spark)
    totals = dict.fromkeys(
        ("jobs", "stages", "tasks", "shuffle_read_bytes", "shuffle_write_bytes"), 0.0
    )
    run_ms = gc_ms = 0.0
    for job in tracker.getJobIdsForGroup(group):
        info = tracker.getJobInfo(job)
        if info is None:
            continue
        totals["jobs"] += 1
        for stage in info.stageIds:
            for attempt in _stage_attempts(store, stage):
                if attempt.status().toString() != "COMPLETE":
                    continue
                totals["stages"] += 1
                totals["tasks"] += attempt.numCompleteTasks()
                totals["shuffle_read_bytes"] += attempt.shuffleReadBytes()
                totals["shuffle_write_bytes"] += attempt.shuffleWriteBytes()
                run_ms += attempt.executorRunTime()
                gc_ms += attempt.jvmGcTime()
    metrics = {f"spark/{key}": value for key, value in totals.items()}
    metrics["spark/executor_run_seconds"] = run_ms / 1000
    metrics["spark/gc_seconds"] = gc_ms / 1000
    return metrics


def _executors(spark: Any) -> list[tuple[str, bool]]:
    listed = _status_store(spark).executorList(False)
    found = []
    for i in range(listed.size()):
        executor = listed.apply(i)
        if executor.id() != "driver":
            found.append((str(executor.id()), bool(executor.isActive())))
    return found


class ExecutorWatch(NullMonitor):
    """A case's monitor: the executors alive when it ended (``spark/executors``) and how
    many were lost while it ran (``spark/executors_lost``, present only when some were),
    so a record says when a case survived a worker's death."""

    def __init__(self, spark: Callable[[], Any]) -> None:
        self._spark = spark
        self._dead_before: set[str] = set()
        self._metrics: dict[str, float] = {}

    def __enter__(self) -> ExecutorWatch:
        self._dead_before = {name for name, alive in _executors(self._spark()) if not alive}
        return self

    def __exit__(self, *exc: object) -> None:
        executors = _executors(self._spark())
        lost = {name for name, alive in executors if not alive} - self._dead_before
        self._metrics = {}
        if executors:  # none in local mode: the driver runs the tasks
            self._metrics["spark/executors"] = float(sum(alive for _, alive in executors))
        if lost:
            self._metrics["spark/executors_lost"] = float(len(lost))

    def metrics(self) -> dict[str, float]:
        return dict(self._metrics)

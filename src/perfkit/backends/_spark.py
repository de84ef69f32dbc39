"""What the Spark backends share: the probe, one Spark session per worker process (a
process holds one SparkContext, so opening one Spark backend's session closes another's),
the settings a record keeps, the per-call job metrics and the executor watch."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

from perfkit.model.backend import Availability, CpuBackend, package_versions
from perfkit.model.monitor import CaseMonitor

__all__ = ["SparkBackend", "spark_session"]

_OPEN: list[SparkBackend] = []  # the Spark backend whose session this process has open


class SparkBackend(CpuBackend):
    """A Spark engine; subclasses say how a session starts (``open_session``)."""

    packages = ("pyspark",)
    session_group: str | None = "spark"
    start_seconds = 10.0  # a driver JVM and its first job

    def __init__(self) -> None:
        self.spark: Any = None

    def probe(self) -> Availability:
        from perfkit.integrations.spark.target import spark_missing

        missing = spark_missing()
        return Availability.no(missing) if missing else Availability.yes()

    def ui(self) -> bool:
        from perfkit.integrations.spark.target import ENV_UI

        return os.environ.get(ENV_UI) == "1"

    def open_session(self, stack: contextlib.ExitStack) -> Any:
        """Start this backend's Spark session; ``stack`` stops what it started, later."""
        raise NotImplementedError

    def session(self) -> contextlib.AbstractContextManager[Any]:
        return self._session()

    @contextlib.contextmanager
    def _session(self) -> Iterator[Any]:
        for other in list(_OPEN):  # the worker closes it first; this is the backstop
            other.close_now()
        with contextlib.ExitStack() as stack:
            self.spark = self.open_session(stack)
            _OPEN.append(self)
            try:
                yield self.spark
            finally:
                self.close_now()

    def close_now(self) -> None:
        spark, self.spark = self.spark, None
        if self in _OPEN:
            _OPEN.remove(self)
        if spark is not None:
            spark.stop()

    def monitor(self) -> CaseMonitor:
        from perfkit.integrations.spark.jobs import ExecutorWatch

        return ExecutorWatch(lambda: self.spark)

    def call_metrics(self, thunk: Callable[[], Any]) -> dict[str, float]:
        from perfkit.integrations.spark.jobs import observe_call

        return observe_call(self.spark, thunk)

    def versions(self) -> dict[str, str]:
        return package_versions("pyspark", "pyarrow", "pandas")

    def key_settings(self, master: str = "local") -> dict[str, str]:
        """The session settings a record keeps (no folder, no secret): perfkit's own (with
        encryption where ``master`` is not on the loopback address) and the run's
        ``--spark-conf``."""
        from perfkit.integrations.spark.session import ENCRYPTED, SAFE_SETTINGS, on_loopback
        from perfkit.integrations.spark.target import extra_settings

        settings = dict(SAFE_SETTINGS)
        settings["spark.ui.enabled"] = "true" if self.ui() else "false"
        if not on_loopback(master):
            settings.update(ENCRYPTED)
        return {**settings, **extra_settings()}


def spark_session() -> Any:
    """The worker's open Spark session (a port runs only once its backend's is open)."""
    if not _OPEN or _OPEN[-1].spark is None:
        raise RuntimeError("no Spark session: no Spark backend's session is open")
    return _OPEN[-1].spark

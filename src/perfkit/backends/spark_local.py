"""Spark in local mode: a driver JVM on this machine running ``local[N]`` (N: the run's
``--threads``, else every CPU this process may use). One Spark session per worker process,
started before the first case and timed apart (``time/session_start``); the ports reach it
as ``spark_session()``."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from perfkit.backend import Availability, CpuBackend, package_versions, register_backend


class SparkLocalBackend(CpuBackend):
    name = "spark_local"
    label = "Spark (local)"
    color = "#e25a1c"
    packages = ("pyspark",)

    def __init__(self) -> None:
        self.spark: Any = None

    def probe(self) -> Availability:
        try:
            import pyspark  # noqa: F401
        except ImportError:
            return Availability.no("pyspark is not installed (pip install -e '.[spark]')")
        if shutil.which("java") is None:
            return Availability.no(
                "no java on PATH (Spark 4 needs Java 17: apt-get install openjdk-17-jre-headless)"
            )
        return Availability.yes()

    def master(self) -> str:
        threads = os.environ.get("PERFKIT_THREADS", "0")
        return f"local[{threads}]" if threads not in ("", "0") else "local[*]"

    def session(self) -> contextlib.AbstractContextManager[Any]:
        return self._session()

    @contextlib.contextmanager
    def _session(self) -> Iterator[Any]:
        from perfkit.spark.session import session_settings, start_session

        with tempfile.TemporaryDirectory(prefix="perfkit-spark-") as folder:
            self.spark = start_session(session_settings(self.master(), Path(folder)))
            try:
                yield self.spark
            finally:
                self.spark.stop()
                self.spark = None

    def versions(self) -> dict[str, str]:
        return package_versions("pyspark", "pyarrow", "pandas")


SPARK_LOCAL = SparkLocalBackend()
register_backend(SPARK_LOCAL)


def spark_session() -> Any:
    """The worker's Spark session (the backend's session is entered before a port runs)."""
    if SPARK_LOCAL.spark is None:
        raise RuntimeError("no Spark session: the spark_local backend's session is not open")
    return SPARK_LOCAL.spark

"""Spark in local mode: a driver JVM on this machine running ``local[N]`` (N: the run's
``--threads``, else every CPU this process may use). One Spark session per worker process,
started before the first case and timed apart (``time/session_start``); the ports reach it
as ``spark_session()``."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any

from perfkit.backends._spark import SparkBackend, spark_session
from perfkit.model.backend import register_backend

__all__ = ["SPARK_LOCAL", "spark_session"]


class SparkLocalBackend(SparkBackend):
    name = "spark_local"
    label = "Spark (local)"
    color = "#e25a1c"

    def master(self) -> str:
        threads = os.environ.get("PERFKIT_THREADS", "0")
        return f"local[{threads}]" if threads not in ("", "0") else "local[*]"

    def open_session(self, stack: contextlib.ExitStack) -> Any:
        from perfkit.integrations.spark.session import session_settings, start_session
        from perfkit.integrations.spark.target import extra_settings

        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="perfkit-spark-")))
        return start_session(session_settings(self.master(), folder, self.ui(), extra_settings()))

    def settings(self) -> dict[str, str]:
        return {"master": self.master(), **self.key_settings()}


SPARK_LOCAL = SparkLocalBackend()
register_backend(SPARK_LOCAL)

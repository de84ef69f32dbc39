"""What the Spark ports share: numpy columns into a cached DataFrame (the inputs may be
cached; a timed call's results never are, so each call runs a whole Spark job)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from perfkit.backends._spark import spark_session

__all__ = ["PARTITIONS", "cached_frame", "cached_lines"]

PARTITIONS = 4  # two per core of a 2-core machine, one per core of a 4-core one


def _cached(frame: Any, partitions: int) -> Any:
    """A pandas frame as a Spark DataFrame in ``partitions`` partitions, cached and
    materialised outside every timed call."""
    df = spark_session().createDataFrame(frame).repartition(partitions).cache()
    df.count()
    return df


def cached_frame(columns: Mapping[str, np.ndarray], partitions: int = PARTITIONS) -> Any:
    """A DataFrame of ``columns`` (one row per element, an ``i`` column for their order)."""
    import pandas as pd

    first = next(iter(columns.values()))
    return _cached(
        pd.DataFrame({"i": np.arange(len(first), dtype=np.int64), **columns}), partitions
    )


def cached_lines(lines: Sequence[str], partitions: int = PARTITIONS) -> Any:
    """A DataFrame of one string column, ``value``, as ``spark.read.text`` makes."""
    import pandas as pd

    return _cached(pd.DataFrame({"value": pd.Series(lines, dtype=object)}), partitions)

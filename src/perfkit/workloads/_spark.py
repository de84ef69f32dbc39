"""What the Spark ports share: numpy columns into a cached DataFrame (the inputs may be
cached; a timed call's results never are, so each call runs a whole Spark job)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from perfkit.backends._spark import spark_session

__all__ = ["PARTITIONS", "cached_frame", "cached_lines"]

PARTITIONS = 4  # two per core of a 2-core machine, one per core of a 4-core one


def cached_frame(columns: Mapping[str, np.ndarray], partitions: int = PARTITIONS) -> Any:
    """A DataFrame of ``columns`` (one row per element, an ``i`` column for their order),
    cached and materialised, in ``partitions`` partitions."""
    import pandas as pd

    spark = spark_session()
    first = next(iter(columns.values()))
    frame = pd.DataFrame({"i": np.arange(len(first), dtype=np.int64), **columns})
    df = spark.createDataFrame(frame).repartition(partitions).cache()
    df.count()  # materialise the cache outside every timed call
    return df


def cached_lines(lines: Sequence[str], partitions: int = PARTITIONS) -> Any:
    """A DataFrame of one string column, ``value`` (as ``spark.read.text`` makes), cached
    and materialised, in ``partitions`` partitions."""
    import pandas as pd

    spark = spark_session()
    frame = pd.DataFrame({"value": pd.Series(lines, dtype=object)})
    df = spark.createDataFrame(frame).repartition(partitions).cache()
    df.count()
    return df

"""What the Spark ports share: numpy columns into a cached DataFrame (the inputs may be
cached; a timed call's results never are, so each call runs a whole Spark job)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["cached_frame"]


def cached_frame(columns: Mapping[str, np.ndarray], partitions: int = 4) -> Any:
    """A DataFrame of ``columns`` (one row per element, an ``i`` column for their order),
    cached and materialised, in ``partitions`` partitions."""
    import pandas as pd

    from perfkit.backends._spark import spark_session

    spark = spark_session()
    first = next(iter(columns.values()))
    frame = pd.DataFrame({"i": np.arange(len(first), dtype=np.int64), **columns})
    df = spark.createDataFrame(frame).repartition(partitions).cache()
    df.count()  # materialise the cache outside every timed call
    return df

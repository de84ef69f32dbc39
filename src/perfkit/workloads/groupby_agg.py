"""groupby_agg: count, sum, min, max and mean of a value column per key of a seeded
table (integer values, so every engine's answer is exact and equal)."""

from __future__ import annotations

from typing import Any

import numpy as np

from perfkit.model.axes import Axis, Params, ParamSpace
from perfkit.model.registry import register_workload
from perfkit.model.workload import CheckResult, Thunk, Work, workload

COLUMNS = ("key", "count", "sum", "min", "max", "mean")


def _inputs(params: Params, rng: np.random.Generator) -> dict[str, Any]:
    n, keys = int(params["n"]), int(params["keys"])
    return {
        "key": rng.integers(0, keys, size=n, dtype=np.int64),
        "value": rng.integers(-1000, 1000, size=n, dtype=np.int64),
    }


def _truth(inputs: dict[str, Any], params: Params) -> dict[str, np.ndarray]:
    """In NumPy: ``unique`` and ``bincount`` (independent of every port)."""
    key, value = inputs["key"], inputs["value"]
    present, index = np.unique(key, return_inverse=True)
    count = np.bincount(index)
    total = np.bincount(index, weights=value).astype(np.int64)
    order = np.lexsort((value, index))
    first = np.searchsorted(index[order], np.arange(len(present)))
    last = np.append(first[1:], len(order)) - 1
    return {
        "key": present,
        "count": count.astype(np.int64),
        "sum": total,
        "min": value[order][first],
        "max": value[order][last],
        "mean": total / count,
    }


def _check(output: Any, truth: Any, params: Params) -> CheckResult:
    """Every column equal, exactly (a mean is one division of two exact integers)."""
    for column in COLUMNS:
        got = np.asarray(output.get(column))
        if got.shape != truth[column].shape or not np.array_equal(got, truth[column]):
            return CheckResult(False, None, f"column {column} differs from the truth")
    return CheckResult(True, 0.0)


GROUPBY_AGG = workload(
    name="groupby_agg",
    doc="count, sum, min, max, mean of a value per key (a keyed table, exact)",
    space=ParamSpace(
        (
            Axis("n", (300_000, 1_000_000, 3_000_000), quick=(100_000,), doc="rows"),
            Axis("keys", (10_000,), quick=(1000,), doc="distinct keys"),
        )
    ),
    make_inputs=_inputs,
    expected=_truth,
    check=_check,
    work=lambda params: Work(items=float(params["n"])),
    suite="data",
)


def _columns(frame: Any) -> dict[str, np.ndarray]:
    """A result frame sorted by key into the checker's columns."""
    frame = frame.sort_values("key")
    return {
        "key": frame["key"].to_numpy(np.int64),
        "count": frame["count"].to_numpy(np.int64),
        "sum": frame["sum"].to_numpy(np.int64),
        "min": frame["min"].to_numpy(np.int64),
        "max": frame["max"].to_numpy(np.int64),
        "mean": frame["mean"].to_numpy(np.float64),
    }


@GROUPBY_AGG.port("pandas", reference=True)
def _pandas(inputs: dict[str, Any], params: Params) -> Thunk:
    """``groupby(key).agg(count, sum, min, max, mean)``."""
    import pandas as pd

    table = pd.DataFrame({"key": inputs["key"], "value": inputs["value"]})

    def run() -> dict[str, np.ndarray]:
        result = table.groupby("key", sort=True)["value"].agg(
            ["count", "sum", "min", "max", "mean"]
        )
        return _columns(result.reset_index())

    return run


@GROUPBY_AGG.port("spark_local", "dataframe")
def _spark(inputs: dict[str, Any], params: Params) -> Thunk:
    """``groupBy(key).agg(...)`` on a cached DataFrame, the result back through Arrow."""
    from pyspark.sql import functions as sf

    from perfkit.workloads._spark import cached_frame

    df = cached_frame({"key": inputs["key"], "value": inputs["value"]})

    def run() -> dict[str, np.ndarray]:
        result = df.groupBy("key").agg(
            sf.count("value").alias("count"),
            sf.sum("value").alias("sum"),
            sf.min("value").alias("min"),
            sf.max("value").alias("max"),
            sf.avg("value").alias("mean"),
        )
        return _columns(result.toPandas())

    return run


register_workload(GROUPBY_AGG)

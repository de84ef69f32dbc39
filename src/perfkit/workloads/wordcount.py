"""wordcount: how often each word occurs in a seeded Zipf text (exact counts)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from perfkit.datasets.text import generate_text
from perfkit.model.axes import Axis, Params, ParamSpace
from perfkit.model.registry import register_workload
from perfkit.model.workload import Thunk, Work, exact_match, workload


def _inputs(params: Params, rng: np.random.Generator) -> dict[str, Any]:
    return {"lines": generate_text(int(params["n"]), rng)}


def _counts_in_python(lines: list[str]) -> dict[str, int]:
    return dict(Counter(word for line in lines for word in line.split()))


WORDCOUNT = workload(
    name="wordcount",
    doc="count every word of a Zipf text (words split on white space)",
    space=ParamSpace(
        (Axis("n", (100_000, 300_000, 1_000_000), quick=(50_000,), doc="words of text"),)
    ),
    make_inputs=_inputs,
    expected=lambda inputs, params: _counts_in_python(inputs["lines"]),
    check=exact_match,
    work=lambda params: Work(items=float(params["n"])),
    suite="data",
)


@WORDCOUNT.port("python", reference=True)
def _python(inputs: dict[str, Any], params: Params) -> Thunk:
    """``collections.Counter`` over ``str.split``."""
    lines = inputs["lines"]
    return lambda: _counts_in_python(lines)


@WORDCOUNT.port("pandas")
def _pandas(inputs: dict[str, Any], params: Params) -> Thunk:
    """``str.split``, ``explode``, ``value_counts``."""
    import pandas as pd

    lines = pd.Series(inputs["lines"], dtype=object)

    def run() -> dict[str, int]:
        counts = lines.str.split().explode().value_counts()
        return {str(word): int(count) for word, count in counts.items()}

    return run


@WORDCOUNT.port("spark_local", "rdd")
def _spark_rdd(inputs: dict[str, Any], params: Params) -> Thunk:
    """The classic: ``flatMap(split)``, ``map((w, 1))``, ``reduceByKey(add)`` on an RDD of
    lines (cached), in Python workers."""
    import operator

    from perfkit.backends._spark import spark_session
    from perfkit.workloads._spark import PARTITIONS

    rdd = spark_session().sparkContext.parallelize(inputs["lines"], PARTITIONS).cache()
    rdd.count()

    def run() -> dict[str, int]:
        pairs = rdd.flatMap(str.split).map(lambda word: (word, 1))
        return dict(pairs.reduceByKey(operator.add).collect())

    return run


@WORDCOUNT.port("spark_local", "dataframe")
def _spark_dataframe(inputs: dict[str, Any], params: Params) -> Thunk:
    """``split`` and ``explode`` a cached DataFrame of lines, ``groupBy(word).count()``:
    all in the JVM, no Python worker."""
    from pyspark.sql import functions as sf

    from perfkit.workloads._spark import cached_lines

    df = cached_lines(inputs["lines"])

    def run() -> dict[str, int]:
        words = df.select(sf.explode(sf.split("value", " ")).alias("word"))
        counts = words.groupBy("word").count().toPandas()
        return dict(zip(counts["word"].tolist(), counts["count"].astype(int).tolist(), strict=True))

    return run


register_workload(WORDCOUNT)

"""log_analysis: status counts, top endpoints, byte statistics, busy hosts and malformed
lines of a web server log in the Common Log Format (generated, or a real file)."""

from __future__ import annotations

import re
import sys
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from perfkit.datasets import (
    dataset_axis,
    each_line,
    named_or_file,
    only_first_size,
    read_lines,
    register_file_check,
)
from perfkit.datasets.logs import (
    BUSY_HITS,
    CLF_PATTERN,
    TOP,
    LogSummary,
    generate_log,
    top_endpoints,
)
from perfkit.model.axes import Axis, Params, ParamSpace
from perfkit.model.errors import UsageError
from perfkit.model.registry import register_workload
from perfkit.model.workload import Thunk, Work, exact_match, workload

_SIZES = (30_000, 100_000, 300_000)
_CLF = re.compile(CLF_PATTERN, re.ASCII)  # a line of the Common Log Format, its fields


def _inputs(params: Params, rng: np.random.Generator) -> dict[str, Any]:
    path = named_or_file(params, {})
    lines = generate_log(int(params["n"]), rng) if path is None else read_lines(Path(path))
    return {"lines": lines}


def _check_log(path: Path, target: str) -> None:
    """Refuse a file with no line in the Common Log Format, or one that cannot be read to
    its end (a truncated ``.gz``); say how much of a mostly malformed one is malformed
    (such lines are counted, as the workload counts them, but are likely not a log)."""
    parse = _CLF.match
    lines = parsed = 0
    try:
        for line in each_line(path):
            lines += 1
            parsed += parse(line) is not None
    except (OSError, EOFError, zlib.error) as exc:
        raise UsageError(f"--data {path}: cannot be read to its end: {exc}") from None
    if not parsed:
        raise UsageError(f"--data {path}: none of its {lines:,} lines is in the Common Log Format")
    if parsed < lines / 2:
        malformed = lines - parsed
        print(
            f"perfkit: warning: --data {path}: {malformed:,} of its {lines:,} lines "
            f"({malformed / lines:.0%}) are not in the Common Log Format (counted as malformed)",
            file=sys.stderr,
        )


register_file_check("log_analysis", _check_log)


def _work(params: Params) -> Work:
    return Work(items=float(params["n"]) if params["dataset"] == "generated" else 0.0)


def _summary_in_python(lines: list[str]) -> LogSummary:
    parse = _CLF.match
    status: Counter[int] = Counter()
    endpoints: Counter[str] = Counter()
    hosts: Counter[str] = Counter()
    total = largest = counted = malformed = 0
    for line in lines:
        found = parse(line)
        if found is None:
            malformed += 1
            continue
        host, _, endpoint, code, sent = found.groups()
        status[int(code)] += 1
        endpoints[endpoint] += 1
        hosts[host] += 1
        if sent != "-":
            size = int(sent)
            total += size
            largest = max(largest, size)
            counted += 1
    return LogSummary(
        status=tuple(sorted(status.items())),
        top_endpoints=top_endpoints(dict(endpoints)),
        bytes_total=total,
        bytes_max=largest,
        bytes_lines=counted,
        busy_hosts=tuple(sorted((h, c) for h, c in hosts.items() if c > BUSY_HITS)),
        malformed=malformed,
        lines=len(lines),
    )


LOG_ANALYSIS = workload(
    name="log_analysis",
    doc="status counts, top endpoints, bytes, busy hosts, malformed lines of a CLF log",
    space=ParamSpace(
        (
            Axis("n", _SIZES, quick=(20_000,), doc="log lines (generated data only)"),
            dataset_axis(doc="generated, or a Common Log Format file (--data, plain or .gz)"),
        ),
        exclude=only_first_size(_SIZES[0]),
    ),
    make_inputs=_inputs,
    expected=lambda inputs, params: _summary_in_python(inputs["lines"]),
    check=exact_match,
    work=_work,
    suite="data",
)


@LOG_ANALYSIS.port("python", reference=True)
def _python(inputs: dict[str, Any], params: Params) -> Thunk:
    """One pass: a compiled regular expression a line, ``Counter``s."""
    lines = inputs["lines"]
    return lambda: _summary_in_python(lines)


@LOG_ANALYSIS.port("pandas")
def _pandas(inputs: dict[str, Any], params: Params) -> Thunk:
    """``Series.str.extract`` into columns, then ``value_counts`` and ``groupby``."""
    import pandas as pd

    lines = pd.Series(inputs["lines"], dtype=object)

    def run() -> LogSummary:
        parts = lines.str.extract(CLF_PATTERN, flags=re.ASCII)
        parts.columns = ["host", "method", "endpoint", "status", "bytes"]
        good = parts.dropna(subset=["host"])
        sent = pd.to_numeric(good["bytes"].where(good["bytes"] != "-"), errors="coerce")
        sent = sent.dropna().astype("int64")
        status = good["status"].astype("int64").value_counts()
        hosts = good["host"].value_counts()
        busy = hosts[hosts > BUSY_HITS]
        return LogSummary(
            status=tuple(sorted((int(k), int(v)) for k, v in status.items())),
            top_endpoints=top_endpoints(
                {str(k): int(v) for k, v in good["endpoint"].value_counts().items()}
            ),
            bytes_total=int(sent.sum()),
            bytes_max=int(sent.max()) if len(sent) else 0,
            bytes_lines=len(sent),
            busy_hosts=tuple(sorted((str(h), int(c)) for h, c in busy.items())),
            malformed=len(lines) - len(good),
            lines=len(lines),
        )

    return run


@LOG_ANALYSIS.port("spark_local", "dataframe")
def _spark(inputs: dict[str, Any], params: Params) -> Thunk:
    """``regexp_extract`` into columns of a cached DataFrame of lines, then one aggregation
    a question (each a Spark job that parses the lines again: nothing parsed is cached)."""
    from pyspark.sql import functions as sf

    from perfkit.workloads._spark import cached_lines

    df = cached_lines(inputs["lines"])

    def run() -> LogSummary:
        good = df.where(df.value.rlike(CLF_PATTERN)).select(
            *(sf.regexp_extract("value", CLF_PATTERN, i).alias(name)
              for i, name in ((1, "host"), (3, "endpoint"), (4, "status"), (5, "bytes")))
        )  # fmt: skip
        status = good.groupBy("status").count().collect()
        endpoints = good.groupBy("endpoint").count()
        top = endpoints.orderBy(sf.desc("count"), "endpoint").limit(TOP).collect()
        sent = good.where(good.bytes != "-").select(good.bytes.cast("long").alias("b"))
        sums = sent.agg(sf.sum("b"), sf.max("b"), sf.count("b")).collect()[0]
        busy = good.groupBy("host").count().where(sf.col("count") > BUSY_HITS).collect()
        parsed = sum(row["count"] for row in status)
        return LogSummary(
            status=tuple(sorted((int(r["status"]), int(r["count"])) for r in status)),
            top_endpoints=tuple((str(r["endpoint"]), int(r["count"])) for r in top),
            bytes_total=int(sums[0] or 0),
            bytes_max=int(sums[1] or 0),
            bytes_lines=int(sums[2]),
            busy_hosts=tuple(sorted((str(r["host"]), int(r["count"])) for r in busy)),
            malformed=len(inputs["lines"]) - parsed,
            lines=len(inputs["lines"]),
        )

    return run


register_workload(LOG_ANALYSIS)

"""Markdown tables of a record with Spark cases, for the README and docs/spark.md.

    python scripts/spark_table.py RECORD.json [RECORD.json ...]

For every workload: one row a parameter set, one column an implementation (the
reference first), each cell the median seconds a call and, beside the reference, how many
times slower (>1) or faster (<1) than the reference it is, all from the one run. Then,
for the Spark ports, what one call's jobs did (jobs, stages, tasks, shuffle bytes) at the
smallest size, and each Spark session's start-up time. For ``als_recommend``, the
held-out RMSE of each port beside its time.
"""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict
from pathlib import Path

from perfkit.model.axes import params_id
from perfkit.records.format import format_seconds, ratio_text
from perfkit.records.run_record import CaseResult, load_record

_ENGINES = ("python", "pandas", "numpy", "spark_local", "spark_cluster")  # column order


def _times(ratio: float) -> str:
    return f"{ratio:.3g}x" if ratio >= 0.1 else ratio_text(ratio)


def _cell(result: CaseResult, reference: CaseResult | None, rmse: bool) -> str:
    median = result.metric("time/median")
    if result.status != "ok" or median is None:
        return result.status
    text = format_seconds(median)
    if rmse and result.metric("check/error") is not None:
        text += f", RMSE {result.metric('check/error'):.3f}"
    ref = reference.metric("time/median") if reference else None
    if ref and result is not reference:
        text += f" ({_times(median / ref)} the time)"
    return text


def workload_table(results: list[CaseResult]) -> str:
    workload = results[0].workload

    def order(key: str) -> tuple[bool, int, str]:
        engine = key.partition(":")[0]
        first = any(r.reference for r in results if r.implementation == key)
        return not first, _ENGINES.index(engine) if engine in _ENGINES else 0, key

    columns = sorted({r.implementation for r in results}, key=order)
    rows: dict[str, dict[str, CaseResult]] = defaultdict(dict)
    for result in results:
        rows[params_id(result.params)][result.implementation] = result
    lines = [
        f"| {workload} | " + " | ".join(f"`{c}`" for c in columns) + " |",
        "| --- |" + " --- |" * len(columns),
    ]
    for params, cells in rows.items():
        reference = next((r for r in cells.values() if r.reference), None)
        texts = [_cell(cells[c], reference, workload == "als_recommend") if c in cells else ""
                 for c in columns]  # fmt: skip
        lines.append(f"| {params} | " + " | ".join(texts) + " |")
    return "\n".join(lines)


def job_table(results: list[CaseResult]) -> str:
    """One call's Spark jobs at each Spark port's smallest parameter set."""
    lines = [
        "| case | jobs | stages | tasks | shuffle written | time a call |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    first: dict[tuple[str, str], CaseResult] = {}
    for result in results:
        if result.backend.startswith("spark") and result.status == "ok":
            first.setdefault((result.workload, result.implementation), result)
    for result in first.values():
        m = result.metric
        lines.append(
            f"| `{result.case_id}` | {m('spark/jobs'):.0f} | {m('spark/stages'):.0f} | "
            f"{m('spark/tasks'):.0f} | {m('spark/shuffle_write_bytes') or 0:.0f} B | "
            f"{format_seconds(m('time/median') or 0)} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", nargs="+", type=Path)
    args = parser.parse_args()
    results = [r for path in args.records for r in load_record(path).results]
    by_workload: dict[str, list[CaseResult]] = defaultdict(list)
    for result in results:
        by_workload[result.workload].append(result)
    for items in by_workload.values():
        print(workload_table(items), end="\n\n")
    print(job_table(results), end="\n\n")
    starts: dict[str, list[float]] = defaultdict(list)
    for result in results:
        start = result.metric("time/session_start")
        if result.backend.startswith("spark") and start is not None and start > 0.5:
            starts[result.backend].append(start)
    for backend, values in sorted(starts.items()):
        middle, low, high = statistics.median(values), min(values), max(values)
        print(f"{backend}: session start {middle:.1f} s (median; {low:.1f} to {high:.1f}, "
              f"{len(values)} sessions)")  # fmt: skip


if __name__ == "__main__":
    main()

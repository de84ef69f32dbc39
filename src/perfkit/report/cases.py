"""The report's case tables: the measured results first, then what did not run or was
wrong, skipped cases summed up one row per backend and reason (a machine without a GPU
skips every GPU case; those rows would bury the results)."""

from __future__ import annotations

from collections.abc import Sequence

from perfkit.model.axes import params_id
from perfkit.records.format import ABOVE_ROOF, above_roof, measured_cells, speedups
from perfkit.records.run_record import CaseResult, RunRecord
from perfkit.report.markup import escape, table

__all__ = ["measured_table", "unmeasured_table"]


def _case(result: CaseResult) -> str:
    return escape(f"{result.workload}[{params_id(result.params)}]")


def measured_table(record: RunRecord) -> str:
    """Every case of ``record`` that was measured, with the terminal table's figures."""
    measured = [r for r in record.results if r.status == "ok"]
    if not measured:
        return "<p>No case was measured.</p>"
    ratios = speedups(record.results)
    rows = [
        [_case(r), escape(f"{r.backend}:{r.variant}"), *map(escape, measured_cells(r, ratios))]
        for r in measured
    ]
    headers = ["case", "backend:variant", "median ± IQR", "throughput", "% of roof", "vs ref"]
    note = f'<p class="muted">{escape(ABOVE_ROOF)}</p>' if above_roof(measured) else ""
    return table(headers, rows, {2, 3, 4, 5}) + note


def _status(status: str) -> str:
    return f'<span class="status-{escape(status)}">{escape(status)}</span>'


def unmeasured_table(records: Sequence[RunRecord]) -> str:
    """Wrong answers and failures one row a case; skipped cases one row per record,
    backend and reason, with the count and the cases folded away."""
    rows: list[list[str]] = []
    skipped: dict[tuple[str, str, str], list[CaseResult]] = {}
    for record in records:
        for r in record.results:
            if r.status == "skipped":
                skipped.setdefault((record.run_id, r.backend, r.reason), []).append(r)
            elif r.status != "ok":
                rows.append(
                    [escape(record.run_id), escape(r.case_id), _status(r.status), escape(r.reason)]
                )
    for (run_id, backend, reason), cases in skipped.items():
        listed = "".join(f"<li>{escape(r.case_id)}</li>" for r in cases)
        folded = (
            f"<details><summary>{len(cases)} case{'s' * (len(cases) > 1)} of {escape(backend)}"
            "</summary>"
            f"<ul>{listed}</ul></details>"
        )
        rows.append([escape(run_id), folded, _status("skipped"), escape(reason)])
    if not rows:
        return "<p>Every case ran and passed its check.</p>"
    return table(["record", "case", "status", "reason"], rows, set())

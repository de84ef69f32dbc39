"""The report's case tables: the measured results first, then what did not run or was
wrong, skipped cases summed up one row per backend and reason (a machine without a GPU
skips every GPU case; those rows would bury the results)."""

from __future__ import annotations

from collections.abc import Sequence

from perfkit.model.axes import params_id
from perfkit.records.format import (
    ABOVE_ROOF,
    above_roof,
    measured_cells,
    median_text,
    speedups,
)
from perfkit.records.ranking import legends, rankings, slower_text
from perfkit.records.run_record import CaseResult, RunRecord
from perfkit.report.markup import escape, table

__all__ = ["answer_table", "measured_table", "unmeasured_table"]


def answer_table(record: RunRecord) -> str:
    """The answer, first in the report: one row a workload's problem size, its fastest
    implementation with time and throughput, then every other, fastest first, as how many
    times slower it is; a noisy figure says why beside it."""
    rows = []
    sizes = rankings(record.results)
    for size in sizes:
        if size.fastest is None:
            continue
        best = size.fastest
        _, rate, _, _ = measured_cells(best.result, {})
        others = "<br>".join(
            f"{escape(o.result.implementation)} {escape(slower_text(o.slower))}"
            + (f' <span class="muted">({escape("; ".join(o.flags))})</span>' if o.flags else "")
            for o in size.others
        )
        flags = f' <span class="muted">({escape("; ".join(best.flags))})</span>' * bool(best.flags)
        rows.append([
            escape(size.workload), escape(size.label),
            f"<strong>{escape(best.result.implementation)}</strong>{flags}",
            escape(median_text(best.result)), escape(rate), others or "-",
        ])  # fmt: skip
    if not rows:
        return "<p>No case was measured.</p>"
    headers = ["workload", "size", "fastest", "median", "throughput", "the others"]
    notes = "".join(f'<p class="muted">{escape(text)}</p>' for text in legends(sizes))
    return table(headers, rows, {3, 4}) + notes


def _case(result: CaseResult) -> str:
    return escape(f"{result.workload}[{params_id(result.params)}]")


def measured_table(record: RunRecord) -> str:
    """Every case of ``record`` that was measured, with the terminal table's figures, a
    size's cases fastest first."""
    ranked = [row for size in rankings(record.results) for row in size.ranked]
    measured = [row.result for row in ranked]
    if not measured:
        return "<p>No case was measured.</p>"
    ratios = speedups(record.results)
    rows = []
    for row in ranked:
        timing, rate, roof, vs_ref = map(escape, measured_cells(row.result, ratios))
        rows.append([
            _case(row.result), escape(row.result.implementation), timing, rate, roof,
            escape(slower_text(row.slower)), escape("; ".join(row.flags)), vs_ref,
        ])  # fmt: skip
    headers = [
        "case", "implementation", "median ± IQR", "throughput", "% of roof", "vs fastest",
        "notes", "vs ref",
    ]  # fmt: skip
    note = f'<p class="muted">{escape(ABOVE_ROOF)}</p>' if above_roof(measured) else ""
    return table(headers, rows, {2, 3, 4, 5, 7}) + note


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

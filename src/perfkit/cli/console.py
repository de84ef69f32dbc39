"""What the commands show on the terminal: the rich console, the results table, the
progress bar the runner drives, and the exit code of a run a signal stopped."""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from perfkit.model.errors import ExitCode
from perfkit.records.format import (
    ABOVE_ROOF,
    above_roof,
    measured_cells,
    median_text,
    speedups,
    unavailable_backends,
)
from perfkit.records.ranking import legends, rankings, slower_text
from perfkit.records.run_record import CaseResult

if TYPE_CHECKING:
    from rich.table import Table

__all__ = [
    "answer_table",
    "console",
    "interrupted_code",
    "print_results",
    "progress_bar",
    "results_table",
]


def console(stream: Any = None) -> Any:
    from rich.console import Console

    file = stream or sys.stdout
    # Piped output keeps a readable width instead of rich's 80-column default.
    return Console(file=file, width=None if file.isatty() else 140)


def interrupted_code(seen: Sequence[int]) -> int:
    return ExitCode.TERMINATED if signal.SIGTERM in seen else ExitCode.INTERRUPTED


def print_results(record: Any, title: str) -> None:
    """The results table, what could not run, then the answer: the fastest per size
    (``answer_table``), last, so it is what the screen shows when the command ends."""
    out = console()
    out.print(results_table(record.results, title=title))
    for backend, (count, reason) in unavailable_backends(record.results).items():
        out.print(f"skipped: {backend} ({count} cases): {reason}", markup=False, highlight=False)
    for result in record.results:
        if result.status in ("invalid", "failed"):
            out.print(
                f"{result.status}: {result.case_id}: {result.reason}", markup=False, highlight=False
            )
        if (result.metric("gpu/launch_bound") or 0) >= 0.5:
            out.print(
                f"launch-bound: {result.case_id}: the GPU waited on the host; its time is the "
                "launch rate, not the kernel's",
                markup=False,
                highlight=False,
            )
    if any(r.status == "ok" for r in record.results):
        out.print(answer_table(record.results, title="fastest per size"))


def _clock(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


class _Bar:
    """The runner's Progress protocol, drawn as a rich progress bar on a terminal and as
    one line a case where stderr is a pipe or a file (CI logs), each with the time left:
    the planned cases at the pace so far, or, with a time budget, what is left of it
    when that is sooner."""

    def __init__(self, bar: Any, lines: Any, budget: Any) -> None:
        self.bar = bar
        self.lines = lines  # a console for the piped lines, or None on a terminal
        self.budget = budget
        self.task = bar.add_task("measuring", total=0, left="")
        self.total = 0
        self.done = 0
        self.started = time.monotonic()

    def planned(self, cases: int) -> None:
        self.total += cases
        self.bar.update(self.task, total=self.total)

    def left(self) -> str:
        elapsed = time.monotonic() - self.started
        if not self.done:
            return "?"
        seconds = elapsed / self.done * max(0, self.total - self.done)
        if self.budget is not None:
            seconds = min(seconds, max(0.0, self.budget.left()))
        return f"~{_clock(seconds)} left"

    def finished(self, case_id: str) -> None:
        self.done += 1
        left = self.left()
        self.bar.update(self.task, advance=1, description=case_id, left=left)
        if self.lines is not None:
            elapsed = _clock(time.monotonic() - self.started)
            self.lines.print(
                f"[{self.done}/{self.total}] {case_id} ({elapsed} elapsed, {left})",
                markup=False, highlight=False, soft_wrap=True,
            )  # fmt: skip


@contextlib.contextmanager
def progress_bar(budget: Any = None) -> Iterator[Any]:
    """The runner's Progress: a rich bar on a terminal, a line a case elsewhere."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    err = console(sys.stderr)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[left]}"),
    )
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        yield _Bar(bar, None if err.is_terminal else err, budget)


_STATUS_STYLE = {"ok": "green", "skipped": "yellow", "invalid": "bold red", "failed": "red"}


def _short(reason: str, width: int = 48) -> str:
    """A reason cut to fit a table cell, with rich markup escaped."""
    from rich.markup import escape

    return escape(reason if len(reason) <= width else reason[: width - 1] + "…")


_LEFT = {"size", "implementation", "notes", "fastest", "then"}


def _add_columns(
    table: Table,
    names: Sequence[str],
    folding: set[str],
    min_width: int | None = None,
    ratio: int | None = None,
) -> None:
    """Figures and names never wrap (a cut id made two ports look alike); the ``folding``
    columns fold onto more lines instead, sized by ``min_width`` or ``ratio``. Text
    columns are left-aligned, figures right-aligned."""
    for name in names:
        folds = name in folding
        table.add_column(
            name, justify="left" if name in _LEFT else "right", overflow="fold",
            no_wrap=not folds, min_width=min_width if folds else None,
            ratio=ratio if folds else None,
        )  # fmt: skip


def results_table(results: Sequence[CaseResult], title: str = "") -> Table:
    """One row a case, grouped by problem size, fastest first: "vs fastest" is how many
    times slower each case is than its size's fastest (or why it was not measured), "notes"
    what makes a figure less sure (``noise_flags``) or the reason, "vs ref" the reference's
    median over the case's. A backend whose every case was skipped for one reason gets one
    row, at the end."""
    from rich.markup import escape
    from rich.table import Table

    ranked = rankings(results)
    notes = [ABOVE_ROOF] if above_roof(results) else []
    notes.extend(legends(ranked))
    caption = escape("\n".join(notes)) if notes else None
    table = Table(title=title or None, title_justify="left", caption=caption)
    _add_columns(
        table,
        ["size", "implementation", "median ± IQR", "throughput", "% of roof", "vs fastest",
         "notes", "vs ref"],
        folding={"size", "notes"}, min_width=8,
    )  # fmt: skip
    ratios = speedups(results)
    absent = unavailable_backends(results)
    for size in ranked:
        label = escape(size.label)
        for row in size.ranked:
            r = row.result
            timing, rate, roof, vs_ref = (escape(c) for c in measured_cells(r, ratios))
            slower = slower_text(row.slower)
            table.add_row(
                label, escape(r.implementation), timing, rate, roof,
                f"[bold green]{slower}[/]" if slower == "fastest" else slower,
                f"[yellow]{escape('; '.join(row.flags))}[/]" if row.flags else "",
                vs_ref,
            )  # fmt: skip
            label = ""
        for r in size.unmeasured:
            if r.backend in absent:
                continue
            status = f"[{_STATUS_STYLE[r.status]}]{r.status}[/]"
            table.add_row(
                label, escape(r.implementation), "", "", "", status, _short(r.reason or "-"), ""
            )
            label = ""
        table.add_section()
    for backend, (count, reason) in absent.items():
        table.add_row(
            f"{count} cases", escape(f"{backend}:*"), "", "", "",
            f"[{_STATUS_STYLE['skipped']}]skipped[/]", _short(reason, 40), "",
        )  # fmt: skip
    return table


def answer_table(results: Sequence[CaseResult], title: str = "") -> Table:
    """The answer, one row a problem size: the fastest implementation, its time and
    throughput, and the others as "N x slower" (fastest first)."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=title or None, title_justify="left")
    _add_columns(
        table, ["size", "fastest", "median", "throughput", "then"],
        folding={"size", "then"}, ratio=1,
    )  # fmt: skip
    ranked = rankings(results)
    for size in ranked:
        best = size.fastest
        if best is None:
            continue
        _, rate, _, _ = measured_cells(best.result, {})
        others = [
            f"{o.result.implementation} {slower_text(o.slower)}"
            + ("" if o.like_for_like else " (not like for like)")
            for o in size.others
        ]
        shown = others[:_OTHERS_SHOWN]
        if len(others) > len(shown):
            shown.append(f"+{len(others) - len(shown)} more")
        note = "*" if best.flags else ""
        table.add_row(
            escape(size.label),
            f"[bold green]{escape(best.result.implementation)}[/]{note}",
            escape(median_text(best.result)),
            escape(rate),
            escape(", ".join(shown) or "-"),
        )
    if any(size.fastest and size.fastest.flags for size in ranked):
        table.caption = "* its figure is noisy: see notes in the table above"
    return table


_OTHERS_SHOWN = 3

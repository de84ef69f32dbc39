"""What the commands show on the terminal: the rich console, the results table, the
progress bar the runner drives, and SIGTERM taken as Ctrl-C (a run stops and keeps what it
finished)."""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from perfkit.model.axes import params_id
from perfkit.model.errors import ExitCode
from perfkit.records.format import (
    ABOVE_ROOF,
    above_roof,
    measured_cells,
    speedups,
    unavailable_backends,
)
from perfkit.records.run_record import CaseResult

if TYPE_CHECKING:
    from rich.table import Table

__all__ = [
    "console",
    "interrupted_code",
    "print_results",
    "progress_bar",
    "results_table",
    "terminate_as_interrupt",
]


def console(stream: Any = None) -> Any:
    from rich.console import Console

    file = stream or sys.stdout
    # Piped output keeps a readable width instead of rich's 80-column default.
    return Console(file=file, width=None if file.isatty() else 140)


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[list[int]]:
    """SIGTERM handled as Ctrl-C is: the run stops, what finished is written. Yields a list
    that holds the signal that ended the run, if one did."""
    seen: list[int] = []

    def on_term(signum: int, frame: object) -> None:
        seen.append(signum)
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, on_term)
    try:
        yield seen
    finally:
        signal.signal(signal.SIGTERM, old)


def interrupted_code(seen: Sequence[int]) -> int:
    return ExitCode.TERMINATED if signal.SIGTERM in seen else ExitCode.INTERRUPTED


def print_results(record: Any, title: str) -> None:
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


class _Bar:
    """The rich progress bar behind the runner's Progress protocol."""

    def __init__(self, bar: Any) -> None:
        self.bar = bar
        self.task = bar.add_task("measuring", total=0)

    def planned(self, cases: int) -> None:
        self.bar.update(self.task, total=self.bar.tasks[0].total + cases)

    def finished(self, case_id: str) -> None:
        self.bar.update(self.task, advance=1, description=case_id)


@contextlib.contextmanager
def progress_bar() -> Iterator[Any]:
    """A rich progress bar on a terminal (quiet in pipes and CI), as the runner's Progress."""
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
    )
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        yield _Bar(bar)


_STATUS_STYLE = {"ok": "green", "skipped": "yellow", "invalid": "bold red", "failed": "red"}


def _short(reason: str, width: int = 48) -> str:
    """A reason cut to fit a table cell, with rich markup escaped."""
    from rich.markup import escape

    return escape(reason if len(reason) <= width else reason[: width - 1] + "…")


def results_table(results: Sequence[CaseResult], title: str = "") -> Table:
    """One row a case; a backend whose every case was skipped for one reason gets one row."""
    from rich.markup import escape
    from rich.table import Table

    caption = escape(ABOVE_ROOF) if above_roof(results) else None
    table = Table(title=title or None, title_justify="left", caption=caption)
    for name, justify in (
        ("case", "left"),
        ("backend:variant", "left"),
        ("status", "left"),
        ("median ± IQR", "right"),
        ("throughput", "right"),
        ("% of roof", "right"),
        ("vs ref", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    ratios = speedups(results)
    absent = unavailable_backends(results)
    for r in results:
        if r.backend in absent:
            continue
        status = f"[{_STATUS_STYLE[r.status]}]{r.status}[/]"
        if r.status == "ok":
            row = [escape(cell) for cell in measured_cells(r, ratios)]
        else:
            row = [_short(r.reason or "-"), "", "", ""]
        table.add_row(
            escape(f"{r.workload}[{params_id(r.params)}]"),
            escape(f"{r.backend}:{r.variant}"),
            status,
            *row,
        )
    for backend, (count, reason) in absent.items():
        table.add_row(
            f"{count} cases",
            escape(f"{backend}:*"),
            f"[{_STATUS_STYLE['skipped']}]skipped[/]",
            _short(reason, 24),  # in full below the table
            "",
            "",
            "",
        )
    return table

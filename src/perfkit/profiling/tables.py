"""What a profile run prints: one row a case and profiler, with its hottest frames."""

from __future__ import annotations

from typing import TYPE_CHECKING

from perfkit.profiling.record import CaseProfile, ProfileRun
from perfkit.profiling.stacks import FunctionCost
from perfkit.records.format import format_seconds

if TYPE_CHECKING:
    from rich.table import Table

__all__ = ["format_amount", "hottest", "overhead_text", "profiles_table"]

_UNIT_WORDS = {"samples": "samples", "seconds": "s", "instructions": "instructions", "bytes": "B"}


def format_amount(value: float, unit: str) -> str:
    """A cost in its unit: a duration, bytes in binary units, or a count."""
    if unit == "seconds":
        return format_seconds(value)
    if unit == "bytes":
        for suffix, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
            if value >= scale:
                return f"{value / scale:.3g} {suffix}"
        return f"{value:.0f} B"
    return f"{value:,.0f} {_UNIT_WORDS.get(unit, unit)}"


def hottest(profile: CaseProfile, count: int = 3) -> list[tuple[FunctionCost, float]]:
    """The functions with the most self cost, each with its share of the profile."""
    if profile.stacks is None or profile.stacks.total <= 0:
        return []
    rows = sorted(profile.stacks.functions(), key=lambda r: (-r.self_cost, r.name))
    return [(row, row.self_cost / profile.stacks.total) for row in rows[:count]]


def overhead_text(profile: CaseProfile) -> str:
    return f"{profile.overhead:.2f}x" if profile.overhead is not None else "-"


def profiles_table(run: ProfileRun) -> Table:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"profiles · {run.run_id}", title_justify="left")
    for column in ("case", "profiler", "status", "calls", "per call", "overhead", "hottest"):
        table.add_column(column, justify="right" if column in ("calls", "overhead") else "left")
    for profile in run.profiles:
        if profile.status != "ok":
            table.add_row(
                escape(profile.case), profile.profiler, profile.status, "", "", "",
                escape(profile.reason[:100]),
            )  # fmt: skip
            continue
        top = "; ".join(f"{row.name[:60]} {share:.0%}" for row, share in hottest(profile, 2))
        if not top and profile.counters:
            counted = [c for c in profile.counters if c.value is not None]
            top = "; ".join(f"{c.name} {c.value:,.4g}" for c in counted[:3])
        table.add_row(
            escape(profile.case),
            profile.profiler,
            "ok",
            str(profile.calls),
            format_seconds(profile.per_call_s),
            overhead_text(profile),
            escape(top),
        )
    return table

"""The regression gate: a policy, a report, an exit code (0 pass, 1 regression, 2 bad input)."""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from perfkit.compare import MUST_MATCH, Comparison, compare_records
from perfkit.errors import ExitCode, UsageError
from perfkit.record import RunRecord
from perfkit.tables import format_seconds

if TYPE_CHECKING:
    from rich.table import Table

__all__ = [
    "GatePolicy",
    "GateReport",
    "format_ratio",
    "format_value",
    "parse_thresholds",
    "run_gate",
]


def _fraction(text: str) -> float:
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise UsageError(f"threshold {text!r} is not a number or a percentage") from None
    if not 0 < value < 10:
        raise UsageError(f"threshold {text!r} must be above 0% and under 1000%")
    return value


def parse_thresholds(items: Iterable[str], default: float = 0.05) -> tuple[float, dict[str, float]]:
    """``["5%", "matmul=10%"]`` into (global threshold, per-workload thresholds)."""
    per_workload: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if sep:
            per_workload[name.strip()] = _fraction(value)
        else:
            default = _fraction(name)
    return default, per_workload


@dataclass(frozen=True, slots=True)
class GatePolicy:
    threshold: float = 0.05
    per_workload: Mapping[str, float] = field(default_factory=dict)
    alpha: float = 0.05
    min_samples: int = 5
    must_match: tuple[str, ...] = MUST_MATCH
    fail_on_unknown: bool = False
    fail_on_ambiguous: bool = False


@dataclass(frozen=True, slots=True)
class GateReport:
    base: str
    candidate: str
    policy: GatePolicy
    comparisons: tuple[Comparison, ...]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.comparisons:
            out[c.verdict] = out.get(c.verdict, 0) + 1
        return out

    @property
    def failing(self) -> list[Comparison]:
        bad = {"SLOWER", "INVALID"}
        if self.policy.fail_on_unknown:
            bad.add("UNKNOWN")
        if self.policy.fail_on_ambiguous:
            bad.add("AMBIGUOUS")
        return [c for c in self.comparisons if c.verdict in bad]

    @property
    def exit_code(self) -> int:
        return ExitCode.FAILED if self.failing else ExitCode.OK

    def summary(self) -> str:
        counts = ", ".join(f"{n} {v}" for v, n in sorted(self.counts().items()))
        state = "FAIL" if self.failing else "PASS"
        return (
            f"{state}: {counts or 'no cases'} (threshold {self.policy.threshold:.0%}, "
            f"alpha {self.policy.alpha:g}, FDR-controlled)"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "candidate": self.candidate,
            "passed": not self.failing,
            "policy": {
                **dataclasses.asdict(self.policy),
                "per_workload": dict(self.policy.per_workload),
            },
            "comparisons": [dataclasses.asdict(c) for c in self.comparisons],
        }

    def markdown(self) -> str:
        """A pull-request comment. Every string from a record is escaped for Markdown and
        HTML, so a case name cannot inject links, images or markup into the comment."""
        lines = [
            f"### perfkit gate: {_md(self.summary())}",
            "",
            f"baseline `{_code(self.base)}` · candidate `{_code(self.candidate)}`",
            "",
            "| verdict | case | baseline | candidate | ratio (95% CI) | q |",
            "| --- | --- | ---: | ---: | ---: | ---: |",
        ]
        for c in _ordered(self.comparisons):
            lines.append(
                f"| {c.verdict} | {_md(c.case_id)} | {format_value(c, c.base_median)} | "
                f"{format_value(c, c.cand_median)} | {format_ratio(c)} | "
                f"{'' if c.q_value is None else f'{c.q_value:.3g}'} |"
            )
        notes = [c for c in self.comparisons if c.reason]
        if notes:
            lines += ["", "<details><summary>reasons</summary>", ""]
            lines += [f"- {_md(c.case_id)}: {_md(c.reason)}" for c in notes]
            lines += ["", "</details>"]
        return "\n".join(lines) + "\n"

    def table(self) -> Table:
        from rich.markup import escape
        from rich.table import Table

        styles = {
            "SLOWER": "bold red",
            "INVALID": "bold red",
            "FASTER": "green",
            "AMBIGUOUS": "yellow",
            "UNKNOWN": "yellow",
            "SAME": "",
        }
        table = Table(title=self.summary(), title_justify="left")
        for name in ("verdict", "case", "baseline", "candidate", "ratio (95% CI)", "q", "note"):
            table.add_column(name)
        for c in _ordered(self.comparisons):
            style = styles[c.verdict]
            verdict = f"[{style}]{c.verdict}[/]" if style else c.verdict
            table.add_row(
                verdict,
                escape(c.case_id),
                format_value(c, c.base_median),
                format_value(c, c.cand_median),
                format_ratio(c),
                "" if c.q_value is None else f"{c.q_value:.3g}",
                escape(c.reason[:60]),
            )
        return table


_ORDER = {"INVALID": 0, "SLOWER": 1, "AMBIGUOUS": 2, "UNKNOWN": 3, "FASTER": 4, "SAME": 5}


def _ordered(comparisons: Sequence[Comparison]) -> list[Comparison]:
    return sorted(comparisons, key=lambda c: (_ORDER[c.verdict], c.case_id))


def format_value(c: Comparison, value: float | None) -> str:
    if c.unit == "instructions" and value is not None:
        return f"{value:,.0f} instr"
    return format_seconds(value)


def format_ratio(c: Comparison) -> str:
    if c.ratio is None:
        return ""
    if c.ratio_low is None or c.ratio_high is None:
        return f"{c.ratio:.3f}"
    return f"{c.ratio:.3f} ({c.ratio_low:.3f} to {c.ratio_high:.3f})"


_MD_SPECIAL = "\\`*_{}[]()#+-.!|~>"


def _md(text: str) -> str:
    escaped = html.escape(text, quote=True)
    return "".join(f"\\{ch}" if ch in _MD_SPECIAL else ch for ch in escaped).replace("\n", " ")


def _code(text: str) -> str:
    return text.replace("`", "'").replace("\n", " ")


def run_gate(base: RunRecord, cand: RunRecord, policy: GatePolicy) -> GateReport:
    comparisons = compare_records(
        base,
        cand,
        thresholds=policy.per_workload,
        default_threshold=policy.threshold,
        alpha=policy.alpha,
        min_samples=policy.min_samples,
        must_match=policy.must_match,
    )
    return GateReport(base.run_id, cand.run_id, policy, tuple(comparisons))

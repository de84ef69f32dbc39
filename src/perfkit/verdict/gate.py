"""The regression gate: a policy, a report, an exit code (0 pass, 1 regression, 2 bad input)."""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

from perfkit.model.errors import ExitCode, UsageError
from perfkit.records.format import format_seconds
from perfkit.records.run_record import RunRecord
from perfkit.records.typed import to_json
from perfkit.verdict.comparison import SKIPPED_ON_BOTH_SIDES, Comparison, compare_records

if TYPE_CHECKING:
    from rich.table import Table

__all__ = [
    "DEFAULT_FAIL_ON",
    "FAIL_CONDITIONS",
    "FailCondition",
    "GatePolicy",
    "GateReport",
    "format_ratio",
    "format_value",
    "parse_fail_on",
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


# What can fail the gate, by name. ``slower`` also fails a case past the threshold that
# enough repetition pairs left undecided (``Comparison.uncleared``): a regression the
# evidence cannot rule out is not a pass, whatever the verdict is called. ``underpowered``
# fails an UNDERPOWERED case past the threshold; ``undecided`` fails a gate in which no
# case was shown SAME, FASTER or SLOWER.
FailCondition = Literal[
    "slower",
    "invalid",
    "broken",
    "missing",
    "incomparable",
    "underpowered",
    "ambiguous",
    "unknown",
    "changed",
    "undecided",
]
FAIL_CONDITIONS: tuple[str, ...] = get_args(FailCondition)
DEFAULT_FAIL_ON: tuple[FailCondition, ...] = (
    "slower",
    "invalid",
    "broken",
    "missing",
    "incomparable",
)


def parse_fail_on(items: Iterable[str]) -> tuple[FailCondition, ...]:
    """``["slower,broken", "missing"]`` into conditions; ``all`` names every one."""
    chosen: list[str] = []
    for item in items:
        for name in (part.strip().lower() for part in item.split(",")):
            if name == "all":
                chosen.extend(FAIL_CONDITIONS)
            elif name in FAIL_CONDITIONS:
                chosen.append(name)
            elif name:
                raise UsageError(
                    f"--fail-on: unknown condition {name!r}; "
                    f"choose from {', '.join(FAIL_CONDITIONS)}, all"
                )
    return tuple(dict.fromkeys(chosen))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class GatePolicy:
    """``alpha`` is the false-discovery rate across the cases of one look; ``looks`` splits
    it (Bonferroni) over the looks of a sequential run, so that looking again after more
    repetitions cannot inflate it. ``allow_missing`` holds patterns (``*`` a wildcard,
    against the workload name or the case id) of cases removed on purpose."""

    threshold: float = 0.05
    per_workload: Mapping[str, float] = field(default_factory=dict)
    alpha: float = 0.05
    looks: int = 1
    fail_on: tuple[FailCondition, ...] = DEFAULT_FAIL_ON
    allow_missing: tuple[str, ...] = ()

    @property
    def alpha_per_look(self) -> float:
        return self.alpha / self.looks


@dataclass(frozen=True, slots=True)
class GateReport:
    base: str
    candidate: str
    policy: GatePolicy
    comparisons: tuple[Comparison, ...]
    notes: tuple[str, ...] = ()
    rounds: int | None = None  # repetitions a side, when measured by a sequential run

    def with_notes(self, notes: Sequence[str], rounds: int | None = None) -> GateReport:
        return dataclasses.replace(self, notes=(*self.notes, *notes), rounds=rounds)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.comparisons:
            out[c.verdict] = out.get(c.verdict, 0) + 1
        return out

    def fails(self, c: Comparison) -> bool:
        """Whether this comparison fails the gate under the policy."""
        if c.uncleared and "slower" in self.policy.fail_on:
            return True
        condition = c.verdict.lower()
        if condition not in self.policy.fail_on:
            return False
        if c.verdict == "UNDERPOWERED":
            return c.crosses
        if c.verdict == "MISSING":
            return not _allowed(c, self.policy.allow_missing)
        return True

    @property
    def failing(self) -> list[Comparison]:
        return [c for c in self.comparisons if self.fails(c)]

    @property
    def nothing_decided(self) -> bool:
        """No case was shown SAME, FASTER or SLOWER: the gate has nothing to pass on."""
        return not any(c.decided for c in self.comparisons)

    @property
    def exit_code(self) -> int:
        undecided = self.nothing_decided and "undecided" in self.policy.fail_on
        return ExitCode.FAILED if self.failing or undecided else ExitCode.OK

    def summary(self) -> str:
        counts = ", ".join(f"{n} {v}" for v, n in sorted(self.counts().items()))
        failing = len(self.failing)
        undecided = "no case shown SAME, FASTER or SLOWER"
        if failing:
            state = f"FAIL ({failing} failing{'; ' + undecided if self.nothing_decided else ''})"
        elif self.nothing_decided:
            fails = "undecided" in self.policy.fail_on
            state = f"{'FAIL' if fails else 'NOTHING DECIDED'} ({undecided})"
        else:
            state = "PASS"
        looks = f" over {self.policy.looks} looks" if self.policy.looks > 1 else ""
        return (
            f"{state}: {counts or 'no cases'} (threshold {self.policy.threshold:.0%}, "
            f"FDR {self.policy.alpha:g}{looks}; fails on {', '.join(self.policy.fail_on)})"
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
            "failing": [c.case_id for c in self.failing],
            "notes": list(self.notes),
            "rounds": self.rounds,
            "comparisons": [{**to_json(c), "fails": self.fails(c)} for c in self.comparisons],
        }

    def markdown(self) -> str:
        """A pull-request comment. Every string from a record is escaped for Markdown and
        HTML, so a case name cannot inject links, images or markup into the comment."""
        lines = [
            f"### perfkit gate: {_md(self.summary())}",
            "",
            f"baseline `{_code(self.base)}` · candidate `{_code(self.candidate)}`",
            "",
            *[f"> {_md(note)}" for note in self._notes()],
            *([""] if self.notes or self.rounds else []),
            "| verdict | case | baseline | candidate | ratio (CI) | q | evidence |",
            "| --- | --- | ---: | ---: | ---: | ---: | --- |",
        ]
        compared = self.compared()
        for c in _ordered(compared):
            verdict = f"**{c.verdict}**" if self.fails(c) else c.verdict
            lines.append(
                f"| {verdict} | {_md(c.case_id)} | {format_value(c, c.base_median)} | "
                f"{format_value(c, c.cand_median)} | {format_ratio(c)} | "
                f"{'' if c.q_value is None else f'{c.q_value:.3g}'} | {_md(c.test_words())} |"
            )
        notes = [c for c in compared if c.reason]
        if notes:
            lines += ["", "<details><summary>reasons</summary>", ""]
            lines += [f"- {_md(c.case_id)}: {_md(c.reason)}" for c in notes]
            lines += ["", "</details>"]
        return "\n".join(lines) + "\n"

    def _notes(self) -> list[str]:
        rounds = [f"measured in up to {self.rounds} repetitions a side"] if self.rounds else []
        return [*rounds, *self.notes, *self.skipped_on_both_sides()]

    def compared(self) -> list[Comparison]:
        """The comparisons shown one a row: all but cases skipped on both sides, which
        ``skipped_on_both_sides`` sums up."""
        return [c for c in self.comparisons if not c.reason.startswith(SKIPPED_ON_BOTH_SIDES)]

    def skipped_on_both_sides(self) -> list[str]:
        """One line per reason for the cases skipped on both sides (no GPU here, say):
        how many, on which backends."""
        groups: dict[str, list[str]] = {}
        for c in self.comparisons:
            if c.reason.startswith(SKIPPED_ON_BOTH_SIDES):
                reason = c.reason.removeprefix(SKIPPED_ON_BOTH_SIDES)
                groups.setdefault(reason, []).append(c.case_id.split("/", 1)[-1].split(":")[0])
        return [
            f"{len(found)} case{'s' * (len(found) > 1)} skipped on both sides, not compared "
            f"({', '.join(sorted(set(found)))}): {reason}"
            for reason, found in groups.items()
        ]

    def table(self) -> Table:
        from rich.markup import escape
        from rich.table import Table

        caption = escape("\n".join(self._notes())) or None
        table = Table(title=self.summary(), title_justify="left", caption=caption)
        for name in ("verdict", "case", "baseline", "candidate", "ratio (CI)", "q", "note"):
            # Case ids and reasons wrap rather than end in "…": ids that differ only in
            # their last parameter must stay apart in a narrow or piped table.
            folds = name in ("case", "note")
            # A column that does not fold keeps room for its header; the folding ones give.
            width = None if folds else len(name)
            table.add_column(name, overflow="fold" if folds else "ellipsis", min_width=width)
        for c in _ordered(self.compared()):
            style = "bold red" if self.fails(c) else _STYLES.get(c.verdict, "")
            verdict = f"[{style}]{c.verdict}[/]" if style else c.verdict
            table.add_row(
                verdict,
                escape(c.case_id),
                format_value(c, c.base_median),
                format_value(c, c.cand_median),
                format_ratio(c),
                "" if c.q_value is None else f"{c.q_value:.3g}",
                escape("\n".join(part for part in (c.test_words(), c.reason) if part)),
            )
        return table


_STYLES = {"FASTER": "green", "AMBIGUOUS": "yellow", "UNDERPOWERED": "yellow", "UNKNOWN": "dim"}
# Failing verdicts first, then what could not be decided, then the decided ones.
_ORDER = {v: i for i, v in enumerate((
    "INVALID", "BROKEN", "MISSING", "SLOWER", "INCOMPARABLE", "UNDERPOWERED", "AMBIGUOUS",
    "CHANGED", "UNKNOWN", "FASTER", "SAME",
))}  # fmt: skip


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


def _wildcard(pattern: str) -> re.Pattern[str]:
    """``*`` matches anything, every other character itself: case ids hold brackets."""
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")))


def _allowed(c: Comparison, patterns: Sequence[str]) -> bool:
    return any(
        _wildcard(p).fullmatch(c.workload) or _wildcard(p).fullmatch(c.case_id) for p in patterns
    )


def run_gate(
    base: RunRecord, cand: RunRecord, policy: GatePolicy, cases: Collection[str] | None = None
) -> GateReport:
    """Every case of either record, or only the ids in ``cases`` (a sequential run's look
    judges the cases it measured again, and controls the false-discovery rate over them)."""
    comparisons = compare_records(
        base,
        cand,
        thresholds=policy.per_workload,
        default_threshold=policy.threshold,
        alpha=policy.alpha_per_look,
        only=cases,
    )
    return GateReport(base.run_id, cand.run_id, policy, tuple(comparisons))

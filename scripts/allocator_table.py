"""The allocators side by side on every pattern at 1 and 2 threads, relative to glibc.

    python scripts/allocator_table.py [--rounds N] [--out DIR | --record FILE ...] [--quick]

Runs ``perfkit run`` over the allocation workloads ``--rounds`` times (3 by default; each
round one record, every allocator interleaved in each repetition; kept under ``--out``), or
reads existing ``--record`` files (one per round), and prints a Markdown table: for every
pattern and thread count, glibc's operations per second and peak RSS, then each
allocator's throughput relative to glibc's (higher is better) and peak RSS relative to
glibc's (lower is better), each the median over the rounds with its range. Below it: the
geometric means of the throughput ratios, a ranking per row that puts one allocator ahead
of another only where their ranges do not overlap, the peers' versions, and the targets
pkmalloc is held to (at least glibc's speed on every pattern, 1.5x on the geometric mean;
peak RSS at most 2x glibc's on ``thread_generations``, at most 1.2x glibc's where glibc's
exceeds 64 MiB, else at most 8 MiB more). Then the probe run's figures, one table each, every
allocator's own value (median over the rounds, range where wider than rounding): the 99.9th
percentile of one malloc and of one free, live bytes over RSS at the peak, and RSS once
everything was freed and after the allocator's release call.
"""

from __future__ import annotations

import argparse
import itertools
import math
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from perfkit.records.run_record import CaseResult, RunRecord, load_record

PATTERNS = (
    "alloc_churn",
    "larson_like",
    "producer_consumer",
    "mstress_like",
    "fifo_lifo",
    "large_blocks",
    "thread_churn",
    "fragmentation",
    "thread_generations",
    "same_size",
)
ALLOCATORS = (
    "glibc:arena_max_2",
    "pkmalloc:default",
    "jemalloc:default",
    "mimalloc:default",
    "tcmalloc:default",
)
REFERENCE = "glibc:default"
MIB = 2**20

Row = tuple[str, int]  # (pattern, threads)


def measure(out: Path, quick: bool) -> None:
    command = [sys.executable, "-m", "perfkit", "run", "--no-report", "-o", str(out)]
    for pattern in PATTERNS:
        command += ["-w", pattern]
    command += ["-p", "threads=1,2"]
    if quick:
        command.append("--quick")
    subprocess.run(command, check=True)


@dataclass(frozen=True)
class Spread:
    """A ratio over the rounds: its median and its range."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        return cls(statistics.median(values), min(values), max(values))

    def overlaps(self, other: Spread) -> bool:
        return self.low <= other.high and other.low <= self.high

    def __str__(self) -> str:
        if f"{self.low:.2f}" == f"{self.high:.2f}":
            return f"{self.median:.2f}x"
        return f"{self.median:.2f}x ({self.low:.2f}-{self.high:.2f})"


def _ops(per_second: float) -> str:
    if per_second >= 1e6:
        return f"{per_second / 1e6:.3g} M"
    return f"{per_second / 1e3:.3g} k" if per_second >= 1e3 else f"{per_second:.3g}"


def _by_row(record: RunRecord) -> dict[Row, dict[str, CaseResult]]:
    rows: dict[Row, dict[str, CaseResult]] = defaultdict(dict)
    for r in record.results:
        if r.status == "ok":
            rows[(r.workload, int(r.params["threads"]))][r.implementation] = r
    return rows


def _ratios(
    rounds: list[dict[Row, dict[str, CaseResult]]], row: Row, name: str, metric: str
) -> list[float]:
    """``name``'s ``metric`` over glibc's, one per round that measured both."""
    out = []
    for by_row in rounds:
        cases = by_row.get(row, {})
        base, other = cases.get(REFERENCE), cases.get(name)
        if base is None or other is None:
            continue
        ours, theirs = other.metric(metric), base.metric(metric)
        if ours and theirs:
            out.append(ours / theirs)
    return out


def _ranking(speeds: dict[str, Spread]) -> str:
    """Fastest first; ``>`` where the ranges part, ``~`` where they overlap."""
    order = sorted(speeds, key=lambda name: -speeds[name].median)
    text = _label(order[0])
    for before, after in itertools.pairwise(order):
        sign = "~" if speeds[before].overlaps(speeds[after]) else ">"
        text += f" {sign} {_label(after)}"
    return text


def _label(implementation: str) -> str:
    """``jemalloc:default`` -> ``jemalloc``; other variants keep their name."""
    return implementation.removesuffix(":default")


def _versions(record: RunRecord) -> str:
    peers = []
    for name in ("glibc", "jemalloc", "mimalloc", "tcmalloc"):
        info = record.environment.backends.get(name)
        package = info.versions.get("package") if info else None
        if package:
            peers.append(f"{name}: Debian's {package}")
    return "; ".join(peers)


def table(records: list[RunRecord]) -> str:
    rounds = [_by_row(record) for record in records]
    rows = sorted({row for by_row in rounds for row in by_row})
    header = ["pattern", "threads", "glibc ops/s", "glibc peak RSS"]
    header += [f"{a} ops/s, peak RSS" for a in ALLOCATORS]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    speedups: dict[str, list[float]] = defaultdict(list)
    rankings: list[str] = []
    misses: list[str] = []
    for row in rows:
        bases = [by_row[row][REFERENCE] for by_row in rounds if REFERENCE in by_row.get(row, {})]
        if not bases:
            continue
        base_ops = statistics.median(b.metric("alloc/ops_per_s") or math.nan for b in bases)
        base_rss = statistics.median(b.metric("mem/peak_rss") or math.nan for b in bases)
        pattern, threads = row
        cells = [pattern, str(threads), _ops(base_ops), f"{base_rss / MIB:.0f} MiB"]
        speeds: dict[str, Spread] = {REFERENCE: Spread(1.0, 1.0, 1.0)}
        for name in ALLOCATORS:
            ops = _ratios(rounds, row, name, "alloc/ops_per_s")
            rss = _ratios(rounds, row, name, "mem/peak_rss")
            if not ops or not rss:
                cells.append("-")
                continue
            speed, memory = Spread.of(ops), Spread.of(rss)
            speeds[name] = speed
            speedups[name].append(speed.median)
            cells.append(f"{speed}, {memory}")
            if name == "pkmalloc:default":
                misses += _pkmalloc_misses(row, speed, memory, base_rss)
        lines.append("| " + " | ".join(cells) + " |")
        rankings.append(
            f"- {pattern}, {threads} thread{'s' if threads > 1 else ''}: {_ranking(speeds)}"
        )
    means = ["geometric mean", "", "", ""]
    for name in ALLOCATORS:
        values = [v for v in speedups[name] if v > 0 and not math.isnan(v)]
        mean = math.exp(sum(map(math.log, values)) / len(values)) if values else math.nan
        means.append(f"{mean:.2f}x")
    lines.append("| " + " | ".join(means) + " |")
    lines += [
        "",
        f"Rounds: {len(records)}. Ranking by median throughput ('>' where the ranges part):",
        "",
    ]
    lines += rankings
    versions = _versions(records[0])
    if versions:
        lines += ["", f"Peers: {versions}."]
    lines += ["", "pkmalloc targets missed: " + ("; ".join(misses) if misses else "none")]
    return "\n".join(lines)


# The probe's tables: (title, metric, how a value is written).
DETAILS = (
    ("malloc p99.9, ns (the timer's own cost included)", "lat/malloc_p999_ns", "{:.0f}"),
    ("free p99.9, ns (the timer's own cost included)", "lat/free_p999_ns", "{:.0f}"),
    (
        "live bytes over RSS at the peak (higher: less fragmentation)",
        "mem/live_over_rss_peak",
        "{:.2f}",
    ),
    ("RSS once everything was freed, MiB", "mem/rss_freed", "MIB"),
    ("RSS after the allocator's release call, MiB", "mem/rss_released", "MIB"),
)


def _value(value: float, form: str) -> str:
    return f"{value / MIB:.1f}" if form == "MIB" else form.format(value)


def detail_table(records: list[RunRecord], title: str, metric: str, form: str) -> str:
    """Every allocator's own ``metric``, median over the rounds (range where it is wider
    than the rounding), a row per pattern and thread count; "" when no record has it."""
    rounds = [_by_row(record) for record in records]
    rows = sorted({row for by_row in rounds for row in by_row})
    names = (REFERENCE, *ALLOCATORS)
    lines = [f"{title}:", "", "| pattern | threads | " + " | ".join(map(_label, names)) + " |"]
    lines.append("|" + " --- |" * (len(names) + 2))
    found = False
    for row in rows:
        cells = [row[0], str(row[1])]
        for name in names:
            values = [
                value
                for by_row in rounds
                if (case := by_row.get(row, {}).get(name)) is not None
                and (value := case.metric(metric)) is not None
            ]
            if not values:
                cells.append("-")
                continue
            found = True
            spread = Spread.of(values)
            middle, low, high = (_value(v, form) for v in (spread.median, spread.low, spread.high))
            cells.append(middle if low == high else f"{middle} ({low}-{high})")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) if found else ""


def _pkmalloc_misses(row: Row, speed: Spread, memory: Spread, base_rss: float) -> list[str]:
    pattern, threads = row
    out = []
    if speed.median < 1.0:
        out.append(f"{pattern}/{threads}: {speed.median:.2f}x glibc's speed")
    if pattern == "thread_generations":
        limit = 2.0
    else:
        limit = 1.2 if base_rss > 64 * MIB else (base_rss + 8 * MIB) / base_rss
    if memory.median > limit:
        out.append(f"{pattern}/{threads}: peak RSS {memory.median:.2f}x glibc's")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--record", type=Path, nargs="+", help="tabulate these records (one per round)"
    )
    parser.add_argument("--out", type=Path, help="keep the measured records in this folder")
    parser.add_argument("--rounds", type=int, default=3, help="rounds to measure (default 3)")
    parser.add_argument("--quick", action="store_true", help="the --quick sizes (a smoke run)")
    args = parser.parse_args()
    if args.record is not None and args.out is not None:
        parser.error("--record reads records and --out writes them: give one of them")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    paths = args.record
    if paths is None:
        folder = args.out or Path(tempfile.mkdtemp(prefix="perfkit-alloc-"))
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for number in range(1, args.rounds + 1):
            path = folder / f"round-{number}.json"
            print(f"round {number} of {args.rounds}", file=sys.stderr)
            measure(path, args.quick)
            paths.append(path)
        print(f"records: {folder}", file=sys.stderr)
    records = [load_record(path) for path in paths]
    print(table(records))
    for title, metric, form in DETAILS:
        text = detail_table(records, title, metric, form)
        if text:
            print("\n" + text)


if __name__ == "__main__":
    main()

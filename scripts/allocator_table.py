"""The allocators side by side on every pattern at 1 and 2 threads, relative to glibc.

    python scripts/allocator_table.py [--record FILE | --out FILE] [--quick]

Runs ``perfkit run`` over the eight allocation workloads (one record, every allocator
interleaved in each repetition; kept as ``--out``), or reads an existing ``--record``, and
prints a Markdown table: operations per second relative to glibc's (higher is better) and
peak RSS relative to glibc's (lower is better), with the geometric means of the throughput
ratios and the targets pkmalloc is held to (at least glibc's speed on every pattern, 1.5x
on the geometric mean; peak RSS at most 1.2x glibc's where glibc's exceeds 64 MiB, else at
most 8 MiB more).
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from perfkit.record import CaseResult, load_record

PATTERNS = (
    "alloc_churn",
    "larson_like",
    "producer_consumer",
    "mstress_like",
    "fifo_lifo",
    "large_blocks",
    "thread_churn",
    "fragmentation",
)
ALLOCATORS = (
    "glibc:arena_max_2",
    "pkmalloc:default",
    "jemalloc:default",
    "mimalloc:default",
    "tcmalloc:default",
)
REFERENCE = "glibc:default"


def measure(out: Path, quick: bool) -> None:
    command = [sys.executable, "-m", "perfkit", "run", "--no-report", "-o", str(out)]
    for pattern in PATTERNS:
        command += ["-w", pattern]
    command += ["-p", "threads=1,2"]
    if quick:
        command.append("--quick")
    subprocess.run(command, check=True)


def _ops(per_second: float) -> str:
    if per_second >= 1e6:
        return f"{per_second / 1e6:.3g} M"
    return f"{per_second / 1e3:.3g} k" if per_second >= 1e3 else f"{per_second:.3g}"


def table(results: list[CaseResult]) -> str:
    by_case: dict[tuple[str, int], dict[str, CaseResult]] = defaultdict(dict)
    for r in results:
        if r.status == "ok":
            by_case[(r.workload, int(r.params["threads"]))][r.implementation] = r
    header = ["pattern", "threads", "glibc ops/s", "glibc peak RSS"]
    header += [f"{a} ops/s, RSS" for a in ALLOCATORS]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    speedups: dict[str, list[float]] = defaultdict(list)
    misses: list[str] = []
    for (pattern, threads), row in sorted(by_case.items()):
        base = row.get(REFERENCE)
        if base is None:
            continue
        base_ops = base.metric("alloc/ops_per_s") or math.nan
        base_rss = base.metric("mem/peak_rss") or math.nan
        cells = [pattern, str(threads), _ops(base_ops), f"{base_rss / 2**20:.0f} MiB"]
        for name in ALLOCATORS:
            other = row.get(name)
            if other is None:
                cells.append("-")
                continue
            speed = (other.metric("alloc/ops_per_s") or math.nan) / base_ops
            rss = other.metric("mem/peak_rss") or math.nan
            speedups[name].append(speed)
            cells.append(f"{speed:.2f}x, {rss / base_rss:.2f}x")
            if name == "pkmalloc:default":
                limit = 1.2 * base_rss if base_rss > 64 * 2**20 else base_rss + 8 * 2**20
                if speed < 1.0:
                    misses.append(f"{pattern}/{threads}: {speed:.2f}x glibc's speed")
                if rss > limit:
                    misses.append(f"{pattern}/{threads}: peak RSS {rss / base_rss:.2f}x glibc's")
        lines.append("| " + " | ".join(cells) + " |")
    means = ["geometric mean", "", "", ""]
    for name in ALLOCATORS:
        values = [v for v in speedups[name] if v > 0 and not math.isnan(v)]
        mean = math.exp(sum(map(math.log, values)) / len(values)) if values else math.nan
        means.append(f"{mean:.2f}x")
    lines.append("| " + " | ".join(means) + " |")
    lines.append("")
    lines.append("pkmalloc targets missed: " + ("; ".join(misses) if misses else "none"))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", type=Path, help="tabulate this record instead of measuring")
    parser.add_argument("--out", type=Path, help="keep the measured record here")
    parser.add_argument("--quick", action="store_true", help="the --quick sizes (a smoke run)")
    args = parser.parse_args()
    if args.record is not None and args.out is not None:
        parser.error("--record reads a record and --out writes one: give one of them")
    path = args.record
    if path is None:
        path = args.out or Path(tempfile.mkdtemp(prefix="perfkit-alloc-")) / "allocators.json"
        measure(path, args.quick)
        print(f"record: {path}", file=sys.stderr)
    print(table(list(load_record(path).results)))


if __name__ == "__main__":
    main()

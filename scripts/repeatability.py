"""Repeatability: two back-to-back ``perfkit run`` of the CPU array suite and their ratios.

    python scripts/repeatability.py [--quick] [-- extra perfkit run options]

Prints, over every case measured in both runs, the ratio of medians (second / first): the
share within ±5%, the median absolute deviation from 1, and the worst case; and, as a
control for drift of the machine itself, a plain 256 MiB copy timed before, between and
after the runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path


def control_copy_seconds() -> float:
    """Median time of a 256 MiB copy: the machine's memory speed, as a control for drift."""
    import numpy as np

    src = np.ones(1 << 24)
    dst = np.empty_like(src)
    times = []
    for _ in range(15):
        start = time.perf_counter()
        np.copyto(dst, src)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


ARRAY_SUITE = (
    "-w",
    "vector_add",
    "-w",
    "reduce_sum",
    "-w",
    "softmax",
    "-w",
    "matmul",
    "-b",
    "numpy",
)


def run_suite(out: Path, extra: list[str]) -> dict[str, float]:
    subprocess.run(
        [sys.executable, "-m", "perfkit", "run", *ARRAY_SUITE, "-o", str(out), *extra],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    record = json.loads(out.read_text())
    return {
        r["case_id"]: r["measurement"]["metrics"]["time/median"]
        for r in record["results"]
        if r["status"] == "ok"
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the ratios as JSON here")
    parser.add_argument(
        "--records",
        type=Path,
        default=Path("reports/repeatability"),
        help="folder for the two run records (default %(default)s)",
    )
    parser.add_argument("extra", nargs="*", help="options passed to both perfkit runs")
    args = parser.parse_args()
    control = [control_copy_seconds()]
    first = run_suite(args.records / "first.json", args.extra)
    control.append(control_copy_seconds())
    second = run_suite(args.records / "second.json", args.extra)
    control.append(control_copy_seconds())
    ratios = {case: second[case] / first[case] for case in first.keys() & second.keys()}
    within = sum(abs(r - 1) <= 0.05 for r in ratios.values())
    worst = max(ratios, key=lambda c: abs(ratios[c] - 1))
    print(f"cases               {len(ratios)}")
    print(f"within ±5%          {within}/{len(ratios)} ({within / len(ratios):.0%})")
    print(f"median |ratio - 1|  {statistics.median(abs(r - 1) for r in ratios.values()):.2%}")
    print(f"worst               {worst}: {ratios[worst]:.3f}")
    print(
        "control copy        "
        + " / ".join(f"{t * 1e3:.1f} ms" for t in control)
        + "  (256 MiB, before, between and after the runs)"
    )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(dict(sorted(ratios.items())), indent=1))


if __name__ == "__main__":
    main()

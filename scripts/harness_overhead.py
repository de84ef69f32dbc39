"""Harness overhead: perfkit's median against timeit's and pyperf's on the same functions.

    python scripts/harness_overhead.py [--rounds 7] [--out reports/overhead.json]

The speed of a pure-Python loop on a shared machine drifts by tens of percent over seconds,
so tools run one after the other compare the machine's moods, not the tools. Each round
therefore runs the pair back to back, in alternating order, and the figure is the median
over rounds of the paired ratio:

- loop: perfkit's sampling loop (``measure_thunk``, default policy) against ``timeit``
  (autorange, then 21 repeats), in one process;
- end to end: ``perfkit compare`` (worker processes, verification, calibration) against
  ``python -m pyperf timeit --fast`` (its own worker processes).

A ratio of 1.00 means perfkit adds nothing measurable. pyperf must be installed
(``pip install -e ".[test]"`` brings it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import timeit
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from overhead_probe import SPINS, spin  # noqa: E402

from perfkit.engine.sampler import MeasurePolicy, measure_thunk  # noqa: E402
from perfkit.model.timers import WallTimer  # noqa: E402


def with_timeit(n: int) -> float:
    """Median over 21 repeats of an autoranged loop, the way ``python -m timeit`` loops."""
    timer = timeit.Timer(lambda: spin(n))
    number, _ = timer.autorange()
    return statistics.median(t / number for t in timer.repeat(repeat=21, number=number))


def with_perfkit_loop(n: int) -> float:
    run = measure_thunk(lambda: spin(n), WallTimer(lambda: None), MeasurePolicy(), 2.0)
    return statistics.median(run.samples)


def with_pyperf(n: int, folder: Path) -> float:
    import pyperf

    out = folder / f"pyperf-{n}.json"
    out.unlink(missing_ok=True)
    setup = f"import sys; sys.path.insert(0, {str(HERE)!r}); from overhead_probe import spin"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pyperf",
            "timeit",
            "--fast",
            "--quiet",
            "-o",
            str(out),
            "-s",
            setup,
            f"spin({n})",
        ],
        check=True,
    )
    return float(pyperf.Benchmark.load(str(out)).median())


def with_perfkit(cost: str, folder: Path) -> float:
    out = folder / "perfkit.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "perfkit",
            "compare",
            "-w",
            "overhead_probe",
            "--plugin",
            str(HERE / "overhead_probe.py"),
            "--param",
            f"cost={cost}",
            "--no-calibrate",
            "-o",
            str(out),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    (result,) = json.loads(out.read_text())["results"]
    return float(result["measurement"]["metrics"]["time/median"])


def paired(rounds: int, ours: Callable[[], float], theirs: Callable[[], float]) -> dict[str, float]:
    """Median ratio ours/theirs over rounds that alternate which runs first."""
    ratios, mine, other = [], [], []
    for i in range(rounds):
        if i % 2:
            b = theirs()
            a = ours()
        else:
            a = ours()
            b = theirs()
        mine.append(a)
        other.append(b)
        ratios.append(a / b)
    return {
        "perfkit": statistics.median(mine),
        "other": statistics.median(other),
        "ratio": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for cost, n in SPINS.items():
            loop = paired(args.rounds, partial(with_perfkit_loop, n), partial(with_timeit, n))
            rows.append({"function": cost, "against": "timeit (loop, one process)", **loop})
            whole = paired(
                args.rounds, partial(with_perfkit, cost, folder), partial(with_pyperf, n, folder)
            )
            rows.append({"function": cost, "against": "pyperf (end to end)", **whole})
    print(
        f"{'function':<8} {'against':<28} {'perfkit':>10} {'other':>10} {'ratio':>6} {'range':>13}"
    )
    for row in rows:
        print(
            f"{row['function']:<8} {row['against']:<28} {row['perfkit'] * 1e6:>8.3f}µs "
            f"{row['other'] * 1e6:>8.3f}µs {row['ratio']:>6.3f} "
            f"{row['ratio_min']:>6.3f}-{row['ratio_max']:.3f}"
        )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

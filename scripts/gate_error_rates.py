"""The gate's error rates on this machine, measured with interleaved A/B runs.

    python scripts/gate_error_rates.py [--pairs 10] [--trials 20] [--keep DIR] [--out FILE]
    python scripts/gate_error_rates.py --instructions [...]   # instruction-count mode
    python scripts/gate_error_rates.py --analyze DIR          # the gate again over kept runs

- false positives: ``--pairs`` A/A runs of the CPU cases of the suite (both sides the same code and
  environment, repetitions interleaved); the share of cases flagged SLOWER;
- detection: ``--trials`` A/B runs of the test-only ``slowdown_probe`` workload whose
  candidate side does more work (``PERFKIT_SLOWDOWN``); the share flagged SLOWER.

Timing mode: default policy and sizes, 5% threshold, slowdowns of 10%, 20% and 50%.
Instruction mode: callgrind counts at the --quick sizes (valgrind runs ~50x slower), 1%
threshold, a 2% slowdown.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Mapping
from pathlib import Path

from perfkit import MeasurePolicy, registry
from perfkit._runner import RunOutcome, Side, run_sides
from perfkit.backend import get_backend
from perfkit.compare import Comparison, compare_records
from perfkit.record import RunRecord, dump_record, load_record
from perfkit.workload import Case

PLUGIN = Path(__file__).resolve().parent.parent / "tests" / "plugins" / "slowdown.py"
ENV = {"machine": {"cpu": "same"}}
SUITE = ("matmul", "reduce_sum", "softmax", "vector_add")


def _record(name: str, outcome: RunOutcome, policy: MeasurePolicy) -> RunRecord:
    return RunRecord(
        name,
        time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "ab",
        False,
        ENV,
        policy.to_json(),
        tuple(outcome.results),
    )


def _threshold(policy: Mapping[str, object]) -> float:
    return 0.01 if policy.get("measure") == "instructions" else 0.05


def verdicts(
    cases: list[Case], policy: MeasurePolicy, slowdown: float, keep: Path | None, name: str
) -> list[str]:
    """One interleaved A/B run; its two records are kept in ``keep`` for later analysis."""
    cand_env = {"PERFKIT_SLOWDOWN": str(slowdown)} if slowdown != 1 else {}
    sides = {"base": Side(), "cand": Side(env=cand_env)}
    out = run_sides(cases, policy, sides, plugins=[str(PLUGIN)])
    base = _record("base", out["base"], policy)
    cand = _record("cand", out["cand"], policy)
    if keep is not None:
        dump_record(base, keep / f"{name}-base.json")
        dump_record(cand, keep / f"{name}-cand.json")
    comparisons = compare_records(
        base, cand, thresholds={}, default_threshold=_threshold(policy.to_json())
    )
    return [c.verdict for c in comparisons if _measured(c)]


def _measured(comparison: Comparison) -> bool:
    """Both sides measured: cases skipped on this machine (no GPU) are not comparisons."""
    return comparison.base_median is not None and comparison.cand_median is not None


def analyze(folder: Path) -> dict[str, object]:
    """Gate verdicts, with this checkout's statistics, over the runs kept in ``folder``."""
    tallies: dict[str, dict[str, int]] = {}
    for base_path in sorted(folder.glob("*-base.json")):
        name = base_path.name.removesuffix("-base.json")
        group = "aa" if name.startswith("aa") else name.rsplit("-", 1)[0]
        base = load_record(base_path)
        comparisons = compare_records(
            base,
            load_record(folder / f"{name}-cand.json"),
            thresholds={},
            default_threshold=_threshold(base.policy),
        )
        tally = tallies.setdefault(group, {"runs": 0, "cases": 0})
        tally["runs"] += 1
        for c in filter(_measured, comparisons):
            tally["cases"] += 1
            tally[c.verdict] = tally.get(c.verdict, 0) + 1
    for group, tally in sorted(tallies.items()):
        print(group, tally)
    return dict(tallies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--keep", type=Path, help="keep every run's records in this folder")
    parser.add_argument("--analyze", type=Path, metavar="DIR", help="re-gate kept runs only")
    parser.add_argument("--instructions", action="store_true", help="instruction-count mode")
    args = parser.parse_args()
    if args.analyze:
        tallies = analyze(args.analyze)
        if args.out:
            args.out.write_text(json.dumps(tallies, indent=1))
        return
    registry.load([PLUGIN])
    quick = args.instructions
    policy = MeasurePolicy(measure="instructions", timeout=600.0) if quick else MeasurePolicy()
    suite = [
        c
        for name in SUITE
        for c in registry.expand_cases(registry.get_workload(name), quick=quick)
        if get_backend(c.implementation.backend).device == "cpu"
    ]
    probe = registry.expand_cases(registry.get_workload("slowdown_probe"), quick=quick)
    figures: dict[str, object] = {}
    flagged = total = 0
    for pair in range(args.pairs):
        found = verdicts(suite, policy, 1.0, args.keep, f"aa{pair}")
        flagged += found.count("SLOWER")
        total += len(found)
        print(
            f"A/A pair {pair + 1}: {found.count('SLOWER')} SLOWER, "
            f"{found.count('FASTER')} FASTER of {len(found)}",
            flush=True,
        )
    figures["aa"] = {"pairs": args.pairs, "cases": total, "slower": flagged}
    for slowdown in (1.02,) if quick else (1.1, 1.2, 1.5):
        hits = sum(
            verdicts(probe, policy, slowdown, args.keep, f"slow{slowdown}-{i}") == ["SLOWER"]
            for i in range(args.trials)
        )
        figures[f"slowdown {slowdown}"] = {"trials": args.trials, "detected": hits}
        print(f"slowdown {slowdown - 1:+.0%}: {hits}/{args.trials} detected", flush=True)
    print(f"A/A: {flagged}/{total} case comparisons flagged SLOWER ({flagged / max(total, 1):.2%})")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()

"""The gate's error rates on this machine, measured the way ``perfkit ab`` measures.

    python scripts/gate_error_rates.py [--pairs 10] [--trials 20] [--keep DIR] [--out FILE]
    python scripts/gate_error_rates.py --instructions [...]   # instruction-count mode
    python scripts/gate_error_rates.py --analyze DIR          # the gate again over kept runs

- false verdicts: ``--pairs`` A/A runs of the CPU cases of the array suite (both sides the same
  code and environment, interleaved, measured until decided as ``perfkit ab`` does); the
  share of cases called SLOWER or FASTER, either being wrong;
- detection: ``--trials`` A/B runs of the real ports of the array suite, one case a
  workload, whose candidate side is slowed by a known fraction through the test-only knob
  (``PERFKIT_INJECT_SLOWDOWN``); the share the gate fails;
- breakage: trials whose candidate fails the case (``PERFKIT_SLOWDOWN`` out of range) or
  lacks it, and a 3x slowdown measured at ``--quick`` (one process a side, gated plainly):
  the share of trials in which the gate fails, which must be all of them.

Timing mode: default sizes and policy, 8 to 12 repetitions a side and the confirmation
round, 5% threshold, slowdowns of 10%, 20% and 50%. Instruction mode: callgrind counts at
the --quick sizes, 1% threshold, 2%.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

from perfkit import MeasurePolicy
from perfkit.cli.ab import look_schedule, run_until_decided
from perfkit.engine.injected import INJECT_SLOWDOWN
from perfkit.engine.runner import Campaign, Side, effective_threads, run_sides
from perfkit.machine.capture import capture_environment
from perfkit.model import registry
from perfkit.model.backend import get_backend
from perfkit.model.workload import Case
from perfkit.records.run_record import RunRecord, dump_record, load_record
from perfkit.verdict.gate import GatePolicy, GateReport, run_gate

PLUGIN = Path(__file__).resolve().parent.parent / "tests" / "plugins" / "slowdown.py"
SUITE = ("matmul", "reduce_sum", "softmax", "vector_add")
FIRST, LAST = 8, 12
ENVIRONMENT = dataclasses.replace(
    capture_environment(probe_backends=False), blas_threads=effective_threads(MeasurePolicy())
)


def _record(name: str, outcome: Any, policy: MeasurePolicy) -> RunRecord:
    return RunRecord(
        name,
        time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "gate_error_rates",
        False,
        dataclasses.replace(ENVIRONMENT, harness=outcome.harness),
        policy,
        tuple(outcome.results),
    )


def _looks(policy: MeasurePolicy) -> tuple[int, ...]:
    if policy.counting:
        return (policy.processes,)
    return look_schedule(FIRST, LAST)


def _gating(policy: MeasurePolicy) -> GatePolicy:
    if policy.counting:
        return GatePolicy(threshold=0.01)
    return GatePolicy(threshold=0.05, looks=len(_looks(policy)))


def ab_run(
    cases: list[Case], policy: MeasurePolicy, cand_env: dict[str, str], keep: Path | None, name: str
) -> GateReport:
    """One interleaved A/B run, sequential as ``perfkit ab`` runs it; its records are kept
    in ``keep`` for later analysis."""
    sides = {"base": Side(), "cand": Side(env=cand_env)}
    gating = _gating(policy)
    campaign = Campaign(cases, policy, sides, plugins=[str(PLUGIN)])

    def records_of(partial: bool) -> dict[str, RunRecord]:
        out = campaign.outcomes(partial)
        return {side: _record(side, out[side], policy) for side in sides}

    report = run_until_decided(campaign, _looks(policy), gating, records_of)
    if keep is not None:
        for side, record in records_of(False).items():
            dump_record(record, keep / f"{name}-{side}.json")
    return report  # type: ignore[no-any-return]


def _measured(report: GateReport) -> list[str]:
    """The verdicts of cases measured on both sides (not those skipped here, as GPU ones),
    ``FAILS`` for a case the gate fails without calling it SLOWER (past the threshold and
    not cleared)."""
    return [
        "FAILS" if report.fails(c) and c.verdict != "SLOWER" else c.verdict
        for c in report.comparisons
        if c.base_median and c.cand_median
    ]


def analyze(folder: Path) -> dict[str, object]:
    """Gate verdicts, with this checkout's statistics, over the runs kept in ``folder``."""
    tallies: dict[str, dict[str, int]] = {}
    for base_path in sorted(folder.glob("*-base.json")):
        name = base_path.name.removesuffix("-base.json")
        group = "aa" if name.startswith("aa") else name.rsplit("-", 1)[0]
        base = load_record(base_path)
        report = run_gate(base, load_record(folder / f"{name}-cand.json"), _gating(base.policy))
        tally = tallies.setdefault(group, {"runs": 0, "cases": 0, "failed": 0})
        tally["runs"] += 1
        tally["failed"] += report.exit_code != 0
        for verdict in _measured(report):
            tally["cases"] += 1
            tally[verdict] = tally.get(verdict, 0) + 1
    for group, tally in sorted(tallies.items()):
        print(group, tally)
    return dict(tallies)


def _breakage(probe: list[Case], keep: Path | None, trials: int) -> dict[str, object]:
    """Trials whose candidate is broken: the gate must fail every one."""
    quick = MeasurePolicy.quick()
    broken = missing = slow = 0
    for i in range(trials):
        crash = ab_run(probe, quick, {"PERFKIT_SLOWDOWN": "99"}, keep, f"broken-{i}")
        broken += crash.exit_code == 1
        out = run_sides(probe, quick, {"base": Side()}, plugins=[str(PLUGIN)])
        base = _record("base", out["base"], quick)
        empty = dataclasses.replace(base, run_id="cand", results=())
        missing += run_gate(base, empty, GatePolicy()).exit_code == 1
        pair = run_sides(
            probe,
            quick,
            {"base": Side(), "cand": Side(env={"PERFKIT_SLOWDOWN": "3"})},
            plugins=[str(PLUGIN)],
        )
        records = {side: _record(side, pair[side], quick) for side in pair}
        slow += run_gate(records["base"], records["cand"], GatePolicy()).exit_code == 1
    print(f"broken {broken}/{trials}, missing {missing}/{trials}, 3x at --quick {slow}/{trials}")
    return {"trials": trials, "broken": broken, "missing": missing, "quick_3x": slow}


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
    counting = args.instructions
    policy = (
        MeasurePolicy(measure="instructions", timeout=600.0, processes=1)
        if counting
        else MeasurePolicy(processes=FIRST, extra_processes=0)
    )
    suite = [
        c
        for name in SUITE
        for c in registry.expand_cases(registry.get_workload(name), quick=counting)
        if get_backend(c.implementation.backend).device == "cpu"
    ]
    probe = registry.expand_cases(registry.get_workload("slowdown_probe"), quick=counting)
    # One case a workload of the array suite, the knob slowing its real port.
    real: dict[str, Case] = {}
    for case in suite:
        real.setdefault(case.workload.name, case)
    figures: dict[str, object] = {}
    wrong = total = 0
    started = time.monotonic()
    for pair in range(args.pairs):
        start = time.monotonic()
        found = _measured(ab_run(suite, policy, {}, args.keep, f"aa{pair}"))
        flagged = found.count("SLOWER") + found.count("FASTER") + found.count("FAILS")
        wrong += flagged
        total += len(found)
        counts = {v: found.count(v) for v in sorted(set(found))}
        print(f"A/A pair {pair + 1}: {counts} ({time.monotonic() - start:.0f} s)", flush=True)
    figures["aa"] = {"pairs": args.pairs, "cases": total, "slower_faster_or_failing": wrong}
    figures["aa_seconds"] = time.monotonic() - started
    for slowdown in (1.02,) if counting else (1.1, 1.2, 1.5):
        hits = trials = 0
        for i in range(args.trials):
            if counting:  # instruction counts: the probe does more work, which they see
                env, cases = {"PERFKIT_SLOWDOWN": str(slowdown)}, probe
            else:  # time: a real port, one workload a trial in turn
                case = list(real.values())[i % len(real)]
                env, cases = {INJECT_SLOWDOWN: f"{case.workload.name}={slowdown - 1}"}, [case]
            report = ab_run(cases, policy, env, args.keep, f"slow{slowdown}-{i}")
            hits += report.exit_code == 1
            trials += 1
        figures[f"slowdown {slowdown}"] = {"trials": trials, "detected": hits}
        print(f"slowdown {slowdown - 1:+.0%}: {hits}/{trials} detected", flush=True)
    if not counting:
        figures["breakage"] = _breakage(probe, args.keep, args.trials)
    print(f"A/A: {wrong}/{total} case comparisons SLOWER or FASTER ({wrong / max(total, 1):.2%})")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()

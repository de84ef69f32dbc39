"""The gate's error rates on this machine, measured the way ``perfkit ab`` measures.

    python scripts/gate_error_rates.py [--pairs 10] [--trials 2] [--keep DIR] [--out FILE]
    python scripts/gate_error_rates.py --instructions [...]   # instruction-count mode
    python scripts/gate_error_rates.py --analyze DIR          # the gate again over kept runs

- false verdicts: ``--pairs`` A/A runs of the NumPy cases of the array suite (both sides the same
  code and environment, interleaved, measured until decided as ``perfkit ab`` does); the
  share of cases called SLOWER or FASTER, either being wrong;
- detection: ``--trials`` A/B runs of the same cases whose candidate side is slowed by a
  known fraction in every real port of the suite, through the test-only knob
  (``PERFKIT_INJECT_SLOWDOWN``); the share of cases the gate fails;
- breakage: trials whose candidate fails the case (``PERFKIT_SLOWDOWN`` out of range) or
  lacks it, and a 3x slowdown measured at ``--quick`` (one process a side, gated plainly):
  the share of trials in which the gate fails, which must be all of them.

Timing mode: default sizes and ``perfkit ab``'s policy (``repetition_policy``), 8 to 12
repetitions a side and the confirmation round, 5% threshold, ``--slowdowns`` (10%). Every
A/A run prints its wall time, its verdicts and the smallest change each case could see.
Instruction mode: callgrind counts at the --quick sizes, 1% threshold, 2%.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

from perfkit import MeasurePolicy
from perfkit.cli.ab import look_schedule, repetition_policy, run_until_decided
from perfkit.engine.injected import INJECT_SLOWDOWN
from perfkit.engine.runner import Campaign, Side, effective_threads, run_sides
from perfkit.engine.stored_inputs import inputs_folder
from perfkit.machine.capture import capture_environment
from perfkit.model import registry
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
    gating = _gating(policy)
    with inputs_folder() as base_inputs, inputs_folder() as cand_inputs:
        sides = {"base": Side(inputs=base_inputs), "cand": Side(env=cand_env, inputs=cand_inputs)}
        campaign = Campaign(cases, policy, sides, plugins=[str(PLUGIN)])
        return _decided(campaign, policy, gating, keep, name)


def _decided(
    campaign: Campaign, policy: MeasurePolicy, gating: GatePolicy, keep: Path | None, name: str
) -> GateReport:
    sides = campaign.sides

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


def _false_verdicts(suite: list[Case], policy: MeasurePolicy, args: Any) -> dict[str, object]:
    """``--pairs`` A/A runs of ``suite``: wrong verdicts, SAME, wall times, and the median
    smallest change each case could see."""
    wrong = total = same = 0
    seconds: list[float] = []
    detectable: dict[str, list[float]] = {}
    for pair in range(args.pairs):
        start = time.monotonic()
        report = ab_run(suite, policy, {}, args.keep, f"aa{pair}")
        seconds.append(time.monotonic() - start)
        found = _measured(report)
        wrong += found.count("SLOWER") + found.count("FASTER") + found.count("FAILS")
        same += found.count("SAME")
        total += len(found)
        for c in report.comparisons:
            if c.detectable is not None:
                detectable.setdefault(c.case_id, []).append(c.detectable)
        counts = {v: found.count(v) for v in sorted(set(found))}
        print(f"A/A pair {pair + 1}: {counts} ({seconds[-1]:.0f} s)", flush=True)
    print(f"A/A: {wrong}/{total} case comparisons SLOWER, FASTER or failing, {same} SAME")
    return {
        "pairs": args.pairs,
        "cases": total,
        "slower_faster_or_failing": wrong,
        "same": same,
        "seconds": [round(s) for s in seconds],
        "detectable_median": {k: round(sorted(v)[len(v) // 2], 4) for k, v in detectable.items()},
    }


def _detection(
    cases: list[Case], policy: MeasurePolicy, args: Any, slowdown: float, workloads: list[str]
) -> dict[str, object]:
    """``--trials`` A/B runs whose candidate is ``slowdown`` times slower in every case:
    the cases the gate fails. Instruction counts: the probe does more work; time: the
    knob slows every real port of ``workloads``."""
    hits = trials = 0
    for i in range(args.trials):
        if policy.counting:
            env = {"PERFKIT_SLOWDOWN": str(slowdown)}
        else:
            env = {INJECT_SLOWDOWN: ",".join(f"{name}={slowdown - 1}" for name in workloads)}
        start = time.monotonic()
        found = _measured(ab_run(cases, policy, env, args.keep, f"slow{slowdown}-{i}"))
        caught = found.count("SLOWER") + found.count("FAILS")
        hits += caught
        trials += len(found)
        elapsed = time.monotonic() - start
        print(f"{slowdown - 1:+.0%} run {i + 1}: {caught}/{len(found)} failed ({elapsed:.0f} s)")
    print(f"slowdown {slowdown - 1:+.0%}: {hits}/{trials} detected", flush=True)
    return {"trials": trials, "detected": hits}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--trials", type=int, default=2, help="A/B runs a slowdown")
    parser.add_argument(
        "--slowdowns", type=float, nargs="+", default=[1.1], help="candidate/baseline (1.1)"
    )
    parser.add_argument("--breakage", type=int, default=0, help="trials of broken candidates")
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
        else repetition_policy(MeasurePolicy(processes=FIRST, extra_processes=0))
    )
    # The NumPy ports, as the pull-request workflow runs them (-b numpy): 32 cases.
    suite = [
        c
        for name in SUITE
        for c in registry.expand_cases(registry.get_workload(name), ["numpy"], quick=counting)
    ]
    probe = registry.expand_cases(registry.get_workload("slowdown_probe"), quick=counting)
    figures: dict[str, object] = {"aa": _false_verdicts(suite, policy, args)}
    for slowdown in (1.02,) if counting else args.slowdowns:
        figures[f"slowdown {slowdown}"] = _detection(
            suite if not counting else probe, policy, args, slowdown, list(SUITE)
        )
    if not counting and args.breakage:
        figures["breakage"] = _breakage(probe, args.keep, args.breakage)
    if args.out:
        args.out.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()

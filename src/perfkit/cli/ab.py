"""``perfkit ab``: two commits in one interleaved run, measured until decided, then gated.

The design is sequential. Every case first gets ``--processes`` repetitions a side (8 by
default: the fewest with which the sign test over repetition pairs can reach a verdict at
the split level below). Then the gate looks; every case it calls ``AMBIGUOUS`` or
``UNDERPOWERED``, and every case with too few repetitions measured on a quiet machine, gets
two more repetitions a side, interleaved as before, and the gate looks again, until nothing
is left undecided or ``--max-repetitions`` is reached. Looking again after more data would
let chance through more often than ``--alpha`` says, so alpha is split (Bonferroni) over
the looks that could reach a verdict: with 8 to 12 repetitions, three looks at alpha/3 each.
This is simpler than a group-sequential boundary and, unlike one, needs no assumption about
how the statistic is distributed, which the sign test does not have either.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from perfkit.cli.console import interrupted_code, progress_bar, terminate_as_interrupt
from perfkit.cli.gate import emit_gate, gate_policy
from perfkit.cli.run import (
    ceilings_for,
    command_line,
    make_record,
    new_run_id,
    run_environment,
    write_or_keep_journal,
    write_report,
)
from perfkit.cli.selection import cases_from, policy_from
from perfkit.integrations.spark.for_run import spark_for_run
from perfkit.integrations.torch_run import torch_for_run
from perfkit.verdict.stats import smallest_sign_test_p

__all__ = ["STAGE", "ab", "planned_looks", "run_until_decided"]

STAGE = 2  # repetitions a side added to undecided cases between looks
_FIRST = 8
_UNDECIDED = ("AMBIGUOUS", "UNDERPOWERED")


def planned_looks(first: int, last: int, alpha: float) -> int:
    """How many looks can reach a verdict when the gate looks after ``first``, then every
    ``STAGE`` more repetitions up to ``last``: those where the sign test can reach
    ``alpha`` at all. Alpha is split over them; looks that cannot reach it spend nothing."""
    counts = range(first, last + 1, STAGE)
    return max(1, sum(smallest_sign_test_p(k) <= alpha for k in counts))


def _sides(
    args: argparse.Namespace, trees: dict[str, Path | None]
) -> tuple[dict[str, Any], list[str]]:
    """One harness (this one) over each side's ports where it can load them; a side whose
    ports it cannot load runs its own harness, and the note says so."""
    import os

    from perfkit.engine.harness import ports_load
    from perfkit.engine.runner import Side

    sides: dict[str, Side] = {}
    notes: list[str] = []
    for name, tree in trees.items():
        if tree is None:
            sides[name] = Side()
            continue
        problem = ports_load(tree, list(args.plugin))
        if problem is None:
            native = {} if "PERFKIT_NATIVE_DIR" in os.environ else {
                "PERFKIT_NATIVE_DIR": str(tree.parent / "native")
            }  # fmt: skip
            sides[name] = Side(ports_from=tree, env=native)
        else:
            sides[name] = Side(source=tree)
            notes.append(f"{name}: measured with its own harness, not this one ({problem})")
    return sides, notes


def _design(args: argparse.Namespace) -> tuple[Any, int, Any]:
    """The policy (``processes``: the first repetitions), the most repetitions, the gate."""
    policy = policy_from(args)
    first = args.processes or (1 if policy.counting else _FIRST)
    policy = policy.replace(processes=first, extra_processes=0)
    last = max(first, args.max_repetitions) if not policy.counting else first
    looks = 1 if policy.counting else planned_looks(first, last, args.alpha)
    return policy, last, gate_policy(args, looks)


def ab(args: argparse.Namespace, names: list[str]) -> int:
    """Two commits measured in one run, their repetitions interleaved, then gated: the
    cases of the workloads ``names`` (``resolve_selection``)."""
    from perfkit.engine.journal import Journal, JournalHeader
    from perfkit.engine.runner import Campaign, plan_of
    from perfkit.machine.capture import git_state
    from perfkit.records.environment import GitState
    from perfkit.vcs.worktree import checkout, repository_root

    cases = cases_from(args, names)
    policy, last, gating = _design(args)
    repo = repository_root(Path.cwd())
    run_id = new_run_id()
    created = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    folder = args.output or Path("reports") / "ab" / run_id
    with contextlib.ExitStack() as stack:
        base_sha, base_src = stack.enter_context(checkout(args.base, repo))
        git = {"base": GitState(base_sha, False)}
        trees: dict[str, Path | None] = {"base": base_src, "cand": None}
        if args.cand:
            cand_sha, trees["cand"] = stack.enter_context(checkout(args.cand, repo))
            git["cand"] = GitState(cand_sha, False)
        else:
            state = git_state()
            git["cand"] = GitState(state["sha"], state["dirty"])
        sides, notes = _sides(args, trees)
        stack.enter_context(spark_for_run(args, cases))
        stack.enter_context(torch_for_run(args, cases))
        ceilings = ceilings_for(policy, not args.no_calibrate, cases)
        environment = run_environment(policy, ceilings)
        header = JournalHeader(
            run_id, created, command_line(args), environment, policy, tuple(sides),
            tuple(plan_of(c) for c in cases),
        )  # fmt: skip
        journal = stack.enter_context(Journal(folder / "ab.journal.jsonl", header))
        seen = stack.enter_context(terminate_as_interrupt())
        bar = stack.enter_context(progress_bar())
        campaign = Campaign(
            cases, policy, sides, plugins=args.plugin, ceilings=ceilings,
            progress=bar, journal=journal,
        )  # fmt: skip

        def records_of(partial: bool) -> dict[str, Any]:
            outcomes = campaign.outcomes(partial)
            return {
                side: make_record(
                    args,
                    f"{run_id}-{side}",
                    outcome=outcomes[side],
                    policy=campaign.policy,
                    environment=dataclasses.replace(environment, git=git[side]),
                    created=created,
                )
                for side in ("base", "cand")
            }

        partial = False
        try:
            run_until_decided(campaign, last, gating, records_of)
        except KeyboardInterrupt:
            partial = True
        records = records_of(partial)
        write_or_keep_journal(records, folder, journal)
        for side in records:
            print(f"record: {folder / f'{side}.json'}")
        why = (
            "" if partial else _why_slower(args, cases, records, gating, sides=sides, folder=folder)
        )
    if partial:
        print("interrupted: partial records written")
        return interrupted_code(seen)
    return _gate_and_report(
        args, records, gating, notes, rounds=campaign.rounds, run_id=run_id, why=why
    )


def _why_slower(
    args: argparse.Namespace,
    cases: list[Any],
    records: dict[str, Any],
    gating: Any,
    *,
    sides: dict[str, Any],
    folder: Path,
) -> str:
    """With ``--profile``: profile both sides of every case the gate calls SLOWER (while
    the worktrees still exist); the Markdown of what grew, for the comment."""
    from perfkit.verdict.gate import run_gate

    if not getattr(args, "profile", False):
        return ""
    report = run_gate(records["base"], records["cand"], gating)
    slower = [c.case_id for c in report.comparisons if c.verdict == "SLOWER"]
    if not slower:
        return ""
    from perfkit.profiling.differential import grown_markdown, profile_slower
    from perfkit.profiling.record import dump_profile_run
    from perfkit.report.profile_page import write_profile_page

    where = folder / "profiles"
    run, diffs = profile_slower(
        args, cases, slower, sides=sides, folder=where, counting=gating_counts(records)
    )
    dump_profile_run(run, where / "profile.json")
    page = write_profile_page(run, where / "profile.html", diffs)
    print(f"profiles of the slower cases: {page}")
    return grown_markdown(run, diffs)


def gating_counts(records: dict[str, Any]) -> bool:
    """Whether the run counted instructions (then callgrind profiles, not samples)."""
    return bool(records["base"].policy.counting)


def _gate_and_report(
    args: argparse.Namespace,
    records: dict[str, Any],
    gating: Any,
    notes: list[str],
    *,
    rounds: int,
    run_id: str,
    why: str = "",
) -> int:
    from perfkit.verdict.gate import run_gate

    report = run_gate(records["base"], records["cand"], gating)
    harnesses = {r.environment.harness for r in records.values()}
    if len(harnesses) > 1:
        notes.append(
            "the two sides were measured by different harnesses "
            f"({' and '.join(sorted(h or '?' for h in harnesses))}): "
            "part of any difference may be the harness's"
        )
    code = emit_gate(args, report.with_notes(notes, rounds=rounds), why)
    if why:
        print(why, end="")
    if not args.no_report:
        write_report(
            [records["base"], records["cand"]],
            Path("reports") / f"ab-{run_id}.html",
            f"perfkit ab: {args.base} vs {args.cand or 'working tree'}",
            args.open,
            args.shared_plotly,
        )
    return code


def run_until_decided(
    campaign: Any,
    last: int,
    gating: Any,
    records_of: Callable[[bool], dict[str, Any]],
) -> None:
    """The sequential design: ``campaign.policy.processes`` rounds of every case, then, until
    the gate leaves nothing undecided or ``last`` rounds are run, ``STAGE`` more rounds of the
    cases it left undecided. ``records_of(partial)`` makes the two sides' records so far."""
    from perfkit.verdict.gate import run_gate

    cases = campaign.cases
    for _ in range(campaign.policy.processes):
        campaign.run_round([c for c in cases if campaign.runnable(c)])
    while campaign.rounds < last:
        records = records_of(False)
        report = run_gate(records["base"], records["cand"], gating)
        again = _undecided(report, campaign, cases, gating.alpha_per_look)
        if not again:
            return
        for _ in range(min(STAGE, last - campaign.rounds)):
            campaign.run_round(again)


def _undecided(report: Any, campaign: Any, cases: list[Any], alpha: float) -> list[Any]:
    """The cases to measure again: undecided by the gate, or short of repetitions measured
    while the machine was quiet (with as many as the test needs, contended ones are left
    out of it)."""
    from perfkit.verdict.comparison import pairs_needed

    verdicts = {c.case_id: c.verdict for c in report.comparisons}
    needed = pairs_needed(alpha)
    return [
        c
        for c in cases
        if campaign.measured(c)
        and (verdicts.get(c.id) in _UNDECIDED or campaign.quiet_repetitions(c) < needed)
    ]

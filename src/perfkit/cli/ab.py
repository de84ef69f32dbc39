"""``perfkit ab``: two commits in one interleaved run, measured until decided, then gated.

The design is sequential. Every case first gets ``--processes`` repetitions a side (8 by
default). Then the gate looks; every case it leaves undecided (``AMBIGUOUS``,
``UNDERPOWERED``) or would fail for time (``SLOWER``, or past the threshold and not
cleared) gets ``STAGE`` more repetitions a side, interleaved as before, and the gate looks
again at those cases alone, until ``--max-repetitions``. A case that would fail there gets
one more stage, the confirmation round, and its verdict is the one after it: no case fails
on its first look. A case decided (``SAME``, ``FASTER``) keeps the verdict of the look that
decided it, and each look controls the false-discovery rate across the cases it judges, so
a verdict depends only on the case's own evidence. The looks are planned before the first
(``look_schedule``), the last step shorter where the steps do not divide, and alpha is
split (Bonferroni) over all of them: with 8 to 12 repetitions, four looks (8, 10, 12 and
the confirmation at 14) at alpha/4 each. This is simpler than a group-sequential boundary
and, unlike one, needs no assumption about how the statistic is distributed.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from perfkit.cli.console import interrupted_code, progress_bar
from perfkit.cli.gate import emit_gate, gate_policy
from perfkit.cli.outputs import distinct_outputs
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
from perfkit.engine.stored_inputs import inputs_folder
from perfkit.integrations.spark.for_run import spark_for_run
from perfkit.integrations.torch_run import torch_for_run
from perfkit.model.errors import UsageError
from perfkit.model.stopping import stop_on_signals

__all__ = ["STAGE", "ab", "look_schedule", "repetition_policy", "run_until_decided"]

STAGE = 2  # repetitions a side added to undecided cases between looks
_FIRST = 8
# Sampling of one repetition of one case on one side, where --budget is not given: at least
# ten samples of 10 ms (a slower call: three or four samples of one call). The process,
# not the sample, is the unit of evidence, so many short repetitions tell more than a few
# long ones in the same time.
REPETITION_SECONDS = 0.1
REPETITION_SAMPLE = 0.01
_UNDECIDED = ("AMBIGUOUS", "UNDERPOWERED")
_JOURNAL = "ab.journal.jsonl"


def look_schedule(first: int, last: int, *, confirm: bool = True) -> tuple[int, ...]:
    """The repetitions a side at which the gate looks: ``first``, every ``STAGE`` more up
    to ``last`` (the last step shorter where ``STAGE`` does not divide), then, with
    ``confirm``, the confirmation round of the cases that would fail at ``last``. Alpha is
    split over every look planned here, and the loop takes exactly these."""
    looks = [*range(first, last, STAGE), last]
    if confirm:
        looks.append(last + STAGE)
    return tuple(looks)


def _sides(
    args: argparse.Namespace, trees: dict[str, Path | None], cases: Sequence[Any] = ()
) -> tuple[dict[str, Any], list[str]]:
    """One harness (this one) over each side's ports where it can load them; a side whose
    ports it cannot load runs its own harness, and the note says so. Allocation patterns
    alone (every case in the ``alloc`` suite) measure the allocator, not the Python that
    runs it: both sides then run this harness's workloads and drivers, each side with its
    own commit's pkmalloc, whatever its Python looks like."""
    import os

    from perfkit.engine.harness import ports_load, workloads_taken
    from perfkit.engine.runner import Side
    from perfkit.native.build import PKMALLOC_DIR

    sides: dict[str, Side] = {}
    notes: list[str] = []
    allocator_only = bool(cases) and all(c.workload.suite == "alloc" for c in cases)
    for name, tree in trees.items():
        if tree is None:
            sides[name] = Side()
            continue
        # The side's own allocator, run in this harness's drivers (the instrument).
        native = {} if PKMALLOC_DIR in os.environ else {
            PKMALLOC_DIR: str(tree.parent / "native")
        }  # fmt: skip
        if allocator_only:
            sides[name] = Side(env=native)
            notes.append(f"{name}: its pkmalloc, in this harness's allocation patterns")
            continue
        problem = ports_load(tree, list(args.plugin))
        if problem is None:
            sides[name] = Side(ports_from=tree, env=native)
            if taken := workloads_taken(tree):
                notes.append(
                    f"{name}: workloads it lacks, measured as this harness defines them: "
                    + ", ".join(taken)
                )
        else:
            sides[name] = Side(source=tree)
            notes.append(f"{name}: measured with its own harness, not this one ({problem})")
    return sides, notes


def repetition_policy(policy: Any) -> Any:
    """``policy`` with short repetitions (``REPETITION_SECONDS`` of sampling a process, in
    samples of ``REPETITION_SAMPLE``), for its ``processes``; a policy that counts
    instructions is left as it is."""
    if policy.counting:
        return policy
    return policy.replace(
        budget=policy.processes * REPETITION_SECONDS,
        min_sample_time=min(policy.min_sample_time, REPETITION_SAMPLE),
    )


def _design(args: argparse.Namespace) -> tuple[Any, tuple[int, ...], Any]:
    """The policy (``processes``: the first repetitions), the looks, the gate."""
    policy = policy_from(args)
    first = args.processes or (1 if policy.counting else _FIRST)
    policy = policy.replace(processes=first, extra_processes=0)
    if args.budget is None and not args.quick:
        policy = repetition_policy(policy)
    if policy.counting:  # instruction counts do not vary by chance: one look
        looks: tuple[int, ...] = (first,)
    else:
        looks = look_schedule(first, max(first, args.max_repetitions))
    return policy, looks, gate_policy(args, len(looks))


def _budget(args: argparse.Namespace, started: float) -> Any:
    """The run's time budget, counted from ``started``, or None (``--time-budget`` 0 or
    not given)."""
    from perfkit.engine.budget import TimeBudget

    seconds = getattr(args, "time_budget", None)
    if not seconds:
        return None
    return TimeBudget(max(1e-3, seconds - (time.monotonic() - started)))


def _outputs_free(args: argparse.Namespace, folder: Path) -> None:
    """Refuse, before anything starts, outputs that are one file or a folder that is a
    file, and a journal another run holds (``journal_free``)."""
    from perfkit.engine.journal import journal_free

    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder}: a file; -o names the folder of the two records")
    journal = folder / _JOURNAL
    outputs = {"base record": folder / "base.json", "candidate record": folder / "cand.json"}
    distinct_outputs({**outputs, "journal": journal, "markdown": args.markdown, "json": args.json})
    journal_free(journal)


def ab(args: argparse.Namespace, names: list[str]) -> int:
    """Two commits measured in one run, their repetitions interleaved, then gated: the
    cases of the workloads ``names`` (``resolve_selection``)."""
    from perfkit.engine.journal import Journal, JournalHeader
    from perfkit.engine.runner import Campaign, plan_of
    from perfkit.machine.capture import git_state
    from perfkit.records.environment import GitState
    from perfkit.vcs.worktree import checkout, repository_root

    started = time.monotonic()
    cases = cases_from(args, names)
    policy, looks, gating = _design(args)
    repo = repository_root(Path.cwd())
    run_id = new_run_id()
    created = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    folder = args.output or Path("reports") / "ab" / run_id
    _outputs_free(args, folder)
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
        sides, notes = _sides(args, trees, cases)
        sides = {  # the inputs a side's first worker made, read back by the later ones
            name: dataclasses.replace(side, inputs=stack.enter_context(inputs_folder()))
            for name, side in sides.items()
        }
        stack.enter_context(spark_for_run(args, cases))
        stack.enter_context(torch_for_run(args, cases))
        ceilings = ceilings_for(policy, not args.no_calibrate, cases)
        environment = run_environment(policy, ceilings)
        header = JournalHeader(
            run_id, created, command_line(args), environment, policy, tuple(sides),
            tuple(plan_of(c) for c in cases),
        )  # fmt: skip
        journal = stack.enter_context(Journal(folder / _JOURNAL, header))
        seen = stack.enter_context(stop_on_signals())
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
        verdicts = None
        try:
            verdicts = run_until_decided(
                campaign, looks, gating, records_of, budget=_budget(args, started)
            )
        except KeyboardInterrupt:
            partial = True
        records = records_of(partial)
        write_or_keep_journal(records, folder, journal)
        for side in records:
            print(f"record: {folder / f'{side}.json'}")
        if partial or verdicts is None:
            print("interrupted: partial records written")
            return interrupted_code(seen)
        why = _why_slower(
            args, cases, verdicts, sides=sides, folder=folder, counting=campaign.policy.counting
        )
    return _gate_and_report(
        args, records, verdicts, notes, rounds=campaign.rounds, run_id=run_id, why=why
    )


def _why_slower(
    args: argparse.Namespace,
    cases: list[Any],
    report: Any,
    *,
    sides: dict[str, Any],
    folder: Path,
    counting: bool,
) -> str:
    """With ``--profile``: profile both sides of every case the gate calls SLOWER (while
    the worktrees still exist); the Markdown of what grew, for the comment."""
    if not getattr(args, "profile", False):
        return ""
    slower = [c.case_id for c in report.comparisons if c.verdict == "SLOWER"]
    if not slower:
        return ""
    from perfkit.profiling.differential import grown_markdown, profile_slower
    from perfkit.profiling.record import dump_profile_run
    from perfkit.report.profile_page import write_profile_page

    where = folder / "profiles"
    run, diffs = profile_slower(
        args,
        cases,
        slower,
        sides=sides,
        folder=where,
        counting=counting,
    )
    dump_profile_run(run, where / "profile.json")
    page = write_profile_page(run, where / "profile.html", diffs)
    print(f"profiles of the slower cases: {page}")
    return grown_markdown(run, diffs)


def _gate_and_report(
    args: argparse.Namespace,
    records: dict[str, Any],
    report: Any,
    notes: list[str],
    *,
    rounds: int,
    run_id: str,
    why: str = "",
) -> int:
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
    looks: Sequence[int],
    gating: Any,
    records_of: Callable[[bool], dict[str, Any]],
    *,
    budget: Any = None,
) -> Any:
    """The sequential design (the module's doc) over the repetition counts ``looks``;
    ``records_of(partial)`` makes the two sides' records so far. With a ``budget``
    (``TimeBudget``), the stages after the first look go to as many of the cases to measure
    again as fit in what is left, the least certain first. Returns the gate's report, each
    case with the verdict of its last look."""
    from perfkit.verdict.gate import run_gate

    cases = campaign.cases
    active = list(cases)
    final: dict[str, Any] = {}
    report = None
    cost = _Cost()
    for index, at in enumerate(looks):
        while campaign.rounds < at and active:
            with cost.round(len(active)):
                campaign.run_round([c for c in active if campaign.runnable(c)])
        records = records_of(False)
        report = run_gate(records["base"], records["cand"], gating, {c.id for c in active})
        final.update((c.case_id, c) for c in report.comparisons)
        if index == len(looks) - 1:
            break
        confirming = index == len(looks) - 2  # the next look is the confirmation round
        active = _again(report, campaign, active, confirming)
        if budget is not None:
            steps = looks[index + 1] - campaign.rounds
            active = cost.fitting(_least_certain_first(active, report), steps, budget.left())
        if not active:
            break
    assert report is not None, "a schedule has at least one look"
    order = {c.id: i for i, c in enumerate(cases)}
    merged = sorted(final.values(), key=lambda c: order.get(c.case_id, len(order)))
    return dataclasses.replace(report, comparisons=tuple(merged))


def _again(report: Any, campaign: Any, cases: list[Any], confirming: bool) -> list[Any]:
    """The cases to measure again: those the gate would fail for time (a regression is
    confirmed before it is final), and before the confirmation round also those
    undecided."""
    judged = {c.case_id: c for c in report.comparisons}

    def again(case: Any) -> bool:
        c = judged.get(case.id)
        if c is None or not campaign.measured(case):
            return False
        if c.verdict == "SLOWER" or c.uncleared:
            return True
        return not confirming and c.verdict in _UNDECIDED

    return [case for case in cases if again(case)]


class _Cost:
    """What one case's repetition (both sides) has cost so far, on average."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.case_rounds = 0

    @contextlib.contextmanager
    def round(self, cases: int) -> Iterator[None]:
        start = time.monotonic()
        try:
            yield
        finally:
            self.seconds += time.monotonic() - start
            self.case_rounds += cases

    def fitting(self, cases: list[Any], steps: int, left: float) -> list[Any]:
        """The first of ``cases`` whose ``steps`` more rounds fit in ``left`` seconds."""
        if not self.case_rounds or steps <= 0:
            return cases
        each = self.seconds / self.case_rounds * steps
        return cases[: max(0, int(left // each))] if each > 0 else cases


def _least_certain_first(cases: list[Any], report: Any) -> list[Any]:
    """Cases to measure again in the order a budget should serve them: those that would
    fail first (a regression is confirmed before anything else), then the widest
    intervals (the largest ``detectable`` change) first."""
    judged = {c.case_id: c for c in report.comparisons}

    def key(case: Any) -> tuple[bool, float]:
        c = judged.get(case.id)
        if c is None:
            return True, 0.0
        fails = c.verdict == "SLOWER" or c.uncleared
        detectable = c.detectable if c.detectable is not None else float("inf")
        return not fails, -detectable

    return sorted(cases, key=key)

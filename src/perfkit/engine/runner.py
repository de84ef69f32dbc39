"""Orchestration: probe backends, interleave cases over repetitions and sides, merge results.

Workers are started and watched by ``_supervisor``; their reports are merged by
``_protocol.merge`` and, when a journal is given, written down the moment they arrive.
"""

from __future__ import annotations

import statistics
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from perfkit.engine import callgrind
from perfkit.engine.affinity import allowed_cpus, sampling_cpu
from perfkit.engine.budget import TimeBudget, work_size
from perfkit.engine.journal import Journal
from perfkit.engine.protocol import CasePlan, WorkerReport, merge
from perfkit.engine.supervisor import STOPPED, Side, Supervisor, effective_threads
from perfkit.engine.turns import measure_in_turns
from perfkit.model.backend import Availability, get_backend
from perfkit.model.policy import MeasurePolicy
from perfkit.model.stopping import check_stop
from perfkit.model.workload import Case
from perfkit.records.run_record import CaseResult

__all__ = [
    "NOT_STARTED",
    "STOPPED",
    "Campaign",
    "RunOutcome",
    "Side",
    "TimeBudget",
    "effective_threads",
    "interleave",
    "plan_of",
    "run_cases",
    "run_sides",
    "schedule",
    "settled",
    "turns",
]


class Progress(Protocol):
    """What the runner tells a progress display: rounds as they are planned, cases as
    they finish."""

    def planned(self, cases: int) -> None: ...

    def finished(self, case_id: str) -> None: ...


@dataclass
class RunOutcome:
    results: list[CaseResult]
    partial: bool
    blas: list[dict[str, Any]] = field(default_factory=list)
    harness: str | None = None
    # Cases measured in fewer repetitions than planned: the time budget had no room left.
    trimmed: list[str] = field(default_factory=list)


# How the reason of a case the time budget had no room for begins.
NOT_STARTED = "not started: "


def _ordered_groups(cases: Sequence[Case], round_index: int) -> list[list[Case]]:
    """The parameter groups of one repetition in their order, each rotated by the round."""
    groups: dict[str, list[Case]] = {}
    for case in cases:
        groups.setdefault(case.group_key, []).append(case)
    ordered = list(groups.values())
    if round_index % 2:
        ordered.reverse()
    return [_rotated(group, round_index) for group in ordered]


def _rotated(items: Sequence[Any], shift: int) -> list[Any]:
    shift %= len(items)
    return [*items[shift:], *items[:shift]]


def interleave(cases: Sequence[Case], round_index: int) -> list[Case]:
    """The order of one repetition: grouped by parameters (inputs are made once a group),
    the implementations inside each group rotated by the round, so no backend is always
    first after fresh inputs, and the groups reversed on odd rounds, so drift over the run
    hits early and late groups alike."""
    return [case for group in _ordered_groups(cases, round_index) for case in group]


def schedule(
    active: Sequence[Case], round_index: int, sides: Sequence[str]
) -> list[tuple[str, list[Case]]]:
    """Which side runs which cases, in order, in one round measured side after side (one
    side alone, or instruction counts that no load disturbs): each side runs the round's
    ``interleave`` order in one worker, the first side alternating between rounds."""
    ordered = interleave(active, round_index)
    return [(side, ordered) for side in _rotated(sides, round_index)]


def turns(
    active: Sequence[Case], round_index: int, sides: Sequence[str], numbers: Mapping[str, int]
) -> list[tuple[Case, list[str]]]:
    """The order of one round timed on several sides: each case of ``interleave``'s order
    measured on every side at once, in turns (``measure_in_turns``). The side that begins a
    case turns with every round, by the case's fixed number in the run (``numbers``), not
    its place in the round: ``interleave`` reverses the groups on odd rounds, and a place
    that turned with the round would hand a case to the same side first in every round, so
    whatever going first does to a case would read as a difference between the sides."""
    return [
        (case, _rotated(sides, round_index + numbers[case.id]))
        for case in interleave(active, round_index)
    ]


def _uncontended_medians(reports: Sequence[WorkerReport]) -> list[float]:
    return [
        statistics.median(r.run.samples)
        for r in reports
        if r.status == "ok" and r.run is not None and not r.run.contended
    ]


def settled(reports: Sequence[WorkerReport], policy: MeasurePolicy) -> bool:
    """Whether a case needs no more processes: it has the planned number measured while the
    machine was quiet, and their medians lie within twice the CI target of each other (the
    spread a single process's CI cannot see: placement in memory, the machine's mood)."""
    medians = _uncontended_medians(reports)
    if len(medians) < policy.processes:
        return False
    spread = float((max(medians) - min(medians)) / statistics.median(medians))
    return spread <= 2 * policy.target_rel_ci


def _probe(backend_name: str, counting: bool) -> Availability:
    backend = get_backend(backend_name)
    if counting and backend.device != "cpu":
        return Availability.no("instruction counts need a CPU backend")
    if counting and not getattr(backend, "in_process", True):
        return Availability.no("its work runs in a child process, which callgrind does not count")
    if counting and not callgrind.available().ok:
        return callgrind.available()
    return backend.probe()


def plan_of(case: Case) -> CasePlan:
    return CasePlan.of(case, get_backend(case.implementation.backend).device)


class Campaign:
    """The reports of every case on every side, gathered round by round.

    Unavailable backends are skipped without starting a worker. A case that is skipped,
    invalid or failed on any side is not run again. ``run_round`` may be called as often
    as a caller's design needs (``perfkit ab`` adds rounds for undecided cases).
    """

    def __init__(
        self,
        cases: Sequence[Case],
        policy: MeasurePolicy,
        sides: Mapping[str, Side],
        *,
        plugins: Sequence[str] = (),
        ceilings: Mapping[str, Any] | None = None,
        progress: Progress | None = None,
        journal: Journal | None = None,
        budget: TimeBudget | None = None,
    ) -> None:
        self.cases = list(cases)
        self.budget = budget
        self.numbers = {case.id: i for i, case in enumerate(self.cases)}  # fixed for the run
        self.cpus = allowed_cpus()
        self.turns_name = uuid.uuid4().hex[:12]  # marks the runs sampled in turns
        self.policy = policy
        self.sides = dict(sides)
        self.plugins = list(plugins)
        self.ceilings = dict(ceilings or {})
        self.progress = progress
        self.journal = journal
        self.rounds = 0
        self.opened: set[tuple[int, str]] = set()  # (round, backend) with a case run
        self.reports: dict[tuple[str, str], list[WorkerReport]] = {
            (side, case.id): [] for side in self.sides for case in self.cases
        }
        self.blas: dict[str, list[dict[str, Any]]] = {side: [] for side in self.sides}
        self.harness: dict[str, str | None] = {side: None for side in self.sides}
        counting = policy.counting
        if counting and callgrind.available().ok:
            callgrind.toggle_library()  # built here, once, not by every worker under valgrind
        probes: dict[str, Availability] = {}
        for case in self.cases:
            name = case.implementation.backend
            if name not in probes:
                probes[name] = _probe(name, counting)
            if not probes[name].ok:
                for side in self.sides:
                    report = WorkerReport("skipped", probes[name].reason)
                    self._add(side, case, report, counted=False)

    def _add(self, side: str, case: Case, report: WorkerReport, counted: bool = True) -> None:
        self.reports[side, case.id].append(report)
        if self.journal is not None:
            self.journal.add(side, case.id, report)
        if counted and self.progress is not None:
            self.progress.finished(case.id)

    def measured(self, case: Case) -> bool:
        """Every report of the case, on every side, is ``ok`` (and there is one)."""
        mine = [self.reports[side, case.id] for side in self.sides]
        return all(r and all(x.status == "ok" for x in r) for r in mine)

    def runnable(self, case: Case) -> bool:
        return all(r.status == "ok" for side in self.sides for r in self.reports[side, case.id])

    def loops_of(self, case: Case) -> int | None:
        """Calls a sample for the case's later repetitions in turns: the most any side's
        first repetition calibrated, so both sides' samples have the same calls and none is
        shorter than ``min_sample_time``; None before the case has been measured."""
        first = [
            reports[0].run.loops
            for side in self.sides
            if (reports := self.reports[side, case.id]) and reports[0].run is not None
        ]
        return max(first) if first else None

    def run_round(self, cases: Sequence[Case]) -> None:
        """One more repetition of ``cases`` on every side: when timing two sides, each
        case on both at once, in turns (``turns``), both sides' sampling
        on one CPU that changes with the case and the round (``sampling_cpu``); else side
        after side (``schedule``)."""
        round_index = self.rounds
        self.rounds += 1
        active = [c for c in cases if self.runnable(c)]
        if not active:
            return
        if self.progress is not None:
            self.progress.planned(len(active) * len(self.sides))
        names = list(self.sides)
        # One worker a side for the whole round.
        workers = {
            side: Supervisor(self.policy, self.plugins, round_index, self.sides[side])
            for side in names
        }
        finished = False
        try:
            if len(names) > 1 and not self.policy.counting:
                for worker in workers.values():
                    worker.spawn()  # the sides' workers start at once
                for case, order in turns(active, round_index, names, self.numbers):
                    check_stop()
                    cpu = sampling_cpu(self.cpus, self.numbers[case.id], round_index)
                    in_turns = [workers[side] for side in order]
                    loops = self.loops_of(case)
                    reports = measure_in_turns(in_turns, case, cpu, self.turns_name, loops)
                    for side, report in zip(order, reports, strict=True):
                        self._add(side, case, report)
            else:
                later = max(0, self.policy.processes - self.rounds) * len(active)
                for side, block in schedule(active, round_index, names):
                    for place, case in enumerate(block):
                        check_stop()
                        runs_left = len(block) - place + later
                        self._add(side, case, self._measure(workers[side], case, runs_left))
            finished = True
        finally:
            for side, worker in workers.items():
                if finished:
                    worker.close()
                else:
                    worker.abort()
                self.blas[side] = self.blas[side] or worker.blas
                self.harness[side] = self.harness[side] or worker.harness

    def _measure(self, worker: Supervisor, case: Case, runs_left: int) -> WorkerReport:
        """One case measured whole, its sampling planned by the run's budget when it has
        one (``TimeBudget.share``) and what it cost told to the budget."""
        if self.budget is None:
            return worker.measure(case)
        port, size = case.implementation.key, work_size(case.work())
        backend = get_backend(case.implementation.backend)
        if not self.reports_of(case):  # its first repetition: does it fit at all?
            start_seconds = getattr(backend, "start_seconds", 0.0)
            refusal = self.budget.refusal(case.workload.name, port, size, start_seconds)
            if refusal:
                return WorkerReport("skipped", f"{NOT_STARTED}{refusal}")
        most = self.policy.budget / self.policy.processes
        share = self.budget.share(runs_left, most)
        start = self.budget.clock()
        worker.stop_at = self.budget.stop_at()
        report = worker.measure(case, budget=share)
        wall = self.budget.clock() - start
        run = report.run
        sampling = sum(run.samples) * run.loops if run is not None else 0.0
        self.budget.spend(case.id, wall, sampling)
        # The round's first case of a backend opened its session in the round's worker.
        opened = (self.rounds, backend.name) not in self.opened
        self.opened.add((self.rounds, backend.name))
        if run is not None and run.samples:
            call = statistics.median(run.samples)
            calls = len(run.samples) * run.loops + 1  # and the verifying call
            started = report.metrics.get("time/session_start", 0.0) if opened else 0.0
            overhead = wall - calls * call - started
            self.budget.observe(case.workload.name, port, size, overhead, call)
        return report

    def reports_of(self, case: Case) -> list[WorkerReport]:
        return [r for side in self.sides for r in self.reports[side, case.id]]

    def outcomes(self, partial: bool) -> dict[str, RunOutcome]:
        measure = self.policy.measure
        return {
            side: RunOutcome(
                [
                    merge(plan_of(c), self.reports[side, c.id], self.ceilings, measure)
                    for c in self.cases
                    if self.reports[side, c.id]
                ],
                partial,
                self.blas[side],
                self.harness[side],
            )
            for side in self.sides
        }


def run_cases(
    cases: Sequence[Case],
    policy: MeasurePolicy,
    plugins: Sequence[str] = (),
    ceilings: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    *,
    journal: Journal | None = None,
) -> RunOutcome:
    """Probe, verify and measure every case in ``policy.processes`` interleaved repetitions,
    plus up to ``policy.extra_processes`` for the cases that have not ``settled``. Ctrl-C
    (or SIGTERM; under ``stop_on_signals`` either is acted on between cases and while
    waiting on a worker) ends the run early: the cases that finished are kept and the
    outcome is marked partial."""
    return run_sides(
        cases,
        policy,
        {"": Side()},
        plugins=plugins,
        ceilings=ceilings,
        progress=progress,
        journal=journal,
    )[""]


def run_sides(
    cases: Sequence[Case],
    policy: MeasurePolicy,
    sides: Mapping[str, Side],
    *,
    plugins: Sequence[str] = (),
    ceilings: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    journal: Journal | None = None,
    budget: TimeBudget | None = None,
) -> dict[str, RunOutcome]:
    """``run_cases`` for several sides at once (perfkit source trees, environments): in
    every round each side runs every active case, and when timing, the sides measure each
    case at once, taking turns, so load on the machine that comes and goes
    within seconds hits every side alike. This is how two commits are compared on a shared
    machine. With a ``budget``, each case's sampling is planned to fit it and a
    repetition after the first runs the cases whose runs still fit (``TimeBudget.fitting``);
    the cases left short are listed in the outcome (``trimmed``)."""
    campaign = Campaign(
        cases,
        policy,
        sides,
        plugins=plugins,
        ceilings=ceilings,
        progress=progress,
        journal=journal,
        budget=budget,
    )
    partial = False
    trimmed: dict[str, None] = {}
    try:
        for round_index in range(policy.processes + policy.extra_processes):
            wanted = [
                c
                for c in cases
                if campaign.runnable(c)
                and (
                    round_index < policy.processes
                    or not all(settled(campaign.reports[s, c.id], policy) for s in sides)
                )
            ]
            if round_index > 0 and budget is not None:
                fitting = budget.fitting([c.id for c in wanted])
                active = [c for c in wanted if c.id in fitting]
            else:
                active = wanted
            if round_index < policy.processes:
                trimmed.update((c.id, None) for c in wanted if c not in active)
            if not active:
                break
            check_stop()
            campaign.run_round(active)
    except KeyboardInterrupt:
        partial = True
    outcomes = campaign.outcomes(partial)
    for outcome in outcomes.values():
        outcome.trimmed = list(trimmed)
    return outcomes

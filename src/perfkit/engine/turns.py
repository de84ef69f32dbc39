"""Sampling in turns: the sides of a comparison measure a case at once, sample by sample.

A shared machine has slow spells of a second or so: one side measured whole and then the
other can find one inside a spell and the other outside it, and their medians then differ by
tens of percent with the code unchanged. Taking turns, A B B A A B ..., puts both sides'
samples in the same spells, so a spell moves both medians alike and the ratio between them
stays put. A spell of one CPU alone is shared only when both sides sample on that CPU:
given a ``cpu``, every worker's sampling thread is held on it for the case (``_affinity``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from perfkit.engine.protocol import WorkerReport
from perfkit.engine.supervisor import Supervisor
from perfkit.model.workload import Case

__all__ = ["measure_in_turns"]


def measure_in_turns(
    workers: Sequence[Supervisor], case: Case, cpu: int | None = None, name: str | None = None
) -> list[WorkerReport]:
    """``case`` measured by every worker, each taking one sample in turn (the order
    reversed every turn) on ``cpu`` when given, until every worker's sampling rule is
    done; a worker done before the others goes on sampling (up to ``max_samples``), so
    every side's samples cover the same stretch of time. A worker whose case fails, or
    that measures it whole (another harness's worker may), drops out; the others go on.
    The reports come in the workers' order; the runs sampled in turns are marked with
    ``name`` (``SampleRun.turns``), so the gate knows which samples were taken side by
    side."""
    reports: list[WorkerReport | None] = [worker.begin(case, cpu) for worker in workers]
    turn = 0
    while sampling := [i for i, report in enumerate(reports) if report is None]:
        order = sampling if turn % 2 == 0 else sampling[::-1]
        turn += 1
        everyone_done = True
        for place, i in enumerate(order):
            # The last in a turn begins the next one (the order reverses): no other side
            # samples in between, so its pools need not go quiet first.
            step = workers[i].sample(case, settle=place < len(order) - 1)
            if isinstance(step, WorkerReport):
                reports[i] = step
            elif not step:
                everyone_done = False
        if everyone_done:
            break
    return [
        report if report is not None else _marked(worker.finish(case), name)
        for worker, report in zip(workers, reports, strict=True)
    ]


def _marked(report: WorkerReport, name: str | None) -> WorkerReport:
    if report.run is None or name is None:
        return report
    return dataclasses.replace(report, run=dataclasses.replace(report.run, turns=name))

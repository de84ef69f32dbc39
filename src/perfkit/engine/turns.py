"""Sampling in turns: the sides of a comparison measure a case at once, a few samples a turn.

A shared machine has slow spells of a second or so: one side measured whole and then the
other can find one inside a spell and the other outside it, and their medians then differ by
tens of percent with the code unchanged. Taking turns, A B B A A B ..., puts both sides'
samples in the same spells, so a spell moves both medians alike and the ratio between them
stays put. A spell of one CPU alone is shared only when both sides sample on that CPU:
given a ``cpu``, every worker's sampling thread is held on it for the case (``_affinity``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from perfkit.engine.protocol import WorkerReport
from perfkit.engine.supervisor import Supervisor
from perfkit.model.workload import Case

__all__ = ["MAX_BLOCK", "measure_in_turns", "turn_block"]


# The most samples a side takes in a row: enough that a pool's wait after a block costs
# little beside the block, few enough that the sides still alternate several times a case.
MAX_BLOCK = 5


def measure_in_turns(
    workers: Sequence[Supervisor],
    case: Case,
    cpu: int | None = None,
    name: str | None = None,
    loops: int | None = None,
) -> list[WorkerReport]:
    """``case`` measured by every worker, in turns (the order reversed every turn) on
    ``cpu`` when given, until every worker's sampling rule is done; a worker done before
    the others goes on sampling (up to ``max_samples``), so every side's samples cover the
    same stretch of time. The workers verify the case one after the other (``verify``),
    then calibrate it, each alone (``calibrate``, the first to sample last), with
    ``loops`` calls a sample where given. A turn is one sample
    a side, or a block of them (``turn_block``, from what calibrating took) where a side's
    pools take longer to go quiet after a sample than the sample takes. Sampling ends with
    a whole cycle (A B B A: two turns), so each side has as many samples taken right after
    its own as right after the other's (``pair_ratio`` compares cycle by cycle). A worker
    whose case fails, or that measures it whole (another harness's worker may), drops out;
    the others go on. The reports come in the workers' order; the runs sampled in turns
    are marked with ``name`` and ``block`` (``SampleRun``), so the gate knows which
    samples were taken side by side."""
    # One side after the other: two BLAS-threaded first calls at once oversubscribe the
    # CPUs (a GEMM took 1.4 s to verify beside the other side's, 0.15 s alone).
    reports = [worker.verify(case, cpu, loops) for worker in workers]
    # Calibrated in the reverse of the first turn's order: the last to calibrate samples
    # first, so its pools need not go quiet in between.
    for i in reversed(range(len(workers))):
        reports[i] = reports[i] or workers[i].calibrate(case, settle=i > 0)
    block = turn_block([worker.last_sample for worker in workers])
    turn = 0
    while sampling := [i for i, report in enumerate(reports) if report is None]:
        order = sampling if turn % 2 == 0 else sampling[::-1]
        turn += 1
        everyone_done = True
        for place, i in enumerate(order):
            # The last in a turn begins the next one (the order reverses): no other side
            # samples in between, so its pools need not go quiet first.
            step: bool | WorkerReport = False
            for taken in range(block):
                last = taken == block - 1
                step = workers[i].sample(case, settle=last and place < len(order) - 1)
                if isinstance(step, WorkerReport):
                    reports[i] = step
                    break
            if step is False:
                everyone_done = False
        if everyone_done and turn % 2 == 0:  # whole A B B A cycles only
            break
    return [
        report if report is not None else _marked(worker.finish(case), name, block)
        for worker, report in zip(workers, reports, strict=True)
    ]


def turn_block(samples: Sequence[tuple[float, float]]) -> int:
    """Samples a side takes in a row, from each side's (sample seconds, seconds its pools
    took to go quiet after calibrating): one, unless a wait outlasts a sample; then as many as make
    the wait at most the block's length, up to ``MAX_BLOCK`` (OpenBLAS's pool spins some
    130 ms after a call; a 20 ms sample took 120 ms with the wait)."""
    block = 1
    for seconds, settled in samples:
        if seconds > 0 and settled > seconds:
            block = max(block, math.ceil(settled / seconds))
    return min(block, MAX_BLOCK)


def _marked(report: WorkerReport, name: str | None, block: int) -> WorkerReport:
    if report.run is None or name is None:
        return report
    run = dataclasses.replace(report.run, turns=name, block=block)
    return dataclasses.replace(report, run=run)

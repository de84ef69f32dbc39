"""One CPU for both sides of a case: the sampling thread pinned while it samples in turns.

On a shared virtual machine one CPU can run slow for seconds while the other does not (its
host thread is busy elsewhere). Two workers taking turns share the machine's slow spells,
but each tends to keep the CPU it last ran on, so a spell of one CPU slows one side only and
the pair's ratio swings by tens of percent. Pinning both sides' sampling threads to the same
CPU for the case puts every such spell on both sides; the CPU changes from case to case and
round to round, so no case is always measured on one CPU.

Only the calling thread is pinned (Linux's ``sched_setaffinity`` on thread 0): a BLAS or
OpenMP pool, started during warm-up, keeps the CPUs it had.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence

__all__ = ["allowed_cpus", "pinned", "sampling_cpu"]


def allowed_cpus() -> list[int]:
    """The CPUs this process may run on, in order; empty where the platform cannot say."""
    if not hasattr(os, "sched_getaffinity"):
        return []
    return sorted(os.sched_getaffinity(0))


def sampling_cpu(cpus: Sequence[int], number: int, round_index: int) -> int | None:
    """The CPU both sides sample case ``number`` on in round ``round_index``: the next one
    along for each case and each round. None when there is no choice to make."""
    if len(cpus) < 2:
        return None
    return cpus[(number + round_index) % len(cpus)]


@contextlib.contextmanager
def pinned(cpu: int | None) -> Iterator[bool]:
    """The calling thread held on ``cpu`` for the block, its CPUs given back after; whether
    it was pinned (not where ``cpu`` is None, not allowed here, or the platform lacks it)."""
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        yield False
        return
    before = os.sched_getaffinity(0)
    if cpu not in before:
        yield False
        return
    os.sched_setaffinity(0, {cpu})
    try:
        yield True
    finally:
        os.sched_setaffinity(0, before)

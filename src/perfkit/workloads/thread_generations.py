"""thread_generations: an allocation pattern for every allocator
(``native/bench/thread_generations.c``): generation after generation of threads hand blocks
to each other and exit, beside a long-lived main thread; peak RSS must stay flat.
"""

from __future__ import annotations

from perfkit.workloads._alloc import allocation_workload

THREAD_GENERATIONS = allocation_workload(
    "thread_generations",
    "generations of threads hand blocks to each other and exit, beside a long-lived thread",
    sizes={"small": (16, 1024), "medium": (1024, 16384)},
    ops=2_560_000,
    threads=(1, 2),
)

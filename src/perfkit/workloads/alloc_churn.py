"""alloc_churn: an allocation pattern for every allocator (``native/bench/alloc_churn.c``): one
thread, random sizes, random free order (malloc-lab style).
"""

from __future__ import annotations

from perfkit.workloads._alloc import allocation_workload

ALLOC_CHURN = allocation_workload(
    "alloc_churn",
    "one thread, random sizes, random free order (malloc-lab style)",
    sizes={"small": (8, 1024), "medium": (1024, 16384)},
    ops=1_000_000,
    threads=(1,),
)

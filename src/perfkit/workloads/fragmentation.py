"""fragmentation: an allocation pattern for every allocator (``native/bench/fragmentation.c``):
allocate to a peak, free 90% at random, refill at other sizes: RSS left and reused.
"""

from __future__ import annotations

from perfkit.workloads._alloc import allocation_workload

FRAGMENTATION = allocation_workload(
    "fragmentation",
    "allocate to a peak, free 90% at random, refill at other sizes: RSS left and reused",
    sizes={"small": (64, 4096), "medium": (1024, 65536)},
    ops=100_000,
    threads=(1,),
)

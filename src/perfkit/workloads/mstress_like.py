"""mstress_like: an allocation pattern for every allocator (``native/bench/mstress_like.c``):
random sizes with rare 64 KiB-1 MiB blocks, blocks swapped between threads.
"""

from __future__ import annotations

from perfkit.workloads._alloc import allocation_workload

MSTRESS_LIKE = allocation_workload(
    "mstress_like",
    "random sizes with rare 64 KiB-1 MiB blocks, blocks swapped between threads",
    sizes={"small": (8, 2048), "medium": (2048, 32768)},
    ops=1_000_000,
    threads=(1, 2),
)

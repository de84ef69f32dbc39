"""larson_like: an allocation pattern for every allocator (``native/bench/larson_like.c``):
threads free and refill slots at random sizes; slots pass to new threads each round.
"""

from __future__ import annotations

from perfkit.workloads._alloc import allocation_workload

LARSON_LIKE = allocation_workload(
    "larson_like",
    "threads free and refill slots at random sizes; slots pass to new threads each round",
    sizes={"small": (16, 512), "medium": (512, 8192)},
    ops=4_000_000,
    threads=(1, 2),
)

"""producer_consumer: an allocation pattern for every allocator
(``native/bench/producer_consumer.c``): producers allocate batches, as many consumers free
them (every free from another thread).
"""

from __future__ import annotations

from perfkit.workloads._alloc import allocation_workload

PRODUCER_CONSUMER = allocation_workload(
    "producer_consumer",
    "producers allocate batches, as many consumers free them (every free from another thread)",
    sizes={"small": (16, 1024), "medium": (1024, 16384)},
    ops=2_000_000,
    threads=(1, 2),
)

"""fifo_lifo: an allocation pattern for every allocator (``native/bench/fifo_lifo.c``): batches
of small blocks freed in FIFO and in LIFO order by turns.
"""

from __future__ import annotations

from perfkit.workloads._alloc import allocation_workload

FIFO_LIFO = allocation_workload(
    "fifo_lifo",
    "batches of small blocks freed in FIFO and in LIFO order by turns",
    sizes={"small": (16, 256), "medium": (256, 4096)},
    ops=4_000_000,
    threads=(1, 2),
)

"""same_size: an allocation pattern for every allocator (``native/bench/same_size.c``): the
fast path alone, as glibc's bench-malloc-simple measures it. Batches of 1 to 1000 blocks of
one size, freed newest first and oldest first, on one thread and on one thread a core.
"""

from __future__ import annotations

import os

from perfkit.workloads._alloc import allocation_workload

SAME_SIZE = allocation_workload(
    "same_size",
    "batches of 1 to 1000 same-size blocks, freed LIFO and FIFO: the fast path alone",
    sizes={"small": (16, 128), "medium": (256, 2048)},
    ops=20_000_000,
    threads=tuple(sorted({1, os.cpu_count() or 1})),
)

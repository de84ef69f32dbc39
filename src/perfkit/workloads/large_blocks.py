"""large_blocks: an allocation pattern for every allocator (``native/bench/large_blocks.c``): a
few live blocks of 5-25 MiB, every page written.
"""

from __future__ import annotations

from perfkit.workloads._alloc import allocation_workload

LARGE_BLOCKS = allocation_workload(
    "large_blocks",
    "a few live blocks of 5-25 MiB, every page written",
    sizes={"large": (5242880, 26214400)},
    ops=200,
    threads=(1, 2),
)

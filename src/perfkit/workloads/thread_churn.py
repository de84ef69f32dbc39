"""thread_churn: an allocation pattern for every allocator (``native/bench/thread_churn.c``):
short-lived threads allocate and exit; survivors freed by the main thread.
"""

from __future__ import annotations

from perfkit.workloads._alloc import allocation_workload

THREAD_CHURN = allocation_workload(
    "thread_churn",
    "short-lived threads allocate and exit; survivors freed by the main thread",
    sizes={"small": (16, 2048), "medium": (2048, 32768)},
    ops=1_000_000,
    threads=(1, 2),
)

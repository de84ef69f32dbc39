"""Every hand-written kernel's resources as the device's driver compiles it: for each entry
point of each shipped geometry and each configuration of the tuning sweep, the registers a
thread, the local memory a thread (spills and stack), the static shared memory and the
launch bound, as a tab-separated table on stdout. Needs CuPy and a CUDA device::

    PYTHONPATH=src python scripts/kernel_resources.py > kernels.tsv
"""

from __future__ import annotations

import sys
from pathlib import Path

from perfkit.backends.cupy_raw import entry_points, kernel, kernel_file
from perfkit.model import registry
from perfkit.workloads._gpu import raw_ports

SWEEP = Path(__file__).resolve().parent / "kernel_sweep.py"
COLUMNS = ("workload", "variant", "geometry", "entry", "registers", "local_bytes",
           "shared_bytes", "max_threads")  # fmt: skip


def main() -> int:
    print("\t".join(COLUMNS))
    status = 0
    registry.load([SWEEP])  # each kernel file's own geometry, then the sweep's
    for workload, _, variant, geometry in raw_ports():
        for entry in entry_points(kernel_file(workload, variant)):
            found: tuple[object, ...]
            try:
                function = kernel(workload, variant, entry, geometry.defines())
                found = (function.num_regs, function.local_size_bytes,
                         function.shared_size_bytes, function.max_threads_per_block)  # fmt: skip
            except Exception as exc:  # a compile error: said, and the rest still listed
                found, status = (f"error: {exc}".replace("\n", " ")[:300],), 1
            print("\t".join(map(str, (workload, variant, geometry.label(), entry, *found))))
    return status


if __name__ == "__main__":
    sys.exit(main())

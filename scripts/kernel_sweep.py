"""The hand-written kernels' tuning sweep, as a plugin: every configuration below becomes one
more ``cupy_raw`` port of its kernel file, compiled with its sizes as ``-D`` options and
launched with the same geometry, and is measured beside the shipped ones through the whole
protocol (the same inputs, the answer checked before timing)::

    perfkit compare -w matmul -b cupy_raw -p n=4096 -p dtype=float32 -p shape=square \\
        --plugin scripts/kernel_sweep.py

Each port's variant names its sizes (``2d_blocktiling_bm64_bn64_bk8_tm8_tn8_threads64``).
Every configuration here satisfies its kernel's compile-time checks and builds without
register spills (tests/test_kernels.py compiles them all with NVRTC and nvcc), so no device
time goes to one that cannot build or is slowed by local memory; the shipped
geometries are the ``GEOMETRIES`` of each workload module, chosen from this sweep's records.
"""

from __future__ import annotations

from perfkit.model.registry import get_workload
from perfkit.workloads._gpu import Geometry, add_geometry_port
from perfkit.workloads.matmul import tiles

__all__ = ["SWEEP"]

# Tile sizes: BM x BN of C a block, BK deep K steps, TM x TN of C a thread, WM x WN a warp.
_MATMUL: dict[str, list[dict[str, int]]] = {
    "smem_tiled": [{"TILE": 16}],
    "1d_blocktiling": [
        {"BM": 32, "BN": 32, "BK": 8, "TM": 4},
        {"BM": 128, "BN": 128, "BK": 4, "TM": 32},
    ],
    "2d_blocktiling": [
        {"BM": 64, "BN": 64, "BK": 8, "TM": 8, "TN": 8},
        {"BM": 128, "BN": 64, "BK": 8, "TM": 8, "TN": 8},
        {"BM": 128, "BN": 128, "BK": 16, "TM": 8, "TN": 8},
        {"BM": 64, "BN": 64, "BK": 16, "TM": 4, "TN": 4},
    ],
    "vectorized": [
        {"BM": 64, "BN": 64, "BK": 16, "TM": 4, "TN": 4},
        {"BM": 128, "BN": 128, "BK": 16, "TM": 8, "TN": 4},
        {"BM": 64, "BN": 64, "BK": 4, "TM": 8, "TN": 8},
    ],
    "warptiling": [
        {"BM": 128, "BN": 128, "BK": 8, "WM": 64, "WN": 64, "WNITER": 4, "TM": 8, "TN": 4},
        {"BM": 128, "BN": 128, "BK": 16, "WM": 64, "WN": 64, "WNITER": 2, "TM": 8, "TN": 4},
        {"BM": 128, "BN": 128, "BK": 16, "WM": 32, "WN": 64, "WNITER": 2, "TM": 8, "TN": 4},
        {"BM": 128, "BN": 64, "BK": 16, "WM": 64, "WN": 32, "WNITER": 2, "TM": 8, "TN": 4},
        {"BM": 128, "BN": 128, "BK": 16, "WM": 64, "WN": 64, "WNITER": 4, "TM": 4, "TN": 4},
    ],
}

# Block sizes of the one-dimensional kernels (256 threads is what ships). The fused softmax
# stays at 256 threads or fewer: bounded to 512 or more, its float64 entry spills.
_BLOCKS = (128, 512, 1024)

SWEEP: dict[tuple[str, str], list[Geometry]] = {
    **{("matmul", v): [tiles(v, **sizes) for sizes in c] for v, c in _MATMUL.items()},
    **{
        ("reduce_sum", v): [Geometry.of((t,)) for t in _BLOCKS]
        for v in ("smem_tree", "warp_shuffle", "multi_element")
    },
    ("softmax", "three_pass"): [Geometry.of((t,)) for t in _BLOCKS],
    ("softmax", "online_fused"): [
        Geometry.of((t,), PER_THREAD=p)
        for t, p in ((128, 4), (128, 8), (128, 16), (256, 4), (256, 16))
    ],
}

for (workload, variant), geometries in SWEEP.items():
    for geometry in geometries:
        add_geometry_port(get_workload(workload), variant, geometry)

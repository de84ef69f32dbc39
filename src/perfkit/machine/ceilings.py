"""This machine's measured ceilings (copy bandwidth per working set, GEMM per dtype): where
they are cached, and % of roof from them. ``perfkit.engine.calibrate`` measures them."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from perfkit.machine.cache import cache_dir
from perfkit.model.workload import Work
from perfkit.records.atomic import write_text_atomic

__all__ = [
    "best_of",
    "cache_path",
    "ceilings_warning",
    "impossible",
    "load_cached_ceilings",
    "machine_key",
    "read_ceiling",
    "roof_fraction",
    "settled_ceilings",
    "store_ceiling",
]

_FORMAT = 2  # bumped when the cached ceilings change shape; older entries are ignored


def roof_fraction(work: Work, seconds: float, ceiling: Mapping[str, Any] | None) -> float | None:
    """Achieved over attainable throughput: min(peak flops, intensity x bandwidth).

    Without flops (a pure copy) it is achieved bandwidth over the copy bandwidth. None when
    the ceiling for this device or dtype was never measured.
    """
    if not ceiling or seconds <= 0:
        return None
    bandwidth = bandwidth_for(ceiling, work.bytes)
    peak = ceiling.get("flops", {}).get(work.dtype or "")
    if work.flops:  # held to this dtype's peak: none measured (bfloat16 on a CPU), no roof
        if not (peak and bandwidth and work.bytes):
            return None
        attainable = min(float(peak), work.flops / work.bytes * bandwidth)
        return work.flops / seconds / attainable
    if work.bytes and bandwidth:
        return work.bytes / seconds / bandwidth
    return None


def bandwidth_for(ceiling: Mapping[str, Any], working_set: float) -> float:
    """Copy bandwidth measured at the smallest calibrated working set >= ``working_set``
    (the largest one's, DRAM, beyond them)."""
    table = sorted((float(size), float(bw)) for size, bw in ceiling.get("bandwidth", []))
    for size, bandwidth in table:
        if working_set <= size:
            return bandwidth
    return table[-1][1] if table else 0.0


def machine_key(threads: int) -> str:
    """Ceilings depend on the CPU, the thread count and the BLAS numpy links."""
    from perfkit.machine.capture import cpu_brand

    text = f"v{_FORMAT}|{cpu_brand()}|{os.cpu_count()}|{threads}|numpy {np.__version__}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cache_path() -> Path:
    """The file the ceilings are cached in."""
    return cache_dir() / "ceilings.json"


def _read_cache() -> dict[str, Any]:
    try:
        data = json.loads(cache_path().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_ceiling(key: str) -> dict[str, Any] | None:
    """The cached ceilings stored under ``key``, or None."""
    entry = _read_cache().get(key)
    return entry if isinstance(entry, dict) else None


def store_ceiling(key: str, ceilings: dict[str, Any]) -> None:
    data = _read_cache()
    data[key] = ceilings
    write_text_atomic(cache_path(), json.dumps(data, indent=1))


def load_cached_ceilings(threads: int) -> dict[str, Any] | None:
    return read_ceiling(machine_key(threads))


def ceilings_warning(ceilings: Mapping[str, Any], limit: float = 0.25) -> str | None:
    """Why these ceilings may be low: other processes took CPU while they were measured."""
    other = ceilings.get("other_cpu")
    if not isinstance(other, (int, float)) or other <= limit:
        return None
    return (
        f"the ceilings were measured while other processes used {other:.2f} cores: they may "
        "be low (cases above 100% of roof); `perfkit calibrate` on a quiet machine measures "
        "them again"
    )


# The contention past which a measurement is not final (cores' worth of other processes).
_QUIET = 0.25
# The largest working set (DRAM) copying faster than the smallest (a cache) by more than
# this is impossible: the cache's figure was measured low. Sizes in between may cross (a
# virtual machine's huge shared last-level cache makes 64 MiB copy faster than 4 MiB).
_DRAM_SLACK = 1.1


def impossible(ceilings: Mapping[str, Any]) -> str | None:
    """Why a set of ceilings cannot be the machine's, or None: DRAM copied faster than a
    cache, or a ceiling that is not a positive number."""
    table = sorted((float(s), float(b)) for s, b in ceilings.get("bandwidth", []))
    if not table or any(not b > 0 for _, b in table):
        return "a copy bandwidth is missing or not positive"
    (small, cache), (large, dram) = table[0], table[-1]
    if dram > cache * _DRAM_SLACK:
        return (
            f"copying {large / 2**20:g} MiB (DRAM) ran at {dram / 1e9:.1f} GB/s, faster than "
            f"{small / 2**20:g} MiB (cache) at {cache / 1e9:.1f} GB/s"
        )
    flops = ceilings.get("flops", {})
    if not flops or any(not float(v) > 0 for v in flops.values()):
        return "a GEMM rate is missing or not positive"
    return None


def settled_ceilings(ceilings: Mapping[str, Any]) -> bool:
    """Whether cached ceilings are final: measured on a quiet machine and possible. Ones
    that are not are measured again by the next run that may calibrate."""
    other = ceilings.get("other_cpu")
    quiet = isinstance(other, int | float) and other <= _QUIET
    return quiet and impossible(ceilings) is None


def best_of(old: Mapping[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """The better of two measurements of one machine's ceilings, ceiling by ceiling (a
    ceiling is what the machine can reach: load only ever lowers it). ``other_cpu`` is the
    newer measurement's, ``measurements`` counts them."""
    if not old:
        return {**new, "measurements": 1}
    bandwidth = {float(s): float(b) for s, b in old.get("bandwidth", [])}
    for size, rate in new.get("bandwidth", []):
        bandwidth[float(size)] = max(float(rate), bandwidth.get(float(size), 0.0))
    flops = {k: float(v) for k, v in old.get("flops", {}).items()}
    for dtype, rate in new.get("flops", {}).items():
        flops[dtype] = max(float(rate), flops.get(dtype, 0.0))
    return {
        **new,
        "bandwidth": [[int(s), b] for s, b in sorted(bandwidth.items())],
        "flops": flops,
        "measurements": int(old.get("measurements", 1)) + 1,
    }

"""Theoretical occupancy of a CUDA kernel from its resources and the device's limits, the
calculation NVIDIA's occupancy calculator makes (registers are given out a warp at a time
in units of 256, shared memory in units of 128 bytes plus 1 KiB the runtime keeps a block
on sm_80 and newer)."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["DeviceLimits", "Occupancy", "theoretical_occupancy"]

_REGISTER_UNIT = 256  # registers a warp is given at a time
_SHARED_UNIT = 128  # bytes
_SHARED_RESERVED = 1024  # bytes a block, sm_80 and newer


@dataclass(frozen=True, slots=True)
class DeviceLimits:
    """Per multiprocessor: threads, registers, shared bytes, resident blocks; warp size."""

    max_threads: int = 2048
    registers: int = 65536
    shared_bytes: int = 233472  # H100/H200: 228 KiB usable of 256
    max_blocks: int = 32
    warp_size: int = 32


@dataclass(frozen=True, slots=True)
class Occupancy:
    blocks: int  # resident blocks a multiprocessor
    fraction: float  # resident warps over the most a multiprocessor holds
    limit: str  # what bounds it: warps, registers, shared memory or blocks


def theoretical_occupancy(
    threads_per_block: int, registers: int, shared_bytes: int, device: DeviceLimits
) -> Occupancy:
    """How many blocks of this kernel fit on one multiprocessor, and which resource stops
    the next one."""
    if threads_per_block <= 0:
        raise ValueError(f"a block needs threads, got {threads_per_block}")
    warps = math.ceil(threads_per_block / device.warp_size)
    max_warps = device.max_threads // device.warp_size
    by: dict[str, float] = {"warps": max_warps // warps, "blocks": device.max_blocks}
    if registers > 0:
        per_warp = math.ceil(registers * device.warp_size / _REGISTER_UNIT) * _REGISTER_UNIT
        by["registers"] = (device.registers // per_warp) // warps
    if shared_bytes > 0:
        per_block = math.ceil(shared_bytes / _SHARED_UNIT) * _SHARED_UNIT + _SHARED_RESERVED
        by["shared memory"] = device.shared_bytes // per_block
    limit = min(by, key=lambda name: by[name])
    blocks = int(by[limit])
    return Occupancy(blocks, blocks * warps / max_warps, limit)

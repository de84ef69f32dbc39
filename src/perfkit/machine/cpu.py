"""What the CPU is, read from the kernel (``/proc/cpuinfo`` and sysfs) rather than through a
library: py-cpuinfo and the py-cpuinfo2 fork that pytest-benchmark requires install the same
``cpuinfo`` module over each other, so whichever installed last would answer."""

from __future__ import annotations

import functools
import platform
from pathlib import Path

__all__ = ["cache_bytes", "cpu_brand", "cpu_flags"]

_PROC = Path("/proc/cpuinfo")
_SYS = Path("/sys/devices/system/cpu")
_UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def _first(keys: tuple[str, ...]) -> str | None:
    """The value of the first line of /proc/cpuinfo that starts with one of ``keys``."""
    try:
        lines = _PROC.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        name, sep, value = line.partition(":")
        if sep and name.strip() in keys:
            return value.strip()
    return None


@functools.cache
def cpu_brand() -> str:
    """The CPU model string (``model name`` on x86, ``Model``/``Hardware`` on Arm)."""
    return _first(("model name", "Model", "Hardware")) or platform.processor() or "unknown"


@functools.cache
def cpu_flags() -> tuple[str, ...]:
    """The instruction-set flags the kernel reports (``flags`` on x86, ``Features`` on Arm),
    sorted; empty where there is no /proc/cpuinfo."""
    return tuple(sorted(set((_first(("flags", "Features")) or "").split())))


def _size(text: str) -> int | None:
    text = text.strip()
    if text[-1:] in _UNITS and text[:-1].isdigit():
        return int(text[:-1]) * _UNITS[text[-1]]
    return int(text) if text.isdigit() else None


@functools.cache
def cache_bytes(level: int) -> int | None:
    """The machine's total data cache at ``level``: every distinct cache of that level once
    (a 2 MiB L2 per core on 2 cores is 4 MiB; one L3 shared by both counts once). None where
    sysfs does not say."""
    seen: dict[str, int] = {}
    for index in sorted(_SYS.glob("cpu[0-9]*/cache/index[0-9]*")):
        try:
            if int((index / "level").read_text()) != level:
                continue
            if (index / "type").read_text().strip() == "Instruction":
                continue
            size = _size((index / "size").read_text())
            shared = (index / "shared_cpu_list").read_text().strip()
        except (OSError, ValueError):
            continue
        if size is not None:
            seen[shared] = size
    return sum(seen.values()) if seen else None

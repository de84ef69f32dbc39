"""How a record's figures read, wherever they are shown (terminal, HTML, Markdown): durations,
rates, ratios, speed-ups against the reference, the cases above the roof and the backends
that could not run."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from perfkit.model.axes import params_id
from perfkit.model.workload import Work
from perfkit.records.run_record import CaseResult

__all__ = [
    "ABOVE_ROOF",
    "BYTE_RATE",
    "FLOP_RATE",
    "ITEM_RATE",
    "above_roof",
    "format_seconds",
    "measured_cells",
    "median_text",
    "rate_of",
    "ratio_text",
    "speedups",
    "unavailable_backends",
]


def format_seconds(seconds: float | None) -> str:
    """A duration with the unit that keeps three significant digits readable."""
    if seconds is None or math.isnan(seconds):
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if abs(seconds) >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def speedups(results: Iterable[CaseResult]) -> dict[str, float]:
    """case id -> reference median / this median, for cases whose reference was measured."""
    results = list(results)
    reference = {
        (r.workload, params_id(r.params)): r.metric("time/median")
        for r in results
        if r.reference and r.status == "ok"
    }
    out = {}
    for r in results:
        ref = reference.get((r.workload, params_id(r.params)))
        median = r.metric("time/median")
        if r.status == "ok" and ref and median:
            out[r.case_id] = ref / median
    return out


FLOP_RATE = ("throughput/gflops", "GFLOP/s")
BYTE_RATE = ("throughput/gbps", "GB/s")
ITEM_RATE = ("throughput/items_per_s", "items/s")


def rate_of(work: Work) -> tuple[str, str]:
    """The rate a case is bound by, as (metric key, unit): flops when it does at least one
    per byte it moves, bytes otherwise; items (operations) when it counts neither."""
    flops, nbytes = work.flops, work.bytes
    if not flops and not nbytes and work.items:
        return ITEM_RATE
    return FLOP_RATE if flops and (not nbytes or flops >= nbytes) else BYTE_RATE


def _throughput(result: CaseResult) -> str:
    key, unit = rate_of(result.work)
    value = result.metric(key)
    if value is None:
        return "-"
    if unit == ITEM_RATE[1] and value >= 1e3:
        scaled, prefix = (value / 1e6, "M") if value >= 1e6 else (value / 1e3, "k")
        return f"{scaled:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def unavailable_backends(results: Sequence[CaseResult]) -> dict[str, tuple[int, str]]:
    """Backends all of whose cases (more than one) were skipped for one reason, such as
    "no CUDA device": {backend: (cases, reason)}. The table gives each one row."""
    seen: dict[str, list[CaseResult]] = {}
    for r in results:
        seen.setdefault(r.backend, []).append(r)
    return {
        backend: (len(mine), mine[0].reason)
        for backend, mine in seen.items()
        if len(mine) > 1 and all(r.status == "skipped" and r.reason == mine[0].reason for r in mine)
    }


ABOVE_ROOF = (
    "* above 100% of roof: the case ran faster than the ceiling measured for it, which was "
    "measured under load or by another code path; `perfkit calibrate` measures it again"
)


def above_roof(results: Iterable[CaseResult]) -> bool:
    """Whether a measured case ran above 100% of its roof (``ABOVE_ROOF`` then explains)."""
    return any((r.metric("roof/fraction") or 0.0) > 1.0 for r in results if r.status == "ok")


def median_text(result: CaseResult) -> str:
    """A measured case's figure: its median time, or its instructions a call when counted."""
    instructions = result.metric("instructions/per_call")
    if instructions is not None:
        return f"{instructions:,.0f} instructions"
    return format_seconds(result.metric("time/median"))


def measured_cells(result: CaseResult, ratios: dict[str, float]) -> list[str]:
    """A measured case's figures as plain text: median ± IQR (or instructions), throughput,
    % of roof (marked * above 100%, see ``ABOVE_ROOF``), speedup against the reference."""
    timing = median_text(result)
    if result.metric("instructions/per_call") is None:
        timing += f" ± {format_seconds(result.metric('time/iqr'))}"
    roof = result.metric("roof/fraction")
    ratio = ratios.get(result.case_id)
    return [
        timing,
        _throughput(result),
        "-" if roof is None else f"{roof:.0%}" + ("*" if roof > 1.0 else ""),
        "-" if ratio is None else ratio_text(ratio),
    ]


def ratio_text(ratio: float) -> str:
    """``1.42x``; a ratio under 0.1 with two significant digits (``0.00013x``), so a
    thousandfold gap does not print as ``0.00x``."""
    return f"{ratio:.2f}x" if ratio >= 0.1 else f"{ratio:.2g}x"

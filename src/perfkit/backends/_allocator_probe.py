"""The probe run of an allocation-pattern case: after the timed runs, the same driver built
with ``-DPK_PROBE`` (``native/bench/probe.h``) runs once more with the same arguments, timing
each malloc and free and sampling resident memory through the run. Its figures become the
case's metrics; its own time never enters the timed samples (``alloc/probe_slowdown`` says
how much slower the probe run was than the median timed run).

Metrics (every one a float, so the record's format is unchanged):

- ``lat/{malloc,free}_{p50,p99,p999,max}_ns``: one call's latency, every call of the probe
  run, the timer's own cost included; ``lat/timer_ns`` is that cost.
- ``mem/rss_at/NN`` and ``mem/live_at/NN`` (NN from 00 to 40): resident bytes and the bytes
  the driver holds, the largest in each fortieth of the run: the run's memory over time,
  on a time axis shared by every allocator however fast.
- ``mem/live_over_rss_peak``: live bytes over RSS where RSS was highest during the work
  (fragmentation at the peak); ``mem/live_over_rss_end``: the same at the end of the work,
  before the driver's teardown.
- ``mem/rss_freed``: RSS once the driver freed everything; ``mem/rss_released``: after the
  allocator's own release call as well (``malloc_trim``, ``mi_collect``, jemalloc's purge,
  tcmalloc's ReleaseFreeMemory).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["LATENCY_KEYS", "SERIES_POINTS", "probe_metrics", "series_key"]

SERIES_POINTS = 41
LATENCY_KEYS = ("p50", "p99", "p999", "max")


def series_key(kind: str, index: int) -> str:
    """The metric key of point ``index`` of the ``kind`` series (``rss`` or ``live``)."""
    return f"mem/{kind}_at/{index:02d}"


def _resampled(series: Sequence[Sequence[float]]) -> list[tuple[float, float]] | None:
    """(RSS, live) at SERIES_POINTS evenly spaced moments of ``series`` (its samples with an
    RSS): the largest of each window, so a spike between two moments still shows; a window
    with no sample keeps the last value."""
    points = [(float(t), float(rss), float(live)) for t, rss, live in series]
    if len(points) < 2 or points[-1][0] <= 0:
        return None
    span = points[-1][0]
    half = span / (SERIES_POINTS - 1) / 2
    out: list[tuple[float, float]] = []
    last = (points[0][1], points[0][2])
    for index in range(SERIES_POINTS):
        middle = span * index / (SERIES_POINTS - 1)
        inside = [p for p in points if middle - half <= p[0] < middle + half]
        if inside:
            last = (max(p[1] for p in inside), max(p[2] for p in inside))
        out.append(last)
    return out


def _ratio(live: float, rss: float) -> float | None:
    return live / rss if rss > 0 and live >= 0 else None


def probe_metrics(result: Mapping[str, Any], timed_seconds: Sequence[float]) -> dict[str, float]:
    """The case metrics of one probe-run result line (its ``probe`` object)."""
    probe = result.get("probe")
    if not isinstance(probe, Mapping):
        return {}
    out: dict[str, float] = {"lat/timer_ns": float(probe["timer_ns"])}
    for call in ("malloc", "free"):
        figures = probe[call]
        if figures["count"] > 0:
            for key in LATENCY_KEYS:
                out[f"lat/{call}_{key}_ns"] = float(figures[f"{key}_ns"])
    timed = statistics.median(timed_seconds) if timed_seconds else 0.0
    if timed > 0:
        out["alloc/probe_slowdown"] = float(result["seconds"]) / timed
    for field, key in (
        ("rss_freed_bytes", "mem/rss_freed"),
        ("rss_released_bytes", "mem/rss_released"),
    ):
        if probe.get(field, -1) >= 0:
            out[key] = float(probe[field])
    end = _ratio(float(probe.get("live_end_bytes", -1)), float(probe.get("rss_work_end_bytes", -1)))
    if end is not None:
        out["mem/live_over_rss_end"] = end
    points = [p for p in probe.get("series", []) if p[1] >= 0]
    work_end = probe.get("work_end_ns", 0)
    working = [p for p in points if p[0] <= work_end] if work_end > 0 else points
    if working:  # the highest RSS of the work (ties: the most live), not of the teardown
        top = max(working, key=lambda p: (p[1], p[2]))
        at_peak = _ratio(float(top[2]), float(top[1]))
        if at_peak is not None:
            out["mem/live_over_rss_peak"] = at_peak
    resampled = _resampled(points)
    if resampled is not None:
        for index, (rss, live) in enumerate(resampled):
            out[series_key("rss", index)] = rss
            out[series_key("live", index)] = live
    return out

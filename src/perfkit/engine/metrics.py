"""Derived metrics of a measured case: time summary, throughput and % of roof."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from perfkit.machine.ceilings import roof_fraction
from perfkit.model.workload import Work
from perfkit.verdict.spread import median_interval
from perfkit.verdict.stats import summarize

__all__ = ["derive_metrics"]

# How per-process metrics combine: a peak is the largest, a cost the median process's.
_COMBINE_MAX = (
    "mem/", "check/", "gpu/mem_peak", "gpu/throttled", "gpu/temperature", "spark/executors_lost",
)  # fmt: skip


def derive_metrics(
    processes: Sequence[Sequence[float]],
    per_process: Mapping[str, Sequence[float]],
    work: Work,
    device: str,
    ceilings: Mapping[str, Any],
    *,
    measure: str = "time",
) -> dict[str, float]:
    """The slash-keyed metrics of a record from each worker process's raw samples: seconds
    per call, or with ``measure="instructions"`` instructions per call (then no time,
    throughput or roof). The median's interval (``time/ci_low``, ``time/ci_high``) is the
    processes' (``spread.median_interval``), not the pooled samples': the gate's."""
    samples = [s for process in processes for s in process]
    metrics: dict[str, float] = {}
    for key, values in per_process.items():
        ordered = sorted(values)
        metrics[key] = ordered[-1] if key.startswith(_COMBINE_MAX) else ordered[len(ordered) // 2]
    if measure == "instructions":
        ordered = sorted(samples)
        metrics["instructions/per_call"] = ordered[len(ordered) // 2]
        metrics["instructions/spread"] = (ordered[-1] - ordered[0]) / ordered[len(ordered) // 2]
        return metrics
    summary = summarize(samples)
    metrics.update(summary.as_metrics())
    median = summary.median
    metrics["time/ci_low"], metrics["time/ci_high"] = median_interval(median, processes)
    if median > 0:
        if work.flops:
            metrics["throughput/gflops"] = work.flops / median / 1e9
        if work.bytes:
            metrics["throughput/gbps"] = work.bytes / median / 1e9
        if work.items:
            metrics["throughput/items_per_s"] = work.items / median
        if work.steps:
            metrics["throughput/steps_per_s"] = work.steps / median
        fraction = roof_fraction(work, median, ceilings.get(device))
        if fraction is not None:
            metrics["roof/fraction"] = fraction
    return metrics


def reroofed(result: Any, ceiling: Mapping[str, Any]) -> Any:
    """A measured CPU ``result`` with its % of roof taken again from ``ceiling``."""
    import dataclasses

    median = result.metric("time/median")
    if result.measurement is None or not median:
        return result
    metrics = dict(result.measurement.metrics)
    metrics.pop("roof/fraction", None)
    fraction = roof_fraction(result.work, median, ceiling)
    if fraction is not None:
        metrics["roof/fraction"] = fraction
    measurement = dataclasses.replace(result.measurement, metrics=metrics)
    return dataclasses.replace(result, measurement=measurement)

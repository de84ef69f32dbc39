"""The answer a record gives: per problem size (the cases of one workload with the same
parameters), its implementations fastest first, each other one "N x slower" than the
fastest, and what makes a figure less sure than it looks (a wide IQR, processes that
disagree, few samples, load)."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from perfkit.model.axes import params_id
from perfkit.records.run_record import CaseResult

__all__ = [
    "NOISE_LEGEND",
    "NOISY_SPREAD",
    "Ranked",
    "SizeRanking",
    "noise_flags",
    "rankings",
    "size_labels",
    "slower_text",
]

# A figure whose IQR, or whose processes' medians, spread wider than this share of its
# median is flagged: the ranking beside it may not hold on a second run.
NOISY_SPREAD = 0.10
# Fewer samples than this have no confidence interval of their median.
_FEW_SAMPLES = 6


NOISE_LEGEND = (
    f"notes: IQR N%: the middle half of its samples spans N% of its median (over "
    f"{NOISY_SPREAD:.0%}); processes N% apart: its worker processes' medians differ that "
    f"much; N samples: too few for a confidence interval (slow calls); under load: other "
    f"processes used the CPU while it was measured"
)


@dataclass(frozen=True, slots=True)
class Ranked:
    result: CaseResult
    slower: float  # this figure / the fastest's: 1.0 for the fastest
    flags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SizeRanking:
    """One problem size: its measured implementations fastest first, then the others."""

    workload: str
    params: Mapping[str, Any]
    label: str  # the parameters that tell this size from the others of the record
    ranked: tuple[Ranked, ...]
    unmeasured: tuple[CaseResult, ...]

    @property
    def fastest(self) -> Ranked | None:
        return self.ranked[0] if self.ranked else None


def figure(result: CaseResult) -> float | None:
    """What a case is ranked by: its median time, or its instructions a call when counted."""
    value = result.metric("time/median")
    if value is None:
        value = result.metric("instructions/per_call")
    return value if value is not None and value > 0 else None


def noise_flags(result: CaseResult) -> tuple[str, ...]:
    """Why a measured figure is less sure than it looks, in a few words each."""
    flags = []
    median = result.metric("time/median")
    iqr = result.metric("time/iqr")
    if median and iqr is not None and iqr / median > NOISY_SPREAD:
        flags.append(f"IQR {iqr / median:.0%}")
    runs = result.measurement.runs if result.measurement else ()
    medians = [statistics.median(r.samples) for r in runs if r.samples]
    if len(medians) > 1 and median:
        spread = (max(medians) - min(medians)) / median
        if spread > NOISY_SPREAD:
            flags.append(f"processes {spread:.0%} apart")
    samples = sum(len(r.samples) for r in runs)
    if runs and samples < _FEW_SAMPLES:
        flags.append(f"{samples} samples")
    if result.metric("load/contended_repetitions"):
        flags.append("under load")
    return tuple(flags)


def slower_text(ratio: float) -> str:
    """``fastest``, ``1.04x slower``, ``250x slower``: one direction everywhere."""
    if ratio <= 1.0:
        return "fastest"
    if ratio < 10:
        return f"{ratio:.2f}x slower"
    return f"{ratio:.3g}x slower" if ratio < 100 else f"{ratio:,.0f}x slower"


def size_labels(results: Iterable[CaseResult]) -> dict[tuple[str, str], str]:
    """(workload, params id) -> the parameters that differ between the sizes of the
    workload in these results (``n=1024 float32 square``): all of them when none differ."""
    by_workload: dict[str, dict[str, Mapping[str, Any]]] = {}
    for r in results:
        by_workload.setdefault(r.workload, {})[params_id(r.params)] = r.params
    labels = {}
    for workload, sizes in by_workload.items():
        names = list(dict.fromkeys(name for p in sizes.values() for name in p))
        varying = [n for n in names if len({str(p.get(n)) for p in sizes.values()}) > 1]
        for key, params in sizes.items():
            shown = [n for n in (varying or names) if params.get(n, "") != ""]
            labels[workload, key] = " ".join(
                str(params[n]) if n in ("dtype", "shape") else f"{n}={params[n]}" for n in shown
            )
    return labels


def rankings(results: Sequence[CaseResult]) -> list[SizeRanking]:
    """The sizes in their order in the record, each ranked fastest first; a case that was
    not measured (skipped, failed, invalid) follows its size's ranked ones."""
    labels = size_labels(results)
    groups: dict[tuple[str, str], list[CaseResult]] = {}
    for r in results:
        groups.setdefault((r.workload, params_id(r.params)), []).append(r)
    out = []
    for (workload, key), members in groups.items():
        measured = [(figure(r), r) for r in members if r.status == "ok"]
        timed = sorted(((v, r) for v, r in measured if v is not None), key=lambda x: x[0])
        best = timed[0][0] if timed else 0.0
        ranked = tuple(Ranked(r, v / best, noise_flags(r)) for v, r in timed)
        unmeasured = tuple(r for r in members if r.status != "ok" or figure(r) is None)
        out.append(
            SizeRanking(workload, members[0].params, labels[workload, key], ranked, unmeasured)
        )
    return out

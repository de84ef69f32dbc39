"""The answer a record gives: per problem size (the cases of one workload with the same
parameters), its implementations fastest first, each other one "N x slower" than the
fastest, and what makes a figure less sure than it looks (a wide IQR, processes that
disagree, few samples, load).

The fastest is the fastest case that solves the same problem as the reference: a case
that is not like for like (it computes in a lower precision, minimises another objective,
or approximates) is ranked by its time and marked, and is never named the fastest; where
it beats the answer it reads "N x faster", the one ratio below 1 a ranking shows."""

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
    "UNLIKE_LEGEND",
    "Ranked",
    "SizeRanking",
    "legends",
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
UNLIKE_LEGEND = (
    "not like for like: it does not solve the reference's problem (a lower precision, "
    "another objective, an approximation): ranked by its time, never named the fastest"
)


@dataclass(frozen=True, slots=True)
class Ranked:
    result: CaseResult
    slower: float  # this figure / the fastest like-for-like one's: 1.0 for the fastest
    flags: tuple[str, ...]

    @property
    def like_for_like(self) -> bool:
        return not self.result.unlike


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
        """The fastest like-for-like case (the fastest of all when none is)."""
        comparable = [r for r in self.ranked if r.like_for_like]
        candidates = comparable or list(self.ranked)
        return candidates[0] if candidates else None

    @property
    def others(self) -> tuple[Ranked, ...]:
        """Every ranked case but the fastest, fastest first: the like-for-like ones, then
        the others."""
        rest = [r for r in self.ranked if r is not self.fastest]
        return tuple(sorted(rest, key=lambda r: not r.like_for_like))


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
    if result.unlike:
        flags.append(_unlike_flag(result))
    return tuple(flags)


def legends(sizes: Sequence[SizeRanking]) -> list[str]:
    """The legends the notes of these rankings need: none when no figure has a note."""
    rows = [r for size in sizes for r in size.ranked]
    out = [NOISE_LEGEND] if any(set(r.flags) - {_unlike_flag(r.result)} for r in rows) else []
    if any(not r.like_for_like for r in rows):
        out.append(UNLIKE_LEGEND)
    return out


def _unlike_flag(result: CaseResult) -> str:
    return f"not like for like: {result.unlike}"


def slower_text(ratio: float) -> str:
    """``fastest``, ``1.04x slower``, ``250x slower``: one direction everywhere but for a
    case that is not like for like and beats the fastest (``2.10x faster``)."""
    if ratio < 1.0:
        faster = 1.0 / ratio
        return f"{faster:.2f}x faster" if faster < 10 else f"{faster:.3g}x faster"
    if ratio == 1.0:
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
        comparable = [v for v, r in timed if not r.unlike]
        best = (comparable or [v for v, _ in timed] or [0.0])[0]
        ranked = tuple(Ranked(r, v / best, noise_flags(r)) for v, r in timed)
        unmeasured = tuple(r for r in members if r.status != "ok" or figure(r) is None)
        out.append(
            SizeRanking(workload, members[0].params, labels[workload, key], ranked, unmeasured)
        )
    return out

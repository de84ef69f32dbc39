"""Baseline against candidate, case by case: ratio of medians, its CI, significance, verdict."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from perfkit.record import CaseResult, RunRecord

__all__ = [
    "VERDICTS",
    "Comparison",
    "Verdict",
    "compare_records",
    "environment_mismatches",
]

Verdict = Literal["SAME", "FASTER", "SLOWER", "AMBIGUOUS", "UNKNOWN", "INVALID"]
VERDICTS: tuple[str, ...] = get_args(Verdict)

# Environment values that must agree for timings to be comparable at all, as dotted paths
# into RunRecord.environment. A library's major version is compared, not its patch level.
MUST_MATCH = (
    "machine.cpu",
    "machine.cores_logical",
    "blas_threads",
    "python.version@minor",
    "libraries.numpy@major",
)


@dataclass(frozen=True, slots=True)
class Comparison:
    """One case, baseline vs candidate. ``ratio`` is candidate / baseline median: above 1 is
    slower. ``q_value`` is the Mann-Whitney p-value after false-discovery control across
    every case compared in the run."""

    case_id: str
    workload: str
    verdict: Verdict
    reason: str = ""
    base_median: float | None = None
    cand_median: float | None = None
    ratio: float | None = None
    ratio_low: float | None = None
    ratio_high: float | None = None
    p_value: float | None = None
    q_value: float | None = None
    threshold: float = 0.0
    unit: str = "s"  # of the medians: seconds per call, or "instructions" per call


def _lookup(environment: Mapping[str, object], key: str) -> object:
    path, _, part = key.partition("@")
    value: object = environment
    for name in path.split("."):
        value = value.get(name) if isinstance(value, Mapping) else None
    if isinstance(value, str) and part:
        pieces = value.split(".")
        value = ".".join(pieces[: 1 if part == "major" else 2])
    return value


def environment_mismatches(
    base: RunRecord, cand: RunRecord, keys: Sequence[str] = MUST_MATCH
) -> list[str]:
    """``key: base != candidate`` for every must-match key that differs."""
    out = []
    for key in keys:
        a, b = _lookup(base.environment, key), _lookup(cand.environment, key)
        if a != b:
            out.append(f"{key}: {a!r} != {b!r}")
    return out


def _ratio_interval(
    base: np.ndarray, cand: np.ndarray, confidence: float, seed: int
) -> tuple[float, float]:
    """Percentile bootstrap CI of median(candidate) / median(baseline) (scipy)."""
    from scipy import stats

    def ratio(c: np.ndarray, b: np.ndarray, axis: int) -> np.ndarray:
        return np.asarray(np.median(c, axis=axis) / np.median(b, axis=axis))

    result = stats.bootstrap(
        (cand, base),
        ratio,
        n_resamples=2000,
        confidence_level=confidence,
        method="percentile",
        vectorized=True,
        rng=np.random.default_rng(seed),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def _paired_runs(base: CaseResult, cand: CaseResult) -> list[tuple[np.ndarray, np.ndarray]]:
    """Sample sets of the two sides paired by repetition (process index): in ``perfkit ab``
    the two runs of a pair ran back to back; a side's extra repetitions pair with nothing."""
    old = {run.process: run.samples for run in base.measurement.runs}  # type: ignore[union-attr]
    new = {run.process: run.samples for run in cand.measurement.runs}  # type: ignore[union-attr]
    return [(np.asarray(old[p]), np.asarray(new[p])) for p in sorted(old.keys() & new.keys())]


def consistent_p_value(base: CaseResult, cand: CaseResult) -> float:
    """A p-value for "the candidate differs, in the same direction, in every repetition".

    Samples within one process are not independent draws of the case: each process has its
    own memory placement and ran at its own moment, and processes of one side differ by up
    to 10-20% here, so a Mann-Whitney test on pooled samples calls such luck significant.
    This is the intersection-union test instead: a one-sided Mann-Whitney U per repetition
    pair, in the direction of the pooled medians, and the largest of those p-values (doubled
    for the two directions). It rejects only when every repetition agrees.
    """
    from scipy import stats

    pooled_base = np.median(np.asarray(base.measurement.samples))  # type: ignore[union-attr]
    pooled_cand = np.median(np.asarray(cand.measurement.samples))  # type: ignore[union-attr]
    direction = "greater" if pooled_cand > pooled_base else "less"
    pairs = _paired_runs(base, cand) or [
        (np.asarray(base.measurement.samples), np.asarray(cand.measurement.samples))  # type: ignore[union-attr]
    ]
    worst = max(float(stats.mannwhitneyu(b, a, alternative=direction).pvalue) for a, b in pairs)
    return min(1.0, 2 * worst)


def _unknown(case_id: str, workload: str, reason: str) -> Comparison:
    return Comparison(case_id, workload, "UNKNOWN", reason)


def _single(base: CaseResult | None, cand: CaseResult | None, min_samples: int) -> str | None:
    """Why a case cannot be compared (None when it can)."""
    if cand is None:
        return "missing from the candidate"
    if base is None:
        return "missing from the baseline"
    for side, result in (("baseline", base), ("candidate", cand)):
        if result.status != "ok":
            return f"{result.status} in the {side}: {result.reason}"
        count = len(result.measurement.samples) if result.measurement else 0
        if count < min_samples:
            return f"{count} samples in the {side}, fewer than {min_samples}"
    return None


def compare_records(
    base: RunRecord,
    cand: RunRecord,
    *,
    thresholds: Mapping[str, float],
    default_threshold: float,
    alpha: float = 0.05,
    min_samples: int = 5,
    must_match: Sequence[str] = MUST_MATCH,
) -> list[Comparison]:
    """Compare every case of either record; significance is controlled across all of them
    (Benjamini-Hochberg), so a suite of 100 cases does not flag five by chance."""
    from scipy import stats

    mismatches = environment_mismatches(base, cand, must_match)
    measures = {base.policy.get("measure", "time"), cand.policy.get("measure", "time")}
    if len(measures) > 1:
        mismatches.append("one record counts instructions, the other measures time")
    counting = measures == {"instructions"}
    ids = [r.case_id for r in cand.results]
    ids += [r.case_id for r in base.results if cand.result(r.case_id) is None]
    out: list[Comparison | None] = []
    tested: list[tuple[int, CaseResult, CaseResult]] = []
    for case_id in ids:
        old, new = base.result(case_id), cand.result(case_id)
        workload = (new or old).workload  # type: ignore[union-attr]
        if new is not None and new.status == "invalid":
            out.append(Comparison(case_id, workload, "INVALID", f"wrong answer: {new.reason}"))
            continue
        if mismatches:
            out.append(_unknown(case_id, workload, "environments differ: " + "; ".join(mismatches)))
            continue
        why = _single(old, new, 1 if counting else min_samples)
        if why is not None:
            out.append(_unknown(case_id, workload, why))
            continue
        assert old is not None
        assert new is not None
        tested.append((len(out), old, new))
        out.append(None)
    if counting:
        for slot, old, new in tested:
            out[slot] = _deterministic(old, new, thresholds.get(new.workload, default_threshold))
        return [c for c in out if c is not None]
    p_values = [consistent_p_value(old, new) for _, old, new in tested]
    q_values = stats.false_discovery_control(p_values, method="bh").tolist() if p_values else []
    for (slot, old, new), p, q in zip(tested, p_values, q_values, strict=True):
        a = np.asarray(old.measurement.samples)  # type: ignore[union-attr]
        b = np.asarray(new.measurement.samples)  # type: ignore[union-attr]
        threshold = thresholds.get(new.workload, default_threshold)
        ratio = float(np.median(b) / np.median(a))
        low, high = _ratio_interval(a, b, 1 - alpha, seed=slot)
        verdict = _verdict(ratio, q, threshold, alpha)
        out[slot] = Comparison(
            new.case_id,
            new.workload,
            verdict,
            "",
            float(np.median(a)),
            float(np.median(b)),
            ratio,
            low,
            high,
            p,
            float(q),
            threshold,
        )
    return [c for c in out if c is not None]


def _deterministic(base: CaseResult, cand: CaseResult, threshold: float) -> Comparison:
    """Instruction counts do not vary by chance: the ratio alone decides, so a threshold of
    1% is usable where timings need 5% or more."""
    a = float(np.median(np.asarray(base.measurement.samples)))  # type: ignore[union-attr]
    b = float(np.median(np.asarray(cand.measurement.samples)))  # type: ignore[union-attr]
    ratio = b / a
    verdict: Verdict = "SAME"
    if ratio > 1 + threshold:
        verdict = "SLOWER"
    elif ratio < 1 / (1 + threshold):
        verdict = "FASTER"
    return Comparison(
        cand.case_id,
        cand.workload,
        verdict,
        "",
        a,
        b,
        ratio,
        threshold=threshold,
        unit="instructions",
    )


def _verdict(ratio: float, q: float, threshold: float, alpha: float) -> Verdict:
    """SLOWER / FASTER need the size past the threshold and the significance; the size
    alone is AMBIGUOUS; anything within the threshold is SAME."""
    crosses = ratio > 1 + threshold or ratio < 1 / (1 + threshold)
    if not crosses or math.isnan(ratio):
        return "SAME"
    if q >= alpha:
        return "AMBIGUOUS"
    return "SLOWER" if ratio > 1 else "FASTER"

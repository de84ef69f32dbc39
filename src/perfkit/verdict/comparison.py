"""Baseline against candidate, case by case: what can be compared, and what the samples say.

The unit of evidence is the repetition (one worker process), not the sample. Samples within
one process share its memory placement and its moment on the machine, and processes of the
same code differ here by up to 10-20%; a test that treats samples as independent calls that
luck significant. So repetition i of the baseline is paired with repetition i of the
candidate, each pair gives one ratio, and the evidence is the per-pair ratios. A pair's
ratio is candidate median / baseline median, except where the two sampled in turns
(``perfkit ab``: A B B A, a block of samples a side at a time, on one CPU): then it is
compared cycle by cycle (``pair_ratio``). A slow spell of the machine (here a second or two
in which everything runs 1.6x slower) lands on both sides within a cycle and cancels in its
ratio, and so does what a sample inherits from the one before it: a side's sample taken
right after the other side's ran 1.3x to 1.5x slower, or faster, than one right after its
own (a 16 MB softmax, a 32 MB reduction), and a cycle holds one of each a side, where comparing
sample i with sample i paired the one kind with the other and made the ratio flip between
two modes. Then:

- the **ratio** is the 20% trimmed mean of the per-pair log ratios, back in ratio units;
- its **p-value** is Yuen's trimmed t's (``stats.trimmed_t``): robust to a stray pair (a
  repetition the machine disturbed), and, unlike the sign test it replaced, able to decide
  on eight pairs: the sign test's smallest p-value with eight is 2/256, which
  false-discovery control over 32 cases turned into no verdict at all;
- its **interval** is the same t's at 1 - 2 alpha (90% at alpha 0.05): the interval whose
  lying inside the threshold band is the equivalence test (two one-sided tests at alpha)
  that ``SAME`` claims, and whose lying above 1 is a one-sided test at alpha that
  ``SLOWER`` (a two-sided p under alpha) implies.

Both need pairs: with fewer than ``PAIRS_NEEDED`` a case (two plain records of two processes a
side, say) is judged by the **spread test** instead (``spread.ratio_spread``): the ratio of
the two sides' medians against the spread of each side's processes, moderated by a prior
spread, so that a 3x change measured once a side still stands out and process luck does not.

Every comparison says which test decided it and the smallest change its evidence could tell
from none (``detectable``, the half-width of its interval): a case left undecided with a
``detectable`` above its threshold is ``UNDERPOWERED`` (the evidence could not have seen a
change of the threshold's size), otherwise ``AMBIGUOUS``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from perfkit.records.environment import environment_mismatches
from perfkit.records.run_record import CaseResult, RunRecord, SampleRun
from perfkit.verdict.spread import ratio_spread
from perfkit.verdict.stats import trimmed_t

__all__ = [
    "VERDICTS",
    "Comparison",
    "Test",
    "Verdict",
    "compare_records",
    "pair_ratio",
    "paired_ratios",
    "pairs_needed",
]

Verdict = Literal[
    "SAME",
    "FASTER",
    "SLOWER",
    "AMBIGUOUS",
    "UNDERPOWERED",
    "UNKNOWN",
    "INVALID",
    "BROKEN",
    "MISSING",
    "INCOMPARABLE",
    "CHANGED",
]
VERDICTS: tuple[str, ...] = get_args(Verdict)
DECIDED = ("SAME", "FASTER", "SLOWER")
# Which evidence decided: the paired test over repetition pairs, the spread of each side's
# processes (too few pairs), instruction counts (no chance), or none (no measured ratio).
Test = Literal["paired", "spread", "count", ""]


@dataclass(frozen=True, slots=True)
class Comparison:
    """One case, baseline vs candidate. ``ratio`` is candidate / baseline: above 1 is
    slower. ``p_value`` is the test's (``test``: the paired test over ``pairs`` repetition
    pairs, or the spread test), ``q_value`` the same after false-discovery control across
    the cases compared. The medians are each side's over all its samples.
    ``test`` names the evidence that decided; ``detectable`` is the smallest change (a
    fraction) that evidence could tell from none."""

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
    pairs: int = 0
    contended: int = 0  # repetition pairs left out because one side was contended
    test: Test = ""
    detectable: float | None = None
    processes: tuple[int, int] = (0, 0)  # a side's repetitions: baseline, candidate

    @property
    def crosses(self) -> bool:
        """The ratio lies past the threshold, in the slower direction."""
        return self.ratio is not None and self.ratio > 1 + self.threshold

    @property
    def decided(self) -> bool:
        return self.verdict in DECIDED

    @property
    def uncleared(self) -> bool:
        """Past the threshold towards slower, judged over enough repetition pairs, and not
        shown within it: a regression the evidence cannot rule out, which fails like one.
        (Where pairs are too few, the spread test alone decides: ``SLOWER`` or a pass.)"""
        return self.crosses and self.test == "paired" and self.verdict != "SLOWER"

    def test_words(self) -> str:
        """Which test decided, on what, and what it could see, for a table's note."""
        if self.test == "paired":
            evidence = f"paired trimmed t, {self.pairs} pairs"
        elif self.test == "spread":
            evidence = f"spread test, {self.processes[0]} and {self.processes[1]} processes"
        elif self.test == "count":
            return "instruction counts"
        else:
            return ""
        if self.detectable is None or not math.isfinite(self.detectable):
            return evidence
        return (
            f"{evidence}; sees {self.detectable:.0%}"
            if self.detectable >= 0.005
            else (f"{evidence}; sees <1%")
        )


def _median(result: CaseResult) -> float:
    return float(np.median(np.asarray(result.measurement.samples)))  # type: ignore[union-attr]


def pair_ratio(old: SampleRun, new: SampleRun) -> float:
    """One repetition pair's ratio, candidate over baseline. Where the two runs sampled in
    turns (A B B A, ``block`` samples a side at a time): the median over the cycles of the
    ratio of the two sides' median samples in that cycle, each side having as many
    samples taken right after its own as right after the other side's (one of each with
    a block of one sample; with longer blocks, the first of each block follows the other
    side, and the median stands among the rest, as it stands above a stray sample). Else
    (or where not one whole cycle exists, or a baseline sample is 0) the ratio of their
    medians; ``inf`` where the baseline median is 0."""
    if _in_turns(old, new) and old.block == new.block:
        span = 2 * old.block
        cycles = min(len(old.samples), len(new.samples)) // span
        before = np.asarray(old.samples[: cycles * span], dtype=np.float64).reshape(-1, span)
        after = np.asarray(new.samples[: cycles * span], dtype=np.float64).reshape(-1, span)
        if cycles and np.all(before > 0):
            return float(np.median(np.median(after, axis=1) / np.median(before, axis=1)))
    median = float(np.median(old.samples))
    return float(np.median(new.samples)) / median if median > 0 else math.inf


def _in_turns(old: SampleRun, new: SampleRun) -> bool:
    return old.turns is not None and old.turns == new.turns


def paired_ratios(base: CaseResult, cand: CaseResult, needed: int) -> tuple[np.ndarray, int]:
    """Per repetition pair (same process index), its ``pair_ratio``, and how many pairs
    were left out as contended. Contended pairs are left out only where the uncontended
    ones still number ``needed``; otherwise every pair counts (and the count of contended
    ones is still returned, to be said). A pair sampled in turns is never left out: what
    contended one side's samples contended the other's, a few milliseconds apart."""
    old = {run.process: run for run in base.measurement.runs}  # type: ignore[union-attr]
    new = {run.process: run for run in cand.measurement.runs}  # type: ignore[union-attr]
    common = sorted(old.keys() & new.keys())
    quiet = [
        p for p in common if _in_turns(old[p], new[p]) or not (old[p].contended or new[p].contended)
    ]
    chosen = quiet if len(quiet) >= needed else common
    ratios = [pair_ratio(old[p], new[p]) for p in chosen]
    return np.asarray(ratios, dtype=np.float64), len(common) - len(quiet)


def _usable(ratios: np.ndarray) -> bool:
    return bool(len(ratios)) and bool(np.all(np.isfinite(ratios)) and np.all(ratios > 0))


# The fewest repetition pairs the paired test is used on: with 20% trimmed, four are left,
# three degrees of freedom. Fewer pairs (plain records of 2 to 4 processes) are judged by the
# spread of each side's processes.
PAIRS_NEEDED = 6


def pairs_needed(alpha: float) -> int:
    """The fewest repetition pairs the paired test is used on (whatever ``alpha``: a t
    interval exists at every level)."""
    del alpha
    return PAIRS_NEEDED


SKIPPED_ON_BOTH_SIDES = "skipped on both sides: "


def _unmeasured(old: CaseResult | None, new: CaseResult | None) -> tuple[Verdict, str] | None:
    """The verdict of a case that cannot be measured on both sides (None when it can)."""
    if new is not None and new.status == "invalid":
        return "INVALID", f"wrong answer: {new.reason}"
    if old is None:
        return "UNKNOWN", "new in the candidate"
    if old.status == "skipped" and new is not None and new.status == "skipped":
        return "UNKNOWN", f"{SKIPPED_ON_BOTH_SIDES}{old.reason}"
    if old.status != "ok":
        return "UNKNOWN", f"{old.status} in the baseline: {old.reason}"
    if new is None:
        return "MISSING", "ran in the baseline, missing from the candidate"
    if new.status == "skipped":
        return "MISSING", f"ran in the baseline, skipped in the candidate: {new.reason}"
    if new.status == "failed":
        return "BROKEN", f"ran in the baseline, failed in the candidate: {new.reason}"
    if new.version != old.version:
        return "CHANGED", f"workload version {old.version} -> {new.version}: not comparable"
    if not old.measurement or not new.measurement or not old.measurement.samples:
        return "UNKNOWN", "no samples"
    if not new.measurement.samples:
        return "BROKEN", "no samples in the candidate"
    return None


def _device(record: RunRecord, result: CaseResult) -> str:
    info = record.environment.backends.get(result.backend)
    if info is not None:
        return info.device
    from perfkit.model.backend import backends

    known = backends().get(result.backend)
    return known.device if known is not None else "cpu"


def compare_records(
    base: RunRecord,
    cand: RunRecord,
    *,
    thresholds: Mapping[str, float],
    default_threshold: float,
    alpha: float = 0.05,
    only: Collection[str] | None = None,
) -> list[Comparison]:
    """Compare every case of either record (or those of ``only``). Significance is
    controlled across the cases compared (Benjamini-Hochberg), so a suite of 100 cases
    does not flag five by chance."""
    from scipy import stats

    counting = {base.policy.counting, cand.policy.counting}
    ids = [r.case_id for r in cand.results]
    ids += [r.case_id for r in base.results if cand.result(r.case_id) is None]
    if only is not None:
        ids = [case_id for case_id in ids if case_id in only]
    out: list[Comparison] = []
    tested: list[tuple[int, CaseResult, CaseResult, float]] = []
    for case_id in ids:
        old, new = base.result(case_id), cand.result(case_id)
        either = new or old
        assert either is not None
        threshold = thresholds.get(either.workload, default_threshold)
        early = _unmeasured(old, new)
        if early is None and len(counting) > 1:
            early = "INCOMPARABLE", "one record counts instructions, the other measures time"
        if early is None:
            assert old is not None
            assert new is not None
            device = _device(cand, new)
            differ = environment_mismatches(base.environment, cand.environment, new.backend, device)
            if differ:
                early = "INCOMPARABLE", "environments differ: " + "; ".join(differ)
        if early is not None:
            out.append(
                Comparison(case_id, either.workload, early[0], early[1], threshold=threshold)
            )
            continue
        assert old is not None
        assert new is not None
        tested.append((len(out), old, new, threshold))
        out.append(Comparison(case_id, new.workload, "UNKNOWN"))  # replaced below
    if counting == {True}:
        for slot, old, new, threshold in tested:
            out[slot] = _deterministic(old, new, threshold)
        return out
    needed = pairs_needed(alpha)
    judged = [
        (slot, threshold, _evidence(old, new, needed, alpha))
        for slot, old, new, threshold in tested
    ]
    with_p = [(slot, e.p_value) for slot, _, e in judged if e.p_value is not None]
    p_values = [p for _, p in with_p]
    q_values = stats.false_discovery_control(p_values, method="bh").tolist() if p_values else []
    q_by_slot = {slot: q for (slot, _), q in zip(with_p, q_values, strict=True)}
    for slot, threshold, evidence in judged:
        out[slot] = _judge(evidence, threshold=threshold, alpha=alpha, q=q_by_slot.get(slot))
    return out


def _evidence(old: CaseResult, new: CaseResult, needed: int, alpha: float) -> Comparison:
    """A measured case's ratio, interval, p-value and test, before any verdict: the paired
    test over repetition pairs where there are ``needed`` of them, else the spread test."""
    base_median, cand_median = _median(old), _median(new)
    ratios, contended = paired_ratios(old, new, needed)
    pairs = len(ratios)
    measured = Comparison(
        new.case_id,
        new.workload,
        "UNKNOWN",
        base_median=base_median,
        cand_median=cand_median,
        pairs=pairs,
        contended=contended,
        processes=(len(old.measurement.runs), len(new.measurement.runs)),  # type: ignore[union-attr]
    )
    if pairs and not _usable(ratios):
        return measured  # a repetition's median of 0: no ratio
    paired = trimmed_t(np.log(ratios)) if pairs >= needed else None
    if paired is not None:
        log_low, log_high = paired.interval(1 - 2 * alpha)
        return dataclasses.replace(
            measured,
            ratio=math.exp(paired.estimate),
            ratio_low=math.exp(log_low),
            ratio_high=math.exp(log_high),
            p_value=paired.p_value(),
            test="paired",
            detectable=math.exp((log_high - log_low) / 2) - 1,
        )
    ratio = cand_median / base_median if base_median > 0 else math.inf
    spread = ratio_spread(
        [run.samples for run in old.measurement.runs],  # type: ignore[union-attr]
        [run.samples for run in new.measurement.runs],  # type: ignore[union-attr]
        ratio,
    )
    if spread is None:
        return measured
    low, high = spread.interval(1 - 2 * alpha)
    return dataclasses.replace(
        measured,
        ratio=ratio,
        ratio_low=low,
        ratio_high=high,
        p_value=spread.p_value(),
        test="spread",
        detectable=spread.detectable(1 - 2 * alpha),
    )


def _judge(measured: Comparison, *, threshold: float, alpha: float, q: float | None) -> Comparison:
    """The verdict of one measured case from its evidence and its q-value."""
    measured = dataclasses.replace(measured, threshold=threshold, q_value=q)

    def verdict(name: Verdict, reason: str = "") -> Comparison:
        return dataclasses.replace(measured, verdict=name, reason=reason)

    ratio, low, high, p = measured.ratio, measured.ratio_low, measured.ratio_high, measured.p_value
    contended = measured.contended
    left_out = f" ({contended} contended pairs counted)" if contended and measured.pairs else ""
    if ratio is None or low is None or high is None or p is None or q is None:
        return verdict("UNKNOWN", "a repetition's median is 0: no ratio")
    band_low, band_high = 1 / (1 + threshold), 1 + threshold
    if q < alpha and ratio > band_high and low > 1:
        return verdict("SLOWER", left_out.strip())
    if q < alpha and ratio < band_low and high < 1:
        return verdict("FASTER", left_out.strip())
    if band_low <= low and high <= band_high:
        return verdict("SAME", left_out.strip())
    detectable = measured.detectable if measured.detectable is not None else math.inf
    if ratio > band_high or ratio < band_low:
        reason = f"past the threshold but not significant (q={q:.3g})"
    else:
        reason = f"its interval {low:.3f} to {high:.3f} reaches past +-{threshold:.0%}"
    if measured.test == "paired" and ratio > band_high:
        reason += "; not cleared, so it fails as a regression"
    if detectable > threshold:
        more = (
            "measure more repetitions (--processes) or use perfkit ab"
            if measured.test == "spread"
            else "more repetitions would narrow it"
        )
        return verdict(
            "UNDERPOWERED",
            f"{reason}; this evidence sees only changes of {detectable:.0%} or more: {more}"
            + left_out,
        )
    return verdict("AMBIGUOUS", reason + left_out)


def _deterministic(base: CaseResult, cand: CaseResult, threshold: float) -> Comparison:
    """Instruction counts do not vary by chance: the ratio alone decides, so a threshold of
    1% is usable where timings need 5% or more."""
    a, b = _median(base), _median(cand)
    ratio = b / a if a > 0 else math.inf
    verdict: Verdict = "SAME"
    if not math.isfinite(ratio):
        verdict = "UNKNOWN"
    elif ratio > 1 + threshold:
        verdict = "SLOWER"
    elif ratio < 1 / (1 + threshold):
        verdict = "FASTER"
    return Comparison(
        cand.case_id,
        cand.workload,
        verdict,
        "" if verdict != "UNKNOWN" else "a count of 0 instructions in the baseline",
        a,
        b,
        ratio if math.isfinite(ratio) else None,
        threshold=threshold,
        unit="instructions",
        test="count",
    )

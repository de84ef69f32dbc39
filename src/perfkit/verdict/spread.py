"""The spread between worker processes: the uncertainty of a median that processes, not
samples, decide.

Two processes of the same code differ here by 1% to 20% (memory placement, the moment on
the machine), far more than the samples inside one process say. So the uncertainty of a
case's median comes from the spread of its processes' medians (in logs, since times
multiply), and with the two to four processes a plain run makes, that spread is itself
poorly known: two processes that agree by chance to 0.1% would make a 1% difference look
certain. The estimate is therefore moderated: the spread a case shows is pooled with a
prior spread of ``PRIOR_SPREAD`` worth ``PRIOR_DF`` degrees of freedom (the moderated t of
empirical-Bayes microarray statistics), and the t distribution with the pooled degrees of
freedom gives interval and test. With one process a side the prior alone speaks: a 3x
change still stands far outside it, 10% does not.

One procedure serves the record (``time/ci_low``/``time/ci_high`` of a case: its median
times the interval of one side) and the gate (the ratio of two sides' medians where too few
repetition pairs exist for the paired test), so report, table and gate say the same.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "PRIOR_DF",
    "PRIOR_SPREAD",
    "Spread",
    "median_interval",
    "ratio_spread",
]

PRIOR_SPREAD = 0.05  # a process median's typical distance from its side's, in log units
PRIOR_DF = 4.0  # what the prior weighs: as much as five processes of one side


@dataclass(frozen=True, slots=True)
class Spread:
    """An estimate in log units, its standard error and the t distribution's degrees of
    freedom (the processes' own plus the prior's)."""

    estimate: float
    se: float
    df: float

    def interval(self, confidence: float) -> tuple[float, float]:
        """The estimate's ``confidence`` interval, back in ratio units."""
        from scipy import stats

        half = float(stats.t.ppf(0.5 + confidence / 2, self.df)) * self.se
        return math.exp(self.estimate - half), math.exp(self.estimate + half)

    def p_value(self) -> float:
        """Two-sided: that the true log ratio is 0."""
        from scipy import stats

        if self.se <= 0:
            return 0.0 if self.estimate else 1.0
        return float(2 * stats.t.sf(abs(self.estimate) / self.se, self.df))

    def detectable(self, confidence: float) -> float:
        """The smallest change (as a fraction: 0.1 is 10%) this evidence can tell from none:
        the half-width of its interval."""
        low, high = self.interval(confidence)
        return math.sqrt(high / low) - 1


def _log_medians(processes: Sequence[Sequence[float]]) -> list[float]:
    return [math.log(float(np.median(p))) for p in processes if len(p) and min(p) > 0]


def _pooled(sides: Sequence[list[float]]) -> tuple[float, float]:
    """The moderated variance of one process's log median, and its degrees of freedom."""
    squares = sum(float(np.sum((np.asarray(s) - np.mean(s)) ** 2)) for s in sides if s)
    df = float(sum(max(0, len(s) - 1) for s in sides))
    return (squares + PRIOR_DF * PRIOR_SPREAD**2) / (df + PRIOR_DF), df + PRIOR_DF


def median_interval(
    median: float, processes: Sequence[Sequence[float]], confidence: float = 0.95
) -> tuple[float, float]:
    """The interval of a case's median from its processes' samples: ``median`` times the
    moderated spread of the processes' medians over their count. ``(nan, nan)`` where no
    process has a positive sample or the median is not positive."""
    logs = _log_medians(processes)
    if not logs or median <= 0:
        return math.nan, math.nan
    variance, df = _pooled([logs])
    spread = Spread(math.log(median), math.sqrt(variance / len(logs)), df)
    return spread.interval(confidence)


def ratio_spread(
    base: Sequence[Sequence[float]], cand: Sequence[Sequence[float]], ratio: float
) -> Spread | None:
    """The log of ``ratio`` (candidate median over baseline median) with its standard error
    from both sides' process spreads; None where a side has no usable process."""
    old, new = _log_medians(base), _log_medians(cand)
    if not old or not new or not ratio > 0 or not math.isfinite(ratio):
        return None
    variance, df = _pooled([old, new])
    return Spread(math.log(ratio), math.sqrt(variance * (1 / len(old) + 1 / len(new))), df)

"""Summary statistics of timing samples: a thin layer over scipy.stats."""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "Samples",
    "Summary",
    "median_ci",
    "relative_ci_width",
    "sign_test",
    "smallest_sign_test_p",
    "summarize",
]

Samples = Sequence[float] | npt.NDArray[Any]


@functools.cache
def _lower_ranks(max_n: int, confidence: float) -> tuple[int, ...]:
    """For each sample count n <= max_n, the 1-based rank l such that the order statistics
    x_(l) and x_(n-l+1) bound the median with at least ``confidence`` (0: no such l).

    The count of samples under the true median is Binomial(n, 1/2), so the interval covers
    it with probability 1 - 2 P(B <= l-1): l is the binomial ``alpha/2`` quantile. One
    vectorised scipy call per table, so the check between samples costs a sort, not scipy.
    """
    from scipy import stats

    n = np.arange(max_n + 1)
    ranks = stats.binom.ppf((1 - confidence) / 2, n, 0.5)
    return tuple(int(r) if np.isfinite(r) else 0 for r in ranks)


def median_ci(samples: Samples, confidence: float = 0.95) -> tuple[float, float]:
    """Distribution-free confidence interval of the median, from order statistics.

    Timing samples are skewed (a floor and a long right tail), so no normal approximation.
    Returns ``(nan, nan)`` when there are too few samples for the interval to exist
    (fewer than 6 at 95%).
    """
    n = len(samples)
    table = _lower_ranks(max(256, 1 << (n - 1).bit_length()) if n else 256, confidence)
    rank = table[n]
    if rank < 1:
        return (math.nan, math.nan)
    ordered = sorted(samples)
    return (float(ordered[rank - 1]), float(ordered[n - rank]))


def relative_ci_width(samples: Samples, confidence: float = 0.95) -> float:
    """Width of the median's confidence interval over the median; inf when undefined."""
    low, high = median_ci(samples, confidence)
    median = statistics.median(samples) if len(samples) else 0.0
    if math.isnan(low) or median <= 0:
        return math.inf
    return (high - low) / median


@dataclass(frozen=True, slots=True)
class Summary:
    median: float
    mean: float
    stdev: float
    minimum: float
    q1: float
    q3: float
    ci_low: float
    ci_high: float
    count: int

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    def as_metrics(self) -> dict[str, float]:
        """The summary under the record's slash keys (seconds per call)."""
        return {
            "time/median": self.median,
            "time/mean": self.mean,
            "time/stdev": self.stdev,
            "time/min": self.minimum,
            "time/q1": self.q1,
            "time/q3": self.q3,
            "time/iqr": self.iqr,
            "time/ci_low": self.ci_low,
            "time/ci_high": self.ci_high,
            "time/samples": float(self.count),
        }


def summarize(samples: Samples, confidence: float = 0.95) -> Summary:
    data = np.asarray(samples, dtype=np.float64)
    if data.size == 0:
        raise ValueError("no samples to summarize")
    q1, median, q3 = (float(v) for v in np.percentile(data, [25, 50, 75]))
    low, high = median_ci(data, confidence)
    return Summary(
        median=median,
        mean=float(data.mean()),
        stdev=float(data.std(ddof=1)) if data.size > 1 else 0.0,
        minimum=float(data.min()),
        q1=q1,
        q3=q3,
        ci_low=low,
        ci_high=high,
        count=int(data.size),
    )


def sign_test(differences: Samples) -> float:
    """Two-sided p-value of the sign test that the median difference is zero (scipy's exact
    binomial test); zeros carry no sign and are left out, as the test prescribes."""
    from scipy import stats

    data = np.asarray(differences, dtype=np.float64)
    above, below = int(np.sum(data > 0)), int(np.sum(data < 0))
    if above + below == 0:
        return 1.0
    return float(stats.binomtest(above, above + below, 0.5).pvalue)


@functools.cache
def smallest_sign_test_p(pairs: int) -> float:
    """The smallest p-value the sign test can give with ``pairs`` differences: every one of
    them on the same side, ``2 / 2**pairs``. Above the level, no outcome can be significant
    and the comparison is underpowered, whatever the data."""
    if pairs < 1:
        return 1.0
    return sign_test(np.ones(pairs))

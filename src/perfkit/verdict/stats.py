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
    "summarize",
    "trimmed_t",
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


# The share trimmed from each end by ``trimmed_t``: Yuen's usual 20%.
TRIM = 0.2


@dataclass(frozen=True, slots=True)
class TrimmedT:
    """Yuen's trimmed-mean t over differences: the trimmed mean, its standard error (from
    the winsorized variance) and the t distribution's degrees of freedom."""

    estimate: float
    se: float
    df: int

    def interval(self, confidence: float) -> tuple[float, float]:
        from scipy import stats

        half = float(stats.t.ppf(0.5 + confidence / 2, self.df)) * self.se
        return self.estimate - half, self.estimate + half

    def p_value(self) -> float:
        """Two-sided: that the trimmed mean of the differences is 0."""
        from scipy import stats

        if self.se <= 0:
            return 0.0 if self.estimate else 1.0
        return float(2 * stats.t.sf(abs(self.estimate) / self.se, self.df))


def trimmed_t(differences: Samples, trim: float = TRIM) -> TrimmedT | None:
    """Yuen's one-sample trimmed t (Wilcox, *Introduction to Robust Estimation*, 4.6):
    ``g = floor(trim * n)`` values cut from each end for the mean, the same number
    winsorized for the variance, ``n - 2g - 1`` degrees of freedom. None below three
    values left after trimming, where no variance is estimated."""
    data = np.sort(np.asarray(differences, dtype=np.float64))
    n = data.size
    g = math.floor(trim * n)
    kept = n - 2 * g
    if kept < 3:
        return None
    estimate = float(data[g : n - g].mean())
    winsorized = np.clip(data, data[g], data[n - g - 1])
    se = float(winsorized.std(ddof=1)) / ((1 - 2 * g / n) * math.sqrt(n))
    return TrimmedT(estimate, se, kept - 1)

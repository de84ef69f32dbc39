"""Summary statistics of timing samples: a thin layer over scipy.stats."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["Samples", "Summary", "median_ci", "relative_ci_width", "summarize"]

Samples = Sequence[float] | npt.NDArray[Any]


def median_ci(samples: Samples, confidence: float = 0.95) -> tuple[float, float]:
    """Distribution-free confidence interval of the median (order statistics, binomial).

    Timing samples are skewed (a floor and a long right tail), so no normal approximation.
    Returns ``(nan, nan)`` when there are too few samples for the interval to exist.
    """
    from scipy import stats

    data = np.asarray(samples, dtype=np.float64)
    if data.size < 2:
        return (math.nan, math.nan)
    result = stats.quantile_test(data, q=float(np.median(data)), p=0.5)
    interval = result.confidence_interval(confidence_level=confidence)
    low, high = float(interval.low), float(interval.high)
    if not (math.isfinite(low) and math.isfinite(high)):
        return (math.nan, math.nan)
    return (low, high)


def relative_ci_width(samples: Samples, confidence: float = 0.95) -> float:
    """Width of the median's confidence interval over the median; inf when undefined."""
    low, high = median_ci(samples, confidence)
    median = float(np.median(samples)) if len(samples) else 0.0
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

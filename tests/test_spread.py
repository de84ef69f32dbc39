"""The spread between processes: one interval for the record and the gate."""

from __future__ import annotations

import math

import numpy as np
import pytest

from perfkit.engine.metrics import derive_metrics
from perfkit.model.workload import Work
from perfkit.verdict.spread import PRIOR_SPREAD, median_interval, ratio_spread
from perfkit.verdict.stats import median_ci


def test_a_median_interval_comes_from_the_processes_not_the_pooled_samples() -> None:
    """Three processes, one 20% off the others, 50 tight samples each: the pooled samples'
    interval says the median is known to a percent or so; the processes say it is not."""
    rng = np.random.default_rng(0)
    processes = [base + rng.exponential(1e-3, 50) for base in (1.0, 1.01, 1.2)]
    pooled = np.concatenate(processes)
    median = float(np.median(pooled))
    low, high = median_interval(median, processes)
    naive_low, naive_high = median_ci(pooled)
    assert (high - low) > 5 * (naive_high - naive_low)
    assert low < median < high
    metrics = derive_metrics(processes, {}, Work(flops=1.0), "cpu", {})
    assert (metrics["time/ci_low"], metrics["time/ci_high"]) == (low, high)


def test_agreeing_processes_narrow_the_interval_down_to_the_prior() -> None:
    one = median_interval(1.0, [[1.0]])
    many = median_interval(1.0, [[1.0]] * 16)
    assert one[0] < many[0] < 1.0 < many[1] < one[1]
    assert math.isnan(median_interval(1.0, [])[0])


def test_the_ratio_spread_grows_with_the_processes_spread() -> None:
    quiet = ratio_spread([[1.0], [1.01]], [[1.0], [1.01]], 1.0)
    noisy = ratio_spread([[1.0], [1.3]], [[1.0], [1.3]], 1.0)
    assert quiet is not None
    assert noisy is not None
    assert quiet.se < noisy.se
    assert quiet.p_value() == pytest.approx(1.0)
    assert ratio_spread([], [[1.0]], 1.0) is None
    # One process a side: the prior alone, over both sides.
    lone = ratio_spread([[1.0]], [[3.0]], 3.0)
    assert lone is not None
    assert lone.se == pytest.approx(PRIOR_SPREAD * math.sqrt(2))
    assert lone.p_value() < 1e-3
    assert lone.interval(0.95)[0] > 2

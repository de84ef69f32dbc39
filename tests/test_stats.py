"""Summaries and the confidence interval of the median."""

from __future__ import annotations

import math

import numpy as np
import pytest

from perfkit.verdict.stats import median_ci, relative_ci_width, summarize


def test_median_ci_covers_the_true_median_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(1)
    true_median = math.log(2)  # exponential(1)
    hits = 0
    trials = 400
    for _ in range(trials):
        low, high = median_ci(rng.exponential(size=40))
        hits += low <= true_median <= high
    assert 0.92 <= hits / trials <= 0.995


def test_median_ci_narrows_with_more_samples() -> None:
    rng = np.random.default_rng(2)
    small = relative_ci_width(rng.normal(10, 1, size=20))
    large = relative_ci_width(rng.normal(10, 1, size=2000))
    assert large < small / 4


def test_too_few_samples_have_no_interval() -> None:
    assert all(math.isnan(v) for v in median_ci([1.0]))
    assert relative_ci_width([1.0]) == math.inf


def test_summary_metrics() -> None:
    summary = summarize([1.0, 2.0, 3.0, 4.0, 100.0])
    assert summary.median == 3.0
    assert summary.minimum == 1.0
    assert summary.iqr == pytest.approx(2.0)
    metrics = summary.as_metrics()
    assert metrics["time/median"] == 3.0
    assert metrics["time/samples"] == 5.0
    with pytest.raises(ValueError, match="no samples"):
        summarize([])


@pytest.mark.parametrize("n", [6, 7, 10, 40, 199, 300, 1000])
def test_median_ci_matches_scipy_quantile_test(n: int) -> None:
    from scipy import stats

    samples = np.random.default_rng(n).lognormal(size=n)
    expected = stats.quantile_test(samples, q=float(np.median(samples)), p=0.5)
    interval = expected.confidence_interval(0.95)
    assert median_ci(samples) == (interval.low, interval.high)


def test_trimmed_t_without_trimming_is_the_one_sample_t_test() -> None:
    from scipy import stats

    from perfkit.verdict.stats import trimmed_t

    data = np.random.default_rng(4).normal(0.1, 1.0, size=12)
    plain = trimmed_t(data, trim=0.0)
    assert plain is not None
    assert plain.p_value() == pytest.approx(stats.ttest_1samp(data, 0.0).pvalue)
    low, high = plain.interval(0.95)
    reference = stats.ttest_1samp(data, 0.0).confidence_interval(0.95)
    assert (low, high) == pytest.approx((reference.low, reference.high))


def test_trimmed_t_covers_and_shrugs_off_a_stray_pair() -> None:
    """Its 95% interval covers the centre about 95% of the time on eight heavy-tailed
    values, and one value far out moves neither the estimate nor the interval much, where
    the plain t's interval widens several times."""
    from perfkit.verdict.stats import trimmed_t

    rng = np.random.default_rng(5)
    covered = 0
    for _ in range(2000):
        result = trimmed_t(rng.standard_t(3, size=8) * 0.02)
        assert result is not None
        low, high = result.interval(0.95)
        covered += low <= 0 <= high
    assert 0.93 <= covered / 2000 <= 0.99
    values = list(rng.normal(0.0, 0.01, size=8))
    clean = trimmed_t(values)
    stray = trimmed_t([*values[:-1], 0.4])
    plain = trimmed_t([*values[:-1], 0.4], trim=0.0)
    assert clean is not None
    assert stray is not None
    assert plain is not None
    assert abs(stray.estimate - clean.estimate) < 0.01
    width = stray.interval(0.95)[1] - stray.interval(0.95)[0]
    assert width < 2 * (clean.interval(0.95)[1] - clean.interval(0.95)[0])
    assert plain.interval(0.95)[1] - plain.interval(0.95)[0] > 3 * width
    assert trimmed_t([0.1, 0.2]) is None  # too few to estimate a spread

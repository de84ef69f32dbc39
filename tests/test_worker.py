"""Worker-side measurements: the peak-RSS reset that makes memory per case honest."""

from __future__ import annotations

import numpy as np
import pytest

from perfkit.engine.worker import memory_metrics, peak_rss, reset_peak_rss


@pytest.mark.skipif(not reset_peak_rss(), reason="the kernel refuses /proc/self/clear_refs")
def test_peak_rss_reset_forgets_an_earlier_peak() -> None:
    block = np.ones(64 << 20, dtype=np.uint8)  # touch 64 MiB
    high = peak_rss()
    del block
    assert reset_peak_rss()
    low = peak_rss()
    assert high is not None
    assert low is not None
    assert high - low > 48 << 20
    assert memory_metrics(True)["mem/peak_rss"] < high


def test_without_a_reset_the_resident_size_is_reported_instead() -> None:
    metrics = memory_metrics(False)
    assert set(metrics) == {"mem/rss_after"}
    assert metrics["mem/rss_after"] > 1 << 20

"""What the training workloads share: the verdict on a short fit. The loss must fall
(finite, the last tenth's mean below ``LOSS_FALL`` of the first tenth's), and the trained
model's held-out accuracy must land in its band: within ``ACCURACY_POINTS`` of a reference
fit's, or at least a workload's floor. What was found is recorded either way."""

from __future__ import annotations

from typing import Any

import numpy as np

from perfkit.model.workload import CheckResult

__all__ = ["ACCURACY_POINTS", "LOSS_FALL", "check_fit"]

ACCURACY_POINTS = 0.02
LOSS_FALL = 0.8


def check_fit(
    losses: np.ndarray[Any, Any],
    test_accuracy: float,
    *,
    reference: float | None = None,
    minimum: float | None = None,
) -> CheckResult:
    losses = np.asarray(losses, dtype=np.float64)
    if not np.all(np.isfinite(losses)):
        return CheckResult(False, None, "the training loss is not finite")
    tenth = max(1, len(losses) // 10)
    first, last = float(losses[:tenth].mean()), float(losses[-tenth:].mean())
    metrics = {
        "train/test_accuracy": test_accuracy,
        "train/loss_first": first,
        "train/loss_last": last,
    }
    if reference is not None:
        metrics["train/reference_accuracy"] = reference
    if last > LOSS_FALL * first:
        detail = f"the loss did not fall: {first:.4f} over the first tenth, {last:.4f} last"
        return CheckResult(False, None, detail, metrics)
    if reference is not None:
        gap = abs(test_accuracy - reference)
        if gap > ACCURACY_POINTS:
            detail = (
                f"held-out accuracy {test_accuracy:.4f} is {100 * gap:.1f} points from the "
                f"reference's {reference:.4f} (at most {100 * ACCURACY_POINTS:g})"
            )
            return CheckResult(False, gap, detail, metrics)
        return CheckResult(True, gap, "", metrics)
    if minimum is not None and test_accuracy < minimum:
        detail = f"held-out accuracy {test_accuracy:.4f} is below the band's {minimum:.2f}"
        return CheckResult(False, test_accuracy, detail, metrics)
    return CheckResult(True, test_accuracy, "", metrics)

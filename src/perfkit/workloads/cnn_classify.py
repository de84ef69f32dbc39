"""cnn_classify: a short fit of a small convolutional network (two 3x3 convolutions with
ReLU, max pooling to 4 x 4, a linear classifier) on images, ``STEPS`` steps of SGD with
momentum from PyTorch's initial parameters for the case's seed.

Data: scikit-learn's digits as 1 x 8 x 8 images (``digits``), the same upsampled to
32 x 32 (``digits_32``: 16 times the pixels, so the convolutions have work to do), or
seeded synthetic 32 x 32 images, a class template stamped anywhere on noise
(``synthetic``, 16,384 of them). The fit is checked: the loss falls and the held-out
accuracy lands in the dataset's band (``BANDS``; digits at least 0.95). A call is the whole
fit; ``throughput`` gives steps/s and samples/s."""

from __future__ import annotations

from typing import Any

import numpy as np

from perfkit.datasets.classification import Split, digits, synthetic_images
from perfkit.model.axes import Axis, Params, ParamSpace
from perfkit.model.registry import register_workload
from perfkit.model.workload import CheckResult, Work, workload
from perfkit.workloads._torch_fit import add_classifier_ports, batches, trained_accuracy
from perfkit.workloads._training import check_fit

STEPS = 200
DATASETS = ("digits", "digits_32", "synthetic")
BANDS = {"digits": 0.95, "digits_32": 0.95, "synthetic": 0.90}  # least held-out accuracy
_SYNTHETIC = {"n": 16_384, "side": 32, "classes": 10}


def _split(params: Params, rng: np.random.Generator) -> Split:
    dataset = params["dataset"]
    if dataset == "digits":
        return digits(rng, images=True)
    if dataset == "digits_32":
        return digits(rng, images=True, upsample=4)
    return synthetic_images(_SYNTHETIC["n"], _SYNTHETIC["side"], _SYNTHETIC["classes"], rng)


def _inputs(params: Params, rng: np.random.Generator) -> dict[str, Any]:
    split = _split(params, rng)
    x_batches, y_batches = batches(split.x_train, split.y_train, int(params["batch"]))
    return {
        "split": split,
        "x_batches": x_batches,
        "y_batches": y_batches,
        "seed": int(rng.integers(0, 2**31 - 1)),
    }


def build(inputs: dict[str, Any], params: Params) -> Any:
    """conv3x3(1 -> c) ReLU maxpool2, conv3x3(c -> 2c) ReLU, adaptive max pool to 4 x 4,
    linear; c is the ``channels`` axis."""
    from torch import nn

    channels = int(params["channels"])
    return nn.Sequential(
        nn.Conv2d(1, channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(channels, 2 * channels, 3, padding=1), nn.ReLU(), nn.AdaptiveMaxPool2d(4),
        nn.Flatten(), nn.Linear(2 * channels * 16, 10),
    )  # fmt: skip


def _truth(inputs: dict[str, Any], params: Params) -> dict[str, Any]:
    split = inputs["split"]
    return {"minimum": BANDS[str(params["dataset"])], "x": split.x_test, "y": split.y_test}


def _check(output: Any, truth: dict[str, Any], params: Params) -> CheckResult:
    losses, state = output
    found = trained_accuracy(build({}, params), state, truth["x"], truth["y"])
    return check_fit(losses, found, minimum=truth["minimum"])


def _work(params: Params) -> Work:
    batch = int(params["batch"])
    return Work(items=batch * STEPS, steps=STEPS, dtype="float32")


CNN_CLASSIFY = workload(
    name="cnn_classify",
    doc=f"{STEPS} SGD-momentum steps of a 2-conv CNN on images; held-out accuracy band",
    space=ParamSpace(
        (
            Axis(
                "dataset",
                DATASETS,
                quick=("digits",),
                choices=DATASETS,
                doc="digits (8x8), digits_32 (upsampled), synthetic (32x32 templates)",
            ),
            Axis("batch", (64, 256), quick=(64,), doc="images per step"),
            Axis("channels", (16, 64), quick=(16,), doc="channels of the first convolution"),
        )
    ),
    make_inputs=_inputs,
    expected=_truth,
    check=_check,
    work=_work,
    suite="nn",
)
add_classifier_ports(CNN_CLASSIFY, build, steps=STEPS)
register_workload(CNN_CLASSIFY)

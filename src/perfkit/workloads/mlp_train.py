"""mlp_train: a short fit of a small multilayer perceptron (two ReLU hidden layers of
``width``, softmax cross-entropy, SGD with momentum), ``STEPS`` steps from the same initial
parameters on every engine.

A call is the whole fit (time per step is its time over ``STEPS``; ``throughput`` gives
steps/s and samples/s). The answer is checked, not just timed: the loss must fall over
the fit, and the trained network's accuracy on the held-out part must be within
``ACCURACY_POINTS`` of the from-scratch float64 fit's (whose gradients equal PyTorch's:
tests/test_mlp_train.py). Ports: NumPy from scratch (the reference), PyTorch eager as a
module or as one functional step, each compiled (the model, or the whole step), and CuPy
from scratch with fused bias+ReLU, ReLU-gradient and momentum kernels."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from perfkit.datasets.classification import Split, digits, synthetic_vectors
from perfkit.model.axes import Axis, Params, ParamSpace
from perfkit.model.registry import register_workload
from perfkit.model.workload import CheckResult, Thunk, Work, workload
from perfkit.workloads._mlp import Ops, accuracy, fit, init_layers
from perfkit.workloads._torch_fit import batches, functional_trainer, module_trainer
from perfkit.workloads._training import check_fit

STEPS = 200
DATASETS = ("digits", "synthetic")
_SYNTHETIC = {"n": 32_768, "features": 784, "classes": 10}  # MNIST-shaped, for a GPU


def _split(params: Params, rng: np.random.Generator) -> Split:
    if params["dataset"] == "digits":
        return digits(rng)
    return synthetic_vectors(_SYNTHETIC["n"], _SYNTHETIC["features"], _SYNTHETIC["classes"], rng)


def _inputs(params: Params, rng: np.random.Generator) -> dict[str, Any]:
    split = _split(params, rng)
    width = int(params["width"])
    sizes = (split.x_train.shape[1], width, width, split.classes)
    x_batches, y_batches = batches(split.x_train, split.y_train, int(params["batch"]))
    return {
        "split": split,
        "sizes": sizes,
        "init": init_layers(sizes, rng),  # float64; every port starts from these
        "x_batches": x_batches,
        "y_batches": y_batches,
    }


def _names(sizes: tuple[int, ...]) -> list[str]:
    """The parameters' names as ``nn.Sequential(Linear, ReLU, ...)`` gives them."""
    return [f"{2 * i}.{kind}" for i in range(len(sizes) - 1) for kind in ("weight", "bias")]


def _truth(inputs: dict[str, Any], params: Params) -> dict[str, Any]:
    """The float64 from-scratch fit's held-out accuracy, and the held-out part."""
    split = inputs["split"]
    trained = [p.copy() for p in inputs["init"]]
    x_batches = inputs["x_batches"].astype(np.float64)
    fit(Ops(np), trained, x_batches, inputs["y_batches"], steps=STEPS)
    x_test = split.x_test.astype(np.float64)
    return {
        "accuracy": accuracy(np, trained, x_test, split.y_test),
        "x_test": x_test,
        "y_test": split.y_test,
    }


def _check(output: Any, truth: dict[str, Any], params: Params) -> CheckResult:
    losses, trained = output
    weights = [np.asarray(p, dtype=np.float64) for p in trained.values()]
    found = accuracy(np, weights, truth["x_test"], truth["y_test"])
    return check_fit(losses, found, reference=truth["accuracy"])


def _parameters(sizes: tuple[int, ...]) -> int:
    return sum(a * b + b for a, b in itertools.pairwise(sizes))


def _work(params: Params) -> Work:
    features = 64 if params["dataset"] == "digits" else _SYNTHETIC["features"]
    width, batch = int(params["width"]), int(params["batch"])
    weights = _parameters((features, width, width, 10))
    # a multiply-add per weight and sample: 2 forward, 4 backward (input and weight grads)
    return Work(flops=6.0 * weights * batch * STEPS, items=batch * STEPS, steps=STEPS,
                dtype="float32")  # fmt: skip


MLP_TRAIN = workload(
    name="mlp_train",
    doc=f"{STEPS} SGD-momentum steps of a 2-hidden-layer ReLU MLP; held-out accuracy band",
    space=ParamSpace(
        (
            Axis(
                "dataset",
                DATASETS,
                quick=("digits",),
                choices=DATASETS,
                doc="digits (scikit-learn, 8x8) or synthetic (784 features, 10 classes)",
            ),
            Axis("batch", (64, 256), quick=(64,), doc="samples per step"),
            Axis("width", (128, 1024), quick=(128,), doc="units per hidden layer"),
        )
    ),
    make_inputs=_inputs,
    expected=_truth,
    check=_check,
    work=_work,
    suite="nn",
)


@MLP_TRAIN.port("numpy", "scratch", reference=True)
def _numpy(inputs: dict[str, Any], params: Params) -> Thunk:
    """From scratch in float32: forward, backpropagation and momentum by hand."""
    return _scratch_fit(inputs, Ops(np), np.asarray)


def _scratch_fit(inputs: dict[str, Any], ops: Ops, to_device: Any) -> Thunk:
    """The from-scratch fit on ``ops``'s array module, inputs moved by ``to_device``:
    each call trains a float32 copy of the initial parameters."""
    x_batches = to_device(inputs["x_batches"].astype(np.float32))
    y_batches = to_device(inputs["y_batches"])
    initial = [to_device(p.astype(np.float32)) for p in inputs["init"]]
    names = _names(inputs["sizes"])

    def run() -> Any:
        trained = [p.copy() for p in initial]
        losses = fit(ops, trained, x_batches, y_batches, steps=STEPS)
        return losses, dict(zip(names, trained, strict=True))

    return run


def _torch_layers(inputs: dict[str, Any]) -> list[Any]:
    import torch

    return [torch.from_numpy(p.astype(np.float32)) for p in inputs["init"]]


@MLP_TRAIN.port("torch_eager", "module")
def _torch_module(inputs: dict[str, Any], params: Params) -> Thunk:
    """``nn.Sequential`` of ``nn.Linear`` and ``nn.ReLU``, ``loss.backward()``,
    ``torch.optim.SGD(momentum=0.9)``."""
    import torch
    from torch import nn

    from perfkit.backends.torch_eager import torch_device

    sizes = inputs["sizes"]
    layers: list[nn.Module] = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    model = nn.Sequential(*layers[:-1])
    with torch.no_grad():
        for param, value in zip(model.parameters(), _torch_layers(inputs), strict=True):
            param.copy_(value)
    model.to(torch_device())
    return module_trainer(model, inputs["x_batches"], inputs["y_batches"], steps=STEPS)


def _mlp_loss(params: Any, x: Any, y: Any) -> Any:
    from torch.nn import functional as nnf

    hidden = x
    for i in range(0, len(params) - 2, 2):
        hidden = nnf.relu(nnf.linear(hidden, params[i], params[i + 1]))
    return nnf.cross_entropy(nnf.linear(hidden, params[-2], params[-1]), y)


@MLP_TRAIN.port("torch_eager", "step")
def _torch_step(inputs: dict[str, Any], params: Params) -> Thunk:
    """One training step as a function: ``torch.func.grad_and_value`` of the loss, then
    the momentum update with ``_foreach`` ops (compiled: the whole step one graph)."""
    return functional_trainer(
        _mlp_loss, _torch_layers(inputs), _names(inputs["sizes"]),
        inputs["x_batches"], inputs["y_batches"], steps=STEPS,
    )  # fmt: skip


@MLP_TRAIN.port("cupy", "scratch_fused")
def _cupy(inputs: dict[str, Any], params: Params) -> Thunk:
    """From scratch on the GPU: the NumPy port's code on CuPy arrays (GEMMs in cuBLAS),
    with bias+ReLU, the ReLU gradient and the momentum update each one fused kernel."""
    from perfkit.workloads._gpu import cupy_of
    from perfkit.workloads._mlp_cupy import FusedOps

    cp = cupy_of("cupy")
    return _scratch_fit(inputs, FusedOps(cp), cp.asarray)


register_workload(MLP_TRAIN)

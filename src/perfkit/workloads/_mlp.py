"""A multilayer perceptron written from scratch, for any array module with NumPy's API
(NumPy on the CPU, CuPy on the GPU): ReLU hidden layers, a softmax cross-entropy loss
averaged over the batch, backpropagation by hand, and SGD with momentum as PyTorch's
``torch.optim.SGD`` does it (``v = momentum * v + g``; ``p -= lr * v``).

Parameters are ``[W1, b1, W2, b2, ...]`` with each ``W`` shaped (out, in), as in
``torch.nn.Linear``, and drawn as ``nn.Linear`` draws them: weights and biases uniform
in +-1/sqrt(fan_in) (Kaiming-uniform with a = sqrt(5)). The elementwise pieces (bias plus
ReLU, ReLU's gradient, the momentum update) are an ``Ops`` a GPU port replaces with fused
kernels; the rest is the same code on every array module."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "LEARNING_RATE", "MOMENTUM", "Ops", "accuracy", "fit", "init_layers", "logits",
    "loss_and_grads",
]  # fmt: skip

LEARNING_RATE = 0.05
MOMENTUM = 0.9

Array = Any  # a NumPy or CuPy array


def init_layers(sizes: Sequence[int], rng: np.random.Generator) -> list[np.ndarray[Any, Any]]:
    """``[W1, b1, ...]`` for layer widths ``sizes`` (inputs first), in float64."""
    params = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        bound = 1.0 / np.sqrt(fan_in)
        params.append(rng.uniform(-bound, bound, size=(fan_out, fan_in)))
        params.append(rng.uniform(-bound, bound, size=fan_out))
    return params


class Ops:
    """The elementwise steps, as plain array expressions (NumPy's; CuPy's would launch a
    kernel per operator, which the CuPy port fuses)."""

    def __init__(self, xp: Any) -> None:
        self.xp = xp

    def bias_relu(self, z: Array, bias: Array) -> Array:
        """relu(z + bias), in place of z."""
        z += bias
        return self.xp.maximum(z, 0, out=z)

    def relu_grad(self, grad: Array, activation: Array) -> Array:
        """The gradient through a ReLU whose output was ``activation``, in place."""
        grad *= activation > 0
        return grad

    def momentum_step(self, param: Array, grad: Array, velocity: Array, lr: float) -> None:
        velocity *= MOMENTUM
        velocity += grad
        param -= lr * velocity


def _forward(ops: Ops, params: Sequence[Array], x: Array) -> tuple[list[Array], Array]:
    """The hidden activations (the input first) and the logits."""
    activations = [x]
    for i in range(0, len(params) - 2, 2):
        activations.append(ops.bias_relu(activations[-1] @ params[i].T, params[i + 1]))
    return activations, activations[-1] @ params[-2].T + params[-1]


def logits(xp: Any, params: Sequence[Array], x: Array) -> Array:
    return _forward(Ops(xp), params, x)[1]


def loss_and_grads(
    ops: Ops, params: Sequence[Array], x: Array, y: Array
) -> tuple[Array, list[Array]]:
    """Mean cross-entropy of the batch (a 0-d array, left on the device) and its gradient
    with respect to every parameter, by backpropagation."""
    xp = ops.xp
    activations, out = _forward(ops, params, x)
    batch = x.shape[0]
    rows = xp.arange(batch)
    shifted = out - out.max(axis=1, keepdims=True)
    log_probs = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[rows, y].mean()
    delta = xp.exp(log_probs)  # d loss / d logits: (softmax - onehot) / batch
    delta[rows, y] -= 1
    delta /= batch
    grads: list[Array] = [None] * len(params)
    for layer in range(len(params) // 2 - 1, -1, -1):
        below = activations[layer]
        grads[2 * layer] = delta.T @ below
        grads[2 * layer + 1] = delta.sum(axis=0)
        if layer:
            delta = ops.relu_grad(delta @ params[2 * layer], below)
    return loss, grads


def fit(
    ops: Ops,
    params: Sequence[Array],
    x_batches: Array,
    y_batches: Array,
    *,
    steps: int,
    lr: float = LEARNING_RATE,
) -> Array:
    """``steps`` steps of SGD with momentum from zero velocity, updating ``params`` in
    place, over the batches in turn (``x_batches[i % len]``); the loss of every step."""
    xp = ops.xp
    velocity = [xp.zeros_like(p) for p in params]
    losses = xp.empty(steps, dtype=params[0].dtype)
    for step in range(steps):
        batch = step % len(x_batches)
        loss, grads = loss_and_grads(ops, params, x_batches[batch], y_batches[batch])
        losses[step] = loss
        for param, grad, v in zip(params, grads, velocity, strict=True):
            ops.momentum_step(param, grad, v, lr)
    return losses


def accuracy(xp: Any, params: Sequence[Array], x: Array, y: Array) -> float:
    return float((logits(xp, params, x).argmax(axis=1) == y).mean())

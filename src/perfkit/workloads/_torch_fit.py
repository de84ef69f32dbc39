"""The training loops the PyTorch ports of the training workloads share, written once for
eager and compiled runs: ``torch_compile`` compiles the part each marks with ``compiled``.

- ``module_trainer``: an ``nn.Module``, ``loss.backward()`` and ``torch.optim.SGD``, the
  way most PyTorch code trains; compiled, the model's forward (and, through AOTAutograd,
  its backward) is one graph, the optimiser stays eager.
- ``functional_trainer``: one training step as a function (``torch.func.grad_and_value``
  of the loss, then the momentum update with ``_foreach`` ops); compiled, forward, backward
  and optimiser step are one graph, which ``reduce-overhead`` replays as a CUDA graph on
  ``cuda``.

Every call trains from the same initial parameters with zero momentum for ``steps`` steps
over the batches in turn, keeps each step's loss on the device (no sync in the loop), and
returns the losses and the trained parameters for the checker."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from perfkit.workload import Thunk
from perfkit.workloads._mlp import LEARNING_RATE, MOMENTUM

__all__ = ["batches", "functional_trainer", "module_trainer"]


def batches(
    x: np.ndarray[Any, Any], y: np.ndarray[Any, Any], size: int
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """The training set as whole batches of ``size`` in its (seeded) order: arrays shaped
    (batches, size, ...); the remainder is left out, as ``drop_last`` does."""
    count = len(y) // size
    if count < 1:
        raise ValueError(f"batch {size} is larger than the training set ({len(y)} samples)")
    return x[: count * size].reshape(count, size, *x.shape[1:]), y[: count * size].reshape(
        count, size
    )


def _on_device(x_batches: Any, y_batches: Any) -> tuple[Any, Any]:
    from perfkit.backends.torch_eager import torch_of

    return torch_of(np.ascontiguousarray(x_batches)), torch_of(y_batches)


def module_trainer(
    model: Any, x_batches: np.ndarray[Any, Any], y_batches: np.ndarray[Any, Any], *, steps: int
) -> Thunk:
    """``steps`` steps of ``model`` (on the run's device) with cross-entropy and
    ``torch.optim.SGD(momentum)``; ``torch_compile`` compiles the model."""
    import torch
    from torch.nn import functional as nnf

    from perfkit.backends.torch_eager import compiled

    xb, yb = _on_device(x_batches, y_batches)
    params = list(model.parameters())
    initial = [p.detach().clone() for p in params]
    forward = compiled(model)
    optimizer = torch.optim.SGD(params, lr=LEARNING_RATE, momentum=MOMENTUM)
    losses = torch.empty(steps, device=xb.device)

    def run() -> Any:
        with torch.no_grad():
            torch._foreach_copy_(params, initial)
        optimizer.state.clear()  # momentum from zero: the first step's buffer is the grad
        for step in range(steps):
            batch = step % len(xb)
            optimizer.zero_grad(set_to_none=True)
            loss = nnf.cross_entropy(forward(xb[batch]), yb[batch])
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            losses[step] = loss.detach()
        return losses, {name: p.detach() for name, p in model.named_parameters()}

    return run


def functional_trainer(
    loss_of: Callable[[Sequence[Any], Any, Any], Any],
    params: Sequence[Any],
    names: Sequence[str],
    x_batches: np.ndarray[Any, Any],
    y_batches: np.ndarray[Any, Any],
    *,
    steps: int,
) -> Thunk:
    """``steps`` steps of ``loss_of(params, x, y)``'s gradient and SGD with momentum, the
    step one function; ``torch_compile`` compiles the whole step."""
    import torch

    from perfkit.backends.torch_eager import compiled

    xb, yb = _on_device(x_batches, y_batches)
    params = [p.detach().to(xb.device) for p in params]
    initial = [p.clone() for p in params]
    velocity = [torch.zeros_like(p) for p in params]
    for tensor in (*params, *velocity):  # fixed addresses: a CUDA graph updates them in place
        torch._dynamo.mark_static_address(tensor)
    grad_and_loss = torch.func.grad_and_value(loss_of)

    def step(x: Any, y: Any) -> Any:
        grads, loss = grad_and_loss(params, x, y)
        torch._foreach_mul_(velocity, MOMENTUM)
        torch._foreach_add_(velocity, grads)
        torch._foreach_add_(params, velocity, alpha=-LEARNING_RATE)
        return loss

    train_step = compiled(step)
    losses = torch.empty(steps, device=xb.device)

    def run() -> Any:
        torch._foreach_copy_(params, initial)
        torch._foreach_zero_(velocity)
        for index in range(steps):
            batch = index % len(xb)
            losses[index] = train_step(xb[batch], yb[batch])
        return losses, dict(zip(names, params, strict=True))

    return run

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

from perfkit.model.axes import Params
from perfkit.model.workload import Implementation, Thunk, Workload
from perfkit.workloads._common import accuracy
from perfkit.workloads._mlp import LEARNING_RATE, MOMENTUM

__all__ = [
    "add_classifier_ports",
    "batches",
    "functional_trainer",
    "module_trainer",
    "trained_accuracy",
]  # fmt: skip


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
    model: Any,
    x_batches: np.ndarray[Any, Any],
    y_batches: np.ndarray[Any, Any],
    *,
    steps: int,
    lr: float = LEARNING_RATE,
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
    optimizer = torch.optim.SGD(params, lr=lr, momentum=MOMENTUM)
    losses = torch.empty(steps, device=xb.device)

    def run() -> Any:
        with torch.no_grad():
            torch._foreach_copy_(params, initial)
        optimizer.state.clear()  # momentum from zero: the first step's buffer is the grad
        for step in range(steps):
            batch = step % len(xb)
            optimizer.zero_grad(set_to_none=True)
            loss = nnf.cross_entropy(forward(xb[batch]), yb[batch])
            loss.backward()  # type: ignore[no-untyped-call, unused-ignore]
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
    lr: float = LEARNING_RATE,
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
        torch._foreach_add_(params, velocity, alpha=-lr)
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


def add_classifier_ports(
    workload: Workload,
    build: Callable[[dict[str, Any], Params], Any],
    *,
    steps: int,
    lr: float = LEARNING_RATE,
) -> None:
    """A torch-only training workload's two eager ports (``torch_compile`` derives its
    own from them): ``module`` (the reference) and ``step``. ``build(inputs, params)``
    makes the model, its initial parameters drawn by PyTorch from the inputs' seed."""

    def made(inputs: dict[str, Any], params: Params) -> Any:
        import torch

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(inputs["seed"])
            return build(inputs, params)

    def module(inputs: dict[str, Any], params: Params) -> Thunk:
        from perfkit.backends.torch_eager import torch_device

        model = made(inputs, params).to(torch_device())
        x_batches, y_batches = inputs["x_batches"], inputs["y_batches"]
        return module_trainer(model, x_batches, y_batches, steps=steps, lr=lr)

    def step(inputs: dict[str, Any], params: Params) -> Thunk:
        import torch
        from torch.nn import functional as nnf

        from perfkit.backends.torch_eager import torch_device

        model = made(inputs, params)
        names = [name for name, _ in model.named_parameters()]

        def loss_of(weights: Sequence[Any], x: Any, y: Any) -> Any:
            state = dict(zip(names, weights, strict=True))
            return nnf.cross_entropy(torch.func.functional_call(model, state, (x,)), y)

        model.to(torch_device())
        weights = [p.detach() for p in model.parameters()]
        return functional_trainer(
            loss_of, weights, names, inputs["x_batches"], inputs["y_batches"], steps=steps,
            lr=lr,
        )  # fmt: skip

    workload.add(
        Implementation(
            workload.name, "torch_eager", "module", module, reference=True,
            doc="nn.Module, loss.backward(), torch.optim.SGD(momentum=0.9)",
        )
    )  # fmt: skip
    workload.add(
        Implementation(
            workload.name, "torch_eager", "step", step,
            doc="one functional step: torch.func.grad_and_value, then _foreach momentum",
        )
    )  # fmt: skip


def trained_accuracy(
    model: Any, state: dict[str, np.ndarray[Any, Any]], x: np.ndarray[Any, Any], y: Any
) -> float:
    """The accuracy on (x, y) of ``model`` (on the CPU) with the trained ``state``."""
    import torch

    with torch.no_grad():
        weights = {name: torch.from_numpy(np.asarray(v)) for name, v in state.items()}
        predicted = []
        for start in range(0, len(y), 1024):
            batch = torch.from_numpy(x[start : start + 1024])
            out = torch.func.functional_call(model, weights, (batch,))
            predicted.append(out.argmax(dim=1).numpy())
    return accuracy(np.concatenate(predicted), y)

"""mlp_train: the from-scratch MLP is proven, not claimed (its gradients and its momentum
step equal PyTorch's autograd and ``torch.optim.SGD`` on one batch), and the checker turns
a fit that does not learn into ``invalid``."""

from __future__ import annotations

import numpy as np
import pytest

from perfkit.datasets.classification import digits
from perfkit.workloads._mlp import LEARNING_RATE, MOMENTUM, Ops, fit, init_layers, loss_and_grads
from perfkit.workloads._training import check_fit
from tests.conftest import torch_marks

torch = pytest.importorskip("torch", reason="the gradient test compares with PyTorch's autograd")
pytestmark = torch_marks()


def _batch(dtype: type) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    split = digits(rng)
    params = [p.astype(dtype) for p in init_layers((64, 48, 32, 10), rng)]
    return params, split.x_train[:64].astype(dtype), split.y_train[:64]


def _torch_model(params: list[np.ndarray]) -> torch.nn.Sequential:
    model = torch.nn.Sequential(
        torch.nn.Linear(64, 48), torch.nn.ReLU(), torch.nn.Linear(48, 32), torch.nn.ReLU(),
        torch.nn.Linear(32, 10),
    ).to(torch.from_numpy(params[0]).dtype)  # fmt: skip
    with torch.no_grad():
        for param, value in zip(model.parameters(), params, strict=True):
            param.copy_(torch.from_numpy(value))
    return model


@pytest.mark.parametrize(("dtype", "tolerance"), [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_scratch_gradients_equal_torch_autograd(dtype: type, tolerance: float) -> None:
    params, x, y = _batch(dtype)
    loss, grads = loss_and_grads(Ops(np), [p.copy() for p in params], x, y)
    model = _torch_model(params)
    expected = torch.nn.functional.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(y))
    expected.backward()
    assert float(loss) == pytest.approx(expected.item(), rel=tolerance)
    for ours, theirs in zip(grads, model.parameters(), strict=True):
        reference = theirs.grad.numpy()
        error = np.abs(ours - reference).max() / np.abs(reference).max()
        assert ours.shape == reference.shape
        assert error <= tolerance, error


def test_scratch_momentum_steps_equal_torch_sgd() -> None:
    params, x, y = _batch(np.float64)
    ours = [p.copy() for p in params]
    fit(Ops(np), ours, x[None], y[None], steps=3)  # three steps on the one batch
    model = _torch_model(params)
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)
    for _ in range(3):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(
            model(torch.from_numpy(x)), torch.from_numpy(y)
        ).backward()
        optimizer.step()
    for mine, theirs in zip(ours, model.parameters(), strict=True):
        np.testing.assert_allclose(mine, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_a_fit_that_does_not_learn_is_invalid() -> None:
    falling = np.linspace(2.3, 0.3, 100)
    assert check_fit(falling, 0.95, reference=0.96).ok
    flat = check_fit(np.full(100, 2.3), 0.95, reference=0.96)
    assert not flat.ok
    assert "did not fall" in flat.detail
    assert flat.metrics["train/loss_last"] == pytest.approx(2.3)
    far = check_fit(falling, 0.90, reference=0.96)
    assert not far.ok
    assert "6.0 points" in far.detail
    assert not check_fit(np.array([2.3, np.nan]), 0.95, reference=0.96).ok
    assert check_fit(falling, 0.96, minimum=0.95).ok
    low = check_fit(falling, 0.90, minimum=0.95)
    assert not low.ok
    assert "below the band's 0.95" in low.detail

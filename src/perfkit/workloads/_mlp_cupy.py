"""The from-scratch MLP's elementwise steps as fused CuPy kernels: one launch each for
bias plus ReLU, the gradient through a ReLU, and a parameter's momentum update (CuPy's
array expressions would launch one kernel per operator and write a temporary each)."""

from __future__ import annotations

from typing import Any

from perfkit.workloads._mlp import MOMENTUM, Array, Ops

__all__ = ["FusedOps"]


class FusedOps(Ops):
    def __init__(self, cp: Any) -> None:
        super().__init__(cp)
        # ElementwiseKernel broadcasts: a (batch, width) matrix with a (width,) bias
        self._bias_relu = cp.ElementwiseKernel(
            "T bias", "T z", "z = max(z + bias, (T)0)", "perfkit_bias_relu"
        )
        self._relu_grad = cp.ElementwiseKernel(
            "T activation", "T grad", "grad = activation > (T)0 ? grad : (T)0",
            "perfkit_relu_grad",
        )  # fmt: skip
        self._momentum = cp.ElementwiseKernel(
            "T grad, T lr, T momentum", "T param, T velocity",
            "velocity = momentum * velocity + grad; param -= lr * velocity",
            "perfkit_sgd_momentum",
        )  # fmt: skip

    def bias_relu(self, z: Array, bias: Array) -> Array:
        self._bias_relu(bias, z)
        return z

    def relu_grad(self, grad: Array, activation: Array) -> Array:
        self._relu_grad(activation, grad)
        return grad

    def momentum_step(self, param: Array, grad: Array, velocity: Array, lr: float) -> None:
        kind = param.dtype.type
        self._momentum(grad, kind(lr), kind(MOMENTUM), param, velocity)

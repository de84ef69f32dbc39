"""PyTorch in eager mode: each op dispatched as Python calls it. The device is chosen per
run (``--device cpu|cuda``, default cuda when PyTorch sees one) and recorded with the
backend. On the CPU, intra-op threads are pinned to the run's ``--threads``
(``torch.set_num_threads``, recorded per case); on CUDA, calls are timed with CUDA events on
the current stream, and float32 means float32: TF32 is off for matmul and cuDNN unless a
port says otherwise (the ``tf32`` matmul, labelled)."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
from collections.abc import Callable, Iterator
from typing import Any

from perfkit.backends._cuda import l2_flush_bytes
from perfkit.integrations.torch_run import ENV_DEVICE
from perfkit.machine.nvml import device_monitor
from perfkit.model.backend import (
    Availability,
    CpuBackend,
    Device,
    package_versions,
    register_backend,
)
from perfkit.model.monitor import CaseMonitor, NullMonitor
from perfkit.model.timers import CudaEventTimer, Timer, WallTimer

__all__ = ["TORCH_EAGER", "compiled", "selected_device", "torch_device", "torch_of"]


# What torch_compile compiles of a port that marks a part (see ``compiled``); None: eager.
_COMPILER: contextvars.ContextVar[Callable[[Any], Any] | None] = contextvars.ContextVar(
    "perfkit_torch_compiler", default=None
)


@functools.cache
def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def selected_device() -> Device:
    """The run's device: ``PERFKIT_TORCH_DEVICE`` (set by ``--device``), else cuda when
    PyTorch sees a CUDA device, else cpu."""
    chosen = os.environ.get(ENV_DEVICE, "")
    if chosen == "cuda":
        return "cuda"
    if chosen == "cpu":
        return "cpu"
    return "cuda" if _cuda_available() else "cpu"


class _TorchClock:
    def event(self) -> Any:
        import torch

        return torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call, unused-ignore]

    def seconds(self, start: Any, end: Any) -> float:
        return float(start.elapsed_time(end)) / 1000.0


class TorchEagerBackend(CpuBackend):
    name = "torch_eager"
    label = "PyTorch eager"
    color = "#ee4c2c"
    packages = ("torch",)

    @property  # CpuBackend's device is fixed; this one is chosen per run
    def device(self) -> Device:  # type: ignore[override]
        return selected_device()

    def probe(self) -> Availability:
        try:
            import torch
        except ImportError:
            return Availability.no(
                "torch is not installed (docs/torch.md: without a GPU, its CPU build first)"
            )
        if self.device == "cuda" and not torch.cuda.is_available():
            return Availability.no("--device cuda: PyTorch sees no CUDA device")
        return Availability.yes()

    def threads(self) -> int | None:
        threads = os.environ.get("PERFKIT_THREADS", "0")
        return int(threads) if threads not in ("", "0") else None

    def session(self) -> contextlib.AbstractContextManager[Any]:
        return self._session()

    @contextlib.contextmanager
    def _session(self) -> Iterator[None]:
        import torch

        before = torch.get_num_threads()
        if (threads := self.threads()) is not None:
            torch.set_num_threads(threads)
        precision = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
        if self.device == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
            torch.ones(1, device="cuda").sum().item()  # the context, here, not in a case
        try:
            yield
        finally:
            torch.set_num_threads(before)
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = precision
            if self.device == "cuda":
                torch.cuda.empty_cache()

    def from_device(self, value: Any) -> Any:
        """Tensors (also inside tuples, lists and dicts) as NumPy arrays on the host;
        bfloat16 and float16 widened to float32 (NumPy has no bfloat16)."""
        import torch

        if isinstance(value, torch.Tensor):
            if value.dtype in (torch.bfloat16, torch.float16):
                value = value.float()
            return value.detach().cpu().numpy()
        if isinstance(value, (tuple, list)):
            return type(value)(self.from_device(v) for v in value)
        if isinstance(value, dict):
            return {k: self.from_device(v) for k, v in value.items()}
        return value

    def sync(self) -> None:
        if self.device == "cuda":
            import torch

            torch.cuda.synchronize()

    def timer(self, cold: bool = False) -> Timer:
        if self.device != "cuda":
            return WallTimer(self.sync)
        return CudaEventTimer(_TorchClock(), self.sync, self._flush() if cold else None)

    def _flush(self) -> Callable[[], None]:
        import torch

        l2 = int(getattr(torch.cuda.get_device_properties(0), "L2_cache_size", 0))
        buffer = torch.empty(l2_flush_bytes(l2), dtype=torch.uint8, device="cuda")

        def flush() -> None:
            buffer.zero_()

        return flush

    def monitor(self) -> CaseMonitor:
        if self.device != "cuda":
            return NullMonitor()
        import torch

        return device_monitor(0, before_case=torch.cuda.empty_cache)

    def versions(self) -> dict[str, str]:
        found = package_versions(*self.packages)
        if self.device == "cuda":
            import torch

            found["torch_cuda"] = str(torch.version.cuda)
            found["cudnn"] = str(torch.backends.cudnn.version())  # type: ignore[no-untyped-call, unused-ignore]
        return found

    def settings(self) -> dict[str, str]:
        found: dict[str, str] = {"device": self.device}
        if self.device == "cuda":
            import torch

            found["gpu"] = torch.cuda.get_device_name(0)
            found["tf32"] = "off (matmul and cuDNN; only the labelled tf32 port uses it)"
        return found

    def call_metrics(self, thunk: Callable[[], Any]) -> dict[str, float]:
        """The intra-op threads the case ran with (``torch/threads``)."""
        import torch

        return {"torch/threads": float(torch.get_num_threads())}


def torch_device() -> Any:
    """The ``torch.device`` the run's ports put their tensors on."""
    import torch

    return torch.device(selected_device())


def torch_of(array: Any) -> Any:
    """``array`` as a tensor on the run's device (sharing its memory on the CPU); inputs
    are converted in a port's set-up, before timing. A read-only array (a case's inputs,
    shared by every port of its group, are frozen) is copied first: a tensor cannot be
    read-only, and one sharing the inputs would let a port that writes in place corrupt
    them for the ports after it."""
    import torch

    if not getattr(getattr(array, "flags", None), "writeable", True):
        array = array.copy()
    return torch.from_numpy(array).to(torch_device())


def compiled(part: Any) -> Any:
    """The part of an eager port that ``torch_compile`` compiles (a model, one training
    step), where compiling the whole thunk is the wrong unit: a loop of steps would be
    unrolled into one graph. Eager, ``part`` itself."""
    compiler = _COMPILER.get()
    return part if compiler is None else compiler(part)


@contextlib.contextmanager
def compiling_with(compiler: Callable[[Any], Any]) -> Iterator[None]:
    """While a ``torch_compile`` port is prepared: ``compiled(part)`` is ``compiler(part)``."""
    token = _COMPILER.set(compiler)
    try:
        yield
    finally:
        _COMPILER.reset(token)


TORCH_EAGER = TorchEagerBackend()
register_backend(TORCH_EAGER)

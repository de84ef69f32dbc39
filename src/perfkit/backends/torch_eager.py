"""PyTorch in eager mode on the CPU: each op dispatched as Python calls it, in intra-op
threads pinned to the run's ``--threads`` (``torch.set_num_threads``, recorded)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

from perfkit.backend import Availability, CpuBackend, package_versions, register_backend

__all__ = ["TORCH_EAGER", "torch_of"]


class TorchEagerBackend(CpuBackend):
    name = "torch_eager"
    label = "PyTorch eager"
    color = "#ee4c2c"

    def probe(self) -> Availability:
        try:
            import torch  # noqa: F401
        except ImportError:
            return Availability.no(
                "torch is not installed (pip install torch==2.13.0 takes the CPU build)"
            )
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
        try:
            yield
        finally:
            torch.set_num_threads(before)

    def versions(self) -> dict[str, str]:
        return package_versions("torch")

    def settings(self) -> dict[str, str]:
        return {"device": "cpu"}

    def call_metrics(self, thunk: Callable[[], Any]) -> dict[str, float]:
        """The intra-op threads the case ran with (``torch/threads``)."""
        import torch

        return {"torch/threads": float(torch.get_num_threads())}


def torch_of(array: Any) -> Any:
    """A CPU tensor sharing ``array``'s memory (inputs are converted before timing)."""
    import torch

    return torch.from_numpy(array)


TORCH_EAGER = TorchEagerBackend()
register_backend(TORCH_EAGER)

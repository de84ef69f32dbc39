"""What a run's PyTorch cases share, arranged before any worker starts: the device
(``--device cpu|cuda``; default cuda when PyTorch sees one), which workers inherit through
``PERFKIT_TORCH_DEVICE``, and the Inductor cache, kept in a folder of the run's own (each
compiled case compiles into a fresh one under it) and removed when the run ends, so no
compiled case reuses another run's kernels and nothing is left in the user's cache."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence

from perfkit.model.workload import Case

__all__ = ["ENV_DEVICE", "add_torch_options", "torch_for_run"]

ENV_DEVICE = "PERFKIT_TORCH_DEVICE"  # cpu or cuda, as --device said; unset: cuda when seen

_TORCH_BACKENDS = ("torch_eager", "torch_compile")


def add_torch_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("pytorch")
    group.add_argument(
        "--device",
        choices=("cpu", "cuda"),
        help="where torch_eager and torch_compile run (default: cuda when PyTorch sees a "
        "CUDA device, else cpu); recorded with the backend",
    )


@contextlib.contextmanager
def torch_for_run(args: argparse.Namespace, cases: Sequence[Case]) -> Iterator[None]:
    """Set the device and a run-own Inductor cache for the workers of ``cases``."""
    keys = (ENV_DEVICE, "TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR")
    saved = {key: os.environ.get(key) for key in keys}
    folder = None
    try:
        if getattr(args, "device", None):
            os.environ[ENV_DEVICE] = args.device
        if (
            any(c.implementation.backend in _TORCH_BACKENDS for c in cases)
            and not saved["TORCHINDUCTOR_CACHE_DIR"]
        ):
            folder = tempfile.mkdtemp(prefix="perfkit-inductor-")
            os.environ["TORCHINDUCTOR_CACHE_DIR"] = folder
            os.environ["TRITON_CACHE_DIR"] = os.path.join(folder, "triton")
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

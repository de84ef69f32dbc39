"""Where the C allocator (``native/``) and the CUDA kernels (``kernels/``) are: top-level
folders of a source tree, shipped inside an installed wheel as ``perfkit/_native`` and
``perfkit/_kernels`` (pyproject.toml maps them), or wherever an environment variable says."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["shipped_folder"]

_PACKAGE = Path(__file__).resolve().parents[1]  # the perfkit package folder


def shipped_folder(name: str, variable: str) -> Path:
    """``$variable`` when set; else the installed copy (``perfkit/_<name>``) when there is
    one; else the source tree's ``<name>/`` (an editable install or a checkout)."""
    override = os.environ.get(variable)
    if override:
        return Path(override)
    installed = _PACKAGE / f"_{name}"
    if installed.is_dir():
        return installed
    return _PACKAGE.parents[1] / name

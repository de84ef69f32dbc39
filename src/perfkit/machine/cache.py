"""Where perfkit keeps what it builds or measures once per machine: ceilings, native builds,
the callgrind toggle library, the state of a kept Spark cluster."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_dir"]


def cache_dir() -> Path:
    """``$PERFKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/perfkit``, else ``~/.cache/perfkit``."""
    root = os.environ.get("PERFKIT_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "perfkit"
    )
    return Path(root)

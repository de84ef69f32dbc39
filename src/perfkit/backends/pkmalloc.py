"""pkmalloc, perfkit's own allocator (``native/src/``), built on first use."""

from __future__ import annotations

from pathlib import Path

from perfkit.backends._allocator import AllocatorBackend
from perfkit.model.backend import register_backend


class PkmallocBackend(AllocatorBackend):
    name = "pkmalloc"
    label = "pkmalloc (native/)"
    color = "#8e44ad"

    def locate(self) -> None:
        """Built from ``native/`` on first use: nothing to find until then."""

    def preload(self) -> Path | None:
        from perfkit.native.build import library

        return library()


register_backend(PkmallocBackend())

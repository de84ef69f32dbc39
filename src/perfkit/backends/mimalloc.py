"""mimalloc 2 (Debian libmimalloc2.0), as the allocator of the native drivers."""

from __future__ import annotations

from perfkit.backends._allocator import AllocatorBackend
from perfkit.model.backend import register_backend


class MimallocBackend(AllocatorBackend):
    name = "mimalloc"
    label = "mimalloc 2 (Debian libmimalloc2.0)"
    color = "#29b34a"
    soname = "libmimalloc.so.2"
    package = "libmimalloc2.0"


register_backend(MimallocBackend())

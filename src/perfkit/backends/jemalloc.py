"""jemalloc 5 (Debian libjemalloc2), as the allocator of the native drivers."""

from __future__ import annotations

from perfkit.backends._allocator import AllocatorBackend
from perfkit.model.backend import register_backend


class JemallocBackend(AllocatorBackend):
    name = "jemalloc"
    label = "jemalloc 5 (Debian libjemalloc2)"
    color = "#e4572e"
    soname = "libjemalloc.so.2"
    package = "libjemalloc2"


register_backend(JemallocBackend())

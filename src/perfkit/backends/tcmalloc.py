"""tcmalloc (gperftools, minimal), as the allocator of the native drivers."""

from __future__ import annotations

from perfkit.backends._allocator import AllocatorBackend
from perfkit.model.backend import register_backend


class TcmallocBackend(AllocatorBackend):
    name = "tcmalloc"
    label = "tcmalloc (gperftools, minimal)"
    color = "#f3a712"
    soname = "libtcmalloc_minimal.so.4"
    package = "libtcmalloc-minimal4"


register_backend(TcmallocBackend())

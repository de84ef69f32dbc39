"""glibc's malloc (nothing preloaded), as the allocator of the native drivers."""

from __future__ import annotations

from perfkit.backends._allocator import AllocatorBackend
from perfkit.model.backend import register_backend


class GlibcBackend(AllocatorBackend):
    name = "glibc"
    label = "glibc's malloc (nothing preloaded)"
    color = "#4d77cf"
    soname = None
    package = "libc6"


register_backend(GlibcBackend())

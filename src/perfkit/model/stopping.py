"""A stop asked for by a signal, acted on where the work is in a known state.

Python's Ctrl-C raises ``KeyboardInterrupt`` wherever the main thread happens to be: in the
middle of a journal line, or in the ``finally`` that closes a round's workers, leaving the
rest of them running. Under ``stop_on_signals`` the first SIGINT or SIGTERM only records the
signal; the runner and the worker supervisor call ``check_stop`` where stopping is safe
(between cases, and while waiting on a worker, at least once a second) and it raises
``KeyboardInterrupt`` there, so every caller's existing handling of Ctrl-C applies. A second
signal raises at once: whoever sent it does not want to wait.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

__all__ = ["check_stop", "stop_on_signals", "stop_requested"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_listening: list[list[int]] = []  # the signals each open ``stop_on_signals`` has seen


def stop_requested() -> int | None:
    """The signal that asked for a stop, if one did (under ``stop_on_signals``)."""
    return _listening[-1][0] if _listening and _listening[-1] else None


def check_stop() -> None:
    """Raise ``KeyboardInterrupt`` if a signal asked for a stop: call where stopping is safe."""
    if stop_requested() is not None:
        raise KeyboardInterrupt


def _on_signal(signum: int, frame: object) -> None:
    seen = _listening[-1]
    seen.append(signum)
    if len(seen) > 1:
        raise KeyboardInterrupt


@contextlib.contextmanager
def stop_on_signals() -> Iterator[list[int]]:
    """SIGINT and SIGTERM recorded for ``check_stop`` (a second one raises at once). Yields
    the list of the signals seen; the previous handlers come back on leaving."""
    seen: list[int] = []
    _listening.append(seen)
    old = {signum: signal.signal(signum, _on_signal) for signum in _SIGNALS}
    try:
        yield seen
    finally:
        for signum, handler in old.items():
            signal.signal(signum, handler)
        _listening.pop()  # the contexts nest: the last opened closes first

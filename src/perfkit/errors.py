"""The errors perfkit reports to people as one line and exit code 2."""

from __future__ import annotations

import enum

__all__ = ["ExitCode", "RecordError", "RunError", "UsageError"]


class ExitCode(enum.IntEnum):
    """The command line's contract, the same for every command."""

    OK = 0
    FAILED = 1  # a wrong answer, a crash, a regression
    USAGE = 2  # bad usage or bad input
    INTERRUPTED = 130  # Ctrl-C; what finished is kept
    TERMINATED = 143  # SIGTERM, handled as Ctrl-C


class UsageError(Exception):
    """Bad usage or bad input: the CLI prints the message alone and exits with 2."""


class RecordError(UsageError):
    """A record that is missing, not JSON, not a perfkit record, or of an unknown schema."""


class RunError(Exception):
    """A run that could not finish its work (its record cannot be written): one line on
    stderr, exit code 1, and where what finished is kept."""

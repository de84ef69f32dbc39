"""The errors perfkit reports to people as one line and exit code 2."""

from __future__ import annotations

import enum
import json

__all__ = ["ExitCode", "RecordError", "RunError", "UsageError", "not_json"]


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


def not_json(source: object, exc: json.JSONDecodeError, line: int | None = None) -> RecordError:
    """A file that is not JSON, said in one line with where (line and column) and why in
    full; ``line`` is the line of a JSON-lines file that was parsed alone."""
    where = f"line {line or exc.lineno}, column {exc.colno}"
    return RecordError(f"{source}: not valid JSON at {where}: {exc.msg}")


class RunError(Exception):
    """A run that could not finish its work (its record cannot be written): one line on
    stderr, exit code 1, and where what finished is kept."""

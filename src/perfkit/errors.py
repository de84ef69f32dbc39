"""The errors perfkit reports to people as one line and exit code 2."""

from __future__ import annotations

__all__ = ["RecordError", "UsageError"]


class UsageError(Exception):
    """Bad usage or bad input: the CLI prints the message alone and exits with 2."""


class RecordError(UsageError):
    """A record that is missing, not JSON, not a perfkit record, or of an unknown schema."""

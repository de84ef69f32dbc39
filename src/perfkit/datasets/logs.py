"""Web server logs in the Common Log Format: a seeded generator and the parser every
``log_analysis`` port shares (one regular expression, valid in Python and in Java).

    host ident authuser [date] "method endpoint protocol" status bytes

A line the expression does not match is malformed: counted, never fatal. ``bytes`` is
``-`` when the server sent none."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["BUSY_HITS", "CLF_PATTERN", "TOP", "LogSummary", "generate_log"]

# Groups: 1 host, 2 method, 3 endpoint, 4 status, 5 bytes. Java's regex reads it the same.
CLF_PATTERN = r'^(\S+) \S+ \S+ \[[^\]]+\] "(\S+) (\S+)(?: [^"]*)?" (\d{3}) (\d+|-)$'
TOP = 10  # endpoints in the summary
BUSY_HITS = 20  # a host with more hits than this is listed


@dataclass(frozen=True)
class LogSummary:
    """What ``log_analysis`` answers, the same from every port.

    ``status``: lines per status code; ``top_endpoints``: the ``TOP`` most requested
    endpoints (most first, then by name); ``bytes_total``/``bytes_max``/``bytes_lines``:
    over lines with a byte count; ``busy_hosts``: hosts with more than ``BUSY_HITS`` hits,
    by name; ``malformed``: lines that are not Common Log Format."""

    status: tuple[tuple[int, int], ...]
    top_endpoints: tuple[tuple[str, int], ...]
    bytes_total: int
    bytes_max: int
    bytes_lines: int
    busy_hosts: tuple[tuple[str, int], ...]
    malformed: int
    lines: int


def top_endpoints(counts: dict[str, int]) -> tuple[tuple[str, int], ...]:
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return tuple(ranked[:TOP])


_METHODS = ("GET", "GET", "GET", "GET", "POST", "HEAD")
_STATUS = (200, 304, 302, 404, 403, 500)
_STATUS_P = (0.80, 0.08, 0.05, 0.05, 0.01, 0.01)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _zipf_choice(rng: np.random.Generator, count: int, size: int, a: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, count + 1) ** a
    return rng.choice(count, size=size, p=weights / weights.sum())


def generate_log(lines: int, rng: np.random.Generator, malformed: float = 0.01) -> list[str]:
    """``lines`` Common Log Format lines: Zipf-popular hosts and endpoints, weighted status
    codes, sizes (``-`` for a 304 and now and then), and a ``malformed`` share of broken
    lines (truncated, a request without quotes, garbage)."""
    hosts = [f"{rng.integers(1, 255)}.{rng.integers(0, 255)}.{rng.integers(0, 255)}.{i % 250 + 1}"
             for i in range(max(50, lines // 40))]  # fmt: skip
    endpoints = [f"/{section}/{i}.html" for i, section in
                 enumerate(rng.choice(("images", "shuttle", "history", "news"), 2000))]  # fmt: skip
    host = _zipf_choice(rng, len(hosts), lines, 1.2)
    endpoint = _zipf_choice(rng, len(endpoints), lines, 1.1)
    status = rng.choice(_STATUS, size=lines, p=_STATUS_P)
    size = rng.integers(0, 200_000, size=lines)
    dash = rng.random(lines) < 0.03
    method = rng.integers(0, len(_METHODS), size=lines)
    seconds = rng.integers(0, 31 * 86400, size=lines)
    broken = rng.random(lines) < malformed
    out = []
    for i in range(lines):
        day, rest = divmod(int(seconds[i]), 86400)
        clock = f"{rest // 3600:02d}:{rest // 60 % 60:02d}:{rest % 60:02d}"
        stamp = f"{day + 1:02d}/{_MONTHS[6]}/1995:{clock} -0400"
        sent = "-" if dash[i] or status[i] == 304 else str(size[i])
        line = (
            f'{hosts[host[i]]} - - [{stamp}] "{_METHODS[method[i]]} {endpoints[endpoint[i]]} '
            f'HTTP/1.0" {status[i]} {sent}'
        )
        if broken[i]:
            line = _break(line, int(rng.integers(0, 3)))
        out.append(line)
    return out


def _break(line: str, how: int) -> str:
    if how == 0:
        return line[: len(line) // 2]  # truncated
    if how == 1:
        return line.replace('"', "")  # a request without its quotes
    return "\x00garbage " + line[::-1][:20]

"""Records' strings cut to a length a page can show, before a report is built.

A report repeats a case's strings in its tables, its figures' labels and their hover text;
one 50 MB parameter value made a 1.1 GB page (5.4 GB of memory to build). Every string of
the records a report shows is cut to ``LIMIT`` characters first, with its full length said
and a digest of the whole, so two long strings that share a beginning stay two (case ids
key the figures and the gate). A report's size is then bounded by its number of cases.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from typing import Any, TypeVar

__all__ = ["LIMIT", "cap", "capped"]

LIMIT = 300
_T = TypeVar("_T")
_PLAIN = (int, float, bool, type(None))


def cap(text: str, limit: int = LIMIT) -> str:
    """``text``, or its first ``limit`` characters, its length and a digest of the whole."""
    if len(text) <= limit:
        return text
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=4).hexdigest()
    return f"{text[:limit]}… ({len(text):,} characters, #{digest})"


def capped(value: _T, limit: int = LIMIT) -> _T:
    """``value`` (a record, or any dataclass, tuple, list or mapping of them) with every
    string in it ``cap``-ped; what holds no long string comes back as it is."""
    return _capped(value, limit)  # type: ignore[no-any-return]


def _capped(value: Any, limit: int) -> Any:
    if isinstance(value, str):
        return cap(value, limit)
    if isinstance(value, _PLAIN):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changed = {}
        for field in dataclasses.fields(value):
            if not field.init:
                continue
            old = getattr(value, field.name)
            new = _capped(old, limit)
            if new is not old:
                changed[field.name] = new
        return dataclasses.replace(value, **changed) if changed else value
    if isinstance(value, (tuple, list)):
        if all(isinstance(item, _PLAIN) for item in value):
            return value  # samples and other numbers: the common case, left as they are
        items = [_capped(item, limit) for item in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        if hasattr(value, "_fields"):  # a named tuple
            return type(value)(*items)
        return type(value)(items)
    if isinstance(value, Mapping):
        pairs = [(_capped(k, limit), _capped(v, limit)) for k, v in value.items()]
        if all(k is k0 and v is v0 for (k, v), (k0, v0) in zip(pairs, value.items(), strict=True)):
            return value
        return type(value)(pairs) if isinstance(value, dict) else dict(pairs)
    return value

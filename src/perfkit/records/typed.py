"""Frozen dataclasses from untrusted JSON and back, driven by their type hints.

One reader for every typed part of a record (environment, work, samples) and of the worker's
messages: a value of the wrong type is refused with the path of the field that holds it, so
nothing is read by dotted strings and nothing unvalidated reaches the statistics.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints, overload

__all__ = ["FieldError", "from_json", "to_json"]

T = TypeVar("T")


class FieldError(ValueError):
    """A JSON value that does not fit its field; ``where`` is the field's path."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


def to_json(value: Any) -> Any:
    """Plain JSON types; a float that is not finite becomes null (JSON has no NaN)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [to_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def _name(kind: Any) -> str:
    return getattr(kind, "__name__", str(kind))


def _scalar(kind: type, data: Any, where: str) -> Any:
    if kind is float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            raise FieldError(where, f"expected a number, got {data!r}")
        return float(data)
    if kind is int and (isinstance(data, bool) or not isinstance(data, int)):
        raise FieldError(where, f"expected an integer, got {data!r}")
    if not isinstance(data, kind):
        raise FieldError(where, f"expected {_name(kind)}, got {type(data).__name__}")
    return data


@overload
def from_json(kind: type[T], data: Any, where: str) -> T: ...


@overload
def from_json(kind: Any, data: Any, where: str) -> Any: ...


def from_json(kind: Any, data: Any, where: str) -> Any:
    """``data`` as a ``kind``: a dataclass (unknown keys ignored, missing ones defaulted or
    refused), ``tuple[X, ...]``, ``list[X]``, ``Mapping[str, X]``, ``X | None``, a ``Literal``, a
    scalar, or ``Any`` (taken as it is)."""
    origin = get_origin(kind)
    if kind is Any:
        return data
    if origin in (Union, types.UnionType):
        options = get_args(kind)
        if data is None and type(None) in options:
            return None
        (inner,) = [o for o in options if o is not type(None)]
        return from_json(inner, data, where)
    if origin is Literal:
        if data not in get_args(kind):
            choices = ", ".join(map(str, get_args(kind)))
            raise FieldError(where, f"{data!r} is not one of {choices}")
        return data
    if origin in (tuple, list):
        if not isinstance(data, list):
            raise FieldError(where, f"expected a list, got {type(data).__name__}")
        item = get_args(kind)[0]
        items = [from_json(item, v, f"{where}[{i}]") for i, v in enumerate(data)]
        return tuple(items) if origin is tuple else items
    if origin in (dict, Mapping):
        if not isinstance(data, dict):
            raise FieldError(where, f"expected an object, got {type(data).__name__}")
        item = get_args(kind)[1]
        return {str(k): from_json(item, v, f"{where}.{k}") for k, v in data.items()}
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        if not isinstance(data, dict):
            raise FieldError(where, f"expected an object, got {type(data).__name__}")
        hints = _hints(kind)
        values = {}
        for f in dataclasses.fields(kind):
            if f.name in data:
                values[f.name] = from_json(hints[f.name], data[f.name], f"{where}.{f.name}")
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise FieldError(where, f"missing field {f.name!r}")
        return kind(**values)
    if isinstance(kind, type):
        return _scalar(kind, data, where)
    raise TypeError(f"cannot read JSON as {kind!r}")

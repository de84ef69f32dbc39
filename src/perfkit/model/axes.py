"""Named parameter axes, their product, and stable parameter ids."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from perfkit.model.errors import UsageError

__all__ = ["Axis", "ParamSpace", "Params", "Skip", "params_id"]

ParamValue = int | float | str
Params = Mapping[str, ParamValue]


class Skip(Exception):  # noqa: N818 - it is a signal, not an error
    """Raised by an implementation's ``prepare`` when it cannot run these parameters."""


def params_id(params: Params) -> str:
    """``n=4096,dtype=float32``: the parameters in axis order, as they appear in case ids.
    An empty value (a parameter that applies to none of the case's data) is left out."""
    return ",".join(f"{name}={value}" for name, value in params.items() if value != "")


@dataclass(frozen=True, slots=True)
class Axis:
    """One named parameter with its default values, its ``--quick`` values and its type.

    ``choices`` closes the axis: values given on the command line must be among them
    (dtypes). Without it any value of the axis's type is accepted (sizes).
    """

    name: str
    values: tuple[ParamValue, ...]
    quick: tuple[ParamValue, ...] = ()
    choices: tuple[ParamValue, ...] = ()
    doc: str = ""

    def __post_init__(self) -> None:
        if not self.values:
            raise ValueError(f"axis {self.name!r} has no values")
        kinds = {type(v) for v in (*self.values, *self.quick, *self.choices)}
        if len(kinds) != 1:
            raise ValueError(
                f"axis {self.name!r} mixes value types {sorted(k.__name__ for k in kinds)}"
            )

    @property
    def kind(self) -> type:
        return type(self.values[0])

    def parse(self, text: str) -> ParamValue:
        """Turn one command-line value into this axis's type, or raise a one-line UsageError."""
        try:
            value: ParamValue = self.kind(_expand_power(text) if self.kind is int else text)
        except ValueError:
            raise UsageError(
                f"parameter {self.name}: {text!r} is not a valid {self.kind.__name__}"
            ) from None
        if self.choices and value not in self.choices:
            valid = ", ".join(str(c) for c in self.choices)
            raise UsageError(f"parameter {self.name}: {text!r} is not one of: {valid}")
        if isinstance(value, int | float) and value <= 0:
            raise UsageError(f"parameter {self.name}: {text!r} must be positive")
        return value


def _expand_power(text: str) -> str:
    """Accept ``2^20`` and ``2**20`` for sizes, as people write them."""
    for sep in ("**", "^"):
        if sep in text:
            base, _, exponent = text.partition(sep)
            return str(int(base) ** int(exponent))
    return text


@dataclass(frozen=True, slots=True)
class ParamSpace:
    """The product of a workload's axes, minus the combinations ``exclude`` rejects."""

    axes: tuple[Axis, ...]
    exclude: Callable[[Params], bool] | None = field(default=None, compare=False)

    def axis(self, name: str) -> Axis:
        for axis in self.axes:
            if axis.name == name:
                return axis
        valid = ", ".join(a.name for a in self.axes)
        raise UsageError(f"unknown parameter {name!r}; valid parameters: {valid}")

    def expand(
        self, quick: bool = False, overrides: Mapping[str, Sequence[ParamValue]] | None = None
    ) -> Iterator[dict[str, ParamValue]]:
        """Yield every parameter combination, in axis order, for a run."""
        overrides = overrides or {}
        for name in overrides:
            self.axis(name)
        columns = []
        for axis in self.axes:
            if axis.name in overrides:
                columns.append(tuple(overrides[axis.name]))
            elif quick and axis.quick:
                columns.append(axis.quick)
            else:
                columns.append(axis.values)
        for combo in itertools.product(*columns):
            params = dict(zip((a.name for a in self.axes), combo, strict=True))
            if self.exclude is None or not self.exclude(params):
                yield params

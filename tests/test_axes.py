"""Axes, parameter spaces and command-line parameter values."""

from __future__ import annotations

import pytest

from perfkit import Axis, ParamSpace, UsageError
from perfkit.model.axes import params_id

SPACE = ParamSpace(
    (Axis("n", (10, 20), quick=(5,)), Axis("dtype", ("f4", "f8"), choices=("f4", "f8"))),
    exclude=lambda p: p["n"] == 20 and p["dtype"] == "f4",
)


def test_expand_is_the_product_minus_excluded_in_axis_order() -> None:
    assert list(SPACE.expand()) == [
        {"n": 10, "dtype": "f4"},
        {"n": 10, "dtype": "f8"},
        {"n": 20, "dtype": "f8"},
    ]
    assert [p["n"] for p in SPACE.expand(quick=True)] == [5, 5]


def test_overrides_replace_an_axis() -> None:
    assert list(SPACE.expand(overrides={"dtype": ["f8"]})) == [
        {"n": 10, "dtype": "f8"},
        {"n": 20, "dtype": "f8"},
    ]


def test_params_id() -> None:
    assert params_id({"n": 4096, "dtype": "float32"}) == "n=4096,dtype=float32"


def test_parse_types_powers_and_choices() -> None:
    assert SPACE.axis("n").parse("2^10") == 1024
    assert SPACE.axis("n").parse("2**4") == 16
    assert SPACE.axis("dtype").parse("f8") == "f8"
    with pytest.raises(UsageError, match="not one of: f4, f8"):
        SPACE.axis("dtype").parse("f2")
    with pytest.raises(UsageError, match="not a valid int"):
        SPACE.axis("n").parse("big")
    with pytest.raises(UsageError, match="must be positive"):
        SPACE.axis("n").parse("0")
    with pytest.raises(UsageError, match="valid parameters: n, dtype"):
        SPACE.axis("size")


def test_axes_reject_mixed_or_empty_values() -> None:
    with pytest.raises(ValueError, match="mixes"):
        Axis("n", (1, "2"))
    with pytest.raises(ValueError, match="no values"):
        Axis("n", ())

"""Workloads, their implementations (one per backend and variant), and cases."""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from perfkit.model.axes import Params, ParamSpace, params_id

__all__ = [
    "Case",
    "CheckResult",
    "Checker",
    "Implementation",
    "Prepare",
    "Thunk",
    "Work",
    "Workload",
    "WrongOutputError",
    "exact_match",
    "relative_error",
    "workload",
]

Thunk = Callable[[], Any]
Prepare = Callable[[Any, Params], Thunk]


@dataclass(frozen=True, slots=True)
class Work:
    """What one call does: throughput and roofline are derived from it, never per backend.

    ``bytes`` counts the minimum traffic of the algorithm (each input read once, each output
    written once), so an implementation that makes extra passes shows it as a lower % of roof.
    """

    flops: float = 0.0
    bytes: float = 0.0
    items: float = 0.0
    dtype: str | None = None
    steps: float = 0.0  # training steps a call takes (steps/s); its items are samples


class WrongOutputError(Exception):
    """Raised where a timed call's output is checked (an allocator driver checks every
    block of every run) and found wrong: the case becomes ``invalid``, as a wrong answer
    before timing would."""


@dataclass(frozen=True, slots=True)
class CheckResult:
    """A checker's verdict; ``metrics`` are what it measured of the answer (a trained
    model's test accuracy and losses), recorded with the case."""

    ok: bool
    error: float | None = None
    detail: str = ""
    metrics: Mapping[str, float] = field(default_factory=dict)


Checker = Callable[[Any, Any, Params], CheckResult]


# Elements a check converts to float64 at a time: a 16M-element output converted whole
# cost 0.8 s of fresh pages per verification, in every worker process of a run.
_CHECK_CHUNK = 1 << 18


def _difference_norms(out: Any, ref: Any, *, squares: bool) -> tuple[float, float] | None:
    """The norm of ``out - ref`` and of ``ref`` in float64, chunk by chunk: Frobenius with
    ``squares``, else the largest magnitude. None where ``out`` holds NaN or inf."""
    flat_out, flat_ref = out.reshape(-1), ref.reshape(-1)
    difference = scale = 0.0
    for start in range(0, flat_out.size, _CHECK_CHUNK):
        piece = flat_out[start : start + _CHECK_CHUNK].astype(np.float64)
        if not np.all(np.isfinite(piece)):
            return None
        truth = flat_ref[start : start + _CHECK_CHUNK].astype(np.float64)
        piece -= truth
        if squares:
            difference += float(np.dot(piece, piece))
            scale += float(np.dot(truth, truth))
        else:
            difference = max(difference, float(np.max(np.abs(piece))))
            scale = max(scale, float(np.max(np.abs(truth))))
    if squares:
        return math.sqrt(difference), math.sqrt(scale)
    return difference, scale


def relative_error(tolerance: Mapping[str, float], norm: str = "max") -> Checker:
    """Norm-wise relative error against the float64 truth, with a tolerance per dtype.

    ``max``: max|out - truth| / max|truth| (elementwise results); ``fro``: the Frobenius
    ratio (products, where per-element errors of a long dot product are expected).
    """

    def check(output: Any, truth: Any, params: Params) -> CheckResult:
        out, ref = np.asarray(output), np.asarray(truth)
        if out.shape != ref.shape:
            return CheckResult(False, None, f"shape {out.shape} != expected {ref.shape}")
        norms = _difference_norms(out, ref, squares=norm == "fro")
        if norms is None:
            return CheckResult(False, None, "output holds NaN or inf")
        difference, scale = norms
        err = difference / (scale or 1.0)
        tol = tolerance[str(params.get("precision") or params.get("dtype", "float64"))]
        if err <= tol:
            return CheckResult(True, err)
        return CheckResult(False, err, f"relative error {err:.3g} > tolerance {tol:g}")

    return check


def exact_match(output: Any, truth: Any, params: Params) -> CheckResult:
    """Counts, keys, labels: equal or wrong."""
    if isinstance(truth, np.ndarray) or isinstance(output, np.ndarray):
        same = np.array_equal(np.asarray(output), np.asarray(truth))
    else:
        same = bool(output == truth)
    return CheckResult(same, 0.0 if same else None, "" if same else "output differs from truth")


@dataclass(frozen=True, slots=True)
class Implementation:
    """One cell of the matrix: workload x backend x variant.

    ``prepare(inputs, params)`` does all set-up (conversion, transfer, compilation) and
    returns the thunk; only the thunk is timed. Its return value is what gets checked.
    ``precision`` names the arithmetic of a port that computes below its inputs' dtype
    (``tf32``, ``bfloat16``): it is checked with that precision's tolerance and held to
    that precision's roof. ``unlike`` says why a port does not solve the same problem as
    the reference (another objective, an approximation): a ranking marks it and never
    names it the fastest.
    """

    workload: str
    backend: str
    variant: str
    prepare: Prepare = field(compare=False)
    reference: bool = False
    doc: str = ""
    precision: str | None = None
    unlike: str = ""

    @property
    def key(self) -> str:
        return f"{self.backend}:{self.variant}"

    @property
    def not_like_for_like(self) -> str:
        """Why this port's answer is not comparable with the reference's, or ``""``."""
        if self.precision is not None:
            return f"computes in {self.precision}" + (f"; {self.unlike}" if self.unlike else "")
        return self.unlike


class Workload:
    """A matched workload: seeded inputs, a float64 truth, a checker, and its ports."""

    __slots__ = (
        "_derived",
        "check",
        "doc",
        "expected",
        "implementations",
        "make_inputs",
        "name",
        "space",
        "suite",
        "version",
        "work",
    )

    def __init__(
        self,
        *,
        name: str,
        doc: str,
        space: ParamSpace,
        make_inputs: Callable[[Params, np.random.Generator], Any],
        expected: Callable[[Any, Params], Any],
        check: Checker,
        work: Callable[[Params], Work],
        version: int = 1,
        suite: str = "other",
    ) -> None:
        self.name = name
        self.suite = suite
        self.doc = doc
        self.space = space
        self.make_inputs = make_inputs
        self.expected = expected
        self.check = check
        self.work = work
        self.version = version
        self.implementations: list[Implementation] = []
        self._derived = False

    def port(
        self,
        backend: str,
        variant: str = "default",
        reference: bool = False,
        precision: str | None = None,
        unlike: str = "",
    ) -> Callable[[Prepare], Prepare]:
        """Decorator: register ``prepare`` as this workload's port to ``backend``."""

        def add(prepare: Prepare) -> Prepare:
            summary = "".join((prepare.__doc__ or "").strip().splitlines()[:1])
            self.add(
                Implementation(
                    self.name, backend, variant, prepare, reference, summary, precision, unlike
                )
            )
            return prepare

        return add

    def add(self, implementation: Implementation) -> None:
        if any(i.key == implementation.key for i in self.implementations):
            raise ValueError(f"{self.name}: {implementation.key} is declared twice")
        self.implementations.append(implementation)

    @property
    def reference(self) -> Implementation:
        refs = [i for i in self.implementations if i.reference]
        if len(refs) != 1:
            raise ValueError(f"{self.name} has {len(refs)} reference implementations, not one")
        return refs[0]

    def implementation(self, key: str) -> Implementation:
        for impl in self.implementations:
            if impl.key == key:
                return impl
        raise KeyError(key)

    def seed(self, params: Params, base_seed: int) -> int:
        """The same inputs for every backend and process: a seed from the workload and params."""
        return zlib.crc32(f"{self.name}[{params_id(params)}]".encode()) ^ base_seed

    def __repr__(self) -> str:
        return f"Workload({self.name!r}, {len(self.implementations)} implementations)"


def workload(
    *,
    name: str,
    doc: str,
    space: ParamSpace,
    make_inputs: Callable[[Params, np.random.Generator], Any],
    expected: Callable[[Any, Params], Any],
    check: Checker,
    work: Callable[[Params], Work],
    version: int = 1,
    suite: str = "other",
) -> Workload:
    """Declare a workload; add ports with ``@w.port(backend)``, then ``register_workload(w)``.
    ``suite`` groups it for ``perfkit run --suite`` (``array``: array computations;
    ``alloc``: allocator drivers; ``other`` where a workload names none)."""
    return Workload(
        name=name,
        doc=doc,
        space=space,
        make_inputs=make_inputs,
        expected=expected,
        check=check,
        work=work,
        version=version,
        suite=suite,
    )


@dataclass(frozen=True, slots=True)
class Case:
    """One thing to measure: a workload, one implementation, one parameter combination."""

    workload: Workload = field(compare=False)
    implementation: Implementation
    params: Mapping[str, Any]

    @property
    def id(self) -> str:
        return f"{self.workload.name}/{self.implementation.key}[{params_id(self.params)}]"

    @property
    def params_key(self) -> str:
        return params_id(self.params)

    @property
    def check_params(self) -> Mapping[str, Any]:
        """The params a checker sees: with ``precision`` where the port computes below
        its dtype."""
        precision = self.implementation.precision
        return self.params if precision is None else {**self.params, "precision": precision}

    def work(self) -> Work:
        """What one call does, in the port's precision where it has one (its roof)."""
        work = self.workload.work(self.params)
        precision = self.implementation.precision
        return work if precision is None else replace(work, dtype=precision)

    @property
    def group_key(self) -> str:
        """The parameter group: the cases sharing one workload's inputs and truth."""
        return f"{self.workload.name}[{self.params_key}]"

    def to_json(self) -> dict[str, Any]:
        return {
            "workload": self.workload.name,
            "implementation": self.implementation.key,
            "params": dict(self.params),
        }
